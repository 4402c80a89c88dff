"""Training one model on several processes with torchrun (DDP): the launcher a stage calls, and what each rank runs.

With ``train.nproc: N > 1`` the training stage (``stages.detector.train_seed``) calls
:func:`launch`, which writes the run's job (the model's settings and initial weights,
the splits, the loop's settings and the run's stamp) to ``<run>/ddp_job.pt`` and runs

    python -m torch.distributed.run --standalone --nproc_per_node N -m dfd_utils.distributed <run>/ddp_job.pt

as a subprocess, so a notebook cell runs once whatever the number of ranks; it then
reads back what rank 0 wrote (``best.pt``, ``last.pt``, DVCLive) as :func:`train.fit`
would have returned it. Several machines: ``DFD_TORCHRUN`` replaces ``--standalone``
with the rendezvous (``--nnodes M --node-rank 0 --rdzv-backend c10d --rdzv-endpoint
HOST:PORT``) on the machine that runs the stage, and each other machine runs the same
command on the same job file (a shared filesystem) with its own ``--node-rank``
(README, "Scaling past one machine"); the per-rank batch is the global batch over all ranks.

Each rank (:func:`main`): gloo on CPUs, NCCL on GPUs (one per rank, ``LOCAL_RANK``);
``DistributedSampler`` seeded with the run's seed (``set_epoch`` each epoch); a per-rank
batch of ``global / N``, so a step sees the global batch of one process and DDP's
all-reduce averages the ranks' gradients into its gradient (the losses are means over
equal-sized shares); rank 0 alone validates, keeps checkpoints and logs, and tells the
others whether to go on.

What keeps N ranks from matching one process bit for bit: the float sums of the
gradient run in another order; BatchNorm normalises each rank's share with its own
statistics (fine-tuned trunks; a frozen trunk's head has none); dropout draws per rank;
a split whose size is not a multiple of N is padded by the sampler with its first items;
and the whole-video loss's soft F1 is computed per share, not over the global batch.
The sampler's order (``randperm`` seeded ``seed + epoch``) is not the one-process loop's
(one generator over all epochs): :func:`launch` with ``nproc=1`` runs this path on one
rank, the reference ``tests/test_distributed.py`` compares N ranks against.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from dfd_utils import train as loop
from dfd_utils.datasets import Batched, SplitData, make_view, whole
from dfd_utils.features import features_fit, with_features
from dfd_utils.losses import class_weights, make_loss
from dfd_utils.models import Detector, build_model
from dfd_utils.precision import prepare, resolve_device
from dfd_utils.settings import TrainConfig
from dfd_utils.split_arrays import open_array
from dfd_utils.train import forward, item_labels, log_epoch, loss_config, predict, run_stamp, trainable_parameters

log = logging.getLogger(__name__)

TENSORS = ("frames", "flows", "frames3d")  # SplitData fields a job carries by value or by array path


def global_batch(cfg: TrainConfig, level: str) -> int:
    return cfg.batch_frames if level == "frame" else cfg.batch_videos


def per_rank_batch(cfg: TrainConfig, level: str, nproc: int) -> int:
    """The global batch of one process split evenly over ``nproc`` ranks; refused when it does not divide."""
    batch = global_batch(cfg, level)
    key = "batch_frames" if level == "frame" else "batch_videos"
    if batch % nproc:
        raise ValueError(f"train.{key} {batch} is not divisible by train.nproc {nproc}: each process takes an equal "
                         "share of the global batch")
    return batch // nproc


def _split_payload(data: SplitData, needed: set[str]) -> dict:
    """``data`` as plain values for the job: memory-mapped fields by their array's path, the others by value."""
    payload = {"videos": data.videos, "families": data.families, "labels": data.labels, "features": data.features,
               "features_of": data.features_of}
    for key in TENSORS:
        tensor = getattr(data, key)
        if key not in needed or tensor is None:
            payload[key] = None
        elif key in data.arrays:
            payload[key] = {"array": data.arrays[key]}
        else:
            payload[key] = tensor
    return payload


def _split_from(payload: dict) -> SplitData:
    fields = {key: open_array(v["array"], key) if isinstance(v, dict) else v
              for key, v in payload.items() if key in TENSORS}
    return SplitData(videos=payload["videos"], families=payload["families"], labels=payload["labels"],
                     features=payload["features"], features_of=payload["features_of"], **fields)


