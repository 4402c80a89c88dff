"""What chapter 10's claims are decided on, and the rule that turns a measured effect into a verdict.

A check measures an effect with its interval and its value for every training seed
(:class:`Evidence`); :func:`decide` gives the verdict (:class:`Verdict`). Three kinds of
claim, each decided by the standard test for it (``dfd_utils.stats``):

- **directional** ("a beats b", "accuracy drops"): **holds** when the whole 95 %
  interval lies on the claim's side of its bound and every seed does too;
  **contradicted** when it lies wholly on the other side and every seed agrees;
- **equivalence** ("at chance", "no better than the prior"): a TOST with the margin
  fixed in advance (:data:`PRIOR_MARGIN`): **holds** when the 90 % interval (two
  one-sided 5 % tests) lies inside ``bound ± margin`` and every seed does;
  **contradicted** when the 95 % interval lies wholly outside it and every seed does.
  An interval that merely contains chance shows nothing;
- **reaches** (a figure the paper reports, e.g. its frame accuracy 0.97): **holds**
  (is consistent with the paper) when the 95 % interval reaches the figure;
  **contradicted** when it lies wholly below and every seed does too.

Anything else is **not shown**, and its reason states the smallest effect the test set
could have detected (:func:`dfd_utils.stats.detectable_effect`, 80 % power).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.paths import Paths
from dfd_utils.report import load_results
from dfd_utils.stats import MIN_FAMILIES, Interval, detectable_effect

PRIOR_MARGIN = 0.1  # fixed before any result: "no better than the prior" = within 0.1 of chance (AUC) or of the
# majority rate (accuracy)
PAPER_FRAME_ACCURACY = 0.97  # the paper's Table 7: the baseline's frame accuracy
POWER = 0.8  # the power at which the smallest detectable effect is stated
VERDICTS = ("holds", "contradicted", "not shown", "not tested")
KINDS = ("directional", "equivalence", "reaches")


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


@dataclass(frozen=True)
class Evidence:
    """One measured effect: its value (seed 0), 95 % interval and its method, the value per seed, what the claim needs.

    ``direction`` (directional claims) +1: the claim says the effect exceeds ``bound``; -1:
    that it stays below; ``against``: where the claim fails (default ``bound``). Equivalence
    claims: the effect lies within ``bound ± margin``, decided on ``tost``, the 90 % interval.
    Reaches: the effect is as high as ``bound``, a figure the paper reports.
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
    method: str = ""  # how the interval was made: a column of every verdict table
    kind: str = "directional"  # directional | equivalence | reaches
    margin: float | None = None  # equivalence: the margin fixed in advance
    tost: tuple[float, float] | None = None  # equivalence: the 90 % interval the TOST reads

    @property
    def detectable(self) -> float:
        """The smallest effect this test set detects with :data:`POWER` at the 95 % level (from the interval)."""
        return detectable_effect(Interval(self.effect, self.low, self.high, 0.95, self.method), POWER)


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


def _power(e: Evidence) -> str:
    d = e.detectable
    return (f" With {POWER:.0%} power this test set detects an effect of {_fmt(d)} or more." if np.isfinite(d)
            else "")


def _seeded(status: str, agreeing: int, seeds: int, where: str, suffix: str) -> Verdict:
    """``status`` when every seed agrees with the interval (``where`` says where it lies), else "not shown"."""
    if agreeing == seeds:
        return Verdict(status, agreeing, seeds, f"{where} and so does every seed.{suffix}")
    return Verdict("not shown", agreeing, seeds, f"{where}, but only {agreeing} of {seeds} seeds do.{suffix}")


def _equivalence(e: Evidence, suffix: str) -> Verdict:
    m, ref = float(e.margin or 0.0), e.bound
    t_low, t_high = e.tost if e.tost is not None else (e.low, e.high)
    region = f"{_fmt(ref)} ± {_fmt(m)}"
    n = len(e.seeds)
    inside = sum(abs(s - ref) < m for s in e.seeds)
    if ref - m < t_low and t_high < ref + m:
        where = f"the 90 % interval [{_fmt(t_low)}, {_fmt(t_high)}] lies within {region} (TOST, 5 % each side)"
        return _seeded("holds", inside, n, where, suffix)
    if e.low > ref + m or e.high < ref - m:
        where = f"the 95 % interval lies wholly outside {region}"
        return _seeded("contradicted", n - inside, n, where, suffix)
    return Verdict("not shown", inside, n, f"the 90 % interval [{_fmt(t_low)}, {_fmt(t_high)}] is not within "
                                           f"{region}, nor does the 95 % interval lie outside it.{suffix}{_power(e)}")


def _reaches(e: Evidence, suffix: str) -> Verdict:
    n = len(e.seeds)
    if e.high >= e.bound:
        where = f"the 95 % interval [{_fmt(e.low)}, {_fmt(e.high)}] reaches the paper's {_fmt(e.bound)}"
        return _seeded("holds", sum(s >= e.low for s in e.seeds), n, where, suffix)
    where = f"the 95 % interval lies wholly below the paper's {_fmt(e.bound)}"
    return _seeded("contradicted", sum(s < e.bound for s in e.seeds), n, where, suffix)


def decide(e: Evidence) -> Verdict:
    """The verdict of one check (the module's rules); a seed that disagrees keeps any verdict from standing."""
    against = e.bound if e.against is None else e.against
    n = len(e.seeds)
    if not (np.isfinite(e.effect) and np.isfinite(e.low) and np.isfinite(e.high)) or n == 0:
        return Verdict("not shown", 0, n, f"no interval on this test split (a model is missing, the split holds "
                                          f"one class, or fewer than {MIN_FAMILIES} original families).")
    suffix = f" {e.note}" if e.note else ""
    if e.kind == "equivalence":
        return _equivalence(e, suffix)
    if e.kind == "reaches":
        return _reaches(e, suffix)
    d = e.direction
    for_claim = sum(d * (s - e.bound) > 0 for s in e.seeds)
    for_other = sum(d * (s - against) < 0 for s in e.seeds)
    near, far = (e.low, e.high) if d > 0 else (e.high, e.low)  # the interval's ends nearest and farthest the bound
    side, other = ("above", "below") if d > 0 else ("below", "above")
    if d * (far - against) < 0:
        return _seeded("contradicted", for_other, n, f"the 95 % interval lies {other} {_fmt(against)}", suffix)
    if d * (near - e.bound) > 0:
        return _seeded("holds", for_claim, n, f"the 95 % interval lies {side} {_fmt(e.bound)}", suffix)
    span = f"the 95 % interval [{_fmt(e.low)}, {_fmt(e.high)}]"
    if against == e.bound:
        return Verdict("not shown", for_claim, n, f"{span} includes {_fmt(e.bound)}.{suffix}{_power(e)}")
    return Verdict("not shown", for_claim, n, f"{span} lies neither {side} {_fmt(e.bound)} nor {other} "
                                              f"{_fmt(against)}.{suffix}{_power(e)}")
