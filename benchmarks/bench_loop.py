"""The training loop's throughput against the model's own: how much the loop adds to forward, backward and step.

For each detector and trunk mode (``finetune``: the whole network trains on frames;
``frozen``: only ``Detector.classify`` trains, on a frozen trunk's features), on a
synthetic in-memory split of the demo's shapes, two things are timed in one process,
interleaved (model, loop, model, loop, ...), on identical batch shapes:

* **model**: batches built beforehand by the loop's own ``loader`` and already on the
  device, in the dtype and memory format the loop hands the model; timed: forward
  (under the loop's autocast), the loop's loss, ``zero_grad``, ``backward`` and the
  loop's optimiser step (Adam over ``train.trainable_parameters``);
* **loop**: ``train.train_epoch(model, loader(...), loss_fn, optimizer, scaler, device,
  precision)`` over the same number of batches, a fresh loader per epoch of the
  synthetic split, as ``train._run_epochs`` does (validation and checkpoints excluded).

Items are frames for the per-frame models (batches of 16) and clips for the whole-video
models (batches of 4). Warm-up steps are not timed; each figure is the median of
``--repeats`` timings of the same number of batches, as many as fill about ``--seconds``
(counted from the model's untimed steps: a frozen trunk's heads step in about a
millisecond, a fine-tuned video model in seconds; ``--steps`` fixes it), and ``ratio`` is
the median of the per-repeat ratios loop/model (each pair measured back to back, so a change in the machine's load
hits both). A frozen trunk's features are random numbers of the trunk's output shape:
the heads time the same on any values, and no trunk pass over the whole split is needed.

    python benchmarks/bench_loop.py                              # all five, both modes, ~3 min on 2 cores
    python benchmarks/bench_loop.py --trunk frozen --json loop.json
    python benchmarks/bench_loop.py --models baseline cnn3d --backbone resnet18 --steps 4 --repeats 5

Measured (EfficientNet-Lite0, random weights, fp32 + channels_last, 48 synthetic videos;
a 2-core CPU with avx2 avx512_bf16 amx_bf16, shared with other jobs, so figures move
between runs; the ratios are the per-pair medians). ``python benchmarks/bench_loop.py``,
3 min 6 s; the baseline's rows from ``--models baseline --repeats 5 --warmup 2`` right
after, as that run's first model was hit by the machine's load (2.4 and 48 frame/s):

    model              trunk     unit     batch steps     model      loop  ratio
    baseline           finetune  frame/s     16     3      49.3      49.2  0.999
    baseline           frozen    frame/s     16   683   17125.7   15568.1  0.888
    two_stream_frame   finetune  frame/s     16     2      32.4      32.3  0.984
    two_stream_frame   frozen    frame/s     16     8     125.8     127.1  1.010
    two_stream_video   finetune  clip/s       4     2       2.0       2.1  1.034
    two_stream_video   frozen    clip/s       4     3      11.1      10.8  0.969
    cnn_rnn            finetune  clip/s       4     2       3.0       3.2  1.050
    cnn_rnn            frozen    clip/s       4   293    1323.3    1260.1  0.952
    cnn3d              finetune  clip/s       4     2       6.1       6.0  0.991
    cnn3d              frozen    clip/s       4   557    3536.5    3201.1  0.905

Before the loader sliced whole batches (``datasets.Batched``), the frozen heads' loop
lost to per-item indexing and collation; ``--trunk frozen --models baseline cnn_rnn cnn3d
--repeats 5 --threads 1`` (one thread: steadier on a loaded machine), old code then new:

    baseline  frozen  ratio 0.800 -> 0.918     (2 threads, old code: 0.791)
    cnn_rnn   frozen  ratio 0.960 -> 0.950
    cnn3d     frozen  ratio 0.855 -> 0.892     (2 threads, old code: 0.834)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import torch

from dfd_utils import train
from dfd_utils.config.training import MODEL_NAMES, TrainConfig
from dfd_utils.datasets import SplitData
from dfd_utils.features import trunk_digest, with_features
from dfd_utils.losses import class_weights, make_loss
from dfd_utils.models import build_model
from dfd_utils.precision import _x86_flags, autocast, prepare, resolve_device


def cpu_flags() -> list[str]:
    """The flags that decide the CPU's speed in fp32 and bf16 (as ``grep -o 'avx512_bf16|amx_bf16|avx2'`` shows)."""
    return sorted(_x86_flags() & {"avx2", "avx512_bf16", "amx_bf16"})


