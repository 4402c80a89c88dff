"""The synthetic source's faces: who a person is (:class:`Identity`), how they move (:class:`Motion`), and
one frame of their face drawn in a patch (:func:`render_face`).

Why a module of its own: drawing a face is the generator's one piece of pixel work, and the rest of
:mod:`dfd_utils.sources.synthetic` (the scene, the fakes' artifacts, the plan of clips) only places these
patches. The values are those the generator computed when this code lived in it: same operations, same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FACE_WIDTH = 0.72  # the rendered face's width, in patch sizes (render_face: two half-widths of 0.36)


@dataclass(frozen=True)
class Identity:
    """What makes one synthetic person look like themselves."""

    skin: np.ndarray  # (3,) RGB in 0..255
    hair: np.ndarray  # (3,) RGB
    eyes: np.ndarray  # (3,) RGB
    head_aspect: float  # head height / width
    eye_spacing: float  # in face widths
    mouth_width: float  # in face widths
    freckle_seed: int


def make_identity(rng: np.random.Generator) -> Identity:
    return Identity(
        skin=rng.uniform([120, 80, 60], [240, 200, 170]),
        hair=rng.uniform(10, 160, size=3),
        eyes=rng.uniform(20, 140, size=3),
        head_aspect=float(rng.uniform(1.15, 1.45)),
        eye_spacing=float(rng.uniform(0.32, 0.46)),
        mouth_width=float(rng.uniform(0.28, 0.45)),
        freckle_seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class Motion:
    """A subject's smooth path, blinks and speech, as functions of time."""

    center_phase: np.ndarray  # (4,)
    center_freq: np.ndarray  # (4,)
    blink_period: float
    talk_freq: float
    light_phase: float
    pan_speed: np.ndarray  # (2,) background pixels per frame, in units of height/100

    def state(self, t: float) -> dict:
        cx = 0.5 + 0.12 * np.sin(self.center_freq[0] * t + self.center_phase[0])
        cy = 0.5 + 0.06 * np.sin(self.center_freq[1] * t + self.center_phase[1])
        tilt = 0.08 * np.sin(self.center_freq[2] * t + self.center_phase[2])
        blink_phase = (t % self.blink_period) / self.blink_period
        eye_open = 1.0 - np.exp(-((blink_phase - 0.5) ** 2) / 0.002)
        mouth_open = 0.5 * (1 + np.sin(self.talk_freq * t)) * (np.sin(0.7 * t) > -0.3)
        light = 1.0 + 0.12 * np.sin(0.9 * t + self.light_phase)
        return dict(cx=cx, cy=cy, tilt=tilt, eye_open=eye_open, mouth=mouth_open, light=light)


def make_motion(rng: np.random.Generator) -> Motion:
    return Motion(
        center_phase=rng.uniform(0, 2 * np.pi, 4),
        center_freq=rng.uniform(0.4, 1.2, 4),
        blink_period=float(rng.uniform(1.5, 3.5)),
        talk_freq=float(rng.uniform(8, 14)),
        light_phase=float(rng.uniform(0, 2 * np.pi)),
        pan_speed=rng.uniform(-0.4, 0.4, 2),
    )


