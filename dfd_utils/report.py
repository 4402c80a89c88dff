"""Tables that compare models, read from the files the experiments wrote."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfd_utils.io import read_json, write_json_atomic
from dfd_utils.paths import Paths

COLUMNS = ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "roc_auc", "log_loss")


def metrics_table(metrics: dict[str, dict]) -> pd.DataFrame:
    """One row per model: test video metrics, ``*_low``/``*_high`` bounds, threshold, table."""
    rows = {}
    for name, m in metrics.items():
        row = {"table": m.get("table", ""), "threshold": m.get("threshold")}
        for k in COLUMNS:
            row[k] = m["video"][k]
            low, high = m.get("video_ci", {}).get(k, (float("nan"), float("nan")))
            row[f"{k}_low"], row[f"{k}_high"] = low, high
        row["test_videos"] = m.get("test_videos")
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def formatted(table: pd.DataFrame, columns=("accuracy", "precision", "recall", "roc_auc", "balanced_accuracy")
              ) -> pd.DataFrame:
    """``0.91 [0.85, 0.96]`` strings, for the book's comparison table."""
    out = table[["table", "threshold"]].copy()
    for k in columns:
        out[k] = [f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in zip(table[k], table[f"{k}_low"], table[f"{k}_high"])]
    return out


def load_results(root: str | Path, names) -> tuple[dict[str, dict], dict[str, pd.DataFrame]]:
    """Every model's metrics JSON and video predictions that exist under ``root``."""
    paths = Paths.at(root)
    metrics, predictions = {}, {}
    for name in names:
        m, p = paths.metrics / f"{name}.json", paths.predictions / name / "videos.csv"
        if m.is_file() and p.is_file():
            metrics[name] = read_json(m)
            predictions[name] = pd.read_csv(p)
    if not metrics:
        raise FileNotFoundError(f"{paths.metrics}: no model results yet (run notebooks 04-07 or dvc repro)")
    return metrics, predictions


def write_summary(root: str | Path, table: pd.DataFrame) -> Path:
    path = Paths.at(root).metrics / "summary.json"
    write_json_atomic(path, {name: {k: float(row[k]) for k in COLUMNS} for name, row in table.iterrows()})
    return path
