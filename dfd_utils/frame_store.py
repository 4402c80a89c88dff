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

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.checks import check_range
from dfd_utils.video import NUM_FRAMES


@dataclass(frozen=True)
class FrameConfig:
    num_frames: int = NUM_FRAMES  # frames sampled per video (the paper: 16)
    height: int = 108  # 1080 / 10, the paper's 2D input
    width: int = 192  # 1920 / 10
    size_3d: int = 224  # the 3D CNN's square input (the paper: 224)
    jpeg_quality: int = 95
    crop: str = "full"  # full: the whole frame | face: the tracked face with a margin (full frame if none)
    crop_margin: float = 0.3  # face sizes added above and below the face (the width follows the aspect)

    def __post_init__(self):
        if self.crop not in ("full", "face"):
            raise ValueError(f"crop must be 'full' or 'face', got {self.crop!r}")
        check_range("num_frames", self.num_frames, 2, 512, kind=int)  # flow needs two
        for name in ("height", "width", "size_3d"):
            check_range(name, getattr(self, name), 16, 4096, kind=int)  # a stride-32 trunk needs a few pixels
        check_range("jpeg_quality", self.jpeg_quality, 1, 100, kind=int)
        check_range("crop_margin", self.crop_margin, 0, 5)


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
