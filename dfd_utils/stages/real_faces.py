"""Full frame or face crop? The five detectors on one set, under two preprocessings (notebook 09).

Both variants read the same videos (one subset) and differ only in what stage 02
writes: ``full`` resizes the whole frame, ``face`` crops the tracked face (a
square by default, the DFDC winners' input). Each variant is a complete study root
(frames, flow, models, predictions, metrics), so every result is a file a reader
can open, and an interrupted run resumes where it stopped.

Layout under ``<root>/artifacts/``::

    real_faces/full/artifacts/subset/           the faces set (shared by both variants)
    real_faces/full/artifacts/{frames,flow,...} full-frame inputs and results
    real_faces/face/artifacts/{frames,flow,...} face-crop inputs and results
    real_faces/{full,face}/metrics/<model>.json
    real_faces_runs/{full,face}/<model>/        resumable training state (kept out of the cached results)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfd_utils.io import write_json_atomic
from dfd_utils.paths import Paths
from dfd_utils.report import metrics_table
from dfd_utils.stages.detector import Result, run_experiment
from dfd_utils.stages.flow import optical_flow
from dfd_utils.stages.frames import extract_frames
from dfd_utils.stages.subset import make_subset

VARIANTS = ("full", "face")


def variant_root(root: str | Path, variant: str) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return Paths.at(root).artifacts / "real_faces" / variant


def runs_folder(root: str | Path, variant: str) -> Path:
    return Paths.at(root).artifacts / "real_faces_runs" / variant


def subset_folder(root: str | Path) -> Path:
    return Paths.at(variant_root(root, "full")).subset


def make_faces_set(study: dict, root: str | Path, seed: int = 0) -> dict:
    """The faces set for both variants: ``study`` holds num_videos, fake_share and the source knobs."""
    data = {"source": "faces", "num_videos": study["num_videos"], "fake_share": study["fake_share"],
            "faces": study.get("faces", {})}
    return make_subset(data, variant_root(root, "full"), seed=seed)


def variant_frames(frames: dict, variant: str, overrides: dict) -> dict:
    """The frame settings of one variant: the study's, then the variant's overrides."""
    return {**frames, **overrides.get(variant, {}), "crop": variant}


def prepare_variant(variant: str, frames: dict, flow: dict, root: str | Path, seed: int = 0, workers: int = 0
                    ) -> dict:
    """Stages 02 and 03 for one variant, reading the shared subset."""
    where = variant_root(root, variant)
    extracted = extract_frames(frames, {"train": 0.8, "val": 0.1, "test": 0.1}, where, seed=seed, workers=workers,
                               subset=subset_folder(root))
    optical_flow(flow, where, workers=workers)
    return extracted


def train_variant(variant: str, model_name: str, train: dict, frames: dict, evaluate: dict, root: str | Path,
                  seed: int = 0, device: str = "cpu", models: dict | None = None) -> Result:
    """Stages 04-07 for one model of one variant (learning curves in the result, not DVCLive).

    ``models``: per-model overrides of ``train`` (``params.yaml`` › ``models``).
    """
    return run_experiment(model_name, train, frames, evaluate, root=variant_root(root, variant), seed=seed,
                          device=device, data_info={"source": "faces", "variant": variant}, live=False,
                          runs=runs_folder(root, variant), models=models)


def comparison(metrics: dict[str, dict[str, dict]], metric: str = "roc_auc") -> pd.DataFrame:
    """One row per model: ``metric`` with its 95 % interval for each variant, and face minus full.

    ``metrics``: ``{variant: {model: metrics JSON}}``.
    """
    rows = {}
    for variant, by_model in metrics.items():
        table = metrics_table(by_model)
        for model, row in table.iterrows():
            rows.setdefault(model, {"table": row["table"]})
            rows[model][variant] = row[metric]
            rows[model][f"{variant}_low"] = row[f"{metric}_low"]
            rows[model][f"{variant}_high"] = row[f"{metric}_high"]
    out = pd.DataFrame.from_dict(rows, orient="index")
    if {"full", "face"} <= set(metrics):
        out["face_minus_full"] = out["face"] - out["full"]
    return out


def write_comparison(path: str | Path, table: pd.DataFrame, metric: str = "roc_auc") -> Path:
    """``metrics/real_faces.json`` for ``dvc metrics show``: the metric per model and variant."""
    values = {model: {k: float(row[k]) for k in (*VARIANTS, "face_minus_full") if k in row and pd.notna(row[k])}
              for model, row in table.iterrows()}
    write_json_atomic(Path(path), {"metric": metric, "models": values})
    return Path(path)


def rule_table(metrics: dict[str, dict[str, dict]], metric: str = "roc_auc") -> pd.DataFrame:
    """Per-frame models: ``metric`` of each frame-to-video rule, one row per model, one column per variant and rule.

    The paper's rule (the share of frames over 0.5) is a step function of the frame
    scores: when a model's frame probabilities all sit on one side of 0.5, every video
    gets the same share and the AUC is 0.5 whatever the ranking. The mean rule keeps
    the ranking; the table shows both.
    """
    rows: dict[str, dict] = {}
    for variant, by_model in metrics.items():
        for model, m in by_model.items():
            for rule, values in m.get("rules", {}).items():
                rows.setdefault(model, {})[(variant, rule)] = values[metric]
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table.columns = pd.MultiIndex.from_tuples(table.columns, names=["input", "rule"])
    return table
