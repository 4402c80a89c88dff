"""One training loop for all five detectors (paper section 4.2).

Adam (lr 1e-3), batches of 16 frames or 4 videos, class weights from the training
split, BCE for per-frame models and alpha*BCE + beta*(1 - soft F1) for whole-video
models, validation every epoch, the best checkpoint kept, early stopping. After
every epoch the whole state (weights, optimiser, epoch, history, every RNG) is
saved, so an interrupted run resumes where it stopped and ends with the same
weights as one that never stopped (tested).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import random
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader

from dfd_utils.datasets import SplitData, make_view
from dfd_utils.io import progress
from dfd_utils.losses import LossConfig, class_weights, make_loss
from dfd_utils.models import Detector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # upper bound; early stopping may end sooner
    patience: int = 3  # epochs without a better validation score before stopping
    lr: float = 1e-3  # the paper's Adam learning rate
    batch_frames: int = 16  # per-frame models (the paper: 16)
    batch_videos: int = 4  # whole-video models (the paper: 4)
    loss: str = "auto"  # auto: bce per frame, bce_f1 per video (the paper); or bce | bce_f1
    alpha: float = 1.0  # weight of BCE in bce_f1
    beta: float = 1.0  # weight of (1 - soft F1) in bce_f1
    class_weighting: bool = True  # tf.keras class_weight semantics (dfd_utils.losses)
    precision: str = "bf16"  # fp32 | bf16 (CPU and CUDA) | fp16 (CUDA, with loss scaling)
    channels_last: bool = True  # NHWC convolutions: faster on CPUs with bf16 units and on GPUs
    device: str = "cpu"  # cpu | cuda | auto
    max_batches: int = 0  # cap on batches per epoch (0 = all): the smoke profile's seconds
    seed: int = 0

    def loss_config(self, level: str) -> LossConfig:
        kind = self.loss if self.loss != "auto" else ("bce" if level == "frame" else "bce_f1")
        return LossConfig(kind, self.alpha, self.beta)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no GPU; set device: cpu or auto")
    return torch.device(device)


def _x86_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())


@cache
def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 natively (x86: AVX512-BF16 or AMX; as oneDNN allows).

    Without native units, bf16 is a trap rather than a speed-up: oneDNN emulates it
    (AVX-512 without BF16) or falls back to reference kernels many times slower than
    fp32 (AVX2), and on AVX2 the bf16 LSTM primitive cannot be built at all.
    ``ONEDNN_MAX_CPU_ISA=AVX2`` makes a capable CPU answer False (the tests use it).
    """
    is_supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if is_supported is None or not is_supported():
        return False
    if platform.machine().lower() in ("x86_64", "amd64", "i686"):
        flags = _x86_flags()
        return not flags or bool(flags & {"avx512_bf16", "amx_bf16"})
    return True


def autocast(device: torch.device, precision: str):
    """The mixed-precision context for a forward pass.

    ``bf16`` on a CPU without native bf16 runs in fp32 (with one warning): the same
    profile then works on every machine, fast where the hardware allows.
    """
    if precision == "fp32":
        return nullcontext()
    if precision == "bf16":
        if device.type == "cpu" and not cpu_has_bf16():
            _warn_once("this CPU has no native bf16 units (AVX512-BF16 or AMX): running in fp32")
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError("precision fp16 needs CUDA; use bf16 on CPU")
        return torch.autocast("cuda", dtype=torch.float16)
    raise ValueError(f"unknown precision {precision!r}; expected fp32, bf16 or fp16")


@cache
def _warn_once(message: str) -> None:
    log.warning(message)


def prepare(model: Detector, device: torch.device, channels_last: bool) -> Detector:
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d if model.three_d else torch.channels_last)
    return model


def loader(model: Detector, data: SplitData, batch_size: int, shuffle: bool, generator=None) -> DataLoader:
    view = make_view(data, model.input_view, with_flow=model.uses_flow, three_d=model.three_d)
    return DataLoader(view, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0)


def forward(model: Detector, batch: dict, device: torch.device, precision: str) -> torch.Tensor:
    frames = batch["frames"].to(device, non_blocking=True)
    flows = batch["flows"].to(device, non_blocking=True) if "flows" in batch else None
    with autocast(device, precision):
        return model(frames, flows).float()  # (B,) logits


