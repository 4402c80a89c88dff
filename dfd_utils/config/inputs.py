"""The frames and flow sections of ``params.yaml``: what stage 02 extracts and what stage 03 computes.

Settings only (the standard library and the range checks): the extraction and flow
code (:mod:`dfd_utils.frames`, :mod:`dfd_utils.flow`) imports them, never the reverse,
so reading the configuration never loads OpenCV and an edit to the flow code reruns
only the stages that compute or read flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from dfd_utils.config.checks import check_range

NUM_FRAMES = 16  # the paper samples 16 frames per video


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


@dataclass(frozen=True)
class FlowConfig:
    """``cv2.calcOpticalFlowFarneback`` arguments (OpenCV's documented defaults for video)."""

    pyr_scale: float = 0.5  # image scale between pyramid levels
    levels: int = 3  # pyramid levels
    winsize: int = 15  # averaging window: larger is smoother and more robust to noise
    iterations: int = 3  # iterations per level
    poly_n: int = 5  # pixel neighbourhood for the polynomial expansion
    poly_sigma: float = 1.2  # Gaussian sigma for poly_n = 5

    def __post_init__(self):
        check_range("pyr_scale", self.pyr_scale, 0, 1, low_open=True, high_open=True)
        for name in ("levels", "winsize", "iterations"):
            check_range(name, getattr(self, name), 1, kind=int)
        if self.poly_n not in (5, 7):
            raise ValueError(f"poly_n must be 5 or 7 (OpenCV's choices), got {self.poly_n!r}")
        check_range("poly_sigma", self.poly_sigma, 0, low_open=True)
