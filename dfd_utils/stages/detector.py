"""Train, evaluate and save one detector: what notebooks 04-07 run.

Writes, for model ``name``:
  artifacts/models/<name>.pt                 best weights + config, threshold, provenance
  artifacts/runs/<name>/seed<k>/             resumable training state, one folder per seed
  artifacts/predictions/<name>/videos.csv    val + test, one row per video
  artifacts/predictions/<name>/frames.csv    per-frame models: one row per frame
  metrics/<name>.json                        test metrics with 95 % intervals and the spread over seeds
  metrics/headline/<name>.json               five numbers of it for `dvc exp show` (:func:`headline`)
  dvclive/<name>/                            learning curves (dvc plots show)
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dfd_utils.calibration import fit as fit_temperature
from dfd_utils.config import StudyConfig, build, merged_train, train_settings
from dfd_utils.config.training import EvaluateConfig, ModelSettings, TrainConfig
from dfd_utils.datasets import SplitData, load_split
from dfd_utils.distributed import launch
from dfd_utils.evaluate import detector_metrics, frame_table, score_table
from dfd_utils.features import FeatureCache
from dfd_utils.frame_settings import check_frame_settings
from dfd_utils.frame_store import FrameConfig
from dfd_utils.io import write_csv_atomic, write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.models import MODELS, Detector, build_model, save_checkpoint
from dfd_utils.paths import Paths
from dfd_utils.precision import prepare, resolve_device
from dfd_utils.resplit import resplit
from dfd_utils.train import fit, log_epoch, predict

log = logging.getLogger(__name__)

@dataclass
class Result:
    name: str
    model: Detector
    history: list[dict]
    metrics: dict
    videos: pd.DataFrame  # one row per val/test video
    frames: pd.DataFrame | None  # one row per val/test frame (per-frame models)
    data: dict[str, SplitData]


def model_config(name: str, settings: ModelSettings, frames: FrameConfig) -> dict:
    """The keyword arguments that build model ``name``: the shared settings and the input size it needs."""
    cfg = asdict(settings)
    flow_pool, train_blocks, grid = cfg.pop("flow_pool"), cfg.pop("train_blocks"), cfg.pop("train_blocks_grid")
    if (train_blocks or grid) and name != "cnn3d":
        raise ValueError(f"train_blocks applies to the 3D CNN only (set models.cnn3d.train_blocks), not to {name}")
    if name == "cnn3d":
        cfg["train_blocks"] = train_blocks
    if name in ("two_stream_frame", "two_stream_video"):
        cfg.update(height=frames.height, width=frames.width, flow_pool=flow_pool)
    if name == "two_stream_video":
        cfg["num_frames"] = frames.num_frames
    return cfg


def videos_used(data: dict[str, SplitData], data_info: dict | None) -> dict:
    """How many videos the run really used, per split, beside the number asked for (a shortfall shows here)."""
    per_split = {split: len(d.videos) for split, d in data.items()}
    used = {"num_videos_used": sum(per_split.values()), "videos_per_split": per_split}
    asked = (data_info or {}).get("num_videos")
    if asked is not None:
        used["num_videos_requested"] = int(asked)
    return used


def load_inputs(paths: Paths, model: Detector | type[Detector], split: str, limit: int | None = None) -> SplitData:
    """One split of ``paths``' frame store, with what ``model`` reads: frames, flow, or 3D clips."""
    return load_split(paths.frames, split, paths.flow, frames=not model.three_d, flows=model.uses_flow,
                      three_d=model.three_d, limit=limit)


