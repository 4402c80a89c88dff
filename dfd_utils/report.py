"""Tables that compare models, read from the files the experiments wrote."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils import stats
from dfd_utils.io import read_json, write_json_atomic
from dfd_utils.paths import Paths

COLUMNS = ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "roc_auc", "log_loss")


def metrics_table(metrics: dict[str, dict]) -> pd.DataFrame:
    """One row per model: test video metrics, ``*_low``/``*_high`` bounds, threshold, table."""
    rows = {}
    for name, m in metrics.items():
        row = {"table": m.get("table", ""), "threshold": m.get("threshold")}
        for k in COLUMNS:
            row[k] = m["video"][k]
            low, high = m.get("video_ci", {}).get(k, (float("nan"), float("nan")))
            row[f"{k}_low"], row[f"{k}_high"] = low, high
        row["test_videos"] = m.get("test_videos")
        spread = m.get("seeds", {}).get("spread", {}).get("roc_auc")
        row["seeds"] = len(m.get("seeds", {}).get("runs", [])) or 1
        row["roc_auc_seed_mean"] = spread["mean"] if spread else m["video"]["roc_auc"]
        row["roc_auc_seed_sd"] = spread["sd"] if spread else 0.0
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def seed_table(metrics: dict[str, dict], metric: str = "roc_auc") -> pd.DataFrame:
    """One row per model: ``metric`` of each training seed (the first with its 95 % interval over test videos),
    their mean and standard deviation: how far training alone moves a result, beside how far the test set does."""
    rows = {}
    for name, m in metrics.items():
        runs = m.get("seeds", {}).get("runs") or [{"seed": 0, metric: m["video"][metric],
                                                    f"{metric}_ci": m.get("video_ci", {}).get(metric)}]
        row = {}
        for i, run in enumerate(runs):
            ci = run.get(f"{metric}_ci")
            row[f"seed {run['seed']}"] = interval(run[metric], *ci) if i == 0 and ci else run[metric]
        values = np.array([run[metric] for run in runs], dtype=float)
        row["mean"] = float(values.mean())
        row["sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def interval(value: float, low: float, high: float) -> str:
    """``0.91 [0.85, 0.96]``: a value with its 95 % interval, as every table of the book prints it."""
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def with_intervals(table: pd.DataFrame, columns, keep=()) -> pd.DataFrame:
    """``table``'s ``columns`` as interval strings, from their ``*_low``/``*_high`` bounds; ``keep`` as they are."""
    out = table[list(keep)].copy()
    for k in columns:
        out[k] = [interval(v, lo, hi) for v, lo, hi in zip(table[k], table[f"{k}_low"], table[f"{k}_high"])]
    return out


_INTERVAL = re.compile(r"^(\S+) (\[\S+, \S+\])$")  # "0.91 [0.85, 0.96]", as interval() writes it


def _cell(value) -> str:
    if isinstance(value, str):
        found = _INTERVAL.match(value)
        if found:
            return f'{html.escape(found[1])}<br><span class="dfd-interval">{html.escape(found[2])}</span>'
        return html.escape(value)
    if isinstance(value, float | np.floating):  # fixed places: 0.9996 shows as 1.000, never as a bare 1
        return "" if np.isnan(value) else f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return html.escape(str(value))


def _breakable(name) -> str:
    """``balanced_<wbr>accuracy``: a long name may wrap at its underscores."""
    return html.escape(str(name)).replace("_", "_<wbr>")


def _relabelled(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):  # chapter 09's (input, model) rows and (input, rule) columns
        return pd.MultiIndex.from_tuples([tuple(map(_breakable, key)) for key in index], names=index.names)
    return pd.Index([_breakable(key) for key in index], name=index.name)


def html_table(table: pd.DataFrame) -> str:
    """The book's HTML for a table: each interval under its value, floats to 3 decimal places.

    ``0.91 [0.85, 0.96]`` on one line makes a five-model comparison twice as wide as
    the page's column; on two lines (and in the book's smaller table type, book/_css/dfd.css)
    it fits. Registered for every DataFrame a notebook shows (``notebook.setup``).
    """
    shown = table.copy()
    shown.columns = _relabelled(shown.columns)
    shown.index = _relabelled(shown.index)
    shown = shown.astype(object).map(_cell) if len(shown) else shown
    return shown.to_html(escape=False, border=0, na_rep="", max_rows=pd.get_option("display.max_rows"))


def formatted(table: pd.DataFrame, columns=("accuracy", "precision", "recall", "roc_auc", "balanced_accuracy"),
              keep=("table", "threshold")) -> pd.DataFrame:
    """The book's comparison table: each metric with its interval, beside ``keep`` (paper's table, threshold)."""
    return with_intervals(table, columns, keep=keep)


def interval_methods(metrics: dict[str, dict], columns=COLUMNS) -> pd.DataFrame:
    """One row per metric: the method that made its intervals (``video_ci_method`` of each model's metrics), so the
    comparison table says what its brackets are; models that disagree are listed by name."""
    rows = {}
    for k in columns:
        found = {name: m.get("video_ci_method", {}).get(k, "not recorded") for name, m in metrics.items()}
        kinds = dict.fromkeys(found.values())
        rows[k] = (next(iter(kinds)) if len(kinds) == 1 else
                   "; ".join(f"{method} ({', '.join(n for n, v in found.items() if v == method)})" for method in kinds))
    return pd.DataFrame({"interval method": rows}).rename_axis("metric")


