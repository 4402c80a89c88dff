"""How far a detector's probabilities can be taken at their word, and temperature scaling (chapter 11).

A detector is *calibrated* when, of the videos it gives a probability of FAKE near
``p``, a share near ``p`` is FAKE. ROC AUC cannot see this (it only ranks), while log
loss and any decision taken at a stated probability can. Three measures:

- the **reliability diagram**: the probabilities cut into equal-width bins over [0, 1];
  per bin the mean probability of FAKE (*confidence*) against the share of FAKE videos
  in it (*observed*); a calibrated model lies on the diagonal;
- the **expected calibration error** (ECE): the gap between confidence and observed in
  each bin, averaged with the bin's share of the videos as weight (Naeini et al. 2015;
  Guo et al. 2017). It is taken on the probability of FAKE (the binary reliability
  diagram), not on the top-label confidence;
- the **log loss**, with probabilities clipped to [1e-6, 1 - 1e-6] as
  :mod:`dfd_utils.evaluate` clips them.

**Temperature scaling** (Guo et al. 2017) divides the model's logit by one number
``T > 0`` fitted by minimising the *validation* log loss; the test split is never seen,
so the test figures after it are an honest estimate. ``T > 1`` softens over-confident
probabilities toward 0.5, ``T < 1`` sharpens timid ones. Because ``p -> sigmoid(logit(p) / T)``
is strictly increasing (on the clipped probabilities), the ranking of the videos, hence ROC
AUC and the ROC curve, is unchanged; so is every decision by a threshold moved with it.

For the per-frame models (baseline, two-stream per frame) the video score is the mean of
the frame probabilities (:func:`dfd_utils.evaluate.score_table`), not the sigmoid of a
logit. It is still a number in [0, 1] read as a probability of FAKE, and its "logit"
``log(p / (1 - p))`` is a monotone transform of it: temperature scaling on that logit is
a valid one-parameter monotone recalibration of the score (a Platt scaling without
intercept), fitted and judged like any other. Their share-rule decision, whose threshold
was chosen on the raw frame probabilities, is not touched: only the reported probability is.

Torch-free: numpy, pandas and scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.io import write_json_atomic
from dfd_utils.paths import Paths

EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS] before a log, as in dfd_utils.evaluate
T_BOUNDS = (0.05, 20.0)  # the temperatures searched; a fit at a bound is flagged (see fit_temperature)
BINS = 10


def logit(probs) -> np.ndarray:
    """``log(p / (1 - p))`` of clipped probabilities: finite even at 0 and 1 (at most +-13.8)."""
    q = np.clip(np.asarray(probs, dtype=float), EPS, 1 - EPS)  # (N,)
    return np.log(q) - np.log1p(-q)


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """``sigmoid(logit(p) / T)``: the probabilities after temperature scaling (same shape as ``probs``).

    Strictly increasing in ``p`` on ``[EPS, 1 - EPS]`` for any ``T > 0``, so it keeps the order of the
    scores, hence ROC AUC. Scores beyond the clip (closer than 1e-6 to 0 or 1) tie at it, as the
    study's log loss already treats them; and a sharpening ``T`` can round a probability within about
    1e-16 of 1 to 1.0 in float64.
    """
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    z = logit(probs) / float(temperature)  # (N,)
    e = np.exp(-np.abs(z))  # (N,) in (0, 1]: no overflow, and small probabilities keep their precision
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_loss(labels, probs) -> float:
    """Mean binary cross-entropy of clipped probabilities; NaN for no videos."""
    y = np.asarray(labels).astype(bool)  # (N,) FAKE
    q = np.clip(np.asarray(probs, dtype=float), EPS, 1 - EPS)  # (N,)
    if len(q) == 0:
        return float("nan")
    return float(np.mean(np.where(y, -np.log(q), -np.log1p(-q))))


def reliability(labels, probs, bins: int = BINS) -> pd.DataFrame:
    """The reliability diagram's table: one row per equal-width bin of the probability of FAKE.

    Columns: ``low``, ``high`` (the bin's edges; bin ``b`` holds ``low <= p < high``, the last
    also ``p = 1``), ``count`` (videos in it; the counts sum to N), ``confidence`` (their mean
    probability) and ``observed`` (their share of FAKE); both NaN for an empty bin.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    y = np.asarray(labels, dtype=float)  # (N,) 1 = FAKE
    p = np.asarray(probs, dtype=float)  # (N,)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and probs {p.shape} differ in shape")
    which = np.clip(np.floor(p * bins).astype(int), 0, bins - 1)  # (N,) bin of each video
    count = np.bincount(which, minlength=bins)  # (bins,)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=p, minlength=bins) / count  # (bins,), NaN where empty
        observed = np.bincount(which, weights=y, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)  # (bins + 1,)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": count,
                         "confidence": confidence, "observed": observed})


