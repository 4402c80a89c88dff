"""The paper's claims as data, and the verdict our results give each one (chapter 10).

A claim is tested by one or more *checks*: a measured effect (an AUC difference
between two models over the same test videos, a model's AUC against chance, video
against frame accuracy, ...) with its 95 % interval and its value for every training
seed. :func:`decide` turns a check into a verdict:

- **holds**: the whole interval lies on the claim's side of its bound, *and* every
  seed's effect does too;
- **contradicted**: the whole interval lies on the other side of the bound where the
  claim fails, and every seed agrees;
- **not shown**: anything else: the interval straddles the bound, the seeds disagree
  (the table says how many agree), or the effect is undefined on this test split.

Intervals of differences are *paired* family bootstraps: each draw resamples the
original families (an original with its fakes) of the test split once and scores both
sides on the same draw, so the shared difficulty of the videos cancels (as
:func:`dfd_utils.evaluate.bootstrap_ci` resamples families for one model). Only seed 0
leaves per-video predictions; the other seeds add their test metrics
(``metrics/<model>.json``: ``seeds.runs``), which is what the seed count checks.

Claims of "no effect" (the CNN-RNN and 3D CNN learn nothing beyond the class prior)
cannot be shown by an interval that merely contains 0.5; they hold only when the
interval lies below a stated margin above chance (:data:`PRIOR_MARGIN`), and are
contradicted when it lies above chance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from dfd_utils.paths import Paths
from dfd_utils.report import interval, load_results
from dfd_utils.settings import MODEL_NAMES

MIN_FAMILIES = 8  # fewer original families in the test split: no bootstrap interval (it would be a few points)
PRIOR_MARGIN = 0.1  # "no better than the prior": AUC within 0.1 of chance, accuracy within 0.1 of the majority rate
VERDICTS = ("holds", "contradicted", "not shown", "not tested")


# ---------------------------------------------------------------------------------------------- the results read


@dataclass
class Results:
    """What the claims are decided on: each model's metrics JSON and its seed-0 test predictions."""

    metrics: dict[str, dict]  # model -> metrics/<model>.json
    videos: dict[str, pd.DataFrame]  # model -> test rows of predictions/<model>/videos.csv
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # per-frame models: test rows of frames.csv + family
    n_boot: int = 1000
    seed: int = 0


def load(root: str | Path = ".", n_boot: int = 1000, seed: int = 0) -> Results:
    """The five detectors' results under ``root`` (those that exist); test split only."""
    metrics, predictions = load_results(root, MODEL_NAMES)
    videos = {m: p[p.split == "test"].reset_index(drop=True) for m, p in predictions.items()}
    frames = {}
    for name, table in videos.items():
        path = Paths.at(root).predictions / name / "frames.csv"
        if path.is_file():
            f = pd.read_csv(path)
            f = f[f.split == "test"].merge(table[["video", "family"]], on="video", how="inner")
            frames[name] = f.reset_index(drop=True)
    return Results(metrics, videos, frames, n_boot, seed)


def seed_runs(metrics: dict) -> list[dict]:
    """A model's runs, one per seed (``seeds.runs``); metrics written before seeds were kept count as seed 0."""
    runs = (metrics.get("seeds") or {}).get("runs")
    if runs:
        return list(runs)
    return [{"seed": 0, **metrics.get("video", {}), "roc_auc_ci": metrics.get("video_ci", {}).get("roc_auc")}]


def seed_values(metrics: dict, key: str) -> dict[int, float]:
    """``{seed: value}`` of a test metric over a model's seeds (runs without ``key`` left out)."""
    return {int(r["seed"]): float(r[key]) for r in seed_runs(metrics) if r.get(key) is not None}


# ------------------------------------------------------------------------------------------------ the statistics


def auc(labels, scores) -> float:
    """ROC AUC by ranks (ties averaged), as sklearn computes it; NaN when one class is missing."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


class Columns:
    """A table's columns as numpy arrays, read as attributes (``t.label``), as a DataFrame's are.

    What a bootstrap draw hands the statistic: taking rows from numpy arrays instead of
    ``DataFrame.iloc`` is most of chapter 10's time saved (9.4 s to 2.5 s on the demo), with the
    same rows in the same order, so the same values.
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        self.__dict__["_columns"] = columns

    @classmethod
    def of(cls, table: pd.DataFrame) -> Columns:
        return cls({name: table[name].to_numpy() for name in table.columns})

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def take(self, rows: np.ndarray) -> Columns:
        """These rows (positions, repeats allowed), in this order."""
        return Columns({name: values[rows] for name, values in self._columns.items()})


