"""What each detector sees, and whether it sees fakes it never trained on (notebook 12, beyond the paper).

The paper's premise is that whole-video and two-stream models catch *temporal*
inconsistencies a per-frame model cannot; it never tests it. Here three families of
synthetic fakes are made from the same originals (the same real clips, names and
splits in every family), each with one kind of artifact
(:class:`dfd_utils.sources.synthetic.SyntheticConfig`):

* ``spatial``: the study's overlay with its spatial knobs (seam, colour and resolution
  mismatch at the strength chapter 00 chose) and no temporal one: every frame equally
  wrong, no frame different from its neighbours in any way a real video's is not;
* ``temporal``: the original's own face, the whole head shaken and re-lit a little
  each frame (``head_jitter``, ``head_flicker``): every frame on its own a clean render,
  only the sequence unnatural;
* ``both``: the spatial family's swap, shaken and re-lit as the temporal one.

Each detector trains and is tested on each family (a 5 x 3 table of test video AUCs
with 95 % cluster-bootstrap BCa intervals over families), and each trained model is then
scored on the other families' test splits: generalization to a kind of fake it never saw.
The models trained on the temporal and the both families are also scored with their test
clips' frames shuffled and with one frame repeated (:func:`frame_order_test`,
``dfd_utils.chapters.frame_order``): a model that uses time must lose AUC.

Scoring saved models lives in :mod:`dfd_utils.chapters.families_scoring`, the tables and the
readings (paired, both ways, equivalence for "at chance") in
:mod:`dfd_utils.chapters.families_reading`; both are importable from here.

The same question on real faces: chapter 09's set holds two kinds of fake, overlays
(another person's face pasted in) and self-blended ones (a person's own face, altered
and blended back: Shiohara and Yamasaki 2022). Each kind gets a view of chapter 09's
full-frame inputs holding its reals and that kind's fakes only (:func:`kind_view`: the
same files, hard-linked, nothing re-extracted), each model trains on one view and is
scored on both.

Layout under ``<root>/artifacts/``::

    families/<family>/artifacts/{subset,frames,flow,models,predictions}   one complete study root per family
    families/<family>/metrics/<model>.json
    families/faces_<kind>/artifacts/{frames,flow}                      chapter 09's reals and one kind of fake
    families_runs/<family>/<model>/                                     resumable training state
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.chapters.families_kinds import KINDS, kind_root, kind_view, usable_kinds, views_note, views_table
from dfd_utils.chapters.families_reading import (
    CHANCE_MARGIN,
    TEMPORAL_MODELS,
    auc_grid,
    cross_grid,
    cross_reading,
    figure,
    methods,
    premise_verdict,
    reading,
    seed_aucs,
    verdict,
    write_metrics,
)
from dfd_utils.chapters.families_scoring import CROSS_COLUMNS, SCORE_COLUMNS, cross_rows, saved_model, test_scores
from dfd_utils.chapters.frame_order import MARGIN as ORDER_MARGIN
from dfd_utils.chapters.frame_order import ORDER_COLUMNS, order_reading, order_rows, order_scores, order_table
from dfd_utils.chapters.real_faces import frames_for
from dfd_utils.config import FAMILIES, StudyConfig
from dfd_utils.frame_store import load_video_frames
from dfd_utils.paths import Paths
from dfd_utils.sources.artifacts import JITTER_STEP
from dfd_utils.sources.synthetic import HEAD_GAIN, SyntheticConfig
from dfd_utils.stages.detector import run_experiment
from dfd_utils.stages.extract_frames import extract_frames
from dfd_utils.stages.optical_flow import optical_flow
from dfd_utils.stages.subset import make_subset

SPATIAL_KNOBS = ("seam", "color_mismatch", "resolution_mismatch")  # visible in one frame
PATCH_TEMPORAL_KNOBS = ("jitter", "flicker")  # the study's own temporal knobs: they leave one-frame traces too


def family_root(root: str | Path, family: str) -> Path:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    return Paths.at(root).artifacts / "families" / family


def runs_folder(root: str | Path, family: str) -> Path:
    return Paths.at(root).artifacts / "families_runs" / family


def family_knobs(study: StudyConfig, family: str) -> dict:
    """``data.synthetic`` for one family: the study's clips and spatial knobs, each family's artifacts on or off."""
    spatial, temporal = family in ("spatial", "both"), family in ("temporal", "both")
    knobs = {**study.data.synthetic, **dict.fromkeys(PATCH_TEMPORAL_KNOBS, 0.0), "unaltered_share": 0.0}
    strength = study.families.temporal if temporal else 0.0
    return {**knobs, "swap": spatial, "head_jitter": strength, "head_flicker": strength}


def temporal_magnitudes(study: StudyConfig) -> dict[str, float]:
    """What ``families.temporal`` means in the pixels: the head's offset (standard deviation, face widths) and the
    largest brightness change (per cent), each drawn anew every frame; and the spatial knobs' strength beside it."""
    strength = study.families.temporal
    return {"offset_sd": round(strength * JITTER_STEP, 4), "gain_pct": round(100 * strength * HEAD_GAIN, 1),
            "spatial": float(study.data.synthetic.get("seam", SyntheticConfig.seam))}


