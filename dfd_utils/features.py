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

Four of the five detectors (baseline, both two-stream models, CNN-RNN) share one
trunk and read the same frames, so with a store folder (:class:`FeatureCache`) the
features are also kept on disk between stages and chapters, each file named by the
digest of everything that made it (:func:`feature_key`): the trunk's weights, the
models' code, the frames' bytes, the torch build, CPU kernels and threads. A file is
reused only under its exact key; anything else is computed afresh.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path

import torch
import torchvision

from dfd_utils.datasets import SplitData
from dfd_utils.digest import tensor_digest
from dfd_utils.io import atomic_path
from dfd_utils.models import Detector

log = logging.getLogger(__name__)
MODELS_CODE = Path(__file__).resolve().parent / "models"  # the code of every trunk and its pooling
BATCH = 64  # frames per forward pass: part of a stored file's key (a batch size can move the last bits)


def trunk_digest(model: Detector) -> str:
    """SHA-256 of the trunk's weights and buffers (BatchNorm statistics included), with their names."""
    state = sorted(model.cnn.state_dict().items())
    return tensor_digest(*(t for _, t in state), names=[name for name, _ in state])


@torch.no_grad()
def with_features(model: Detector, data: SplitData, batch_size: int = BATCH) -> SplitData:
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


def feature_key(model: Detector, data: SplitData, trunk: str) -> str:
    """SHA-256 of everything the features of ``data`` under ``model``'s trunk depend on.

    ``trunk``: :func:`trunk_digest` of the model. Also the source of ``dfd_utils/models``
    and of this module (the trunk's, the pooling's and this pass's code), the normalisation
    applied before the trunk, the input tensor's bytes and shape, the batch size, torch's
    and torchvision's versions, the CPU kernels (AVX2 or AVX-512 round differently, and
    oneDNN's ISA cap), the thread count, the device (on a GPU: its name, cuDNN and TF32)
    and the trunk's memory format: the same key means the same computation.
    """
    inputs = data.frames3d if model.three_d else data.frames  # uint8
    if inputs is None:
        raise ValueError("feature_key: the split holds no frames for this model")
    h = hashlib.sha256()
    for source in (*sorted(MODELS_CODE.glob("*.py")), Path(__file__)):  # the trunk's code and this pass's
        h.update(source.name.encode() + source.read_bytes())
    conv = next(p for p in model.cnn.parameters() if p.dim() in (4, 5))  # a 2D or an inflated 3D kernel
    channels_last = torch.channels_last if conv.dim() == 4 else torch.channels_last_3d
    gpu = (torch.cuda.get_device_name(conv.device), torch.backends.cudnn.version(),
           torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) if conv.is_cuda else ()
    facts = (trunk, type(model).pooled.__qualname__, model.three_d, tuple(inputs.shape), str(inputs.dtype), BATCH,
             torch.__version__, torchvision.__version__, torch.backends.cpu.get_cpu_capability(),
             os.environ.get("ONEDNN_MAX_CPU_ISA", ""), torch.get_num_threads(), str(conv.device), gpu,
             conv.is_contiguous(memory_format=channels_last) and not conv.is_contiguous(),
             tensor_digest(*model.normalize.buffers()))  # the mean and std applied before the trunk
    h.update(repr(facts).encode())
    h.update(tensor_digest(inputs).encode())
    return h.hexdigest()


class FeatureCache:
    """Featured splits per trunk: seeds whose trunks start from the same weights compute the features once.

    With ``store``, each split's features are also kept there as ``<feature_key>.pt``,
    so later stages and chapters that read the same frames through the same trunk load
    them instead of running the trunk again.
    """

    def __init__(self, store: str | Path | None = None):
        self.store = Path(store) if store is not None else None
        self._by_trunk: dict[str, dict[str, SplitData]] = {}

    def __call__(self, model: Detector, data: dict[str, SplitData]) -> dict[str, SplitData]:
        trunk = trunk_digest(model)
        if trunk not in self._by_trunk:
            self._by_trunk[trunk] = {split: self._featured(model, d, trunk, split) for split, d in data.items()}
        return self._by_trunk[trunk]

    def _featured(self, model: Detector, data: SplitData, trunk: str, split: str) -> SplitData:
        if self.store is None:
            return with_features(model, data)
        path = self.store / f"{feature_key(model, data, trunk)}.pt"
        if path.is_file():
            try:
                features = torch.load(path, weights_only=True)  # (V, T, C) or (V, C) float32
                lead = 1 if model.three_d else 2  # (V,) clips or (V, T) frames
                inputs = data.frames3d if model.three_d else data.frames
                if features.shape[:lead] == inputs.shape[:lead]:
                    log.info("%s features: reused %s (same trunk, frames and code)", split, path.name[:12])
                    return replace(data, features=features, features_of=trunk)
                log.info("%s features: %s has shape %s: computed afresh", split, path, tuple(features.shape))
            except Exception as err:  # a truncated or foreign file: never trusted, recomputed
                log.info("%s features: %s unreadable (%s): computed afresh", split, path, err)
        featured = with_features(model, data)
        with atomic_path(path) as tmp:
            torch.save(featured.features, tmp)
        return featured
