"""Where and in what precision a model runs: the device, bf16/fp16 autocast, memory format.

Kept apart from the training loop because the answer depends on the machine, not on
the study: a CPU with AVX512-BF16 or AMX units trains 1.6-2x faster in bf16, one
with AVX2 only must stay in fp32, and the same profile has to work on both.
"""

from __future__ import annotations

import logging
import platform
from contextlib import nullcontext
from functools import cache
from pathlib import Path

import torch

from dfd_utils.models import Detector

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no GPU; set device: cpu or auto")
    return torch.device(device)


def _x86_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())


@cache
def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 natively (x86: AVX512-BF16 or AMX; as oneDNN allows).

    Without native units, bf16 is a trap rather than a speed-up: oneDNN emulates it
    (AVX-512 without BF16) or falls back to reference kernels many times slower than
    fp32 (AVX2), and on AVX2 the bf16 LSTM primitive cannot be built at all.
    ``ONEDNN_MAX_CPU_ISA=AVX2`` makes a capable CPU answer False (the tests use it).
    """
    is_supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if is_supported is None or not is_supported():
        return False
    if platform.machine().lower() in ("x86_64", "amd64", "i686"):
        flags = _x86_flags()
        return not flags or bool(flags & {"avx512_bf16", "amx_bf16"})
    return True


def autocast(device: torch.device, precision: str):
    """The mixed-precision context for a forward pass.

    ``bf16`` on a CPU without native bf16 runs in fp32 (with one warning): the same
    profile then works on every machine, fast where the hardware allows.
    """
    if precision == "fp32":
        return nullcontext()
    if precision == "bf16":
        if device.type == "cpu" and not cpu_has_bf16():
            _warn_once("this CPU has no native bf16 units (AVX512-BF16 or AMX): running in fp32")
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError("precision fp16 needs CUDA; use bf16 on CPU")
        return torch.autocast("cuda", dtype=torch.float16)
    raise ValueError(f"unknown precision {precision!r}; expected fp32, bf16 or fp16")


@cache
def _warn_once(message: str) -> None:
    log.warning(message)


def prepare(model: Detector, device: torch.device, channels_last: bool) -> Detector:
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d if model.three_d else torch.channels_last)
    return model