def family_data(study: StudyConfig, family: str) -> dict:
    """The ``data`` section of one family's set (stage 01's input)."""
    cfg = study.families
    return {"source": "synthetic", "num_videos": cfg.num_videos, "fake_share": cfg.fake_share,
            "synthetic": family_knobs(study, family)}


def settings_table(study: StudyConfig) -> pd.DataFrame:
    """Each family's artifact knobs, one row per family: what differs between them, from the settings."""
    shown = (*SPATIAL_KNOBS, *PATCH_TEMPORAL_KNOBS, "unaltered_share", "swap", "head_jitter", "head_flicker")
    return pd.DataFrame({f: {k: family_knobs(study, f).get(k, "") for k in shown} for f in FAMILIES}).T


def make_sets(study: StudyConfig, root: str | Path) -> dict[str, dict]:
    """Stage 01 for every family: ``{family: metadata}``. The same plan (names, originals) in each."""
    return {f: make_subset(family_data(study, f), family_root(root, f), seed=study.seed, workers=study.workers,
                           donors=_others(root, f))
            for f in FAMILIES}


def _others(root: str | Path, family: str) -> tuple[Path, ...]:
    """The other families' roots: their originals are this family's, by the same stamps, so linked, not redone."""
    return tuple(family_root(root, f) for f in FAMILIES if f != family)


def extract_all(study: StudyConfig, root: str | Path) -> dict[str, dict]:
    """Stages 02 and 03 for every family, with the same split shares: ``{family: extract_frames' result}``."""
    splits = dict(zip(("train", "val", "test"), study.families.splits))
    prepared = {}
    for family in FAMILIES:
        where = family_root(root, family)
        prepared[family] = extract_frames(asdict(study.frames), splits, where, seed=study.seed, workers=study.workers,
                                          donors=_others(root, family))
        optical_flow(asdict(study.flow), where, workers=study.workers, donors=_others(root, family))
    return prepared


