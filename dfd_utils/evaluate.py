"""From probabilities to the paper's decisions and metrics, with honest intervals.

Per-frame models decide a video (a) by the paper's rule: the share of its frames
called FAKE (p >= 0.5) against a threshold from the grid 0.3..0.7, and (b) by
aggregating probabilities (mean, max, top-k mean). The paper picked the threshold
on the test set; we pick it on validation, so test labels never choose anything.

Intervals are bootstrap percentiles resampled by *family* (an original with its
fakes): videos of one family are not independent, so resampling videos would
make the intervals too narrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

THRESHOLD_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)  # the paper's grid


def binary_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1, balanced accuracy, ROC AUC and log loss."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=float)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else float("nan"),
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else float("nan"),
        "log_loss": float(skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
    }


def aggregate_frames(frame_probs: np.ndarray, num_frames: int, topk: int = 4) -> pd.DataFrame:
    """Frame probabilities in video order ``(V*T,)`` -> one row per video, per rule.

    share: fraction of frames with p >= 0.5 (the paper's rule, thresholded later);
    mean (DeepfakeBench); max; topk: mean of the k most confident-FAKE frames.
    """
    p = np.asarray(frame_probs, dtype=float).reshape(-1, num_frames)  # (V, T)
    k = min(topk, num_frames)
    return pd.DataFrame({
        "share": (p >= 0.5).mean(axis=1),
        "mean": p.mean(axis=1),
        "max": p.max(axis=1),
        "topk": np.sort(p, axis=1)[:, -k:].mean(axis=1),
    })


def choose_threshold(val_labels, val_scores, grid=THRESHOLD_GRID) -> float:
    """The grid threshold with the best validation accuracy (ties: the one nearest 0.5)."""
    y = np.asarray(val_labels).astype(int)
    s = np.asarray(val_scores, dtype=float)
    best = max(grid, key=lambda t: (((s >= t).astype(int) == y).mean(), -abs(t - 0.5)))
    return float(best)


def bootstrap_ci(labels, probs, families, threshold: float = 0.5, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Percentile intervals for every metric of ``binary_metrics``, resampling families."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=float)
    fam = pd.factorize(np.asarray(families))[0]
    members = [np.flatnonzero(fam == f) for f in range(fam.max() + 1)]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        idx = np.concatenate([members[f] for f in rng.integers(len(members), size=len(members))])
        if len(np.unique(y[idx])) < 2:
            continue  # AUC is undefined on one class; skip the draw
        for k, v in binary_metrics(y[idx], p[idx], threshold).items():
            samples.setdefault(k, []).append(v)
    return {k: (float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))) for k, v in samples.items()}


def confusion(labels, probs, threshold: float = 0.5) -> np.ndarray:
    """2x2 counts, rows true (REAL, FAKE), columns predicted."""
    return skm.confusion_matrix(np.asarray(labels).astype(int), (np.asarray(probs) >= threshold).astype(int),
                                labels=[0, 1])
