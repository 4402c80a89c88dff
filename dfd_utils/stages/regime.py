"""How much of the 3D CNN trains, chosen on validation videos (notebook 07).

Frozen whole, the inflated 3D CNN cannot learn time: its kernels are ImageNet's 2D
kernels averaged over 3 or 5 frames, and only a head over features pooled across
time trains. Its last blocks (``models.cnn3d.train_blocks``) can: their 3D kernels
start as that average and learn to weigh the frames differently. How many should
train is a design choice, so it is made as every choice here is: on the validation
split only, each candidate of ``models.cnn3d.train_blocks_grid`` trained once (the
study's first seed, its training settings), the one with the highest validation video
AUC wins (ties: the fewer trained blocks, the cheaper model). ``params.yaml`` sets
``train_blocks`` to that choice, and the chapter says so or says loudly that it does not
(as chapter 01 does for chapter 00's strengths). The test split is never read here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from dfd_utils.config import StudyConfig
from dfd_utils.features import FeatureCache
from dfd_utils.io import read_json
from dfd_utils.models import MODELS
from dfd_utils.paths import Paths
from dfd_utils.stages.detector import load_inputs, model_config, train_seed
from dfd_utils.stats import auc
from dfd_utils.train import predict

MODEL = "cnn3d"
RULE = "the train_blocks of models.cnn3d.train_blocks_grid with the highest validation video AUC (ties: fewer blocks)"


def choose(val_auc: dict[int, float]) -> int:
    """The rule: the highest validation AUC; ties (to 1e-9) go to the fewer trained blocks."""
    return min(val_auc, key=lambda k: (-round(val_auc[k], 9), k))


def compare(study: StudyConfig, root: str | Path = ".") -> dict:
    """Each candidate of the grid trained once on train, scored on val: ``{"val_auc": {blocks: auc}, "chosen": k}``.

    Chapter 07 keeps it in ``metrics/cnn3d.json`` (``regime``). Runs under ``artifacts/runs/cnn3d_regime``
    (resumable, like any run).
    """
    paths = Paths.at(root)
    cfg, settings = study.train_for(MODEL)
    data = {s: load_inputs(paths, MODELS[MODEL], s) for s in ("train", "val")}
    features = FeatureCache(paths.features) if cfg.trunk == "frozen" else None
    labels = data["val"].labels.numpy()
    val_auc = {}
    for blocks in settings.train_blocks_grid:
        mcfg = model_config(MODEL, replace(settings, train_blocks=blocks), study.frames)
        model, _, scored = train_seed(MODEL, mcfg, cfg, data, paths.runs / "cnn3d_regime" / f"blocks{blocks}",
                                      features)
        probs = predict(model, scored["val"])  # (V,) one probability per validation video
        val_auc[blocks] = float(auc(labels, probs))
    result = {"rule": RULE, "seed": cfg.seed, "trunk": cfg.trunk, "val_videos": int(len(labels)),
              "val_auc": {str(k): v for k, v in val_auc.items()},
              "chosen": choose(val_auc) if val_auc else settings.train_blocks,
              "used": settings.train_blocks}
    return result


def load(root: str | Path = ".") -> dict | None:
    """The comparison chapter 07 kept in ``metrics/cnn3d.json``, or ``None``."""
    path = Paths.at(root).metrics / f"{MODEL}.json"
    return read_json(path).get("regime") if path.is_file() else None


def text(result: dict) -> str:
    """What was compared, what won, and whether the study trains what won."""
    if not result["val_auc"]:
        return f"No grid to compare (`models.cnn3d.train_blocks_grid` is empty): {result['used']} blocks train."
    aucs = ", ".join(f"{k} block{'s' if k != '1' else ''}: {v:.3f}" for k, v in result["val_auc"].items())
    lines = [f"Validation video AUC ({result['val_videos']} videos, seed {result['seed']}, trunk "
             f"{result['trunk']}) with the inflated trunk's last N blocks training: {aucs}. "
             f"The rule ({RULE}) chooses **{result['chosen']}**."]
    if result["chosen"] == result["used"]:
        lines.append(f"The study trains {result['used']} block(s), the choice.")
    else:
        lines.append(f"**`models.cnn3d.train_blocks` is {result['used']}, not the choice {result['chosen']}**: "
                     "the 3D CNN's results below answer for another regime.")
    best = max(result["val_auc"].values())
    if np.isclose(best, 0.5, atol=0.05):
        lines.append("No candidate is clearly above chance on validation.")
    return " ".join(lines)


__all__ = ["choose", "compare", "load", "text"]
