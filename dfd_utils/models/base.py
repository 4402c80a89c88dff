"""What every detector declares, so one training loop and one CLI serve all five."""

from __future__ import annotations

from torch import nn

from dfd_utils.models.backbone import Normalize, build_backbone, normalization, trunk, trunk_channels


class Detector(nn.Module):
    """A deepfake detector: batches in, one logit per sample out (FAKE = 1).

    Subclasses set:
      table       the paper's table it implements
      input_view  "frame" (a bag of frames), "frame_flow" (frame + flow pairs) or "video"
      uses_flow   whether it reads optical flow
      three_d     whether it reads the square 3D-CNN frames
      level       "frame" or "video": what one logit scores
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
