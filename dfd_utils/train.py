"""One training loop for all five detectors (paper section 4.2).

Adam (lr 1e-3), batches of 16 frames or 4 videos, class weights from the training
split, BCE for per-frame models and alpha*BCE + beta*(1 - soft F1) for whole-video
models, validation every epoch, the best checkpoint kept, early stopping. After
every epoch the whole state (weights, optimiser, epoch, history, every RNG) is
saved, so an interrupted run resumes where it stopped and ends with the same
weights as one that never stopped (tested). With ``trunk: frozen`` the pretrained
trunk's features are computed once (``dfd_utils.features``) and only the layers
after it train.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader

from dfd_utils.datasets import Batched, SplitData, make_view, whole
from dfd_utils.digest import tensor_digest
from dfd_utils.features import features_fit, with_features
from dfd_utils.io import progress, save_torch_atomic
from dfd_utils.kept import seal, warn, why_unsealed
from dfd_utils.losses import LossConfig, class_weights, make_loss
from dfd_utils.models import Detector
from dfd_utils.precision import autocast, prepare, resolve_device
from dfd_utils.provenance import code_version, digest, stamp, why_stale
from dfd_utils.settings import TrainConfig

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


def train_epoch(model: Detector, batches, loss_fn, optimizer, scaler, device: torch.device, precision: str,
                max_batches: int = 0) -> list[float]:
    """One pass over ``batches`` (a loader's batches): forward, loss, backward, step. Returns each batch's loss."""
    model.train()
    losses = []
    for i, batch in enumerate(batches):
        if max_batches and i >= max_batches:
            break
        logits = forward(model, batch, device, precision)
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


def _rng_state(generator: torch.Generator) -> dict:
    """Every RNG the loop draws from, as tensors and plain values (``torch.load(weights_only=True)`` reads it)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, mt, gauss_py = random.getstate()
    state = {"torch": torch.get_rng_state(), "loader": generator.get_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
             "python": [version, torch.tensor(mt, dtype=torch.int64), gauss_py]}
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore :func:`_rng_state`'s states; RNG states are CPU byte tensors whatever device trains."""
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["loader"].cpu())
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, mt, gauss_py = state["python"]
    random.setstate((version, tuple(int(x) for x in mt.tolist()), gauss_py))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


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
        live=None, on_epoch_end=None, model_settings: dict | None = None) -> dict:
    """Train ``model`` and keep the best weights by validation ROC AUC (ties: lower loss).

    ``run_dir`` holds ``last.pt`` (everything needed to resume) and ``best.pt``
    (the best weights). Calling ``fit`` again with the same ``run_dir`` resumes, but
    only a run made from the same data, initial weights, settings (``model_settings``:
    what built the model, dropout included) and code (:func:`run_stamp`); any other
    run there is started over, with one line saying why; so is one whose ``last.pt`` or ``best.pt`` no longer holds
    the bytes sealed when it was written (:func:`why_not_resumed`). ``live``: a factory
    ``live(resume: bool)`` of a DVCLive logger, told whether earlier curves continue.
    Returns the history and the best epoch; ``model`` ends with the best weights.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    made_by = run_stamp(model, train, val, cfg, device, model_settings)
    model = prepare(model, device, cfg.channels_last)
    if cfg.trunk == "frozen":  # the trunk's features once; the loop then trains what comes after it
        train, val = (d if features_fit(model, d) else with_features(model, d) for d in (train, val))
    weights = class_weights(train.labels) if cfg.class_weighting else None
    loss_fn = make_loss(loss_config(cfg, model.level), weights)
    optimizer = torch.optim.Adam(trainable_parameters(model, cfg.trunk), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    state = {"epoch": 0, "history": [], "best_score": [-math.inf, -math.inf], "best_epoch": -1, "stale": 0}
    last = run_dir / "last.pt"
    saved = _load_last(last)
    why = why_not_resumed(saved, made_by, cfg.epochs, run_dir)
    if why is None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])  # moves the optimiser's state to the parameters' device
        scaler.load_state_dict(saved["scaler"])
        _set_rng_state(saved["rng"], generator)
        state = saved["state"]
        log.info("resumed %s after epoch %d", run_dir, state["epoch"])
    elif saved is not None:
        log.warning("%s starts over: %s", run_dir, why)
        for old in (last, run_dir / "best.pt"):
            old.unlink(missing_ok=True)
    with contextlib.ExitStack() as cleanup:
        logger = live(why is None) if live is not None else None
        if logger is not None:
            cleanup.callback(logger.end)
        _run_epochs(model, train, val, cfg, run_dir, state, optimizer, scaler, generator, loss_fn, made_by, logger,
                    on_epoch_end)
    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    return {"history": state["history"], "best_epoch": state["best_epoch"], "class_weights": weights,
            "made_by": made_by}


def _run_epochs(model, train, val, cfg, run_dir, state, optimizer, scaler, generator, loss_fn, made_by, live,
                on_epoch_end) -> None:
    """The epochs still to run (``state`` says where the run stands); after each, all of it goes to ``last.pt``."""
    device = resolve_device(cfg.device)
    batch_size = cfg.batch_frames if model.level == "frame" else cfg.batch_videos
    last = run_dir / "last.pt"
    val_labels = item_labels(model, val)
    while state["epoch"] < cfg.epochs and state["stale"] < cfg.patience:
        batches = loader(model, train, batch_size, True, generator, features=cfg.trunk == "frozen")
        losses = train_epoch(model, progress(batches, desc=f"epoch {state['epoch'] + 1}", leave=False), loss_fn,
                             optimizer, scaler, device, cfg.precision, cfg.max_batches)
        probs = predict(model, val, batch_size * 2, device, cfg.precision)
        val_loss = float(loss_fn(torch.logit(torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)),
                                 torch.from_numpy(val_labels)).item())
        score = _score(val_labels, probs)
        record = {"epoch": state["epoch"] + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                  "val_auc": score, "val_acc": float(((probs >= 0.5) == val_labels).mean())}
        state["history"].append(record)
        state["epoch"] += 1
        key = [score if not math.isnan(score) else -math.inf, -val_loss]  # AUC first, then the lower loss
        if key > list(state["best_score"]):
            state.update(best_score=key, best_epoch=state["epoch"], stale=0)
            _save_atomic({"model": model.state_dict()}, run_dir / "best.pt")
        else:
            state["stale"] += 1
        _save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                      "scaler": scaler.state_dict(), "rng": _rng_state(generator), "made_by": made_by}, last)
        if live is not None:
            log_epoch(live, record)
        log.info("epoch %(epoch)d: train loss %(train_loss).4f, val loss %(val_loss).4f, val AUC %(val_auc).3f",
                 record)
        if on_epoch_end is not None:
            on_epoch_end(state["epoch"])


def why_not_resumed(saved: dict | None, made_by: dict, epochs: int, run_dir: Path) -> str | None:
    """None when the saved state (``last.pt``, read by :func:`_load_last`) may be resumed; else why the run starts
    over: made otherwise, past ``epochs``, or ``last.pt``/``best.pt`` no longer the bytes written
    (``dfd_utils.kept``: a hand-edited head would be resumed, or published, as if trained)."""
    why = "not made yet" if saved is None else why_stale(saved.get("made_by"), made_by)
    if why is None and saved["state"]["epoch"] > epochs:
        why = f"it ran {saved['state']['epoch']} epochs, more than the {epochs} asked for"
    for path in (run_dir / "last.pt", run_dir / "best.pt") if why is None else ():
        changed = why_unsealed(path) if path.is_file() else "it is gone"
        if changed is not None:
            warn(path, changed, "the run starts over")
            return f"{path.name}: {changed}"
    return why


def _load_last(path: Path) -> dict | None:
    """The saved training state, read as data only (``weights_only=True``: a planted file cannot run code).

    Loaded on the CPU: RNG states must stay CPU byte tensors, and the model and
    optimiser states move to the training device when loaded into them.
    """
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # an older format, a damaged file, or one that is not ours
        log.warning("%s: cannot be read as training state (%s): starting over", path, str(err).splitlines()[0][:200])
        return {}
    return saved if isinstance(saved, dict) and "state" in saved else {}


def _save_atomic(obj, path: Path, sealed: bool = True) -> None:
    """``torch.save`` through a temp file, the same bytes for the same state; ``sealed``: its SHA-256 recorded
    beside it (checked before reuse)."""
    save_torch_atomic(obj, path)
    if sealed:
        seal(path)


# The loop, the models (dfd_utils.models imports all five), the datasets and losses, hashed
# when this module is imported: an edit made during a long run is not stamped on its runs.
CODE = code_version(__name__, libraries=("torch", "torchvision", "numpy"))
