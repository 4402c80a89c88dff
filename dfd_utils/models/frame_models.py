"""The per-frame detectors: the 2D baseline and the two-stream CNN per frame."""

from __future__ import annotations

import torch
from torch import nn

from dfd_utils.models.base import Detector
from dfd_utils.models.layers import FlowCNN, classifier


class Baseline(Detector):
    """Table 2: ResNet50 -> global average pool -> linear layers -> 1 logit per frame.

    On 108x192 ResNet50 gives (4, 6, 2048), not the table's (7, 7, 2048) (see errata).
    """

    table = "Table 2"
    input_view = "frame"

    def __init__(self, hidden: int = 128, dropout: float = 0.5, **backbone):
        super().__init__(**backbone)
        self.head = classifier(self.cnn_channels, hidden, dropout)

    def classify(self, features: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(features).squeeze(1)  # (B, 2048) (ResNet50's (B, 2048, 4, 6) pooled) -> (B,)


class TwoStreamFrame(Detector):
    """Table 3 (missing from the paper; built from Table 4's two streams), per frame.

    spatial:  frame (3, 108, 192) -> ResNet50 -> GAP 2048 -> linear 128
    temporal: flow  (2, 108, 192) -> 2x(conv3x3 + maxpool2) -> (64, 25, 46) = 73,600 -> linear 128
    fusion:   concat 256 -> linear layers -> 1 logit per frame
    """

    table = "Table 3 (reconstructed)"
    input_view = "frame_flow"
    uses_flow = True

    def __init__(self, hidden: int = 128, dropout: float = 0.5, height: int = 108, width: int = 192,
                 flow_scale: float = 1.0, flow_pool: int = 1, **backbone):
        super().__init__(**backbone)
        self.spatial = nn.Sequential(nn.Linear(self.cnn_channels, hidden), nn.ReLU(inplace=True))
        self.temporal = FlowCNN(height, width, hidden, flow_scale, flow_pool)
        self.head = classifier(2 * hidden, hidden, dropout)

    def classify(self, features: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        s = self.spatial(features)  # (B, 2048) -> (B, 128)
        t = self.temporal(flows)  # (B, 2, 108, 192) -> (B, 128)
        return self.head(torch.cat([s, t], dim=1)).squeeze(1)  # (B,)
