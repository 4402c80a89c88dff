import json
import os

import cv2
import numpy as np
import pandas as pd
import pytest

from dfd_utils.datasets import FrameBag, FrameFlowBag, VideoClips, load_split
from dfd_utils.flow import FlowConfig, compute_all, farneback, flow_to_color, load_flow, video_flow
from dfd_utils.frame_store import FrameConfig
from dfd_utils.frames import extract_all, write_index
from dfd_utils.sources.metadata import VideoRecord, load_subset
from dfd_utils.sources.synthetic import SyntheticConfig, plan_dataset
from dfd_utils.splits import split_table, split_videos

CFG = FrameConfig(size_3d=32)


@pytest.fixture(scope="module")
def extracted(synthetic_subset, tmp_path_factory):
    root = tmp_path_factory.mktemp("work")
    records, _ = load_subset(synthetic_subset)
    done, skips = extract_all(records, root / "frames", CFG, workers=2)
    splits = split_videos(records, seed=0)
    write_index(records, done, splits, root / "frames")
    compute_all(sorted(done), root / "frames", root / "flow", FlowConfig(), workers=2)
    return root, records, done, skips


def test_frames_layout_sizes_and_indices(extracted):
    root, records, done, skips = extracted
    assert not skips and len(done) == len(records)
    folder = root / "frames" / records[0].path.stem
    assert sorted(p.name for p in folder.glob("*.jpg")) == [f"{i:02d}.jpg" for i in range(16)]
    assert cv2.imread(str(folder / "00.jpg")).shape == (108, 192, 3)
    assert cv2.imread(str(folder / "3d" / "15.jpg")).shape == (32, 32, 3)
    info = json.loads((folder / "info.json").read_text())
    assert info["num_decoded"] == 20 and info["indices"] == [i * 19 // 15 for i in range(16)]


def test_labels_and_manifest(extracted):
    root, records, done, _ = extracted
    labels = json.loads((root / "frames" / "labels.json").read_text())
    manifest = pd.read_csv(root / "frames" / "manifest.csv", keep_default_na=False)
    assert len(labels) == len(manifest) == 16 * len(records)
    r = records[0]
    assert labels[f"{r.path.stem}/07.jpg"] == r.label
    assert set(manifest.columns) >= {"video", "label", "original", "frame_index", "position", "split"}


def test_rerun_skips_finished_videos(extracted):
    root, records, _, _ = extracted
    probe_file = root / "frames" / records[0].path.stem / "00.jpg"
    before = probe_file.stat().st_mtime_ns
    done, _ = extract_all(records, root / "frames", CFG, workers=1)
    assert len(done) == len(records) and probe_file.stat().st_mtime_ns == before


def test_bad_videos_are_skipped_with_reasons_and_the_rest_continues(tmp_path, synthetic_subset):
    records, _ = load_subset(synthetic_subset)
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(os.urandom(5000))
    bad = [VideoRecord("zero.mp4", tmp_path / "zero.mp4", 1, None),
           VideoRecord("junk.mp4", tmp_path / "junk.mp4", 0, None)]
    done, skips = extract_all(records[:2] + bad, tmp_path / "frames", CFG, workers=2)
    assert len(done) == 2
    reasons = {s.name: s.reason for s in skips}
    assert "empty" in reasons["zero.mp4"] and "cannot open" in reasons["junk.mp4"]
    assert not (tmp_path / "frames" / "zero").exists()


def test_portrait_videos_are_skipped(tmp_path, tiny_video):
    path = tiny_video("tall.mp4", n=20, h=128, w=72)
    done, skips = extract_all([VideoRecord("tall.mp4", path, 0, None)], tmp_path / "f", CFG, workers=1)
    assert not done and "portrait" in skips[0].reason


def test_changed_config_starts_over(extracted, tmp_path, synthetic_subset):
    records, _ = load_subset(synthetic_subset)
    extract_all(records[:1], tmp_path / "f", CFG, workers=1)
    extract_all(records[:1], tmp_path / "f", FrameConfig(height=54, width=96, size_3d=32), workers=1)
    img = cv2.imread(str(tmp_path / "f" / records[0].path.stem / "00.jpg"))
    assert img.shape == (54, 96, 3)


def test_splits_never_separate_a_fake_from_its_original():
    plans = plan_dataset(SyntheticConfig(num_videos=825))
    records = [VideoRecord(p.name, None, int(p.label == "FAKE"), p.original) for p in plans]
    splits = split_videos(records, seed=0)
    for r in records:
        if r.original:
            assert splits[r.name] == splits[r.original]
    table = split_table(records, splits)
    sizes = [table[s]["videos"] for s in ("train", "val", "test")]
    assert abs(sizes[0] - 660) <= 3 and abs(sizes[1] - 82) <= 3 and abs(sizes[2] - 83) <= 3  # the paper's
    for s in ("train", "val", "test"):  # stratified: each split near 60 % FAKE
        assert abs(table[s]["FAKE"] / table[s]["videos"] - 0.6) < 0.05
    assert split_videos(records, seed=0) == splits


def test_farneback_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (108, 212, 3), dtype=np.uint8), (0, 0), 2)
    a, b = texture[:, 10:202], texture[:, 8:200]  # content moves 2 px to the right
    flow = farneback(a, b)
    interior = flow[20:-20, 20:-20]
    assert abs(np.median(interior[..., 0]) - 2.0) < 0.3 and abs(np.median(interior[..., 1])) < 0.3


