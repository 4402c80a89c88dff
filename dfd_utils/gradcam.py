"""Grad-CAM (Selvaraju et al. 2017) on a detector's last convolutional block.

The heat at a location is the ReLU of the feature maps weighted by the average
gradient of the FAKE logit: where the evidence for FAKE is. For the 3D CNN the
maps have a time axis too, so the heat moves over the clip (the paper's Figure 3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dfd_utils.models import Detector


def gradcam(model: Detector, frames: torch.Tensor, flows: torch.Tensor | None = None) -> torch.Tensor:
    """Heatmaps in [0, 1] at input resolution, one per input frame.

    ``frames``: one sample as the model takes it without the batch axis: ``(3, H, W)``
    for frame models, ``(T, 3, H, W)`` for video models. Returns ``(H, W)`` or ``(T, H, W)``.
    """
    model.eval()
    trunk = model.tail if len(getattr(model, "tail", ())) else model.cnn  # the 3D CNN's trained tail, if any
    layer = trunk[-1]  # the trunk's last block (ResNet layer4, EfficientNet-Lite head) or its 3D copy
    store = {}
    handle_f = layer.register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    handle_b = layer.register_full_backward_hook(lambda m, gi, go: store.__setitem__("grad", go[0]))
    try:
        x = frames.unsqueeze(0)
        f = flows.unsqueeze(0).float() if flows is not None else None
        model.zero_grad(set_to_none=True)
        with torch.enable_grad():
            logit = model(x, f)
            logit.sum().backward()
    finally:
        handle_f.remove()
        handle_b.remove()
    act, grad = store["act"].detach().float(), store["grad"].detach().float()
    if act.dim() == 5:  # 3D: (1, C, T', h, w)
        weights = grad.mean(dim=(2, 3, 4), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))  # (1, 1, T', h, w)
        size = (x.shape[1], x.shape[-2], x.shape[-1])
        cam = F.interpolate(cam, size=size, mode="trilinear", align_corners=False)[0, 0]  # (T, H, W)
    else:  # 2D: (N, C, h, w), N = 1 or T frames
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))  # (N, 1, h, w)
        cam = F.interpolate(cam, size=frames.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        cam = cam[0] if frames.dim() == 3 else cam  # (H, W) or (T, H, W)
    peak = cam.amax()
    return cam / peak if peak > 0 else cam
