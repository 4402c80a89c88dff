"""Standard, labelled statistics for every interval and comparison of the study.

Why one module: a verdict is only as good as its interval, and an interval is only
honest if its name says how it was made. Videos of one *family* (an original with its
fakes) are not independent, so every interval here resamples whole families (a
cluster bootstrap) and corrects the percentile interval for bias and skew (BCa: Efron
1987; the acceleration from the jackknife over families). Comparisons between models
are *paired*: one draw resamples the families once and scores both models on the same
videos, so what the videos share cancels. "No effect" is never read from an interval
that merely contains the null: it is a TOST equivalence test with a margin fixed in
advance. Beside a verdict that shows nothing, :func:`detectable_effect` says how large
an effect this test set could have shown. ``tests/test_stats.py`` checks the coverage by
simulation (500 synthetic test sets with known AUC and family structure).

Every AUC here is the Mann-Whitney count (FAKE above REAL, ties a half), computed from
sorted scores and per-video weights, so 1000 draws cost one pass over a ``(draws,
videos)`` array instead of 1000 calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

MIN_FAMILIES = 8  # fewer families: no interval (resampling a handful of families gives a few values, not a spread)
_N = NormalDist()


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval, the interval's level and the method that made it (for every table)."""

    point: float
    low: float
    high: float
    level: float  # 0.95 or 0.90
    method: str  # e.g. "cluster bootstrap BCa over original families (1000 draws)"

    @property
    def defined(self) -> bool:
        return bool(np.isfinite(self.point) and np.isfinite(self.low) and np.isfinite(self.high))

    def as_tuple(self) -> tuple[float, float, float]:
        return self.point, self.low, self.high


def bca_method(n_boot: int) -> str:
    return f"cluster bootstrap BCa over original families ({n_boot} draws)"


# ------------------------------------------------------------------------------------------------------------ AUC


def auc(labels, scores) -> float:
    """ROC AUC by ranks (ties a half), as ``sklearn.metrics.roc_auc_score``; NaN when one class is missing."""
    s = np.asarray(scores, dtype=float)
    return float(weighted_auc(labels, s, np.ones((1, len(s))))[0])


