"""Stage 03: Farneback optical flow between consecutive sampled frames.

16 frames give 15 flow fields; the paper duplicates the first to pair every frame
with a field, so each video stores ``(16, 2, H, W)`` float16 (dx, dy in pixels).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.config.inputs import FlowConfig  # noqa: F401 (re-exported: the flow's settings)
from dfd_utils.frame_store import load_video_frames, video_stem
from dfd_utils.io import atomic_path, link_or_copy, process_pool, progress, sha256, sha256_files, write_json_atomic
from dfd_utils.kept import CHANGED, UNRECORDED, warn, why_changed
from dfd_utils.lock import held_for_reading
from dfd_utils.paths import require
from dfd_utils.provenance import Redone, code_version, stamp, why_stale

log = logging.getLogger(__name__)


def farneback(prev_rgb: np.ndarray, next_rgb: np.ndarray, cfg: FlowConfig = FlowConfig()) -> np.ndarray:
    """Dense flow from one RGB frame to the next: ``(H, W, 2)`` float32 pixels."""
    prev = cv2.cvtColor(prev_rgb, cv2.COLOR_RGB2GRAY)
    nxt = cv2.cvtColor(next_rgb, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, cfg.pyr_scale, cfg.levels, cfg.winsize,
                                        cfg.iterations, cfg.poly_n, cfg.poly_sigma, 0)


def video_flow(frames: np.ndarray, cfg: FlowConfig = FlowConfig()) -> np.ndarray:
    """Flow of a frame stack ``(T, H, W, 3)`` -> ``(T, 2, H, W)`` float16, first field duplicated."""
    if len(frames) < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {len(frames)}")
    fields = [farneback(a, b, cfg) for a, b in zip(frames[:-1], frames[1:])]  # T-1 x (H, W, 2)
    fields.insert(0, fields[0])  # the paper: duplicate the first so frames and fields pair up
    return np.stack(fields).transpose(0, 3, 1, 2).astype(np.float16)  # (T, 2, H, W)


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """The usual flow picture: hue is direction, brightness is speed. ``(2, H, W)`` -> RGB uint8."""
    dx, dy = np.asarray(flow, np.float32)
    magnitude, angle = cv2.cartToPolar(dx, dy, angleInDegrees=True)
    scale = max_magnitude or max(float(magnitude.max()), 1e-6)
    hsv = np.zeros((*dx.shape, 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue runs 0..180
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_path(root: str | Path, name: str) -> Path:
    return Path(root) / f"{video_stem(name)}.npy"


def stamp_path(root: str | Path, name: str) -> Path:
    return Path(root) / f"{video_stem(name)}.json"


def flow_stamp(frames_root: Path, name: str, cfg: FlowConfig) -> dict:
    """What one video's flow is made from: its 2D frames' bytes, every Farneback setting, this code."""
    files = sorted((frames_root / video_stem(name)).glob("[0-9][0-9].jpg"))
    if not files:
        raise FileNotFoundError(f"{frames_root / video_stem(name)}: no frames (run the frame extraction stage)")
    return stamp({"frames": sha256_files(files)}, asdict(cfg), CODE)


def _saved_stamp(path: Path) -> dict | None:
    """The stamp a flow file was made by, from its record ``{"made_by": stamp, "sha256": the .npy's}``."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record.get("made_by") if isinstance(record, dict) else None


def _why_changed(out: Path) -> str | None:
    """None when the flow file holds the bytes its record says it was written with; else ``"<file>: why"``."""
    try:
        recorded = json.loads(stamp_path(out.parent, out.name).read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    why = why_changed(out, recorded)
    return None if why is None else f"{out}: {why}"


def _same_elsewhere(donors: tuple[Path, ...], flow_root: Path, name: str, made_by: dict) -> Path | None:
    """A donor root's flow of ``name`` made by exactly ``made_by`` (the same frames' bytes, settings, code)."""
    for donor in donors:
        if (donor.resolve() != flow_root.resolve() and flow_path(donor, name).is_file()
                and why_stale(_saved_stamp(stamp_path(donor, name)), made_by) is None
                and _why_changed(flow_path(donor, name)) is None):
            return flow_path(donor, name)
    return None


def _flow_job(args) -> tuple[str, str | None, Path | None]:
    """One video: reuse its flow if the stamp matches, link a donor's made by the same stamp, else compute.
    -> (name, why it was redone or None, the file linked from or None)."""
    name, frames_root, flow_root, cfg, made_by, donors = args
    out, record = flow_path(flow_root, name), stamp_path(flow_root, name)
    why = why_stale(_saved_stamp(record), made_by) if out.is_file() else "not made yet"
    if why is None:
        why = _why_changed(out)  # a hand-edited file, whatever its mtime: warned in the parent
    if why is None:
        return name, None, None
    record.unlink(missing_ok=True)  # never a stamp beside flow it did not make
    same = _same_elsewhere(donors, flow_root, name, made_by)
    with atomic_path(out, suffix=".npy") as tmp:
        try:
            if same is not None:
                link_or_copy(same, tmp)
        except OSError:  # the donor's file went away under the link: computed here instead
            same = None
        if same is None:
            cv2.setNumThreads(1)
            np.save(tmp, video_flow(load_video_frames(frames_root, name), cfg))
    write_json_atomic(record, {"made_by": made_by, "sha256": sha256(out)})
    return name, why, same


def compute_all(names: list[str], frames_root: str | Path, flow_root: str | Path, cfg: FlowConfig,
                workers: int | None = None, donors: tuple[Path, ...] = ()) -> None:
    """Flow for every video, in parallel; a video's flow is reused only when its stamp matches.

    Each ``<video>.npy`` has a ``<video>.json`` record: its stamp (the SHA-256 of the frames it was
    computed from, the Farneback settings and the code) and the SHA-256 of the ``.npy`` itself,
    hashed again before reuse (``dfd_utils.kept``: a hand-edited file is named and computed again).
    Flow of videos no longer listed is removed (only files this stage writes: ``.npy`` with their stamp).
    ``donors``: other flow roots; a video's flow one of them made by the same stamp is linked.
    """
    frames_root, flow_root = Path(frames_root), Path(flow_root)
    flow_root.mkdir(parents=True, exist_ok=True)
    (flow_root / "flow_config.json").unlink(missing_ok=True)  # the folder-wide stamp of older versions
    keep = {video_stem(n) for n in names}
    stale = [p for p in flow_root.glob("*.npy") if p.stem not in keep and p.with_suffix(".json").is_file()]
    for p in stale:  # only flow this stage wrote (it has a stamp beside it)
        p.unlink()
        p.with_suffix(".json").unlink()
    for p in flow_root.glob(".*.tmp.npy"):  # left by a killed run
        p.unlink()
    if stale:
        log.warning("%s: removed the flow of %d videos no longer listed", flow_root, len(stale))
    redone = Redone("flow")
    with contextlib.ExitStack() as held, process_pool(workers) as pool:
        donors = held_for_reading(held, donors)  # a donor being written is left out
        jobs = [(n, frames_root, flow_root, cfg, flow_stamp(frames_root, n, cfg), donors) for n in names]  # stamped
        for name, why, source in progress(pool.map(_flow_job, jobs), total=len(jobs), desc="flow"):
            if why is not None and why.endswith((CHANGED, UNRECORDED)):
                warn(why.rsplit(": ", 1)[0], why.rsplit(": ", 1)[1], "its flow computed again")
            if source is not None:
                redone.link(name, source, why)
            else:
                redone.note(name, why)
    redone.log()


def load_flow(root: str | Path, name: str) -> np.ndarray:
    return np.load(require(flow_path(root, name), "flow"))  # (T, 2, H, W) float16


CODE = code_version(__name__, libraries=("opencv", "numpy"))  # hashed at import (see frames.CODE)
