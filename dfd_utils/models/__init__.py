"""The five detectors of the paper, one registry, and checkpoints that carry their config.

| name               | table | input                    | output            |
|--------------------|-------|--------------------------|-------------------|
| baseline           | 2     | frame 3x108x192          | 1 logit per frame |
| two_stream_frame   | 3*    | frame + flow 2x108x192   | 1 logit per frame |
| two_stream_video   | 4     | 16 frames + 16 flows     | 1 logit per video |
| cnn_rnn            | 5*    | 16 frames                | 1 logit per video |
| cnn3d              | 6     | 16 frames 3x224x224      | 1 logit per video |

(* the paper omits the table; ours is reconstructed and documented in errata.md.)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dfd_utils.io import atomic_path
from dfd_utils.models.base import Detector
from dfd_utils.models.cnn3d import Cnn3d
from dfd_utils.models.frame_models import Baseline, TwoStreamFrame
from dfd_utils.models.video_models import CnnRnn, TwoStreamVideo
from dfd_utils.settings import MODEL_NAMES

MODELS: dict[str, type[Detector]] = {
    "baseline": Baseline,
    "two_stream_frame": TwoStreamFrame,
    "two_stream_video": TwoStreamVideo,
    "cnn_rnn": CnnRnn,
    "cnn3d": Cnn3d,
}

assert tuple(MODELS) == MODEL_NAMES, "dfd_utils.settings.MODEL_NAMES lists the registry's models, in order"

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
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[Detector, dict]:
    """Rebuild a detector from a checkpoint; returns ``(model, payload)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a dfd checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    missing = [k for k in ("model", "model_cfg", "state_dict") if k not in payload]
    if missing:
        raise ValueError(f"{path}: damaged dfd checkpoint, {', '.join(missing)} missing")
    if payload["model"] not in MODELS or not isinstance(payload["model_cfg"], dict):
        raise ValueError(f"{path}: names model {payload['model']!r}; expected one of {sorted(MODELS)}")
    try:
        model = build_model(payload["model"], weights=None, **payload["model_cfg"])
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: its model_cfg cannot build {payload['model']!r} ({err})") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: weights do not fit model {payload['model']!r}: {str(err)[:300]}") from None
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"{path}: weights hold NaN or infinity ({', '.join(bad[:3])}{'...' if len(bad) > 3 else ''})"
                         ": the model cannot give a meaningful score")
    return model.eval(), payload


__all__ = ["MODELS", "Detector", "build_model", "save_checkpoint", "load_checkpoint"]