def family_bootstrap(tables: dict[str, pd.DataFrame], stat: Callable[[dict[str, pd.DataFrame]], float],
                     n_boot: int = 1000, seed: int = 0, alpha: float = 0.05, min_families: int = MIN_FAMILIES
                     ) -> tuple[float, float, float]:
    """``(point, low, high)`` of ``stat`` over ``tables`` (each with a ``family`` column), resampling families.

    Every draw picks the test split's families with replacement once and takes all
    rows of each picked family from every table (as :class:`Columns`: ``stat`` reads columns as
    attributes, ``t["v"].label``, of a DataFrame for the point and of the draw's columns otherwise),
    so a statistic comparing tables (two models, or frames against videos) is paired. Draws where ``stat`` is undefined
    (one class only) are skipped; the interval is NaN when none is defined, or when the split holds fewer
    than ``min_families`` families (resampling two families gives an interval of three values, not an interval).
    """
    point = float(stat(tables))
    families = pd.unique(pd.concat([t["family"] for t in tables.values()], ignore_index=True))
    if len(families) < max(min_families, 1):
        return point, float("nan"), float("nan")
    rows = {k: {f: idx for f, idx in t.groupby("family").indices.items()} for k, t in tables.items()}
    columns = {k: Columns.of(t) for k, t in tables.items()}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        picked = families[rng.integers(len(families), size=len(families))]
        sample = {}
        for k, t in columns.items():
            idx = [rows[k][f] for f in picked if f in rows[k]]
            sample[k] = t.take(np.concatenate(idx) if idx else np.arange(0))
        value = stat(sample)
        if np.isfinite(value):
            draws.append(value)
    if not draws:
        return point, float("nan"), float("nan")
    low, high = (float(q) for q in np.quantile(draws, [alpha / 2, 1 - alpha / 2]))
    if np.isfinite(point):  # the interval always holds the point estimate
        low, high = min(low, point), max(high, point)
    return point, low, high


# ------------------------------------------------------------------------------------------------- the verdicts


@dataclass(frozen=True)
class Evidence:
    """One measured effect: its value (seed 0), 95 % interval, the value per seed, and what the claim needs.

    ``direction`` +1: the claim says the effect exceeds ``bound``; -1: that it stays below.
    ``against``: where the claim fails (default ``bound``); a claim of "no better than
    chance" holds below chance + margin and fails above chance itself.
    """

    measure: str  # what the effect is, in words: "video AUC, two_stream_video − baseline"
    effect: float
    low: float
    high: float
    seeds: tuple[float, ...]  # the effect per seed (those with both sides measured)
    direction: int
    bound: float = 0.0
    against: float | None = None
    note: str = ""  # said beside the verdict (e.g. "frame metrics are kept for seed 0 only")
    difference: bool = True  # a difference (printed with its sign) rather than a metric's own value


@dataclass(frozen=True)
class Verdict:
    verdict: str  # holds | contradicted | not shown | not tested
    agree: int  # seeds on the side the interval points to (or, where it points nowhere, on the claim's side)
    seeds: int  # seeds measured
    why: str  # one sentence

    @property
    def seeds_text(self) -> str:
        return f"{self.agree}/{self.seeds}" if self.seeds else "–"


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _interval_verdict(status: str, agreeing: int, seeds: int, side: str, bound: float, suffix: str) -> Verdict:
    """``status`` when every seed agrees with an interval lying ``side`` of ``bound``, else "not shown"."""
    where = f"the 95 % interval lies {side} {_fmt(bound)}"
    if agreeing == seeds:
        return Verdict(status, agreeing, seeds, f"{where} and so does every seed.{suffix}")
    return Verdict("not shown", agreeing, seeds, f"{where}, but only {agreeing} of {seeds} seeds do.{suffix}")


