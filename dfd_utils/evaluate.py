"""From probabilities to the paper's decisions and metrics, with honest intervals.

Every model has one continuous video score that ROC AUC and log loss rank: a
whole-video model's probability, and for per-frame models the mean of the frame
probabilities (as DeepfakeBench computes video AUC). The paper's rule decides: the
share of a video's frames called FAKE (p >= 0.5) against a threshold from the grid
0.3..0.7, which gives accuracy, precision, recall, F1 and the confusion matrix.
Scoring per-frame models by that share would hand them a step function (17 values
for 16 frames, 0.5 AUC whenever all frames fall on one side) while whole-video
models rank by probability. The other rules (mean, max, top-k mean) are reported
beside it. The paper picked the threshold on the test set; we pick it on
validation, so test labels never choose anything.

Each interval says how it was made (``detector_metrics`` records the method of every
one under ``video_ci_method``). ROC AUC is not a proportion: its interval is the cluster
bootstrap over *families* (an original with its fakes: videos of one family are not
independent) with BCa correction (:func:`dfd_utils.stats.auc_interval`), whose coverage
``tests/test_stats.py`` checks by simulation. Below :data:`dfd_utils.stats.MIN_FAMILIES`
families no bootstrap is meaningful, and the AUC falls back to the Wilson interval over
the smaller class, named as such. The proportions (accuracy, precision, recall, F1,
balanced accuracy) keep the family-bootstrap percentile interval widened to the Wilson
score interval of the proportion: on a perfect or tiny sample the bootstrap collapses (13
of 13 correct resamples to [1.00, 1.00]), the Wilson interval does not ([0.77, 1.00]).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from dfd_utils import stats

THRESHOLD_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)  # the paper's grid


def weighted_metrics(labels, probs, decisions, weights) -> dict[str, np.ndarray]:
    """Every metric of :func:`binary_metrics` once per row of ``weights`` ``(B, N)``.

    A row counts how often each of the ``N`` videos is in one sample: all ones is the
    sample itself, a bootstrap draw repeats some videos and leaves others out. With
    integer counts every value equals the metric of the sample with its repeats written
    out (ROC AUC is the Mann-Whitney count of FAKE-over-REAL pairs, ties a half, as
    ``sklearn.metrics.roc_auc_score``), so one vectorised pass replaces a thousand calls.
    ``decisions`` are 0/1 calls; undefined values (AUC with one class) are NaN.
    """
    y = np.asarray(labels).astype(bool)  # (N,) FAKE
    p = np.asarray(probs, dtype=float)  # (N,)
    fake = np.asarray(decisions).astype(bool)  # (N,) called FAKE
    w = np.asarray(weights, dtype=float)  # (B, N)
    tp, fn = w[:, y & fake].sum(1), w[:, y & ~fake].sum(1)  # (B,) each
    fp, tn = w[:, ~y & fake].sum(1), w[:, ~y & ~fake].sum(1)
    n_fake, n_real = tp + fn, fp + tn
    both = (n_fake > 0) & (n_real > 0)
    wins = (p[y][:, None] > p[~y][None, :]) + 0.5 * (p[y][:, None] == p[~y][None, :])  # (FAKE, REAL) pairs
    pairs = np.einsum("bi,ij,bj->b", w[:, y], wins, w[:, ~y])  # (B,) weighted pairs won
    q = np.clip(p, 1e-6, 1 - 1e-6)
    loss = np.where(y, -np.log(q), -np.log1p(-q))  # (N,) each video's log loss

    def ratio(num, den, empty=0.0):
        return np.divide(num, den, out=np.full(len(w), empty), where=den > 0)

    return {
        "accuracy": ratio(tp + tn, n_fake + n_real),
        "precision": ratio(tp, tp + fp),  # 0 when nothing is called FAKE (sklearn's zero_division=0)
        "recall": ratio(tp, n_fake),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": np.where(both, (ratio(tp, n_fake) + ratio(tn, n_real)) / 2, np.nan),
        "roc_auc": np.where(both, ratio(pairs, n_fake * n_real, np.nan), np.nan),
        "log_loss": ratio(w @ loss, n_fake + n_real, np.nan),
    }


def binary_metrics(labels, probs, threshold: float = 0.5, decisions=None) -> dict[str, float]:
    """Accuracy, precision, recall, F1, balanced accuracy (``decisions >= threshold``), ROC AUC and log loss
    (``probs``). ``decisions`` defaults to ``probs``: per-frame models pass the share of FAKE frames."""
    p = np.asarray(probs, dtype=float)
    called = np.asarray(p if decisions is None else decisions, dtype=float) >= threshold
    values = weighted_metrics(labels, p, called, np.ones((1, len(p))))
    return {k: float(v[0]) for k, v in values.items()}


FRAME_RULES = ("share", "mean", "max", "topk")  # frame probabilities -> one video score


def video_scores(frame_probs, rule: str, topk: int = 4) -> np.ndarray:
    """Frame probabilities ``(V, T)`` -> one score per video ``(V,)`` by ``rule``.

    share: fraction of frames with p >= 0.5 (the paper's rule, thresholded later);
    mean (DeepfakeBench); max; topk: mean of the k most confident-FAKE frames.
    Evaluation and ``dfd predict`` both call this, so a video is scored one way.
    """
    p = np.asarray(frame_probs, dtype=float)  # (V, T)
    if p.ndim != 2:
        raise ValueError(f"frame probabilities must be (videos, frames), got shape {p.shape}")
    if rule == "share":
        return (p >= 0.5).mean(axis=1)
    if rule == "mean":
        return p.mean(axis=1)
    if rule == "max":
        return p.max(axis=1)
    if rule == "topk":
        return np.sort(p, axis=1)[:, -min(topk, p.shape[1]):].mean(axis=1)
    raise ValueError(f"unknown frame-to-video rule {rule!r}; expected one of {', '.join(FRAME_RULES)}")


def aggregate_frames(frame_probs: np.ndarray, num_frames: int, topk: int = 4) -> pd.DataFrame:
    """Frame probabilities in video order ``(V*T,)`` -> one row per video, one column per rule."""
    p = np.asarray(frame_probs, dtype=float).reshape(-1, num_frames)  # (V, T)
    return pd.DataFrame({rule: video_scores(p, rule, topk) for rule in FRAME_RULES})


SCORE_DECIMALS = 3  # validation scores are rounded to 1e-3 before a threshold cuts them (choose_threshold)


def choose_threshold(val_labels, val_scores, grid=THRESHOLD_GRID) -> float:
    """The grid threshold with the most validation videos right; ties go to the threshold nearest 0.5.

    Why the rounding: a score that lies on a grid point in exact arithmetic (a mean of
    frame probabilities at 0.5, a share such as 9/15) can land 1e-7 either side of it on
    another CPU's kernels, and ``s >= t`` would then flip one video and, on a tie, the
    threshold. Scores are rounded to :data:`SCORE_DECIMALS` places first and videos right
    are counted as integers (no float comparison of accuracies), so such noise changes
    nothing. What rounding cannot absorb is a real difference of scores (a model trained
    differently): that moves the threshold as it moves any result.
    """
    y = np.asarray(val_labels).astype(int)  # (N,)
    s = np.round(np.asarray(val_scores, dtype=float), SCORE_DECIMALS)  # (N,)
    right = {t: int(((s >= round(t, SCORE_DECIMALS)).astype(int) == y).sum()) for t in grid}
    return float(max(grid, key=lambda t: (right[t], -abs(t - 0.5))))


def wilson(successes: float, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) with no trials.

    Unlike the percentile bootstrap it never has zero width: 13 of 13 gives
    [0.77, 1.00] (the exact Clopper-Pearson lower bound is 0.75).
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return float(low), float(high)


def wilson_floor(labels, probs, threshold: float = 0.5, alpha: float = 0.05, decisions=None
                 ) -> dict[str, tuple[float, float]]:
    """Each proportion of ``binary_metrics`` read over its denominator, as a Wilson score interval.

    accuracy: correct of all videos; precision: true of predicted FAKE; recall: found of
    FAKE; F1 = 2TP / (2TP + FP + FN) over TP + FP + FN decisions; balanced accuracy over
    the smaller class (the pessimistic count). ROC AUC is not a proportion and is not here.
    """
    y = np.asarray(labels).astype(int)
    pred = (np.asarray(probs if decisions is None else decisions, dtype=float) >= threshold).astype(int)
    tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    point = binary_metrics(y, probs, threshold, decisions)
    trials = {"accuracy": len(y), "precision": tp + fp, "recall": tp + fn, "f1": tp + fp + fn,
              "balanced_accuracy": _smaller_class(y)}
    z = NormalDist().inv_cdf(1 - alpha / 2)
    return {k: wilson(point[k] * n, n, z) for k, n in trials.items() if np.isfinite(point[k])}


def _smaller_class(labels) -> int:
    y = np.asarray(labels).astype(int)
    return int(min((y == 1).sum(), (y == 0).sum()))


def proportion_method(n_boot: int) -> str:
    return f"family bootstrap percentile ({n_boot} draws), widened to the Wilson score interval"


def roc_auc_interval(labels, probs, families, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
                     ) -> stats.Interval:
    """The video ROC AUC with its interval: cluster-bootstrap BCa over families (:func:`stats.auc_interval`).

    Where the split has too few families for a bootstrap (fewer than ``stats.MIN_FAMILIES``,
    the smoke profile's splits) the interval is the Wilson interval over the smaller class,
    a conservative stand-in, and its method says so.
    """
    iv = stats.auc_interval(labels, probs, families, n_boot, seed, level=1 - alpha)
    if iv.defined or not np.isfinite(iv.point):
        return iv
    n = _smaller_class(labels)
    low, high = wilson(iv.point * n, n, NormalDist().inv_cdf(1 - alpha / 2))
    return stats.Interval(iv.point, low, high, 1 - alpha, f"Wilson score interval over the smaller class ({n} "
                                                         f"videos): too few families for a bootstrap")


def intervals(labels, probs, families, threshold: float = 0.5, n_boot: int = 1000, seed: int = 0,
              alpha: float = 0.05, decisions=None) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """``(intervals, methods)``: the (1 - alpha) interval of every metric of ``binary_metrics`` and, per metric,
    the method that made it. ROC AUC: :func:`roc_auc_interval`; the proportions: family-bootstrap
    percentiles widened to their Wilson interval (:func:`wilson_floor`); log loss: the percentiles alone."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=float)
    d = p if decisions is None else np.asarray(decisions, dtype=float)
    fam, n_fam = stats.family_index(families)  # (N,) family index of each video
    counts = stats.family_counts(max(n_fam, 1), n_boot, seed)  # (B, F) times each family is drawn
    values = weighted_metrics(y, p, d >= threshold, counts[:, fam])  # (B,) per metric; videos weighted by family
    drawn = np.isfinite(values["roc_auc"])  # a draw of one class has no AUC: skipped, as every metric of it
    samples = {k: v[drawn] for k, v in values.items() if drawn.any()}
    ci = {k: (float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))) for k, v in samples.items()}
    floor = wilson_floor(y, p, threshold, alpha, d)
    methods = {}
    for k, point in binary_metrics(y, p, threshold, d).items():
        if not np.isfinite(point) or k == "roc_auc":
            continue
        low, high = ci.get(k, (point, point))
        floor_low, floor_high = floor.get(k, (point, point))
        ci[k] = (min(low, floor_low, point), max(high, floor_high, point))
        methods[k] = proportion_method(n_boot) if k in floor else f"family bootstrap percentile ({n_boot} draws)"
    ci.pop("roc_auc", None)
    auc = roc_auc_interval(y, p, families, n_boot, seed, alpha)
    if np.isfinite(auc.point):
        ci["roc_auc"], methods["roc_auc"] = (auc.low, auc.high), auc.method
    return ci, methods


