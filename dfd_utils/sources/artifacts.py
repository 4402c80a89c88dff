"""The artifacts of a fake: one model, used by both generators (``synthetic`` and ``faces``).

A fake pastes a face patch into a target face through a mask. What a detector can
find is what that paste leaves behind, and each trace is a knob in 0..1 (0: none):

* spatial, visible in one frame: ``seam`` (the mask edge left hard instead of
  feathered), ``color_mismatch`` (the patch's colour left unmatched to the target),
  ``resolution_mismatch`` (the patch down- and upsampled, as a generator's small
  output is when pasted onto a larger face);
* temporal, visible only across frames: ``jitter`` (the patch misaligned anew each
  frame, as per-frame landmarks shake) and ``flicker`` (the blend weight dropped by
  a random share each frame);
* ``unaltered_share``: frames of a fake left as they are, as the paper saw in DFDC.

Distances are in face widths, so a knob means the same on a 1080p synthetic scene
and on a 216-pixel webcam clip. The constants, each with why:

* ``FEATHER = 0.12``: the Gaussian sigma of the mask edge at ``seam`` 0, in face
  widths. The edge then fades over about +-2 sigma, half a face width: no edge is
  visible, and the inner-face ellipse (half-width about 0.4 face widths, 3.3 sigma)
  still reaches full weight over its middle. The faces source used 0.08 patch widths
  (0.12 face widths); the synthetic one 0.12 patch sizes (0.17 face widths, a fade
  over most of the inner face). This is the former.
* ``JITTER_STEP = 0.05``: the per-frame offset's standard deviation at ``jitter`` 1,
  in face widths: 5 pixels on a 100-pixel face, the frame-to-frame error of the
  landmark detectors face swaps align with. Both sources said "5 % of the face
  size"; the synthetic one measured it on its patch (1.4 face widths: 0.07 face widths).
* ``MAX_DOWNSCALE = 4``: at ``resolution_mismatch`` 1 the patch keeps 1/4 of its
  resolution: the face-swap autoencoders of DFDC's time output 64 to 256 pixels,
  a quarter or less of a close-up face at 1080p. Both sources used it.
* ``MIN_SIDE = 4``: pixels a degraded patch keeps at least, so a tiny face is never
  resized to nothing. Both sources used it.
* ``MIN_SIGMA = 0.5``: pixels; a narrower Gaussian changes no pixel visibly, so the
  mask is left as it is (a hard seam). Both sources used it.

Colour has one transfer for every fake (:func:`match_colour`): the patch's mean and
spread inside the mask move toward the target's by ``1 - color_mismatch``. It
measures the colours instead of knowing them, so it serves rendered faces (the
synthetic source shifted by the two identities' known skin colours), real donors
and self-blended patches alike (whose drawn colour shift it removes at 0).

Per-frame draws (which frames are altered, each frame's offset and blend weight)
are made once per fake, up front (:func:`draw_schedule`), from the fake's own
seeded generator: the same seed gives the same fake, whichever frames are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfd_utils.config.data import ARTIFACT_KNOBS, Artifacts  # noqa: F401 (the knobs, re-exported beside their model)

FEATHER = 0.12  # face widths: the mask edge's Gaussian sigma at seam 0
JITTER_STEP = 0.05  # face widths: the per-frame offset's standard deviation at jitter 1
MAX_DOWNSCALE = 4  # at resolution_mismatch 1, the patch keeps 1/4 of its resolution
MIN_SIDE = 4  # pixels: the smallest side a degraded patch is resized to
MIN_SIGMA = 0.5  # pixels: a narrower blur changes nothing visible and is skipped


@dataclass(frozen=True)
class Schedule:
    """One fake's per-frame draws (see :func:`draw_schedule`)."""

    altered: np.ndarray  # (T,) bool: frames the patch is pasted into
    offsets: np.ndarray  # (T, 2) float: the patch's (dx, dy), in face widths (jitter)
    weights: np.ndarray  # (T,) float in (1 - flicker, 1]: the blend weight's scale (flicker)


