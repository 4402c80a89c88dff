"""How hard the demo's fakes are, chosen before any detector is compared (notebook 00).

The synthetic generator's five artifact knobs (seam, colour mismatch, resolution
mismatch, jitter, flicker: :mod:`dfd_utils.sources.artifacts`) are turned together to
one *strength*. Too strong, and every detector reaches AUC 1.0, so nothing can be
compared; too weak, and every detector sits at chance. The sweep renders a small set
at each strength of ``difficulty.strengths`` (the study's clip size, frames and
``unaltered_share``; only the fakes change between strengths, so the reals and their
frames are made once), trains the per-frame baseline as the study trains it on its
train split, and scores it on its validation split. Its test split is never read.

The rule that turns the runs into one strength, and the texts the chapters show,
are :mod:`dfd_utils.difficulty` (torch-free, so chapter 01 can check the choice).

Writes ``artifacts/difficulty/`` (the sweep's set, remade per strength) and
``metrics/difficulty.json`` (every run's validation AUC and the choice).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from dfd_utils.config import StudyConfig
from dfd_utils.datasets import load_split
from dfd_utils.difficulty import STRENGTH_KNOBS, choice_text, choose, runs_table, settings_text, write_result
from dfd_utils.evaluate import video_scores
from dfd_utils.features import FeatureCache
from dfd_utils.paths import Paths
from dfd_utils.stages.detector import model_config, train_seed
from dfd_utils.stages.frames import extract_frames
from dfd_utils.stages.subset import make_subset
from dfd_utils.train import predict

log = logging.getLogger(__name__)


def sweep_root(root: str | Path) -> Path:
    return Paths.at(root).artifacts / "difficulty"


def data_at(study: StudyConfig, strength: float) -> dict:
    """The ``data`` section of the sweep's set at one strength: the study's synthetic source, every knob at it."""
    knobs = {**study.data.synthetic, **{k: strength for k in STRENGTH_KNOBS}}
    return {"source": "synthetic", "num_videos": study.difficulty.num_videos, "fake_share": study.data.fake_share,
            "synthetic": knobs}


def baseline_validation_auc(study: StudyConfig, root: Path, feature_store: Path | None = None) -> list[float]:
    """The baseline, trained as the study trains it, once per seed: its video AUC on ``root``'s validation split.

    ``feature_store``: where a frozen trunk's features are kept (:class:`dfd_utils.features.FeatureCache`).
    The video score is the mean of the frame probabilities (the study's ranking score).
    """
    paths = Paths.at(root)
    cfg, settings = study.train_for("baseline")
    mcfg = model_config("baseline", settings, study.frames)
    data = {split: load_split(paths.frames, split) for split in ("train", "val")}
    features = FeatureCache(feature_store) if cfg.trunk == "frozen" else None
    labels = data["val"].labels.numpy()
    aucs = []
    for seed in range(study.seed, study.seed + study.difficulty.seeds):
        cfg_seed = type(cfg)(**{**asdict(cfg), "seed": seed})
        model, _, scored = train_seed("baseline", mcfg, cfg_seed, data, paths.artifacts / "runs" / f"seed{seed}",
                                      features)
        frame_probs = predict(model, scored["val"]).reshape(len(labels), -1)  # (V, T)
        aucs.append(float(roc_auc_score(labels, video_scores(frame_probs, "mean"))))
    return aucs


def sweep(study: StudyConfig, root: str | Path) -> pd.DataFrame:
    """One row per strength and seed: the baseline's validation AUC on a set rendered at that strength."""
    work = sweep_root(root)
    cfg = study.difficulty
    splits = dict(zip(("train", "val", "test"), cfg.splits))
    rows = []
    for strength in cfg.strengths:
        make_subset(data_at(study, strength), work, seed=study.seed, workers=study.workers)
        extract_frames(asdict(study.frames), splits, work, seed=study.seed, workers=study.workers)
        torch.manual_seed(study.seed)
        for seed, auc in enumerate(baseline_validation_auc(study, work, Paths.at(root).features), start=study.seed):
            rows.append({"strength": strength, "seed": seed, "val_auc": auc})
        aucs = [round(r["val_auc"], 3) for r in rows[-cfg.seeds:]]
        log.info("strength %.2f: baseline validation AUC %s", strength, aucs)
    return pd.DataFrame(rows)


__all__ = ["STRENGTH_KNOBS", "baseline_validation_auc", "choice_text", "choose", "data_at", "runs_table",
           "settings_text", "sweep", "sweep_root", "write_result"]
