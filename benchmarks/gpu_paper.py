"""The paper profile on one GPU: seconds per epoch and peak GPU memory per model, exact resume after a kill,
and the bf16 / fp16 speed-up over fp32.

NOT YET RUN ON A GPU. It was written on a CPU-only machine: ``--prepare`` and ``--dry-run``
(every code path but CUDA's, tiny, on the CPU) are tested (``tests/test_gpu_paper.py``);
the CUDA path itself, its numbers and its memory have never run. The first GPU run is
the test.

Why: the ``paper`` profile (825 DFDC clips at 1080x1920, ResNet50 fine-tuned, bf16,
batches of 16 frames / 4 videos, 224x224 3D input) is what a researcher with a GPU runs
first; this says what it costs there and whether a run killed half-way resumes to the
very weights of one that never stopped. GPU time is short and dear, so the data are
made on the CPU first, in a separate step:

    python benchmarks/gpu_paper.py --prepare --workdir build/gpu_paper            # CPU: 825 DFDC-format clips,
                                                                                 # stage 01-03 (minutes)
    python benchmarks/gpu_paper.py --workdir build/gpu_paper --json gpu.json     # GPU: the table
    python benchmarks/gpu_paper.py --workdir build/gpu_paper --dry-run           # CPU, tiny: the code, no numbers

The GPU run, per model (``--models``, default all five) on the prepared train and val splits:

* seconds per epoch (``--epochs``, default 2, the paper's precision bf16; training and validation;
  the first epoch includes cuDNN's warm-up, so both are listed) and peak GPU memory
  (``torch.cuda.max_memory_allocated`` over those epochs);
* seconds per training batch in fp32, bf16 and fp16 (``--precision-batches`` timed after
  ``--warmup`` batches), and bf16's and fp16's speed-up over fp32;
* once (``--resume-model``, default baseline): ``--resume-epochs`` epochs of at most
  ``--resume-batches`` batches in a child process killed (SIGKILL) during epoch
  ``--kill-after`` + 1, then resumed; its final weights compared with an uninterrupted
  run's, and two uninterrupted runs with each other (the control: CUDA kernels that are
  not deterministic would show there, not as a resume fault).

It prints one table and writes ``--json``. Without CUDA it refuses (exit 2) and says why.
Weights are ``--weights none`` by default (speed and memory do not depend on the values;
``imagenet`` needs torchvision's file in ``$TORCH_HOME``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts: deterministic cuBLAS

import torch  # noqa: E402
import yaml  # noqa: E402

from dfd_utils.config.training import MODEL_NAMES  # noqa: E402

PAPER_CLIPS = 825
SMALL = 40  # below this many clips the paper's 0.8/0.1/0.1 splits leave val or test without a whole family
NO_CUDA = ("gpu_paper.py: no CUDA device here (torch.cuda.is_available() is False). Run --prepare on any machine, "
           "then this on one with a GPU; --dry-run runs the code tiny on the CPU (no numbers worth reading).")


# ---- preparing the data (CPU) ----

def prepare(workdir: str | Path, clips: int = PAPER_CLIPS, clip_frames: int = 20, workers: int = 0) -> dict:
    """DFDC-format parts under ``workdir/dfdc``, then stages 01-03 of the paper profile into ``workdir/study``.

    Parts of 50 originals with 2 fakes each (DFDC's ratio is higher; 0.6 FAKE needs 1.5),
    enough for the ``dfdc`` source to select ``clips`` at the paper's 0.6; under 40
    clips (a test), one fake per original at 0.5 and splits of 0.5 / 0.25 / 0.25.
    Returns the parameters written to ``workdir/params.yaml``.
    """
    from dfd_utils import profiles
    from dfd_utils.config import parse
    from dfd_utils.sources.dfdc_parts import write_part
    from dfd_utils.tooling.paper_check import Workdir, run_stage

    work = Workdir(workdir)
    small = clips < SMALL
    fakes, share = (1, 0.5) if small else (2, 0.6)
    families = math.ceil(clips * (1 - share)) + (0 if small else 2)  # a few spare originals for the selection
    for part, start in enumerate(range(0, families, 50)):
        write_part(work.dfdc, part, families=min(50, families - start), fakes=fakes, frames=clip_frames)
    params = profiles.resolve("paper")
    params["data"].update(dfdc_path=str(work.dfdc), num_videos=clips, fake_share=share)
    params["workers"] = workers
    if small:
        params["splits"] = {"train": 0.5, "val": 0.25, "test": 0.25}
    parse(params, "profiles/paper.yaml (gpu_paper --prepare)")
    work.reports.mkdir(parents=True, exist_ok=True)
    work.params.write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("subset", "frames", "flow"):
        start = time.perf_counter()
        report = run_stage(stage, work)
        print(f"prepare {stage}: {time.perf_counter() - start:.1f} s {json.dumps(report, default=str)[:200]}",
              flush=True)
    return params


# ---- what one model needs ----

class Bench:
    """The prepared study, and each model's settings under the benchmark's overrides."""

    def __init__(self, workdir: str | Path, device: str, backbone: str | None, weights: str):
        from dfd_utils.config import parse
        from dfd_utils.paths import Paths
        from dfd_utils.tooling.paper_check import Workdir

        self.work = Workdir(workdir)
        if not self.work.params.is_file():
            raise FileNotFoundError(f"{self.work.params}: no prepared data; run gpu_paper.py --prepare "
                                    f"--workdir {workdir} first")
        self.study = parse(yaml.safe_load(self.work.params.read_text()), str(self.work.params))
        self.paths = Paths.at(self.work.study)
        self.device, self.backbone, self.weights = device, backbone, weights
        self._data: dict = {}

    def settings(self, name: str, **loop):
        """``(TrainConfig, model kwargs)`` of model ``name``: the paper's, with the device and ``loop`` overrides."""
        from dfd_utils.stages.detector import model_config

        cfg, settings = self.study.train_for(name)
        cfg = replace(cfg, device=self.device, **loop)
        settings = replace(settings, weights=self.weights, **({"backbone": self.backbone} if self.backbone else {}))
        return cfg, model_config(name, settings, self.study.frames)

    def data(self, name: str):
        """The train and val splits model ``name`` reads (kept: five models share three kinds of input)."""
        from dfd_utils.models import MODELS
        from dfd_utils.stages.detector import load_inputs

        model = MODELS[name]
        key = (model.three_d, model.uses_flow)
        if key not in self._data:
            self._data[key] = {s: load_inputs(self.paths, model, s) for s in ("train", "val")}
        return self._data[key]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def epochs_timed(bench: Bench, name: str, epochs: int, max_batches: int = 0, precision: str | None = None) -> dict:
    """Seconds per epoch (train + validation) and peak GPU memory of ``epochs`` epochs at the paper's precision
    (or ``precision``); ``max_batches``: a cap on training batches per epoch (0: the whole split)."""
    import tempfile

    from dfd_utils.models import build_model
    from dfd_utils.train import fit

    cfg, mcfg = bench.settings(name, epochs=epochs, patience=epochs, max_batches=max_batches,
                               **({"precision": precision} if precision else {}))
    data = bench.data(name)
    torch.manual_seed(cfg.seed)
    model = build_model(name, **mcfg)
    if bench.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    marks = [time.perf_counter()]

    def mark(_epoch: int) -> None:
        _sync(bench.device)
        marks.append(time.perf_counter())

    with tempfile.TemporaryDirectory(dir=bench.work.root) as run_dir:
        fit(model, data["train"], data["val"], cfg, run_dir, on_epoch_end=mark, model_settings=mcfg)
    peak = torch.cuda.max_memory_allocated() / 2**20 if bench.device.startswith("cuda") else None
    level_batch = cfg.batch_frames if model.level == "frame" else cfg.batch_videos
    return {"batch": level_batch, "precision": cfg.precision, "train_videos": len(data["train"].videos),
            "seconds_per_epoch": [b - a for a, b in zip(marks, marks[1:])], "peak_gpu_mib": peak}


def step_seconds(bench: Bench, name: str, precision: str, batches: int, warmup: int) -> float:
    """Seconds per training batch (forward, loss, backward, Adam) in ``precision``, after ``warmup`` batches."""
    from dfd_utils.losses import class_weights, make_loss
    from dfd_utils.models import build_model
    from dfd_utils.precision import prepare as to_device
    from dfd_utils.precision import resolve_device
    from dfd_utils.train import loader, loss_config, train_epoch, trainable_parameters

    cfg, mcfg = bench.settings(name, precision=precision)
    train = bench.data(name)["train"]
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = to_device(build_model(name, **mcfg), device, cfg.channels_last)
    loss_fn = make_loss(loss_config(cfg, model.level), class_weights(train.labels))
    optimizer = torch.optim.Adam(trainable_parameters(model, cfg.trunk), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    size = cfg.batch_frames if model.level == "frame" else cfg.batch_videos

    def run(count: int) -> int:  # batches run; the loader restarts when the split is shorter than ``count``
        done = 0
        while done < count:
            done += len(train_epoch(model, loader(model, train, size, True, torch.Generator().manual_seed(done)),
                                    loss_fn, optimizer, scaler, device, precision, count - done))
        return done

    run(warmup)
    _sync(bench.device)
    start = time.perf_counter()
    done = run(batches)
    _sync(bench.device)
    return (time.perf_counter() - start) / done


# ---- exact resume after a kill (child processes) ----

def child_train(args) -> int:
    """The child's side: ``--resume-epochs`` epochs of ``--resume-model`` in ``--run-dir``; marks each epoch's end."""
    from dfd_utils.models import build_model
    from dfd_utils.seed import seed_everything
    from dfd_utils.train import fit

    bench = Bench(args.workdir, args.device, args.backbone, args.weights)
    seed_everything(bench.study.seed)
    name = args.resume_model
    cfg, mcfg = bench.settings(name, epochs=args.resume_epochs, patience=args.resume_epochs,
                               max_batches=args.resume_batches)
    data = bench.data(name)
    torch.manual_seed(cfg.seed)
    model = build_model(name, **mcfg)
    marks = Path(args.run_dir) / "marks"
    marks.mkdir(parents=True, exist_ok=True)
    fit(model, data["train"], data["val"], cfg, args.run_dir, model_settings=mcfg,
        on_epoch_end=lambda epoch: (marks / f"epoch_{epoch}").touch())
    return 0


def _child(args, run_dir: Path) -> subprocess.Popen:
    argv = [sys.executable, __file__, "--child-train", "--workdir", str(args.workdir), "--run-dir", str(run_dir),
            "--device", args.device, "--weights", args.weights, "--resume-model", args.resume_model,
            "--resume-epochs", str(args.resume_epochs), "--resume-batches", str(args.resume_batches)]
    if args.backbone:
        argv += ["--backbone", args.backbone]
    return subprocess.Popen(argv)


def _finish(proc: subprocess.Popen, what: str) -> None:
    if proc.wait() != 0:
        raise RuntimeError(f"gpu_paper.py: the {what} training run failed (exit {proc.returncode}; its error is above)")


def _weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)["model"]


def _difference(a: dict, b: dict) -> dict:
    """Whether two state dicts are identical, and their largest absolute difference."""
    diff = max((float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point()),
               default=0.0)
    return {"identical": all(torch.equal(a[k], b[k]) for k in a), "max_abs_diff": diff}


def resume_check(args) -> dict:
    """Kill a run during epoch ``kill_after + 1``, resume it, and compare with uninterrupted runs."""
    root = Path(args.workdir).resolve() / "resume"
    killed, whole, control = root / "killed", root / "whole", root / "control"
    for folder in (killed, whole, control):  # a rerun starts clean
        shutil.rmtree(folder, ignore_errors=True)
    proc = _child(args, killed)
    mark = killed / "marks" / f"epoch_{args.kill_after}"
    while not mark.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"gpu_paper.py: the run to be killed ended (exit {proc.returncode}) before epoch "
                               f"{args.kill_after} finished")
        time.sleep(0.05)
    time.sleep(args.kill_delay)
    mid_epoch = proc.poll() is None and not (killed / "marks" / f"epoch_{args.kill_after + 1}").exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state_epoch = torch.load(killed / "last.pt", map_location="cpu", weights_only=True)["state"]["epoch"]
    _finish(_child(args, killed), "resumed")
    _finish(_child(args, whole), "uninterrupted")
    _finish(_child(args, control), "control")
    return {"model": args.resume_model, "epochs": args.resume_epochs, "batches_per_epoch": args.resume_batches,
            "killed_during_epoch": args.kill_after + 1, "killed_mid_epoch": mid_epoch,
            "saved_epoch_at_kill": state_epoch,
            "resumed_vs_uninterrupted": _difference(_weights(killed), _weights(whole)),
            "control_uninterrupted_twice": _difference(_weights(whole), _weights(control))}


