"""The 3D CNN (Table 6): ResNet50 (or EfficientNet-Lite0) inflated to 3D, I3D-style (Carreira & Zisserman 2017).

Every 2D convolution becomes 3D; its ImageNet kernel is repeated along time and
divided by the temporal size, so a clip of identical frames gives exactly the 2D
network's features (the "boring video" check, tested). Grouped and depthwise
convolutions inflate the same way and keep their groups: a depthwise kernel
``(C, 1, kh, kw)`` becomes ``(C, 1, kt, kh, kw) / kt``. Temporal padding replicates
the edge frames instead of adding zeros, which keeps that identity exact at the
clip's ends too. BatchNorm becomes BatchNorm3d with the same statistics; ReLU,
ReLU6 and the EfficientNet's spatial "SAME" padding act per element or on the last
two axes and stay as they are.

Time kernels: a 7x7 kernel (the ResNet stem) gets 5 frames, every other kxk (3x3,
and EfficientNet's 5x5 depthwise) 3 frames, 1x1 stays 1 frame, as in I3D. Three
frames for the 5x5 depthwise kernels, not five, keep each block's temporal reach
like the ResNet's 3x3 blocks; the depthwise convolutions are where an MBConv block
mixes space, so they are where it mixes time too.

Time is downsampled 4x by striding two layers 2 in time (``backbone.time_strided``):
the ResNet's stem conv and max-pool, EfficientNet-Lite0's stem and its first
stride-2 depthwise conv (both where space reaches /2 and /4). So 16 frames of 224x224
become (4, 7, 7, 2048) for ResNet50, Table 6's shape, and (4, 7, 7, 1280) for Lite0.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from dfd_utils.models.backbone import (
    Normalize,
    build_backbone,
    global_pool,
    normalization,
    time_strided,
    trunk,
    trunk_channels,
)
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


class DepthwiseConv3d(nn.Conv3d):
    """A depthwise ``Conv3d`` (``groups == in_channels == out_channels``) computed as ``kt`` depthwise 2D
    convolutions over time-shifted frames, summed.

    The same parameters (state-dict keys and shapes) and the same result as ``nn.Conv3d``, within float
    rounding; only faster: PyTorch's CPU kernels for depthwise 3D convolution, their backward above all, run
    5-15x slower than its 2D depthwise kernels on the inflated EfficientNet's shapes (fp32 and bf16;
    ``benchmarks/bench_models.py`` shows the whole-model effect).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W), already padded in time
        b, c, t = x.shape[:3]
        kt, st = self.kernel_size[0], self.stride[0]
        t_out = (t - kt) // st + 1
        out = None
        for tau in range(kt):  # frame tau, tau + st, ... meet kernel slice tau
            frames = x[:, :, tau:tau + (t_out - 1) * st + 1:st].transpose(1, 2).reshape(b * t_out, c, *x.shape[3:])
            y = F.conv2d(frames, self.weight[:, :, tau], None, self.stride[1:], self.padding[1:], self.dilation[1:],
                         self.groups)
            out = y if out is None else out + y
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1).to(out.dtype)
        return out.view(b, t_out, c, *out.shape[2:]).transpose(1, 2)  # (B, C, T', H', W')


