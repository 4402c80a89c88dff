"""The demo's difficulty: the rule that sets it from measured magnitudes, and what the chapters say of it.

Chapter 00 (:mod:`dfd_utils.chapters.choose_difficulty`) measures, at each strength of
``difficulty.strengths``, how much the spatial knobs change the pixels inside a fake's
face and how much the temporal knobs change its optical flow there, each against what
changes naturally between two sampled frames of the original. This module holds the
rule that turns those measurements into two strengths (``metrics/difficulty.json``) and
the check chapter 01 makes: is the study's own set rendered at them?

The rule, fixed before any detector is trained or compared, and blind to every model
and every training setting: **each kind of artifact is set to the strength whose
measured change is nearest ``difficulty.share`` of the natural change** (ties: the
weaker). With the default share of a quarter, a fake's face changes by a quarter of
what changes between two frames of a real video anyway: far above the flow's and the
pixels' noise (the change is measured against the same fake rendered without the
knobs, so every measured bit is the artifact), and far below a change anyone would call
obvious. The spatial and the temporal artifact are thus equally strong *relative to
what they disturb*, so neither kind of detector is handed the easier artifact by design.
The identity swap itself (another person's inner face) is a spatial cue that no knob
sets; chapter 12's families remove it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.config import StudyConfig
from dfd_utils.io import read_json, write_json_atomic
from dfd_utils.paths import Paths

SPATIAL_KNOBS = ("seam", "color_mismatch", "resolution_mismatch")  # visible in one frame
TEMPORAL_KNOBS = ("jitter", "flicker")  # visible only across frames
KINDS = {"spatial": SPATIAL_KNOBS, "temporal": TEMPORAL_KNOBS}
RATIO = {"spatial": "spatial_ratio", "temporal": "temporal_ratio"}
DIGITS = 6  # the result file's floats: Farneback's last bits differ between CPUs' kernels


def magnitudes(table: pd.DataFrame) -> pd.DataFrame:
    """One row per strength: the mean changes over the measured fakes and their ratios to the natural change."""
    mean = table.groupby("strength")[["natural_pixel_change", "natural_motion_px", "spatial_change",
                                      "temporal_change_px"]].mean()
    mean["spatial_ratio"] = mean.spatial_change / mean.natural_pixel_change
    mean["temporal_ratio"] = mean.temporal_change_px / mean.natural_motion_px
    return mean


def choose(ratios: pd.Series, share: float) -> float:
    """The rule: the strength whose ratio is nearest ``share``; ties go to the weaker artifact."""
    distance = (ratios - share).abs()
    return float(min(ratios.index, key=lambda s: (round(float(distance[s]), 9), s)))


def write_result(path: str | Path, table: pd.DataFrame, study: StudyConfig) -> dict:
    """``metrics/difficulty.json``: the rule, the natural change, every strength's magnitudes and the choice."""
    share = study.difficulty.share
    mean = magnitudes(table)
    chosen = {kind: choose(mean[RATIO[kind]], share) for kind in KINDS}
    at = {"spatial_change": mean.spatial_change[chosen["spatial"]],
          "spatial_ratio": mean.spatial_ratio[chosen["spatial"]],
          "temporal_change_px": mean.temporal_change_px[chosen["temporal"]],
          "temporal_ratio": mean.temporal_ratio[chosen["temporal"]]}
    result = {"rule": f"each kind of artifact at the strength whose measured change inside the face is nearest "
                      f"{share:g} of the natural change between two sampled frames",
              "share": share, "knobs": {k: list(v) for k, v in KINDS.items()},
              "clips": int(table.video.nunique()), "frame_size": [study.frames.height, study.frames.width],
              "natural": {"pixel_change": _round(table.groupby("video").natural_pixel_change.first().mean()),
                          "motion_px": _round(table.groupby("video").natural_motion_px.first().mean())},
              "sweep": [{"strength": float(s), **{k: _round(v) for k, v in row.items()}}
                        for s, row in mean.drop(columns=["natural_pixel_change", "natural_motion_px"]).iterrows()],
              "chosen": chosen, "at_choice": {k: _round(v) for k, v in at.items()}}
    write_json_atomic(Path(path), result)
    return result


