"""The ``faces`` source: a DFDC-format set of real talking faces, with no dataset download.

Three modules make it, one idea each: :mod:`~dfd_utils.sources.face_clips` (which
registry clips, fetched and checked), :mod:`~dfd_utils.sources.face_plan` (which
windows become reals and what each fake is made of, split by identity) and this one,
the generator: it decodes the planned windows once, letterboxes them into the output
size (DFDC's frames are landscape; these are 4:3) and renders each fake from the same
decoded frames as its original, so a fake and its original are compressed once
each, alike. The fakes (:mod:`~dfd_utils.sources.blend`) carry the artifacts of
:mod:`~dfd_utils.sources.artifacts`, the same model and knobs as the synthetic
source's.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.face_tracking import FaceTrack, track_clip
from dfd_utils.io import progress, read_json, write_json_atomic
from dfd_utils.provenance import code_version, stamp
from dfd_utils.sources.blend import make_fake
from dfd_utils.sources.clip_set import ClipFolder, render_settings
from dfd_utils.sources.face_clips import CLIPS, fetch_clips
from dfd_utils.sources.face_clips import origins as origins  # the book lists the clips as faces.origins()
from dfd_utils.sources.face_plan import FacesConfig, Plan, Window, output_length, plan_dataset
from dfd_utils.video import probe, write_video

log = logging.getLogger(__name__)


def letterbox(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale to fit ``height x width`` and pad with black: RGB uint8 ``(height, width, 3)``."""
    h, w = frame.shape[:2]
    scale = min(height / h, width / w)
    new_h, new_w = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - new_h) // 2, (width - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return out


def read_windows(path: Path, windows: list[Window], cfg: FacesConfig, source_fps: float
                 ) -> dict[Window, np.ndarray]:
    """Decode ``path`` once and return each window's frames, letterboxed: ``(T, H, W, 3)`` uint8."""
    n = cfg.num_frames
    wanted: dict[int, list[tuple[Window, int]]] = {}
    for w in windows:
        for k in range(n):
            source_index = int(round((w.start + k) * source_fps / cfg.fps))
            wanted.setdefault(source_index, []).append((w, k))
    out = {w: np.empty((n, cfg.height, cfg.width, 3), np.uint8) for w in windows}
    filled = {w: 0 for w in windows}
    cap = cv2.VideoCapture(str(path))
    index = 0
    last = max(wanted) if wanted else -1
    try:
        while index <= last and cap.grab():
            if index in wanted:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise ValueError(f"{path}: frame {index} decodes but cannot be retrieved")
                frame = letterbox(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cfg.height, cfg.width)
                for w, k in wanted[index]:
                    out[w][k] = frame
                    filled[w] += 1
            index += 1
    finally:
        cap.release()
    short = [w for w in windows if filled[w] != n]
    if short:
        raise ValueError(f"{path}: ends at frame {index}, before window {short[0].label(cfg.fps)} is complete")
    return out


PLANNED = ("num_videos", "fake_share", "self_blended_share", "min_clips_per_identity")  # settings the plan holds


def clip_stamp(cfg: FacesConfig, plan: Plan) -> dict:
    """What one clip is made from: the pinned source clips it reads, its plan, the settings that reach it, this code.

    A real clip is its window's frames: no artifact knob and no seed reaches it.
    """
    files = sorted({plan.window.file} | ({plan.donor.file} if plan.donor else set()))
    pinned = {c.file: c.sha256 for c in CLIPS}
    fake = plan.label == "FAKE"
    render = render_settings(cfg, PLANNED if fake else (*PLANNED, "seed"), fake)
    return stamp({f: pinned[f] for f in files}, {"plan": asdict(plan), "render": render}, CODE)


