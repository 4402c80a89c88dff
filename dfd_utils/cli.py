"""The ``dfd`` command: answers, not notebooks.

    dfd predict video.mp4 [more.mp4 folder/] [--model NAME | --checkpoint FILE] [--json] [--threshold X]
    dfd info artifacts/models/baseline.pt

Exit codes: 0 every input scored; 1 some input failed (each reported by name and
reason); 2 the command itself cannot run (no or a wrong checkpoint, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dfd_utils.io import read_json
from dfd_utils.models import MODELS
from dfd_utils.paths import Paths


def best_by_validation(paths: Paths) -> str:
    """The model of the last ``dvc repro`` with the best *validation* video ROC AUC (never the test score).

    Choosing the default by test AUC would let the test split pick the model, and its
    test numbers would stop being an honest estimate.
    """
    found = {}
    for name in MODELS:
        path = paths.metrics / f"{name}.json"
        if path.is_file():
            val = read_json(path).get("val_video")
            auc = val.get("roc_auc") if isinstance(val, dict) else None
            if isinstance(auc, (int, float)) and auc == auc:
                found[name] = auc
    if not found:
        raise FileNotFoundError(f"{paths.metrics}: no trained models yet (none with a validation score); "
                                "run `make repro`, or pass --model or --checkpoint")
    order = list(MODELS)
    return max(found, key=lambda name: (found[name], -order.index(name)))  # ties: the simpler model (paper order)


def default_checkpoint(model: str | None, root: str | Path = ".") -> Path:
    """The given model's checkpoint, or the model of the last ``dvc repro`` best on *validation*."""
    paths = Paths.at(root)
    if model is None:
        model = best_by_validation(paths)
    path = paths.models / f"{model}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint for {model}; run `make repro` or pass --checkpoint")
    return path


def _predict(args) -> int:
    from dfd_utils.predict import Predictor, expand_paths

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint(args.model, args.root)
    predictor = Predictor(checkpoint, args.threshold)
    results = [predictor.predict(p) for p in expand_paths(args.paths, recursive=args.recursive)]
    if args.json:
        print(json.dumps({"checkpoint": str(checkpoint), "model": predictor.payload["model"],
                          "results": [r.to_dict() for r in results]}, indent=1, allow_nan=False))
    else:
        print(f"model {predictor.payload['model']} ({checkpoint}), threshold {predictor.threshold:g}")
        for r in results:
            if r.ok:
                line = f"{r.verdict:4s}  p(fake)={r.prob_fake:.3f}  {r.seconds:.2f}s  {r.path}"
                if r.frame_probs is not None:
                    line += "\n      frames: " + " ".join(f"{p:.2f}" for p in r.frame_probs)
                for w in r.warnings:
                    line += f"\n      note: {w}"
            else:
                line = f"FAILED {r.path}: {r.error}"
            print(line)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def _info(args) -> int:
    from dfd_utils.models import load_checkpoint

    model, payload = load_checkpoint(args.checkpoint)
    info = {"model": payload["model"], "table": model.table, "level": model.level,
            "parameters": sum(p.numel() for p in model.parameters()), "config": payload["model_cfg"],
            "input": payload.get("input"), "threshold": payload.get("threshold"), "rule": payload.get("rule"),
            "trained_on": payload.get("data"), "seed": payload.get("seed"),
            "validation_metrics": payload.get("val_metrics")}
    print(json.dumps(info, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfd", description="Deepfake video detection with the study's models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="probability that each video is FAKE")
    p.add_argument("paths", nargs="+", help="video files or folders")
    p.add_argument("--model", choices=sorted(MODELS), help="a model of the last dvc repro (default: the best)")
    p.add_argument("--checkpoint", help="a checkpoint file (overrides --model)")
    p.add_argument("--threshold", type=float, help="decision threshold (default: chosen on validation)")
    p.add_argument("--json", action="store_true", help="machine-readable output (strict JSON)")
    p.add_argument("--no-recursive", dest="recursive", action="store_false",
                   help="do not search the subfolders of a folder")
    p.add_argument("--root", default=".", help=argparse.SUPPRESS)
    p.set_defaults(func=_predict)
    i = sub.add_parser("info", help="what a checkpoint is: model, parameters, training data, metrics")
    i.add_argument("checkpoint")
    i.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"dfd: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
