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
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dfd_utils.config import StudyConfig
from dfd_utils.datasets import load_split
from dfd_utils.evaluate import binary_metrics, bootstrap_ci, score_table
from dfd_utils.features import FeatureCache, features_fit
from dfd_utils.flow import FlowConfig, compute_all
from dfd_utils.frame_store import FrameConfig, video_stem
from dfd_utils.frames import extract_all, write_index
from dfd_utils.io import read_json, worker_count, write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.models import load_checkpoint
from dfd_utils.paths import Paths, require
from dfd_utils.predict import input_config
from dfd_utils.sources.metadata import load_subset
from dfd_utils.stages.frames import source_checksums
from dfd_utils.train import predict
from dfd_utils.video import sample_indices

log = logging.getLogger(__name__)

REFERENCE = 16  # the paper's count, the one the checkpoints were trained on
COLUMNS = ["model", "frames", "frames_used", "step", "videos", "roc_auc", "low", "high"]


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
    """One row of the table: the test video AUC (the mean of frame probabilities) and its family-bootstrap interval."""
    auc = binary_metrics(videos.label, videos.prob)["roc_auc"]
    low, high = bootstrap_ci(videos.label, videos.prob, videos.family, n_boot=n_boot, seed=seed)["roc_auc"]
    return {"model": model, "frames": count, "frames_used": used, "step": round(step, 2), "videos": len(videos),
            "roc_auc": auc, "low": low, "high": high}


def auc_table(rows: list[dict]) -> pd.DataFrame:
    """The rows in order (model as listed, then frames), one per model and count."""
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {m: i for i, m in enumerate(dict.fromkeys(table.model))}
    return table.sort_values(["model", "frames"], key=lambda c: c.map(order) if c.name == "model" else c,
                             ignore_index=True)


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the chapter shows it: AUC with its interval in one column."""
    out = table[["model", "frames", "frames_used", "step", "videos"]].copy()
    out["test video AUC [95 % CI]"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
                                       for a, lo, hi in zip(table.roc_auc, table.low, table.high)]
    return out.set_index(["model", "frames"])


def reading(table: pd.DataFrame, reference: int = REFERENCE) -> str:
    """One sentence per model, computed from ``table``: its AUC from fewest to most frames, and whether any count
    leaves the interval of the reference count (the paper's 16)."""
    sentences = []
    for model, rows in table.groupby("model", sort=False):
        rows = rows.sort_values("frames")
        path = ", ".join(f"{r.roc_auc:.3f} at {r.frames}" + (f" ({r.frames_used} used)" if r.frames_used != r.frames
                                                             else "") for r in rows.itertuples())
        ref = rows[rows.frames == reference]
        if ref.empty:
            sentences.append(f"**{model}**: test video AUC {path} frames.")
            continue
        ref = ref.iloc[0]
        others = rows[rows.frames != reference]
        outside = others[(others.roc_auc < ref.low) | (others.roc_auc > ref.high)]
        move = (others.roc_auc - ref.roc_auc).abs().max() if len(others) else 0.0
        verdict = (f"every other count stays within the {reference}-frame interval "
                   f"[{ref.low:.3f}, {ref.high:.3f}] (largest move {move:.3f}): with these test videos the "
                   f"count does not measurably change it" if outside.empty else
                   f"{', '.join(str(f) for f in outside.frames)} frames fall outside the {reference}-frame interval "
                   f"[{ref.low:.3f}, {ref.high:.3f}] (largest move {move:.3f})")
        sentences.append(f"**{model}**: test video AUC {path} frames; {verdict}.")
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
    rows, largest = [], {}
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
                log.info("%s at %d frames: AUC %.3f", name, count, rows[-1]["roc_auc"])
        table = auc_table(rows)
        table.to_csv(out / "table.csv", index=False)
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
    """``metrics/frames_per_video.json``: per model, per requested count, the AUC, its interval and frames used."""
    metrics = {m: {str(r.frames): {"roc_auc": r.roc_auc, "roc_auc_ci": [r.low, r.high], "frames_used": r.frames_used,
                                   "videos": r.videos} for r in rows.itertuples()}
               for m, rows in table.groupby("model", sort=False)}
    path = paths.metrics / "frames_per_video.json"
    write_json_atomic(path, metrics)
    return path


def figure(table: pd.DataFrame, ax=None):
    """Test video AUC against frames sampled (log scale), one line per model, the 95 % intervals as error bars."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    models = list(dict.fromkeys(table.model))
    for i, (model, rows) in enumerate(table.groupby("model", sort=False)):
        x = rows.frames_used.to_numpy() * (1 + 0.03 * (i - (len(models) - 1) / 2))  # side by side, not on top
        ax.errorbar(x, rows.roc_auc, yerr=[rows.roc_auc - rows.low, rows.high - rows.roc_auc], marker="o",
                    capsize=3, label=model)
    ticks = dict(zip(table.frames_used, table.frames))  # used -> requested
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ticks), [str(u) if ticks[u] == u else f"{ticks[u]} ({u} used)" for u in sorted(ticks)])
    ax.axvline(REFERENCE, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="frames sampled per test video", ylabel="test video ROC AUC")
    ax.legend(frameon=False)
    return ax
