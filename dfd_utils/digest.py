"""SHA-256 of tensors' exact values: what a run trains on, and which trunk made a split's features.

Two runs, or a run and a file kept from an earlier one, match only when every byte,
shape and dtype of their tensors does; the digest is what they compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def tensor_digest(*tensors: torch.Tensor | None, names: Sequence[str] = ()) -> str:
    """SHA-256 of ``tensors`` in order (each one's shape, dtype and bytes; ``None`` counts too), with ``names``
    (a state dict's keys) hashed before the tensor they name."""
    h = hashlib.sha256()
    for i, t in enumerate(tensors):
        if i < len(names):
            h.update(names[i].encode())
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()
