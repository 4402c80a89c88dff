"""A frozen trunk: features computed once give the model's own answers, the trunk never moves, stale features are
never used, and several seeds report their spread."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from dfd_utils.datasets import SplitData
from dfd_utils.features import FeatureCache, features_fit, trunk_digest, with_features
from dfd_utils.models import build_model
from dfd_utils.stages.detector import seed_spread
from dfd_utils.train import TrainConfig, fit, predict

FROZEN = TrainConfig(epochs=3, patience=10, batch_frames=8, batch_videos=2, precision="fp32", channels_last=False,
                     lr=3e-3, seed=0, trunk="frozen")


def clips(num_videos: int = 6, seed: int = 0, t: int = 4, h: int = 32, w: int = 48, s: int = 32) -> SplitData:
    """Fakes carry a bright square; flows and square 3D frames too, so every model can read the split."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([i % 2 for i in range(num_videos)], dtype=torch.float32)
    frames = torch.randint(60, 120, (num_videos, t, 3, h, w), generator=g, dtype=torch.uint8)
    frames[labels == 1, :, :, 8:20, 12:28] = 250
    frames3d = torch.randint(60, 120, (num_videos, t, 3, s, s), generator=g, dtype=torch.uint8)
    flows = torch.randn(num_videos, t, 2, h, w, generator=g).half()
    names = [f"v{i}.mp4" for i in range(num_videos)]
    return SplitData(videos=names, families=names, labels=labels, frames=frames, flows=flows, frames3d=frames3d)


def model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    extra = {"height": 32, "width": 48} if name.startswith("two_stream") else {}
    if name == "two_stream_video":
        extra["num_frames"] = 4
    return build_model(name, backbone="resnet18", hidden=8, dropout=0.0, **extra).eval()


@pytest.mark.parametrize("name", ["baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d"])
def test_features_then_classify_is_the_models_forward(name):
    net, data = model(name), clips()
    featured = with_features(net, data)
    three_d = name == "cnn3d"
    assert featured.features.shape == ((6, 512) if three_d else (6, 4, 512))  # ResNet18: 512 channels per frame
    assert features_fit(net, featured)
    torch.testing.assert_close(torch.from_numpy(predict(net, featured)), torch.from_numpy(predict(net, data)),
                               rtol=1e-4, atol=1e-5)


def test_features_of_another_trunk_are_not_used():
    a, b = model("baseline", seed=0), model("baseline", seed=1)  # random trunks: different weights
    data = clips()
    featured_by_a = with_features(a, data)
    assert trunk_digest(a) != trunk_digest(b) and not features_fit(b, featured_by_a)
    np.testing.assert_allclose(predict(b, featured_by_a), predict(b, data), rtol=1e-5)  # from frames, not a's features
    with torch.no_grad():
        a.cnn[0].weight.add_(0.1)  # the trunk changed after its features were computed
    assert not features_fit(a, featured_by_a)


@pytest.mark.slow
def test_a_frozen_trunk_stays_as_it_was_and_the_head_learns(tmp_path):
    net = model("baseline")
    trunk_before = {k: v.clone() for k, v in net.cnn.state_dict().items()}
    head_before = {k: v.clone() for k, v in net.head.state_dict().items()}
    train, val = clips(8, 0), clips(6, 1)
    out = fit(net, train, val, FROZEN, tmp_path)
    for k, v in net.cnn.state_dict().items():
        torch.testing.assert_close(v, trunk_before[k], rtol=0, atol=0)  # BatchNorm statistics included
    assert any(not torch.equal(v, head_before[k]) for k, v in net.head.state_dict().items())
    assert out["history"][-1]["train_loss"] < out["history"][0]["train_loss"]


@pytest.mark.slow
def test_a_frozen_run_resumes_exactly(tmp_path):
    train, val = clips(8, 0), clips(6, 1)
    straight = model("cnn_rnn")
    fit(straight, train, val, FROZEN, tmp_path / "straight")
    first = model("cnn_rnn")
    fit(first, train, val, replace(FROZEN, epochs=1), tmp_path / "resumed")
    resumed = model("cnn_rnn")
    out = fit(resumed, train, val, FROZEN, tmp_path / "resumed")
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3]
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(v, resumed.state_dict()[k], rtol=0, atol=0)


def test_frozen_and_finetuned_runs_are_kept_apart(tmp_path, caplog):
    train, val = clips(4, 0), clips(4, 1)
    fit(model("baseline"), train, val, replace(FROZEN, epochs=1), tmp_path)
    with caplog.at_level("WARNING"):
        fit(model("baseline"), train, val, replace(FROZEN, epochs=1, trunk="finetune"), tmp_path)
    assert "starts over: settings changed (trunk \"frozen\" -> \"finetune\")" in caplog.text


def test_the_cache_computes_each_trunks_features_once():
    cache, data = FeatureCache(), {"train": clips(4, 0)}
    first = cache(model("baseline", seed=0), data)
    again = cache(model("baseline", seed=0), data)  # the same initial trunk, as seeds of a pretrained model share
    other = cache(model("baseline", seed=1), data)
    assert again["train"].features is first["train"].features
    assert other["train"].features is not first["train"].features