def bootstrap_ci(labels, probs, families, threshold: float = 0.5, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05, decisions=None) -> dict[str, tuple[float, float]]:
    """The intervals of :func:`intervals` without their methods (the name is kept for its callers)."""
    return intervals(labels, probs, families, threshold, n_boot, seed, alpha, decisions)[0]


def confusion(labels, probs, threshold: float = 0.5) -> np.ndarray:
    """2x2 counts, rows true (REAL, FAKE), columns predicted."""
    return skm.confusion_matrix(np.asarray(labels).astype(int), (np.asarray(probs) >= threshold).astype(int),
                                labels=[0, 1])


def score_table(split: str, videos, families, labels, probs, num_frames: int | None, topk: int = 4
                ) -> pd.DataFrame:
    """One row per video of ``split``: its label and score(s).

    ``probs``: per-frame probabilities in video order ``(V*T,)`` when ``num_frames``
    is given (per-frame models: one column per rule; ``prob``, the score ROC AUC ranks,
    is the mean; ``decision``, what the threshold cuts, the paper's share), else one
    probability per video ``(V,)``, which is both.
    """
    table = pd.DataFrame({"split": split, "video": list(videos), "family": list(families),
                          "label": np.asarray(labels).astype(int)})
    if num_frames is None:
        table["prob"] = np.asarray(probs, dtype=float)
        table["decision"] = table["prob"]
        return table
    rules = aggregate_frames(probs, num_frames, topk)
    for rule in FRAME_RULES:
        table[rule] = rules[rule].to_numpy()
    table["prob"] = table["mean"]  # the continuous score: ROC AUC, log loss, the ROC curve
    table["decision"] = table["share"]  # the paper's rule decides
    return table


