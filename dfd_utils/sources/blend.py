"""Making fakes from real faces: overlays and self-blended images, frame by frame.

Both fake types paste a face patch into a target frame through an elliptical mask
inside the tracked face box; they differ only in where the patch comes from:

* **overlay**: another clip's face (another person, or the same person at another
  moment when a split holds one person), resampled onto the target's face box: the
  paper's "overlay" deepfakes;
* **self-blended** (Shiohara and Yamasaki, CVPR 2022): the target's own face after a
  small colour and geometry change. No second identity is needed, and what is left
  to detect is exactly the blending boundary and the statistics mismatch that every
  face swap leaves.

The artifacts (feathering, colour matching, resolution, jitter, flicker, unaltered
frames) are those of :mod:`dfd_utils.sources.artifacts`, the same code and knobs as
the synthetic source's, so the two sets are dialled alike. A self-blended patch's
colour shift goes through the same colour matching as an overlay's donor face:
``color_mismatch`` 0 removes it, 1 keeps it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfd_utils.face_tracking import Box, crop
from dfd_utils.sources.artifacts import Artifacts, draw_schedule, overlay, paste

PATCH_MARGIN = 0.25  # face sizes around the face box that the patch covers (the mask fades inside it)
SELF_BLEND_SHIFT = 25.0  # RGB levels: the largest colour shift of a self-blended patch (before colour matching)


@dataclass(frozen=True)
class SelfBlend:
    """One clip's self-blending transform, drawn once per clip."""

    color_shift: np.ndarray  # (3,) RGB offset
    contrast: float
    scale: float
    shift: tuple[float, float]  # in face sizes

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SelfBlend:
        return cls(color_shift=rng.uniform(-SELF_BLEND_SHIFT, SELF_BLEND_SHIFT, 3),
                   contrast=float(rng.uniform(0.9, 1.1)), scale=float(rng.uniform(0.94, 1.06)),
                   shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03))))

    def patch(self, target: np.ndarray, face: Box, region: tuple[int, int, int, int]) -> np.ndarray:
        """The target's own face, slightly moved, scaled and recoloured: ``region``'s ``(h, w, 3)`` float32."""
        cx, cy = face.center
        s = self.scale
        dx, dy = self.shift[0] * face.w, self.shift[1] * face.h
        warp = np.float32([[s, 0, (1 - s) * cx + dx], [0, s, (1 - s) * cy + dy]])
        moved = cv2.warpAffine(target, warp, (target.shape[1], target.shape[0]), borderMode=cv2.BORDER_REFLECT)
        patch = crop(moved, region).astype(np.float32)
        return (patch - patch.mean((0, 1))) * self.contrast + patch.mean((0, 1)) + self.color_shift


def patch_region(face: Box) -> tuple[int, int, int, int]:
    """The square-ish region around a face box that a patch replaces: ``(x0, y0, x1, y1)``."""
    x0 = int(round(face.x - PATCH_MARGIN * face.w))
    y0 = int(round(face.y - PATCH_MARGIN * face.h))
    return x0, y0, x0 + int(round(face.w * (1 + 2 * PATCH_MARGIN))), y0 + int(round(face.h * (1 + 2 * PATCH_MARGIN)))


def face_mask(height: int, width: int) -> np.ndarray:
    """A hard ellipse over the inner face of a patch region: ``(height, width)`` float32, 1 inside.

    The ellipse spans brows to chin and cheek to cheek of the face box (the region
    is the box plus ``PATCH_MARGIN`` on each side); ``seam`` decides how much its
    edge is feathered (:func:`dfd_utils.sources.artifacts.feather`).
    """
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    cy, cx = height * 0.54, width * 0.5
    ry, rx = height * 0.5 / (1 + 2 * PATCH_MARGIN) * 1.05, width * 0.5 / (1 + 2 * PATCH_MARGIN) * 0.85
    return (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0).astype(np.float32)


def blend_frame(target: np.ndarray, target_face: Box, source: np.ndarray, source_face: Box, artifacts: Artifacts,
                offset: np.ndarray, weight: float, self_blend: SelfBlend | None = None) -> np.ndarray:
    """One fake frame: ``source``'s face (or, with ``self_blend``, the target's own) into ``target``.

    Frames are RGB uint8 ``(H, W, 3)``; ``offset`` and ``weight`` are this frame's
    draws of :func:`~dfd_utils.sources.artifacts.draw_schedule`. Returns a new uint8 frame.
    """
    region = patch_region(target_face)
    height, width = region[3] - region[1], region[2] - region[0]
    if self_blend is not None:
        patch = self_blend.patch(target, target_face, region)
    else:  # another clip's face, resampled onto this face's region
        patch = cv2.resize(crop(source, patch_region(source_face)), (width, height),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
    here = crop(target, region).astype(np.float32)  # (h, w, 3)
    patch, alpha = overlay(artifacts, here, patch, face_mask(height, width), target_face.w, offset, weight)
    out = target.astype(np.float32)
    paste(out, patch, alpha, region[0], region[1])
    return np.clip(out, 0, 255).astype(np.uint8)


def make_fake(target: np.ndarray, target_faces: list[Box], artifacts: Artifacts, seed: int,
              source: np.ndarray | None = None, source_faces: list[Box] | None = None) -> np.ndarray:
    """A whole fake clip ``(T, H, W, 3)`` uint8, same shape as ``target``.

    With ``source`` (and its tracked faces): an overlay; without: a self-blended fake.
    ``unaltered_share`` of the frames are left as they are, as DFDC's fakes often did.
    """
    rng = np.random.default_rng(seed)
    self_blend = SelfBlend.draw(rng) if source is None else None
    schedule = draw_schedule(artifacts, len(target), rng)
    out = target.copy()
    for t in np.flatnonzero(schedule.altered):
        src, src_face = (target[t], target_faces[t]) if source is None else (source[t], source_faces[t])
        out[t] = blend_frame(target[t], target_faces[t], src, src_face, artifacts, schedule.offsets[t],
                             schedule.weights[t], self_blend)
    return out
