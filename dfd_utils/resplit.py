"""Seeds that vary what matters: each training seed after the first draws its own split.

Three seeds that share one split and one frozen trunk's features differ only in the
head's initialisation and batch order, so they cannot disagree about anything the split
decides (which videos are hard, which families are in test). The headline chapters
therefore give seed ``s`` its own split: the three splits pooled and split again by
:func:`dfd_utils.splits.split_videos` at seed ``s`` (stratified by label, grouped by
family, the same shares as stage 02's split). The first seed keeps stage 02's split,
which is the one the chapters show, save and score per video; stage 02 draws it with
the study's seed, so a later seed never repeats it.

Sources whose splits are fixed by identity (``faces``) are never re-split: their
identity-disjoint split is part of what they test.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from dfd_utils.datasets import SplitData
from dfd_utils.sources.metadata import VideoRecord
from dfd_utils.splits import SPLITS, split_videos

TENSORS = ("frames", "flows", "frames3d", "features")  # (V, ...) each, where present


def shares(data: dict[str, SplitData]) -> tuple[float, float, float]:
    """The shares of the videos in train, val and test: what stage 02's split gave."""
    sizes = [len(data[s].videos) for s in SPLITS]
    return tuple(n / sum(sizes) for n in sizes)


def resplit(data: dict[str, SplitData], seed: int) -> dict[str, SplitData]:
    """``data``'s three splits pooled and split again at ``seed``, with the same shares; each split in name order.

    Tensors are gathered into memory (a split is no longer one memory-mapped array), so this suits the
    demo's and the paper's sizes, not a whole DFDC download.
    """
    videos = [v for s in SPLITS for v in data[s].videos]  # (V,) pooled, in split order
    families = [f for s in SPLITS for f in data[s].families]
    labels = torch.cat([data[s].labels for s in SPLITS])  # (V,)
    records = [VideoRecord(v, Path(v), int(y), None if f == v else f) for v, f, y in zip(videos, families, labels)]
    assignment = split_videos(records, shares(data), seed)
    pooled = {name: torch.cat([getattr(data[s], name) for s in SPLITS])
              for name in TENSORS if getattr(data[SPLITS[0]], name) is not None}
    out = {}
    for split in SPLITS:
        rows = sorted((i for i, v in enumerate(videos) if assignment[v] == split), key=videos.__getitem__)
        index = torch.tensor(rows, dtype=torch.long)
        out[split] = replace(data[split], videos=[videos[i] for i in rows], families=[families[i] for i in rows],
                             labels=labels[index], arrays={},
                             **{name: pooled[name][index] if name in pooled else None for name in TENSORS})
    return out


__all__ = ["resplit", "shares"]