def ece(labels, probs, bins: int = BINS) -> float:
    """Expected calibration error: ``sum_b n_b / N * |confidence_b - observed_b|`` over equal-width bins.

    Empty bins weigh nothing; NaN for no videos. 0 for a model whose every bin is right on
    average; at most 1.
    """
    table = reliability(labels, probs, bins)
    n = table["count"].sum()
    if n == 0:
        return float("nan")
    used = table[table["count"] > 0]
    return float((used["count"] * (used["confidence"] - used["observed"]).abs()).sum() / n)


@dataclass(frozen=True)
class Temperature:
    """A fitted temperature: ``value``, and why it may not mean much (``note``: "" when it does)."""

    value: float
    note: str = ""


def fit(val_labels, val_probs, bounds: tuple[float, float] = T_BOUNDS) -> Temperature:
    """:func:`fit_temperature` with the reason when the fit says little (one class, a bound reached)."""
    y = np.asarray(val_labels).astype(bool)  # (N,)
    z = logit(val_probs)  # (N,)
    if len(y) == 0 or y.all() or not y.any():
        return Temperature(1.0, "validation holds one class only: no temperature fitted (T = 1)")
    if not np.any(z):
        return Temperature(1.0, "every validation probability is 0.5: no temperature fitted (T = 1)")

    def nll(log_t: float) -> float:  # validation log loss at T = exp(log_t); convex in 1/T
        s = z / math.exp(log_t)  # (N,) scaled logits
        return float(np.mean(np.where(y, np.logaddexp(0, -s), np.logaddexp(0, s))))

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    try:
        from scipy.optimize import minimize_scalar

        log_t = float(minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}).x)
    except ImportError:  # scipy is a dependency of the study, but the package keeps a fallback
        log_t = _golden(nll, lo, hi)
    t = math.exp(log_t)
    if min(abs(log_t - lo), abs(log_t - hi)) < 1e-3:
        side = "sharper" if log_t - lo < 1e-3 else "softer"
        return Temperature(t, f"the fit reached the bound T = {t:.3g}: validation asks for ever {side} "
                              "probabilities (e.g. it is separated perfectly)")
    return Temperature(t)


