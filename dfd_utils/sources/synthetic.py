"""A seeded generator of DFDC-format deepfake data: the study's offline default.

Real videos are procedurally rendered scenes: a face-like subject that moves,
blinks and talks over a textured, panning background, with lighting drift and
sensor noise. Each fake takes a real video (its ``original`` in the metadata) and
overlays the inner face of another identity, rendered with the original's pose
and expression, through a soft mask: the paper's "overlay" deepfakes.

Every artifact is a knob, so the book can run controlled experiments: spatial
artifacts (seam, colour mismatch, resolution mismatch) are visible in one frame;
temporal artifacts (misalignment jitter, blend flicker) only across frames; and
``unaltered_share`` leaves some frames of a fake untouched, as the paper saw in
DFDC. The knobs and what they do are :mod:`dfd_utils.sources.artifacts`, shared
with the ``faces`` source, so both sets are dialled alike. The same seed gives the
same metadata and the same pixels.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.checks import check_range
from dfd_utils.io import process_pool, progress
from dfd_utils.provenance import code_version, stamp
from dfd_utils.sources.artifacts import JITTER_STEP, paste
from dfd_utils.sources.clip_set import ClipFolder, ClipSetConfig, render_settings
from dfd_utils.video import write_video


@dataclass(frozen=True)
class SyntheticConfig(ClipSetConfig):
    """The synthetic set's settings: DFDC's size and rate and the artifact knobs (:class:`ClipSetConfig`).

    Three more knobs make the fakes of chapter 12's controlled families (:mod:`dfd_utils.stages.families`):

    * ``swap``: whether a fake pastes another identity's face (the overlay); false, the fake
      keeps its original's own face and only the head knobs below make it a fake.
    * ``head_jitter`` and ``head_flicker`` (0..1): the whole head (face, hair and all) is
      drawn each frame ``head_jitter * JITTER_STEP`` face widths off its path (a standard
      deviation) and with its brightness scaled by up to ``+-head_flicker * HEAD_GAIN``.
      Every frame on its own is then a clean render of the scene (a head a few pixels
      elsewhere, a little brighter or darker: a frame some real video could hold); only
      across frames does the head shake and flicker against the smoothly panning background.
      The patch knobs ``jitter`` and ``flicker`` cannot do this: the patch moves but its
      mask does not, and a flickering blend shows a faint double face, both visible in one frame.
    """

    swap: bool = True
    head_jitter: float = 0.0
    head_flicker: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        check_range("head_jitter", self.head_jitter, 0, 1)
        check_range("head_flicker", self.head_flicker, 0, 1)
        if not isinstance(self.swap, bool):
            raise ValueError(f"swap must be true or false, got {self.swap!r}")

    def head_schedule(self, num_frames: int, fake_seed: int) -> HeadSchedule | None:
        """A fake's per-frame head offsets and gains, or None where both head knobs are 0 (the pixels untouched).

        Drawn from their own generator (``[fake_seed, 2]``), so the patch's draws, and every
        fake made without head knobs, stay what they were.
        """
        if self.head_jitter == 0 and self.head_flicker == 0:
            return None
        rng = np.random.default_rng([fake_seed, 2])
        offsets = self.head_jitter * JITTER_STEP * rng.normal(0, 1, (num_frames, 2))
        gains = 1 + self.head_flicker * HEAD_GAIN * rng.uniform(-1, 1, num_frames)
        return HeadSchedule(offsets, gains)


HEAD_GAIN = 0.15  # at head_flicker 1 the head's brightness is scaled by a factor drawn in 1 +- 0.15, anew each frame
FAKE_ONLY = ("swap", "head_jitter", "head_flicker")  # settings that reach only a fake's pixels


@dataclass(frozen=True)
class HeadSchedule:
    """A temporal fake's per-frame draws: where the whole head is drawn and how bright (see ``head_jitter``)."""

    offsets: np.ndarray  # (T, 2) float: the head's (dx, dy) off its path, in face widths
    gains: np.ndarray  # (T,) float around 1: the head's brightness scale


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


