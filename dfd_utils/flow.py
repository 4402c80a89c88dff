"""Stage 03: Farneback optical flow between consecutive sampled frames.

16 frames give 15 flow fields; the paper duplicates the first to pair every frame
with a field, so each video stores ``(16, 2, H, W)`` float16 (dx, dy in pixels).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.frames import load_video_frames, video_stem
from dfd_utils.io import process_pool, progress, read_json, write_json_atomic


@dataclass(frozen=True)
class FlowConfig:
    """``cv2.calcOpticalFlowFarneback`` arguments (OpenCV's documented defaults for video)."""

    pyr_scale: float = 0.5  # image scale between pyramid levels
    levels: int = 3  # pyramid levels
    winsize: int = 15  # averaging window: larger is smoother and more robust to noise
    iterations: int = 3  # iterations per level
    poly_n: int = 5  # pixel neighbourhood for the polynomial expansion
    poly_sigma: float = 1.2  # Gaussian sigma for poly_n = 5


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


def _flow_job(args) -> str:
    name, frames_root, flow_root, cfg = args
    out = flow_path(flow_root, name)
    if out.is_file():  # resumable
        return name
    cv2.setNumThreads(1)
    flow = video_flow(load_video_frames(frames_root, name), cfg)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, flow)
    tmp.replace(out)
    return name


def compute_all(names: list[str], frames_root: str | Path, flow_root: str | Path, cfg: FlowConfig,
                workers: int | None = None) -> None:
    """Flow for every video, in parallel, skipping videos already done with this config."""
    flow_root = Path(flow_root)
    stamp = flow_root / "flow_config.json"
    if stamp.is_file() and read_json(stamp) != asdict(cfg):
        for f in flow_root.glob("*.npy"):  # computed with other parameters: stale
            f.unlink()
    flow_root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stamp, asdict(cfg))
    jobs = [(n, Path(frames_root), flow_root, cfg) for n in names]
    with process_pool(workers) as pool:
        for _ in progress(pool.map(_flow_job, jobs), total=len(jobs), desc="flow"):
            pass


def load_flow(root: str | Path, name: str) -> np.ndarray:
    path = flow_path(root, name)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no flow for {name} (run the optical flow stage)")
    return np.load(path)  # (T, 2, H, W) float16
