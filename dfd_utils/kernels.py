"""The CPU kernels every stage computes with: the same on every x86-64 machine.

PyTorch picks its vectorised kernels at start-up (ATen: AVX2 or AVX-512), oneDNN
compiles its convolutions for the widest instruction set it finds, MKL chooses a code
path per processor, and OpenCV dispatches some functions to AVX-512. Each sums floats
in its own order, so the last bits of a feature differ between an AVX-512 and an AVX2
machine; training amplifies them, and a decision at its edge (a validation threshold
from a grid, a TOST interval one video from its margin) can flip. Measured before this
cap, on one AMD EPYC with AVX-512: a run with ATen and oneDNN capped at AVX2 and one
uncapped gave one of chapter 10's 15 verdicts different (the README says which).

So each stage runs with all four capped at AVX2, which most x86-64 CPUs since Haswell
(2013) have: an AVX-512 machine then runs those libraries' AVX2 code. Not covered:
numpy's own AVX-512 loops and the BLAS it ships (OpenBLAS picks its kernels per CPU),
and torch's thread count, which follows the cores and orders its parallel sums. MKL's
conditional numerical reproducibility mode (``MKL_CBWR``) is what makes Intel and AMD
agree, by its documentation, not measured here. The price is speed on AVX-512 machines:
``make repro`` took 18:10 capped against 17:53 uncapped on one 2-core AMD EPYC (one run
each); with the cap lifted the clips, frames and flow came out byte for byte the same
and the trained models did not.

Not capped: a variable the user set (theirs wins), ``DFD_KERNELS=native`` (the fastest
kernels; results may move in the last digits), a CPU without AVX2 or not x86, and a run
that trains in bf16 on the CPU (its speed needs the AVX512-BF16 units the cap hides).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

CAP = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
       "OPENCV_CPU_DISABLE": "AVX512-SKX"}  # OpenCV dispatches some functions (resize, colour) to AVX-512 too
OPT_OUT = "DFD_KERNELS"  # "native": leave every library its own choice


def _x86_with_avx2(cpuinfo: str = "/proc/cpuinfo") -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags


def reason_not_capped(env: Mapping[str, str], bf16_on_cpu: bool, cpu_ok: bool | None = None) -> str | None:
    """Why the kernels stay uncapped here, or ``None`` when the cap applies."""
    if env.get(OPT_OUT, "").strip().lower() == "native":
        return f"{OPT_OUT}=native"
    if bf16_on_cpu:
        return "a model trains in bf16 on the CPU (it needs the AVX-512 units)"
    if not (_x86_with_avx2() if cpu_ok is None else cpu_ok):
        return "AVX2 not detected (not x86-64 Linux with AVX2 in /proc/cpuinfo)"
    return None


def cap(env: MutableMapping[str, str], bf16_on_cpu: bool = False, cpu_ok: bool | None = None) -> dict[str, str]:
    """Set the AVX2 cap in ``env`` (before torch is imported) where it applies; returns what was set.

    A variable already in ``env`` is kept: the user's choice wins, and a run capped by hand
    stays as it was.
    """
    if reason_not_capped(env, bf16_on_cpu, cpu_ok) is not None:
        return {}
    added = {k: v for k, v in CAP.items() if k not in env}
    env.update(added)
    return added


@contextmanager
def capped(env: MutableMapping[str, str], bf16_on_cpu: bool = False) -> Iterator[dict[str, str]]:
    """:func:`cap` for the length of a block (a stage's kernel starts inside it), then ``env`` as it was."""
    added = cap(env, bf16_on_cpu)
    try:
        yield added
    finally:
        for key in added:
            env.pop(key, None)


def bf16_on_cpu(params: Mapping) -> bool:
    """Whether a CPU run of ``params`` trains any model in bf16 (``train.precision`` or a model's override)."""
    if str(params.get("device", "cpu")).startswith("cuda"):  # cuda, cuda:0: the models train on the GPU
        return False
    train = params.get("train") or {}
    models = params.get("models") or {}
    precisions = {str(train.get("precision", "fp32"))}
    precisions |= {str(m["precision"]) for m in models.values() if isinstance(m, Mapping) and "precision" in m}
    return "bf16" in precisions


__all__ = ["CAP", "OPT_OUT", "bf16_on_cpu", "cap", "capped", "reason_not_capped"]