def _ellipse_mask(h: int, w: int, cy: float, cx: float, ry: float, rx: float, soft: float) -> np.ndarray:
    """A soft ellipse in a (h, w) box: 1 inside, falling to 0 over ``soft`` radii."""
    yy, xx = np.ogrid[:h, :w]
    r = np.sqrt(((yy - cy) / max(ry, 1e-3)) ** 2 + ((xx - cx) / max(rx, 1e-3)) ** 2)
    return np.clip((1.0 - r) / max(soft, 1e-3) + 0.5, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class FaceBase:
    """What of a face stays the same in every frame: skin, freckles and hair, and the two masks (read-only)."""

    rgb: np.ndarray  # (box, box, 3) float64: skin with freckles, hair blended in
    head: np.ndarray  # (box, box) float32: the whole head
    inner: np.ndarray  # (box, box) float32: the inner face a swap replaces


def face_base(identity: Identity, box: int) -> FaceBase:
    """The parts of :func:`render_face` that depend on the identity and the box alone, drawn once per clip.

    Why: they are half of a frame's rendering cost, and the demo renders about a thousand clips. The arrays are
    the very values :func:`render_face` computed before it took them from here (same operations, same order), so
    the clips are the same bytes (tested); they are read-only, so no frame can change another's.
    """
    c = box / 2
    fw = box * FACE_WIDTH / 2  # half face width
    fh = fw * identity.head_aspect
    rgb = np.empty((box, box, 3), np.float32)
    rgb[:] = identity.skin
    freckles = np.random.default_rng(identity.freckle_seed).normal(0, 6, (16, 16, 1))
    rgb += cv2.resize(freckles.astype(np.float32), (box, box), interpolation=cv2.INTER_CUBIC)[..., None]
    head = _ellipse_mask(box, box, c, c, fh, fw, 0.05)
    hair = _ellipse_mask(box, box, c - 0.55 * fh, c, 0.55 * fh, fw * 1.05, 0.05) * (
        np.arange(box)[:, None] < c - 0.45 * fh
    )
    rgb = rgb * (1 - hair[..., None]) + identity.hair * hair[..., None]
    inner = _ellipse_mask(box, box, c + 0.1 * fh, c, 0.68 * fh, 0.78 * fw, 0.05)
    for array in (rgb, head, inner):
        array.setflags(write=False)
    return FaceBase(rgb, head, inner)


def _blend_ellipse(rgb: np.ndarray, colour, cy: float, cx: float, ry: float, rx: float, soft: float,
                   darken: float | None = None) -> None:
    """Blend ``colour`` into ``rgb`` ``(h, w, 3)`` through the soft ellipse of :func:`_ellipse_mask`, in place.

    Only the ellipse's bounding box is computed: outside it the mask is exactly 0, where the blend
    ``rgb * (1 - 0) + colour * 0`` returns ``rgb`` bit for bit, so the result is the whole-patch blend's,
    at a tenth of its cost for an eye. ``darken``: instead of a colour, scale by ``1 - darken * mask`` (the nose).
    """
    h, w = rgb.shape[:2]
    reach = 1.0 + 0.5 * max(soft, 1e-3)  # the mask is 0 where the radius r > 1 + soft / 2
    ry_, rx_ = max(ry, 1e-3) * reach, max(rx, 1e-3) * reach
    y0, y1 = max(int(np.floor(cy - ry_)) - 1, 0), min(int(np.ceil(cy + ry_)) + 2, h)
    x0, x1 = max(int(np.floor(cx - rx_)) - 1, 0), min(int(np.ceil(cx + rx_)) + 2, w)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]  # the same coordinates, hence the same values, as the whole patch's grid
    r = np.sqrt(((yy - cy) / max(ry, 1e-3)) ** 2 + ((xx - cx) / max(rx, 1e-3)) ** 2)
    mask = np.clip((1.0 - r) / max(soft, 1e-3) + 0.5, 0.0, 1.0).astype(np.float32)[..., None]
    region = rgb[y0:y1, x0:x1]
    region[...] = region * (1 - darken * mask) if darken is not None else region * (1 - mask) + colour * mask


def render_face(identity: Identity, state: dict, box: int, base: FaceBase | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw a face in a ``box x box`` patch centred on the face.

    Returns ``(rgb, head_mask, inner_mask)``: float ``(box, box, 3)`` in 0..255
    and two ``(box, box)`` masks (the whole head; the inner face a swap replaces), read-only.
    ``base``: :func:`face_base` of this identity and box, when the caller keeps it across frames.
    """
    base = base if base is not None else face_base(identity, box)
    c = box / 2
    fw = box * FACE_WIDTH / 2  # half face width
    fh = fw * identity.head_aspect
    rgb = base.rgb.copy()
    shift = state["tilt"] * fw
    for side in (-1, 1):  # eyes: white, iris, lid closing with the blink
        ex, ey = c + side * identity.eye_spacing * fw + shift, c - 0.15 * fh
        _blend_ellipse(rgb, 235, ey, ex, 0.07 * fh * state["eye_open"] + 0.3, 0.14 * fw, 0.1)  # white
        _blend_ellipse(rgb, identity.eyes, ey, ex, 0.06 * fh * state["eye_open"] + 0.3, 0.06 * fw, 0.1)  # iris
    _blend_ellipse(rgb, None, c + 0.05 * fh, c + shift, 0.12 * fh, 0.05 * fw, 0.3, darken=0.25)  # nose
    _blend_ellipse(rgb, np.array([90, 20, 30], np.float32), c + 0.4 * fh, c + shift,
                   0.02 * fh + 0.08 * fh * state["mouth"], identity.mouth_width * fw, 0.1)  # mouth
    return rgb, base.head, base.inner