def synthetic_split(videos: int, num_frames: int = 16, height: int = 108, width: int = 192, size_3d: int = 112,
                    seed: int = 0) -> SplitData:
    """A decoded split of the demo's shapes: uint8 frames and 3D frames, float16 flows, labels 0, 1, 0, 1, ..."""
    g = torch.Generator().manual_seed(seed)
    names = [f"v{i:03d}.mp4" for i in range(videos)]
    return SplitData(
        videos=names, families=names,
        labels=torch.tensor([i % 2 for i in range(videos)], dtype=torch.float32),
        frames=torch.randint(0, 256, (videos, num_frames, 3, height, width), generator=g, dtype=torch.uint8),
        flows=torch.randn(videos, num_frames, 2, height, width, generator=g).half(),
        frames3d=torch.randint(0, 256, (videos, num_frames, 3, size_3d, size_3d), generator=g, dtype=torch.uint8))


def with_random_features(model, data: SplitData) -> SplitData:
    """``data`` with features of the trunk's output shape (random values), marked as this trunk's."""
    one = with_features(model, replace(data, videos=data.videos[:1], labels=data.labels[:1], frames=data.frames[:1],
                                       flows=None, frames3d=data.frames3d[:1]))
    shape = (len(data.videos), *one.features.shape[1:])
    g = torch.Generator().manual_seed(1)
    return replace(data, features=torch.randn(shape, generator=g), features_of=trunk_digest(model))


def build(name: str, args) -> torch.nn.Module:
    extra = {"height": args.height, "width": args.width} if name.startswith("two_stream") else {}
    if name == "two_stream_video":
        extra["num_frames"] = args.frames
    torch.manual_seed(0)
    return build_model(name, backbone=args.backbone, weights=args.weights, hidden=128, dropout=0.5, **extra)


