"""``make paper-check``: every stage of the study at the paper's real shapes, on a CPU, in minutes.

Why: the ``paper`` profile (825 DFDC clips at 1080x1920, ResNet50 with ImageNet weights,
224x224 3D input) is what a researcher with a GPU runs first, and nothing else exercises
its shapes, its memory or its weights path. This check runs the same stage functions
the notebooks call (01 subset from the ``dfdc`` source, 02 frames, 03 flow, 04-07 the
five trainings, 08's results table) with ``profiles/paper_check.yaml``: the paper's
shapes, backbone and batch sizes, on a few synthetic full-HD clips in DFDC's layout
(``dfdc_train_part_0/`` + ``metadata.json``), one batch per model, fp32 on the CPU.
``weights: imagenet`` is read from a temporary torch hub cache holding a random
state dict under torchvision's own file name (``dfd_utils.tooling.hub_cache``): the load path
and the shapes are proven, not the ImageNet values.

Each stage runs in its own process, so its peak RSS is its own (``dfd_utils.tooling.peak_rss``),
and this driver imports no torch (a forked child starts with its parent's peak);
the table printed at the end gives wall time and peak RSS per stage. Everything is
written under a temporary folder (``--workdir`` to choose it, ``--keep`` to keep it).

Its last line gives the split sizes that ``profiles/paper.yaml`` itself (not the check's
profile) gives its 825 clips: the study's splitter on families planned at the
profile's FAKE share, an original with its fakes in one split (the paper: 660 / 82 / 83).
``--splits`` prints that line alone, in a second.

    python -m dfd_utils.tooling.paper_check [--workdir DIR] [--keep] [--models baseline,cnn3d] [--json FILE] [--splits]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import yaml

from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.tooling.paper_splits import PAPER, PAPER_SIZES, split_line, split_sizes  # noqa: F401
from dfd_utils.tooling.peak_rss import Measured, run_measured

PROFILE = "paper_check"
CLIP_FRAMES = 20  # frames per synthetic clip, >= the 16 sampled (DFDC: 300; decoding time is not the point)
PREPARE = "prepare"
DATA_STAGES = ("subset", "frames", "flow")
EVALUATE = "evaluate"


def stage_names(models: tuple[str, ...] = MODEL_NAMES) -> list[str]:
    """The stages in pipeline order: data, one training per model, evaluation."""
    return [PREPARE, *DATA_STAGES, *(f"train:{m}" for m in models), EVALUATE]


class Workdir:
    """Where one check writes: the DFDC copy, the torch hub cache, the study's root, params and reports."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.dfdc = self.root / "dfdc"
        self.torch_home = self.root / "torch"
        self.study = self.root / "study"
        self.params = self.root / "params.yaml"
        self.reports = self.root / "reports"

    def report(self, stage: str) -> Path:
        return self.reports / f"{stage.replace(':', '_')}.json"


def prepare(work: Workdir, families: int = 4) -> dict:
    """The check's inputs: one synthetic DFDC part, the stand-in ImageNet file, and params.yaml. Returns params."""
    from dfd_utils import profiles
    from dfd_utils.config import parse
    from dfd_utils.sources.dfdc_parts import write_part
    from dfd_utils.tooling.hub_cache import place_random_imagenet

    params = profiles.resolve(PROFILE)
    params["data"]["dfdc_path"] = str(work.dfdc)  # absolute: the stage resolves relative paths to the project
    parse(params, f"profiles/{PROFILE}.yaml")
    write_part(work.dfdc, 0, families=families, fakes=1, frames=CLIP_FRAMES)
    backbones = {params["train"]["backbone"], *((params.get("models") or {}).get(m, {}).get("backbone")
                                                for m in MODEL_NAMES)} - {None}
    for arch in sorted(backbones):
        place_random_imagenet(arch, work.torch_home)
    work.reports.mkdir(parents=True, exist_ok=True)
    work.params.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def _shape(t) -> list[int] | None:
    return None if t is None else list(t.shape)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(f"paper check: {message}")


