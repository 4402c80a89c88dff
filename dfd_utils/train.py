"""One training loop for all five detectors (paper section 4.2).

Adam (lr 1e-3), batches of 16 frames or 4 videos, class weights from the training
split, BCE for per-frame models and alpha*BCE + beta*(1 - soft F1) for whole-video
models, validation every epoch, the best checkpoint kept, early stopping. After
every epoch the whole state (weights, optimiser, epoch, history, every RNG) is
saved (``dfd_utils.resume``), so an interrupted run resumes where it stopped and
ends with the same weights as one that never stopped (tested). With ``trunk: frozen``
the pretrained trunk's features are computed once (``dfd_utils.features``) and only
the layers after it train. The same loop trains one rank of several under torchrun
(``dfd_utils.distributed`` launches them; ``dfd_utils.ranks`` is what a rank does
differently); one process, every stage's default, never enters that path.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from dfd_utils.config.training import TrainConfig
from dfd_utils.datasets import Batched, SplitData, make_view, whole
from dfd_utils.digest import tensor_digest
from dfd_utils.features import features_fit, with_features
from dfd_utils.io import progress
from dfd_utils.losses import LossConfig, class_weights, make_loss
from dfd_utils.models import Detector
from dfd_utils.precision import autocast, prepare, resolve_device
from dfd_utils.provenance import code_version, digest, stamp
from dfd_utils.ranks import Ranks, global_batch, per_rank_batch
from dfd_utils.resume import save_atomic, save_last, start_or_resume

log = logging.getLogger(__name__)


def loss_config(cfg: TrainConfig, level: str) -> LossConfig:
    """``auto``: BCE for per-frame models, BCE + soft F1 for whole-video models (the paper)."""
    kind = cfg.loss if cfg.loss != "auto" else ("bce" if level == "frame" else "bce_f1")
    return LossConfig(kind, cfg.alpha, cfg.beta)


def loader(model: Detector, data: SplitData, batch_size: int, shuffle: bool, generator=None,
           features: bool = False) -> DataLoader:
    """Batches of the model's view of ``data``, each sliced whole from the split's tensors (``datasets.Batched``).

    The ``DataLoader``'s own sampler orders them, so the order and the draws from
    ``generator`` (and, unshuffled, from torch's global RNG) are what they always were.
    """
    view = make_view(data, model.input_view, with_flow=model.uses_flow, three_d=model.three_d, features=features)
    return DataLoader(Batched(view), batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0,
                      collate_fn=whole)


def forward(model: Detector, batch: dict, device: torch.device, precision: str) -> torch.Tensor:
    """Logits ``(B,)`` of a batch of frames, or of a frozen trunk's features (``batch["features"]``)."""
    flows = batch["flows"].to(device, non_blocking=True) if "flows" in batch else None
    with autocast(device, precision):
        if "features" in batch:
            return model.classify(batch["features"].to(device, non_blocking=True), flows).float()
        return model(batch["frames"].to(device, non_blocking=True), flows).float()


@torch.no_grad()
def predict(model: Detector, data: SplitData, batch_size: int = 32, device="cpu", precision: str = "fp32"
            ) -> np.ndarray:
    """Probabilities of FAKE, one per item of the model's view (frames in video order, or videos).

    A split that holds features of this model's own trunk is scored from them
    (the same numbers, without the trunk's forward pass); any other from its frames.
    """
    device = torch.device(device) if isinstance(device, str) else device
    model.eval()
    batches = loader(model, data, batch_size, False, features=features_fit(model, data))
    out = [torch.sigmoid(forward(model, b, device, precision)).cpu() for b in batches]
    return torch.cat(out).numpy()


def train_epoch(model: Detector | DistributedDataParallel, batches, loss_fn, optimizer, scaler, device: torch.device,
                precision: str, max_batches: int = 0) -> list[float]:
    """One pass over ``batches`` (a loader's batches): forward, loss, backward, step. Returns each batch's loss.

    ``model``: a detector, or on one rank of several its training step in DDP (``ranks.Ranks.wrap``: a batch ->
    logits), whose backward averages the ranks' gradients.
    """
    model.train()
    ddp = isinstance(model, DistributedDataParallel)
    losses = []
    for i, batch in enumerate(batches):
        if max_batches and i >= max_batches:
            break
        logits = model(batch) if ddp else forward(model, batch, device, precision)  # (B,)
        loss = loss_fn(logits, batch["label"].to(device))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    return losses


def trainable_parameters(model: Detector, trunk: str) -> list[torch.nn.Parameter]:
    """Every parameter (``finetune``), or all but the trunk's (``frozen``: it only ever gave the features)."""
    return [p for name, p in model.named_parameters() if trunk == "finetune" or not name.startswith("cnn.")]


def item_labels(model: Detector, data: SplitData) -> np.ndarray:
    labels = data.labels.numpy()
    return np.repeat(labels, data.num_frames) if model.level == "frame" else labels


def _score(labels: np.ndarray, probs: np.ndarray) -> float:
    return float(roc_auc_score(labels, probs)) if len(np.unique(labels)) == 2 else float("nan")


def split_digest(data: SplitData) -> str:
    """The content of a split: its videos, labels, frames, flows and 3D frames."""
    return digest([data.videos, data.families, tensor_digest(data.labels, data.frames, data.flows, data.frames3d)])


def run_stamp(model: Detector, train: SplitData, val: SplitData, cfg: TrainConfig, device: torch.device,
              model_settings: dict | None = None) -> dict:
    """What a training run is made from: the data it sees, its initial weights, every setting, the code.

    ``epochs`` is left out on purpose: the loop is deterministic and saves all of its
    state, so a run asked for more epochs continues and ends with the weights of a run
    that never stopped (tested); a run that went past a smaller ``epochs`` starts over.
    ``seeds`` (how many runs a model gets) is left out too: each run has its own ``seed``.
    """
    weights = tensor_digest(*(v for _, v in sorted(model.state_dict().items())))
    settings = {**{k: v for k, v in asdict(cfg).items() if k not in ("epochs", "seeds")}, "device": device.type,
                "model": type(model).__name__, "model_settings": model_settings or {}}
    code = {**CODE, "model_module": type(model).__module__}
    return stamp({"train": split_digest(train), "val": split_digest(val), "initial_weights": weights}, settings, code)


def log_epoch(live, record: dict) -> None:
    """One epoch's ``record`` to DVCLive at the epoch's own step (also after a resume, or when rewritten whole)."""
    live.step = record["epoch"] - 1
    for key, value in record.items():
        if key != "epoch":
            live.log_metric(key, value)
    live.next_step()


def fit(model: Detector, train: SplitData, val: SplitData, cfg: TrainConfig, run_dir: str | os.PathLike,
        live=None, on_epoch_end=None, model_settings: dict | None = None, *, made_by: dict | None = None,
        distributed: bool | None = None) -> dict:
    """Train ``model`` and keep the best weights by validation ROC AUC (ties: lower loss).

    ``run_dir`` holds ``last.pt`` (everything needed to resume) and ``best.pt``
    (the best weights). Calling ``fit`` again with the same ``run_dir`` resumes, but
    only a run made from the same data, initial weights, settings (``model_settings``:
    what built the model, dropout included) and code (:func:`run_stamp`); any other
    run there is started over, with one line saying why; so is one whose ``last.pt`` or ``best.pt`` no longer holds
    the bytes sealed when it was written (``dfd_utils.resume``). ``live``: a factory
    ``live(resume: bool)`` of a DVCLive logger, told whether earlier curves continue.
    Returns the history and the best epoch; ``model`` ends with the best weights.

    Inside an initialised ``torch.distributed`` group of several ranks, or with ``distributed=True``
    (``dfd_utils.distributed.main``, the rank path, also on one rank), this process trains as one
    rank of N (``dfd_utils.ranks``); ``made_by``: the run's stamp, when the launcher made it from the splits it had.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    ranks = Ranks.joined(device, distributed)  # None: one process, the loop as it always was
    device = ranks.device if ranks is not None else device
    made_by = made_by if made_by is not None else run_stamp(model, train, val, cfg, device, model_settings)
    model = prepare(model, device, cfg.channels_last)
    if cfg.trunk == "frozen":  # the trunk's features once; the loop then trains what comes after it
        train, val = (d if features_fit(model, d) else with_features(model, d) for d in (train, val))
    weights = class_weights(train.labels) if cfg.class_weighting else None
    loss_fn = make_loss(loss_config(cfg, model.level), weights)
    optimizer = torch.optim.Adam(trainable_parameters(model, cfg.trunk), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if ranks is None:
        state, resumed = start_or_resume(run_dir, made_by, cfg.epochs, model, optimizer, scaler, generator)
    else:
        state, resumed = ranks.start_or_resume(run_dir, made_by, cfg.epochs, model, optimizer, scaler)
    with contextlib.ExitStack() as cleanup:
        logger = live(resumed) if live is not None and (ranks is None or ranks.lead) else None
        if logger is not None:
            cleanup.callback(logger.end)
        _run_epochs(model, train, val, cfg, run_dir, state, optimizer, scaler, generator, loss_fn, made_by, logger,
                    on_epoch_end, device, ranks)
    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    return {"history": state["history"], "best_epoch": state["best_epoch"], "class_weights": weights,
            "made_by": made_by}


def _run_epochs(model, train, val, cfg, run_dir, state, optimizer, scaler, generator, loss_fn, made_by, live,
                on_epoch_end, device: torch.device, ranks: Ranks | None) -> None:
    """The epochs still to run (``state`` says where the run stands); after each, all of it goes to ``last.pt``.

    One process: a loader per epoch, shuffled by ``generator``. One rank of N: the model's step in DDP over this
    rank's shares (``ranks``: sampler order per epoch, a per-rank batch, its own RNG seed); rank 0 alone validates,
    keeps checkpoints and logs, and its word on whether to go on holds for all.
    """
    batch_size = global_batch(cfg, model.level)  # one process's; a rank takes its share of it
    frozen = cfg.trunk == "frozen"
    val_labels = item_labels(model, val)
    lead = ranks is None or ranks.lead
    step, shares = model, None
    if ranks is not None:
        step = ranks.wrap(model, lambda batch: forward(model, batch, device, cfg.precision),
                          trainable_parameters(model, cfg.trunk))
        view = make_view(train, model.input_view, with_flow=model.uses_flow, three_d=model.three_d, features=frozen)
        shares = ranks.shares(Batched(view), per_rank_batch(cfg, model.level, ranks.world), cfg.seed)
    go_on = state["epoch"] < cfg.epochs and state["stale"] < cfg.patience
    while go_on:
        if ranks is None:
            batches = loader(model, train, batch_size, True, generator, features=frozen)
        else:
            batches = ranks.epoch(shares, state["epoch"], cfg.seed)
        if lead:
            batches = progress(batches, desc=f"epoch {state['epoch'] + 1}", leave=False)
        losses = train_epoch(step, batches, loss_fn, optimizer, scaler, device, cfg.precision, cfg.max_batches)
        train_loss = float(np.mean(losses)) if ranks is None else ranks.mean(losses)
        if lead:  # the one process, or rank 0: validate, keep, log
            probs = predict(model, val, batch_size * 2, device, cfg.precision)
            val_loss = float(loss_fn(torch.logit(torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)),
                                     torch.from_numpy(val_labels)).item())
            score = _score(val_labels, probs)
            record = {"epoch": state["epoch"] + 1, "train_loss": train_loss, "val_loss": val_loss,
                      "val_auc": score, "val_acc": float(((probs >= 0.5) == val_labels).mean())}
            state["history"].append(record)
            state["epoch"] += 1
            key = [score if not math.isnan(score) else -math.inf, -val_loss]  # AUC first, then the lower loss
            if key > list(state["best_score"]):
                state.update(best_score=key, best_epoch=state["epoch"], stale=0)
                save_atomic({"model": model.state_dict()}, run_dir / "best.pt")
            else:
                state["stale"] += 1
            save_last(run_dir / "last.pt", model, optimizer, scaler, state, made_by,
                      generator if ranks is None else None)  # the ranks reseed every epoch: no RNG state
            if live is not None:
                log_epoch(live, record)
            log.info("epoch %(epoch)d: train loss %(train_loss).4f, val loss %(val_loss).4f, val AUC %(val_auc).3f",
                     record)
        else:
            state["epoch"] += 1
        if on_epoch_end is not None:
            on_epoch_end(state["epoch"])
        go_on = state["epoch"] < cfg.epochs and state["stale"] < cfg.patience
        if ranks is not None:
            go_on = ranks.agree(go_on)  # rank 0 alone validated: it says whether every rank goes on


# The loop, the models (dfd_utils.models imports all five), the datasets and losses, hashed
# when this module is imported: an edit made during a long run is not stamped on its runs.
CODE = code_version(__name__, libraries=("torch", "torchvision", "numpy"))