def measure(name: str, trunk: str, data: SplitData, args) -> dict:
    """Items/s of the model alone and of the loop, ``args.repeats`` interleaved timings each."""
    cfg = TrainConfig(precision=args.precision, channels_last=args.channels_last, device=args.device, trunk=trunk,
                      batch_frames=args.batch_frames, batch_videos=args.batch_videos)
    device = resolve_device(cfg.device)
    model = prepare(build(name, args), device, cfg.channels_last)
    frozen = trunk == "frozen"
    if frozen:
        data = with_random_features(model, data)
    batch_size = cfg.batch_frames if model.level == "frame" else cfg.batch_videos
    per_epoch = len(train.loader(model, data, batch_size, False, features=frozen))
    loss_fn = make_loss(train.loss_config(cfg, model.level), class_weights(data.labels))
    optimizer = torch.optim.Adam(train.trainable_parameters(model, trunk), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(0)

    # the model's batches: the loop's own, made beforehand and moved to the device
    pool = []
    for batch in train.loader(model, data, batch_size, True, torch.Generator().manual_seed(1), features=frozen):
        x = (batch["features"] if frozen else batch["frames"]).to(device)
        flows = batch["flows"].to(device) if "flows" in batch else None
        pool.append((x, flows, batch["label"].to(device)))
        if len(pool) == min(args.pool, per_epoch):
            break
    if len(train.loader(model, data, batch_size, False, features=frozen).dataset) % batch_size:
        raise ValueError(f"--videos {len(data.videos)} leaves a partial batch: batches must be alike")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def model_steps(n: int) -> None:
        model.train()
        for i in range(n):
            x, flows, y = pool[i % len(pool)]
            with autocast(device, cfg.precision):
                logits = (model.classify(x, flows) if frozen else model(x, flows)).float()
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync()

    def loop_steps(n: int) -> None:
        while n > 0:  # one loader per epoch, as _run_epochs makes
            take = min(n, per_epoch)
            batches = train.loader(model, data, batch_size, True, generator, features=frozen)
            train.train_epoch(model, batches, loss_fn, optimizer, scaler, device, cfg.precision,
                              take if take < per_epoch else 0)
            n -= take
        sync()

    def timed(run, n: int) -> float:
        start = time.perf_counter()
        run(n)
        return n * batch_size / (time.perf_counter() - start)

    model_steps(args.warmup)
    loop_steps(args.warmup)
    steps = args.steps
    if not steps:  # a step's time, from more untimed steps: how many steps fill --seconds
        done, start = 0, time.perf_counter()
        while not done or time.perf_counter() - start < 0.2:
            model_steps(1)
            done += 1
        steps = max(args.min_steps, round(args.seconds * done / (time.perf_counter() - start)))
    models, loops = [], []
    for _ in range(args.repeats):
        models.append(timed(model_steps, steps))
        loops.append(timed(loop_steps, steps))
    return {"unit": "frame/s" if model.level == "frame" else "clip/s", "batch": batch_size, "steps": steps,
            "repeats": args.repeats, "model": statistics.median(models), "loop": statistics.median(loops),
            "ratio": statistics.median(b / a for a, b in zip(models, loops)),
            "model_each": models, "loop_each": loops}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    p.add_argument("--trunk", nargs="+", default=["finetune", "frozen"], choices=["finetune", "frozen"])
    p.add_argument("--backbone", default="efficientnet_lite0", help="one of settings.BACKBONES")
    p.add_argument("--weights", default="none", help="none | imagenet (random weights time the same)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--videos", type=int, default=48, help="videos in the synthetic split (batches per epoch: "
                                                          "videos x frames / 16 per frame, videos / 4 per video)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--height", type=int, default=108)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--size-3d", type=int, default=112)
    p.add_argument("--batch-frames", type=int, default=16)
    p.add_argument("--batch-videos", type=int, default=4)
    p.add_argument("--seconds", type=float, default=1.0, help="about how long each timing runs: its steps are "
                                                                 "counted from the warm-up's")
    p.add_argument("--min-steps", type=int, default=2, help="batches per timing at least")
    p.add_argument("--steps", type=int, default=0, help="batches per timing (0: from --seconds)")
    p.add_argument("--pool", type=int, default=8, help="batches the model cycles through (made beforehand)")
    p.add_argument("--warmup", type=int, default=1, help="untimed batches of each kind first")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timings of each; the median is reported")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args) -> dict:
    data = synthetic_split(args.videos, args.frames, args.height, args.width, args.size_3d)
    flags = cpu_flags()
    meta = {"backbone": args.backbone, "weights": args.weights, "precision": args.precision,
            "channels_last": args.channels_last, "device": args.device, "threads": torch.get_num_threads(),
            "cpu_flags": flags, "torch": torch.__version__, "videos": args.videos,
            "shape": [args.frames, args.height, args.width, args.size_3d]}
    print(f"{args.backbone}, {args.precision}{' + channels_last' if args.channels_last else ''}, "
          f"{torch.get_num_threads()} threads, CPU flags: {' '.join(flags) or 'none'}; median of {args.repeats}")
    print(f"{'model':18s} {'trunk':9s} {'unit':8s} {'batch':>5s} {'steps':>5s} {'model':>9s} {'loop':>9s} "
          f"{'ratio':>6s}")
    rows: dict = {}
    for name in args.models:
        for trunk in args.trunk:
            r = measure(name, trunk, data, args)
            rows.setdefault(name, {})[trunk] = r
            print(f"{name:18s} {trunk:9s} {r['unit']:8s} {r['batch']:5d} {r['steps']:5d} {r['model']:9.1f} "
                  f"{r['loop']:9.1f} {r['ratio']:6.3f}", flush=True)
    out = {"meta": meta, "results": rows}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
