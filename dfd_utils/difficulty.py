"""The demo's difficulty: the rule that chooses it and what the chapters say of it (torch-free).

Chapter 00 (``dfd_utils.stages.difficulty``) renders a small synthetic set at each
artifact strength and records the baseline's validation AUC; this module holds the
rule that turns those runs into one strength, ``metrics/difficulty.json``, and the
check that chapter 01 makes: is the study's own set rendered at the chosen strength?
Kept apart from the sweep so that chapter 01 need not import the training code.

The rule, fixed before the five models are compared: the demo uses the strength
whose mean baseline validation AUC is nearest ``difficulty.target_auc`` (ties: the
weaker artifacts). The baseline alone decides, on validation videos only, so no
comparison between models can steer the choice; 0.85 leaves room both above (a
better detector can show it) and below (a worse one can too).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.config import StudyConfig
from dfd_utils.io import read_json, write_json_atomic
from dfd_utils.paths import Paths

STRENGTH_KNOBS = ("seam", "color_mismatch", "resolution_mismatch", "jitter", "flicker")


def choose(table: pd.DataFrame, target: float) -> float:
    """The rule: the strength whose mean validation AUC is nearest ``target``; ties go to the weaker artifacts."""
    means = table.groupby("strength").val_auc.mean()
    distance = (means - target).abs()
    return float(min(means.index, key=lambda s: (round(float(distance[s]), 9), s)))


def write_result(path: str | Path, table: pd.DataFrame, study: StudyConfig) -> dict:
    """``metrics/difficulty.json``: the rule, every run and the chosen strength."""
    cfg = study.difficulty
    result = {"rule": f"the strength whose mean baseline validation AUC is nearest {cfg.target_auc}",
              "target_auc": cfg.target_auc, "knobs": list(STRENGTH_KNOBS),
              "mean_val_auc": {f"{s:g}": float(v) for s, v in table.groupby("strength").val_auc.mean().items()},
              "runs": table.to_dict(orient="records"), "chosen": choose(table, cfg.target_auc)}
    write_json_atomic(Path(path), result)
    return result


def demo_strengths(study: StudyConfig) -> dict[str, float]:
    """The artifact knobs the study's own set is rendered with (``data.synthetic``)."""
    from dfd_utils.sources.synthetic import SyntheticConfig

    knobs = asdict(SyntheticConfig(**study.data.synthetic))
    return {k: knobs[k] for k in STRENGTH_KNOBS}


def follows_choice(study: StudyConfig, result: dict) -> bool:
    """Whether ``data.synthetic`` sets every artifact knob to the sweep's chosen strength."""
    return all(np.isclose(v, result["chosen"]) for v in demo_strengths(study).values())


def load_result(root: str | Path) -> dict | None:
    """Chapter 00's ``metrics/difficulty.json`` under ``root``, or ``None`` where it has not run."""
    path = Paths.at(root).metrics / "difficulty.json"
    return read_json(path) if path.is_file() else None


def settings_text(study: StudyConfig) -> str:
    """The sweep's settings, as the chapter states them before running it."""
    cfg = study.difficulty
    cfg_train, _ = study.train_for("baseline")
    shares = "/".join(f"{s:g}" for s in cfg.splits)
    return (f"Strengths {', '.join(f'{s:g}' for s in cfg.strengths)}; {cfg.num_videos} clips each "
            f"(train/val/test {shares}), {cfg.seeds} seed(s) per strength; the baseline trained as in chapter 04 "
            f"(trunk {cfg_train.trunk}, {cfg_train.epochs} epochs); target validation AUC **{cfg.target_auc:g}**.")


def runs_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per strength: each seed's validation AUC and their mean."""
    wide = table.pivot(index="strength", columns="seed", values="val_auc")
    wide.columns = [f"seed {s}" for s in wide.columns]
    wide["mean"] = wide.mean(axis=1)
    return wide.round(3)


def choice_text(result: dict) -> str:
    """Which strength the rule chose, and why."""
    chosen = result["chosen"]
    text = (f"The rule chooses strength **{chosen:g}**: its mean baseline validation AUC, "
            f"{result['mean_val_auc'][f'{chosen:g}']:.3f}, is the nearest to the target {result['target_auc']:g}.")
    weakest = min(result["mean_val_auc"], key=float)
    floor = result["mean_val_auc"][weakest]
    if floor > 0.6:  # well above chance with the knobs at their weakest: the fakes carry a cue the knobs do not set
        text += (f" Even at strength {float(weakest):g} the baseline reaches {floor:.3f}: part of what it detects is "
                 "none of the five knobs (the pasted face itself), so no strength brings the fakes to chance.")
    return text


def follows_text(study: StudyConfig, result: dict | None) -> str:
    """Chapter 01: whether the study's own fakes are rendered at the strength chapter 00 chose."""
    knobs = demo_strengths(study)
    if study.data.source != "synthetic":
        return f"The study reads `{study.data.source}` videos: chapter 00's synthetic difficulty does not apply."
    if result is None:
        return f"Chapter 00 has not run here (no `metrics/difficulty.json`): the fakes use {_knobs(knobs)}."
    if follows_choice(study, result):
        return (f"The fakes are rendered at strength {result['chosen']:g}, the one chapter 00's rule chose "
                f"(`data.synthetic`: {_knobs(knobs)}).")
    return (f"**`data.synthetic` does not follow chapter 00's choice** of strength {result['chosen']:g} "
            f"({_knobs(knobs)}): the results answer for another difficulty.")


def _knobs(knobs: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in knobs.items())