def weighted_auc(labels, scores, weights) -> np.ndarray:
    """ROC AUC once per row of ``weights`` ``(B, N)`` (how often each video counts in that draw) -> ``(B,)``.

    With integer weights each value equals the AUC of the sample with its repeats written
    out. Scores are sorted once; per draw, the REAL weight below each distinct score
    (cumulative sums over the tie groups) counts the FAKE-over-REAL pairs in O(N).
    """
    y = np.asarray(labels).astype(bool)  # (N,) FAKE
    s = np.asarray(scores, dtype=float)  # (N,)
    w = np.atleast_2d(np.asarray(weights, dtype=float))  # (B, N)
    if len(s) == 0:
        return np.full(len(w), np.nan)
    order = np.argsort(s, kind="stable")
    ordered = s[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # (G,) first index of each tie group
    ws, ys = w[:, order], y[order]  # (B, N), (N,)
    fake = np.add.reduceat(ws * ys, starts, axis=1)  # (B, G) FAKE weight at each distinct score
    real = np.add.reduceat(ws * ~ys, starts, axis=1)  # (B, G) REAL weight there
    below = np.cumsum(real, axis=1) - real  # (B, G) REAL weight strictly below
    won = (fake * (below + 0.5 * real)).sum(axis=1)  # (B,) pairs won, ties a half
    pairs = fake.sum(axis=1) * real.sum(axis=1)  # (B,)
    return np.divide(won, pairs, out=np.full(len(w), np.nan), where=pairs > 0)


# ------------------------------------------------------------------------------------------------------ the engine


def family_index(families) -> tuple[np.ndarray, int]:
    """Each video's family as ``0..F-1`` in order of first appearance ``(N,)``, and ``F``."""
    idx = pd.factorize(np.asarray(families))[0]
    return idx, int(idx.max() + 1) if len(idx) else 0


def family_counts(n_families: int, n_boot: int, seed: int) -> np.ndarray:
    """``(B, F)``: how often each family is drawn in each of ``n_boot`` draws (families with replacement)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(n_families, size=(n_boot, n_families))  # (B, F) the families each draw picks
    flat = (np.arange(n_boot)[:, None] * n_families + draws).ravel()
    return np.bincount(flat, minlength=n_boot * n_families).reshape(n_boot, n_families).astype(float)


def bca(point: float, draws, jackknife, level: float, method: str) -> Interval:
    """The BCa interval from bootstrap ``draws`` ``(B,)`` and leave-one-family-out values ``(F,)``.

    Bias correction ``z0 = Φ⁻¹(share of draws below the point)``, ties counted a half (a
    statistic whose draws all equal the point, as a model compared with itself, gets
    ``z0 = 0``, not ``-∞``); acceleration ``a = Σd³ / (6 (Σd²)^1.5)`` with ``d`` the jackknife
    mean minus each jackknife value (0 where all are equal). Undefined draws (one class
    only) are left out; none defined gives a NaN interval.
    """
    nan = float("nan")
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]  # (B',) defined draws
    if not np.isfinite(point) or len(d) == 0:
        return Interval(float(point), nan, nan, level, method)
    share = (np.sum(d < point) + 0.5 * np.sum(d == point)) / len(d)
    share = min(max(share, 0.5 / len(d)), 1 - 0.5 / len(d))  # finite z0 when every draw lies on one side
    z0 = _N.inv_cdf(share)
    jack = np.asarray(jackknife, dtype=float)
    jack = jack[np.isfinite(jack)]  # (F',)
    dev = jack.mean() - jack if len(jack) else np.zeros(1)
    denom = 6 * float(np.sum(dev**2)) ** 1.5
    a = float(np.sum(dev**3)) / denom if denom > 0 else 0.0
    ends = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        z = z0 + _N.inv_cdf(q)
        ends.append(_N.cdf(z0 + z / (1 - a * z)) if a * z < 1 else 1.0)
    low, high = (float(v) for v in np.quantile(d, ends))
    return Interval(float(point), low, high, level, method)


def weighted_bca(stat_w: Callable[[np.ndarray], np.ndarray], families, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, method: str | None = None) -> Interval:
    """BCa cluster bootstrap of a statistic written over per-video weights: ``stat_w((K, N)) -> (K,)``.

    Row of all ones: the sample; a bootstrap row: family draw counts per video; a jackknife
    row: ones with one family zeroed. The same draws as :func:`cluster_bca` (same seed),
    one vectorised call each for the point, the draws and the jackknife.
    """
    fam, n_fam = family_index(families)  # (N,)
    method = method or bca_method(n_boot)
    point = float(stat_w(np.ones((1, len(fam))))[0])
    if n_fam < MIN_FAMILIES:
        return Interval(point, float("nan"), float("nan"), level, method)
    draws = stat_w(family_counts(n_fam, n_boot, seed)[:, fam])  # (B,)
    jack = stat_w((fam[None, :] != np.arange(n_fam)[:, None]).astype(float))  # (F,) each family left out
    return bca(point, draws, jack, level, method)


class Columns:
    """A table's columns as numpy arrays, read as attributes (``t.label``) as a DataFrame's are.

    What :func:`cluster_bca` hands the statistic for a draw: taking rows from numpy arrays
    instead of ``DataFrame.iloc`` keeps a thousand draws cheap.
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


def cluster_bca(tables: dict[str, pd.DataFrame], stat, n_boot: int = 1000, seed: int = 0,
                level: float = 0.95) -> Interval:
    """BCa interval of ``stat(tables)`` by the cluster bootstrap over the tables' ``family`` column.

    Every draw picks the families with replacement once and takes all rows of each picked
    family from every table, so a statistic comparing tables (two models, frames against
    videos) is paired. ``stat`` gets the DataFrames for the point and :class:`Columns` for
    draws and for the jackknife (each family left out once). NaN interval with fewer than
    :data:`MIN_FAMILIES` families or no defined draw.
    """
    method = bca_method(n_boot)
    point = float(stat(tables))
    families = pd.unique(pd.concat([t["family"] for t in tables.values()], ignore_index=True))
    if len(families) < MIN_FAMILIES:
        return Interval(point, float("nan"), float("nan"), level, method)
    code = {f: i for i, f in enumerate(families)}
    rows = {k: {code[f]: idx for f, idx in t.groupby("family", sort=False).indices.items()} for k, t in tables.items()}
    columns = {k: Columns.of(t) for k, t in tables.items()}
    empty = np.arange(0)

    def value(picked) -> float:  # picked: family codes, repeats allowed, in draw order
        sample = {}
        for k, t in columns.items():
            idx = [rows[k][f] for f in picked if f in rows[k]]
            sample[k] = t.take(np.concatenate(idx) if idx else empty)
        return float(stat(sample))

    counts = family_counts(len(families), n_boot, seed)  # (B, F)
    draws = [value(np.repeat(np.arange(len(families)), c.astype(int))) for c in counts]
    everyone = np.arange(len(families))
    jack = [value(everyone[everyone != f]) for f in everyone]
    return bca(point, draws, jack, level, method)


# ------------------------------------------------------------------------------------------- AUC and comparisons


def auc_interval(labels, scores, families, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
    """A model's video ROC AUC with its cluster-bootstrap BCa interval over families."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    return weighted_bca(lambda w: weighted_auc(y, s, w), families, n_boot, seed, level)


def paired_auc_difference(labels, scores_a, scores_b, families, n_boot: int = 1000, seed: int = 0,
                          level: float = 0.95) -> Interval:
    """AUC(a) − AUC(b) over the same videos, both scored on every draw (paired cluster BCa)."""
    y = np.asarray(labels)
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    return weighted_bca(lambda w: weighted_auc(y, a, w) - weighted_auc(y, b, w), families, n_boot, seed, level,
                        "paired " + bca_method(n_boot))


def _inside(iv: Interval, low: float, high: float) -> bool:
    return iv.defined and low < iv.low and iv.high < high


def equivalence(labels, scores, families, reference: float = 0.5, margin: float = 0.1, alpha: float = 0.05,
                n_boot: int = 1000, seed: int = 0) -> tuple[bool, Interval]:
    """TOST: is the AUC within ``reference ± margin``? Both one-sided tests at ``alpha`` reject exactly when the
    (1 − 2 alpha) = 90 % BCa interval lies inside the margin; that interval is returned beside the decision."""
    iv = auc_interval(labels, scores, families, n_boot, seed, level=1 - 2 * alpha)
    return _inside(iv, reference - margin, reference + margin), iv


def paired_equivalence(labels, scores_a, scores_b, families, margin: float = 0.05, alpha: float = 0.05,
                       n_boot: int = 1000, seed: int = 0) -> tuple[bool, Interval]:
    """TOST on AUC(a) − AUC(b) over the same videos: equivalent when its 90 % paired interval lies in ±``margin``."""
    iv = paired_auc_difference(labels, scores_a, scores_b, families, n_boot, seed, level=1 - 2 * alpha)
    return _inside(iv, -margin, margin), iv


def interval_equivalent(iv: Interval, reference: float, margin: float) -> bool:
    """TOST read off any (1 − 2 alpha) interval: inside ``reference ± margin``."""
    return _inside(iv, reference - margin, reference + margin)


def detectable_effect(interval: Interval, power: float = 0.8) -> float:
    """The smallest true effect this test set detects with ``power`` at the interval's level.

    ``(z_{1-a/2} + z_power) * SE`` with ``a = 1 - level`` and the standard error read off the
    interval's width, ``SE = (high - low) / (2 z_{1-a/2})`` (a normal approximation: an effect
    this large leaves the null outside the interval in ``power`` of repeated test sets).
    """
    if not (np.isfinite(interval.low) and np.isfinite(interval.high)):
        return float("nan")
    z = _N.inv_cdf(1 - (1 - interval.level) / 2)
    se = (interval.high - interval.low) / (2 * z)
    return float((z + _N.inv_cdf(power)) * se)
