"""The training loop learns, resumes exactly, and never lets test labels choose anything."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import CodeOnLoad
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_experiment_thresholds_never_see_test_labels(tmp_path, monkeypatch):
    """Flip every test label: the chosen thresholds must not move."""
    import dfd_utils.stages.detector as exp

    def fake_load(paths, model, split, limit=None):
        data = toy_split(12 if split == "train" else 8, {"train": 0, "val": 1, "test": 2}[split])
        if split == "test" and flip:
            data.labels = 1 - data.labels
        return data

    results = []
    for flip in (False, True):
        monkeypatch.setattr(exp, "load_inputs", fake_load)
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
    from dfd_utils.calibration import fit_temperature  # the checkpoint's temperature: fitted on validation only

    val = videos[videos.split == "val"]
    temps = [torch.load(tmp_path / str(f) / "artifacts" / "models" / "baseline.pt", weights_only=True)["temperature"]
             for f in (False, True)]
    assert temps[0] == temps[1] == pytest.approx(fit_temperature(val.label, val.prob))


@pytest.mark.slow
def test_bf16_without_native_support_runs_in_fp32():
    """A CPU without AVX-512/AMX (CI machines, older laptops) cannot build a bf16 LSTM:
    bf16 must fall back to fp32 there instead of failing or crawling."""
    import subprocess
    import sys

    script = (
        "import torch\n"
        "from dfd_utils.models import build_model\n"
        "from dfd_utils.precision import autocast, cpu_has_bf16\n"
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

    from dfd_utils import precision

    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("needs an x86 CPU on which oneDNN allows bf16")
    precision.cpu_has_bf16.cache_clear()
    monkeypatch.setattr(precision, "_x86_flags", lambda: {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
    try:
        assert not precision.cpu_has_bf16()
        monkeypatch.setattr(precision, "_x86_flags", lambda: {"avx512f", "avx512_bf16"})
        precision.cpu_has_bf16.cache_clear()
        assert precision.cpu_has_bf16()
    finally:
        precision.cpu_has_bf16.cache_clear()


@pytest.mark.slow
def test_a_finished_run_is_not_resumed_on_other_data(tmp_path, caplog):
    """The same run folder, other training data: train again, never return the old best model."""
    val = toy_split(8, 1)
    first = fit(small_model(), toy_split(12, 0), val, CFG, tmp_path)
    assert len(first["history"]) == CFG.epochs
    other = toy_split(12, 5)
    model = small_model()
    with caplog.at_level("WARNING"):
        again = fit(model, other, val, CFG, tmp_path)
    assert [h["epoch"] for h in again["history"]] == [1, 2, 3, 4]  # trained from scratch, all four epochs
    assert any("starts over: inputs changed (train" in r.getMessage() for r in caplog.records)
    straight = small_model()
    fit(straight, other, val, CFG, tmp_path / "straight")
    for k, v in _weights(straight).items():
        torch.testing.assert_close(v, _weights(model)[k], rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("change", [{"lr": 1e-2}, {"class_weighting": False}, {"seed": 1}])
def test_a_finished_run_is_not_resumed_with_other_settings(tmp_path, change):
    train, val = toy_split(12, 0), toy_split(8, 1)
    fit(small_model(), train, val, CFG, tmp_path)
    out = fit(small_model(), train, val, TrainConfig(**{**CFG.__dict__, **change}), tmp_path)
    assert len(out["history"]) == CFG.epochs


@pytest.mark.slow
def test_model_settings_the_weights_do_not_show_still_key_the_run(tmp_path):
    """Dropout leaves no trace in the weights: the run is keyed on the settings that built the model."""
    train, val = toy_split(12, 0), toy_split(8, 1)
    fit(small_model(), train, val, CFG, tmp_path, model_settings={"dropout": 0.0})
    out = fit(small_model(), train, val, CFG, tmp_path, model_settings={"dropout": 0.3})
    assert len(out["history"]) == CFG.epochs and out["made_by"]["settings"]["model_settings"] == {"dropout": 0.3}


@pytest.mark.slow
def test_more_epochs_continue_a_run_and_end_where_a_straight_run_ends(tmp_path):
    train, val = toy_split(12, 0), toy_split(8, 1)
    fit(small_model(), train, val, TrainConfig(**{**CFG.__dict__, "epochs": 2}), tmp_path / "grown")
    grown = small_model()
    out = fit(grown, train, val, CFG, tmp_path / "grown")
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3, 4]
    straight = small_model()
    fit(straight, train, val, CFG, tmp_path / "straight")
    for k, v in _weights(straight).items():
        torch.testing.assert_close(v, _weights(grown)[k], rtol=0, atol=0)
    fewer = fit(small_model(), train, val, TrainConfig(**{**CFG.__dict__, "epochs": 2}), tmp_path / "grown")
    assert len(fewer["history"]) == 2 and fewer["best_epoch"] <= 2  # a 4-epoch run is not a 2-epoch run


@pytest.mark.slow
def test_a_planted_training_state_cannot_run_code(tmp_path):
    """last.pt is read with weights_only=True: a pickle that runs code is refused and the run starts over."""
    marker = tmp_path / "pwned"
    torch.save({"state": CodeOnLoad(marker)}, tmp_path / "last.pt")
    out = fit(small_model(), toy_split(12, 0), toy_split(8, 1), CFG, tmp_path)
    assert not marker.exists() and len(out["history"]) == CFG.epochs


def test_rng_states_survive_a_weights_only_round_trip_and_stay_on_the_cpu(tmp_path, monkeypatch):
    """Every RNG the loop draws from is restored exactly; CUDA states are saved and restored as CPU byte tensors."""
    import random

    from dfd_utils import resume

    cuda_states = [torch.arange(16, dtype=torch.uint8)]
    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: cuda_states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.update(states=states))
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(1), np.random.seed(2), random.seed(4)
    torch.save(resume.rng_state(generator), tmp_path / "rng.pt")
    draws = (torch.rand(3), torch.rand(3, generator=generator), np.random.rand(3), random.random())
    saved = torch.load(tmp_path / "rng.pt", map_location="cpu", weights_only=True)
    resume.set_rng_state(saved, generator)
    again = (torch.rand(3), torch.rand(3, generator=generator), np.random.rand(3), random.random())
    torch.testing.assert_close(draws[0], again[0], rtol=0, atol=0)
    torch.testing.assert_close(draws[1], again[1], rtol=0, atol=0)
    assert np.array_equal(draws[2], again[2]) and draws[3] == again[3]
    assert restored["states"][0].device.type == "cpu" and torch.equal(restored["states"][0], cuda_states[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on one: pytest -k cuda)")
def test_an_interrupted_run_resumes_to_the_same_weights_on_cuda(tmp_path):
    """The CPU resume test on a GPU: CUDA RNG states saved and restored, optimiser state moved back to the GPU."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    cfg = TrainConfig(**{**CFG.__dict__, "device": "cuda"})
    train, val = toy_split(12, 0), toy_split(8, 1)
    straight = small_model()
    fit(straight, train, val, cfg, tmp_path / "straight")

    def crash_after_two(epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), train, val, cfg, tmp_path / "resumed", on_epoch_end=crash_after_two)
    resumed = small_model()
    out = fit(resumed, train, val, cfg, tmp_path / "resumed")
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3, 4]
    for k, v in _weights(straight).items():
        torch.testing.assert_close(v, _weights(resumed)[k], rtol=0, atol=0)


def test_dvclive_curves_hold_every_epoch_of_a_reused_run(tmp_path):
    """DVC deletes dvclive/<model> before a stage runs; a run reused from its kept state must still write all epochs."""
    from dfd_utils.stages.detector import write_live

    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.5 / e, "val_auc": 0.5 + e / 10, "val_acc": 0.5}
               for e in (1, 2, 3)]
    folder = tmp_path / "dvclive" / "baseline"
    write_live(folder, history)
    rows = (folder / "plots" / "metrics" / "val_auc.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["step", "val_auc"]
    assert [r.split("\t") for r in rows[1:]] == [["0", "0.6"], ["1", "0.7"], ["2", "0.8"]]
    write_live(folder, history)  # written anew, never appended
    assert len((folder / "plots" / "metrics" / "val_auc.tsv").read_text().splitlines()) == 4
