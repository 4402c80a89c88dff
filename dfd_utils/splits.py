"""80/10/10 splits at video level, stratified by label, grouped by family.

A family is a real video and every fake made from it. Splitting families (not
videos) keeps a fake out of any split but its source's: otherwise a detector can
score by recognising the scene, not the manipulation.

Stratification is systematic sampling over a sorted list: families are ordered by
their share of FAKE videos (then size; seeded random order within), and each is
given to the split furthest behind its share of the videos seen so far. Families of
one composition are thus spread 80/10/10 among the splits, so every split gets
the same FAKE share, and the sizes land within a video or two of the targets (for
825 videos: 660/82/83, the paper's split).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dfd_utils.config.data import SPLITS, SplitConfig  # noqa: F401 (re-exported: the split shares)
from dfd_utils.sources.metadata import VideoRecord


def split_videos(records: list[VideoRecord], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, str]:
    """Map each video name to "train", "val" or "test"."""
    fixed = [r for r in records if r.study_split is not None]
    if fixed:
        if len(fixed) != len(records):
            loose = sorted(r.name for r in records if r.study_split is None)[:3]
            raise ValueError(f"study_split is set for some videos but not for {loose}...: set it for all or none")
        return {r.name: r.study_split for r in records}
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    families: dict[str, list[VideoRecord]] = defaultdict(list)
    for r in records:
        families[r.family].append(r)
    keys = sorted(families)
    tiebreak = np.random.default_rng(seed).permutation(len(keys))
    share = {k: sum(r.label for r in families[k]) / len(families[k]) for k in keys}
    order = sorted(range(len(keys)), key=lambda i: (share[keys[i]], len(families[keys[i]]), tiebreak[i]))
    target = np.asarray(fractions, dtype=float)
    assigned = np.zeros(3)
    seen = 0
    assignment = {}
    for i in order:
        members = families[keys[i]]
        seen += len(members)
        best = int(np.argmax(target * seen - assigned))  # the split furthest behind its share
        assigned[best] += len(members)
        for r in members:
            assignment[r.name] = SPLITS[best]
    return assignment


def split_table(records: list[VideoRecord], assignment: dict[str, str]) -> dict[str, dict[str, int]]:
    """Videos per split and label, for the notebook's table."""
    table = {s: {"REAL": 0, "FAKE": 0, "videos": 0} for s in SPLITS}
    for r in records:
        row = table[assignment[r.name]]
        row["FAKE" if r.label else "REAL"] += 1
        row["videos"] += 1
    return table
