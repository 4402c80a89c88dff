"""The checks of chapter 10: each measures one effect from the results, with the standard interval for it.

Every interval resamples the test split's original families (an original with its fakes)
with BCa correction (``dfd_utils.stats``), and names its method in :attr:`Evidence.method`.
Differences between models are paired: both are scored on the same videos (or frames) of
every draw. Only seed 0 leaves per-video predictions; the other seeds add their test
metrics (``metrics/<model>.json``: ``seeds.runs``), which is what the seed count checks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dfd_utils import stats
from dfd_utils.chapters.claims_verdicts import PAPER_FRAME_ACCURACY, PRIOR_MARGIN, Evidence, Results, seed_values

SEED0_FRAMES = "(Frame metrics are kept for seed 0 only.)"


def family_bootstrap(tables: dict[str, pd.DataFrame], stat, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
                     ) -> tuple[float, float, float]:
    """``(point, low, high)`` of :func:`dfd_utils.stats.cluster_bca` (the paired cluster BCa), kept for callers of
    the name; it no longer gives the percentile interval."""
    return stats.cluster_bca(tables, stat, n_boot, seed, 1 - alpha).as_tuple()


def _missing(measure: str, direction: int = 1, bound: float = 0.0, difference: bool = True, **kind) -> Evidence:
    nan = float("nan")
    return Evidence(measure, nan, nan, nan, (), direction, bound, difference=difference, **kind)


def _paired(measure: str, both: pd.DataFrame, r: Results, seeds: tuple, direction: int, note: str = "") -> Evidence:
    iv = stats.paired_auc_difference(both.label, both.prob_a, both.prob_b, both.family, r.n_boot, r.seed)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, direction, note=note, method=iv.method)


def auc_difference(r: Results, a: str, b: str, direction: int = 1) -> Evidence:
    """Video ROC AUC of ``a`` minus ``b`` on the same test videos: paired cluster BCa; seeds paired by seed."""
    measure = f"video AUC, {a} − {b}"
    if a not in r.videos or b not in r.videos:
        return _missing(measure, direction)
    both = r.videos[a][["video", "family", "label", "prob"]].merge(
        r.videos[b][["video", "prob"]], on="video", suffixes=("_a", "_b"))
    sa, sb = seed_values(r.metrics[a], "roc_auc"), seed_values(r.metrics[b], "roc_auc")
    return _paired(measure, both, r, tuple(sa[s] - sb[s] for s in sorted(set(sa) & set(sb))), direction)


def frame_auc_difference(r: Results, a: str, b: str, direction: int = 1) -> Evidence:
    """Frame-level ROC AUC of per-frame models ``a`` minus ``b`` on the same test frames (paired by family)."""
    measure = f"frame AUC, {a} − {b}"
    if a not in r.frames or b not in r.frames:
        return _missing(measure, direction)
    both = r.frames[a][["video", "position", "family", "label", "prob"]].merge(
        r.frames[b][["video", "position", "prob"]], on=["video", "position"], suffixes=("_a", "_b"))
    sa, sb = seed_values(r.metrics.get(a, {}), "frame_roc_auc"), seed_values(r.metrics.get(b, {}), "frame_roc_auc")
    common = sorted(set(sa) & set(sb))
    e = _paired(measure, both, r, tuple(sa[s] - sb[s] for s in common), direction,
                "" if common else SEED0_FRAMES)
    return e if common else replace(e, seeds=(e.effect,))


def frame_auc(r: Results, model: str) -> Evidence:
    """Frame-level ROC AUC of a per-frame model against chance (0.5), cluster BCa over its test frames' families."""
    measure = f"frame AUC, {model}"
    if model not in r.frames:
        return _missing(measure, 1, 0.5, difference=False)
    f = r.frames[model]
    iv = stats.auc_interval(f.label, f.prob, f.family, r.n_boot, r.seed)
    per_seed = seed_values(r.metrics.get(model, {}), "frame_roc_auc")
    seeds = tuple(per_seed[s] for s in sorted(per_seed)) if per_seed else (iv.point,)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, 1, 0.5, note="" if per_seed else SEED0_FRAMES,
                    difference=False, method=iv.method)


def _accuracy_w(right: np.ndarray):
    """``weights (K, N) -> (K,)``: the weighted share of videos (or frames) decided right, ``right`` ``(N,)``."""
    return lambda w: (w @ right) / w.sum(axis=1)


def frame_accuracy(r: Results, model: str, paper: float = PAPER_FRAME_ACCURACY) -> Evidence:
    """Frame accuracy (p >= 0.5) of a per-frame model on its test frames, cluster BCa, against the paper's figure:
    the claim is consistent with the paper where the interval reaches ``paper``, contradicted wholly below it."""
    measure = f"frame accuracy, {model} (paper: {paper:.2f})"
    if model not in r.frames:
        return _missing(measure, 1, paper, difference=False, kind="reaches")
    f = r.frames[model]
    right = ((f.prob.to_numpy() >= 0.5).astype(int) == f.label.to_numpy()).astype(float)  # (frames,)
    iv = stats.weighted_bca(_accuracy_w(right), f.family, r.n_boot, r.seed)
    per_seed = seed_values(r.metrics.get(model, {}), "frame_accuracy")
    seeds = tuple(per_seed[s] for s in sorted(per_seed)) if per_seed else (iv.point,)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, 1, paper, note="" if per_seed else SEED0_FRAMES,
                    difference=False, method=iv.method, kind="reaches")


