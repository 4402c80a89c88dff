"""Scoring saved detectors on a test split (chapter 12): the cross table's and the frame-order test's one path.

A checkpoint is loaded once, its test split decoded once per root and input kind, a frozen
trunk's features taken from the shared store (the trunk as training ran it: device and memory
format are the store's own key), and the model scores in fp32 on the CPU, as training scored it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from dfd_utils.datasets import SplitData
from dfd_utils.evaluate import score_table
from dfd_utils.features import FeatureCache
from dfd_utils.models import Detector, load_checkpoint
from dfd_utils.paths import Paths
from dfd_utils.precision import prepare, resolve_device
from dfd_utils.stages.detector import load_inputs
from dfd_utils.stats import auc_interval
from dfd_utils.train import predict

CROSS_COLUMNS = ["model", "trained_on", "tested_on", "videos", "roc_auc", "low", "high", "method"]
SCORE_COLUMNS = ["model", "trained_on", "tested_on", "video", "family", "label", "prob"]


def saved_model(model_path: Path, test_root: Path, loaded: dict | None = None) -> tuple[Detector, dict, SplitData]:
    """``(model, its training settings, test_root's test split as the model reads it)``.

    ``loaded``: checkpoints already loaded (by path) and test splits already decoded (by root and input kind),
    shared across calls. A shared model is the same module each time: every use prepares it anew (:func:`featured`).
    """
    loaded = {} if loaded is None else loaded
    if ("model", str(model_path)) not in loaded:
        loaded[("model", str(model_path))] = load_checkpoint(model_path)
    model, info = loaded[("model", str(model_path))]
    key = (str(test_root), model.three_d, model.uses_flow)  # what load_inputs decodes for this model
    if key not in loaded:
        loaded[key] = load_inputs(Paths.at(test_root), model, "test")
    return model, info["config"]["train"], loaded[key]


def featured(model: Detector, train: dict, splits: dict[str, SplitData], store: Path | None
             ) -> tuple[Detector, dict[str, SplitData]]:
    """The model ready to score (fp32, contiguous, on the CPU) and ``splits`` with its frozen trunk's features.

    A frozen trunk's features come from the shared store: the test videos went through the same pretrained
    trunk when the model trained, so nothing runs twice. A fine-tuned trunk scores its frames whole.
    """
    if train["trunk"] == "frozen":  # the trunk as training ran it (device, memory format): the store's own key
        model = prepare(model, resolve_device(train["device"]), train["channels_last"])
        splits = FeatureCache(store)(model, splits)
    return model.float().to(memory_format=torch.contiguous_format).cpu(), dict(splits)  # as train_seed scores


def video_scores(model: Detector, data: SplitData, topk: int) -> pd.DataFrame:
    """One row per test video (``score_table``): a per-frame model's frames aggregated as training scored them."""
    probs = predict(model, data, 32, "cpu", "fp32")  # (V*T,) per-frame models, (V,) whole-video models
    per_frame = model.level == "frame"
    return score_table("test", data.videos, data.families, data.labels.numpy(), probs,
                       data.num_frames if per_frame else None, topk)


def test_scores(model_path: Path, test_root: Path, store: Path, topk: int, loaded: dict | None = None
                ) -> pd.DataFrame:
    """A saved detector's scores on another root's test split: one row per video (``score_table``)."""
    model, train, data = saved_model(model_path, test_root, loaded)
    model, splits = featured(model, train, {"test": data}, store)
    return video_scores(model, splits["test"], topk)


def cross_rows(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per-video scores (:data:`SCORE_COLUMNS`) -> one row per (model, train set, test set) with the test video
    AUC and its 95 % cluster-bootstrap BCa interval over families (:data:`CROSS_COLUMNS`, the method named)."""
    rows = []
    for (name, trained, tested), videos in scores.groupby(["model", "trained_on", "tested_on"], sort=False):
        iv = auc_interval(videos.label, videos.prob, videos.family, n_boot=n_boot, seed=seed)
        rows.append({"model": name, "trained_on": trained, "tested_on": tested, "videos": len(videos),
                     "roc_auc": iv.point, "low": iv.low, "high": iv.high, "method": iv.method})
    return pd.DataFrame(rows, columns=CROSS_COLUMNS)
