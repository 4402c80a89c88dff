"""The paper's three views of the data, over one split loaded into memory once.

Decoding a JPEG per item per epoch would dominate training on a CPU; a split is
small (13,200 frames at 108x192x3 is 0.8 GB as uint8), so it is decoded once into
tensors and every view indexes them. Items stay uint8/float16; the training loop
converts whole batches, and each model normalises its own input.

* ``FrameBag``: a bag of frames, shuffled at frame level (baseline).
* ``FrameFlowBag``: a bag of (frame, flow) pairs (two-stream per frame).
* ``VideoClips``: whole videos, 16 frames [+ 16 flows] (the whole-video models;
  ``three_d=True`` gives the 3D CNN's square frames).

With ``features=True`` a view gives a frozen trunk's features (``SplitData.features``,
``dfd_utils.features``) in place of the frames, under the key ``features``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dfd_utils.flow import load_flow
from dfd_utils.frame_store import load_video_frames
from dfd_utils.paths import require


@dataclass
class SplitData:
    """One split, decoded. V videos of T frames."""

    videos: list[str]  # (V,) file names
    families: list[str]  # (V,) original or own name, for grouped bootstrap
    labels: torch.Tensor  # (V,) float32 0/1
    frames: torch.Tensor | None  # (V, T, 3, H, W) uint8
    flows: torch.Tensor | None  # (V, T, 2, H, W) float16
    frames3d: torch.Tensor | None  # (V, T, 3, S, S) uint8
    features: torch.Tensor | None = None  # (V, T, C) or (V, C) float32: a frozen trunk's output (dfd_utils.features)
    features_of: str = ""  # digest of the trunk weights that made ``features``

    @property
    def num_frames(self) -> int:
        ref = next(t for t in (self.frames, self.frames3d, self.flows) if t is not None)
        return ref.shape[1]


def load_split(frames_root: str | Path, split: str, flow_root: str | Path | None = None,
               frames: bool = True, flows: bool = False, three_d: bool = False,
               limit: int | None = None) -> SplitData:
    """Decode every video of ``split`` listed in ``frames_root/manifest.csv``."""
    frames_root = Path(frames_root)
    manifest = pd.read_csv(require(frames_root / "manifest.csv", "frames"), keep_default_na=False)
    per_video = manifest[manifest.split == split].drop_duplicates("video").sort_values("video")
    if limit:
        per_video = per_video.head(limit)
    if per_video.empty:
        raise ValueError(f"{frames_root / 'manifest.csv'}: split {split!r} has no videos")
    names = per_video.video.tolist()

    def stack(load):
        return torch.from_numpy(np.stack([load(n) for n in names]))

    def chw(a):  # (T, H, W, 3) -> (T, 3, H, W)
        return a.transpose(0, 3, 1, 2)

    if flows and flow_root is None:
        raise ValueError("flows=True needs flow_root")
    return SplitData(
        videos=names,
        families=[o or v for v, o in zip(per_video.video, per_video.original)],
        labels=torch.tensor(per_video.label.to_numpy(), dtype=torch.float32),
        frames=stack(lambda n: chw(load_video_frames(frames_root, n))) if frames else None,
        flows=stack(lambda n: load_flow(flow_root, n)) if flows else None,
        frames3d=stack(lambda n: chw(load_video_frames(frames_root, n, three_d=True))) if three_d else None,
    )


class FrameBag(Dataset):
    """Every frame of every video as its own sample, labelled with its video's label."""

    def __init__(self, data: SplitData, features: bool = False):
        self.data, self.features = data, features

    def __len__(self) -> int:
        return len(self.data.videos) * self.data.num_frames

    def _index(self, i: int) -> tuple[int, int]:
        return divmod(i, self.data.num_frames)  # (video, position)

    def __getitem__(self, i: int) -> dict:
        v, t = self._index(i)
        if self.features:
            return {"features": self.data.features[v, t], "label": self.data.labels[v], "video": v}  # (C,)
        return {"frames": self.data.frames[v, t], "label": self.data.labels[v], "video": v}  # (3, H, W)


class FrameFlowBag(FrameBag):
    """A bag of (frame, flow) pairs: the frame and the flow field that ends at it."""

    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        v, t = self._index(i)
        item["flows"] = self.data.flows[v, t]  # (2, H, W)
        return item


class VideoClips(Dataset):
    """Whole videos: ``frames (T, 3, H, W)`` [and ``flows (T, 2, H, W)``]."""

    def __init__(self, data: SplitData, with_flow: bool = False, three_d: bool = False, features: bool = False):
        self.data, self.with_flow, self.three_d, self.features = data, with_flow, three_d, features

    def __len__(self) -> int:
        return len(self.data.videos)

    def __getitem__(self, v: int) -> dict:
        if self.features:  # (T, C), or (C,) for a 3D trunk
            item = {"features": self.data.features[v], "label": self.data.labels[v], "video": v}
        else:
            frames = self.data.frames3d[v] if self.three_d else self.data.frames[v]
            item = {"frames": frames, "label": self.data.labels[v], "video": v}
        if self.with_flow:
            item["flows"] = self.data.flows[v]
        return item


VIEWS = ("frame", "frame_flow", "video")


def make_view(data: SplitData, view: str, with_flow: bool = False, three_d: bool = False, features: bool = False
              ) -> Dataset:
    """The dataset a model needs: ``view`` is the model's ``input_view``; ``features``: a frozen trunk's."""
    if features and data.features is None:
        raise ValueError("make_view(features=True): the split holds no trunk features")
    if view == "frame":
        return FrameBag(data, features)
    if view == "frame_flow":
        return FrameFlowBag(data, features)
    if view == "video":
        return VideoClips(data, with_flow=with_flow, three_d=three_d, features=features)
    raise ValueError(f"unknown view {view!r}; expected one of {sorted(VIEWS)}")