def frame_to_video_accuracy(r: Results, model: str) -> Evidence:
    """Video accuracy (the paper's share rule at its validation threshold) minus frame accuracy (p >= 0.5) of a
    per-frame model, both on the test split, resampled together by family (paired cluster BCa). The claim: it
    drops (< 0)."""
    measure = f"accuracy, video − frame, {model}"
    if model not in r.frames or model not in r.videos:
        return _missing(measure, -1)
    threshold = float(r.metrics[model].get("threshold", 0.5))

    def stat(t):
        v, f = t["v"], t["f"]
        if len(v) == 0 or len(f) == 0:
            return float("nan")
        video_acc = float(((v.decision >= threshold).astype(int) == v.label).mean())
        frame_acc = float(((f.prob >= 0.5).astype(int) == f.label).mean())
        return video_acc - frame_acc

    iv = stats.cluster_bca({"v": r.videos[model], "f": r.frames[model]}, stat, r.n_boot, r.seed)
    video, frame = seed_values(r.metrics[model], "accuracy"), seed_values(r.metrics[model], "frame_accuracy")
    common = sorted(set(video) & set(frame))
    seeds = tuple(video[s] - frame[s] for s in common) if common else (iv.point,)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, -1, note="" if common else SEED0_FRAMES,
                    method="paired " + iv.method)


def auc_at_chance(r: Results, model: str, margin: float = PRIOR_MARGIN) -> Evidence:
    """A model's video ROC AUC against chance by TOST: "learns nothing beyond the prior" holds when the 90 % interval
    lies within 0.5 ± ``margin`` (fixed in advance), is contradicted when the 95 % interval lies wholly outside."""
    measure = f"video AUC, {model}"
    if model not in r.videos:
        return _missing(measure, 0, 0.5, difference=False, kind="equivalence", margin=margin)
    v = r.videos[model]
    _, tost = stats.equivalence(v.label, v.prob, v.family, 0.5, margin, 0.05, r.n_boot, r.seed)
    iv = stats.auc_interval(v.label, v.prob, v.family, r.n_boot, r.seed)
    per_seed = seed_values(r.metrics.get(model, {}), "roc_auc")
    seeds = tuple(per_seed[s] for s in sorted(per_seed)) or (iv.point,)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, 0, 0.5, difference=False,
                    method=iv.method + "; TOST on its 90 % interval", kind="equivalence", margin=margin,
                    tost=(tost.low, tost.high))


def majority_rate(metrics: dict) -> float:
    """The share of the test split's larger class (the accuracy of always guessing it), from the confusion matrix."""
    counts = np.asarray(metrics.get("confusion", [[0, 0], [0, 0]]), dtype=float).sum(axis=1)  # rows: true class
    return float(counts.max() / counts.sum()) if counts.sum() else float("nan")


def accuracy_over_majority(r: Results, model: str, margin: float = PRIOR_MARGIN) -> Evidence:
    """A model's video accuracy minus the majority-class rate, by TOST within ± ``margin``: "sits at the class split".

    Both terms are recomputed on every draw (the majority rate of the drawn videos too), so
    the interval is of the difference, not of the accuracy shifted by a fixed rate.
    """
    measure = f"video accuracy − majority rate, {model}"
    if model not in r.videos:
        return _missing(measure, 0, 0.0, kind="equivalence", margin=margin)
    v = r.videos[model]
    t = float(r.metrics.get(model, {}).get("threshold", 0.5))
    y = v.label.to_numpy().astype(float)  # (N,)
    right = ((v.decision.to_numpy() >= t).astype(float) == y).astype(float)  # (N,)

    def over_majority(w):  # (K, N) -> (K,)
        fake = (w @ y) / w.sum(axis=1)
        return (w @ right) / w.sum(axis=1) - np.maximum(fake, 1 - fake)

    iv = stats.weighted_bca(over_majority, v.family, r.n_boot, r.seed)
    tost = stats.weighted_bca(over_majority, v.family, r.n_boot, r.seed, level=0.90)
    base = majority_rate(r.metrics.get(model, {}))
    per_seed = seed_values(r.metrics.get(model, {}), "accuracy")
    seeds = tuple(per_seed[s] - base for s in sorted(per_seed)) or (iv.point,)
    return Evidence(measure, iv.point, iv.low, iv.high, seeds, 0, 0.0, method=iv.method + "; TOST on its 90 % "
                    "interval", kind="equivalence", margin=margin, tost=(tost.low, tost.high))
