"""Building blocks the detectors share: the flow CNN and the classifier head."""

from __future__ import annotations

import torch
from torch import nn


class FlowCNN(nn.Module):
    """The temporal stream of Tables 3-4: two blocks of 3x3 conv + 2x2 max-pool.

    ``(B, 2, 108, 192) -> (B, 64, 25, 46) -> (B, 73600) -> (B, out_features)``.
    Unpadded convolutions give exactly the paper's 25x46: 108-2=106, /2=53, -2=51, /2=25;
    192-2=190, /2=95, -2=93, /2=46.

    ``pool > 1`` averages the flow over ``pool x pool`` blocks first (not in the paper):
    the stream then costs about ``1/pool**2`` as much, which is what a CPU study can
    afford for several seeds; ``pool=2`` gives ``(64, 12, 22)``. Optical flow is smooth,
    so averaging keeps most of its motion; the errata says where the demo uses it.
    """

    def __init__(self, height: int = 108, width: int = 192, out_features: int = 128, flow_scale: float = 1.0,
                 pool: int = 1):
        super().__init__()
        self.flow_scale = flow_scale
        self.pool = nn.AvgPool2d(pool) if pool > 1 else nn.Identity()
        height, width = height // pool, width // pool
        self.features = nn.Sequential(
            nn.Conv2d(2, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.feature_shape = (64, ((height - 2) // 2 - 2) // 2, ((width - 2) // 2 - 2) // 2)  # (64, 25, 46)
        flat = self.feature_shape[0] * self.feature_shape[1] * self.feature_shape[2]  # 73,600
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(flat, out_features), nn.ReLU(inplace=True))

    def forward(self, flow: torch.Tensor) -> torch.Tensor:  # (B, 2, H, W)
        x = self.features(self.pool(flow.float() / self.flow_scale))  # (B, 64, 25, 46) at pool 1
        return self.project(x)  # (B, out_features)


def classifier(in_features: int, hidden: int = 128, dropout: float = 0.5) -> nn.Sequential:
    """The "Linear Layers" of the tables: in -> hidden -> 1 logit (REAL 0 / FAKE 1)."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, 1))