def _round(x) -> float:
    return round(float(x), DIGITS)


def demo_knobs(study: StudyConfig) -> dict[str, float]:
    """The artifact knobs the study's own set is rendered with (``data.synthetic``)."""
    from dfd_utils.sources.synthetic import SyntheticConfig

    knobs = asdict(SyntheticConfig(**study.data.synthetic))
    return {k: knobs[k] for knobs_of in KINDS.values() for k in knobs_of}


def follows_choice(study: StudyConfig, result: dict) -> bool:
    """Whether ``data.synthetic`` sets each kind's knobs to the strength chapter 00 chose for that kind."""
    knobs = demo_knobs(study)
    return all(np.isclose(knobs[k], result["chosen"][kind]) for kind, names in KINDS.items() for k in names)


def load_result(root: str | Path) -> dict | None:
    """Chapter 00's ``metrics/difficulty.json`` under ``root``, or ``None`` where it has not run."""
    path = Paths.at(root).metrics / "difficulty.json"
    return read_json(path) if path.is_file() else None


def settings_text(study: StudyConfig) -> str:
    """The measurement's settings, as the chapter states them before running it."""
    cfg = study.difficulty
    return (f"Strengths {', '.join(f'{s:g}' for s in cfg.strengths)}; {cfg.num_videos} fakes with their originals, "
            f"rendered at the study's clip size and seen as the models see them ({study.frames.num_frames} frames "
            f"at {study.frames.height}x{study.frames.width}, the study's Farneback settings). Target: each kind's "
            f"change at **{cfg.share:g}** of the natural change. No detector is trained.")


def sweep_table(result: dict) -> pd.DataFrame:
    """The measured magnitudes per strength, as the chapter shows them."""
    table = pd.DataFrame(result["sweep"]).set_index("strength")
    table.columns = ["spatial change (grey levels)", "temporal change (flow px)", "spatial / natural",
                     "temporal / natural"]
    return table.round(3)


def choice_text(result: dict) -> str:
    """Which strengths the rule chose, with the magnitudes they give."""
    at, natural, chosen = result["at_choice"], result["natural"], result["chosen"]
    return (f"Natural change inside the original's face between two sampled frames: "
            f"{natural['pixel_change']:.2f} grey levels and {natural['motion_px']:.2f} px of flow. "
            f"The rule sets the spatial knobs ({', '.join(SPATIAL_KNOBS)}) to **{chosen['spatial']:g}**: they change "
            f"the face by {at['spatial_change']:.2f} grey levels, {at['spatial_ratio']:.2f} of the natural change; and "
            f"the temporal knobs ({', '.join(TEMPORAL_KNOBS)}) to **{chosen['temporal']:g}**: they change the flow "
            f"inside the face by {at['temporal_change_px']:.2f} px, {at['temporal_ratio']:.2f} of the natural motion. "
            f"The target was {result['share']:g} for both.")


def follows_text(study: StudyConfig, result: dict | None) -> str:
    """Chapter 01: whether the study's own fakes are rendered at the strengths chapter 00 chose."""
    knobs = demo_knobs(study)
    if study.data.source != "synthetic":
        return f"The study reads `{study.data.source}` videos: chapter 00's synthetic difficulty does not apply."
    if result is None:
        return f"Chapter 00 has not run here (no `metrics/difficulty.json`): the fakes use {_knobs(knobs)}."
    chosen = result["chosen"]
    if follows_choice(study, result):
        return (f"The fakes are rendered at the strengths chapter 00's rule chose: spatial {chosen['spatial']:g}, "
                f"temporal {chosen['temporal']:g} (`data.synthetic`: {_knobs(knobs)}).")
    return (f"**`data.synthetic` does not follow chapter 00's choice** (spatial {chosen['spatial']:g}, temporal "
            f"{chosen['temporal']:g}; {_knobs(knobs)}): the results answer for another difficulty.")


def _knobs(knobs: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in knobs.items())
