"""Chapter 12's tables and readings, computed from intervals that look both ways.

Every AUC interval is the cluster bootstrap BCa over original families (``dfd_utils.stats``),
and its method is named in the tables. A comparison between two models is paired (the same
test videos, one draw of families for both), and "at chance" is never read from an interval
that merely holds 0.5: it is a TOST equivalence test within :data:`CHANCE_MARGIN` of 0.5, a
margin fixed here before any result.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.chapters.frame_order import order_verdict, row_verdict
from dfd_utils.config import FAMILIES
from dfd_utils.io import write_json_atomic
from dfd_utils.paths import Paths
from dfd_utils.stats import Interval, detectable_effect, equivalence, paired_auc_difference

TEMPORAL_MODELS = ("two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d")  # each reads more than one frame
REFERENCE = "baseline"  # the per-frame model every other one is compared with
CHANCE_MARGIN = 0.1  # "at chance": the AUC's 90 % interval inside 0.5 +- 0.1 (TOST at 5 %), fixed in advance


def verdict(low: float, high: float) -> str:
    """What an AUC interval says about the artifacts: seen (above chance), inverted (below), not shown (holds 0.5),
    or no interval (too few families to resample)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no interval"
    return "sees it" if low > 0.5 else "inverted" if high < 0.5 else "at chance"


def _interval(low: float, high: float, digits: int = 2) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "[no interval]"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _diff(iv: Interval) -> str:
    return f"{iv.point:+.3f} " + (f"[{iv.low:+.2f}, {iv.high:+.2f}]" if iv.defined else "[no interval]")