def test_stored_features_are_reused_only_under_their_exact_key(tmp_path, monkeypatch, caplog):
    """A second stage (a new cache, the same store) loads the features the first computed, bit for bit; a changed
    video, another trunk or a damaged file are computed afresh, one video at a time."""
    import dfd_utils.features as features_module

    calls = []
    real = features_module.videos_features
    monkeypatch.setattr(features_module, "videos_features", lambda m, v: calls.extend([1] * len(v)) or real(m, v))
    net, data = model("baseline"), {"train": clips(), "val": clips(seed=1)}
    first = FeatureCache(tmp_path)(net, data)
    assert len(calls) == 12 and len(list(tmp_path.glob("*.pt"))) == 12  # one file per video
    caplog.set_level("INFO", "dfd_utils.features")
    again = FeatureCache(tmp_path)(model("cnn_rnn"), data)  # another detector on the same trunk and frames
    assert len(calls) == 12 and "6 of 6 videos reused" in caplog.text
    for split in data:
        assert torch.equal(again[split].features, first[split].features)
        assert again[split].features_of == first[split].features_of
    changed = clips()
    changed.frames[0, 0, 0, 0, 0] += 1  # one pixel of one frame of one video
    FeatureCache(tmp_path)(net, {"train": changed})
    assert len(calls) == 13
    FeatureCache(tmp_path)(model("baseline", seed=1), {"train": clips()})  # another trunk
    assert len(calls) == 19
    for path in tmp_path.glob("*.pt"):
        path.write_bytes(b"not a tensor")
    caplog.clear()
    redone = FeatureCache(tmp_path)(net, data)
    assert len(calls) == 31 and "unreadable" in caplog.text
    assert torch.equal(redone["train"].features, first["train"].features)


@pytest.mark.parametrize("name", ["baseline", "cnn3d"])
def test_sets_that_share_videos_share_their_features(tmp_path, monkeypatch, name):
    """The sweep's sets hold the same reals: only the videos a store lacks go through the trunk, and the result
    is bit-identical to computing the whole split without a store (a fixed batch, whatever its neighbours)."""
    import dfd_utils.features as features_module

    calls = []
    real = features_module.videos_features
    monkeypatch.setattr(features_module, "videos_features", lambda m, v: calls.extend([1] * len(v)) or real(m, v))
    net, base, other = model(name), clips(6, seed=0), clips(6, seed=3)
    FeatureCache(tmp_path)(net, {"train": base})
    mixed = replace(base, frames=torch.cat([base.frames[:3], other.frames[:3]]),  # 3 shared videos, 3 new
                    frames3d=torch.cat([other.frames3d[:2], base.frames3d[1:5]]))  # 2 new, 4 shared in other places
    got = FeatureCache(tmp_path)(net, {"train": mixed})["train"]
    assert len(calls) == 6 + (2 if name == "cnn3d" else 3)
    assert torch.equal(got.features, with_features(net, mixed).features)


def test_a_stored_file_of_the_wrong_shape_is_not_trusted(tmp_path, caplog):
    net, data = model("baseline"), {"train": clips(2)}
    first = FeatureCache(tmp_path)(net, data)["train"]
    for path in tmp_path.glob("*.pt"):
        torch.save(torch.zeros(3, 512), path)  # 3 frames' features where the video has 4
    caplog.set_level("INFO", "dfd_utils.features")
    again = FeatureCache(tmp_path)(net, data)["train"]
    assert "holds (3, 512), not one video's: computed afresh" in caplog.text
    assert torch.equal(again.features, first.features)


def test_stored_3d_features_round_trip(tmp_path):
    """The 3D CNN's clip features (an inflated trunk, 5-D kernels) are stored and reused like the frames'."""
    net, data = model("cnn3d"), {"train": clips()}
    first = FeatureCache(tmp_path)(net, data)
    again = FeatureCache(tmp_path)(model("cnn3d"), data)
    assert first["train"].features.shape == (6, 512) and len(list(tmp_path.glob("*.pt"))) == 6
    assert torch.equal(again["train"].features, first["train"].features)


def test_trunk_and_seeds_are_checked():
    with pytest.raises(ValueError, match="trunk must be finetune or frozen, got 'fixed'"):
        TrainConfig(trunk="fixed")
    with pytest.raises(ValueError, match="seeds"):
        TrainConfig(seeds=0)


def test_seed_spread_by_hand():
    runs = [{"roc_auc": 0.8, "accuracy": 0.7, "balanced_accuracy": 0.6, "log_loss": 0.5},
            {"roc_auc": 0.9, "accuracy": 0.8, "balanced_accuracy": 0.7, "log_loss": 0.4},
            {"roc_auc": 1.0, "accuracy": 0.9, "balanced_accuracy": 0.8, "log_loss": 0.3}]
    spread = seed_spread(runs)
    assert spread["roc_auc"]["mean"] == pytest.approx(0.9)
    assert spread["roc_auc"]["sd"] == pytest.approx(0.1)  # sqrt(((-.1)^2 + 0 + .1^2) / 2)
    assert (spread["log_loss"]["min"], spread["log_loss"]["max"]) == (0.3, 0.5)
    assert seed_spread(runs[:1])["accuracy"]["sd"] == 0.0


def test_the_trunk_digest_follows_every_write_to_the_trunk():
    """Kept on the model between calls, it must still change with any in-place write, a load or a step."""
    import torch

    from dfd_utils.features import trunk_digest
    from dfd_utils.models import build_model

    model = build_model("baseline", backbone="resnet18", hidden=8)
    first = trunk_digest(model)
    assert trunk_digest(model) == first
    conv = next(p for p in model.cnn.parameters() if p.dim() == 4)
    kept = conv[0, 0, 0, 0].item()
    with torch.no_grad():
        conv[0, 0, 0, 0] += 1.0  # in place: the version counter moves
    changed = trunk_digest(model)
    assert changed != first
    with torch.no_grad():
        conv[0, 0, 0, 0] = kept
    assert trunk_digest(model) == first  # the same values, the same digest
    other = build_model("baseline", backbone="resnet18", hidden=8)
    torch.manual_seed(1)
    for p in other.parameters():
        torch.nn.init.normal_(p)
    model.load_state_dict(other.state_dict())
    assert trunk_digest(model) == trunk_digest(other) != first
