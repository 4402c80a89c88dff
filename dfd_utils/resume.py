"""A training run's saved state: what lets an interrupted run resume exactly, and what makes it start over.

After every epoch the loop (``train.fit``) saves all it needs to go on (weights, optimiser,
gradient scaler, its counters and history, every RNG it draws from) to ``last.pt``, and the
best weights to ``best.pt``, each through a temp file and sealed (``dfd_utils.kept``). A
later call resumes only a state made by the same run (its stamp: ``train.run_stamp``), not
past the epochs asked for, whose files still hold the bytes sealed; any other run in the
folder is cleared and starts over, with one line saying why. One process and the ranks of a
distributed run (``dfd_utils.ranks``: rank 0 decides, the others follow) resume through this
one module, so the two can never disagree on what may be resumed.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path

import numpy as np
import torch

from dfd_utils.io import save_torch_atomic
from dfd_utils.kept import seal, warn, why_unsealed
from dfd_utils.provenance import why_stale

# The loop's lines under the loop's name, as they were before this module was split from it.
log = logging.getLogger("dfd_utils.train")


def fresh_state() -> dict:
    """Where a run stands before its first epoch: no history, no best score yet, nothing stale."""
    return {"epoch": 0, "history": [], "best_score": [-math.inf, -math.inf], "best_epoch": -1, "stale": 0}


def rng_state(generator: torch.Generator) -> dict:
    """Every RNG the loop draws from, as tensors and plain values (``torch.load(weights_only=True)`` reads it)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, mt, gauss_py = random.getstate()
    state = {"torch": torch.get_rng_state(), "loader": generator.get_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
             "python": [version, torch.tensor(mt, dtype=torch.int64), gauss_py]}
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore :func:`rng_state`'s states; RNG states are CPU byte tensors whatever device trains."""
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["loader"].cpu())
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, mt, gauss_py = state["python"]
    random.setstate((version, tuple(int(x) for x in mt.tolist()), gauss_py))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def load_last(path: Path) -> dict | None:
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


def why_not_resumed(saved: dict | None, made_by: dict, epochs: int, run_dir: Path) -> str | None:
    """None when the saved state (``last.pt``, read by :func:`load_last`) may be resumed; else why the run starts
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


def restore(saved: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
            generator: torch.Generator | None) -> dict:
    """Load a saved state into the run's objects and return its counters; ``generator`` None: the RNGs are left alone
    (the ranks of a distributed run reseed theirs every epoch, so their saves carry none)."""
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])  # moves the optimiser's state to the parameters' device
    scaler.load_state_dict(saved["scaler"])
    if generator is not None:
        set_rng_state(saved["rng"], generator)
    return saved["state"]


def start_or_resume(run_dir: Path, made_by: dict, epochs: int, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                    generator: torch.Generator | None) -> tuple[dict, bool]:
    """``(the run's counters, whether it resumed)``: ``last.pt`` restored when :func:`why_not_resumed` allows it;
    else a saved run's ``last.pt`` and ``best.pt`` removed, with one line saying why it starts over."""
    last = run_dir / "last.pt"
    saved = load_last(last)
    why = why_not_resumed(saved, made_by, epochs, run_dir)
    if why is None:
        state = restore(saved, model, optimizer, scaler, generator)
        log.info("resumed %s after epoch %d", run_dir, state["epoch"])
        return state, True
    if saved is not None:
        log.warning("%s starts over: %s", run_dir, why)
        for old in (last, run_dir / "best.pt"):
            old.unlink(missing_ok=True)
    return fresh_state(), False


def save_last(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              state: dict, made_by: dict, generator: torch.Generator | None) -> None:
    """The whole state after an epoch, sealed; the RNGs too unless ``generator`` is None (see :func:`restore`)."""
    saved = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
             "scaler": scaler.state_dict()}
    if generator is not None:
        saved["rng"] = rng_state(generator)
    saved["made_by"] = made_by  # last, as it always was: the same state gives the same bytes
    save_atomic(saved, path)


def save_atomic(obj, path: Path, sealed: bool = True) -> None:
    """``torch.save`` through a temp file, the same bytes for the same state; ``sealed``: its SHA-256 recorded
    beside it (checked before reuse)."""
    save_torch_atomic(obj, path)
    if sealed:
        seal(path)
