"""Chapter 13 (beyond the paper): how the per-frame models' test video AUC moves with the frames sampled per video.

The checkpoints of chapters 04 and 05 are scored as they are, nothing is retrained, on
the test split's videos sampled anew at each count of ``frames_per_video.counts``:

* **Each count is sampled directly**, by stage 02's rule (``video.sample_indices``:
  equally spaced, first and last frame included) and through stage 02's code
  (``frames.extract_all``, with the checkpoint's own frame settings), not taken as a
  subset of the largest count. Sixteen frames are then exactly chapter 04's test
  frames, so that row reproduces the chapter's AUC; and the larger count cannot be
  required to hold the smaller ones (16 of 30 frames are not among 32 or 30 of them).
* **A count above a clip's length takes every frame**: ``frames used`` says so (the
  demo's clips have 30 frames, so "32" is 30).
* **Two-stream reads flow between neighbouring sampled frames**, computed as stage 03
  does (``flow.compute_all``). With fewer frames the neighbours lie further apart and
  the motion between them is larger than any the model was trained on (16 frames):
  its rows away from 16 measure the count and the flow's spacing together.

Each count's frames and flow go to ``artifacts/frames_per_video/<count>/``, every video
keyed on its source, settings and code as in stages 02 and 03 (a rerun reuses them),
and a frozen trunk's features go to the shared store (``FeatureCache``), so a rerun
runs only the layers after the trunk. The counts run largest first: a smaller count's
frames that are the same pixels as some of the largest's (a full-frame view of the same
source frame: on the demo's 30-frame clips, every count) take their features from it, so
the trunk runs once per video frame, not once per count.

Every count is compared with 16 on the *same* test videos (paired cluster-bootstrap BCa),
and "does not change" needs the paired TOST within ± :data:`MARGIN`, fixed before any count
was scored: two unpaired intervals that overlap show neither.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dfd_utils import stats
from dfd_utils.config import StudyConfig
from dfd_utils.datasets import load_split
from dfd_utils.evaluate import roc_auc_interval, score_table
from dfd_utils.features import FeatureCache, features_fit
from dfd_utils.flow import FlowConfig, compute_all
from dfd_utils.frame_store import FrameConfig, video_stem
from dfd_utils.frames import extract_all, write_index
from dfd_utils.io import read_json, worker_count, write_csv_atomic, write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.models import load_checkpoint
from dfd_utils.paths import Paths, require
from dfd_utils.predict import input_config
from dfd_utils.sources.metadata import load_subset
from dfd_utils.stages.extract_frames import source_checksums
from dfd_utils.train import predict
from dfd_utils.video import sample_indices

log = logging.getLogger(__name__)

REFERENCE = 16  # the paper's count, the one the checkpoints were trained on
MARGIN = 0.05  # fixed in advance: a count "does not change" the AUC when the paired difference lies within ± this
PAIRED = ["difference", "diff_low", "diff_high", "detectable", "equivalent", "eq_low", "eq_high"]  # against 16
COLUMNS = ["model", "frames", "frames_used", "step", "videos", "roc_auc", "low", "high", "method", *PAIRED]


def frames_used(count: int, shortest: int) -> int:
    """Frames a requested ``count`` takes from clips whose shortest has ``shortest`` frames: every one, at most."""
    if shortest < 2:
        raise ValueError(f"the shortest test clip has {shortest} frames; flow needs 2")
    return min(count, shortest)


def count_indices(num_decoded: int, count: int) -> list[int]:
    """The source frames a count samples from a clip of ``num_decoded`` frames (stage 02's rule, capped at all)."""
    return sample_indices(num_decoded, frames_used(count, num_decoded))


def mean_step(indices: list[int]) -> float:
    """The mean distance in source frames between neighbouring sampled frames: what a flow field spans."""
    return float(np.mean(np.diff(indices))) if len(indices) > 1 else 0.0


def auc_row(model: str, count: int, used: int, step: float, videos: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """One row of the table: the test video AUC (the mean of frame probabilities) and its interval (cluster BCa over
    families; a named Wilson stand-in below ``stats.MIN_FAMILIES`` families), with the interval's method."""
    iv = roc_auc_interval(videos.label, videos.prob, videos.family, n_boot=n_boot, seed=seed)
    return {"model": model, "frames": count, "frames_used": used, "step": round(step, 2), "videos": len(videos),
            "roc_auc": iv.point, "low": iv.low, "high": iv.high, "method": iv.method}


def paired_to_reference(videos: pd.DataFrame, reference: pd.DataFrame, n_boot: int, seed: int,
                        margin: float = MARGIN) -> dict:
    """One count against the reference count on the same test videos (``video``, ``family``, ``label``, ``prob``):
    the AUC difference with its paired 95 % interval, the smallest difference detectable (80 % power), and the
    paired TOST within ± ``margin`` with its 90 % interval."""
    both = videos[["video", "family", "label", "prob"]].merge(reference[["video", "prob"]], on="video",
                                                              suffixes=("", "_ref"))
    if len(both) != len(videos):
        raise ValueError("a count was scored on other test videos than the reference count")
    iv = stats.paired_auc_difference(both.label, both.prob, both.prob_ref, both.family, n_boot, seed)
    same, tost = stats.paired_equivalence(both.label, both.prob, both.prob_ref, both.family, margin, 0.05, n_boot,
                                          seed)
    return {"difference": iv.point, "diff_low": iv.low, "diff_high": iv.high,
            "detectable": stats.detectable_effect(iv), "equivalent": bool(same), "eq_low": tost.low,
            "eq_high": tost.high}


def auc_table(rows: list[dict]) -> pd.DataFrame:
    """The rows in order (model as listed, then frames), one per model and count; paired columns NaN where absent
    (the reference count itself)."""
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    order = {m: i for i, m in enumerate(dict.fromkeys(table.model))}
    return table.sort_values(["model", "frames"], key=lambda c: c.map(order) if c.name == "model" else c,
                             ignore_index=True)


def shown(table: pd.DataFrame, reference: int = REFERENCE) -> pd.DataFrame:
    """The table as the chapter shows it: AUC with its interval, the paired difference to the reference count,
    the paired TOST's 90 % interval and decision, and the method of the intervals."""
    out = table[["model", "frames", "frames_used", "step", "videos"]].copy()
    out["test video AUC [95 % CI]"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
                                       for a, lo, hi in zip(table.roc_auc, table.low, table.high)]
    out[f"− {reference} frames, paired [95 % CI]"] = [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(d) else "–"
                                                      for d, lo, hi in zip(table.difference, table.diff_low,
                                                                           table.diff_high)]
    out[f"within ±{MARGIN} (TOST, 90 % CI)"] = [
        "–" if not np.isfinite(lo) else f"{'yes' if eq else 'no'} [{lo:+.3f}, {hi:+.3f}]"
        for eq, lo, hi in zip(table.equivalent, table.eq_low.astype(float), table.eq_high.astype(float))]
    out["interval method"] = table.method
    return out.set_index(["model", "frames"])


def _against(r) -> str:
    """One count's paired verdict against the reference, in words."""
    paired = f"{r.difference:+.3f} [{r.diff_low:+.3f}, {r.diff_high:+.3f}]"
    if r.diff_low > 0 or r.diff_high < 0:
        return f"{r.frames} frames {'raise' if r.diff_low > 0 else 'lower'} it ({paired})"
    if r.equivalent:
        return f"{r.frames} frames do not change it (within ±{MARGIN}: 90 % [{r.eq_low:+.3f}, {r.eq_high:+.3f}])"
    return f"{r.frames} frames: no change shown either way ({paired}; detectable {r.detectable:.3f})"


def reading(table: pd.DataFrame, reference: int = REFERENCE) -> str:
    """One sentence per model, computed from ``table``: its AUC from fewest to most frames, and each count against
    the reference count (the paper's 16), paired over the same videos: raised, lowered, the same within ±
    :data:`MARGIN` (paired TOST, the margin fixed in advance), or not shown with the smallest detectable change."""
    sentences = []
    for model, rows in table.groupby("model", sort=False):
        rows = rows.sort_values("frames")
        path = ", ".join(f"{r.roc_auc:.3f} at {r.frames}" + (f" ({r.frames_used} used)" if r.frames_used != r.frames
                                                             else "") for r in rows.itertuples())
        others = rows[(rows.frames != reference) & rows.difference.notna()]
        if others.empty:
            sentences.append(f"**{model}**: test video AUC {path} frames.")
            continue
        lead = (f"every other count is within ±{MARGIN} of {reference} frames, so with these test videos the count "
                f"does not change it" if others.equivalent.astype(bool).all() else
                f"paired with {reference} frames on the same videos")
        sentences.append(f"**{model}**: test video AUC {path} frames; {lead}: "
                         f"{'; '.join(_against(r) for r in others.itertuples())}.")
    return "\n\n".join(sentences)


def held_out_videos(paths: Paths) -> tuple[list, int]:
    """The test split's source videos (stage 01's records) and the frames of the shortest (stage 02's count)."""
    splits = read_json(require(paths.splits, "frames"))
    records, _ = load_subset(paths.subset)
    records = [r for r in records if splits.get(r.name) == "test"]
    if not records:
        raise ValueError(f"{paths.splits}: no test video")
    decoded = [read_json(require(paths.frames / video_stem(r.name) / "info.json", "frames"))["num_decoded"]
               for r in records]
    return records, int(min(decoded))


def sample_count(paths: Paths, records: list, cfg: FrameConfig, flow: FlowConfig | None, workers: int,
                 folder: Path) -> dict[str, dict]:
    """One count's frames (and flow when ``flow`` is given) of ``records`` under ``folder``: stages 02 and 03's code."""
    done, failed = extract_all(records, folder / "frames", cfg, workers=workers,
                               checksums=source_checksums(paths.subset), donors=(paths.frames,))  # 16: stage 02's
    if failed:
        raise ValueError(f"{folder}: {len(failed)} test videos could not be sampled: {failed[:3]}")
    write_index(records, done, {r.name: "test" for r in records}, folder / "frames")
    if flow is not None:
        compute_all(sorted(r.name for r in records), folder / "frames", folder / "flow", flow, workers=workers,
                    donors=(paths.flow,))
    return done


def frames_per_video(study: StudyConfig, root: str | Path = ".") -> pd.DataFrame:
    """Every model of ``frames_per_video.models`` at every count: the table (``auc_table``), also written to
    ``artifacts/frames_per_video/table.csv`` and ``metrics/frames_per_video.json``."""
    paths = Paths.at(root)
    cfg = study.frames_per_video
    out = paths.artifacts / "frames_per_video"
    records, shortest = held_out_videos(paths)
    loaded = {m: load_checkpoint(require(paths.models / f"{m}.pt", "models")) for m in cfg.models}
    frames = {m: input_config(payload, paths.models / f"{m}.pt") for m, (_, payload) in loaded.items()}
    if len(set(frames.values())) != 1:
        raise ValueError(f"the checkpoints were trained on different frame settings: {frames}")
    base = next(iter(frames.values()))
    wants_flow = any(model.uses_flow for model, _ in loaded.values())
    flow = study.flow if wants_flow else None
    rows, largest, scored = [], {}, {}
    with writing(out):
        for count in sorted(cfg.counts, reverse=True):  # the largest first: its features may serve the others
            used = frames_used(count, shortest)
            folder = out / f"{count:02d}"
            done = sample_count(paths, records, replace(base, num_frames=used), flow, worker_count(study.workers),
                                folder)
            names = sorted(r.name for r in records)  # load_split's order
            indices = [done[n]["indices"] for n in names]
            step = float(np.mean([mean_step(i) for i in indices]))
            for name, (model, _) in loaded.items():
                data = load_split(folder / "frames", "test", folder / "flow", flows=model.uses_flow)
                if data.videos != names:
                    raise ValueError(f"{folder}: its manifest lists other test videos than the split")
                data = featured(model, data, indices, largest.get(name), paths.features)
                largest.setdefault(name, (data, indices))
                probs = predict(model, data, 32, "cpu", "fp32")  # (V * used,)
                videos = score_table("test", data.videos, data.families, data.labels.numpy(), probs, used,
                                     study.evaluate.topk)
                rows.append(auc_row(name, count, used, step, videos, study.evaluate.bootstrap, study.seed))
                scored[name, count] = videos
                log.info("%s at %d frames: AUC %.3f", name, count, rows[-1]["roc_auc"])
        for row in rows:  # every count against 16 on the same videos
            ref = scored.get((row["model"], REFERENCE))
            if ref is not None and row["frames"] != REFERENCE:
                row.update(paired_to_reference(scored[row["model"], row["frames"]], ref, study.evaluate.bootstrap,
                                               study.seed))
        table = auc_table(rows)
        write_csv_atomic(table, out / "table.csv")
    write_metrics(paths, table)
    return table


def positions_within(indices: list[list[int]], larger: list[list[int]]) -> list[list[int]] | None:
    """Where each video's sampled source frames lie among a larger sampling's, or None where one is missing."""
    out = []
    for small, big in zip(indices, larger, strict=True):
        where = {index: position for position, index in enumerate(big)}
        if any(i not in where for i in small):
            return None
        out.append([where[i] for i in small])
    return out


def featured(model, data, indices: list[list[int]], larger, store: Path):
    """``data`` with its trunk features: gathered from the larger count's (``larger``: its featured data and
    indices) where every frame is among them and its pixels are the same (a full-frame crop of one source frame
    is), else from the store (``FeatureCache``), computed where missing."""
    if larger is not None and features_fit(model, larger[0]):
        big, big_indices = larger
        where = positions_within(indices, big_indices)
        if where is not None and all(torch.equal(data.frames[v], big.frames[v, p]) for v, p in enumerate(where)):
            features = torch.stack([big.features[v, p] for v, p in enumerate(where)])  # (V, T, C)
            return replace(data, features=features, features_of=big.features_of)
    return FeatureCache(store)(model, {"test": data})["test"]  # one cache per count: its own frames


def write_metrics(paths: Paths, table: pd.DataFrame) -> Path:
    """``metrics/frames_per_video.json``: per model, per requested count, the AUC, its interval and its method,
    frames used, and against 16 frames (other counts) the paired difference and the TOST's decision."""
    def record(r) -> dict:
        out = {"roc_auc": r.roc_auc, "roc_auc_ci": [r.low, r.high], "frames_used": r.frames_used,
               "videos": r.videos, "method": r.method}
        if pd.notna(r.difference):
            out[f"difference_to_{REFERENCE}"] = [float(x) if np.isfinite(x) else None  # no interval: null
                                                 for x in (r.difference, r.diff_low, r.diff_high)]
            out[f"equivalent_to_{REFERENCE}"] = bool(r.equivalent)
        return out

    path = paths.metrics / "frames_per_video.json"
    write_json_atomic(path, {m: {str(r.frames): record(r) for r in rows.itertuples()}
                             for m, rows in table.groupby("model", sort=False)})
    return path


def figure(table: pd.DataFrame, ax=None):
    """Test video AUC against frames sampled (log scale), one line per model, the 95 % intervals as error bars."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    models = list(dict.fromkeys(table.model))
    for i, (model, rows) in enumerate(table.groupby("model", sort=False)):
        x = rows.frames_used.to_numpy() * (1 + 0.03 * (i - (len(models) - 1) / 2))  # side by side, not on top
        err = np.clip([rows.roc_auc - rows.low, rows.high - rows.roc_auc], 0, None)  # BCa may not hold the point
        ax.errorbar(x, rows.roc_auc, yerr=err, marker="o",
                    capsize=3, label=model)
    ticks = dict(zip(table.frames_used, table.frames))  # used -> requested
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ticks), [str(u) if ticks[u] == u else f"{ticks[u]} ({u} used)" for u in sorted(ticks)])
    ax.axvline(REFERENCE, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="frames sampled per test video", ylabel="test video ROC AUC")
    ax.legend(frameon=False)
    return ax