# ---- the table ----

def _fmt(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: dict) -> str:
    precisions = results["meta"]["precisions"]
    head = (f"{'model':<18s} {'batch':>5s} {'s/epoch (each)':>22s} {'peak GPU MiB':>12s} "
            + " ".join(f"{p + ' s/batch':>13s}" for p in precisions)
            + "".join(f" {p + ' speed-up':>15s}" for p in precisions[1:]))
    lines = [f"gpu_paper: {results['meta']['device_name']}, {results['meta']['train_videos']} train videos, "
             f"torch {results['meta']['torch']}", head]
    for name, row in results["models"].items():
        epochs = ", ".join(f"{s:.1f}" for s in row["seconds_per_epoch"])
        step = row["step_seconds"]
        lines.append(f"{name:<18s} {row['batch']:>5d} {epochs:>22s} {_fmt(row['peak_gpu_mib'], '.0f'):>12s} "
                     + " ".join(f"{_fmt(step[p], '.4f'):>13s}" for p in precisions)
                     + "".join(f" {_fmt(step[precisions[0]] / step[p], '.2f') + 'x':>15s}" for p in precisions[1:]))
    resume = results.get("resume")
    if resume:
        r, c = resume["resumed_vs_uninterrupted"], resume["control_uninterrupted_twice"]
        lines.append(f"resume ({resume['model']}, killed during epoch {resume['killed_during_epoch']} of "
                     f"{resume['epochs']}, mid-epoch {resume['killed_mid_epoch']}): "
                     f"{'exact' if r['identical'] else 'NOT exact'} (max |dw| {r['max_abs_diff']:.3g}); "
                     f"control, two uninterrupted runs: {'identical' if c['identical'] else 'differ'} "
                     f"(max |dw| {c['max_abs_diff']:.3g})")
    return "\n".join(lines)


