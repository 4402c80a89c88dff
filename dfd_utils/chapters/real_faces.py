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

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.config import StudyConfig, data_config
from dfd_utils.frame_store import load_video_frames
from dfd_utils.io import write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.paths import Paths
from dfd_utils.report import metrics_table, with_intervals
from dfd_utils.sources import faces
from dfd_utils.stages.detector import Result, run_experiment
from dfd_utils.stages.extract_frames import extract_frames
from dfd_utils.stages.optical_flow import optical_flow
from dfd_utils.stats import paired_auc_difference
from dfd_utils.video import read_sampled_frames

VARIANTS = ("full", "face")


def variant_root(root: str | Path, variant: str) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return Paths.at(root).artifacts / "real_faces" / variant


def runs_folder(root: str | Path, variant: str) -> Path:
    return Paths.at(root).artifacts / "real_faces_runs" / variant


def subset_folder(root: str | Path) -> Path:
    return Paths.at(variant_root(root, "full")).subset


def make_faces_set(study: StudyConfig, root: str | Path) -> dict:
    """The faces set for both variants (``real_faces``: num_videos, fake_share, the source's knobs)."""
    chapter = study.real_faces
    data = {"source": "faces", "num_videos": chapter.num_videos, "fake_share": chapter.fake_share,
            "faces": chapter.faces}
    subset = Paths.at(variant_root(root, "full")).subset
    with writing(subset):  # the faces generator directly, not stage 01's dispatch: no other source is code it runs
        return faces.generate(data_config(data).generator(study.seed), subset)


def set_counts(metadata: dict) -> pd.DataFrame:
    """Videos per split, person and kind (real, overlay, self-blended)."""
    table = pd.DataFrame.from_dict(metadata, orient="index").fillna({"fake_type": "real"})
    return table.groupby(["study_split", "identity", "fake_type"]).size().unstack(fill_value=0)


def example_frames(metadata: dict, root: str | Path, per_row: int = 4) -> dict[str, np.ndarray]:
    """For each person, one original and one fake of each kind made from it: ``{title: (T, H, W, 3) uint8}``."""
    subset = subset_folder(root)
    rows: dict[str, np.ndarray] = {}
    for kind in ("overlay", "self_blended"):
        seen: set[str] = set()
        for name, entry in sorted(metadata.items()):
            if entry.get("fake_type") != kind or entry.get("identity") in seen:
                continue
            seen.add(entry["identity"])
            original = entry["original"]
            rows.setdefault(f"REAL {original}", read_sampled_frames(subset / original, per_row)[0])
            rows[f"{kind} {name}"] = read_sampled_frames(subset / name, per_row)[0]
    return rows


def variant_frames(frames: dict, variant: str, overrides: dict) -> dict:
    """The frame settings of one variant: the study's, then the variant's overrides."""
    return {**frames, **overrides.get(variant, {}), "crop": variant}


def frames_for(study: StudyConfig, variant: str) -> dict:
    return variant_frames(asdict(study.frames), variant, study.real_faces.frames)


def prepare_variants(study: StudyConfig, root: str | Path) -> dict[str, dict]:
    """Stages 02 and 03 for both variants, reading the shared subset: ``{variant: extract_frames' result}``."""
    prepared = {}
    for variant in VARIANTS:
        where = variant_root(root, variant)
        prepared[variant] = extract_frames(frames_for(study, variant), {"train": 0.8, "val": 0.1, "test": 0.1},
                                           where, seed=study.seed, workers=study.workers, subset=subset_folder(root))
        optical_flow(asdict(study.flow), where, workers=study.workers)
    return prepared


def face_crop_note(prepared: dict[str, dict]) -> str:
    """How often the face variant really saw a tracked face."""
    crop = prepared["face"]["face_crop"]
    made = ", ".join(f"{d} {n}" for d, n in crop.get("detectors", {}).items())
    return (f"face crop: the detector saw the tracked face in {crop['frames_with_face']} of {crop['frames']} frames "
            f"(tracks made by {made or 'no detector'} of {crop['videos']} videos; Haar only where YuNet saw no "
            f"face); {crop['fallbacks']} of {crop['videos']} videos fell back to the full frame "
            f"{crop['fallback_videos'][:5]}")


def example_in_both(metadata: dict, root: str | Path) -> dict[str, np.ndarray]:
    """A test fake as each variant's detector sees it: ``{"full: x.mp4": (T, h, w, 3), "face: x.mp4": ...}``."""
    name = next(n for n, e in sorted(metadata.items()) if e["label"] == "FAKE" and e["study_split"] == "test")
    return {f"{v}: {name}": load_video_frames(Paths.at(variant_root(root, v)).frames, name) for v in VARIANTS}


