"""The 2D CNN every detector shares: ResNet50 (the paper's) or a smaller ResNet for CPUs.

``weights``: ``"imagenet"`` (torchvision's IMAGENET1K_V2 for ResNet50, V1 for the
others), ``None`` (random init) or a path to a local state dict. Offline,
``"imagenet"`` reads torchvision's file from the torch hub cache
(``$TORCH_HOME/hub/checkpoints``) and, when it is not there, fails with a message
naming that file, unless ``fallback=True`` asks for random weights instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_WEIGHTS = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet34": "ResNet34_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",  # the paper's backbone
}


class WeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for and cannot be had."""


def imagenet_weights_file(arch: str) -> tuple[str, Path]:
    """The URL of torchvision's ImageNet weights and where the hub cache keeps them."""
    enum_name, member = IMAGENET_WEIGHTS[arch].split(".")
    url = getattr(torchvision.models, enum_name)[member].url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_state_dict(arch: str, weights: str | os.PathLike | None, fallback: bool = False) -> dict | None:
    """Resolve ``weights`` to a state dict (or None for random initialisation)."""
    if weights in (None, "none", "None", ""):
        return None
    if weights == "imagenet":
        if arch not in IMAGENET_WEIGHTS:
            raise ValueError(f"no ImageNet weights known for {arch!r}")
        url, cached = imagenet_weights_file(arch)
        enum_name, member = IMAGENET_WEIGHTS[arch].split(".")
        try:
            return getattr(torchvision.models, enum_name)[member].get_state_dict(progress=False, check_hash=True)
        except Exception as err:  # URLError, socket errors, hash mismatch
            message = (f"ImageNet weights for {arch} are not in the torch hub cache and cannot be downloaded "
                       f"({type(err).__name__}: {err}). Download {url} on a connected machine and place it at "
                       f"{cached}, or set weights to a local file or to none.")
            if fallback:
                log.warning("%s Falling back to random weights, as asked.", message)
                return None
            raise WeightsUnavailable(message) from None
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: weights file does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{path}: not a state dict")
    return state


def resnet(arch: str = "resnet50", weights: str | os.PathLike | None = None, fallback: bool = False) -> nn.Module:
    """A torchvision ResNet with the requested weights (its ``fc`` is unused by the detectors)."""
    if not hasattr(torchvision.models, arch) or not arch.startswith("resnet"):
        raise ValueError(f"unknown backbone {arch!r}; expected one of {sorted(IMAGENET_WEIGHTS)}")
    model = getattr(torchvision.models, arch)(weights=None)
    state = load_state_dict(arch, weights, fallback)
    if state is not None:
        missing, unexpected = model.load_state_dict(state, strict=False)
        if [k for k in missing if not k.startswith("fc.")] or unexpected:
            raise WeightsUnavailable(f"weights do not fit {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


def trunk(model: nn.Module) -> nn.Sequential:
    """Everything before global pooling: ``(B, 3, H, W) -> (B, C, H/32, W/32)``."""
    return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                         model.layer1, model.layer2, model.layer3, model.layer4)


def trunk_channels(model: nn.Module) -> int:
    return model.fc.in_features  # 2048 for ResNet50, 512 for ResNet18/34


class Normalize(nn.Module):
    """uint8 or [0, 1] images -> ImageNet-normalised floats, inside the model.

    Each detector knows its input normalisation, so checkpoints carry it and
    batches can travel to the device as uint8 (4x less to copy).
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., 3, H, W)
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        return (x - self.mean) / self.std


def global_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, *spatial) -> (B, C)."""
    return F.adaptive_avg_pool2d(x, 1).flatten(1) if x.dim() == 4 else F.adaptive_avg_pool3d(x, 1).flatten(1)
