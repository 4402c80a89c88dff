"""A frozen pretrained trunk: every frame's features computed once, then only the layers after the trunk train.

On a CPU the pretrained trunk's forward and backward passes are nearly all of a
training step. Frozen (``train.trunk: frozen``), the trunk gives the same features
for a frame in every epoch, so they are computed once per split (one forward pass,
in fp32, the trunk in eval mode) and training runs only :meth:`Detector.classify`:
the linear layers, the LSTM and the flow stream, which still learn from scratch.
The features are shared by every seed of a model whose trunk starts from the same
pretrained weights, which is what makes several seeds per model affordable.

What a frozen trunk gives up: the paper fine-tuned its backbones, so their features
could adapt to deepfake artifacts; frozen, a detector can only combine ImageNet's
features (and the 3D CNN's inflated kernels stay time averages of ImageNet's 2D
kernels). ``train.trunk: finetune`` restores the paper's training (the ``paper``
profile); the book's errata says which the demo uses and why.

Features are tied to the trunk that made them: a split carries the digest of that
trunk's weights, and :func:`features_fit` refuses features from another trunk, so
a fine-tuned model can never be scored on stale features.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import torch

from dfd_utils.datasets import SplitData
from dfd_utils.models import Detector


def trunk_digest(model: Detector) -> str:
    """SHA-256 of the trunk's weights and buffers (BatchNorm statistics included)."""
    h = hashlib.sha256()
    for name, t in sorted(model.cnn.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()


@torch.no_grad()
def with_features(model: Detector, data: SplitData, batch_size: int = 64) -> SplitData:
    """``data`` with ``features``: the trunk's pooled features of every frame ``(V, T, C)``, or clip ``(V, C)``.

    Computed in fp32 with the trunk in eval mode, as the trained model will later
    score raw frames, so a frozen model gives the same probabilities either way.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    inputs = data.frames3d if model.three_d else data.frames  # (V, T, 3, S, S) or (V, T, 3, H, W) uint8
    if inputs is None:
        raise ValueError("with_features: the split holds no frames for this model")
    items = inputs if model.three_d else inputs.flatten(0, 1)  # (V, T, 3, S, S) clips or (V*T, 3, H, W) frames
    chunks = [model.pooled(items[i:i + batch_size].to(device)).float().cpu()
              for i in range(0, len(items), batch_size)]
    features = torch.cat(chunks)  # (V, C) or (V*T, C)
    if not model.three_d:
        features = features.view(*inputs.shape[:2], -1)  # (V, T, C)
    model.train(was_training)
    return replace(data, features=features, features_of=trunk_digest(model))


def features_fit(model: Detector, data: SplitData) -> bool:
    """Whether ``data`` holds features of exactly this model's trunk (frame or 3D input alike)."""
    return data.features is not None and data.features_of == trunk_digest(model)


class FeatureCache:
    """Featured splits per trunk: seeds whose trunks start from the same weights compute the features once."""

    def __init__(self):
        self._by_trunk: dict[str, dict[str, SplitData]] = {}

    def __call__(self, model: Detector, data: dict[str, SplitData]) -> dict[str, SplitData]:
        key = trunk_digest(model)
        if key not in self._by_trunk:
            self._by_trunk[key] = {split: with_features(model, d) for split, d in data.items()}
        return self._by_trunk[key]
