"""The paper's three views of the data, over one split decoded once.

Decoding a JPEG per item per epoch would dominate training on a CPU, so a split is
decoded once and every view indexes it. It is decoded into one memory-mapped array
per kind (``dfd_utils.split_arrays``: frames, 3D frames, flow), written on first load
and kept, keyed on the files it was made from; the tensors of :class:`SplitData` are
views of those maps, so RAM does not grow with the number of clips (825 clips hold
0.8 GB of frames; DFDC's 119,154 would hold 119 GB). ``arrays=None`` decodes into
RAM as before (the same values, bit for bit). Items stay uint8/float16; the training
loop converts whole batches, and each model normalises its own input.

* ``FrameBag``: a bag of frames, shuffled at frame level (baseline).
* ``FrameFlowBag``: a bag of (frame, flow) pairs (two-stream per frame).
* ``VideoClips``: whole videos, 16 frames [+ 16 flows] (the whole-video models;
  ``three_d=True`` gives the 3D CNN's square frames).

With ``features=True`` a view gives a frozen trunk's features (``SplitData.features``,
``dfd_utils.features``) in place of the frames, under the key ``features``.

Every view also gives a whole batch at once (``view.batch(indices)``): the batch
``DataLoader``'s default collation makes of the items ``view[i]``, exactly (the same
values, dtypes, shapes and key order), sliced from the split's tensors in one
``index_select`` per key instead of one item at a time. :func:`batched` hands a view to
a ``DataLoader`` that way; the loader's sampler, and so its shuffled order and its
random draws, stay the ``DataLoader``'s own. For a frozen trunk's features that is most
of the loop's cost beside the model (``benchmarks/bench_loop.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dfd_utils.flow import load_flow
from dfd_utils.frame_store import load_video_frames
from dfd_utils.paths import require
from dfd_utils.split_arrays import array_folder, split_array

AUTO = "auto"  # load_split's default arrays folder: beside the frame store (split_arrays.array_folder)


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
    arrays: dict[str, str] = field(default_factory=dict)  # field -> the .npy its tensor maps (split_arrays)

    @property
    def num_frames(self) -> int:
        ref = next(t for t in (self.frames, self.frames3d, self.flows) if t is not None)
        return ref.shape[1]


def load_split(frames_root: str | Path, split: str, flow_root: str | Path | None = None,
               frames: bool = True, flows: bool = False, three_d: bool = False,
               limit: int | None = None, arrays: str | Path | None = AUTO) -> SplitData:
    """Every video of ``split`` listed in ``frames_root/manifest.csv``, in name order.

    ``arrays``: the folder of the memory-mapped split arrays (default: beside the frame
    store, ``split_arrays.array_folder``), written there on first load; ``None``: decoded
    into RAM, as before the arrays existed.
    """
    frames_root = Path(frames_root)
    manifest = pd.read_csv(require(frames_root / "manifest.csv", "frames"), keep_default_na=False)
    per_video = manifest[manifest.split == split].drop_duplicates("video").sort_values("video")
    if limit:
        per_video = per_video.head(limit)
    if per_video.empty:
        raise ValueError(f"{frames_root / 'manifest.csv'}: split {split!r} has no videos")
    names = per_video.video.tolist()
    if flows and flow_root is None:
        raise ValueError("flows=True needs flow_root")
    wanted = [kind for kind, on in (("frames", frames), ("flows", flows), ("frames3d", three_d)) if on]
    if arrays is None:
        tensors, mapped = {kind: _decode(kind, names, frames_root, flow_root) for kind in wanted}, {}
    else:
        folder = array_folder(frames_root) if arrays == AUTO else Path(arrays)
        key = split if not limit else f"{split}-first{limit}"
        opened = {kind: split_array(kind, key, names, frames_root, flow_root, folder) for kind in wanted}
        tensors = {kind: tensor for kind, (tensor, _) in opened.items()}
        mapped = {kind: str(path) for kind, (_, path) in opened.items()}
    return SplitData(
        videos=names,
        families=[o or v for v, o in zip(per_video.video, per_video.original)],
        labels=torch.tensor(per_video.label.to_numpy(), dtype=torch.float32),
        frames=tensors.get("frames"),  # (V, T, 3, H, W) uint8
        flows=tensors.get("flows"),  # (V, T, 2, H, W) float16
        frames3d=tensors.get("frames3d"),  # (V, T, 3, S, S) uint8
        arrays=mapped,
    )


def _decode(kind: str, names: list[str], frames_root: Path, flow_root: Path | None) -> torch.Tensor:
    """The in-RAM path: every video decoded and stacked (the values the arrays hold, bit for bit)."""
    def chw(a):  # (T, H, W, 3) -> (T, 3, H, W)
        return a.transpose(0, 3, 1, 2)

    if kind == "flows":
        return torch.from_numpy(np.stack([load_flow(flow_root, n) for n in names]))
    return torch.from_numpy(np.stack([chw(load_video_frames(frames_root, n, three_d=kind == "frames3d"))
                                      for n in names]))


def _rows(x: torch.Tensor, index: torch.Tensor, lead: int = 1) -> torch.Tensor:
    """``x``'s items ``index`` over its first ``lead`` axes taken as one, copied into a new contiguous tensor.

    ``x[v, t]`` per item stacked, in one ``index_select`` over a view (the fastest CPU
    gather of whole rows); a non-contiguous ``x`` is indexed as it is, never copied whole.
    """
    if lead == 1:
        return x.index_select(0, index)
    if x.is_contiguous():
        return x.view(-1, *x.shape[lead:]).index_select(0, index)
    return x[index.div(x.shape[1], rounding_mode="floor"), index.remainder(x.shape[1])]


def _index(indices) -> torch.Tensor:
    return torch.as_tensor(indices, dtype=torch.int64)


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

    def batch(self, indices) -> dict:
        """Items ``indices`` as one batch: what ``default_collate([self[i] for i in indices])`` gives."""
        index = _index(indices)  # item i is frame i of the (V*T) frames, video i // T
        video = index.div(self.data.num_frames, rounding_mode="floor")
        key = "features" if self.features else "frames"
        return {key: _rows(getattr(self.data, key), index, 2), "label": self.data.labels.index_select(0, video),
                "video": video}


class FrameFlowBag(FrameBag):
    """A bag of (frame, flow) pairs: the frame and the flow field that ends at it."""

    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        v, t = self._index(i)
        item["flows"] = self.data.flows[v, t]  # (2, H, W)
        return item

    def batch(self, indices) -> dict:
        batch = super().batch(indices)
        batch["flows"] = _rows(self.data.flows, _index(indices), 2)
        return batch


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

    def batch(self, indices) -> dict:
        """Videos ``indices`` as one batch: what ``default_collate([self[v] for v in indices])`` gives."""
        video = _index(indices)
        if self.features:
            batch = {"features": _rows(self.data.features, video)}
        else:
            batch = {"frames": _rows(self.data.frames3d if self.three_d else self.data.frames, video)}
        batch.update(label=self.data.labels.index_select(0, video), video=video)
        if self.with_flow:
            batch["flows"] = _rows(self.data.flows, video)
        return batch


class Batched(Dataset):
    """A view whose ``DataLoader`` fetches each batch whole (``view.batch``); use with ``collate_fn=whole``.

    ``DataLoader`` calls ``__getitems__`` with a batch's indices in place of one
    ``__getitem__`` per item; its sampler (order and random draws) is unchanged.
    """

    def __init__(self, view: Dataset):
        self.view = view

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i: int) -> dict:
        return self.view[i]

    def __getitems__(self, indices: list[int]) -> dict:
        return self.view.batch(indices)


def whole(batch: dict) -> dict:
    """The ``collate_fn`` of a :class:`Batched` view: its batches come collated."""
    return batch


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