def inflate_conv(conv: nn.Conv2d, time_kernel: int, time_stride: int = 1) -> TimePadded:
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError(f"cannot inflate {conv}: only explicit zero padding is supported")
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels
    cls = DepthwiseConv3d if depthwise else nn.Conv3d
    conv3d = cls(conv.in_channels, conv.out_channels, (time_kernel, *conv.kernel_size),
                 stride=(time_stride, *conv.stride), padding=(0, *conv.padding), dilation=(1, *conv.dilation),
                 groups=conv.groups, bias=conv.bias is not None)
    with torch.no_grad():  # (O, I/groups, kh, kw) -> (O, I/groups, kt, kh, kw) / kt
        conv3d.weight.copy_(conv.weight.unsqueeze(2).repeat(1, 1, time_kernel, 1, 1) / time_kernel)
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    return TimePadded(conv3d, time_kernel // 2)


def inflate_bn(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    bn3d = nn.BatchNorm3d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    bn3d.load_state_dict(bn.state_dict())
    return bn3d.train(bn.training)


def time_kernel(conv: nn.Conv2d) -> int:
    """Frames a 2D kernel gets: 7x7 (the ResNet stem) 5, any other kxk 3, 1x1 1."""
    k = max(conv.kernel_size)
    return 5 if k >= 7 else 3 if k > 1 else 1


def inflate(module: nn.Module, strided: tuple[str, ...] = ("0", "3")) -> nn.Module:
    """A 3D copy of a 2D trunk; the layers named in ``strided`` (``backbone.time_strided``) stride 2 in time.

    The default names a ResNet trunk's stem conv and max-pool.
    """
    module = copy.deepcopy(module)
    unused = set(strided)

    def visit(parent: nn.Module, prefix: str) -> None:
        for name, child in parent.named_children():
            path = f"{prefix}{name}"
            stride = 2 if path in strided else 1
            if isinstance(child, nn.Conv2d):
                new = inflate_conv(child, time_kernel(child), stride)
            elif isinstance(child, nn.BatchNorm2d):
                new = inflate_bn(child)
            elif isinstance(child, nn.MaxPool2d):
                k, s, p = child.kernel_size, child.stride, child.padding
                new = TimePadded(nn.MaxPool3d((3, k, k), (stride, s, s), (0, p, p)), 1)
            else:
                visit(child, f"{path}.")
                continue
            unused.discard(path)
            setattr(parent, name, new)

    visit(module, "")
    if unused:
        raise ValueError(f"inflate: no convolution or pooling layer named {sorted(unused)}")
    return module


def blocks(trunk3d: nn.Sequential) -> list[nn.Module]:
    """The inflated trunk as a list of its blocks, in order: each stage's residual (or MBConv) blocks one by one.

    A ResNet trunk is ``conv1, bn1, relu, maxpool, layer1 .. layer4``: each ``layerN`` gives its bottlenecks; an
    EfficientNet-Lite trunk is ``stem, blocks, head``: ``blocks`` gives its 16 MBConv blocks.
    """
    units: list[nn.Module] = []
    for child in trunk3d.children():  # a stage is a Sequential of blocks, each with layers of its own
        stage = isinstance(child, nn.Sequential) and all(len(list(c.children())) > 1 for c in child.children())
        units.extend(child.children() if stage else [child])
    return units


class Cnn3d(Detector):
    """Table 6: (16, 224, 224, 3) -> inflated ResNet50 -> (4, 7, 7, 2048) -> GAP 2048 -> 1 logit.

    With ``backbone="efficientnet_lite0"``: inflated EfficientNet-Lite0 -> (4, 7, 7, 1280) -> GAP 1280.

    ``train_blocks``: the inflated trunk's last N blocks (:func:`blocks`) are ``tail``, which trains even
    when the trunk is frozen (``train.trunk: frozen`` freezes ``cnn`` only). Frozen whole, the 3D CNN
    trains a head on time-averaged ImageNet kernels pooled over time: it cannot learn a temporal
    filter. Its last blocks' 3D kernels (3 frames for each 3x3 or 5x5 kernel) can: they start as the
    time-average of the 2D kernel and learn to weigh the frames differently, at a cost a CPU affords (on the
    demo's 112x112 clips they run at 4x4x4). 0 keeps today's model exactly (``tail`` empty).
    """

    table = "Table 6"
    input_view = "video"
    three_d = True
    level = "video"

    def __init__(self, backbone: str = "resnet50", weights=None, weights_fallback: bool = False,
                 hidden: int = 128, dropout: float = 0.5, train_blocks: int = 0):
        nn.Module.__init__(self)  # no 2D trunk: it is inflated instead
        base = build_backbone(backbone, weights, weights_fallback)
        self.normalize = Normalize(*normalization(backbone))
        cnn = inflate(trunk(base), time_strided(base))  # (B, 3, T, S, S) -> (B, C, T/4, S/32, S/32)
        if train_blocks:
            units = blocks(cnn)
            if not 0 < train_blocks < len(units):
                raise ValueError(f"train_blocks must be between 0 and {len(units) - 1} for {backbone}, "
                                 f"got {train_blocks}")
            cnn = nn.Sequential(*units[:-train_blocks])
        self.cnn = cnn  # frozen with train.trunk: frozen
        self.tail = nn.Sequential(*units[-train_blocks:]) if train_blocks else nn.Sequential()  # always trains
        self.cnn_channels = trunk_channels(base)
        self.head = classifier(self.cnn_channels, hidden, dropout)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.normalize(frames).transpose(1, 2)  # (B, T, 3, S, S) -> (B, 3, T, S, S)
        return self.tail(self.cnn(x))  # (B, 2048, 4, 7, 7); 1280 channels for EfficientNet-Lite0

    def pooled(self, frames: torch.Tensor) -> torch.Tensor:
        """What the frozen part gives: ``(B, C)`` pooled when nothing trains after it, else its activations
        ``(B, C', T', h, w)`` for ``tail``."""
        x = self.cnn(self.normalize(frames).transpose(1, 2))
        return x if len(self.tail) else global_pool(x)  # (B, T, 3, S, S) -> (B, 2048): one vector per clip

    def classify(self, features: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        if len(self.tail):
            features = global_pool(self.tail(features))  # (B, C', T', h, w) -> (B, C)
        return self.head(features).squeeze(1)  # (B, 2048) -> (B,)