def _weights_file_is_loaded(arch: str) -> str:
    """``weights: imagenet`` resolves to the file in $TORCH_HOME: the built backbone equals it, tensor by tensor."""
    import torch

    from dfd_utils.models.backbone import build_backbone, imagenet_weights_file

    _, path = imagenet_weights_file(arch)
    _check(path.is_file(), f"{path}: the stand-in ImageNet file is missing (TORCH_HOME={os.environ.get('TORCH_HOME')})")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    built = build_backbone(arch, "imagenet").state_dict()
    _check(all(torch.equal(built[k], v) for k, v in saved.items()), f"{path}: the backbone built does not hold it")
    return str(path)


def run_stage(stage: str, work: Workdir) -> dict:
    """One stage, in this process, over ``work``; returns what it proved (shapes, losses)."""
    if stage == PREPARE:
        params = prepare(work)
        return {"clips": params["data"]["num_videos"], "torch_home": str(work.torch_home)}
    from dfd_utils.config import parse
    from dfd_utils.datasets import load_split
    from dfd_utils.paths import Paths
    from dfd_utils.seed import seed_everything

    study = parse(yaml.safe_load(work.params.read_text()), str(work.params))
    seed_everything(study.seed)
    paths = Paths.at(work.study)
    if stage == "subset":
        from dfd_utils.stages.subset import make_subset
        from dfd_utils.video import probe

        metadata = make_subset(asdict(study.data), work.study, seed=study.seed, workers=study.workers)
        info = probe(paths.subset / next(iter(metadata)))
        _check((info.height, info.width) == (1080, 1920), f"source clips are {info.width}x{info.height}")
        return {"videos": len(metadata), "source_size": [info.height, info.width]}
    if stage == "frames":
        from dfd_utils.stages.extract_frames import extract_frames

        result = extract_frames(asdict(study.frames), asdict(study.splits), work.study, seed=study.seed,
                                workers=study.workers)
        train = load_split(paths.frames, "train", three_d=True)
        f = study.frames
        _check(_shape(train.frames)[1:] == [f.num_frames, 3, f.height, f.width], f"frames {_shape(train.frames)}")
        _check(_shape(train.frames3d)[1:] == [f.num_frames, 3, f.size_3d, f.size_3d], "3D frames "
               f"{_shape(train.frames3d)}")
        return {"videos": result["manifest"].video.nunique(), "splits": result["table"],
                "frames": _shape(train.frames), "frames3d": _shape(train.frames3d)}  # (V, T, 3, H, W), (V, T, 3, S, S)
    if stage == "flow":
        from dfd_utils.stages.optical_flow import optical_flow

        names = optical_flow(asdict(study.flow), work.study, workers=study.workers)
        train = load_split(paths.frames, "train", paths.flow, frames=False, flows=True)
        f = study.frames
        _check(_shape(train.flows)[1:] == [f.num_frames, 2, f.height, f.width], f"flows {_shape(train.flows)}")
        return {"videos": len(names), "flows": _shape(train.flows)}  # (V, T, 2, H, W)
    if stage.startswith("train:"):
        from dfd_utils.stages.detector import train_detector

        name = stage.split(":", 1)[1]
        cfg, settings = study.train_for(name)
        weights = _weights_file_is_loaded(settings.backbone) if settings.weights == "imagenet" else settings.weights
        result = train_detector(name, study, work.study, live=True)
        loss = result.history[0]["train_loss"]
        _check(math.isfinite(loss), f"{name}: train loss {loss}")
        train = result.data["train"]
        batch = cfg.batch_frames if result.model.level == "frame" else cfg.batch_videos
        return {"model": name, "backbone": settings.backbone, "weights": weights, "trunk": cfg.trunk,
                "batch": batch, "level": result.model.level, "train_loss": loss,
                "test_auc": result.metrics["video"]["roc_auc"],
                "inputs": {k: _shape(getattr(train, k)) for k in ("frames", "flows", "frames3d")
                           if getattr(train, k) is not None},
                "parameters": sum(p.numel() for p in result.model.parameters())}
    if stage == EVALUATE:  # notebook 08's tables and files
        from dfd_utils.report import load_results, metrics_table, write_summary

        metrics, _ = load_results(work.study, MODEL_NAMES)
        summary = metrics_table(metrics)
        path = write_summary(work.study, summary)
        return {"models": sorted(metrics), "summary": str(path.relative_to(work.root)),
                "roc_auc": {m: float(summary.loc[m, "roc_auc"]) for m in summary.index}}
    raise ValueError(f"unknown stage {stage!r}; the stages are: {', '.join(stage_names())}")


