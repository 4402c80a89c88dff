"""The whole-video detectors built on the 2D CNN: two-stream per video and CNN-RNN."""

from __future__ import annotations

import torch
from torch import nn

from dfd_utils.models.base import Detector
from dfd_utils.models.layers import FlowCNN


class TwoStreamVideo(Detector):
    """Table 4, exactly.

    spatial:  (16, 3, 108, 192) -> ResNet50 (16, 2048, 4, 6) -> GAP (16, 2048) -> linear (16, 128)
              -> flatten (2048) -> linear 512
    temporal: (16, 2, 108, 192) -> conv (16, 64, 25, 46) -> flatten (16, 73600) -> linear (16, 128)
              -> flatten (2048) -> linear 512
    fusion:   concat 1024 -> linear -> 1 logit per video
    """

    table = "Table 4"
    input_view = "video"
    uses_flow = True
    level = "video"

    def __init__(self, num_frames: int = 16, hidden: int = 128, clip_features: int = 512, dropout: float = 0.5,
                 height: int = 108, width: int = 192, flow_scale: float = 1.0, flow_pool: int = 1, **backbone):
        super().__init__(**backbone)
        self.num_frames = num_frames
        self.spatial_frame = nn.Sequential(nn.Linear(self.cnn_channels, hidden), nn.ReLU(inplace=True))
        self.spatial_clip = nn.Sequential(nn.Linear(num_frames * hidden, clip_features), nn.ReLU(inplace=True))
        self.temporal_frame = FlowCNN(height, width, hidden, flow_scale, flow_pool)
        self.temporal_clip = nn.Sequential(nn.Linear(num_frames * hidden, clip_features), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * clip_features, 1))

    def classify(self, features: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        b, t = features.shape[:2]  # (B, 16, 2048): 16 frames' pooled features
        if t != self.num_frames:
            raise ValueError(f"two_stream_video was built for {self.num_frames} frames, got {t}")
        s = self.spatial_clip(self.spatial_frame(features).view(b, -1))  # (B, 16*128=2048) -> (B, 512)
        f = self.temporal_frame(flows.flatten(0, 1))  # (B*16, 128)
        tmp = self.temporal_clip(f.view(b, -1))  # (B, 2048) -> (B, 512)
        return self.head(torch.cat([s, tmp], dim=1)).squeeze(1)  # (B, 1024) -> (B,)


class CnnRnn(Detector):
    """Table 5 (missing from the paper; our reconstruction), the sequential model.

    ResNet50 per frame (16, 2048) -> linear (16, 128) -> LSTM(128 -> 128), one layer,
    reading the frames in order -> last hidden state (128) -> linear -> 1 logit per video.
    Why these choices: 128 keeps the hidden sizes of the other models (the paper kept
    them alike); one unidirectional layer is the classic CNN-LSTM detector (Guera & Delp
    2018) and the last state has seen the whole clip.
    """

    table = "Table 5 (reconstructed)"
    input_view = "video"
    level = "video"

    def __init__(self, hidden: int = 128, lstm_hidden: int = 128, dropout: float = 0.5, **backbone):
        super().__init__(**backbone)
        self.frame_features = nn.Sequential(nn.Linear(self.cnn_channels, hidden), nn.ReLU(inplace=True))
        self.lstm = nn.LSTM(hidden, lstm_hidden, num_layers=1, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(lstm_hidden, 1))

    def classify(self, features: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
        x = self.frame_features(features)  # (B, T, 2048) -> (B, T, 128)
        _, (h, _) = self.lstm(x.float())  # h: (1, B, 128); the LSTM runs in fp32 under autocast
        return self.head(h[-1]).squeeze(1)  # (B,)