def frame_table(split: str, videos, labels, num_frames: int, probs) -> pd.DataFrame:
    """One row per frame of ``split`` (per-frame models): video, position, label and probability."""
    labels = np.asarray(labels).astype(int)
    return pd.DataFrame({"split": split, "video": np.repeat(list(videos), num_frames),
                         "position": np.tile(np.arange(num_frames), len(labels)),
                         "label": np.repeat(labels, num_frames), "prob": np.asarray(probs, dtype=float)})


def detector_metrics(videos: pd.DataFrame, frames: pd.DataFrame | None, grid=THRESHOLD_GRID, n_boot: int = 1000,
                     seed: int = 0) -> dict:
    """Test metrics of one detector from val + test score tables; each interval's method under ``video_ci_method``.

    Thresholds are chosen on validation only. Per-frame models (``frames`` given,
    one row per frame) report every frame-to-video rule and frame-level metrics;
    they rank by the mean and decide by the share rule at its threshold. Whole-video
    models rank by their probability and decide at 0.5.
    """
    val, test = videos[videos.split == "val"], videos[videos.split == "test"]
    metrics: dict = {}
    if frames is not None:
        rules = {}
        for rule in FRAME_RULES:
            t = choose_threshold(val.label, val[rule], grid)
            rules[rule] = {"threshold": t, **binary_metrics(test.label, test[rule], t)}
        metrics["rules"] = rules
        metrics["threshold"] = rules["share"]["threshold"]
        test_frames = frames[frames.split == "test"]
        metrics["frame"] = binary_metrics(test_frames.label, test_frames.prob)
    else:
        metrics["threshold"] = 0.5
    t = metrics["threshold"]
    metrics["score"] = "mean" if frames is not None else "prob"
    metrics["video"] = binary_metrics(test.label, test.prob, t, test.decision)
    metrics["video_ci"], metrics["video_ci_method"] = intervals(test.label, test.prob, test.family, t, n_boot, seed,
                                                                 decisions=test.decision)
    metrics["val_video"] = binary_metrics(val.label, val.prob, t, val.decision)
    metrics["confusion"] = confusion(test.label, test.decision, t).tolist()
    metrics["test_videos"] = int(len(test))
    return metrics