def seed_aucs(results: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """Every seed's test video AUC per model and family, from the runs' metrics (``{family: {model: metrics}}``):
    one row per (model, family, seed); seeds after the first each drew their own split."""
    rows = [{"model": m, "family": f, "seed": run["seed"], "roc_auc": run["roc_auc"]}
            for f, by_model in results.items() for m, metrics in by_model.items()
            for run in metrics.get("seeds", {}).get("runs", [])]
    return pd.DataFrame(rows, columns=["model", "family", "seed", "roc_auc"])


def _seeds_of(seeds: pd.DataFrame | None, model: str, family: str) -> np.ndarray:
    if seeds is None or seeds.empty:
        return np.array([])
    return seeds[(seeds.model == model) & (seeds.family == family)].roc_auc.to_numpy(dtype=float)


def auc_grid(cross: pd.DataFrame, seeds: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 5 x 3 table: in-distribution test video AUC [95 % interval] (the first seed's model), models by family;
    with ``seeds`` (:func:`seed_aucs`), the range of every seed's test AUC beside it."""
    same = cross[cross.trained_on == cross.tested_on]

    def cell(r) -> str:
        text = f"{r.roc_auc:.3f} {_interval(r.low, r.high)}"
        runs = _seeds_of(seeds, r.model, r.tested_on)
        return text + (f"; {len(runs)} seeds {runs.min():.2f}–{runs.max():.2f}" if len(runs) > 1 else "")

    cells = {(r.model, r.tested_on): cell(r) for r in same.itertuples()}
    models, sets = list(dict.fromkeys(same.model)), list(dict.fromkeys(same.tested_on))
    return pd.DataFrame({f: [cells[(m, f)] for m in models] for f in sets}, index=pd.Index(models, name="model"))


def methods(cross: pd.DataFrame) -> str:
    """The interval methods of a table, for its caption."""
    return "; ".join(dict.fromkeys(cross.method)) if "method" in cross and len(cross) else "none"


def paired_scores(scores: pd.DataFrame, trained: str, tested: str) -> dict[str, pd.DataFrame]:
    """Each model's per-video scores trained on ``trained`` and tested on ``tested``, in one video order."""
    rows = scores[(scores.trained_on == trained) & (scores.tested_on == tested)]
    out = {m: t.sort_values("video").reset_index(drop=True) for m, t in rows.groupby("model", sort=False)}
    videos = [list(t.video) for t in out.values()]
    if any(v != videos[0] for v in videos):
        raise ValueError(f"{trained} -> {tested}: the models were not scored on the same test videos")
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, n_boot: int, seed: int) -> Interval:
    """AUC(a) - AUC(b) over the same videos with its 95 % paired interval."""
    return paired_auc_difference(a.label, a.prob, b.prob, a.family, n_boot, seed)


def seed_verdict(low: float, high: float, runs: np.ndarray) -> str:
    """:func:`verdict`, kept only where every seed's test AUC lies on the same side of 0.5 ("seeds disagree")."""
    said = verdict(low, high)
    if len(runs) > 1 and ((said == "sees it" and (runs <= 0.5).any()) or (said == "inverted" and (runs >= 0.5).any())):
        return "seeds disagree"
    return said


def reading(cross: pd.DataFrame, scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
            seeds: pd.DataFrame | None = None) -> str:
    """Which detectors see which artifacts, above and below chance and above and below the per-frame baseline
    (paired), and whether the paper's premise holds: from the intervals, and with ``seeds`` (:func:`seed_aucs`)
    only where every seed agrees."""
    same = cross[cross.trained_on == cross.tested_on].set_index(["model", "tested_on"])
    lines = []
    for model in dict.fromkeys(same.index.get_level_values(0)):
        said = {f: seed_verdict(same.loc[(model, f), "low"], same.loc[(model, f), "high"],
                                _seeds_of(seeds, model, f)) for f in FAMILIES if (model, f) in same.index}
        seen = [f for f, v in said.items() if v == "sees it"]
        bare = [f for f, v in said.items() if v == "no interval"]
        line = f"**{model}** sees " + (", ".join(seen) if seen else "none of the families") + "."
        if bare:
            line = (f"**{model}**: too few test families for an interval on {', '.join(bare)}, so nothing is shown "
                    "there." + (f" It sees {', '.join(seen)}." if seen else ""))
        below = [f for f, v in said.items() if v == "inverted"]
        if below:
            line += f" It scores below chance on {', '.join(below)} (interval wholly below 0.5)."
        split = [f for f, v in said.items() if v == "seeds disagree"]
        if split:
            line += (f" On {', '.join(split)} its first seed's interval lies off 0.5 but another seed's AUC does not: "
                     "not counted.")
        if model != REFERENCE:
            line += _against_reference(model, said, scores, n_boot, seed)
        lines.append(line)
    return "\n\n".join(lines) + "\n\n" + premise_verdict(same, scores, n_boot, seed, seeds)


def _against_reference(model: str, families: dict, scores: pd.DataFrame, n_boot: int, seed: int) -> str:
    """Where ``model`` is above and where below the baseline, paired over each family's test videos."""
    above, below = [], []
    for family in families:
        by = paired_scores(scores, family, family)
        if REFERENCE not in by or model not in by:
            continue
        d = compare(by[model], by[REFERENCE], n_boot, seed)
        (above if d.defined and d.low > 0 else below if d.defined and d.high < 0 else []).append(
            f"{family} {_diff(d)}")
    if not (above or below):
        return " Against the baseline (paired): no family shows a difference either way."
    return (" Against the baseline (paired AUC difference, 95 %): above on " + (", ".join(above) or "none")
            + "; below on " + (", ".join(below) or "none") + ".")


def _every_seed_beats(seeds: pd.DataFrame | None, model: str, family: str = "temporal") -> bool:
    """Whether ``model``'s test AUC exceeds the baseline's at every seed (each seed's own split, both models on it)."""
    if seeds is None or seeds.empty:
        return True
    mine = seeds[(seeds.model == model) & (seeds.family == family)].set_index("seed").roc_auc
    base = seeds[(seeds.model == REFERENCE) & (seeds.family == family)].set_index("seed").roc_auc
    both = mine.index.intersection(base.index)
    return bool(len(both)) and bool((mine[both] > base[both]).all())


def premise_verdict(same: pd.DataFrame, scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                    seeds: pd.DataFrame | None = None) -> str:
    """The paper's premise on the temporal family: a per-frame model is at chance (TOST within
    :data:`CHANCE_MARGIN`), and a temporal model beats it (paired difference above 0, and with ``seeds`` a higher
    test AUC at every seed)."""
    if (REFERENCE, "temporal") not in same.index:
        return "The premise is not tested: the baseline was not trained on the temporal family."
    base = same.loc[(REFERENCE, "temporal")]
    by = paired_scores(scores, "temporal", "temporal")
    b = by[REFERENCE]
    at_chance, iv90 = equivalence(b.label, b.prob, b.family, 0.5, CHANCE_MARGIN, n_boot=n_boot, seed=seed)
    temporal = [m for m in TEMPORAL_MODELS if m in by]
    diffs = {m: compare(by[m], b, n_boot, seed) for m in temporal}
    beat = [f"{m} {_diff(d)}" for m, d in diffs.items() if d.defined and d.low > 0 and _every_seed_beats(seeds, m)]
    lose = [f"{m} {_diff(d)}" for m, d in diffs.items() if d.defined and d.high < 0]
    base_text = (f"AUC {base.roc_auc:.3f}, 95 % {_interval(base.low, base.high)}, 90 % "
                 f"{_interval(iv90.low, iv90.high)} against the margin 0.5 ± {CHANCE_MARGIN:g} fixed in advance")
    paired = ("Paired against it (AUC difference, 95 %): " + ("above: " + ", ".join(beat) if beat else "none above")
              + ("; below: " + ", ".join(lose) if lose else "; none below") + ".")
    if verdict(base.low, base.high) == "sees it":
        return (f"**The premise is contradicted here**: the per-frame baseline sees the temporal-only fakes "
                f"({base_text}), so they leave a trace in single frames. {paired}")
    if at_chance and beat:
        return (f"**The premise holds here**: the per-frame baseline is at chance on the temporal-only fakes "
                f"(equivalent to 0.5 by TOST: {base_text}) while {', '.join(b.split()[0] for b in beat)} beat"
                f"{'s' if len(beat) == 1 else ''} it. {paired}")
    if at_chance:
        return (f"**The premise is not shown here**: the per-frame baseline is at chance on the temporal-only fakes "
                f"(equivalent to 0.5 by TOST: {base_text}), and no model that reads more than one frame "
                f"({', '.join(temporal) or 'none trained'}) beats it: none of them learned the temporal artifact "
                f"either. {paired}")
    smallest = detectable_effect(Interval(base.roc_auc, base.low, base.high, 0.95, ""))
    reach = f"this test set detects AUC differences of {smallest:.2f} or more" if math.isfinite(smallest) else \
        "too few families for an interval"
    return (f"**The premise is not decided here**: the per-frame baseline is neither shown above chance nor shown "
            f"within the margin of it on the temporal-only fakes ({base_text}; {reach}). {paired}")


def cross_grid(cross: pd.DataFrame) -> pd.DataFrame:
    """Test video AUC of every model (rows) trained on one family and tested on each (columns: train -> test)."""
    if cross.empty:
        return pd.DataFrame()
    table = cross.assign(pair=cross.trained_on + " -> " + cross.tested_on)
    sets = list(dict.fromkeys(cross.trained_on))
    return table.pivot(index="model", columns="pair", values="roc_auc").reindex(
        index=list(dict.fromkeys(cross.model)), columns=[f"{a} -> {b}" for a in sets for b in sets])


def cross_reading(cross: pd.DataFrame, scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> str:
    """For every model and pair of different sets: is the AUC on unseen fakes below (or above) that of the same
    model trained on the test kind itself? Paired over the same test videos, computed from the intervals."""
    if cross.empty:
        return "Nothing was trained on these sets, so nothing is compared."
    other = cross[cross.trained_on != cross.tested_on]
    drops, gains = [], []
    for r in other.itertuples():
        own = paired_scores(scores, r.tested_on, r.tested_on)[r.model]  # trained on the test kind itself
        d = compare(paired_scores(scores, r.trained_on, r.tested_on)[r.model], own, n_boot, seed)
        text = f"{r.model}: {r.trained_on} -> {r.tested_on} {r.roc_auc:.3f} ({_diff(d)})"
        (drops if d.defined and d.high < 0 else gains if d.defined and d.low > 0 else []).append(text)
    chance = [r for r in other.itertuples() if verdict(r.low, r.high) != "sees it"]
    return (f"Of {len(other)} train -> test pairs whose test fakes are of another kind than the training ones, "
            f"{len(drops)} score demonstrably below the same model trained on the test kind itself and "
            f"{len(gains)} demonstrably above it (paired 95 % interval of the AUC difference wholly below or above 0, "
            f"over the same test videos), and {len(chance)} are not shown above chance (their interval holds 0.5, "
            "lies below it, or there are too few families for one). "
            + ("Below: " + "; ".join(drops[:8]) + ". " if drops else "")
            + ("Above: " + "; ".join(gains[:8]) + "." if gains else "")).strip()


def _num(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None  # JSON has no NaN: no interval is null


def write_metrics(root: str | Path, tables: dict[str, pd.DataFrame], frame_order: pd.DataFrame | None = None,
                  seeds: pd.DataFrame | None = None) -> Path:
    """``metrics/families.json``: per table (``synthetic``, ``faces``), model, train set and test set, the AUC and
    its interval with its method; and under ``frame_order``, per model, family and perturbation, the AUCs, the
    paired drop with its 95 % interval and the TOST equivalence of the drop to 0 (``chapters/frame_order.py``)."""
    metrics: dict = {}
    for table_name, cross in tables.items():
        for r in cross.itertuples():
            metrics.setdefault(table_name, {}).setdefault(r.model, {}).setdefault(r.trained_on, {})[r.tested_on] = {
                "roc_auc": r.roc_auc, "roc_auc_ci": [_num(r.low), _num(r.high)], "videos": r.videos,
                "method": getattr(r, "method", "")}
    for (model, family), group in (frame_order.groupby(["model", "family"], sort=False)
                                   if frame_order is not None else ()):
        entry = metrics.setdefault("frame_order", {}).setdefault(model, {}).setdefault(family, {})
        entry["verdict"] = order_verdict(group)
        for r in group.itertuples():
            entry[r.perturbation] = {
                "roc_auc_in_order": _num(r.auc_in_order), "roc_auc": _num(r.auc), "drop": _num(r.drop),
                "drop_ci": [_num(r.low), _num(r.high)], "level": r.level, "method": r.method, "videos": r.videos,
                "equivalent": r.equivalent, "equivalence_ci90": [_num(r.eq_low), _num(r.eq_high)],
                "margin": r.margin, "max_score_change": _num(r.max_score_change), "verdict": row_verdict(r)}
    for r in (seeds.itertuples() if seeds is not None else ()):  # every seed's test AUC (its own split)
        metrics.setdefault("seeds", {}).setdefault(r.model, {}).setdefault(r.family, []).append(float(r.roc_auc))
    path = Paths.at(root).metrics / "families.json"
    write_json_atomic(path, metrics)
    return path


def figure(cross: pd.DataFrame, ax=None):
    """In-distribution test video AUC per model (groups) and family (bars), the 95 % intervals as error bars."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    same = cross[cross.trained_on == cross.tested_on]
    models = list(dict.fromkeys(same.model))
    width = 0.8 / len(FAMILIES)
    for i, family in enumerate(FAMILIES):
        rows = same[same.tested_on == family].set_index("model").loc[models]
        x = np.arange(len(models)) + (i - (len(FAMILIES) - 1) / 2) * width
        err = np.nan_to_num([rows.roc_auc - rows.low, rows.high - rows.roc_auc])  # no interval: no bar
        ax.bar(x, rows.roc_auc, width, label=family, yerr=err, capsize=2)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(models)), models, rotation=15)
    ax.set(ylabel="test video ROC AUC", ylim=(0, 1.05))
    ax.legend(frameon=False, ncols=len(FAMILIES), loc="lower right")
    return ax
