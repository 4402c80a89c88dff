"""The figures and tables every detector chapter shows, composed from what training wrote.

``plots`` draws arrays; this module knows where a detector's results live (a
:class:`~dfd_utils.stages.detector.Result` or the metrics files) and assembles the
panels the chapters share: learning curves, confusion matrix beside ROC, the
frame-to-video rules table, a Grad-CAM strip beside the flow, and their grids for
the comparison chapters. Notebooks call one function per panel and stay narrative.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from dfd_utils import plots
from dfd_utils.datasets import SplitData
from dfd_utils.flow import load_flow
from dfd_utils.frame_store import load_video_frames
from dfd_utils.gradcam import gradcam
from dfd_utils.models import Detector
from dfd_utils.paths import Paths, require

RULE_COLUMNS = ["threshold", "accuracy", "precision", "recall", "f1", "balanced_accuracy", "roc_auc"]


def headline(name: str, table: str, metrics: dict) -> str:
    """``baseline (Table 1): best epoch 3 of 5, test ROC AUC 0.91 [0.85, 0.96] on 13 videos; 3 seeds: 0.90 ± 0.01``."""
    auc = metrics["video"]["roc_auc"]
    low, high = metrics.get("video_ci", {}).get("roc_auc", (float("nan"), float("nan")))
    text = (f"{name} ({table}): best epoch {metrics['best_epoch']} of {metrics['epochs_run']}, "
            f"test ROC AUC {auc:.2f} [{low:.2f}, {high:.2f}] on {metrics['test_videos']} videos")
    runs = metrics.get("seeds", {}).get("runs", [])
    if len(runs) > 1:
        spread = metrics["seeds"]["spread"]["roc_auc"]
        text += f"; {len(runs)} seeds: {spread['mean']:.2f} ± {spread['sd']:.2f}"
    return text


def learning_curves(result):
    """The run's learning curves, titled with its headline."""
    return plots.learning_curves(result.history, headline(result.name, result.model.table, result.metrics))


def rules_table(metrics: dict) -> pd.DataFrame:
    """Per-frame models: each frame-to-video rule's threshold (chosen on validation) and test metrics."""
    if "rules" not in metrics:
        return pd.DataFrame(columns=RULE_COLUMNS)
    return pd.DataFrame(metrics["rules"]).T[RULE_COLUMNS].astype(float).round(3)


def rules_long(metrics: dict[str, dict], metric_keys=("threshold", "accuracy", "f1", "roc_auc")) -> pd.DataFrame:
    """Every per-frame model's rules in one table: one row per (model, rule)."""
    rows = [{"model": name, "rule": rule, **{k: r[k] for k in metric_keys}}
            for name, m in metrics.items() for rule, r in m.get("rules", {}).items()]
    return pd.DataFrame(rows, columns=["model", "rule", *metric_keys]).round(3)


def frame_metrics(metrics: dict) -> pd.DataFrame:
    """Per-frame models: the test metrics of single frames, before any video decision."""
    return pd.Series(metrics.get("frame", {}), dtype=float).round(3).to_frame("test frames")


def test_curve(videos: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(labels, scores) of the test videos of a predictions table."""
    test = videos[videos.split == "test"]
    return test.label, test.prob


def confusion_and_roc(name: str, metrics: dict, videos: pd.DataFrame):
    """The test confusion matrix at the chosen threshold beside the test ROC curve."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    plots.confusion_matrix(metrics["confusion"], f"{name}, threshold {metrics['threshold']:g}", ax=axes[0])
    plots.roc_curves({name: test_curve(videos)}, ax=axes[1])
    return plots.fit_page(fig)


def confusion_grid(metrics: dict[str, dict], columns: int = 3):
    """One confusion matrix per entry of ``metrics`` (``{title: metrics JSON}``), in rows of ``columns``
    (three fit the page with digits a reader can read)."""
    columns = max(1, min(columns, len(metrics)))
    rows = -(-len(metrics) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.8 * columns, 2.6 * rows), squeeze=False)
    for ax, (title, m) in zip(axes.flat, metrics.items()):
        plots.confusion_matrix(m["confusion"], title, ax=ax)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    return plots.fit_page(fig)