def draw_schedule(knobs: Artifacts, num_frames: int, rng: np.random.Generator) -> Schedule:
    """The per-frame draws of one fake: which frames are altered, their offsets and blend weights."""
    altered = rng.random(num_frames) >= knobs.unaltered_share  # share 0: every frame; 1: none
    offsets = knobs.jitter * JITTER_STEP * rng.normal(0, 1, (num_frames, 2))
    weights = 1 - knobs.flicker * rng.random(num_frames)
    return Schedule(altered, offsets, weights)


def overlay(knobs: Artifacts, target: np.ndarray, patch: np.ndarray, mask: np.ndarray, face_width: float,
            offset: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """One frame's patch with every artifact, and its blend weight, for :func:`paste`.

    ``target``: the frame's pixels under the patch and ``patch``: the new face,
    both ``(h, w, 3)`` float32; ``mask``: ``(h, w)`` in 0..1, hard-edged, where the
    patch goes; ``face_width``: in pixels; ``offset``: ``(2,)`` in face widths and
    ``weight``: this frame's entries of :func:`draw_schedule`. Returns ``(patch, alpha)``,
    ``(h, w, 3)`` float32 and ``(h, w)`` float32.
    """
    mask = feather(mask, knobs.seam, face_width)
    patch = match_colour(patch, target, mask, 1 - knobs.color_mismatch)
    patch = degrade(patch, knobs.resolution_mismatch)
    patch = shift(patch, np.asarray(offset) * face_width)
    return patch, (mask * weight).astype(np.float32)



def feather(mask: np.ndarray, seam: float, face_width: float) -> np.ndarray:
    """Soften a ``(h, w)`` mask's edge: a Gaussian of ``(1 - seam) * FEATHER`` face widths. Returns float32."""
    sigma = (1 - seam) * FEATHER * face_width
    mask = mask.astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), sigma) if sigma >= MIN_SIGMA else mask


def match_colour(patch: np.ndarray, target: np.ndarray, mask: np.ndarray, strength: float) -> np.ndarray:
    """Move the patch's per-channel mean and spread inside ``mask`` toward the target's, by ``strength`` in 0..1.

    ``patch`` and ``target``: ``(h, w, 3)``; ``mask``: ``(h, w)`` weights. Returns ``(h, w, 3)`` float32.
    """
    weights = mask[..., None] / max(float(mask.sum()), 1.0)
    mean_p, mean_t = (patch * weights).sum((0, 1)), (target * weights).sum((0, 1))
    std_p = np.sqrt((((patch - mean_p) ** 2) * weights).sum((0, 1))) + 1e-3
    std_t = np.sqrt((((target - mean_t) ** 2) * weights).sum((0, 1))) + 1e-3
    gain = 1 + strength * (std_t / std_p - 1)
    return ((patch - mean_p) * gain + mean_p + strength * (mean_t - mean_p)).astype(np.float32)


def degrade(patch: np.ndarray, resolution_mismatch: float) -> np.ndarray:
    """Down- and upsample ``(h, w, 3)`` by up to ``MAX_DOWNSCALE`` (a generator's output is smaller than the face)."""
    if resolution_mismatch <= 0:
        return patch
    h, w = patch.shape[:2]
    factor = 1 + (MAX_DOWNSCALE - 1) * resolution_mismatch
    small = cv2.resize(patch, (max(int(w / factor), MIN_SIDE), max(int(h / factor), MIN_SIDE)),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shift(patch: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Move ``(h, w, 3)`` by ``(dx, dy)`` pixels (sub-pixel), its edges reflected in."""
    h, w = patch.shape[:2]
    if not np.any(pixels):
        return patch
    warp = np.float32([[1, 0, pixels[0]], [0, 1, pixels[1]]])
    return cv2.warpAffine(patch, warp, (w, h), borderMode=cv2.BORDER_REFLECT)


def paste(frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-blend ``patch`` ``(h, w, 3)`` through ``alpha`` ``(h, w)`` into float ``frame`` at (x0, y0), in place.

    Clipped to the frame: a face at the border is pasted in part, never shifted.
    """
    h, w = frame.shape[:2]
    ph, pw = patch.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    p = patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    frame[fy0:fy1, fx0:fx1] = frame[fy0:fy1, fx0:fx1] * (1 - a) + p * a
