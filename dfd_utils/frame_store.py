"""The frame store: where stage 02 puts each video's frames, and how every later stage reads them.

Readers (flow, datasets, the notebooks) import this module only, so reading frames
does not pull in face tracking, video decoding or the sources. The writer is
``dfd_utils.frames`` (stage 02)::

    frames/<video stem>/00.jpg .. 15.jpg      # height x width, the 2D models' input
    frames/<video stem>/3d/00.jpg .. 15.jpg   # size_3d x size_3d, the 3D CNN's input
    frames/<video stem>/info.json             # source indices, decoded count, face track, stamp
    frames/labels.json                        # "<stem>/00.jpg" -> 0/1, as the paper
    frames/manifest.csv                       # video, label, original, position, frame_index, split
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dfd_utils.config.inputs import NUM_FRAMES, FrameConfig  # noqa: F401 (re-exported: the frames' settings)


def frame_name(position: int) -> str:
    return f"{position:02d}.jpg"


def video_stem(name: str) -> str:
    return Path(name).stem


def imread_rgb(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: cannot read image (missing or corrupt)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_video_frames(root: str | Path, name: str, three_d: bool = False) -> np.ndarray:
    """All sampled frames of one video, RGB uint8 ``(T, H, W, 3)``."""
    folder = Path(root) / video_stem(name) / ("3d" if three_d else "")
    files = sorted(folder.glob("[0-9][0-9].jpg"))
    if not files:
        raise FileNotFoundError(f"{folder}: no frames (run the frame extraction stage)")
    return np.stack([imread_rgb(f) for f in files])
