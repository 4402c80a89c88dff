"""The ``dfd`` command: answers, not notebooks.

    dfd predict video.mp4 [more.mp4 folder/] [--model NAME | --checkpoint FILE] [--json | --jsonl] [--threshold X]
    dfd info artifacts/models/baseline.pt
    dfd extract --parts 3,4 [--dfdc-path data/dfdc] [--shards artifacts/shards]   (sharded extraction)
    dfd merge [--shards artifacts/shards] [--frames artifacts/frames]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dfd_utils.io import read_json
from dfd_utils.models import MODELS
from dfd_utils.paths import Paths
from dfd_utils.safe_names import printable


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


REAL_FACES = "real_faces.pt"  # chapter 09's detector for real footage (dfd_utils.chapters.real_face_detector)


def default_checkpoint(model: str | None, root: str | Path = ".") -> Path:
    """The given model's checkpoint; by default the detector for real footage that chapter 09 chose on validation
    (``artifacts/models/real_faces.pt``), or, before chapter 09 has run, the synthetic-trained model of the last
    ``dvc repro`` best on *validation* (whose verdicts on real video are not evidence, as ``dfd predict`` says)."""
    paths = Paths.at(root)
    if model is None:
        if (paths.models / REAL_FACES).is_file():
            return paths.models / REAL_FACES
        model = best_by_validation(paths)
    path = paths.models / f"{model}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint for {model}; run `make repro` or pass --checkpoint")
    return path


EXAMPLES = """\
examples:
  dfd predict clip.mp4                      the detector for real footage (chapter 09's, chosen on validation)
  dfd predict clip.mp4 --explain why/       and where it looked: why/clip.png (frames, Grad-CAM, flow)
  dfd predict videos/ --model cnn3d --json  every video under videos/, strict JSON
  dfd predict clip.mp4 --checkpoint artifacts/models/baseline.pt --threshold 0.6
  dfd info artifacts/models/baseline.pt     what a checkpoint is and how it scored

prob_fake is a probability (per-frame models: the mean of the frame probabilities);
share_fake is the share of frames called FAKE (p >= 0.5). The verdict applies the
checkpoint's rule (the paper's: share_fake) to its threshold, chosen on validation.
A checkpoint with a temperature (fitted on validation) reports prob_fake calibrated,
beside the model's own (prob_raw); the verdict and frame probabilities stay raw.

Each clip's line is printed as it finishes; --json prints one object at the end with
every result that finished (interrupted: true when Ctrl-C stopped it early); --jsonl
prints each clip's object on its own line as it finishes, then that object without results. Frames
larger than 8K (7680x4320) are refused with a reason; others are downscaled as read.

exit codes:
  0  every input scored
  1  some input failed (each is reported with its reason; the others are scored)
  2  the command cannot run (no or a wrong checkpoint, options or params file, a part being extracted)
  130  interrupted (Ctrl-C): what finished is printed
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("dfd-utils")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def source_note(payload: dict) -> str | None:
    """A warning when the model learnt from synthetic faces: its verdicts on real videos are not evidence."""
    data = payload.get("data") or {}
    if isinstance(data, dict) and data.get("source") == "synthetic":
        return ("this model was trained on the study's synthetic faces: on real videos its verdicts are not "
                "evidence (train on real data: data.source faces or dfdc)")
    return None


def _line(r) -> str:
    """One clip's text line (control characters in its name or reason escaped)."""
    if not r.ok:
        return f"FAILED {printable(r.path)}: {printable(r.error)}"
    share = f"  share_fake={r.share_fake:.2f}" if r.share_fake is not None else ""
    raw = f" (raw {r.prob_raw:.3f})" if r.prob_raw is not None else ""
    line = f"{r.verdict:4s}  prob_fake={r.prob_fake:.3f}{raw}{share}  {r.seconds:.2f}s  {printable(r.path)}"
    if r.frame_probs is not None:
        line += "\n      frames: " + " ".join(f"{p:.2f}" for p in r.frame_probs)
    if r.face is not None:
        line += (f"\n      face: found in {r.face['frames_with_face']} of {r.face['frames']} sampled frames "
                 f"({r.face['detector']})")
    if r.explanation is not None:
        line += f"\n      explained: {printable(r.explanation)}"
    for w in r.warnings:
        line += f"\n      note: {printable(w)}"
    return line