def generate(cfg: FacesConfig, out_dir: str | Path, cache: str | Path | None = None) -> dict:
    """Write the ``faces`` set (mp4 files, a DFDC ``metadata.json``, ``checksums.json``) to ``out_dir``.

    Resumable and keyed: a clip is reused only when its stamp in ``provenance.json``
    matches (:func:`clip_stamp`). A planned fake whose original or donor shows no
    face is dropped with a warning and listed in ``faces_skipped.json``. Returns the metadata.
    """
    clips = fetch_clips(cache)
    infos = {f: probe(p) for f, p in clips.items()}
    lengths = {f: output_length(_decoded_count(clips[f], infos[f].header_frames), infos[f].fps, cfg.fps)
               for f in clips}
    plans = plan_dataset(cfg, lengths)
    folder = ClipFolder(out_dir, {p.name: clip_stamp(cfg, p) for p in plans}, "faces clips")
    todo = [p for p in plans if p.name in folder.stale]
    skipped_file = folder.folder / "faces_skipped.json"
    skipped = read_json(skipped_file) if skipped_file.is_file() else {}
    skipped = {name: reason for name, reason in skipped.items() if name in folder.stamps}
    if todo:
        windows = {p.window for p in todo} | {p.donor for p in todo if p.donor is not None}
        frames: dict[Window, np.ndarray] = {}
        for f in clips:
            mine = sorted((w for w in windows if w.file == f), key=lambda w: w.start)
            if mine:
                frames.update(read_windows(clips[f], mine, cfg, infos[f].fps))
        tracks: dict[Window, FaceTrack] = {}
        for plan in progress(todo, desc="faces"):
            skipped.pop(plan.name, None)
            clip = frames[plan.window]
            if plan.label == "FAKE":
                reason = _render_fake(plan, clip, frames, tracks, cfg, folder.folder)
                if reason:
                    skipped[plan.name] = reason
                    folder.drop(plan.name)  # an older clip of this name is not this plan's
                    log.warning("skipped %s: %s", plan.name, reason)
                    continue
            else:
                write_video(folder.folder / plan.name, clip, cfg.fps)
            folder.made(plan.name)
    write_json_atomic(skipped_file, skipped)
    metadata = {p.name: {"label": p.label, "split": "train", "original": p.original, "identity": p.identity,
                         "study_split": p.split, "fake_type": p.fake_type, "window": p.window.label(cfg.fps),
                         "donor": p.donor.label(cfg.fps) if p.donor else None}
                for p in plans if p.name not in skipped}
    return folder.close(metadata, legacy="faces_config.json")


def _track(window: Window, frames: dict, tracks: dict) -> FaceTrack:
    if window not in tracks:
        tracks[window] = track_clip(frames[window])
    return tracks[window]


def _render_fake(plan: Plan, clip: np.ndarray, frames: dict, tracks: dict, cfg: FacesConfig, out_dir: Path
                 ) -> str | None:
    """Render and write one fake; returns why it cannot be made, or None."""
    target = _track(plan.window, frames, tracks)
    if target.fallback:
        return f"its original {plan.original} shows no face the detector finds"
    source, source_faces = None, None
    if plan.donor is not None:
        donor = _track(plan.donor, frames, tracks)
        if donor.fallback:
            return f"its donor {plan.donor.label(cfg.fps)} shows no face the detector finds"
        source, source_faces = frames[plan.donor], donor.boxes
    fake = make_fake(clip, target.boxes, cfg, plan.seed, source, source_faces)
    write_video(out_dir / plan.name, fake, cfg.fps)
    return None


def _decoded_count(path: Path, header: int) -> int:
    """Frames that really decode (headers can overstate): one grab pass, no colour conversion."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    try:
        while cap.grab():
            count += 1
    finally:
        cap.release()
    if count == 0:
        raise ValueError(f"{path}: no frame decodes")
    if header and count != header:
        log.info("%s: header says %d frames, %d decode", path, header, count)
    return count


CODE = code_version(__name__, libraries=("opencv", "numpy"))  # hashed at import (see frames.CODE)
