"""The ``faces`` set's plan: which windows of which clips become reals, and what each fake is made of.

Three people, so the split is by identity and fixed by the clips
(:data:`~dfd_utils.sources.face_clips.CLIPS`, ``study_split`` in the metadata): no
face is seen in two splits, the test person is never trained on. The real clips
are windows of ``duration_s`` spread over each recording; a person with little
recorded time still gets ``min_clips_per_identity`` of them (overlapping where the
recording is short). Each fake starts from one real clip (its ``original``); a
``self_blended_share`` of the fakes are self-blended, the others overlay a donor's
face: another person of the same split when there is one, otherwise the same person
at another moment (another recording where there is one). Everything follows from
the seed and the clips' lengths: nothing is decoded here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfd_utils.config.data import FacesConfig  # noqa: F401 (re-exported: the faces set's settings)
from dfd_utils.sources.face_clips import CLIPS, SourceClip


@dataclass(frozen=True)
class Window:
    """``num_frames`` output frames of one source clip, from ``start`` (in output frames)."""

    file: str
    start: int

    def label(self, fps: float) -> str:
        return f"{self.file}@{self.start / fps:.1f}s"


@dataclass(frozen=True)
class Plan:
    name: str
    label: str  # REAL | FAKE
    window: Window  # the real clip (for a fake: its original's)
    identity: str
    split: str
    original: str | None = None
    fake_type: str | None = None  # overlay | self_blended
    donor: Window | None = None
    seed: int = 0


def output_length(num_source_frames: int, source_fps: float, fps: float) -> int:
    """Output frames a source clip gives at ``fps``."""
    return int(num_source_frames / source_fps * fps)


def spread_starts(length: int, window: int, count: int) -> list[int]:
    """``count`` window starts spread evenly over ``length`` frames (overlapping only when too short)."""
    last = length - window
    if last < 0 or count <= 0:
        return []
    return sorted({int(round(s)) for s in np.linspace(0, last, count)})


def plan_dataset(cfg: FacesConfig, lengths: dict[str, int], clips: tuple[SourceClip, ...] = CLIPS) -> list[Plan]:
    """Every video of the set from the seed and the clips' lengths (output frames) alone."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.num_frames
    identities = list(dict.fromkeys(c.identity for c in clips))  # in the clips' order
    files = {i: [c.file for c in clips if c.identity == i] for i in identities}
    split_of = {c.identity: c.split for c in clips}
    recorded = {i: sum(max(lengths[f], n) for f in files[i]) for i in identities}  # output frames per person
    num_real = max(int(round(cfg.num_videos * (1 - cfg.fake_share))), len(identities))
    # Reals per identity: a floor for the short ones, the rest in proportion to recorded time.
    counts = {i: cfg.min_clips_per_identity for i in identities}
    rest = num_real - sum(counts.values())
    total = sum(recorded.values())
    for i in identities:
        counts[i] += int(rest * recorded[i] / total)
    counts[max(identities, key=recorded.get)] += num_real - sum(counts.values())
    reals: list[Plan] = []
    for i in identities:
        windows = []
        weights = np.array([lengths[f] for f in files[i]], float)
        per_file = np.floor(counts[i] * weights / weights.sum()).astype(int)
        per_file[int(np.argmax(weights))] += counts[i] - per_file.sum()
        for f, k in zip(files[i], per_file):
            windows += [Window(f, s) for s in spread_starts(lengths[f], n, int(k))]
        reals += [Plan(f"{i}_{k:03d}.mp4", "REAL", w, i, split_of[i]) for k, w in enumerate(windows)]
    num_fake = cfg.num_videos - len(reals)
    order = [reals[k] for k in rng.permutation(len(reals))]
    fakes = []
    for j in range(num_fake):
        original = order[j % len(order)]
        self_blended = bool(rng.random() < cfg.self_blended_share)
        donor = None
        if not self_blended:
            donor = _donor(original, identities, files, split_of, lengths, n, rng)
        fakes.append(Plan(f"{original.identity}_fake_{j:03d}.mp4", "FAKE", original.window, original.identity,
                          original.split, original.name, "self_blended" if self_blended else "overlay", donor,
                          int(rng.integers(2**31))))
    return reals + fakes


def _donor(original: Plan, identities, files, split_of, lengths, n: int, rng: np.random.Generator) -> Window:
    """Another person of the same split if any; else the same person, another recording or moment."""
    others = [i for i in identities if i != original.identity and split_of[i] == original.split]
    if others:
        person = others[int(rng.integers(len(others)))]
        f = files[person][int(rng.integers(len(files[person])))]
        return Window(f, int(rng.integers(max(lengths[f] - n, 0) + 1)))
    other_files = [f for f in files[original.identity] if f != original.window.file]
    if other_files:
        f = other_files[int(rng.integers(len(other_files)))]
        return Window(f, int(rng.integers(max(lengths[f] - n, 0) + 1)))
    f, here = original.window.file, original.window.start
    starts = range(max(lengths[f] - n, 0) + 1)
    far = [s for s in starts if abs(s - here) >= n // 2] or list(starts)  # another moment, if the clip allows
    return Window(f, int(far[int(rng.integers(len(far)))]))
