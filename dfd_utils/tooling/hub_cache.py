"""A stand-in for torchvision's ImageNet file in a torch hub cache: the right name, the right shapes, random values.

Why: ``weights: imagenet`` for a ResNet reads torchvision's file from
``$TORCH_HOME/hub/checkpoints/<file name from the weights' URL>``
(``dfd_utils.models.backbone.imagenet_weights_file``); offline, nothing else can
satisfy it. The paper check proves that load path and the shapes without the real
file (98 MB, a download): torchvision checks a file's hash only when it downloads it,
so a state dict of the right keys and shapes placed under that name is what it loads.
Never point a real study at such a cache: its "ImageNet" weights are noise.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision

from dfd_utils.io import save_torch_atomic


def place_random_imagenet(arch: str, torch_home: str | os.PathLike, seed: int = 0) -> Path:
    """Write a random ``arch`` state dict where torchvision looks for its ImageNet weights under ``torch_home``.

    Returns the file. The caller sets ``TORCH_HOME=torch_home`` for the processes
    that should load it (``torch.hub.get_dir()`` reads it at call time).
    """
    from dfd_utils.models.backbone import IMAGENET_WEIGHTS

    if arch not in IMAGENET_WEIGHTS:
        raise ValueError(f"{arch!r}: torchvision serves no ImageNet file for it; expected one of "
                         f"{sorted(IMAGENET_WEIGHTS)}")
    enum_name, member = IMAGENET_WEIGHTS[arch].split(".")
    url = getattr(torchvision.models, enum_name)[member].url
    path = Path(torch_home) / "hub" / "checkpoints" / os.path.basename(url)  # e.g. resnet50-11ad3fa6.pth
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)  # its keys and shapes: what the loader checks
    path.parent.mkdir(parents=True, exist_ok=True)
    save_torch_atomic(model.state_dict(), path)
    return path
