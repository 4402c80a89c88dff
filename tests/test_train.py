"""The training loop learns, resumes exactly, and never lets test labels choose anything."""

import numpy as np
import pandas as pd
import pytest
import torch

from dfd_utils.datasets import SplitData
from dfd_utils.models import build_model
from dfd_utils.train import TrainConfig, fit, predict

CFG = TrainConfig(epochs=4, patience=10, batch_frames=8, batch_videos=4, precision="fp32", channels_last=False,
                  lr=3e-3, seed=0)


def toy_split(num_videos: int, seed: int) -> SplitData:
    """Fakes carry a bright square in their frames: a spatial artifact a CNN finds quickly."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([i % 2 for i in range(num_videos)], dtype=torch.float32)
    frames = torch.randint(60, 120, (num_videos, 4, 3, 32, 48), generator=g, dtype=torch.uint8)
    frames[labels == 1, :, :, 8:20, 12:28] = 250
    return SplitData(videos=[f"v{i}.mp4" for i in range(num_videos)], families=[f"v{i}.mp4" for i in range(num_videos)],
                     labels=labels, frames=frames, flows=None, frames3d=None)


def small_model():
    torch.manual_seed(0)
    return build_model("baseline", backbone="resnet18", hidden=16, dropout=0.0)


def test_loss_falls_and_accuracy_rises(tmp_path):
    train, val = toy_split(12, 0), toy_split(8, 1)
    model = small_model()
    before = predict(model, val)
    out = fit(model, train, val, CFG, tmp_path)
    history = out["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    labels = np.repeat(val.labels.numpy(), 4)
    acc_before = ((before >= 0.5) == labels).mean()
    acc_after = ((predict(model, val) >= 0.5) == labels).mean()
    assert acc_after > acc_before and acc_after >= 0.9
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    train, val = toy_split(12, 0), toy_split(8, 1)
    straight = small_model()
    fit(straight, train, val, CFG, tmp_path / "straight")

    class Interrupted(Exception):
        pass

    def crash_after_two(epoch):
        if epoch == 2:
            raise Interrupted

    resumed = small_model()
    with pytest.raises(Interrupted):
        fit(resumed, train, val, CFG, tmp_path / "resumed", on_epoch_end=crash_after_two)
    resumed = small_model()  # a fresh process: new model object, state from disk
    out = fit(resumed, train, val, CFG, tmp_path / "resumed")
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3, 4]
    a, b = _weights(straight), _weights(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_early_stopping_and_best_epoch(tmp_path):
    train, val = toy_split(12, 0), toy_split(8, 1)
    cfg = TrainConfig(**{**CFG.__dict__, "epochs": 20, "patience": 2})
    out = fit(small_model(), train, val, cfg, tmp_path)
    epochs = len(out["history"])
    assert epochs < 20 and out["best_epoch"] == epochs - 2


def test_video_models_train_with_bce_f1(tmp_path):
    train, val = toy_split(8, 0), toy_split(4, 1)
    torch.manual_seed(0)
    model = build_model("cnn_rnn", backbone="resnet18", dropout=0.0)
    out = fit(model, train, val, TrainConfig(**{**CFG.__dict__, "epochs": 2}), tmp_path)
    assert len(out["history"]) == 2 and np.isfinite(out["history"][-1]["train_loss"])
    assert predict(model, val).shape == (4,)


def test_experiment_thresholds_never_see_test_labels(tmp_path, monkeypatch):
    """Flip every test label: the chosen thresholds must not move."""
    import dfd_utils.experiment as exp

    def fake_load(paths, model, split, limit=None):
        data = toy_split(12 if split == "train" else 8, {"train": 0, "val": 1, "test": 2}[split])
        if split == "test" and flip:
            data.labels = 1 - data.labels
        return data

    results = []
    for flip in (False, True):
        monkeypatch.setattr(exp, "_load", fake_load)
        r = exp.run_experiment("baseline", {"backbone": "resnet18", "hidden": 16, "dropout": 0.0, "epochs": 2,
                                            "precision": "fp32", "channels_last": False},
                               {"num_frames": 4, "height": 32, "width": 48, "size_3d": 32},
                               {"bootstrap": 20}, root=tmp_path / str(flip), live=False)
        results.append(r)
    assert results[0].metrics["threshold"] == results[1].metrics["threshold"]
    assert {k: v["threshold"] for k, v in results[0].metrics["rules"].items()} == \
           {k: v["threshold"] for k, v in results[1].metrics["rules"].items()}
    videos = pd.read_csv(tmp_path / "False" / "artifacts" / "predictions" / "baseline" / "videos.csv")
    assert set(videos.split) == {"val", "test"} and {"share", "mean", "max", "topk", "prob"} <= set(videos.columns)
    assert (tmp_path / "False" / "metrics" / "baseline.json").is_file()


def test_bf16_without_native_support_runs_in_fp32():
    """A CPU without AVX-512/AMX (CI machines, older laptops) cannot build a bf16 LSTM:
    bf16 must fall back to fp32 there instead of failing or crawling."""
    import subprocess
    import sys

    script = (
        "import torch\n"
        "from dfd_utils.models import build_model\n"
        "from dfd_utils.train import autocast, cpu_has_bf16\n"
        "assert not cpu_has_bf16()\n"
        "torch.manual_seed(0)\n"
        "model = build_model('cnn_rnn', backbone='resnet18', hidden=8)\n"
        "with autocast(torch.device('cpu'), 'bf16'):\n"
        "    logits = model(torch.rand(2, 4, 3, 32, 48))\n"
        "assert logits.dtype == torch.float32 and logits.shape == (2,)\n"
    )
    env = {**__import__("os").environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no native bf16" in done.stderr


def test_avx512_without_bf16_units_is_not_native_bf16(monkeypatch):
    """AVX-512 without AVX512-BF16/AMX (many Xeons) only emulates bf16: train in fp32 there."""
    import platform

    from dfd_utils import train

    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("needs an x86 CPU on which oneDNN allows bf16")
    train.cpu_has_bf16.cache_clear()
    monkeypatch.setattr(train, "_x86_flags", lambda: {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
    try:
        assert not train.cpu_has_bf16()
        monkeypatch.setattr(train, "_x86_flags", lambda: {"avx512f", "avx512_bf16"})
        train.cpu_has_bf16.cache_clear()
        assert train.cpu_has_bf16()
    finally:
        train.cpu_has_bf16.cache_clear()