def decide(e: Evidence) -> Verdict:
    """The verdict of one check: the interval's side of the bound, kept only where every seed agrees."""
    against = e.bound if e.against is None else e.against
    n = len(e.seeds)
    if not (np.isfinite(e.effect) and np.isfinite(e.low) and np.isfinite(e.high)) or n == 0:
        return Verdict("not shown", 0, n, f"no interval on this test split (a model is missing, the split holds "
                                          f"one class, or fewer than {MIN_FAMILIES} original families).")
    d = e.direction
    for_claim = sum(d * (s - e.bound) > 0 for s in e.seeds)
    for_other = sum(d * (s - against) < 0 for s in e.seeds)
    near, far = (e.low, e.high) if d > 0 else (e.high, e.low)  # the interval's ends nearest and farthest the bound
    side, other = ("above", "below") if d > 0 else ("below", "above")
    suffix = f" {e.note}" if e.note else ""
    # A claim of "no better than chance" holds below chance + margin but fails above chance itself: the two
    # regions overlap, and an interval wholly above chance contradicts it however close to chance it lies.
    if d * (far - against) < 0:
        return _interval_verdict("contradicted", for_other, n, other, against, suffix)
    if d * (near - e.bound) > 0:
        return _interval_verdict("holds", for_claim, n, side, e.bound, suffix)
    span = f"the 95 % interval [{_fmt(e.low)}, {_fmt(e.high)}]"
    if against == e.bound:
        return Verdict("not shown", for_claim, n, f"{span} includes {_fmt(e.bound)}.{suffix}")
    return Verdict("not shown", for_claim, n, f"{span} lies neither {side} {_fmt(e.bound)} nor {other} "
                                              f"{_fmt(against)}.{suffix}")


# --------------------------------------------------------------------------------------------------- the checks


def _missing(measure: str, direction: int = 1, bound: float = 0.0, against: float | None = None,
             difference: bool = True) -> Evidence:
    nan = float("nan")
    return Evidence(measure, nan, nan, nan, (), direction, bound, against, difference=difference)


def auc_difference(r: Results, a: str, b: str, direction: int = 1) -> Evidence:
    """Video ROC AUC of ``a`` minus ``b`` on the same test videos: paired family bootstrap; seeds paired by seed."""
    measure = f"video AUC, {a} − {b}"
    if a not in r.videos or b not in r.videos:
        return _missing(measure, direction)
    both = r.videos[a][["video", "family", "label", "prob"]].merge(
        r.videos[b][["video", "prob"]], on="video", suffixes=("_a", "_b"))

    def stat(t):
        v = t["v"]
        return auc(v.label, v.prob_a) - auc(v.label, v.prob_b)

    point, low, high = family_bootstrap({"v": both}, stat, r.n_boot, r.seed)
    sa, sb = seed_values(r.metrics[a], "roc_auc"), seed_values(r.metrics[b], "roc_auc")
    seeds = tuple(sa[s] - sb[s] for s in sorted(set(sa) & set(sb)))
    return Evidence(measure, point, low, high, seeds, direction)


def frame_auc_difference(r: Results, a: str, b: str, direction: int = 1) -> Evidence:
    """Frame-level ROC AUC of per-frame models ``a`` minus ``b`` on the same test frames (paired by family)."""
    measure = f"frame AUC, {a} − {b}"
    if a not in r.frames or b not in r.frames:
        return _missing(measure, direction)
    both = r.frames[a][["video", "position", "family", "label", "prob"]].merge(
        r.frames[b][["video", "position", "prob"]], on=["video", "position"], suffixes=("_a", "_b"))

    def stat(t):
        f = t["f"]
        return auc(f.label, f.prob_a) - auc(f.label, f.prob_b)

    point, low, high = family_bootstrap({"f": both}, stat, r.n_boot, r.seed)
    sa, sb = seed_values(r.metrics.get(a, {}), "frame_roc_auc"), seed_values(r.metrics.get(b, {}), "frame_roc_auc")
    common = sorted(set(sa) & set(sb))
    seeds = tuple(sa[s] - sb[s] for s in common) if common else (point,)
    note = "" if common else "(Frame metrics are kept for seed 0 only.)"
    return Evidence(measure, point, low, high, seeds, direction, note=note)


def frame_auc(r: Results, model: str) -> Evidence:
    """Frame-level ROC AUC of a per-frame model against chance (0.5), family bootstrap over its test frames."""
    measure = f"frame AUC, {model}"
    if model not in r.frames:
        return _missing(measure, 1, 0.5)
    point, low, high = family_bootstrap({"f": r.frames[model]}, lambda t: auc(t["f"].label, t["f"].prob),
                                        r.n_boot, r.seed)
    per_seed = seed_values(r.metrics.get(model, {}), "frame_roc_auc")
    seeds = tuple(per_seed[s] for s in sorted(per_seed)) if per_seed else (point,)
    return Evidence(measure, point, low, high, seeds, 1, 0.5,
                    note="" if per_seed else "(Frame metrics are kept for seed 0 only.)", difference=False)