def train_variant(variant: str, model_name: str, study: StudyConfig, root: str | Path) -> Result:
    """Stages 04-07 for one model of one variant (learning curves in the result, not DVCLive).

    Training takes ``train``, the model's override in ``models``, then ``real_faces.train`` on top.
    """
    train = {**study.train, **study.real_faces.train}
    return run_experiment(model_name, train, frames_for(study, variant), asdict(study.evaluate),
                          root=variant_root(root, variant), seed=study.seed, device=study.device,
                          data_info={"source": "faces", "variant": variant}, live=False,
                          runs=runs_folder(root, variant), models=study.models,
                          feature_store=Paths.at(root).features)  # shared with chapters 04-07 (keyed on the frames)


def train_all(study: StudyConfig, root: str | Path) -> dict[str, dict[str, dict]]:
    """Every model of ``real_faces.models`` on both variants: ``{variant: {model: metrics JSON}}``."""
    return {variant: {name: train_variant(variant, name, study, root).metrics for name in study.real_faces.models}
            for variant in VARIANTS}


def training_table(results: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """How each training went: best epoch, epochs run, validation and test AUC."""
    rows = [{"input": v, "model": m, "best epoch": r["best_epoch"], "epochs run": r["epochs_run"],
             "validation AUC": round(r["val_video"]["roc_auc"], 3), "test AUC": round(r["video"]["roc_auc"], 3)}
            for v, by_model in results.items() for m, r in by_model.items()]
    return pd.DataFrame(rows).set_index(["input", "model"])


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


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as the book prints it: each variant's AUC with its interval, and the change."""
    out = with_intervals(table, [v for v in VARIANTS if v in table], keep=("table",))
    if "face_minus_full" in table:
        out["face - full"] = table["face_minus_full"].map("{:+.2f}".format)
    return out


def paired(root: str | Path, results: dict[str, dict[str, dict]], n_boot: int = 1000, seed: int = 0
           ) -> pd.DataFrame:
    """Face crop minus full frame per model, paired: the AUC difference over the same test videos (the first
    seed's models, cluster bootstrap BCa over families) and the difference at every seed (the same split)."""
    rows = []
    for model in results.get("full", {}):
        if model not in results.get("face", {}):
            continue
        tests = [pd.read_csv(Paths.at(variant_root(root, v)).predictions / model / "videos.csv").query(
            "split == 'test'").sort_values("video").reset_index(drop=True) for v in ("face", "full")]
        if list(tests[0].video) != list(tests[1].video):
            raise ValueError(f"{model}: the two inputs were not scored on the same test videos")
        d = paired_auc_difference(tests[0].label, tests[0].prob, tests[1].prob, tests[0].family, n_boot, seed)
        runs = {v: {r["seed"]: r["roc_auc"] for r in results[v][model].get("seeds", {}).get("runs", [])}
                for v in ("face", "full")}
        per_seed = [runs["face"][s] - runs["full"][s] for s in sorted(runs["face"]) if s in runs["full"]]
        rows.append({"model": model, "difference": d.point, "low": d.low, "high": d.high, "method": d.method,
                     "seeds": per_seed})
    return pd.DataFrame(rows, columns=["model", "difference", "low", "high", "method", "seeds"])


def reading(table: pd.DataFrame, results: dict[str, dict[str, dict]], differences: pd.DataFrame | None = None
            ) -> str:
    """What the comparison allows one to say: from the paired intervals, counted only where every seed agrees."""
    test_videos = next(iter(results["full"].values()))["test_videos"]
    text = (f"Face crops score higher for {int((table.face_minus_full > 0).sum())} of {len(table)} models (mean "
            f"change {table.face_minus_full.mean():+.3f} AUC, first seed).")
    if differences is None or differences.empty:
        return text
    def agree(r, sign: int) -> bool:
        return all(sign * s > 0 for s in r.seeds)

    better = [r.model for r in differences.itertuples() if r.low > 0 and agree(r, 1)]
    worse = [r.model for r in differences.itertuples() if r.high < 0 and agree(r, -1)]
    rest = len(differences) - len(better) - len(worse)
    return (f"{text} Paired over the same {test_videos} test videos (the AUC difference, face minus full, "
            f"{differences.method.iloc[0]}) and at every seed: face crops are better for "
            f"{', '.join(better) or 'no model'}, worse for {', '.join(worse) or 'no model'}; for the other {rest} the "
            "interval holds 0 or a seed disagrees, so nothing is shown either way.")


def confusions(results: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """``{"model\nvariant": metrics}`` in variant-major order, for :func:`dfd_utils.panels.confusion_grid`."""
    return {f"{m}\n{v}": r for v, by_model in results.items() for m, r in by_model.items()}
