"""One rank of N inside the training loop (``train.fit``): what it does that one process does not.

Inside an initialised ``torch.distributed`` process group (``dfd_utils.distributed`` starts
one under torchrun) the loop trains the model wrapped in DDP: a ``DistributedSampler``
seeded with the run's seed (``set_epoch`` each epoch: ``randperm`` seeded ``seed + epoch``,
the same order on every rank) deals each rank positions ``r, r + N, ...`` of the epoch's
order, a per-rank batch of ``global / N``, so one step sees the global batch of one process
and DDP's all-reduce averages the ranks' gradients into its gradient (the losses are means
over equal-sized shares). Each rank reseeds its global RNG every epoch (:func:`rank_seed`:
dropout), so a resumed run draws what a straight one draws with no RNG state saved. Rank 0
alone validates, keeps checkpoints and logs, and tells the others whether to go on; it
alone decides whether a saved run resumes (``dfd_utils.resume``), and the others follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from dfd_utils.config.training import TrainConfig
from dfd_utils.datasets import whole
from dfd_utils.resume import fresh_state, load_last, restore, start_or_resume


def global_batch(cfg: TrainConfig, level: str) -> int:
    return cfg.batch_frames if level == "frame" else cfg.batch_videos


def per_rank_batch(cfg: TrainConfig, level: str, nproc: int) -> int:
    """The global batch of one process split evenly over ``nproc`` ranks; refused when it does not divide."""
    batch = global_batch(cfg, level)
    key = "batch_frames" if level == "frame" else "batch_videos"
    if batch % nproc:
        raise ValueError(f"train.{key} {batch} is not divisible by train.nproc {nproc}: each process takes an equal "
                         "share of the global batch")
    return batch // nproc


def rank_seed(seed: int, rank: int, epoch: int) -> int:
    """The global RNG's seed of one rank in one epoch (dropout): fixed by both, so a resumed run draws the same."""
    return (seed * 1_000_003 + rank * 10_007 + epoch) % (2 ** 63)


class Step(nn.Module):
    """A model's training forward pass as a module, so DDP wraps it: a batch -> logits ``(B,)``."""

    def __init__(self, model: nn.Module, run: Callable[[dict], torch.Tensor]):
        super().__init__()
        self.model, self.run = model, run  # the model a submodule: DDP syncs its parameters

    def forward(self, batch: dict) -> torch.Tensor:
        return self.run(batch)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run's process group, and what it does there."""

    rank: int
    world: int
    device: torch.device  # a GPU rank's own GPU (``torch.cuda.set_device``, done by whoever started the group)

    @classmethod
    def joined(cls, device: torch.device, distributed: bool | None) -> Ranks | None:
        """The ranks this process trains among; None for one process: no process group, ``distributed=False``, or a
        group of one rank when ``distributed`` is left None (the launcher's rank path passes True)."""
        grouped = dist.is_available() and dist.is_initialized()
        if distributed and not grouped:
            raise RuntimeError("distributed training needs an initialised torch.distributed process group")
        if distributed is False or not grouped or (distributed is None and dist.get_world_size() == 1):
            return None
        if device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        return cls(dist.get_rank(), dist.get_world_size(), device)

    @property
    def lead(self) -> bool:
        """Rank 0: it alone validates, writes checkpoints and logs."""
        return self.rank == 0

    def start_or_resume(self, run_dir: Path, made_by: dict, epochs: int, model: nn.Module,
                        optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> tuple[dict, bool]:
        """``resume.start_or_resume`` on rank 0 (which may clear the folder); the others load ``last.pt`` only when it
        resumed, so no rank reads a file rank 0 removes. No RNG state: :func:`rank_seed` reseeds every epoch."""
        state, resumed = start_or_resume(run_dir, made_by, epochs, model, optimizer, scaler, None) if self.lead \
            else (fresh_state(), False)
        resumed = self.agree(resumed)
        if resumed and not self.lead:
            state = restore(load_last(run_dir / "last.pt"), model, optimizer, scaler, None)
        return state, resumed

    def wrap(self, model: nn.Module, run: Callable[[dict], torch.Tensor], trainable: list[nn.Parameter]
             ) -> DistributedDataParallel:
        """The training step in DDP; only what trains takes a gradient (a frozen trunk's are left out of the sync)."""
        for p in model.parameters():
            p.requires_grad_(any(p is q for q in trainable))
        return DistributedDataParallel(Step(model, run), device_ids=[self.device.index]
                                       if self.device.type == "cuda" else None)

    def shares(self, items: Dataset, batch: int, seed: int) -> DataLoader:
        """This rank's share of ``items`` (``datasets.Batched``), ``batch`` per step, in the sampler's order."""
        sampler = DistributedSampler(items, num_replicas=self.world, rank=self.rank, shuffle=True, seed=seed)
        return DataLoader(items, batch_size=batch, sampler=sampler, num_workers=0, collate_fn=whole)

    def epoch(self, shares: DataLoader, epoch: int, seed: int) -> DataLoader:
        """``shares`` in ``epoch``'s order, the global RNG reseeded for this rank and epoch."""
        shares.sampler.set_epoch(epoch)  # the order: randperm seeded seed + epoch, the same on every rank
        torch.manual_seed(rank_seed(seed, self.rank, epoch))
        return shares

    def mean(self, losses: list[float]) -> float:
        """The epoch's training loss: the mean over ranks of each rank's mean batch loss."""
        loss = torch.tensor([float(np.mean(losses))], dtype=torch.float64, device=self.device)  # (1,)
        dist.all_reduce(loss)  # (1,): the sum of the ranks' means
        return float(loss) / self.world

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (whether to go on, whether the run resumed): it alone decided."""
        word = torch.tensor([int(flag)], device=self.device)  # (1,)
        dist.broadcast(word, 0)
        return bool(word.item())