def example_frames(metadata: dict[str, dict], root: str | Path, per_row: int = 4) -> dict[str, np.ndarray]:
    """One original and its fake in each family, as stage 02 sampled them: ``{title: (T, H, W, 3) uint8}``."""
    meta = metadata[FAMILIES[0]]
    fake = next(name for name, entry in sorted(meta.items()) if entry["label"] == "FAKE")
    original = meta[fake]["original"]
    rows = {f"REAL {original}": load_video_frames(Paths.at(family_root(root, FAMILIES[0])).frames, original)}
    for family in FAMILIES:
        rows[f"{family} fake of it"] = load_video_frames(Paths.at(family_root(root, family)).frames, fake)
    step = max(len(next(iter(rows.values()))) // per_row, 1)
    return {title: frames[::step][:per_row] for title, frames in rows.items()}


def train_all(study: StudyConfig, root: str | Path) -> dict[str, dict[str, dict]]:
    """Every model of ``families.models`` trained and tested on every family: ``{family: {model: metrics}}``.

    Training takes ``train``, the model's override in ``models``, then ``families.train``.
    """
    train = {**study.train, **study.families.train}
    return {family: {name: run_experiment(name, train, asdict(study.frames), asdict(study.evaluate),
                                          root=family_root(root, family), seed=study.seed, device=study.device,
                                          data_info={"source": "synthetic", "family": family,
                                                     "num_videos": study.families.num_videos},
                                          live=False, runs=runs_folder(root, family), models=study.models,
                                          feature_store=Paths.at(root).features,
                                          resplit_seeds=True).metrics  # every seed after the first: its own split
                     for name in study.families.models}
            for family in FAMILIES}


def train_kinds(study: StudyConfig, root: str | Path, kinds: list[str]) -> dict[str, dict[str, dict]]:
    """Every model trained on each of ``kinds``' views of chapter 09's set: ``{kind: {model: metrics}}``.

    Only with both kinds usable (:func:`usable_kinds`) is there anything to compare: else nothing trains.
    """
    if sorted(kinds) != sorted(KINDS):
        return {}
    train = {**study.train, **study.families.train}
    frames = frames_for(study, "full")
    return {kind: {name: run_experiment(name, train, frames, asdict(study.evaluate), root=kind_root(root, kind),
                                        seed=study.seed, device=study.device,
                                        data_info={"source": "faces", "variant": "full", "kind": kind},
                                        live=False, runs=runs_folder(root, f"faces_{kind}"), models=study.models,
                                        feature_store=Paths.at(root).features).metrics
                   for name in study.families.models}
            for kind in kinds}


def cross_scores(study: StudyConfig, root: str | Path, kinds: list[str] | None = None, loaded: dict | None = None
                 ) -> pd.DataFrame:
    """Every model trained on each set, scored on each set's test split: one row per video (:data:`SCORE_COLUMNS`).

    ``kinds``: chapter 09's kinds of fake in place of the synthetic families (nothing scored
    unless both are given: an empty table). ``loaded``: checkpoints and test splits loaded once,
    shared with :func:`frame_order_test`.
    """
    if kinds is not None and sorted(kinds) != sorted(KINDS):
        return pd.DataFrame(columns=SCORE_COLUMNS)
    tables, loaded = [], {} if loaded is None else loaded
    store = Paths.at(root).features
    sets = {k: kind_root(root, k) for k in kinds} if kinds is not None else {f: family_root(root, f) for f in FAMILIES}
    for name in study.families.models:
        for trained, trained_root in sets.items():
            model_path = Paths.at(trained_root).models / f"{name}.pt"
            for tested, tested_root in sets.items():
                videos = test_scores(model_path, tested_root, store, study.evaluate.topk, loaded)
                tables.append(videos.assign(model=name, trained_on=trained, tested_on=tested)[SCORE_COLUMNS])
    return pd.concat(tables, ignore_index=True)


def cross_table(study: StudyConfig, root: str | Path, kinds: list[str] | None = None,
                scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every model trained on each set, scored on each set's test split: one row per (model, train, test), the AUC
    with its 95 % cluster-bootstrap BCa interval (:data:`CROSS_COLUMNS`). The rows where the two sets are the same
    are the in-distribution AUCs of :func:`train_all` (:func:`train_kinds`). ``scores``: :func:`cross_scores`'."""
    if kinds is not None and sorted(kinds) != sorted(KINDS):
        return pd.DataFrame(columns=CROSS_COLUMNS)
    scores = cross_scores(study, root, kinds) if scores is None else scores
    return cross_rows(scores, study.evaluate.bootstrap, study.seed)


ORDER_FAMILIES = ("temporal", "both")  # the families whose fakes carry a temporal artifact


def frame_order_test(study: StudyConfig, root: str | Path, sets: tuple[str, ...] = ORDER_FAMILIES,
                     loaded: dict | None = None) -> pd.DataFrame:
    """Every model trained on each of ``sets`` scored on that family's test split in order, shuffled and with one
    frame repeated (``chapters/frame_order.py``): one row per model, family and perturbation (:data:`ORDER_COLUMNS`).

    Scoring only, no training: each checkpoint is loaded once, each test split decoded once (``loaded``: shared
    with :func:`cross_scores`), the perturbed clips' flow recomputed once per family (with the study's ``flow``
    settings) and shared by the models that read it.
    """
    rows, loaded = [], {} if loaded is None else loaded
    store = Paths.at(root).features
    for family in sets:
        where, memo = family_root(root, family), {}  # one family's perturbed clips held at a time
        for name in study.families.models:
            model, train, data = saved_model(Paths.at(where).models / f"{name}.pt", where, loaded)
            shared = memo.setdefault((model.three_d, model.uses_flow), {})  # what load_inputs decoded
            tables = order_scores(model, train, data, store, study.evaluate.topk, study.seed, study.flow, shared)
            rows += order_rows(name, family, tables, study.evaluate.bootstrap, study.seed)
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


__all__ = [  # the chapter's whole interface, its scoring and reading included
    "CHANCE_MARGIN", "CROSS_COLUMNS", "FAMILIES", "KINDS", "ORDER_COLUMNS", "ORDER_FAMILIES", "ORDER_MARGIN",
    "PATCH_TEMPORAL_KNOBS", "SCORE_COLUMNS", "SPATIAL_KNOBS", "TEMPORAL_MODELS", "auc_grid", "cross_grid",
    "cross_reading", "cross_rows", "cross_scores", "cross_table", "example_frames", "extract_all", "family_data",
    "family_knobs", "family_root", "figure", "frame_order_test", "kind_root", "kind_view", "make_sets", "methods",
    "order_reading", "order_table", "premise_verdict", "reading", "runs_folder", "seed_aucs", "settings_table",
    "temporal_magnitudes", "test_scores", "train_all", "train_kinds", "usable_kinds", "verdict", "views_note",
    "views_table", "write_metrics"]
