"""Training throughput of each detector: plain fp32 vs bf16 autocast + channels_last.

Both settings run in the same process on the same inputs, so the ratio is fair.
Reports samples/s (frames for per-frame models, clips for whole-video models),
and the output difference of the two settings as a sanity check.

    python benchmarks/bench_models.py                       # resnet18, the CPU profiles' backbone
    python benchmarks/bench_models.py --backbone resnet50 --models baseline
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dfd_utils.models import build_model
from dfd_utils.precision import autocast, prepare


def inputs(name: str, batch: int, size_3d: int):
    if name in ("baseline", "two_stream_frame"):
        x = torch.randint(0, 256, (batch, 3, 108, 192), dtype=torch.uint8)
        return x, torch.randn(batch, 2, 108, 192) if name == "two_stream_frame" else None
    if name == "cnn3d":
        return torch.randint(0, 256, (batch, 16, 3, size_3d, size_3d), dtype=torch.uint8), None
    x = torch.randint(0, 256, (batch, 16, 3, 108, 192), dtype=torch.uint8)
    return x, torch.randn(batch, 16, 2, 108, 192) if name == "two_stream_video" else None


def throughput(name, backbone, precision, channels_last, batch, steps, size_3d) -> float:
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = prepare(build_model(name, backbone=backbone), device, channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, f = inputs(name, batch, size_3d)
    y = torch.randint(0, 2, (batch,)).float()
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            start = time.perf_counter()
        with autocast(device, precision):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, f).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--models", nargs="+", default=["baseline", "two_stream_frame", "two_stream_video", "cnn_rnn",
                                                   "cnn3d"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--size-3d", type=int, default=112)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    rows = {}
    print(f"{'model':18s} {'unit':6s} {'fp32':>8s} {'bf16+CL':>8s} {'ratio':>6s}   (backbone {args.backbone}, "
          f"{torch.get_num_threads()} threads)")
    for name in args.models:
        batch = 16 if name in ("baseline", "two_stream_frame") else 4  # the paper's batch sizes
        unit = "img/s" if batch == 16 else "clip/s"
        fp32 = throughput(name, args.backbone, "fp32", False, batch, args.steps, args.size_3d)
        fast = throughput(name, args.backbone, "bf16", True, batch, args.steps, args.size_3d)
        rows[name] = {"unit": unit, "fp32": fp32, "bf16_channels_last": fast, "ratio": fast / fp32}
        print(f"{name:18s} {unit:6s} {fp32:8.1f} {fast:8.1f} {fast / fp32:6.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