def frame_to_video_accuracy(r: Results, model: str) -> Evidence:
    """Video accuracy (the paper's share rule at its validation threshold) minus frame accuracy (p >= 0.5) of a
    per-frame model, both on the test split, bootstrapped together by family. The claim: it drops (< 0)."""
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

    point, low, high = family_bootstrap({"v": r.videos[model], "f": r.frames[model]}, stat, r.n_boot, r.seed)
    video, frame = seed_values(r.metrics[model], "accuracy"), seed_values(r.metrics[model], "frame_accuracy")
    common = sorted(set(video) & set(frame))
    seeds = tuple(video[s] - frame[s] for s in common) if common else (point,)
    return Evidence(measure, point, low, high, seeds, -1,
                    note="" if common else "(Frame metrics are kept for seed 0 only.)")


def auc_at_chance(r: Results, model: str, margin: float = PRIOR_MARGIN) -> Evidence:
    """A model's video ROC AUC (interval from its metrics) against chance: the claim "learns nothing beyond the
    prior" holds below 0.5 + ``margin`` and fails above 0.5."""
    measure = f"video AUC, {model}"
    if model not in r.metrics:
        return _missing(measure, -1, 0.5 + margin, 0.5)
    m = r.metrics[model]
    low, high = m.get("video_ci", {}).get("roc_auc", (float("nan"), float("nan")))
    per_seed = seed_values(m, "roc_auc")
    return Evidence(measure, float(m["video"]["roc_auc"]), float(low), float(high),
                    tuple(per_seed[s] for s in sorted(per_seed)), -1, 0.5 + margin, 0.5, difference=False)


def majority_rate(metrics: dict) -> float:
    """The share of the test split's larger class (the accuracy of always guessing it), from the confusion matrix."""
    counts = np.asarray(metrics.get("confusion", [[0, 0], [0, 0]]), dtype=float).sum(axis=1)  # rows: true class
    return float(counts.max() / counts.sum()) if counts.sum() else float("nan")


def accuracy_over_majority(r: Results, model: str, margin: float = PRIOR_MARGIN) -> Evidence:
    """A model's video accuracy minus the majority-class rate: "sits at the class split" holds below ``margin``
    and fails above 0 (the interval is the accuracy's, shifted by the fixed rate)."""
    measure = f"video accuracy − majority rate, {model}"
    if model not in r.metrics:
        return _missing(measure, -1, margin, 0.0)
    m = r.metrics[model]
    base = majority_rate(m)
    low, high = m.get("video_ci", {}).get("accuracy", (float("nan"), float("nan")))
    per_seed = seed_values(m, "accuracy")
    return Evidence(measure, float(m["video"]["accuracy"]) - base, float(low) - base, float(high) - base,
                    tuple(per_seed[s] - base for s in sorted(per_seed)), -1, margin, 0.0)


# ---------------------------------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class Claim:
    """One finding of the paper, in its words, with where it is stated and how our data decides it."""

    id: str  # short, also the prefix of the chapter's glue keys
    short: str  # the claim in a few words (the verdict table's row)
    words: str  # the paper's words
    where: str  # section of the paper
    test: str  # the check that decides it here
    dfdc: str  # what would have to hold on DFDC for the paper's conclusion to stand
    check: Callable[[Results], Evidence] | None = None  # None: not testable on these results (said why in test)


