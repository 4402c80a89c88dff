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


def _whole_patch_face(identity, state, box):
    """render_face as it was before the fast path (commit cae4551), verbatim: every mask over the whole patch."""
    import cv2

    from dfd_utils.sources.synthetic import FACE_WIDTH, _ellipse_mask

    c = box / 2
    fw = box * FACE_WIDTH / 2  # half face width
    fh = fw * identity.head_aspect
    rgb = np.empty((box, box, 3), np.float32)
    rgb[:] = identity.skin
    freckles = np.random.default_rng(identity.freckle_seed).normal(0, 6, (16, 16, 1))
    rgb += cv2.resize(freckles.astype(np.float32), (box, box), interpolation=cv2.INTER_CUBIC)[..., None]
    head = _ellipse_mask(box, box, c, c, fh, fw, 0.05)
    hair = _ellipse_mask(box, box, c - 0.55 * fh, c, 0.55 * fh, fw * 1.05, 0.05) * (
        np.arange(box)[:, None] < c - 0.45 * fh
    )
    rgb = rgb * (1 - hair[..., None]) + identity.hair * hair[..., None]
    shift = state["tilt"] * fw
    for side in (-1, 1):  # eyes: white, iris, lid closing with the blink
        ex, ey = c + side * identity.eye_spacing * fw + shift, c - 0.15 * fh
        white = _ellipse_mask(box, box, ey, ex, 0.07 * fh * state["eye_open"] + 0.3, 0.14 * fw, 0.1)
        iris = _ellipse_mask(box, box, ey, ex, 0.06 * fh * state["eye_open"] + 0.3, 0.06 * fw, 0.1)
        rgb = rgb * (1 - white[..., None]) + 235 * white[..., None]
        rgb = rgb * (1 - iris[..., None]) + identity.eyes * iris[..., None]
    nose = _ellipse_mask(box, box, c + 0.05 * fh, c + shift, 0.12 * fh, 0.05 * fw, 0.3)
    rgb = rgb * (1 - 0.25 * nose[..., None])
    mouth = _ellipse_mask(
        box, box, c + 0.4 * fh, c + shift, 0.02 * fh + 0.08 * fh * state["mouth"], identity.mouth_width * fw, 0.1
    )
    rgb = rgb * (1 - mouth[..., None]) + np.array([90, 20, 30], np.float32) * mouth[..., None]
    inner = _ellipse_mask(box, box, c + 0.1 * fh, c, 0.68 * fh, 0.78 * fw, 0.05)
    return rgb, head, inner


@pytest.mark.parametrize("box", [64, 128, 648])
def test_a_face_drawn_in_bounding_boxes_is_the_old_whole_patch_face_bit_for_bit(box):
    """The fast path (fixed parts once per clip, features blended in their bounding boxes): the same bytes."""
    from dfd_utils.sources.synthetic import face_base, render_face

    rng = np.random.default_rng(7)
    states = [dict(cx=0.5, cy=0.5, tilt=tilt, eye_open=eye, mouth=mouth, light=1.0)  # the extremes of Motion.state
              for tilt in (-0.08, 0.0, 0.08) for eye in (0.0, 1.0) for mouth in (0.0, 1.0)]
    for _ in range(4):
        identity, motion = make_identity(rng), make_motion(rng)
        base = face_base(identity, box)
        for state in states + [motion.state(t) for t in np.linspace(0, 4, 9)]:
            rgb, head, inner = render_face(identity, state, box, base)
            old_rgb, old_head, old_inner = _whole_patch_face(identity, state, box)
            assert np.array_equal(rgb, old_rgb) and rgb.dtype == old_rgb.dtype
            assert np.array_equal(head, old_head) and np.array_equal(inner, old_inner)
    with pytest.raises(ValueError, match="read-only"):  # no frame can change the face another frame starts from
        base.rgb[0, 0, 0] = 0


def test_an_ellipse_blended_in_its_bounding_box_equals_the_whole_mask_blend_even_past_the_edges():
    from dfd_utils.sources.synthetic import _blend_ellipse, _ellipse_mask

    rng = np.random.default_rng(3)
    for _ in range(300):
        h, w = rng.integers(8, 64, 2)
        cy, cx = rng.uniform(-30, h + 30), rng.uniform(-30, w + 30)
        ry, rx = rng.choice([0.0, 1e-4, 0.5, 3.0, 40.0]), rng.choice([0.0, 2.0, 25.0])
        soft = rng.choice([0.0, 0.05, 0.3, 1.0])
        rgb = rng.uniform(0, 255, (h, w, 3))
        mask = _ellipse_mask(h, w, cy, cx, ry, rx, soft)[..., None]
        colour = rng.uniform(0, 255, 3)
        expected, fast = rgb * (1 - mask) + colour * mask, rgb.copy()
        _blend_ellipse(fast, colour, cy, cx, ry, rx, soft)
        assert np.array_equal(fast, expected)
        expected, fast = rgb * (1 - 0.25 * mask), rgb.copy()
        _blend_ellipse(fast, None, cy, cx, ry, rx, soft, darken=0.25)
        assert np.array_equal(fast, expected)


def test_rendering_only_the_sampled_frames_gives_the_same_bytes():
    """Chapter 00 renders only the frames stage 02 samples: each the same bytes as in the whole clip."""
    from dfd_utils.sources.synthetic import SyntheticConfig, plan_dataset, render_plan

    cfg = SyntheticConfig(height=36, width=64, fps=10.0, duration_s=2.0, num_videos=4, fake_share=0.5, seed=3,
                          jitter=0.5, flicker=0.5, seam=0.5)
    for plan in plan_dataset(cfg):
        whole, _ = render_plan(cfg, plan)
        some, _ = render_plan(cfg, plan, only=[0, 3, 7, 19])
        assert np.array_equal(some, whole[[0, 3, 7, 19]])
