"""A frozen pretrained trunk: every frame's features computed once, then only the layers after the trunk train.

On a CPU the pretrained trunk's forward and backward passes are nearly all of a
training step. Frozen (``train.trunk: frozen``), the trunk gives the same features
for a frame in every epoch, so they are computed once per split (one forward pass,
in fp32, the trunk in eval mode) and training runs only :meth:`Detector.classify`:
the linear layers, the LSTM and the flow stream, which still learn from scratch.
The features are shared by every seed of a model whose trunk starts from the same
pretrained weights, which is what makes several seeds per model affordable.

What a frozen trunk gives up: fine-tuned (the paper does not say whether it did), features
could adapt to deepfake artifacts; frozen, a detector can only combine ImageNet's
features (and the 3D CNN's inflated kernels stay time averages of ImageNet's 2D
kernels, but for its last blocks: ``models.cnn3d.train_blocks``). ``train.trunk:
finetune`` trains every weight (the ``paper`` profile); the book's errata says which
the demo uses and why.

Features are tied to the trunk that made them: a split carries the digest of that
trunk's weights, and :func:`features_fit` refuses features from another trunk, so
a fine-tuned model can never be scored on stale features.

Four of the five detectors (baseline, both two-stream models, CNN-RNN) share one
trunk and read the same frames, so with a store folder (:class:`FeatureCache`) the
features are also kept on disk between stages and chapters, one file per video, named
by the digest of everything that made it (:func:`feature_key`): the trunk's weights,
the models' code, the video's bytes, the torch build, CPU kernels and threads. A file
is reused only under its exact key and while its bytes are those whose SHA-256 was sealed
beside it when written (``dfd_utils.kept``: zeroed features keep their shape and dtype);
anything else is computed afresh, a changed file with a WARNING naming it. One file per
video (not per split) lets sets that share videos share their features: the
families chapter's three sets hold the same reals.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path

import torch

from dfd_utils.datasets import SplitData
from dfd_utils.digest import tensor_digest
from dfd_utils.io import save_torch_atomic
from dfd_utils.kept import seal, warn, why_unsealed
from dfd_utils.models import Detector
from dfd_utils.provenance import module_version

log = logging.getLogger(__name__)
MODELS_CODE = Path(__file__).resolve().parent / "models"  # the code of every trunk and its pooling


def trunk_digest(model: Detector) -> str:
    """SHA-256 of the trunk's weights and buffers (BatchNorm statistics included), with their names.

    Asked for at every step that checks a split's features against the model (a dozen times a training run), so
    the digest is kept on the model beside the storage and version counter of each tensor: any write to one of them
    (an optimiser step, ``load_state_dict``, BatchNorm statistics, another tensor put in its place) changes the key.
    """
    state = sorted(model.cnn.state_dict().items())
    key = tuple((name, t.data_ptr(), t._version) for name, t in state)
    memo = model.__dict__.get("_trunk_digest_memo")
    if memo is not None and memo[0] == key:
        return memo[1]
    value = tensor_digest(*(t for _, t in state), names=[name for name, _ in state])
    model.__dict__["_trunk_digest_memo"] = (key, value)
    return value


BLOCK = 64  # videos read from the split at a time to compute what the store lacks
PER_PASS = {False: 1, True: 4}  # videos per forward pass: one video's frames (2D), four clips (3D), always full


@torch.no_grad()
def videos_features(model: Detector, videos: torch.Tensor) -> list[torch.Tensor]:
    """Each video's features: ``(T, C)`` for its ``(T, 3, H, W)`` frames, ``(C,)`` for its ``(T, 3, S, S)`` clip.

    ``videos``: ``(N, T, ...)`` uint8. Every forward pass holds exactly :data:`PER_PASS`
    videos, the last one padded with black ones: a convolution's algorithm, and so its
    last bits, can depend on the batch size, never on the other samples in the batch, so
    a video gets the same features whichever videos it was computed with or whether its
    neighbours came from the store (tested). Measured on a 2-core CPU with EfficientNet-Lite0
    in channels_last: 2D, one video's 16 frames a pass as fast as 32 and faster than 64
    (0.11-0.15 s a video against 0.14); 3D, 2 or 4 clips a pass 0.05-0.07 s a clip, 8
    clips 0.06-0.08 and one clip several times slower, so clips go four at a time.
    """
    device = next(model.parameters()).device
    per_pass = PER_PASS[model.three_d]
    out = []
    for start in range(0, len(videos), per_pass):
        chunk = videos[start:start + per_pass].contiguous()  # (n, T, ...), n <= per_pass: one layout, whatever the
        # source's (a memory-mapped split is a channels-last view), so the kernels are the same ones every time
        n = len(chunk)
        if n < per_pass:  # padded to the fixed batch, the padding's output dropped
            chunk = torch.cat([chunk, chunk.new_zeros((per_pass - n, *chunk.shape[1:]))])
        batch = chunk if model.three_d else chunk.flatten(0, 1)  # (P, T, 3, S, S) clips or (P*T, 3, H, W) frames
        features = model.pooled(batch.to(device)).float().cpu()  # (P, C) or (P*T, C)
        if not model.three_d:
            features = features.view(per_pass, videos.shape[1], -1)  # (P, T, C)
        out.extend(features[:n])
    return out


def model_inputs(model: Detector, data: SplitData) -> torch.Tensor:
    """What the trunk reads: ``(V, T, 3, S, S)`` clips for the 3D CNN, else ``(V, T, 3, H, W)`` frames (uint8)."""
    inputs = data.frames3d if model.three_d else data.frames
    if inputs is None:
        kind = "3D clips" if model.three_d else "frames"
        raise ValueError(f"the split holds no {kind} for the {type(model).__name__}")
    return inputs


@torch.no_grad()
def with_features(model: Detector, data: SplitData) -> SplitData:
    """``data`` with ``features``: the trunk's pooled features of every frame ``(V, T, C)``, or clip ``(V, C)``.

    Computed in fp32 with the trunk in eval mode, as the trained model will later
    score raw frames, so a frozen model gives the same probabilities either way.
    """
    was_training = model.training
    model.eval()
    features = torch.stack(videos_features(model, model_inputs(model, data)))  # (V, T, C) or (V, C)
    model.train(was_training)
    return replace(data, features=features, features_of=trunk_digest(model))


def features_fit(model: Detector, data: SplitData) -> bool:
    """Whether ``data`` holds features of exactly this model's trunk (frame or 3D input alike)."""
    return data.features is not None and data.features_of == trunk_digest(model)