def test_video_flow_duplicates_the_first_field():
    frames = np.random.default_rng(0).integers(0, 255, (16, 108, 192, 3), dtype=np.uint8)
    flow = video_flow(frames)
    assert flow.shape == (16, 2, 108, 192) and flow.dtype == np.float16
    np.testing.assert_array_equal(flow[0], flow[1])


def test_flow_to_color():
    still = flow_to_color(np.zeros((2, 8, 8)))
    assert still.shape == (8, 8, 3) and still.max() == 0  # no motion is black
    right = flow_to_color(np.stack([np.ones((8, 8)), np.zeros((8, 8))]))
    left = flow_to_color(np.stack([-np.ones((8, 8)), np.zeros((8, 8))]))
    assert right.max() == 255 and not np.array_equal(right, left)  # direction is hue


def test_flow_files(extracted):
    root, records, done, _ = extracted
    flow = load_flow(root / "flow", records[0].name)
    assert flow.shape == (16, 2, 108, 192) and flow.dtype == np.float16


def test_dataset_views(extracted):
    root, *_ = extracted
    data = load_split(root / "frames", "train", root / "flow", flows=True, three_d=True)
    v = len(data.videos)
    assert data.frames.shape == (v, 16, 3, 108, 192) and data.frames.dtype.is_floating_point is False
    assert data.flows.shape == (v, 16, 2, 108, 192) and data.frames3d.shape == (v, 16, 3, 32, 32)
    bag = FrameBag(data)
    assert len(bag) == 16 * v and bag[17]["frames"].shape == (3, 108, 192)
    assert bag[17]["label"] == data.labels[1]
    assert FrameFlowBag(data)[3]["flows"].shape == (2, 108, 192)
    clip = VideoClips(data, with_flow=True)[0]
    assert clip["frames"].shape == (16, 3, 108, 192) and clip["flows"].shape == (16, 2, 108, 192)
    assert VideoClips(data, three_d=True)[0]["frames"].shape == (16, 3, 32, 32)


def test_the_demo_profile_holds_out_at_least_40_test_videos():
    """The default study's test split is large enough for intervals a reader can use (the issue's floor: 40)."""
    from collections import Counter
    from pathlib import Path

    from dfd_utils.profiles import resolve

    demo = resolve("demo")
    data = demo["data"]
    cfg = SyntheticConfig(num_videos=data["num_videos"], fake_share=data["fake_share"], seed=demo["seed"])
    records = [VideoRecord(p.name, Path(p.name), int(p.label == "FAKE"), p.original) for p in plan_dataset(cfg)]
    shares = tuple(demo["splits"][k] for k in ("train", "val", "test"))
    counts = Counter(split_videos(records, shares, seed=demo["seed"]).values())
    assert counts["test"] >= 40, counts
    assert sum(counts.values()) == data["num_videos"]