def baseline_comparison(predictions: dict[str, pd.DataFrame], baseline: str = "baseline", n_boot: int = 1000,
                        seed: int = 0) -> pd.DataFrame:
    """Every model against ``baseline`` on the same test videos: video AUC difference with its paired cluster-BCa
    95 % interval (:func:`dfd_utils.stats.paired_auc_difference`), its method, and the smallest difference this
    test set detects (80 % power). Rows: ``difference``, ``low``, ``high``, ``detectable``, ``method``."""
    rows = {}
    if baseline not in predictions:
        return pd.DataFrame(columns=["difference", "low", "high", "detectable", "method"])
    base = predictions[baseline]
    base = base[base.split == "test"][["video", "family", "label", "prob"]]
    for name, p in predictions.items():
        if name == baseline:
            continue
        both = p[p.split == "test"][["video", "prob"]].merge(base, on="video", suffixes=("", "_base"))
        iv = stats.paired_auc_difference(both.label, both.prob, both.prob_base, both.family, n_boot, seed)
        rows[name] = {"difference": iv.point, "low": iv.low, "high": iv.high,
                      "detectable": stats.detectable_effect(iv), "method": iv.method}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def comparison_shown(comparison: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """The book's view of :func:`baseline_comparison`: the difference with its interval, the method, the smallest
    detectable difference."""
    out = pd.DataFrame(index=comparison.index)
    out[f"video AUC − {baseline} [95 % interval]"] = [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in
                                                     zip(comparison.difference, comparison.low, comparison.high)]
    out["interval method"] = comparison.method
    out["detectable difference (80% power)"] = comparison.detectable
    return out


def reading(summary: pd.DataFrame, metric: str = "roc_auc", baseline: str = "baseline",
            comparison: pd.DataFrame | None = None) -> str:
    """What the intervals allow one to say, both ways, as Markdown sentences computed (never typed) from the results.

    A model is above chance when its whole interval lies above 0.5, below when it lies below. Against the
    baseline, with ``comparison`` (:func:`baseline_comparison`), a model is better or worse when the *paired*
    interval of its difference lies wholly above or below 0; otherwise the difference is not shown, and the
    smallest difference the test set could detect is stated. Without it, the unpaired reading of overlapping
    intervals is given (weaker: it ignores that the models share their test videos).
    """
    def names(models):
        return ", ".join(f"**{m}**" for m in models) or "none"

    above = [m for m in summary.index if summary.loc[m, f"{metric}_low"] > 0.5]
    below = [m for m in summary.index if summary.loc[m, f"{metric}_high"] < 0.5]
    chance = [m for m in summary.index if m not in above and m not in below]
    lines = [f"Better than chance (the lower end of the 95 % interval above 0.5): {names(above)}.",
             f"Worse than chance (the upper end below 0.5): {names(below)}.",
             f"Not distinguishable from chance: {names(chance)}."]
    if comparison is not None and len(comparison):
        better = [m for m in comparison.index if comparison.loc[m, "low"] > 0]
        worse = [m for m in comparison.index if comparison.loc[m, "high"] < 0]
        unclear = [f"**{m}** (detectable: {comparison.loc[m, 'detectable']:.2f})" for m in comparison.index
                   if m not in better and m not in worse]
        lines += [f"Against the {baseline}, paired over the same test videos ({comparison.method.iloc[0]}): "
                  f"better, {names(better)}; worse, {names(worse)}; "
                  f"no difference shown, {', '.join(unclear) or 'none'}."]
    elif baseline in summary.index:
        ceiling, floor = summary.loc[baseline, f"{metric}_high"], summary.loc[baseline, f"{metric}_low"]
        others = [m for m in summary.index if m != baseline]
        lines.append(f"Models whose whole interval lies above the {baseline}'s: "
                     f"{names([m for m in others if summary.loc[m, f'{metric}_low'] > ceiling])}. Below it: "
                     f"{names([m for m in others if summary.loc[m, f'{metric}_high'] < floor])}.")
    return " ".join(lines)


def load_results(root: str | Path, names) -> tuple[dict[str, dict], dict[str, pd.DataFrame]]:
    """Every model's metrics JSON and video predictions that exist under ``root``."""
    paths = Paths.at(root)
    metrics, predictions = {}, {}
    for name in names:
        m, p = paths.metrics / f"{name}.json", paths.predictions / name / "videos.csv"
        if m.is_file() and p.is_file():
            metrics[name] = read_json(m)
            predictions[name] = pd.read_csv(p)
    if not metrics:
        raise FileNotFoundError(f"{paths.metrics}: no model results yet (run notebooks 04-07 or dvc repro)")
    return metrics, predictions


def write_summary(root: str | Path, table: pd.DataFrame) -> Path:
    path = Paths.at(root).metrics / "summary.json"
    write_json_atomic(path, {name: {k: float(row[k]) for k in COLUMNS} for name, row in table.iterrows()})
    return path