def trunk_context(model: Detector, trunk: str) -> str:
    """SHA-256 of everything a video's features depend on besides the video itself.

    ``trunk``: :func:`trunk_digest` of the model. Also the source of ``dfd_utils/models``
    and of this module (the trunk's, the pooling's and this pass's code), the normalisation
    applied before the trunk, torch's and torchvision's versions, the CPU kernels (AVX2 or
    AVX-512 round differently, and oneDNN's ISA cap), the thread count, the device (on a
    GPU: its name, cuDNN and TF32) and the trunk's memory format.
    """
    h = hashlib.sha256()
    for source in (*sorted(MODELS_CODE.glob("*.py")), Path(__file__)):  # the trunk's code and this pass's
        h.update(source.name.encode() + source.read_bytes())
    conv = next(p for p in model.cnn.parameters() if p.dim() in (4, 5))  # a 2D or an inflated 3D kernel
    channels_last = torch.channels_last if conv.dim() == 4 else torch.channels_last_3d
    gpu = (torch.cuda.get_device_name(conv.device), torch.backends.cudnn.version(),
           torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) if conv.is_cuda else ()
    facts = (trunk, type(model).pooled.__qualname__, model.three_d,
             torch.__version__, module_version("torchvision"), torch.backends.cpu.get_cpu_capability(),
             os.environ.get("ONEDNN_MAX_CPU_ISA", ""), torch.get_num_threads(), str(conv.device), gpu,
             conv.is_contiguous(memory_format=channels_last) and not conv.is_contiguous(),
             tensor_digest(*model.normalize.buffers()))  # the mean and std applied before the trunk
    h.update(repr(facts).encode())
    return h.hexdigest()