def _background(rng: np.random.Generator, height: int, width: int, margin: int) -> np.ndarray:
    """A smooth random texture larger than the frame, to pan across."""
    small = rng.uniform(30, 220, (12, 20, 3)).astype(np.float32)
    tex = cv2.resize(small, (width + 2 * margin, height + 2 * margin), interpolation=cv2.INTER_CUBIC)
    detail = rng.normal(0, 12, (height // 8 + 2 * margin // 8 + 1, width // 8 + 2 * margin // 8 + 1, 3))
    tex += cv2.resize(detail.astype(np.float32), (tex.shape[1], tex.shape[0]), interpolation=cv2.INTER_LINEAR)
    return tex


def render_video(
    cfg: SyntheticConfig, identity: Identity, motion: Motion, background_seed: int,
    donor: Identity | None = None, fake_seed: int = 0, head: HeadSchedule | None = None,
    only: list[int] | None = None,
) -> np.ndarray:
    """Render a real video, or its fake: with ``donor`` the overlay, with ``head`` a shaking, flickering head
    (either or both): ``(T, H, W, 3)`` uint8. ``only``: just these frames (ascending), the same bytes as
    those of the whole clip (every frame's draws are still made, in order): ``(len(only), H, W, 3)``."""
    height, width, n = cfg.height, cfg.width, cfg.num_frames
    bg_rng = np.random.default_rng(background_seed)
    margin = int(0.2 * height) + 1
    texture = _background(bg_rng, height, width, margin)
    noise_rng = np.random.default_rng(background_seed + 1)  # sensor noise: same for a fake and its original
    schedule = cfg.schedule(n, np.random.default_rng(fake_seed)) if donor is not None else None
    box = int(0.6 * height) // 2 * 2
    wanted = range(n) if only is None else only
    slot = {f: i for i, f in enumerate(wanted)}
    frames = np.empty((len(slot), height, width, 3), np.uint8)
    subject_base = face_base(identity, box)
    donor_base = face_base(donor, box) if donor is not None else None
    for f in range(n):
        if f not in slot:  # the sensor noise's draws, in order, so later frames get their own
            noise_rng.normal(0, 4, (height // 4 + 1, width // 4 + 1, 3))
            noise_rng.normal(0, 3)
            continue
        t = f / cfg.fps
        s = motion.state(t)
        ox = int(margin + motion.pan_speed[0] * height / 100 * f) % (2 * margin)
        oy = int(margin + motion.pan_speed[1] * height / 100 * f) % (2 * margin)
        frame = texture[oy : oy + height, ox : ox + width].copy()
        face, head_mask, inner = render_face(identity, s, box, subject_base)  # (box, box, 3), two (box, box) masks
        if schedule is not None and schedule.altered[f]:  # the donor's inner face, with every artifact
            donor_face, _, _ = render_face(donor, s, box, donor_base)
            patch, alpha = cfg.overlay(face, donor_face, inner, FACE_WIDTH * box, schedule.offsets[f],
                                       schedule.weights[f])
            paste(face, patch, alpha, 0, 0)
        x0, y0 = int(s["cx"] * width) - box // 2, int(s["cy"] * height) - box // 2
        if head is not None:  # the whole head off its path and re-lit: a clean frame, an unnatural sequence
            dx, dy = np.rint(head.offsets[f] * FACE_WIDTH * box).astype(int)
            face, x0, y0 = face * np.float32(head.gains[f]), x0 + dx, y0 + dy
        paste(frame, face, head_mask, x0, y0)
        frame *= s["light"]
        grain = noise_rng.normal(0, 4, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)  # sensor noise
        frame += noise_rng.normal(0, 3) + grain.repeat(4, 0).repeat(4, 1)[:height, :width]
        frames[slot[f]] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def _video_name(rng: np.random.Generator, taken: set[str]) -> str:
    while True:  # DFDC-style names: 10 lowercase letters
        name = "".join(rng.choice(list(string.ascii_lowercase), 10)) + ".mp4"
        if name not in taken:
            taken.add(name)
            return name


@dataclass(frozen=True)
class VideoPlan:
    name: str
    label: str  # "REAL" | "FAKE"
    original: str | None
    subject: int  # identity index of the person in the scene
    donor: int | None  # identity index of the overlaid face
    fake_seed: int


def plan_dataset(cfg: SyntheticConfig) -> list[VideoPlan]:
    """Decide every video's name, label, original and identities from the seed alone."""
    rng = np.random.default_rng(cfg.seed)
    num_real = max(int(round(cfg.num_videos * (1 - cfg.fake_share))), 1)
    num_fake = cfg.num_videos - num_real
    taken: set[str] = set()
    reals = [VideoPlan(_video_name(rng, taken), "REAL", None, i, None, 0) for i in range(num_real)]
    fakes = []
    for j in range(num_fake):
        original = reals[j % num_real]
        pool = max(num_real, 2)  # with one real subject, the donor is an extra identity
        donor = (original.subject + 1 + int(rng.integers(pool - 1))) % pool  # never the subject
        fakes.append(VideoPlan(_video_name(rng, taken), "FAKE", original.name, original.subject,
                               donor, int(rng.integers(2**31))))
    return reals + fakes


PLANNED = ("num_videos", "fake_share")  # settings the plan holds


def clip_stamp(cfg: SyntheticConfig, plan: VideoPlan) -> dict:
    """What one clip is made from: its plan and every setting that reaches its pixels (a real's: no knob), this code."""
    fake = plan.label == "FAKE"
    render = {k: v for k, v in render_settings(cfg, PLANNED, fake=fake).items() if fake or k not in FAKE_ONLY}
    return stamp({}, {"plan": asdict(plan), "render": render}, CODE)


def render_plan(cfg: SyntheticConfig, plan: VideoPlan, fake: bool | None = None, only: list[int] | None = None
                ) -> tuple[np.ndarray, Motion]:
    """One planned clip's frames ``(T, H, W, 3)`` uint8 and its subject's motion; ``fake=False`` renders a fake's
    plan without its overlay and head knobs: its original, the same pixels as the original's own clip.
    ``only``: just those frames (:func:`render_video`)."""
    person = np.random.default_rng([cfg.seed, 1, plan.subject])
    identity, motion = make_identity(person), make_motion(person)
    fake = plan.label == "FAKE" if fake is None else fake
    donor = make_identity(np.random.default_rng([cfg.seed, 1, plan.donor])) if fake and cfg.swap else None
    head = cfg.head_schedule(cfg.num_frames, plan.fake_seed) if fake else None
    frames = render_video(cfg, identity, motion, background_seed=cfg.seed * 100003 + plan.subject,
                          donor=donor, fake_seed=plan.fake_seed, head=head, only=only)
    return frames, motion


def _render_plan(args: tuple[SyntheticConfig, VideoPlan, Path]) -> str:
    cfg, plan, out_dir = args
    cv2.setNumThreads(1)
    frames, _ = render_plan(cfg, plan)
    write_video(out_dir / plan.name, frames, cfg.fps)  # atomic
    return plan.name


def _map(fn, jobs: list, workers: int | None):
    """``map`` in this process (``workers == 1``) or in a pool of fresh worker processes."""
    if workers == 1 or not jobs:
        yield from map(fn, jobs)
        return
    with process_pool(workers) as pool:
        yield from pool.map(fn, jobs)


def generate(cfg: SyntheticConfig, out_dir: str | Path, workers: int | None = None,
             donors: tuple[Path, ...] = ()) -> dict:
    """Write ``cfg.num_videos`` mp4 files, a DFDC ``metadata.json`` and ``checksums.json`` to ``out_dir``.

    Resumable and keyed: a clip is reused only when its stamp in ``provenance.json``
    matches (:func:`clip_stamp`); clips of an earlier plan that this one lacks are
    removed. ``donors``: other sets' folders; a clip one of them made by the same stamp is
    linked from there, not rendered again. Returns the metadata.
    """
    plans = plan_dataset(cfg)
    folder = ClipFolder(out_dir, {p.name: clip_stamp(cfg, p) for p in plans}, "synthetic clips", donors)
    todo = [(cfg, p, folder.folder) for p in plans if p.name in folder.stale]
    for name in progress(_map(_render_plan, todo, workers), total=len(todo), desc="render"):
        folder.made(name)
    metadata = {p.name: {"label": p.label, "split": "train", "original": p.original} for p in plans}
    return folder.close(metadata, legacy="synthetic_config.json")


CODE = code_version(__name__, libraries=("opencv", "numpy"))  # hashed at import (see frames.CODE)
