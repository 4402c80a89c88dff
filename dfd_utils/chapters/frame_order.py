"""The frame-order test: does a detector use the order of its frames? (chapter 12, issue 26)

A trained detector scores its test clips three ways, everything else unchanged:

* ``in_order``: the frames as it was trained on them;
* ``shuffled``: each clip's frames in one fixed permutation, drawn from the study's seed and
  the video's name only (:func:`frame_indices`): the same permutation for every model, never
  the identity;
* ``repeated``: every frame replaced by the clip's middle frame (``T // 2``). The strongest of
  the two tests: no motion at all is left, where a shuffle keeps every frame's content and
  breaks only the order. (Repeating one frame in place of its neighbour would leave 15 of 16
  steps of motion intact and show little.)

What depends on the order is rebuilt from the perturbed frames, never reordered: the optical
flow is Farneback between consecutive frames with the project's own settings and the first
field duplicated (as stage 03 makes it, :func:`clip_flow`), so a shuffled clip gets the flow
of its jumps and a repeated one no flow at all (two identical frames get exactly zero, where
Farneback would leave a residue of about 0.01 px). A frozen 2D
trunk's features are per frame, so a perturbed clip's features are the in-order features
taken in the perturbed order (bit for bit what the trunk gives: a frame's features do not
depend on its neighbours, ``dfd_utils.features``); the 3D CNN's trunk sees the whole clip,
so its features are computed anew from the perturbed clip.

The drop is paired: ``AUC(in order) - AUC(perturbed)`` over the same videos, its interval the
paired cluster bootstrap (BCa over original families, ``dfd_utils.stats``). A model *uses*
frame order when its shuffled drop's 95 % interval lies wholly above 0; it demonstrably *does
not* when that drop is equivalent to 0 by TOST within :data:`MARGIN` (fixed here, before any
result). The repeated frame's drop says whether it needs motion, or more than one frame: a
per-frame model that averages 16 frames can lose AUC seeing one, though it reads no time.
A per-frame model without flow cannot lose anything: shuffled, its frames' scores are the same
numbers in another order, and the video score (their mean) moves by float summation order only.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from dfd_utils.chapters.families_scoring import featured, video_scores
from dfd_utils.datasets import SplitData
from dfd_utils.flow import FlowConfig, farneback
from dfd_utils.models import Detector
from dfd_utils.stats import auc, detectable_effect, paired_auc_difference, paired_equivalence

PERTURBATIONS = ("shuffled", "repeated")
MARGIN = 0.05  # "does not use frame order": the shuffled drop within +-0.05 AUC (TOST at 5 %), fixed in advance
ORDER_COLUMNS = ["model", "family", "perturbation", "videos", "auc_in_order", "auc", "drop", "low", "high", "level",
                 "method", "equivalent", "eq_low", "eq_high", "margin", "detectable", "max_score_change"]


def frame_indices(kind: str, video: str, num_frames: int, seed: int = 0) -> np.ndarray:
    """Which in-order frame stands at each position of the perturbed clip ``(T,)``.

    ``shuffled``: a permutation drawn from ``seed`` and the video's name alone (the same for every model and
    whatever else the split holds), never the identity; ``repeated``: the middle frame ``T // 2`` everywhere.
    """
    if kind == "repeated":
        return np.full(num_frames, num_frames // 2, dtype=np.int64)
    if kind != "shuffled":
        raise ValueError(f"unknown perturbation {kind!r}; expected one of {PERTURBATIONS}")
    name = int.from_bytes(hashlib.sha256(str(video).encode()).digest()[:8], "little")
    order = np.random.default_rng([seed, name]).permutation(num_frames)
    if num_frames > 1 and np.array_equal(order, np.arange(num_frames)):
        order = np.roll(order, 1)  # a shuffle that changes nothing tests nothing
    return order.astype(np.int64)


def split_indices(data: SplitData, kind: str, seed: int = 0) -> torch.Tensor:
    """:func:`frame_indices` of every video of ``data``: ``(V, T)`` int64."""
    return torch.from_numpy(np.stack([frame_indices(kind, v, data.num_frames, seed) for v in data.videos]))


def reorder(x: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    """``x (V, T, ...)`` with each video's frames taken in ``index (V, T)``'s order (a new tensor)."""
    if x is None:
        return None
    return torch.stack([x[v].index_select(0, index[v]) for v in range(len(index))])


def clip_flow(frames: np.ndarray, cfg: FlowConfig = FlowConfig()) -> np.ndarray:
    """Stage 03's flow of one clip ``(T, H, W, 3)`` -> ``(T, 2, H, W)`` float16 (:func:`dfd_utils.flow.video_flow`:
    Farneback between consecutive frames, the first field duplicated), except that two identical frames get exactly
    zero flow: nothing moved (Farneback leaves a residue of about 0.01 px there)."""
    if len(frames) < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {len(frames)}")
    zero = np.zeros((*frames.shape[1:3], 2), np.float32)
    fields = [zero if np.array_equal(a, b) else farneback(a, b, cfg) for a, b in zip(frames[:-1], frames[1:])]
    fields.insert(0, fields[0])
    return np.stack(fields).transpose(0, 3, 1, 2).astype(np.float16)


def recompute_flows(frames: torch.Tensor, cfg: FlowConfig = FlowConfig()) -> torch.Tensor:
    """:func:`clip_flow` of each clip ``(V, T, 3, H, W)`` uint8 -> ``(V, T, 2, H, W)`` float16."""
    return torch.from_numpy(np.stack([clip_flow(np.ascontiguousarray(clip.permute(0, 2, 3, 1).numpy()), cfg)
                                      for clip in frames]))


def perturb(data: SplitData, kind: str, seed: int = 0, flow: FlowConfig = FlowConfig()) -> SplitData:
    """``data`` with every clip perturbed: frames and 3D clips reordered, per-frame features reordered with them,
    a clip's features dropped (its trunk must see the new clip), flow computed anew from the perturbed frames."""
    index = split_indices(data, kind, seed)
    frames = reorder(data.frames, index)
    flows = None
    if data.flows is not None:
        if frames is None:
            raise ValueError("the flow of a perturbed clip is computed from its frames: load the frames too")
        flows = recompute_flows(frames, flow)
    per_frame = data.features is not None and data.features.dim() == 3  # (V, T, C): one vector per frame
    return replace(data, frames=frames, flows=flows, frames3d=reorder(data.frames3d, index),
                   features=reorder(data.features, index) if per_frame else None,
                   features_of=data.features_of if per_frame else "", arrays={})