CLAIMS: tuple[Claim, ...] = (
    Claim("two_stream_frame_beats_baseline", "two-stream per frame beats the spatial baseline",
          "The Two-Stream models, which concurrently process spatial and temporal features, demonstrate superior "
          "performance in identifying deepfake videos", "Abstract; §6",
          "Paired family bootstrap of the video AUC difference two_stream_frame − baseline over the same test videos "
          "(> 0), every seed's difference > 0.",
          "The same paired interval above 0 on the paper's 83 test videos (or more), for at least three seeds; the "
          "paper reports no interval and one run.",
          lambda r: auc_difference(r, "two_stream_frame", "baseline")),
    Claim("two_stream_video_beats_baseline", "two-stream per video beats the spatial baseline",
          "the TwoStream model incorporates both spatial and temporal information [...] which likely contributes to "
          "its superior performance in whole-video contexts", "§5.2",
          "Paired family bootstrap of the video AUC difference two_stream_video − baseline (> 0), every seed agreeing.",
          "An interval of the AUC difference above 0 over the DFDC test videos with the baseline scored by its "
          "continuous mean (not a test-chosen threshold), across seeds.",
          lambda r: auc_difference(r, "two_stream_video", "baseline")),
    Claim("flow_carries_temporal_signal", "optical flow adds signal within each frame",
          "Even if individual frames are not altered with deepfake masks, the temporal flow component of the "
          "Two-Stream model can still detect anomalies", "§5.2; §6",
          "Frame-level AUC of two_stream_frame − baseline on the same test frames (the only difference between the "
          "two models is the flow stream), paired by family (> 0).",
          "On DFDC, whose fakes are not all temporally unstable and whose test videos are re-encoded, the flow stream "
          "must still add frame AUC beyond the interval; an ablation with the flow zeroed would show it directly.",
          lambda r: frame_auc_difference(r, "two_stream_frame", "baseline")),
    Claim("whole_video_beats_per_frame", "whole-video two-stream beats per-frame two-stream",
          "Analyzing whole batches of frames allows the model to establish longer-term dependencies, further "
          "improving its capability to discern genuine sequences from manipulated ones", "§5.2",
          "Video AUC difference two_stream_video − two_stream_frame (same inputs, different granularity), paired "
          "family bootstrap (> 0), every seed agreeing.",
          "The per-video model's AUC interval above the per-frame model's mean-scored AUC on DFDC test videos.",
          lambda r: auc_difference(r, "two_stream_video", "two_stream_frame")),
    Claim("two_stream_video_beats_cnn_rnn", "two-stream per video beats the CNN-RNN",
          "we achieved considerable success with the Two-Stream Whole-Video model, which demonstrated enhanced "
          "resilience to the issues plaguing the other models", "§5.2",
          "Video AUC difference two_stream_video − cnn_rnn, paired family bootstrap (> 0), every seed agreeing.",
          "The difference must survive the CNN-RNN being trained as well as it can be (the paper's did not learn).",
          lambda r: auc_difference(r, "two_stream_video", "cnn_rnn")),
    Claim("two_stream_video_beats_cnn3d", "two-stream per video beats the 3D CNN",
          "we achieved considerable success with the Two-Stream Whole-Video model, which demonstrated enhanced "
          "resilience to the issues plaguing the other models", "§5.2",
          "Video AUC difference two_stream_video − cnn3d, paired family bootstrap (> 0), every seed agreeing.",
          "As for the CNN-RNN: against a 3D CNN that learns (DeepfakeBench's I3D is its nearest published relative).",
          lambda r: auc_difference(r, "two_stream_video", "cnn3d")),
    Claim("frame_level_works", "the spatial baseline detects single frames",
          "employing a spatial-only approach allows for effective local detection of features within individual "
          "frames (Table 7: frame accuracy 0.97)", "§5.2; Table 7",
          "Frame-level AUC of the baseline on the test frames, family bootstrap: its interval above 0.5.",
          "Frame AUC well above chance on DFDC test frames, with frames of one video kept together in the interval "
          "(they are not independent); DeepfakeBench's cross-dataset frame AUCs on DFDC are 0.64–0.72.",
          lambda r: frame_auc(r, "baseline")),
    Claim("frame_to_video_drop_baseline", "frame accuracy does not carry over to videos (baseline)",
          "when these per-frame analyses are aggregated to represent entire video sequences, we observe a "
          "significant drop in accuracy, particularly evident in the baseline models", "§5.2; §6",
          "The baseline's video accuracy (share of FAKE frames at the validation threshold) minus its frame "
          "accuracy (p ≥ 0.5), bootstrapped together by family: the claim holds if the interval lies below 0.",
          "A drop beyond the interval on DFDC with the threshold chosen on validation (the paper chose it on test, "
          "which favours the video accuracy, so a drop there is conservative).",
          lambda r: frame_to_video_accuracy(r, "baseline")),
    Claim("frame_to_video_drop_two_stream_frame", "frame accuracy does not carry over to videos (two-stream per "
          "frame)",
          "when these per-frame analyses are aggregated to represent entire video sequences, we observe a "
          "significant drop in accuracy", "§5.2",
          "As for the baseline, for two_stream_frame: video minus frame accuracy, interval below 0.",
          "As for the baseline.",
          lambda r: frame_to_video_accuracy(r, "two_stream_frame")),
    Claim("cnn_rnn_at_prior_auc", "the CNN-RNN learns nothing beyond the class prior (AUC)",
          "We got very low precisions, which suggest that the model didn't learning the features", "§5.2",
          f"Video AUC of cnn_rnn: holds if its interval lies below 0.5 + {PRIOR_MARGIN} (every seed too), "
          "contradicted if it lies above 0.5.",
          "An AUC interval near 0.5 for a CNN-RNN trained to convergence on DFDC; published CNN-LSTMs on DFDC "
          "(Kaggle, 15th place) scored well, so the paper's failure is more likely its training than the "
          "architecture.",
          lambda r: auc_at_chance(r, "cnn_rnn")),
    Claim("cnn3d_at_prior_auc", "the 3D CNN learns nothing beyond the class prior (AUC)",
          "We also noticed that our 3D CNN and CNN-RNN struggled", "§5.2",
          f"Video AUC of cnn3d: holds if its interval lies below 0.5 + {PRIOR_MARGIN} (every seed too), "
          "contradicted if it lies above 0.5.",
          "An AUC interval near 0.5 for an inflated-ResNet 3D CNN on DFDC; DeepfakeBench's I3D (its nearest "
          "relative) has no published table, so this would be new evidence.",
          lambda r: auc_at_chance(r, "cnn3d")),
    Claim("cnn_rnn_at_prior_accuracy", "the CNN-RNN's accuracy sits at the class split",
          "This is further backed by accuracy of these models sitting at 0.59 and 0.62 which is the rough class "
          "split of the dataset", "§5.2",
          f"Video accuracy of cnn_rnn minus the test split's majority-class rate: holds if the interval lies below "
          f"{PRIOR_MARGIN}, contradicted if it lies above 0.",
          "Accuracy within the margin of DFDC's majority rate (about 0.84 FAKE in the full training set; 0.5 in the "
          "balanced public and private test sets), where balanced accuracy is the fairer measure.",
          lambda r: accuracy_over_majority(r, "cnn_rnn")),
    Claim("cnn3d_at_prior_accuracy", "the 3D CNN's accuracy sits at the class split",
          "This is further backed by accuracy of these models sitting at 0.59 and 0.62 which is the rough class "
          "split of the dataset", "§5.2",
          f"Video accuracy of cnn3d minus the majority-class rate: holds below {PRIOR_MARGIN}, contradicted above 0.",
          "As for the CNN-RNN.",
          lambda r: accuracy_over_majority(r, "cnn3d")),
    Claim("cnn3d_heat_follows_flow", "the 3D CNN attends to regions of high flow",
          "we can already see that the 3D model is picking up features extracted from areas of \"high\" temporal "
          "flow", "§5.2; Figure 3",
          "Not tested here: one example, judged by eye. Chapter 08 shows the same Grad-CAM beside flow; a test "
          "would correlate heat with flow magnitude over all test videos against a shuffled-flow baseline.",
          "The correlation above its shuffled baseline on DFDC videos, where most motion is the speaker's, not the "
          "forgery's."),
    Claim("frame_models_overfit", "per-frame models overfit",
          "our frame-by-frame analysis exposed potential vulnerabilities to overfitting, despite the implementation "
          "of high regularization and dropout layers", "§5.2",
          "Not tested here: the paper gives no numbers; the detector chapters show train and validation curves per "
          "epoch (DVCLive), which a reader can compare.",
          "A growing gap between training and validation loss on DFDC that more diverse data closes."),
)


