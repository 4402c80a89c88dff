"""Training throughput of each detector: plain fp32, fp32 + channels_last and bf16 autocast + channels_last.

All settings run in the same process on the same inputs, so the ratios are fair.
Reports samples/s (frames for per-frame models, clips for whole-video models),
and the output difference of the two settings as a sanity check.

    python benchmarks/bench_models.py                       # resnet18, the CPU profiles' backbone
    python benchmarks/bench_models.py --backbone resnet50 --models baseline
    python benchmarks/bench_models.py --backbone resnet18 efficientnet_lite0 --models baseline cnn3d

Several backbones run one after the other, model by model, so each pair is measured
under the same machine load. Each figure is the best of ``--repeats`` timings.
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


def throughput(name, backbone, precision, channels_last, batch, steps, size_3d, repeats: int = 1) -> float:
    """Training samples per second: forward, backward and an Adam step; the best of ``repeats`` timings."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = prepare(build_model(name, backbone=backbone), device, channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, f = inputs(name, batch, size_3d)
    y = torch.randint(0, 2, (batch,)).float()

    def step():
        with autocast(device, precision):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, f).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up
        step()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, batch * steps / (time.perf_counter() - start))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", nargs="+", default=["resnet18"], help="one or more of settings.BACKBONES")
    p.add_argument("--models", nargs="+", default=["baseline", "two_stream_frame", "two_stream_video", "cnn_rnn",
                                                   "cnn3d"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1, help="timings of --steps steps each; the best is kept")
    p.add_argument("--size-3d", type=int, default=112)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    rows = {}
    print(f"{'model':18s} {'backbone':18s} {'unit':6s} {'fp32':>8s} {'fp32+CL':>8s} {'bf16+CL':>8s} {'ratio':>6s}   "
          f"({torch.get_num_threads()} threads, size_3d {args.size_3d}, {args.steps} steps x {args.repeats})")
    for name in args.models:
        batch = 16 if name in ("baseline", "two_stream_frame") else 4  # the paper's batch sizes
        unit = "img/s" if batch == 16 else "clip/s"
        for backbone in args.backbone:
            fp32 = throughput(name, backbone, "fp32", False, batch, args.steps, args.size_3d, args.repeats)
            fp32_cl = throughput(name, backbone, "fp32", True, batch, args.steps, args.size_3d, args.repeats)
            fast = throughput(name, backbone, "bf16", True, batch, args.steps, args.size_3d, args.repeats)
            row = {"unit": unit, "fp32": fp32, "fp32_channels_last": fp32_cl, "bf16_channels_last": fast,
                   "ratio": fast / fp32}  # ratio: bf16 + channels_last over plain fp32
            rows.setdefault(backbone, {})[name] = row
            print(f"{name:18s} {backbone:18s} {unit:6s} {fp32:8.1f} {fp32_cl:8.1f} {fast:8.1f} {fast / fp32:6.2f}x",
                  flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