def launch(model: Detector, name: str, train: SplitData, val: SplitData, cfg: TrainConfig, run_dir: str | Path,
           model_settings: dict, live_dir: str | Path | None = None, nproc: int | None = None) -> dict:
    """:func:`train.fit` on ``nproc`` (default ``cfg.nproc``) processes under torchrun; returns what ``fit`` returns.

    ``name`` and ``model_settings``: what builds the model (``build_model(name, **model_settings)``);
    its current weights are the ranks' initial weights. Resumes, or starts over, as ``fit`` does.
    """
    nproc = nproc or cfg.nproc
    per_rank_batch(cfg, model.level, nproc)  # refused here, before any process starts
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    made_by = run_stamp(model, train, val, cfg, device, model_settings)
    model = prepare(model, device, cfg.channels_last)
    if cfg.trunk == "frozen":  # the trunk's features once, here; the ranks train what comes after it
        train, val = (d if features_fit(model, d) else with_features(model, d) for d in (train, val))
    last = run_dir / "last.pt"
    saved = loop._load_last(last)
    why = loop.why_not_resumed(saved, made_by, cfg.epochs, run_dir)
    if why is not None and saved is not None:
        log.warning("%s starts over: %s", run_dir, why)
        for old in (last, run_dir / "best.pt"):
            old.unlink(missing_ok=True)
    needed = {"frames3d" if model.three_d else "frames", *(["flows"] if model.uses_flow else [])}  # frozen too:
    # the views count frames on them; mapped splits travel as their arrays' paths, at no cost
    job = {"name": name, "build": {**model_settings, "weights": "none", "weights_fallback": False},
           "initial": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "cfg": asdict(cfg),
           "made_by": made_by, "resume": why is None, "run_dir": str(run_dir), "nproc": nproc,
           "live_dir": str(live_dir) if live_dir is not None else "",
           "train": _split_payload(train, needed), "val": _split_payload(val, needed)}
    job_path = run_dir / "ddp_job.pt"
    loop._save_atomic(job, job_path, sealed=False)
    rendezvous = shlex.split(os.environ.get("DFD_TORCHRUN", "--standalone"))  # several machines: see the README
    cmd = [sys.executable, "-m", "torch.distributed.run", *rendezvous, "--nproc_per_node", str(nproc),
           "-m", "dfd_utils.distributed", str(job_path)]
    log.info("training on %d processes: %s", nproc, " ".join(cmd))
    try:
        done = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": _pythonpath()})
    finally:
        job_path.unlink(missing_ok=True)
    if done.returncode:
        raise RuntimeError(f"{run_dir}: torchrun with {nproc} processes failed (exit code {done.returncode}); "
                           "the ranks' errors are printed above")
    state = torch.load(last, map_location="cpu", weights_only=True)["state"]
    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    weights = class_weights(train.labels) if cfg.class_weighting else None
    return {"history": state["history"], "best_epoch": state["best_epoch"], "class_weights": weights,
            "made_by": made_by}


def _pythonpath() -> str:
    """This checkout first, so the ranks import the ``dfd_utils`` the caller runs (not another installed copy)."""
    here = str(Path(__file__).resolve().parent.parent)
    return os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH", "")])])


class Step(nn.Module):
    """A model's training forward pass as a module, so DDP wraps it: a batch -> logits ``(B,)``."""

    def __init__(self, model: Detector, device: torch.device, precision: str):
        super().__init__()
        self.model, self.device, self.precision = model, device, precision

    def forward(self, batch: dict) -> torch.Tensor:
        return forward(self.model, batch, self.device, self.precision)


def rank_seed(seed: int, rank: int, epoch: int) -> int:
    """The global RNG's seed of one rank in one epoch (dropout): fixed by both, so a resumed run draws the same."""
    return (seed * 1_000_003 + rank * 10_007 + epoch) % (2 ** 63)


def main(job_path: str) -> None:
    """One rank of a torchrun job written by :func:`launch`."""
    job = torch.load(job_path, map_location="cpu", weights_only=True, mmap=True)  # tensors mapped, read on use
    cfg = TrainConfig(**job["cfg"])
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        _train(job, cfg, rank, world, device)
    finally:
        dist.destroy_process_group()


