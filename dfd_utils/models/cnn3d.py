"""The 3D CNN (Table 6): ResNet50 inflated to 3D, I3D-style (Carreira & Zisserman 2017).

Every 2D convolution becomes 3D; its ImageNet kernel is repeated along time and
divided by the temporal size, so a clip of identical frames gives exactly the 2D
network's features (the "boring video" check, tested). Temporal padding
replicates the edge frames instead of adding zeros, which keeps that identity
exact at the clip's ends too.

Time is downsampled 4x (stem conv stride 2, max-pool stride 2), so 16 frames of
224x224 become (4, 7, 7, 2048), Table 6's shape.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from dfd_utils.models.backbone import Normalize, global_pool, resnet, trunk, trunk_channels
from dfd_utils.models.base import Detector
from dfd_utils.models.layers import classifier


class TimePadded(nn.Module):
    """Replicate-pad the time axis of ``(B, C, T, H, W)``, then apply a 3D op."""

    def __init__(self, op: nn.Module, time_pad: int):
        super().__init__()
        self.op, self.time_pad = op, time_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad:
            x = F.pad(x, (0, 0, 0, 0, self.time_pad, self.time_pad), mode="replicate")
        return self.op(x)


def inflate_conv(conv: nn.Conv2d, time_kernel: int, time_stride: int = 1) -> TimePadded:
    conv3d = nn.Conv3d(conv.in_channels, conv.out_channels, (time_kernel, *conv.kernel_size),
                       stride=(time_stride, *conv.stride), padding=(0, *conv.padding), bias=conv.bias is not None)
    with torch.no_grad():  # (O, I, kh, kw) -> (O, I, kt, kh, kw) / kt
        conv3d.weight.copy_(conv.weight.unsqueeze(2).repeat(1, 1, time_kernel, 1, 1) / time_kernel)
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    return TimePadded(conv3d, time_kernel // 2)


def inflate_bn(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    bn3d = nn.BatchNorm3d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    bn3d.load_state_dict(bn.state_dict())
    return bn3d.train(bn.training)


def inflate(module: nn.Module) -> nn.Module:
    """A 3D copy of a 2D ResNet trunk: 3x3 kernels get 3 frames, 1x1 stay 1, the stem 5."""
    module = copy.deepcopy(module)

    def visit(parent: nn.Module, is_stem: bool = False) -> None:
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if is_stem and child.kernel_size == (7, 7):
                    new = inflate_conv(child, 5, 2)
                else:
                    new = inflate_conv(child, 3 if child.kernel_size[0] == 3 else 1)
            elif isinstance(child, nn.BatchNorm2d):
                new = inflate_bn(child)
            elif isinstance(child, nn.MaxPool2d):
                k, s, p = child.kernel_size, child.stride, child.padding
                new = TimePadded(nn.MaxPool3d((3, k, k), (2, s, s), (0, p, p)), 1)
            else:
                visit(child)
                continue
            setattr(parent, name, new)

    visit(module, is_stem=True)
    return module


class Cnn3d(Detector):
    """Table 6: (16, 224, 224, 3) -> inflated ResNet50 -> (4, 7, 7, 2048) -> GAP 2048 -> 1 logit."""

    table = "Table 6"
    input_view = "video"
    three_d = True
    level = "video"

    def __init__(self, backbone: str = "resnet50", weights=None, weights_fallback: bool = False,
                 hidden: int = 128, dropout: float = 0.5):
        nn.Module.__init__(self)  # no 2D trunk: it is inflated instead
        base = resnet(backbone, weights, weights_fallback)
        self.normalize = Normalize()
        self.cnn = inflate(trunk(base))  # (B, 3, T, S, S) -> (B, C, T/4, S/32, S/32)
        self.cnn_channels = trunk_channels(base)
        self.head = classifier(self.cnn_channels, hidden, dropout)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.normalize(frames).transpose(1, 2)  # (B, T, 3, S, S) -> (B, 3, T, S, S)
        return self.cnn(x)  # (B, 2048, 4, 7, 7)

    def forward(self, frames: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(global_pool(self.features(frames))).squeeze(1)  # (B,)