def order_splits(model: Detector, train: dict, data: SplitData, store, seed: int = 0, flow: FlowConfig = FlowConfig(),
                 memo: dict | None = None) -> tuple[Detector, dict[str, SplitData]]:
    """The model ready to score and its test split in order and perturbed, each with its trunk's features.

    ``memo``: the perturbed raw inputs by perturbation, shared by the models that read the same inputs (the flow
    is recomputed once per clip, not once per model).
    """
    memo = {} if memo is None else memo
    for kind in PERTURBATIONS:
        if kind not in memo:
            memo[kind] = perturb(data, kind, seed, flow)
    if model.three_d:  # the trunk sees the whole clip: features of each perturbed clip computed anew
        return featured(model, train, {"in_order": data, **{k: memo[k] for k in PERTURBATIONS}}, store)
    model, splits = featured(model, train, {"in_order": data}, store)
    base = splits["in_order"]
    for kind in PERTURBATIONS:
        features = None if base.features is None else reorder(base.features, split_indices(base, kind, seed))
        splits[kind] = replace(memo[kind], features=features, features_of=base.features_of)
    return model, splits


def order_scores(model: Detector, train: dict, data: SplitData, store, topk: int, seed: int = 0,
                 flow: FlowConfig = FlowConfig(), memo: dict | None = None) -> dict[str, pd.DataFrame]:
    """A loaded detector's test video scores in order and under each perturbation (``score_table`` each)."""
    model, splits = order_splits(model, train, data, store, seed, flow, memo)
    return {kind: video_scores(model, split, topk) for kind, split in splits.items()}