def roc_of(predictions: dict[str, pd.DataFrame]):
    """Every model's test ROC curve on one plot."""
    return plots.roc_curves({name: test_curve(p) for name, p in predictions.items()})


def first_fake(data: SplitData) -> int:
    """The index of the split's first FAKE video (the first video when there is none)."""
    fakes = np.flatnonzero(data.labels.numpy() == 1)
    return int(fakes[0]) if len(fakes) else 0


def example_pair(root: str | Path, split: str = "test") -> tuple[str, str | None]:
    """The first FAKE video of ``split`` (the one :func:`gradcam_strip` explains) and its original, if listed."""
    manifest = pd.read_csv(require(Paths.at(root).frames / "manifest.csv", "frames"), keep_default_na=False)
    videos = manifest[manifest.split == split].drop_duplicates("video").sort_values("video")
    fakes = videos[videos.label == 1]
    if fakes.empty:
        raise ValueError(f"{Paths.at(root).frames}: no FAKE video in the {split} split to show")
    fake = fakes.iloc[0]
    return fake.video, (fake.original or None)


def example_frames(root: str | Path, frames: int = 6, three_d: bool = False) -> dict[str, np.ndarray]:
    """What a detector reads of one fake and its original, ``frames`` evenly spaced of each: ``{title: (n, H, W, 3)}``.

    ``three_d``: the square frames the 3D CNN reads instead of the 2D models' frames.
    """
    store = Paths.at(root).frames
    fake, original = example_pair(root)
    rows = {f"REAL {original}": load_video_frames(store, original, three_d)} if original else {}
    rows[f"FAKE {fake}"] = load_video_frames(store, fake, three_d)  # (T, H, W, 3) uint8
    picks = np.linspace(0, len(rows[f"FAKE {fake}"]) - 1, frames).round().astype(int)
    return {title: video[picks] for title, video in rows.items()}


def example_flow(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The fake of :func:`example_pair` as the two-stream models read it.

    Returns frames ``(T, H, W, 3)`` uint8 and the flows that end at them ``(T, 2, h, w)``.
    """
    paths = Paths.at(root)
    fake, _ = example_pair(root)
    return load_video_frames(paths.frames, fake), load_flow(require(paths.flow, "flow"), fake)


def video_cams(model: Detector, data: SplitData, v: int) -> torch.Tensor:
    """Grad-CAM of video ``v``, one map per frame ``(T, H, W)``: frame by frame for per-frame models."""
    frames = data.frames3d[v] if model.three_d else data.frames[v]  # (T, 3, H, W) uint8
    flows = data.flows[v] if model.uses_flow else None  # (T, 2, H, W)
    if model.level == "frame":
        return torch.stack([gradcam(model, frames[t], None if flows is None else flows[t])
                            for t in range(len(frames))])
    return gradcam(model, frames, flows)


def gradcam_strip(model: Detector, data: SplitData, flow_root: str | Path, name: str = ""):
    """Where the model looks on the split's first fake: frames, Grad-CAM, and the flow beneath (paper Figure 3).

    The flow comes from ``data`` when the model reads it, else from stage 03's files under ``flow_root``.
    """
    v = first_fake(data)
    frames = data.frames3d[v] if model.three_d else data.frames[v]  # (T, 3, H, W) uint8
    cams = video_cams(model, data, v)  # (T, H, W)
    flows = data.flows[v].numpy() if data.flows is not None else load_flow(flow_root, data.videos[v])  # (T, 2, h, w)
    label = "FAKE" if int(data.labels[v]) == 1 else "REAL"
    return plots.heatmap_strip(frames.permute(0, 2, 3, 1).numpy(), cams.numpy(), flows,
                               title=f"{name or model.table} on {data.videos[v]} ({label})")