def stage_main(stage: str, workdir: str) -> int:
    """The child's side: run ``stage``, write its report; a failure is a message and exit 1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = Workdir(workdir)
    try:
        report = run_stage(stage, work)
    except Exception as err:  # reported by the parent with the stage's name
        print(f"paper check, stage {stage}: {type(err).__name__}: {err}", file=sys.stderr)
        raise
    work.report(stage).write_text(json.dumps(report, indent=1, default=str))
    return 0


def child_env(work: Workdir) -> dict:
    """The stages' environment: the temporary hub cache, this code first on the path, no network for hubs."""
    env = dict(os.environ, TORCH_HOME=str(work.torch_home), HF_HUB_OFFLINE="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def table(runs: list[Measured]) -> str:
    lines = [f"{'stage':<24s} {'wall':>10s}   {'peak RSS (largest process)':>26s}", *(r.line() for r in runs)]
    total = sum(r.seconds for r in runs)
    lines.append(f"{'total':<24s} {total:8.1f} s   max {max((r.peak_rss_mib for r in runs), default=0):8.0f} MiB")
    return "\n".join(lines)


def check(workdir: str | os.PathLike, models: tuple[str, ...] = MODEL_NAMES) -> tuple[list[Measured], dict]:
    """Prepare ``workdir`` and run every stage in its own process; stops at the first failure."""
    work = Workdir(workdir)
    work.reports.mkdir(parents=True, exist_ok=True)
    env = child_env(work)
    runs, reports = [], {}
    for stage in stage_names(models):
        run = run_measured(stage, [sys.executable, "-m", "dfd_utils.tooling.paper_check", "--stage", stage,
                                   "--workdir", str(work.root)], env=env)
        runs.append(run)
        print(run.line(), flush=True)
        if run.returncode != 0:
            break
        reports[stage] = json.loads(work.report(stage).read_text())
    return runs, reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", help="where to write (default: a temporary folder, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated (default: all five)")
    parser.add_argument("--json", help="write the stages' times, peak RSS and reports here")
    parser.add_argument("--splits", action="store_true", help="print the paper profile's split sizes only")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args(argv)
    if args.stage:
        return stage_main(args.stage, args.workdir)
    if args.splits:
        print(split_line(split_sizes(PAPER)))
        return 0
    models = tuple(m for m in args.models.split(",") if m)
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; the models are {', '.join(MODEL_NAMES)}")
    workdir = args.workdir or tempfile.mkdtemp(prefix="dfd-paper-check-")
    try:
        runs, reports = check(workdir, models)
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\npaper check: the paper's shapes on the CPU (profiles/paper_check.yaml)")
    print(table(runs))
    for stage, report in reports.items():
        shown = {k: v for k, v in report.items() if k in ("clips", "videos", "source_size", "frames", "frames3d",
                                                           "flows", "inputs", "batch", "train_loss", "weights",
                                                           "roc_auc")}
        print(f"  {stage}: {json.dumps(shown, default=str)}")
    sizes = split_sizes(PAPER)  # after the stages: this process stays small while it measures them (peak_rss)
    print(split_line(sizes))
    if args.json:
        Path(args.json).write_text(json.dumps({"stages": [asdict(r) for r in runs], "reports": reports,
                                               "paper_splits": sizes}, indent=1))
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        print(f"paper check FAILED at stage {failed[0].name} (its error is above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