@torch.no_grad()
def predict(model: Detector, data: SplitData, batch_size: int = 32, device="cpu", precision: str = "fp32"
            ) -> np.ndarray:
    """Probabilities of FAKE, one per item of the model's view (frames in video order, or videos)."""
    device = torch.device(device) if isinstance(device, str) else device
    model.eval()
    out = [torch.sigmoid(forward(model, b, device, precision)).cpu() for b in loader(model, data, batch_size, False)]
    return torch.cat(out).numpy()


def item_labels(model: Detector, data: SplitData) -> np.ndarray:
    labels = data.labels.numpy()
    return np.repeat(labels, data.num_frames) if model.level == "frame" else labels


def _score(labels: np.ndarray, probs: np.ndarray) -> float:
    return float(roc_auc_score(labels, probs)) if len(np.unique(labels)) == 2 else float("nan")


def _rng_state(generator: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "loader": generator.get_state(),
            "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["loader"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def fit(model: Detector, train: SplitData, val: SplitData, cfg: TrainConfig, run_dir: str | os.PathLike,
        live=None, on_epoch_end=None) -> dict:
    """Train ``model`` and keep the best weights by validation ROC AUC (ties: lower loss).

    ``run_dir`` holds ``last.pt`` (everything needed to resume) and ``best.pt``
    (the best weights). Calling ``fit`` again with the same ``run_dir`` resumes.
    Returns the history and the best epoch; ``model`` ends with the best weights.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    model = prepare(model, device, cfg.channels_last)
    weights = class_weights(train.labels) if cfg.class_weighting else None
    loss_fn = make_loss(cfg.loss_config(model.level), weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    batch_size = cfg.batch_frames if model.level == "frame" else cfg.batch_videos
    state = {"epoch": 0, "history": [], "best_score": (-math.inf, -math.inf), "best_epoch": -1, "stale": 0}
    last = run_dir / "last.pt"
    fingerprint = {k: v for k, v in asdict(cfg).items() if k not in ("epochs", "device")}
    if last.is_file():
        saved = torch.load(last, map_location=device, weights_only=False)
        if saved["config"] != fingerprint:
            log.warning("%s was trained with another configuration: starting over", run_dir)
        else:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            _set_rng_state(saved["rng"], generator)
            state = saved["state"]
            log.info("resumed %s after epoch %d", run_dir, state["epoch"])
    val_labels = item_labels(model, val)
    while state["epoch"] < cfg.epochs and state["stale"] < cfg.patience:
        model.train()
        losses = []
        batches = loader(model, train, batch_size, True, generator)
        for i, batch in enumerate(progress(batches, desc=f"epoch {state['epoch'] + 1}", leave=False)):
            if cfg.max_batches and i >= cfg.max_batches:
                break
            logits = forward(model, batch, device, cfg.precision)
            loss = loss_fn(logits, batch["label"].to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
        probs = predict(model, val, batch_size * 2, device, cfg.precision)
        val_loss = float(loss_fn(torch.logit(torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)),
                                 torch.from_numpy(val_labels)).item())
        score = _score(val_labels, probs)
        record = {"epoch": state["epoch"] + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                  "val_auc": score, "val_acc": float(((probs >= 0.5) == val_labels).mean())}
        state["history"].append(record)
        state["epoch"] += 1
        key = (score if not math.isnan(score) else -math.inf, -val_loss)  # AUC first, then the lower loss
        if key > tuple(state["best_score"]):
            state.update(best_score=key, best_epoch=state["epoch"], stale=0)
            _save_atomic({"model": model.state_dict()}, run_dir / "best.pt")
        else:
            state["stale"] += 1
        _save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                      "rng": _rng_state(generator), "config": fingerprint}, last)
        if live is not None:
            for k, v in record.items():
                if k != "epoch":
                    live.log_metric(k, v)
            live.next_step()
        log.info("epoch %(epoch)d: train loss %(train_loss).4f, val loss %(val_loss).4f, val AUC %(val_auc).3f",
                 record)
        if on_epoch_end is not None:
            on_epoch_end(state["epoch"])
    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    return {"history": state["history"], "best_epoch": state["best_epoch"], "class_weights": weights}


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
