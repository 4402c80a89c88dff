"""The frame-order test (chapter 12): seeded perturbations, flow rebuilt from the perturbed frames, and tiny models
that show what the test can tell: a per-frame model loses nothing to a shuffle, one that reads time does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dfd_utils.chapters import frame_order
from dfd_utils.datasets import SplitData
from dfd_utils.features import with_features
from dfd_utils.flow import FlowConfig, video_flow
from dfd_utils.models.backbone import Normalize
from dfd_utils.models.base import Detector

FROZEN = {"trunk": "frozen", "device": "cpu", "channels_last": False}
FINETUNE = {**FROZEN, "trunk": "finetune"}
T = 8
STEPS = np.arange(T) * 12  # a real clip brightens smoothly
JUMBLED = np.array([0, 7, 1, 6, 2, 5, 3, 4])  # its fake: the same frames, out of order


class TinyFrame(Detector):
    """A per-frame detector small enough to run in milliseconds: a 1x1 convolution, pooling, one linear unit."""

    input_view, level = "frame", "frame"

    def __init__(self):
        nn.Module.__init__(self)
        torch.manual_seed(0)
        self.normalize = Normalize()
        self.cnn = nn.Sequential(nn.Conv2d(3, 4, 1))
        self.cnn_channels = 4
        self.head = nn.Linear(4, 1)

    def classify(self, features, flows=None):
        return self.head(features).squeeze(1)


class TinyDifference(TinyFrame):
    """A whole-video detector that reads time: its logit is how much the features change from frame to frame."""

    input_view, level = "video", "video"

    def classify(self, features, flows=None):  # (B, T, C)
        return (features[:, 1:] - features[:, :-1]).abs().mean(dim=(1, 2)) * 4 - 1


def clips(pairs: int = 12, size: int = 8) -> SplitData:
    """``pairs`` real clips and one fake of each (its family): the fake holds its real's frames, jumbled, so the
    label is carried by the frames' order alone."""
    rng = np.random.default_rng(0)
    videos, families, labels, frames = [], [], [], []
    for i in range(pairs):
        base = rng.integers(20, 100)
        texture = rng.integers(0, 20, (3, size, size))
        real = np.stack([np.clip(base + step + texture, 0, 255) for step in STEPS]).astype(np.uint8)  # (T, 3, S, S)
        for name, clip, label in ((f"real{i:02}.mp4", real, 0), (f"fake{i:02}.mp4", real[JUMBLED], 1)):
            videos.append(name)
            families.append(f"real{i:02}.mp4")
            labels.append(label)
            frames.append(clip)
    return SplitData(videos=videos, families=families, labels=torch.tensor(labels, dtype=torch.float32),
                     frames=torch.from_numpy(np.stack(frames)), flows=None, frames3d=None)