def order_rows(model: str, family: str, tables: dict[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0,
               margin: float = MARGIN) -> list[dict]:
    """One row per perturbation (:data:`ORDER_COLUMNS`): AUCs, the paired drop with its 95 % interval, and the
    TOST equivalence of the drop to 0 within ``margin`` (its 90 % paired interval)."""
    base = tables["in_order"]
    rows = []
    for kind in PERTURBATIONS:
        other = tables[kind]
        if list(other.video) != list(base.video):
            raise ValueError(f"{model} on {family}: the {kind} scores are not of the same videos in the same order")
        drop = paired_auc_difference(base.label, base.prob, other.prob, base.family, n_boot, seed)
        same, eq = paired_equivalence(base.label, base.prob, other.prob, base.family, margin, n_boot=n_boot,
                                      seed=seed)
        rows.append({"model": model, "family": family, "perturbation": kind, "videos": len(base),
                     "auc_in_order": auc(base.label, base.prob), "auc": auc(other.label, other.prob),
                     "drop": drop.point, "low": drop.low, "high": drop.high, "level": drop.level,
                     "method": drop.method, "equivalent": bool(same), "eq_low": eq.low, "eq_high": eq.high,
                     "margin": margin, "detectable": detectable_effect(drop),
                     "max_score_change": float(np.max(np.abs(other.prob.to_numpy() - base.prob.to_numpy())))})
    return rows


def _cell(point: float, low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{point:+.3f} [no interval]"
    return f"{point:+.3f} [{low:+.2f}, {high:+.2f}]"


TABLE_COLUMNS = ["model", "family", "AUC in order", "AUC shuffled", "drop shuffled [95 % paired]", "AUC repeated",
                 "drop repeated [95 % paired]", "interval method"]


def order_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The chapter's table: one row per model and family (:data:`TABLE_COLUMNS`), each drop with its interval."""
    out = []
    for (model, family), group in rows.groupby(["model", "family"], sort=False):
        by = group.set_index("perturbation")
        row = {"model": model, "family": family, "AUC in order": f"{by.auc_in_order.iloc[0]:.3f}"}
        for kind in PERTURBATIONS:
            r = by.loc[kind]
            row[f"AUC {kind}"] = f"{r['auc']:.3f}"
            row[f"drop {kind} [95 % paired]"] = _cell(r["drop"], r["low"], r["high"])
        row["interval method"] = "; ".join(dict.fromkeys(group.method))
        out.append(row)
    return pd.DataFrame(out, columns=TABLE_COLUMNS)


def row_verdict(row) -> str:
    """One perturbation of one model: ``loses`` (drop's 95 % interval wholly above 0), ``gains`` (wholly below),
    ``unchanged`` (equivalent to 0 within the margin: TOST) or ``undecided``."""
    if np.isfinite(row.low) and row.low > 0:
        return "loses"
    if np.isfinite(row.high) and row.high < 0:
        return "gains"
    return "unchanged" if row.equivalent else "undecided"


ORDER_VERDICTS = {"loses": "uses frame order", "gains": "scores higher with the order destroyed",
                  "unchanged": "does not use frame order", "undecided": "not decided"}


def order_verdict(group: pd.DataFrame) -> str:
    """One model on one family, from its shuffled row: only a shuffle breaks the order and keeps every frame."""
    return ORDER_VERDICTS[row_verdict(group.set_index("perturbation").loc["shuffled"])]


SAID = {"shuffled": ("**With its frames shuffled** (the order broken, every frame kept), demonstrably lose AUC, so "
                     "use frame order", "demonstrably do not (the drop equivalent to 0 within ±{m:g} AUC, the "
                     "margin fixed before any result: TOST at 5 %, 90 % paired interval)"),
        "repeated": ("**With one frame repeated** (no motion, one frame seen), demonstrably lose AUC",
                     "demonstrably do not (within ±{m:g})")}


def order_reading(rows: pd.DataFrame) -> str:
    """Which models demonstrably use frame order and which demonstrably do not, and which lose AUC with no motion,
    computed from the paired intervals alone (one paragraph)."""
    if rows.empty:
        return "No model was scored with its frames shuffled or repeated."
    margin = float(rows.margin.iloc[0])
    parts = []
    for kind in PERTURBATIONS:
        found: dict[str, list[str]] = {"loses": [], "unchanged": [], "gains": [], "undecided": []}
        for r in rows[rows.perturbation == kind].itertuples():
            reach = (f", detects {r.detectable:.2f}" if np.isfinite(r.detectable) else ", too few families")
            found[row_verdict(r)].append(f"{r.model} on {r.family} ({_cell(r.drop, r.low, r.high)}"
                                         + (reach if row_verdict(r) == "undecided" else "") + ")")
        loses, unchanged = SAID[kind]
        text = (f"{loses}: {'; '.join(found['loses']) or 'none'}; {unchanged.format(m=margin)}: "
                f"{'; '.join(found['unchanged']) or 'none'}")
        if found["gains"]:
            text += f"; score higher without it (interval wholly below 0): {'; '.join(found['gains'])}"
        text += f"; not decided by this test set: {'; '.join(found['undecided']) or 'none'}"
        parts.append(text)
    return (". ".join(parts) + ". Drops are AUC in order minus AUC perturbed over the same test videos, with their "
            "95 % paired interval (and, where undecided, the smallest drop the test set detects at 80 % power). A "
            "per-frame model can lose AUC with one frame repeated only because it then sees one frame instead of all; "
            "only a model that reads time can lose it under a shuffle.")
