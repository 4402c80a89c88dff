"""Making fakes from real faces: overlays and self-blended images, frame by frame.

Both fake types paste a face patch into a target frame through a soft elliptical
mask inside the tracked face box; they differ only in where the patch comes from:

* **overlay**: another clip's face (another person, or the same person at another
  moment when a split holds one person), resampled onto the target's face box and
  colour-matched to it: the paper's "overlay" deepfakes;
* **self-blended** (Shiohara and Yamasaki, CVPR 2022): the target's own face after a
  small colour and geometry change. No second identity is needed, and what is left
  to detect is exactly the blending boundary and the statistics mismatch that every
  face swap leaves.

The artifact knobs mean what they mean in the synthetic source, so the two sets
can be dialled alike: ``seam`` (feathering of the mask edge), ``color_mismatch``
(colour left unmatched), ``resolution_mismatch`` (patch down- and upsampled),
``jitter`` (per-frame misalignment, a temporal artifact), ``flicker`` (per-frame
drop of the blend weight) and ``unaltered_share`` (frames left untouched).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfd_utils.face_tracking import Box, crop

PATCH_MARGIN = 0.25  # face sizes around the face box that the patch covers (the mask fades inside it)


@dataclass(frozen=True)
class Artifacts:
    seam: float = 0.5  # 0: invisible feathered edge .. 1: hard edge
    color_mismatch: float = 0.5  # 0: patch colour matched to the target .. 1: left as it is
    resolution_mismatch: float = 0.5  # 0: none .. 1: patch at 1/4 resolution
    jitter: float = 0.5  # per-frame misalignment, in units of 5 % of the face size
    flicker: float = 0.5  # per-frame drop of the blend weight, up to this share
    unaltered_share: float = 0.1  # share of a fake's frames left unaltered


@dataclass(frozen=True)
class SelfBlend:
    """One clip's self-blending transform, drawn once per clip (then jittered per frame)."""

    color_shift: np.ndarray  # (3,) RGB offset
    contrast: float
    scale: float
    shift: tuple[float, float]  # in face sizes

    @classmethod
    def draw(cls, rng: np.random.Generator, artifacts: Artifacts) -> SelfBlend:
        strength = max(artifacts.color_mismatch, 0.2)
        return cls(color_shift=rng.uniform(-25, 25, 3) * strength, contrast=float(rng.uniform(0.9, 1.1)),
                   scale=float(rng.uniform(0.94, 1.06)), shift=(float(rng.uniform(-0.03, 0.03)),
                                                                float(rng.uniform(-0.03, 0.03))))


def patch_region(face: Box) -> tuple[int, int, int, int]:
    """The square-ish region around a face box that a patch replaces: ``(x0, y0, x1, y1)``."""
    x0 = int(round(face.x - PATCH_MARGIN * face.w))
    y0 = int(round(face.y - PATCH_MARGIN * face.h))
    return x0, y0, x0 + int(round(face.w * (1 + 2 * PATCH_MARGIN))), y0 + int(round(face.h * (1 + 2 * PATCH_MARGIN)))


def face_mask(height: int, width: int, seam: float) -> np.ndarray:
    """A soft ellipse over the inner face of a patch region: ``(height, width)`` float32 in 0..1.

    The ellipse spans brows to chin and cheek to cheek of the face box (the region
    is the box plus ``PATCH_MARGIN`` on each side); ``seam`` 1 leaves its edge hard.
    """
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    cy, cx = height * 0.54, width * 0.5
    ry, rx = height * 0.5 / (1 + 2 * PATCH_MARGIN) * 1.05, width * 0.5 / (1 + 2 * PATCH_MARGIN) * 0.85
    mask = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0).astype(np.float32)
    blur = (1 - seam) * 0.08 * width
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur >= 0.5 else mask