def run(args) -> dict:
    from dfd_utils.seed import seed_everything

    bench = Bench(args.workdir, args.device, args.backbone, args.weights)
    seed_everything(bench.study.seed)
    precisions = ["fp32", "bf16", "fp16"] if args.device.startswith("cuda") else ["fp32", "bf16"]
    name_of = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU (dry run)"
    results = {"meta": {"device_name": name_of, "torch": torch.__version__, "precisions": precisions,
                        "train_videos": None, "args": {k: v for k, v in vars(args).items() if k != "func"},
                        "note": "dry run on the CPU: the code path, not the numbers" if args.dry_run else ""},
               "models": {}}
    for name in args.models:
        timed = epochs_timed(bench, name, args.epochs, args.epoch_batches, "fp32" if args.dry_run else None)
        timed["step_seconds"] = {p: step_seconds(bench, name, p, args.precision_batches, args.warmup)
                                 for p in precisions}
        results["models"][name] = timed
        results["meta"]["train_videos"] = timed["train_videos"]
        print(f"{name}: {json.dumps(timed)}", flush=True)
    if args.resume_model:
        results["resume"] = resume_check(args)
    return results


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="build/gpu_paper", help="the prepared data and the runs")
    p.add_argument("--prepare", action="store_true", help="make the data on the CPU (stages 01-03), then stop")
    p.add_argument("--clips", type=int, default=PAPER_CLIPS, help="--prepare: clips selected (the paper: 825)")
    p.add_argument("--clip-frames", type=int, default=20, help="--prepare: frames per synthetic clip (>= 16)")
    p.add_argument("--workers", type=int, default=0, help="--prepare: extraction processes (0: all cores)")
    p.add_argument("--dry-run", action="store_true", help="tiny, on the CPU: resnet18, 1 batch, fp32 epochs, no "
                   "CUDA needed")
    p.add_argument("--models", default=",".join(MODEL_NAMES))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--epoch-batches", type=int, default=0, help="cap on training batches per timed epoch (0: all)")
    p.add_argument("--precision-batches", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--resume-model", default="baseline", help="the model of the resume check ('' to skip it)")
    p.add_argument("--resume-epochs", type=int, default=3)
    p.add_argument("--resume-batches", type=int, default=50, help="batches per epoch of the resume runs")
    p.add_argument("--kill-after", type=int, default=1, help="kill during the epoch after this one")
    p.add_argument("--kill-delay", type=float, default=1.0, help="seconds after that epoch's end")
    p.add_argument("--backbone", help="default: the paper's resnet50 (resnet18 in --dry-run)")
    p.add_argument("--weights", default="none", help="none (default) | imagenet | a state dict file")
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child-train", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m] if isinstance(args.models, str) else args.models
    unknown = sorted(set(args.models) - set(MODEL_NAMES))
    if unknown:
        p.error(f"--models: unknown {', '.join(unknown)}; the models are {', '.join(MODEL_NAMES)}")
    if args.dry_run:  # tiny: every code path on the CPU in seconds
        args.device = "cpu"
        args.backbone = args.backbone or "resnet18"
        args.epochs, args.epoch_batches, args.precision_batches, args.warmup = 1, 1, 1, 1
        args.resume_epochs, args.resume_batches, args.kill_after, args.kill_delay = 2, 1, 1, 0.0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child_train:
        return child_train(args)
    if args.prepare:
        prepare(args.workdir, args.clips, args.clip_frames, args.workers)
        print(f"prepared {args.clips} clips under {args.workdir}; now, on a GPU: python {sys.argv[0]} "
              f"--workdir {args.workdir} --json gpu_paper.json")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 2
    try:
        results = run(args)
    except (FileNotFoundError, RuntimeError) as err:
        print(err, file=sys.stderr)
        return 2
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