def feature_key(context: str, video: torch.Tensor) -> str:
    """The name of one video's stored features: :func:`trunk_context` and the video's bytes, shape and dtype."""
    return hashlib.sha256((context + tensor_digest(video)).encode()).hexdigest()


class FeatureCache:
    """Featured splits per trunk: seeds whose trunks start from the same weights compute the features once.

    With ``store``, each video's features are also kept there as ``<feature_key>.pt``,
    so any later stage or chapter that shows the same trunk the same video loads them
    instead of running the trunk again: the models of one split, and a video shared by
    several sets (the families' reals are the same originals).
    """

    def __init__(self, store: str | Path | None = None):
        self.store = Path(store) if store is not None else None
        self._by_trunk: dict[tuple, dict[str, SplitData]] = {}

    def __call__(self, model: Detector, data: dict[str, SplitData]) -> dict[str, SplitData]:
        """``data`` with features, for ``model``'s trunk. In memory the result is kept per trunk and per set of
        splits (their videos, in order): the seeds of one model on one split share it, a seed on its own split
        (:mod:`dfd_utils.resplit`) gets its own, read from the store."""
        trunk = trunk_digest(model)
        key = (trunk, tuple((split, tuple(d.videos)) for split, d in data.items()))
        if key not in self._by_trunk:
            self._by_trunk[key] = {split: self._featured(model, d, trunk, split) for split, d in data.items()}
        return self._by_trunk[key]

    def _featured(self, model: Detector, data: SplitData, trunk: str, split: str) -> SplitData:
        if self.store is None:
            return with_features(model, data)
        was_training = model.training
        model.eval()
        context = trunk_context(model, trunk)
        inputs = model_inputs(model, data)  # (V, T, 3, H, W) or (V, T, 3, S, S) uint8
        paths = [self.store / f"{feature_key(context, video)}.pt" for video in inputs]
        features = [self._load(path, video, model.three_d) for path, video in zip(paths, inputs)]
        missing = [i for i, f in enumerate(features) if f is None]
        for start in range(0, len(missing), BLOCK):  # a block at a time: a memory-mapped split never whole in RAM
            block = missing[start:start + BLOCK]
            for i, computed in zip(block, videos_features(model, inputs[block])):  # (T, C) or (C,) each
                save_torch_atomic(computed.clone(), paths[i])  # its own storage, not a view of the whole batch
                seal(paths[i])  # its SHA-256 beside it: checked before each reuse
                features[i] = computed
        model.train(was_training)
        log.info("%s features: %d of %d videos reused (same trunk, frames and code), %d computed", split,
                 len(inputs) - len(missing), len(inputs), len(missing))
        return replace(data, features=torch.stack(features), features_of=trunk)

    @staticmethod
    def _load(path: Path, video: torch.Tensor, three_d: bool) -> torch.Tensor | None:
        """A stored video's features, or None where there are none to trust (missing, damaged, wrong shape, bytes
        other than those written: ``dfd_utils.kept``)."""
        if not path.is_file():
            return None
        try:
            stored = torch.load(path, weights_only=True)  # (T, C) or (C,) float32
        except Exception as err:  # a truncated or foreign file: never trusted, recomputed
            log.warning("features: %s unreadable (%s): computed afresh", path, err)
            return None
        expected = (1, 4) if three_d else (2,)  # a clip's (C,), or (C', T', h, w) for a 3D CNN's trained tail
        if not isinstance(stored, torch.Tensor) or stored.dim() not in expected or stored.dtype != torch.float32 or (
                not three_d and stored.shape[0] != video.shape[0]):
            log.warning("features: %s holds %s, not one video's: computed afresh", path,
                        tuple(stored.shape) if isinstance(stored, torch.Tensor) else type(stored).__name__)
            return None
        why = why_unsealed(path)  # same shape and dtype, other values (zeroed, edited): the digest tells
        if why is not None:
            warn(path, why, "its features computed afresh")
            return None
        return stored
