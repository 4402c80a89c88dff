"""SHA-256 of tensors' exact values: what a run trains on, and which trunk made a split's features.

Two runs, or a run and a file kept from an earlier one, match only when every byte,
shape and dtype of their tensors does; the digest is what they compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

ROWS = 64  # first-axis rows made contiguous at a time


def tensor_digest(*tensors: torch.Tensor | None, names: Sequence[str] = ()) -> str:
    """SHA-256 of ``tensors`` in order (each one's shape, dtype and bytes in C order; ``None`` counts too), with
    ``names`` (a state dict's keys) hashed before the tensor they name.

    Hashed :data:`ROWS` first-axis rows at a time: a split's frames are channels-last views
    of memory-mapped arrays (``dfd_utils.split_arrays``), and making one contiguous whole
    would hold the split in RAM. The C order of the whole is its rows' C orders one after
    the other, so the digest is the same as of the whole.
    """
    h = hashlib.sha256()
    for i, t in enumerate(tensors):
        if i < len(names):
            h.update(names[i].encode())
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        rows = t.reshape(1, -1) if t.dim() == 0 else t  # a scalar: one row of one value
        for start in range(0, len(rows) if t.numel() else 0, ROWS):
            h.update(rows[start:start + ROWS].contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()
