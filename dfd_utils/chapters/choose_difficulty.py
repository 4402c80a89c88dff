"""How strong the demo's artifacts are, measured in the data before any detector exists (notebook 00).

The synthetic generator's artifact knobs come in two kinds (:mod:`dfd_utils.sources.artifacts`):
spatial ones, visible in one frame (``seam``, ``color_mismatch``, ``resolution_mismatch``),
and temporal ones, visible only across frames (``jitter``, ``flicker``). Each kind is
measured on its own, on fakes rendered at the study's clip size and seen as the models
see them (the study's sampled frames, at its frame size, its Farneback settings):

* **spatial change**: the mean absolute pixel difference (0..255, mean over RGB) inside
  the face between a fake with the spatial knobs at a strength and the same fake with
  every knob at 0 (the identity swap alone);
* **temporal change**: the mean length (pixels) of the difference between the Farneback
  flow of a fake with the temporal knobs at a strength and that of the same fake with
  every knob at 0, inside the face.

Each is read against what changes *naturally* inside the original's face between two
sampled frames: its mean absolute pixel change, and its mean flow length (the subject's
own motion). No detector is trained and no training setting is read, so nothing a
compared model does, and no ``train.*`` value, can move the data the models are compared
on. The rule that turns the measurements into two strengths is :mod:`dfd_utils.chapters.difficulty`.

Clips are measured as rendered (before the mp4 encoder), so the magnitudes are the
generator's, not the codec's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import pandas as pd

from dfd_utils.chapters.difficulty import SPATIAL_KNOBS, TEMPORAL_KNOBS
from dfd_utils.config import StudyConfig
from dfd_utils.flow import FlowConfig, farneback
from dfd_utils.io import process_pool
from dfd_utils.sources.synthetic import FACE_WIDTH, SyntheticConfig, VideoPlan, plan_dataset, render_plan
from dfd_utils.video import resize, sample_indices

ALL_KNOBS = SPATIAL_KNOBS + TEMPORAL_KNOBS


@dataclass(frozen=True)
class View:
    """How the models see a clip: ``num_frames`` sampled frames at ``height`` x ``width``, and the flow settings."""

    num_frames: int
    height: int
    width: int
    flow: FlowConfig


def measured_config(study: StudyConfig) -> SyntheticConfig:
    """The study's synthetic settings with every artifact knob at 0, planned so that it holds enough fakes."""
    n = study.difficulty.num_videos
    share = study.data.fake_share
    knobs = {**study.data.synthetic, **{k: 0.0 for k in ALL_KNOBS}}
    return SyntheticConfig(**knobs, num_videos=max(math.ceil(n / share) + 1, n + 1), fake_share=share,
                           seed=study.seed)


def model_view(frames: np.ndarray, motion, cfg: SyntheticConfig, view: View) -> tuple[np.ndarray, np.ndarray]:
    """The sampled frames of a clip ``(T, H, W, 3)`` (:func:`sampled`) as the models see them -> frames
    ``(T, h, w, 3)`` and face masks ``(T, h, w)``: the disk of the rendered face's width around the subject's centre.
    """
    indices = sampled(cfg, view)
    small = np.stack([resize(frame, view.height, view.width) for frame in frames])  # (T, h, w, 3)
    box = int(0.6 * cfg.height) // 2 * 2  # the rendered head's box (render_video)
    radius = 0.5 * FACE_WIDTH * box * view.height / cfg.height
    yy, xx = np.mgrid[: view.height, : view.width]
    masks = []
    for i in indices:
        s = motion.state(i / cfg.fps)
        masks.append((xx - s["cx"] * view.width) ** 2 + (yy - s["cy"] * view.height) ** 2 <= radius**2)
    return small, np.stack(masks)  # (T, h, w, 3) uint8, (T, h, w) bool


def sampled(cfg: SyntheticConfig, view: View) -> list[int]:
    """The frames stage 02 samples from a clip of ``cfg``: only those are rendered."""
    return sample_indices(cfg.num_frames, view.num_frames)


def flow_fields(frames: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """The T-1 Farneback fields between consecutive frames: ``(T-1, h, w, 2)`` float32 pixels."""
    return np.stack([farneback(a, b, cfg) for a, b in zip(frames[:-1], frames[1:])])


def measure_clip(cfg: SyntheticConfig, plan: VideoPlan, strengths: tuple[float, ...], view: View) -> list[dict]:
    """One fake: the natural change of its original and each strength's spatial and temporal change."""
    cv2.setNumThreads(1)

    def render(fake: bool = True, **knobs) -> tuple[np.ndarray, np.ndarray]:
        frames, motion = render_plan(replace(cfg, **knobs), plan, fake=fake, only=sampled(cfg, view))
        return model_view(frames, motion, cfg, view)

    original, masks = render(fake=False)  # (T, h, w, 3) uint8, (T, h, w) bool
    clean, _ = render(**{k: 0.0 for k in ALL_KNOBS})  # the identity swap alone
    pairs = masks[:-1]  # a field (or a frame difference) belongs to its first frame's face
    natural_pixels = _masked_mean(np.abs(np.diff(original.astype(np.float32), axis=0)).mean(-1), pairs)
    natural_flow = flow_fields(original, view.flow)  # (T-1, h, w, 2)
    natural_motion = _masked_mean(np.linalg.norm(natural_flow, axis=-1), pairs)
    clean_flow = flow_fields(clean, view.flow)
    rows = []
    for s in strengths:
        spatial, _ = render(**{k: s for k in SPATIAL_KNOBS}, **{k: 0.0 for k in TEMPORAL_KNOBS})
        temporal, _ = render(**{k: 0.0 for k in SPATIAL_KNOBS}, **{k: s for k in TEMPORAL_KNOBS})
        pixel_change = _masked_mean(np.abs(spatial.astype(np.float32) - clean).mean(-1), masks)
        flow_change = _masked_mean(np.linalg.norm(flow_fields(temporal, view.flow) - clean_flow, axis=-1), pairs)
        rows.append({"video": plan.name, "strength": s, "natural_pixel_change": natural_pixels,
                     "natural_motion_px": natural_motion, "spatial_change": pixel_change,
                     "temporal_change_px": flow_change})
    return rows


def _masked_mean(values: np.ndarray, masks: np.ndarray) -> float:
    return float(values[masks].mean())


def _measure_job(args) -> list[dict]:
    return measure_clip(*args)


def sweep(study: StudyConfig, workers: int | None = None) -> pd.DataFrame:
    """One row per measured fake and strength: its natural change and the artifacts' change (see the module doc)."""
    cfg = measured_config(study)
    fakes = [p for p in plan_dataset(cfg) if p.label == "FAKE"][: study.difficulty.num_videos]
    view = View(study.frames.num_frames, study.frames.height, study.frames.width, study.flow)
    jobs = [(cfg, plan, study.difficulty.strengths, view) for plan in fakes]
    workers = workers or None
    if workers == 1:
        results = [_measure_job(job) for job in jobs]
    else:
        with process_pool(workers) as pool:
            results = list(pool.map(_measure_job, jobs))
    return pd.DataFrame([row for rows in results for row in rows])


__all__ = ["View", "flow_fields", "measure_clip", "measured_config", "model_view", "sweep"]
