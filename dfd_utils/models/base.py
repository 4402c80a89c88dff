"""What every detector declares, so one training loop and one CLI serve all five."""

from __future__ import annotations

import torch
from torch import nn

from dfd_utils.models.backbone import Normalize, build_backbone, global_pool, normalization, trunk, trunk_channels


class Detector(nn.Module):
    """A deepfake detector: batches in, one logit per sample out (FAKE = 1).

    Subclasses set:
      table       the paper's table it implements
      input_view  "frame" (a bag of frames), "frame_flow" (frame + flow pairs) or "video"
      uses_flow   whether it reads optical flow
      three_d     whether it reads the square 3D-CNN frames
      level       "frame" or "video": what one logit scores

    and split ``forward`` in two at the pretrained trunk: :meth:`pooled` (the trunk's
    globally pooled features) and :meth:`classify` (everything after it). A frozen
    trunk (``train.trunk: frozen``) computes ``pooled`` once per frame and trains
    ``classify`` alone (``dfd_utils.features``); ``forward`` is the two in a row.
    """

    table = ""
    input_view = "frame"
    uses_flow = False
    three_d = False
    level = "frame"

    def __init__(self, backbone: str = "resnet50", weights=None, weights_fallback: bool = False):
        super().__init__()
        base = build_backbone(backbone, weights, weights_fallback)
        self.normalize = Normalize(*normalization(backbone))  # the mean and std the backbone's weights expect
        self.cnn = trunk(base)  # (B, 3, H, W) -> (B, C, H/32, W/32)
        self.cnn_channels = trunk_channels(base)

    def pooled(self, frames: torch.Tensor) -> torch.Tensor:
        """The trunk's pooled features of every frame: ``(..., 3, H, W)`` uint8 -> ``(..., C)``."""
        lead = frames.shape[:-3]
        x = self.cnn(self.normalize(frames.reshape(-1, *frames.shape[-3:])))  # (N, C, H/32, W/32)
        return global_pool(x).view(*lead, -1)  # (..., C)

    def classify(self, features: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from :meth:`pooled`'s features (and the flows for two-stream models)."""
        raise NotImplementedError

    def forward(self, frames: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify(self.pooled(frames), flows)