def match_colour(patch: np.ndarray, target: np.ndarray, mask: np.ndarray, strength: float) -> np.ndarray:
    """Move the patch's per-channel mean and spread inside ``mask`` toward the target's."""
    weights = mask[..., None] / max(float(mask.sum()), 1.0)
    mean_p, mean_t = (patch * weights).sum((0, 1)), (target * weights).sum((0, 1))
    std_p = np.sqrt((((patch - mean_p) ** 2) * weights).sum((0, 1))) + 1e-3
    std_t = np.sqrt((((target - mean_t) ** 2) * weights).sum((0, 1))) + 1e-3
    gain = 1 + strength * (std_t / std_p - 1)
    return (patch - mean_p) * gain + mean_p + strength * (mean_t - mean_p)


def degrade(patch: np.ndarray, resolution_mismatch: float) -> np.ndarray:
    """Down- and upsample (a generator's output is smaller than the face it replaces)."""
    if resolution_mismatch <= 0:
        return patch
    h, w = patch.shape[:2]
    factor = 1 + 3 * resolution_mismatch
    small = cv2.resize(patch, (max(int(w / factor), 4), max(int(h / factor), 4)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _paste(frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, region: tuple[int, int, int, int]) -> None:
    """Alpha-blend ``patch`` into ``frame`` (float32, in place) at ``region``, clipped to the frame."""
    x0, y0, x1, y1 = region
    h, w = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    p = patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    frame[fy0:fy1, fx0:fx1] = frame[fy0:fy1, fx0:fx1] * (1 - a) + p * a


def blend_frame(target: np.ndarray, target_face: Box, source: np.ndarray, source_face: Box,
                artifacts: Artifacts, rng: np.random.Generator, self_blend: SelfBlend | None = None) -> np.ndarray:
    """One fake frame: ``source``'s face (or, with ``self_blend``, the target's own) into ``target``.

    Frames are RGB uint8 ``(H, W, 3)``; returns a new uint8 frame.
    """
    region = patch_region(target_face)
    height, width = region[3] - region[1], region[2] - region[0]
    if self_blend is not None:  # the target's own face, slightly moved, scaled and recoloured
        cx, cy = target_face.center
        s = self_blend.scale
        dx, dy = self_blend.shift[0] * target_face.w, self_blend.shift[1] * target_face.h
        warp = np.float32([[s, 0, (1 - s) * cx + dx], [0, s, (1 - s) * cy + dy]])
        moved = cv2.warpAffine(target, warp, (target.shape[1], target.shape[0]), borderMode=cv2.BORDER_REFLECT)
        patch = crop(moved, region).astype(np.float32)
        patch = (patch - patch.mean((0, 1))) * self_blend.contrast + patch.mean((0, 1)) + self_blend.color_shift
    else:  # another clip's face, resampled onto this face's region
        patch = cv2.resize(crop(source, patch_region(source_face)), (width, height),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = face_mask(height, width, artifacts.seam)
    here = crop(target, region).astype(np.float32)
    if self_blend is None:
        patch = match_colour(patch, here, mask, 1 - artifacts.color_mismatch)
    patch = degrade(patch, artifacts.resolution_mismatch)
    offset = artifacts.jitter * 0.05 * target_face.w * rng.normal(0, 1, 2)  # temporal artifact
    warp = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    patch = cv2.warpAffine(patch, warp, (width, height), borderMode=cv2.BORDER_REFLECT)
    alpha = mask * (1 - artifacts.flicker * rng.random())  # temporal artifact
    out = target.astype(np.float32)
    _paste(out, patch, alpha, region)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_fake(target: np.ndarray, target_faces: list[Box], artifacts: Artifacts, seed: int,
              source: np.ndarray | None = None, source_faces: list[Box] | None = None) -> np.ndarray:
    """A whole fake clip ``(T, H, W, 3)`` uint8, same shape as ``target``.

    With ``source`` (and its tracked faces): an overlay; without: a self-blended fake.
    ``unaltered_share`` of the frames are left as they are, as DFDC's fakes often did.
    """
    rng = np.random.default_rng(seed)
    self_blend = SelfBlend.draw(rng, artifacts) if source is None else None
    out = target.copy()
    for t in range(len(target)):
        if rng.random() < artifacts.unaltered_share:
            continue
        src, src_face = (target[t], target_faces[t]) if source is None else (source[t], source_faces[t])
        out[t] = blend_frame(target[t], target_faces[t], src, src_face, artifacts, rng, self_blend)
    return out