def statements(claims=CLAIMS) -> pd.DataFrame:
    """The claims as the paper states them: where, in its words, how we test each, what DFDC would need."""
    return pd.DataFrame([{"where": c.where, "the paper's words": f"“{c.words}”", "decided here by": c.test,
                          "what would have to hold on DFDC": c.dfdc} for c in claims],
                        index=pd.Index([c.id for c in claims], name="claim"))


@dataclass(frozen=True)
class Decided:
    claim: Claim
    evidence: Evidence | None
    verdict: Verdict


def decide_all(r: Results, claims=CLAIMS) -> list[Decided]:
    out = []
    for c in claims:
        if c.check is None:
            out.append(Decided(c, None, Verdict("not tested", 0, 0, "qualitative in the paper; see the test column.")))
        else:
            e = c.check(r)
            out.append(Decided(c, e, decide(e)))
    return out


def evidence_text(e: Evidence | None) -> str:
    """``+0.03 [-0.05, 0.10]`` (the book's interval format), ``n/a`` where undefined."""
    if e is None or not np.isfinite(e.effect):
        return "n/a"
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return f"{e.effect:+.2f}" if e.difference else f"{e.effect:.2f}"
    if e.difference:
        return f"{e.effect:+.2f} [{e.low:+.2f}, {e.high:+.2f}]"
    return interval(e.effect, e.low, e.high)


