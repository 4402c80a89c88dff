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

from dfd_utils.config.data import FAKE_ONLY, SyntheticConfig  # noqa: F401 (re-exported: the generator's settings)
from dfd_utils.io import process_pool, progress
from dfd_utils.provenance import code_version, stamp
from dfd_utils.sources.artifacts import JITTER_STEP, draw_schedule, overlay, paste
from dfd_utils.sources.clip_set import ClipFolder, render_settings
from dfd_utils.sources.synthetic_face import (  # noqa: F401 (re-exported: the generator's faces, one import away)
    FACE_WIDTH,
    FaceBase,
    Identity,
    Motion,
    _blend_ellipse,
    _ellipse_mask,
    face_base,
    make_identity,
    make_motion,
    render_face,
)
from dfd_utils.video import write_video

HEAD_GAIN = 0.15  # at head_flicker 1 the head's brightness is scaled by a factor drawn in 1 +- 0.15, anew each frame


@dataclass(frozen=True)
class HeadSchedule:
    """A temporal fake's per-frame draws: where the whole head is drawn and how bright (see ``head_jitter``)."""

    offsets: np.ndarray  # (T, 2) float: the head's (dx, dy) off its path, in face widths
    gains: np.ndarray  # (T,) float around 1: the head's brightness scale


def head_schedule(cfg: SyntheticConfig, num_frames: int, fake_seed: int) -> HeadSchedule | None:
    """A fake's per-frame head offsets and gains, or None where both head knobs are 0 (the pixels untouched).

    Drawn from their own generator (``[fake_seed, 2]``), so the patch's draws, and every
    fake made without head knobs, stay what they were.
    """
    if cfg.head_jitter == 0 and cfg.head_flicker == 0:
        return None
    rng = np.random.default_rng([fake_seed, 2])
    offsets = cfg.head_jitter * JITTER_STEP * rng.normal(0, 1, (num_frames, 2))
    gains = 1 + cfg.head_flicker * HEAD_GAIN * rng.uniform(-1, 1, num_frames)
    return HeadSchedule(offsets, gains)



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
    schedule = draw_schedule(cfg, n, np.random.default_rng(fake_seed)) if donor is not None else None
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
            patch, alpha = overlay(cfg, face, donor_face, inner, FACE_WIDTH * box, schedule.offsets[f],
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
    head = head_schedule(cfg, cfg.num_frames, plan.fake_seed) if fake else None
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