def score_splits(model: Detector, data: dict[str, SplitData], topk: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The trained model's scores on val and test: one row per video, and per frame for per-frame models."""
    videos, frames = [], []
    for split in ("val", "test"):
        d = data[split]
        probs = predict(model, d, 32, "cpu", "fp32")  # (V*T,) per-frame models, (V,) whole-video models
        per_frame = model.level == "frame"
        videos.append(score_table(split, d.videos, d.families, d.labels.numpy(), probs,
                                  d.num_frames if per_frame else None, topk))
        if per_frame:
            frames.append(frame_table(split, d.videos, d.labels.numpy(), d.num_frames, probs))
    return pd.concat(videos, ignore_index=True), pd.concat(frames, ignore_index=True) if frames else None


def write_live(folder: Path, history: list[dict]) -> None:
    """DVCLive's curves of the whole run, written anew from its history.

    DVC removes a stage's ``dvclive/<model>`` before running it, so a run resumed
    (or reused whole) from its kept state would leave only the epochs it trained
    now, or none: the curves ``dvc plots`` and ``dvc exp show`` read are rewritten
    from every epoch the run holds, as the epoch loop logged them.
    """
    from dvclive import Live

    with Live(str(folder), resume=False, save_dvc_exp=False, dvcyaml=None, report=None) as logger:
        for record in history:
            log_epoch(logger, record)


SEED_METRICS = ("roc_auc", "accuracy", "balanced_accuracy", "log_loss")  # what the spread over seeds reports


def seed_spread(runs: list[dict]) -> dict:
    """The spread of each test metric over a model's seeds: ``{metric: {mean, sd, min, max}}``.

    ``sd`` is the sample standard deviation (ddof 1; 0 for a single seed). It measures
    how much training alone moves a result (initial head weights, batch order,
    dropout) on fixed data, which the bootstrap interval, over test videos, does not.
    """
    spread = {}
    for key in SEED_METRICS:
        values = np.array([r[key] for r in runs], dtype=float)
        spread[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                       "min": float(values.min()), "max": float(values.max())}
    return spread


def headline(metrics: dict) -> dict:
    """What ``dvc exp show`` shows of a model (its only declared metrics file): the first seed's test video AUC
    with its 95 % interval, test accuracy at the validation threshold, and validation AUC. Five columns a
    model, where the whole metrics file gave 50 to 90; the rest stays in ``metrics/<name>.json``."""
    low, high = metrics["video_ci"]["roc_auc"]
    return {"test_auc": metrics["video"]["roc_auc"], "test_auc_low": low, "test_auc_high": high,
            "test_accuracy": metrics["video"]["accuracy"], "val_auc": metrics["val_video"]["roc_auc"]}


def seed_record(seed: int, metrics: dict, fitted: dict, own_split: bool = False) -> dict:
    """One seed's line in ``metrics["seeds"]["runs"]``: its test video metrics, the AUC's interval, whether it
    drew its own split, and for per-frame models the frame-level AUC and accuracy (checked per seed too)."""
    record = {"seed": seed, **metrics["video"], "roc_auc_ci": metrics["video_ci"]["roc_auc"],
              "best_epoch": fitted["best_epoch"], "own_split": own_split, "test_videos": metrics["test_videos"]}
    if "frame" in metrics:
        record.update(frame_roc_auc=metrics["frame"]["roc_auc"], frame_accuracy=metrics["frame"]["accuracy"])
    return record


def train_seed(name: str, mcfg: dict, cfg: TrainConfig, data: dict[str, SplitData], run_dir: Path,
               features: FeatureCache | None, live=None, live_dir: Path | None = None
               ) -> tuple[Detector, dict, dict[str, SplitData]]:
    """One training run of ``name`` with ``cfg.seed``: ``(model with its best weights, fit's result, the splits it
    was scored on)``; a frozen trunk's features come from ``features`` (shared by seeds of one trunk).

    ``cfg.nproc > 1``: trained by that many processes under torchrun (``dfd_utils.distributed``),
    launched from here, so the notebook calling this runs once; rank 0 logs to ``live_dir``.
    """
    torch.manual_seed(cfg.seed)
    model = prepare(build_model(name, **mcfg), resolve_device(cfg.device), cfg.channels_last)
    if features is not None:
        data = features(model, data)
    with writing(run_dir):
        if cfg.nproc > 1:
            fitted = launch(model, name, data["train"], data["val"], cfg, run_dir, mcfg, live_dir=live_dir)
        else:
            fitted = fit(model, data["train"], data["val"], cfg, run_dir, live=live, model_settings=mcfg)
    return model.float().to(memory_format=torch.contiguous_format).cpu(), fitted, data


def run_experiment(name: str, train: dict, frames: dict, evaluate: dict, root: str | Path = ".", seed: int = 0,
                   device: str = "cpu", data_info: dict | None = None, live: bool = True,
                   runs: str | Path | None = None, models: dict | None = None,
                   feature_store: str | Path | None = None, extra_metrics: dict | None = None,
                   resplit_seeds: bool = False) -> Result:
    """Train ``name`` on the train split, choose thresholds on val, report on test.

    ``train``, ``frames``, ``evaluate``: sections of ``params.yaml`` (checked: an
    unknown key stops here, naming it); ``models``: the per-model overrides, merged
    over ``train`` for ``name``. ``runs``: where the resumable training state goes
    (default ``root``'s ``artifacts/runs``); a caller whose results are a cached DVC
    output keeps it elsewhere, since optimiser states are large and worth nothing
    once training ends. ``feature_store``: where a frozen trunk's features are kept between
    stages (default ``root``'s ``artifacts/features``). ``extra_metrics``: kept beside the metrics (chapter 07's
    comparison of how much of the 3D CNN trains).

    ``train.seeds`` runs (seeds ``seed``, ``seed + 1``, ...): the first is the model the chapter
    shows, saves and explains, the others add their test metrics and the spread over seeds
    (:func:`seed_spread`) to the metrics. They train on the same split, or with ``resplit_seeds``
    each on its own (:func:`dfd_utils.resplit.resplit`), so the spread covers the split too.
    """
    paths = Paths.at(root)
    runs_root = Path(runs if runs is not None else paths.runs) / name
    where = f"train + models.{name}" if (models or {}).get(name) else "train"
    cfg, settings = train_settings(merged_train(train, models, name), where, seed, device)
    frame_cfg = build(FrameConfig, frames, "frames")
    eval_cfg = build(EvaluateConfig, evaluate, "evaluate")
    mcfg = model_config(name, settings, frame_cfg)
    data = {s: load_inputs(paths, MODELS[name], s) for s in ("train", "val", "test")}  # the inputs the model reads
    check_frame_settings(paths.frames, data, frame_cfg)  # before training, and before the checkpoint says its input
    store = Path(feature_store) if feature_store is not None else paths.features
    features = FeatureCache(store) if cfg.trunk == "frozen" else None

    def make_live(resume: bool):
        from dvclive import Live

        return Live(str(paths.dvclive / name), resume=resume, save_dvc_exp=False, dvcyaml=None, report=None)

    model, fitted, scored = train_seed(name, mcfg, cfg, data, runs_root / f"seed{seed}", features,
                                       live=make_live if live else None,
                                       live_dir=paths.dvclive / name if live else None)
    if live:
        write_live(paths.dvclive / name, fitted["history"])
    videos, frames_df = score_splits(model, scored, eval_cfg.topk)
    metrics = {"model": name, "table": model.table, "best_epoch": fitted["best_epoch"],
               "epochs_run": len(fitted["history"]), **videos_used(data, data_info),
               **detector_metrics(videos, frames_df, eval_cfg.threshold_grid, eval_cfg.bootstrap, seed),
               **(extra_metrics or {})}
    runs_by_seed = [seed_record(seed, metrics, fitted)]
    for other in range(seed + 1, seed + cfg.seeds):
        split = resplit(data, other) if resplit_seeds else data
        m, f, d = train_seed(name, mcfg, replace(cfg, seed=other), split, runs_root / f"seed{other}", features)
        v, fr = score_splits(m, d, eval_cfg.topk)
        more = detector_metrics(v, fr, eval_cfg.threshold_grid, eval_cfg.bootstrap, other)
        runs_by_seed.append(seed_record(other, more, f, own_split=resplit_seeds))
        log.info("%s, seed %d: test AUC %.3f", name, other, more["video"]["roc_auc"])
    metrics["seeds"] = {"runs": runs_by_seed, "spread": seed_spread(runs_by_seed)}
    out = paths.predictions / name
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(videos, out / "videos.csv")
    if frames_df is not None:
        write_csv_atomic(frames_df, out / "frames.csv")
    write_json_atomic(paths.metrics / f"{name}.json", metrics)
    write_json_atomic(paths.metrics / "headline" / f"{name}.json", headline(metrics))
    val = videos[videos.split == "val"]
    temperature = fit_temperature(val.label, val.prob)
    save_checkpoint(paths.models / f"{name}.pt", model, name, mcfg, extra={
        "threshold": metrics["threshold"], "rule": "share" if model.level == "frame" else "prob",
        "level": model.level, "input": asdict(frame_cfg),  # dfd predict rebuilds the preprocessing from this
        "config": {"train": asdict(cfg), "model": mcfg, "frames": asdict(frame_cfg), "evaluate": asdict(eval_cfg)},
        "made_by": fitted["made_by"], "data": data_info or {}, "val_metrics": metrics["val_video"],
        "test_metrics": {**metrics["video"], "ci": metrics["video_ci"], "videos": metrics["test_videos"]},
        "seed": seed, "temperature": temperature.value,  # dfd predict calibrates with it
        "temperature_note": temperature.note})  # why the fit says little, when it does (one class, a bound)
    return Result(name, model, fitted["history"], metrics, videos, frames_df, data)


def train_detector(name: str, study: StudyConfig, root: str | Path = ".", live: bool = True,
                   extra_metrics: dict | None = None) -> Result:
    """Notebooks 04-07: :func:`run_experiment` with the study's sections (``params.yaml`` or a profile)."""
    return run_experiment(name, study.train, asdict(study.frames), asdict(study.evaluate), root=root, seed=study.seed,
                          device=study.device, data_info={"source": study.data.source,
                                                          "num_videos": study.data.num_videos},
                          live=live, models=study.models, extra_metrics=extra_metrics,
                          resplit_seeds=study.data.source != "faces")  # faces: identity-disjoint by design