def _train(job: dict, cfg: TrainConfig, rank: int, world: int, device: torch.device) -> None:
    model = build_model(job["name"], **job["build"])
    model.load_state_dict(job["initial"])
    model = prepare(model, device, cfg.channels_last)
    train, val = _split_from(job["train"]), _split_from(job["val"])
    frozen = cfg.trunk == "frozen"
    trainable = trainable_parameters(model, cfg.trunk)
    for p in model.parameters():  # DDP syncs what trains: a frozen trunk takes no gradient
        p.requires_grad_(any(p is q for q in trainable))
    step = DistributedDataParallel(Step(model, device, cfg.precision),
                                   device_ids=[device.index] if device.type == "cuda" else None)
    weights = class_weights(train.labels) if cfg.class_weighting else None
    loss_fn = make_loss(loss_config(cfg, model.level), weights)
    optimizer = torch.optim.Adam(trainable, lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    run_dir = Path(job["run_dir"])
    state = {"epoch": 0, "history": [], "best_score": [-math.inf, -math.inf], "best_epoch": -1, "stale": 0}
    if job["resume"]:
        saved = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scaler.load_state_dict(saved["scaler"])
        state = saved["state"]
    view = Batched(make_view(train, model.input_view, with_flow=model.uses_flow, three_d=model.three_d,
                             features=frozen))
    sampler = DistributedSampler(view, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    batches = DataLoader(view, batch_size=per_rank_batch(cfg, model.level, world), sampler=sampler, num_workers=0,
                         collate_fn=whole)
    live = _live(job, state) if rank == 0 else None
    val_labels = item_labels(model, val)
    go_on = state["epoch"] < cfg.epochs and state["stale"] < cfg.patience
    while go_on:
        sampler.set_epoch(state["epoch"])  # the order: randperm seeded seed + epoch, the same on every rank
        torch.manual_seed(rank_seed(cfg.seed, rank, state["epoch"]))
        loss = _epoch(step, batches, loss_fn, optimizer, scaler, device, cfg.max_batches)  # this rank's mean
        dist.all_reduce(loss)  # (1,): the sum of the ranks' means
        if rank == 0:
            record = _validate(model, val, val_labels, loss_fn, cfg, device, state, float(loss) / world)
            _keep(model, optimizer, scaler, state, job["made_by"], run_dir, record)
            if live is not None:
                log_epoch(live, record)
            log.info("epoch %(epoch)d: train loss %(train_loss).4f, val loss %(val_loss).4f, val AUC %(val_auc).3f",
                     record)
        flag = torch.tensor([int(rank == 0 and state["epoch"] < cfg.epochs and state["stale"] < cfg.patience)],
                            device=device)
        dist.broadcast(flag, 0)  # rank 0 alone validated: it says whether every rank goes on
        go_on = bool(flag.item())
        if rank != 0:
            state["epoch"] += 1
    if live is not None:
        live.end()


def _epoch(step: DistributedDataParallel, batches, loss_fn, optimizer, scaler, device: torch.device,
           max_batches: int) -> torch.Tensor:
    """One pass over this rank's share: forward, loss, backward (DDP averages the gradients), step."""
    step.train()
    losses = []
    for i, batch in enumerate(batches):
        if max_batches and i >= max_batches:
            break
        loss = loss_fn(step(batch), batch["label"].to(device))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    return torch.tensor([float(np.mean(losses))], dtype=torch.float64, device=device)


def _validate(model: Detector, val: SplitData, labels: np.ndarray, loss_fn, cfg: TrainConfig, device, state: dict,
              train_loss: float) -> dict:
    """Rank 0: the epoch's record (as ``train.fit`` makes it), the epoch counted and the best score updated."""
    batch = global_batch(cfg, model.level)
    probs = predict(model, val, batch * 2, device, cfg.precision)
    val_loss = float(loss_fn(torch.logit(torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)), torch.from_numpy(labels)))
    score = loop._score(labels, probs)
    record = {"epoch": state["epoch"] + 1, "train_loss": train_loss, "val_loss": val_loss, "val_auc": score,
              "val_acc": float(((probs >= 0.5) == labels).mean())}
    state["history"].append(record)
    state["epoch"] += 1
    return record


def _keep(model: Detector, optimizer, scaler, state: dict, made_by: dict, run_dir: Path, record: dict) -> None:
    """Rank 0: ``best.pt`` when the epoch is the best (AUC, then the lower loss), ``last.pt`` always."""
    score = record["val_auc"]
    key = [score if not math.isnan(score) else -math.inf, -record["val_loss"]]
    if key > list(state["best_score"]):
        state.update(best_score=key, best_epoch=state["epoch"], stale=0)
        loop._save_atomic({"model": model.state_dict()}, run_dir / "best.pt")
    else:
        state["stale"] += 1
    loop._save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                  "scaler": scaler.state_dict(), "made_by": made_by}, run_dir / "last.pt")


def _live(job: dict, state: dict):
    """Rank 0's DVCLive logger, continuing the curves of a resumed run."""
    if not job["live_dir"]:
        return None
    from dvclive import Live

    return Live(job["live_dir"], resume=state["epoch"] > 0, save_dvc_exp=False, dvcyaml=None, report=None)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv[1])