def _predict(args) -> int:
    from dfd_utils.predict import Predictor, expand_paths

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint(args.model, args.root)
    predictor = Predictor(checkpoint, args.threshold)
    paths = expand_paths(args.paths, recursive=args.recursive)
    explain = Path(args.explain) if args.explain else None
    if explain is not None:
        if explain.exists() and not explain.is_dir():
            raise ValueError(f"--explain {explain}: exists and is not a folder")
        try:
            explain.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"--explain {explain}: cannot be made ({err.strerror or err})") from None
    note = source_note(predictor.payload)
    if args.jsonl:
        args.json = False
    if not (args.json or args.jsonl):
        print(f"model {predictor.payload['model']} ({printable(checkpoint)}), rule {predictor.rule}, "
              f"threshold {predictor.threshold:g}", flush=True)
        if predictor.temperature is not None:
            print(f"prob_fake is calibrated: temperature {predictor.temperature:.3g}, fitted on validation "
                  "(raw: the model's own probability; the verdict uses the raw score)")
        if note:
            print(f"note: {note}", file=sys.stderr)
    results, interrupted = [], False
    try:
        for path in paths:  # each clip's line as it finishes (text); --json: one array of what finished
            results.append(predictor.predict(path, explain))
            if args.jsonl:
                print(json.dumps(results[-1].to_dict(), allow_nan=False), flush=True)
            elif not args.json:
                print(_line(results[-1]), flush=True)
    except KeyboardInterrupt:
        interrupted = True
    if args.json or args.jsonl:  # --jsonl: the same object, its results already printed one a line
        summary = {"checkpoint": str(checkpoint), "model": predictor.payload["model"], "rule": predictor.rule,
                   "threshold": predictor.threshold, "temperature": predictor.temperature,
                   "calibrated": predictor.temperature is not None, "note": note, "interrupted": interrupted}
        if args.json:
            summary["results"] = [r.to_dict() for r in results]
        print(json.dumps(summary, indent=None if args.jsonl else 1, allow_nan=False), flush=True)
    failed = [r for r in results if not r.ok]
    if interrupted:
        print(f"interrupted: {len(results)} of {len(paths)} inputs scored", file=sys.stderr)
        return 130
    if failed:
        print(f"{len(failed)} of {len(results)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def _info(args) -> int:
    from dfd_utils.cards import checkpoint_info, ci_methods_for, model_card

    info = checkpoint_info(args.checkpoint)
    if args.card:
        print(model_card(info, ci_methods=ci_methods_for(Path(args.checkpoint), info)))
    else:
        print(json.dumps(info, indent=1))
    return 0


def _study(params: str):
    from dfd_utils.config import parse
    from dfd_utils.pipeline import load_params

    return parse(load_params(params), params)


def _extract(args) -> int:
    from dfd_utils.io import worker_count
    from dfd_utils.sources.dfdc import list_parts
    from dfd_utils.stages.shards import extract_part, parse_parts

    study = _study(args.params)
    root = Path(args.dfdc_path or study.data.dfdc_path)
    for part in parse_parts(args.parts, list_parts(root)):  # checked against the parts found, before any work
        record = extract_part(root, part, args.shards, study.frames, workers=worker_count(study.workers))
        print(f"part {part}: {len(record['videos'])} videos extracted, {len(record['skipped'])} skipped "
              f"-> {Path(args.shards) / f'part_{part}'}")
    return 0


def _merge(args) -> int:
    from dfd_utils.stages.shards import merge, to_frames

    if args.frames:
        study = _study(args.params)
        manifest = to_frames(args.shards, args.frames, study.splits, study.seed)
        print(f"{manifest.video.nunique()} videos, {len(manifest)} frames -> {args.frames} (stage 02's layout)")
    else:
        manifest = merge(args.shards, args.out)
        print(f"{manifest.video.nunique()} videos from parts {sorted(manifest.part.unique().tolist())} -> "
              f"{args.out or Path(args.shards) / 'merged'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfd", description="Deepfake video detection with the study's models.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="probability that each video is FAKE",
                       description="Score videos with a trained detector: probability of FAKE and a verdict.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="video files or folders")
    p.add_argument("--model", choices=sorted(MODELS), help="one of the five synthetic-trained models of the last "
                   "dvc repro (default: the real-face detector, artifacts/models/real_faces.pt)")
    p.add_argument("--checkpoint", help="a checkpoint file (overrides --model)")
    p.add_argument("--threshold", type=float, help="decision threshold (default: chosen on validation)")
    p.add_argument("--json", action="store_true", help="machine-readable output (strict JSON)")
    p.add_argument("--jsonl", action="store_true",
                   help="JSON Lines: one object per clip as it finishes, then a summary line (no results in it)")
    p.add_argument("--explain", metavar="DIR", help="write each clip's Grad-CAM strip (frames, heat, flow) "
                   "as DIR/<clip>.png")
    p.add_argument("--no-recursive", dest="recursive", action="store_false",
                   help="do not search the subfolders of a folder")
    p.add_argument("--root", default=".", help=argparse.SUPPRESS)
    p.set_defaults(func=_predict)
    i = sub.add_parser("info", help="what a checkpoint is: model, parameters, training data, metrics",
                       description="A checkpoint as JSON: model, parameters, input, threshold and rule, training "
                                   "data, validation and test metrics.")
    i.add_argument("checkpoint")
    i.add_argument("--card", action="store_true", help="a Markdown model card (intended use, data, metrics with "
                   "intervals, known failure modes) instead of JSON")
    i.set_defaults(func=_info)
    e = sub.add_parser("extract", help="stage 02's frames for some DFDC parts (sharded extraction)",
                       description="Extract the frames of DFDC parts (dfdc_train_part_N folders or zips) into "
                                   "<shards>/part_N/, one part at a time: machines can share the parts. Frame "
                                   "settings and workers come from --params.")
    e.add_argument("--parts", required=True, help="part numbers: 3,4 or 0-9,12")
    e.add_argument("--dfdc-path", help="where the parts are (default: data.dfdc_path of --params)")
    e.add_argument("--shards", default="artifacts/shards", help="where each part's outputs go")
    e.add_argument("--params", default="params.yaml", help="parameters file or profiles/<name>.yaml")
    e.set_defaults(func=_extract)
    m = sub.add_parser("merge", help="merge extracted parts into one manifest (or stage 02's outputs)",
                       description="Merge every <shards>/part_N/ into one manifest, deterministically.")
    m.add_argument("--shards", default="artifacts/shards")
    m.add_argument("--out", help="where the merged manifest goes (default: <shards>/merged)")
    m.add_argument("--frames", help="also write stage 02's outputs here (video folders hard-linked, manifest.csv, "
                                    "labels.json, ../splits.json with splits and seed of --params)")
    m.add_argument("--params", default="params.yaml", help="parameters file (for --frames)")
    m.set_defaults(func=_merge)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dfd_utils.lock import Busy

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, Busy) as err:  # ValueError includes config.ConfigError
        print(f"dfd: {printable(err)}", file=sys.stderr)  # one line: control characters escaped
        return 2


if __name__ == "__main__":
    sys.exit(main())