def verdict_table(decided: list[Decided], why: bool = False) -> pd.DataFrame:
    """One row per claim (its few words): what was measured, the effect with its 95 % interval, the seeds agreeing
    and the verdict; ``why`` adds the verdict's reason in a sentence."""
    rows = []
    for d in decided:
        row = {"measured": d.evidence.measure if d.evidence else "–",
               "effect [95 % interval]": evidence_text(d.evidence), "seeds agreeing": d.verdict.seeds_text,
               "verdict": d.verdict.verdict}
        if why:
            row["why"] = d.verdict.why
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index([d.claim.short for d in decided], name="claim"))


def glue_values(decided: list[Decided], r: Results | None = None) -> dict[str, object]:
    """Every number and word the chapter's prose cites, by glue key (``<claim id>_<what>``, ``n_<verdict>``, and
    from ``r``: ``seeds_fewest``, ``seeds_most``, ``test_videos``, ``n_boot``, ``prior_margin``)."""
    values: dict[str, object] = {"prior_margin": PRIOR_MARGIN, "min_families": MIN_FAMILIES}
    for d in decided:
        e, v, k = d.evidence, d.verdict, d.claim.id
        values[f"{k}_verdict"] = v.verdict
        values[f"{k}_seeds"] = v.seeds_text
        values[f"{k}_evidence"] = evidence_text(e)
        values[f"{k}_why"] = v.why
    counts = pd.Series([d.verdict.verdict for d in decided]).value_counts()
    for name in VERDICTS:
        values[f"n_{name.replace(' ', '_')}"] = int(counts.get(name, 0))
    values["n_claims"] = len(decided)
    if r is not None:
        values["seeds_fewest"], values["seeds_most"] = fewest, most = seed_counts(r.metrics)
        values["seeds_text"] = (f"{most} seed{'s' * (most != 1)}" if fewest == most
                                else f"{fewest} to {most} seeds")
        videos = sorted({int(m["test_videos"]) for m in r.metrics.values() if m.get("test_videos") is not None})
        values["test_videos"] = " to ".join(map(str, videos[:: max(len(videos) - 1, 1)])) if videos else "n/a"
        values["n_boot"] = r.n_boot
    return values


def verdict_sentence(decided: list[Decided]) -> str:
    """The chapter's headline, computed: how many claims hold, are contradicted, are not shown, are not tested."""
    counts = pd.Series([d.verdict.verdict for d in decided], dtype=object).value_counts()
    plural = {"holds": "hold"}
    parts = [f"{n} {v if n == 1 else plural.get(v, v)}" for v in VERDICTS for n in [int(counts.get(v, 0))]]
    held = [f"*{d.claim.short}*" for d in decided if d.verdict.verdict == "holds"]
    against = [f"*{d.claim.short}*" for d in decided if d.verdict.verdict == "contradicted"]
    text = f"Of the paper's {len(decided)} findings listed here: {', '.join(parts)}."
    text += f" Held: {'; '.join(held)}." if held else " None held on this run."
    if against:
        text += f" Contradicted: {'; '.join(against)}."
    return text


def seed_table(metrics: dict[str, dict], keys=("roc_auc", "accuracy")) -> pd.DataFrame:
    """Per model: seed 0's test value with its bootstrap interval beside the spread over seeds (mean±sd [min, max])."""
    rows = {}
    for name, m in metrics.items():
        runs = seed_runs(m)
        row = {"seeds": len(runs)}
        for k in keys:
            low, high = m.get("video_ci", {}).get(k, (float("nan"), float("nan")))
            row[f"{k}, seed 0 [95 % interval]"] = interval(m["video"][k], low, high)
            values = np.array([r[k] for r in runs if r.get(k) is not None], dtype=float)
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row[f"{k} over seeds: mean±sd [min, max]"] = (  # two lines in the book, as an interval is shown
                f"{values.mean():.2f}±{sd:.2f} [{values.min():.2f}, {values.max():.2f}]" if len(values) else "n/a")
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def seed_counts(metrics: dict[str, dict]) -> tuple[int, int]:
    """The fewest and the most seeds any model was trained with."""
    n = [len(seed_runs(m)) for m in metrics.values()] or [0]
    return min(n), max(n)