def fit_temperature(val_labels, val_probs, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """The temperature ``T`` in ``bounds`` that minimises the log loss of ``sigmoid(logit(p) / T)`` on validation.

    The loss is convex in ``1 / T`` (a logistic regression on the logit, without
    intercept), so a bounded one-dimensional search on ``log T`` finds its minimum:
    scipy's bounded Brent method (golden-section search without scipy). Probabilities at 0
    or 1 are clipped first (:data:`EPS`). A validation split with one class has no
    calibration to learn: ``T = 1``. One the model separates perfectly makes sharper
    always better, and ``T`` stops at the lower bound (:func:`fit` says so).
    """
    return fit(val_labels, val_probs, bounds).value


def _golden(f, lo: float, hi: float, tol: float = 1e-6) -> float:
    """The minimiser of a unimodal ``f`` on ``[lo, hi]`` by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


# ------------------------------------------------------------------------------------------------ one model


@dataclass
class ModelCalibration:
    """One detector's calibration on the test split, before and after a temperature fitted on validation."""

    model: str
    temperature: float
    note: str  # why the temperature may say little ("" when nothing to say)
    val_videos: int
    test_videos: int
    ece_before: float
    ece_after: float
    log_loss_before: float
    log_loss_after: float
    val_log_loss_before: float
    val_log_loss_after: float
    bins_before: pd.DataFrame  # reliability() of the test split, raw probabilities
    bins_after: pd.DataFrame  # the same after temperature scaling

    def metrics(self) -> dict:
        """What ``metrics/calibration.json`` keeps for this model (no bin tables)."""
        return {"temperature": self.temperature, "ece_before": self.ece_before, "ece_after": self.ece_after,
                "log_loss_before": self.log_loss_before, "log_loss_after": self.log_loss_after,
                "val_videos": self.val_videos, "test_videos": self.test_videos}


def calibrate(name: str, videos: pd.DataFrame, bins: int = BINS) -> ModelCalibration:
    """Fit a temperature on the ``val`` rows of a model's ``videos.csv`` and measure ``test`` before and after.

    ``videos``: one row per video with ``split``, ``label`` (1 = FAKE) and ``prob`` (the
    video score ROC AUC ranks: a whole-video model's probability, a per-frame model's
    mean frame probability).
    """
    missing = {"split", "label", "prob"} - set(videos.columns)
    if missing:
        raise ValueError(f"{name}: predictions lack column(s) {sorted(missing)}")
    val, test = videos[videos.split == "val"], videos[videos.split == "test"]
    fitted = fit(val.label, val.prob)
    t = fitted.value
    after = apply_temperature(test.prob, t)  # (N_test,)
    return ModelCalibration(
        name, t, fitted.note, len(val), len(test),
        ece_before=ece(test.label, test.prob, bins), ece_after=ece(test.label, after, bins),
        log_loss_before=log_loss(test.label, test.prob), log_loss_after=log_loss(test.label, after),
        val_log_loss_before=log_loss(val.label, val.prob),
        val_log_loss_after=log_loss(val.label, apply_temperature(val.prob, t)),
        bins_before=reliability(test.label, test.prob, bins), bins_after=reliability(test.label, after, bins))


# ------------------------------------------------------------------------------------------------ the chapter


def load(root: str | Path = ".", names=None) -> dict[str, pd.DataFrame]:
    """``{model: its videos.csv}`` for the detectors (default: the five) whose predictions exist under ``root``."""
    paths = Paths.at(root)
    found = {n: pd.read_csv(paths.predictions / n / "videos.csv") for n in (names or MODEL_NAMES)
             if (paths.predictions / n / "videos.csv").is_file()}
    if not found:
        raise FileNotFoundError(f"{paths.predictions}: no predictions yet (run notebooks 04-07 or dvc repro)")
    return found


def calibrate_all(predictions: dict[str, pd.DataFrame], bins: int = BINS) -> dict[str, ModelCalibration]:
    return {name: calibrate(name, table, bins) for name, table in predictions.items()}


def table(records: dict[str, ModelCalibration]) -> pd.DataFrame:
    """Models x {T, ECE before/after, log loss before/after} on the test split."""
    rows = {n: {"T": r.temperature, "ECE before": r.ece_before, "ECE after": r.ece_after,
                "log loss before": r.log_loss_before, "log loss after": r.log_loss_after} for n, r in records.items()}
    return pd.DataFrame.from_dict(rows, orient="index").round(3)


def _names(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def reading(records: dict[str, ModelCalibration]) -> str:
    """What the table says, in words computed from it: who is over- or under-confident, and whether the
    temperature fitted on validation helped on test."""
    over = [n for n, r in records.items() if r.temperature > 1 and not r.note]
    under = [n for n, r in records.items() if r.temperature < 1 and not r.note]
    helped = [n for n, r in records.items() if r.ece_after < r.ece_before]
    loss_helped = [n for n, r in records.items() if r.log_loss_after < r.log_loss_before]
    lines = [f"Over-confident on validation (T > 1, softened): {_names(over)}.",
             f"Under-confident (T < 1, sharpened): {_names(under)}.",
             f"Test ECE lower after scaling: {_names(helped)} ({len(helped)} of {len(records)}); "
             f"test log loss lower: {_names(loss_helped)} ({len(loss_helped)} of {len(records)})."]
    flagged = [f"{n}: {r.note}" for n, r in records.items() if r.note]
    if flagged:
        lines.append("Temperatures that say little: " + "; ".join(flagged) + ".")
    return " ".join(lines)


def write_metrics(root: str | Path, records: dict[str, ModelCalibration]) -> Path:
    """``metrics/calibration.json``: per model, T and the test ECE and log loss before and after."""
    path = Paths.at(root).metrics / "calibration.json"
    write_json_atomic(path, {n: r.metrics() for n, r in records.items()})
    return path
