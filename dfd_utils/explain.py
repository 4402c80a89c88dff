"""Where a detector looked in one clip: ``dfd predict --explain DIR`` writes its Grad-CAM strip as a PNG.

The strip is the chapters' figure (:func:`dfd_utils.plots.heatmap_strip`, the paper's
Figure 3): four of the clip's frames as the model saw them (cropped and resized as in
training), the Grad-CAM heat of the FAKE logit over them, and the Farneback flow of the
same frames beneath. Per-frame models get one map per frame; whole-video models one
map over the clip (the 3D CNN's moves in time).

Grad-CAM needs gradients, which ``dfd predict`` turns off while scoring: the model's
inputs are cloned outside inference mode first (an inference tensor cannot enter autograd).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dfd_utils.flow import video_flow
from dfd_utils.gradcam import gradcam
from dfd_utils.io import atomic_path
from dfd_utils.models import Detector
from dfd_utils.safe_names import printable


def clip_cams(model: Detector, x: torch.Tensor, flows: torch.Tensor | None) -> np.ndarray:
    """Grad-CAM heat ``(T, H, W)`` in [0, 1] for one clip: ``x`` ``(T, 3, H, W)`` uint8, ``flows`` ``(T, 2, H, W)``."""
    x = x.clone()  # a normal tensor: autograd refuses the inference tensors predict made
    flows = flows.clone() if flows is not None else None
    if model.level == "frame":
        cams = [gradcam(model, x[t], None if flows is None else flows[t]) for t in range(len(x))]
        return torch.stack(cams).numpy()
    return gradcam(model, x, flows).numpy()


MAX_STEM = 100  # characters of a clip's name kept in its strip's name (file names stop at 255 bytes)


def strip_path(folder: Path, video: str | Path, taken: set[str]) -> Path:
    """``<folder>/<video stem>.png``; a name already written in this run or already in ``folder`` (case aside)
    gets ``-2``, ``-3``...: a strip never replaces a file, this run's or an earlier one's."""
    stem = printable(Path(video).stem).replace("/", "_")[:MAX_STEM] or "clip"
    existing = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() else set()
    name, n = f"{stem}.png", 1
    while name.lower() in taken or name.lower() in existing:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name.lower())
    return folder / name


def write_strip(model: Detector, view: np.ndarray, x: torch.Tensor, flows: torch.Tensor | None, out: Path,
                title: str) -> Path:
    """The strip of one scored clip as a PNG at ``out``: ``view`` ``(T, H, W, 3)`` uint8 is what the model saw."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    from dfd_utils import plots

    cams = clip_cams(model, x, flows)  # (T, H, W)
    shown_flow = flows.numpy() if flows is not None else video_flow(view).astype(np.float32)  # (T, 2, H, W)
    count = len(view)
    positions = tuple(sorted({round(i * (count - 1) / 3) for i in range(4)}))  # four frames spread over the clip
    fig = plots.heatmap_strip(view, cams, shown_flow, positions=positions, title=title)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