def moving_square(steps: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """A bright textured square moving 2 px right per frame over a dark still background: ``(T, H, W, 3)``."""
    rng = np.random.default_rng(1)
    background = rng.integers(0, 40, (height, width, 1))
    square = rng.integers(150, 255, (16, 16, 1))
    frames = []
    for t in range(steps):
        frame = background.copy()
        frame[16:32, 8 + 2 * t:24 + 2 * t] = square
        frames.append(np.repeat(frame, 3, axis=-1))
    return np.stack(frames).astype(np.uint8)


def test_the_permutation_is_seeded_by_video_and_seed_alone_never_the_identity():
    first = frame_order.frame_indices("shuffled", "a.mp4", 16, seed=0)
    assert np.array_equal(first, frame_order.frame_indices("shuffled", "a.mp4", 16, seed=0))
    assert sorted(first) == list(range(16)) and not np.array_equal(first, np.arange(16))
    assert not np.array_equal(first, frame_order.frame_indices("shuffled", "a.mp4", 16, seed=1))
    assert not np.array_equal(first, frame_order.frame_indices("shuffled", "b.mp4", 16, seed=0))
    for name in ("a", "b", "c", "d", "e", "f"):  # two frames: a shuffle is always the swap
        assert list(frame_order.frame_indices("shuffled", name, 2)) == [1, 0]
    assert list(frame_order.frame_indices("repeated", "a.mp4", 16)) == [8] * 16
    with pytest.raises(ValueError, match="unknown perturbation 'reversed'"):
        frame_order.frame_indices("reversed", "a.mp4", 16)


def test_every_model_gets_the_same_permutation_of_a_video_whatever_it_reads_and_whatever_else_the_split_holds():
    data = clips(pairs=3)
    both = SplitData(data.videos, data.families, data.labels, data.frames, None, data.frames.clone())  # 2D and 3D
    shuffled = frame_order.perturb(both, "shuffled", seed=5)
    index = frame_order.split_indices(both, "shuffled", seed=5)
    for v in range(len(data.videos)):
        assert torch.equal(shuffled.frames[v], data.frames[v][index[v]])
        assert torch.equal(shuffled.frames3d[v], data.frames[v][index[v]])  # the 3D clip in the same order
    fewer = SplitData(data.videos[2:], data.families[2:], data.labels[2:], data.frames[2:], None, None)
    assert torch.equal(frame_order.split_indices(fewer, "shuffled", seed=5), index[2:])


def test_the_flow_of_a_perturbed_clip_is_computed_anew_from_its_frames():
    frames = moving_square()  # (T, H, W, 3)
    stored = video_flow(frames)  # stage 03's flow
    assert stored[1:, 0, 16:32, 12:28].astype(float).mean() > 1  # the square moves right
    data = SplitData(["v.mp4"], ["v.mp4"], torch.zeros(1), torch.from_numpy(frames.transpose(0, 3, 1, 2)[None]),
                     torch.from_numpy(stored[None]), None)
    assert torch.equal(frame_order.recompute_flows(data.frames)[0], data.flows[0])  # in order: stage 03's flow
    shuffled = frame_order.perturb(data, "shuffled", flow=FlowConfig())
    index = frame_order.split_indices(data, "shuffled")[0]
    expected = video_flow(frames[index.numpy()])
    assert np.array_equal(shuffled.flows[0].numpy(), expected)  # the shuffled frames' own flow ...
    assert not torch.equal(shuffled.flows[0], data.flows[0][index])  # ... not the in-order flow reordered
    repeated = frame_order.perturb(data, "repeated")
    assert repeated.flows.dtype == torch.float16 and not repeated.flows.float().abs().max() > 0  # exactly zero
    still = frames[[2, 2, 3]]  # a still frame, then motion: Farneback's residue is not taken for motion
    flow = frame_order.clip_flow(still)
    assert not flow[:2].any() and np.array_equal(flow[2], video_flow(still)[2]) and flow[2].any()
    assert torch.equal(repeated.frames[0], data.frames[0][[len(frames) // 2] * len(frames)])
    with pytest.raises(ValueError, match="computed from its frames"):
        frame_order.perturb(SplitData(["v"], ["v"], torch.zeros(1), None, data.flows, None), "shuffled")


def test_a_frozen_2d_trunks_perturbed_features_are_its_features_of_the_perturbed_frames():
    model, data = TinyFrame().eval(), clips(pairs=2)
    featured = with_features(model, data)
    for kind in frame_order.PERTURBATIONS:
        taken = frame_order.perturb(featured, kind)
        computed = with_features(model, frame_order.perturb(data, kind))
        assert torch.equal(taken.features, computed.features) and taken.features_of == featured.features_of
    clip = SplitData(data.videos, data.families, data.labels, None, None, data.frames, features=torch.ones(4, 3),
                     features_of="3d trunk")
    assert frame_order.perturb(clip, "shuffled").features is None  # a clip's features: its trunk must run again


@pytest.mark.parametrize("train", [FROZEN, FINETUNE], ids=["frozen", "finetune"])
def test_a_per_frame_model_loses_nothing_to_a_shuffle(train):
    model, data = TinyFrame().eval(), clips()
    tables = frame_order.order_scores(model, train, data, None, topk=4)
    base, shuffled = tables["in_order"], tables["shuffled"]
    assert list(shuffled.video) == list(base.video)
    assert np.abs(shuffled.prob.to_numpy() - base.prob.to_numpy()).max() < 1e-6  # float summation order only
    rows = frame_order.order_rows("tiny_frame", "temporal", tables, n_boot=200)
    shuffle = next(r for r in rows if r["perturbation"] == "shuffled")
    assert shuffle["auc"] == shuffle["auc_in_order"] and abs(shuffle["drop"]) < 1e-12
    assert shuffle["equivalent"] and shuffle["max_score_change"] < 1e-6


def test_a_model_that_reads_frame_differences_loses_auc_when_the_order_carries_the_label():
    model, data = TinyDifference().eval(), clips()
    tables = frame_order.order_scores(model, FROZEN, data, None, topk=4, seed=0)
    rows = frame_order.order_rows("tiny_difference", "temporal", tables, n_boot=200)
    by = {r["perturbation"]: r for r in rows}
    assert by["shuffled"]["auc_in_order"] == 1.0
    assert by["repeated"]["auc"] == 0.5  # no change from frame to frame: every clip scores the same
    for r in rows:
        assert r["drop"] > 0.3 and r["low"] > 0 and not r["equivalent"], r
        assert r["method"].startswith("paired cluster bootstrap BCa") and r["level"] == 0.95


def test_the_table_names_its_columns_and_its_interval_method_and_the_reading_looks_both_ways():
    import pandas as pd

    data = clips()
    rows = []
    for name, model in (("tiny_frame", TinyFrame()), ("tiny_difference", TinyDifference())):
        tables = frame_order.order_scores(model.eval(), FROZEN, data, None, topk=4)
        rows += frame_order.order_rows(name, "temporal", tables, n_boot=200)
    rows = pd.DataFrame(rows, columns=frame_order.ORDER_COLUMNS)
    table = frame_order.order_table(rows)
    assert list(table.columns) == frame_order.TABLE_COLUMNS == [
        "model", "family", "AUC in order", "AUC shuffled", "drop shuffled [95 % paired]", "AUC repeated",
        "drop repeated [95 % paired]", "interval method"]
    assert list(table.model) == ["tiny_frame", "tiny_difference"]
    assert set(table["interval method"]) == {"paired cluster bootstrap BCa over original families (200 draws)"}
    assert frame_order.order_verdict(rows[rows.model == "tiny_difference"]) == "uses frame order"
    assert frame_order.order_verdict(rows[rows.model == "tiny_frame"]) == "does not use frame order"
    text = frame_order.order_reading(rows)
    shuffled = text.split(". **With one frame repeated**")[0]
    assert "use frame order: tiny_difference on temporal (+0.6" in shuffled
    assert "demonstrably do not (the drop equivalent to 0 within ±0.05 AUC" in shuffled
    assert "tiny_frame on temporal (+0.000" in shuffled.split("demonstrably do not")[1]
    assert frame_order.order_reading(rows.iloc[:0]) == "No model was scored with its frames shuffled or repeated."
