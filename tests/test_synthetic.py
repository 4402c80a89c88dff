import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import SMALL
from dfd_utils.sources.synthetic import (
    SyntheticConfig,
    generate,
    make_identity,
    make_motion,
    plan_dataset,
    render_video,
)
from dfd_utils.video import probe, read_sampled_frames


def test_plan_matches_the_paper_balance_and_links_fakes_to_reals():
    plans = plan_dataset(SyntheticConfig(num_videos=825))
    labels = [p.label for p in plans]
    assert len(plans) == 825 and labels.count("FAKE") == 495  # 60 % FAKE, as the paper's subset
    reals = {p.name: p for p in plans if p.label == "REAL"}
    for p in plans:
        if p.label == "FAKE":
            assert p.original in reals
            assert p.subject == reals[p.original].subject and p.donor != p.subject
    assert len({p.name for p in plans}) == 825


def test_the_set_size_and_fake_share_are_checked_by_the_config():
    with pytest.raises(ValueError, match="num_videos must be >= 2"):
        SyntheticConfig(num_videos=1)
    with pytest.raises(ValueError, match="fake_share must be < 1"):
        SyntheticConfig(fake_share=1.0)


def test_same_seed_same_metadata_and_frames(tmp_path, synthetic_subset):
    cfg = replace(SMALL, num_videos=4)
    a = generate(cfg, tmp_path / "a", workers=1)
    b = generate(cfg, tmp_path / "b", workers=1)
    assert a == b
    for name in a:
        fa, _, _ = read_sampled_frames(tmp_path / "a" / name)
        fb, _, _ = read_sampled_frames(tmp_path / "b" / name)
        np.testing.assert_array_equal(fa, fb)
    c = generate(replace(cfg, seed=cfg.seed + 1), tmp_path / "c", workers=1)
    assert set(c) != set(a)


def test_metadata_is_dfdc_format(synthetic_subset):
    metadata = json.loads((synthetic_subset / "metadata.json").read_text())
    assert len(metadata) == SMALL.num_videos
    for name, entry in metadata.items():
        assert (synthetic_subset / name).is_file()
        assert entry["split"] == "train" and entry["label"] in ("REAL", "FAKE")
        assert (entry["original"] is None) == (entry["label"] == "REAL")


def _render(cfg, donor=True):
    rng = np.random.default_rng(7)
    identity, motion, other = make_identity(rng), make_motion(rng), make_identity(rng)
    return render_video(cfg, identity, motion, background_seed=11, donor=other if donor else None, fake_seed=5)


def test_a_fake_is_its_original_with_an_overlaid_face():
    cfg = replace(SMALL, jitter=0.0, flicker=0.0, unaltered_share=0.0)
    real, fake = _render(cfg, donor=False), _render(cfg)
    assert real.shape == fake.shape
    diff = np.abs(real.astype(int) - fake.astype(int)).max(axis=(0, 3))  # (H, W)
    changed = diff > 8
    assert changed.any()
    assert changed.mean() < 0.3  # only the face region changes, not the scene
    untouched = _render(replace(cfg, unaltered_share=1.0))
    np.testing.assert_array_equal(untouched, real)  # every frame unaltered -> the original itself


def test_temporal_artifacts_change_frame_to_frame_differences():
    calm = _render(replace(SMALL, jitter=0.0, flicker=0.0, unaltered_share=0.0))
    shaky = _render(replace(SMALL, jitter=1.0, flicker=0.8, unaltered_share=0.0))
    motion = lambda v: np.abs(np.diff(v.astype(float), axis=0)).mean()
    assert motion(shaky) > motion(calm)


def test_full_resolution_1080x1920(tmp_path):
    cfg = SyntheticConfig(num_videos=2, height=1080, width=1920, fps=30, duration_s=0.1)
    metadata = generate(cfg, tmp_path, workers=1)
    info = probe(tmp_path / next(iter(metadata)))
    assert (info.width, info.height, info.header_frames) == (1920, 1080, 3)