# ------------------------------------------------------------------------------------------ the published context


PUBLISHED = (  # collected in the study's references (shared REFERENCES.md); each row keeps its own protocol
    ("This paper (Table 7)", "ResNet50 per frame (our baseline)", "DFDC subset, 825 clips; 83 test videos",
     "frame accuracy", "0.97",
     "one run; random 80/10/10 video split; frames treated as independent", "paper §5.1"),
    ("This paper (§5.2)", "3D CNN and CNN-RNN", "DFDC subset, 825 clips; 83 test videos", "video accuracy",
     "0.59 and 0.62", "one run each; said to be the class split; frame-to-video threshold chosen on test",
     "paper §4.2.2, §5.2"),
    ("DFDC winner (Seferbekov)", "EfficientNet-B7 NS per frame (nearest: baseline)",
     "DFDC train → private test (10,000 videos)", "log loss", "0.42798",
     "MTCNN face crops +30 %; 32 frames; 'confident strategy' aggregation; an ensemble", "SEL; Kaggle LB"),
    ("\\WM/ (2nd place)", "not recorded here", "DFDC train → public / private test", "log loss",
     "0.28680 / 0.42842", "Kaggle leaderboards; the test sets are degraded (frame rate, resolution, re-encoding)",
     "cuihaoleo/kaggle-dfdc"),
    ("DFDC top model", "(challenge report)", "DFDC public data → black-box test set", "accuracy",
     "0.8256 → 0.6518", "the same model on the public data and on the held-out black-box set",
     "DFDC challenge"),
    ("ryanwongsa (15th)", "EfficientNet-B6 + LSTM over 5 frames (nearest: CNN-RNN)",
     "DFDC train → public / private test", "log loss", "0.244 / 0.461", "Kaggle leaderboards",
     "Kaggle DFDC leaderboard"),
    ("Cross Efficient ViT", "EfficientNet + ViT", "DFDC → DFDC (in-domain)", "AUC", "0.951",
     "trained and tested within DFDC", "arXiv 2107.02612"),
    ("DeepfakeBench", "CNN-Aug, ResNet (nearest: baseline)", "FF++ c23 → FF++ / Celeb-DF-v2 / DFDC",
     "frame AUC", "0.849 / 0.703 / 0.636",
     "dlib crops, 32 frames, ACC at 0.5; cross-dataset except FF++", "DFB README"),
    ("DeepfakeBench", "Xception / EfficientNet-B4 / UCF (best)", "FF++ c23 → DFDC", "frame AUC",
     "0.708 / 0.696 / 0.719", "as above", "DFB README"),
    ("SBI", "EfficientNet-B4 on self-blended reals", "FF++ raw → Celeb-DF-v2 / DFDC", "video AUC",
     "0.9382 / 0.7301", "pseudo-fakes only; 32 frames; max over faces, mean over frames", "SBI README"),
    ("SBI", "EfficientNet-B4 on self-blended reals", "FF++ c23 → Celeb-DF-v2 / DFDC", "video AUC",
     "0.9287 / 0.7196", "as above", "SBI README"),
    ("FTCN", "temporal convolution (nearest: 3D CNN)", "FF++ → Celeb-DF-v2 / DFDC", "video AUC", "0.869 / 0.740",
     "cross-dataset", "FTCN paper"),
    ("de Lima et al. 2020", "R3D (nearest: 3D CNN) / RCN CNN+RNN (nearest: CNN-RNN)", "Celeb-DF → Celeb-DF",
     "video AUC", "0.9973 / 0.7487", "in-domain", "oidelima/Deepfake-Detection"),
    ("Saikia et al. 2022", "optical-flow CNN-LSTM (nearest: two-stream)", "→ DFDC", "accuracy", "0.6626",
     "flow features only", "Saikia et al. 2022"),
)


def published_context() -> pd.DataFrame:
    """Where the paper stands: published DFDC and cross-dataset results, each with its protocol and source.

    None is comparable to our demo numbers (other data, other protocol); they say what
    a detector of each kind reaches on DFDC when trained well.
    """
    columns = ["work", "detector", "trained → tested", "metric", "value", "protocol", "source"]
    return pd.DataFrame(PUBLISHED, columns=columns).set_index("work")
