"""Synthetic DFDC parts: ``dfdc_train_part_N/`` folders of full-HD clips with DFDC's ``metadata.json``.

Why: the paper check, the sharded-extraction tests and the GPU benchmark need data in
DFDC's own layout and at its own size (horizontal 1080x1920) so that the ``dfdc``
source reads it exactly as it reads a real download. The real data (470 GB, behind
Kaggle's rules) cannot be in a test. The pictures are cheap on purpose (a moving
texture; a fake is its original with a tinted, blurred patch): what is proven is
the layout, the shapes and the memory, not that a detector learns.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.io import atomic_path
from dfd_utils.video import write_video

HEIGHT, WIDTH = 1080, 1920  # DFDC's horizontal clips


def part_folder(root: str | Path, part: int) -> Path:
    """DFDC's name for part ``part``: ``root/dfdc_train_part_<part>``."""
    return Path(root) / f"dfdc_train_part_{part}"


def texture_clip(seed: int, frames: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth random texture drifting right: ``(frames, height, width, 3)`` uint8; seeded, so fakes can copy it."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(height // 40, 2), max(width // 40, 2), 3), dtype=np.uint8)
    base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)  # (H, W, 3)
    step = max(width // 200, 1)  # a few pixels per frame: flow has something to find
    return np.stack([np.roll(base, t * step, axis=1) for t in range(frames)])  # (T, H, W, 3)


def fake_of(clip: np.ndarray, seed: int) -> np.ndarray:
    """``clip`` with a tinted, blurred square where a face swap would be: ``(T, H, W, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    t, h, w, _ = clip.shape
    size = h // 3
    y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
    tint = rng.integers(-40, 41, 3)
    out = clip.copy()
    patch = out[:, y:y + size, x:x + size].astype(np.int16) + tint  # (T, size, size, 3)
    out[:, y:y + size, x:x + size] = np.clip(patch, 0, 255).astype(np.uint8)
    for i in range(t):
        out[i, y:y + size, x:x + size] = cv2.GaussianBlur(out[i, y:y + size, x:x + size], (9, 9), 0)
    return out


def write_part(root: str | Path, part: int, families: int = 2, fakes: int = 1, frames: int = 20,
               fps: float = 30.0, height: int = HEIGHT, width: int = WIDTH) -> dict:
    """Write part ``part`` under ``root``: ``families`` originals with ``fakes`` fakes each, and its metadata.json.

    Names carry the part (``p3_real0.mp4``, ``p3_fake0_0.mp4``) so parts never clash,
    as DFDC's random names do not. Returns the metadata written.
    """
    folder = part_folder(root, part)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {}
    for i in range(families):
        seed = part * 1000 + i
        real = texture_clip(seed, frames, height, width)
        real_name = f"p{part}_real{i}.mp4"
        write_video(folder / real_name, real, fps)
        metadata[real_name] = {"label": "REAL", "split": "train", "original": None}
        for j in range(fakes):
            fake_name = f"p{part}_fake{i}_{j}.mp4"
            write_video(folder / fake_name, fake_of(real, seed * 10 + j), fps)
            metadata[fake_name] = {"label": "FAKE", "split": "train", "original": real_name}
    with atomic_path(folder / "metadata.json") as tmp:
        tmp.write_text(json.dumps(metadata, indent=1))
    return metadata


def write_parts(root: str | Path, parts: list[int], **kwargs) -> dict[int, dict]:
    """:func:`write_part` for each of ``parts``: ``{part: metadata}``."""
    return {p: write_part(root, p, **kwargs) for p in parts}
