"""Every stage's CPU kernels capped at AVX2 (dfd_utils.kernels): set where it applies, never over a user's choice."""

import os
import subprocess
import sys

import pytest

from dfd_utils import kernels

DEMO = {"device": "cpu", "train": {"precision": "fp32"}, "models": {"cnn3d": {"train_blocks": 2}}}


def test_the_cap_is_set_in_an_empty_environment():
    env = {}
    assert kernels.cap(env, cpu_ok=True) == kernels.CAP
    assert env == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                   "OPENCV_CPU_DISABLE": "AVX512-SKX"}


def test_a_users_value_wins_and_the_rest_are_filled():
    env = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    assert kernels.cap(env, cpu_ok=True) == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2",
                                             "OPENCV_CPU_DISABLE": "AVX512-SKX"}
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"


@pytest.mark.parametrize("env, bf16, cpu_ok, reason", [
    ({"DFD_KERNELS": "native"}, False, True, "DFD_KERNELS=native"),
    ({"DFD_KERNELS": " Native "}, False, True, "DFD_KERNELS=native"),
    ({}, True, True, "bf16"),
    ({}, False, False, "AVX2 not detected"),
])
def test_no_cap_where_it_does_not_apply(env, bf16, cpu_ok, reason):
    before = dict(env)
    assert kernels.cap(env, bf16, cpu_ok) == {}
    assert env == before
    assert reason in kernels.reason_not_capped(env, bf16, cpu_ok)


def test_bf16_on_cpu_reads_the_shared_setting_and_every_models_override():
    assert not kernels.bf16_on_cpu(DEMO)
    assert kernels.bf16_on_cpu({**DEMO, "train": {"precision": "bf16"}})
    assert kernels.bf16_on_cpu({**DEMO, "models": {"cnn_rnn": {"precision": "bf16"}, "baseline": {}}})
    assert not kernels.bf16_on_cpu({**DEMO, "device": "cuda", "train": {"precision": "bf16"}})
    assert not kernels.bf16_on_cpu({**DEMO, "device": "cuda:0", "train": {"precision": "bf16"}})


@pytest.mark.skipif(not kernels._x86_with_avx2(), reason="an x86-64 CPU with AVX2")
def test_a_child_process_under_the_cap_runs_avx2_kernels():
    env = {k: v for k, v in os.environ.items() if k not in (*kernels.CAP, kernels.OPT_OUT)}
    kernels.cap(env)
    probe = ("import cv2, torch; print(torch.backends.cpu.get_cpu_capability(), "
             "cv2.checkHardwareSupport(256))")  # 256: OpenCV's CV_CPU_AVX512_SKX
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["AVX2", "False"]
    assert "unknown CPU feature" not in out.stderr
