"""Leak-free 80/10/10 splits at video level, stratified by label, grouped by family.

A family is a real video and every fake made from it. Splitting families (not
videos) keeps a fake out of any split but its source's: otherwise a detector can
score by recognising the scene, not the manipulation. Families are placed one at a
time, largest first (ties in seeded random order), into the split whose label
counts then fall closest to the targets, which lands within a few videos of
the paper's 660/82/83 for 825 videos.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dfd_utils.sources.metadata import VideoRecord

SPLITS = ("train", "val", "test")


def split_videos(records: list[VideoRecord], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, str]:
    """Map each video name to "train", "val" or "test"."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    families: dict[str, list[VideoRecord]] = defaultdict(list)
    for r in records:
        families[r.family].append(r)
    totals = np.bincount([r.label for r in records], minlength=2).astype(float)
    targets = np.outer(fractions, totals)  # (3 splits, 2 labels)
    counts = np.zeros_like(targets)
    rng = np.random.default_rng(seed)
    keys = sorted(families)
    order = rng.permutation(len(keys))
    order = sorted(order, key=lambda i: -len(families[keys[i]]))  # stable: big families first
    assignment = {}
    for i in order:
        members = families[keys[i]]
        add = np.bincount([r.label for r in members], minlength=2)
        errors = []
        for s in range(3):
            trial = counts.copy()
            trial[s] += add
            errors.append(((trial - targets) ** 2).sum())
        best = int(np.argmin(errors))
        counts[best] += add
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
