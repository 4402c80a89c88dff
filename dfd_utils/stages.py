"""The data stages (notebooks 01-03) as functions: the notebooks tell, these do.

Each takes the plain dictionaries of ``params.yaml`` (so DVC, papermill and the
tests pass the same values) and returns what the notebook shows.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, fields
from pathlib import Path

from dfd_utils.flow import FlowConfig, compute_all
from dfd_utils.frames import FrameConfig, extract_all, face_crop_summary, write_index
from dfd_utils.io import read_json, write_json_atomic
from dfd_utils.paths import Paths, project_root
from dfd_utils.sources import dfdc, faces, kaggle
from dfd_utils.sources.metadata import load_subset
from dfd_utils.sources.synthetic import SyntheticConfig, generate
from dfd_utils.splits import split_table, split_videos

log = logging.getLogger(__name__)

SOURCES = ("synthetic", "faces", "dfdc", "kaggle")


def _workers(workers: int | None) -> int:
    return workers if workers and workers > 0 else (os.cpu_count() or 1)


def _config(cls, values: dict, where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    return cls(**values)


def _generator_config(cls, data: dict, key: str, seed: int, folder: Path):
    """A generating source's config from ``data[key]``; a folder made with other settings is started over.

    The source writes ``<key>_config.json`` beside its videos; resuming into a folder
    of another configuration would mix two sets.
    """
    cfg = _config(cls, {**data.get(key, {}), "num_videos": data["num_videos"], "fake_share": data["fake_share"],
                        "seed": seed}, f"params data.{key}")
    stamp = folder / f"{key}_config.json"
    if stamp.is_file() and read_json(stamp) != asdict(cfg):
        log.warning("%s was made with other settings: starting over", folder)
        shutil.rmtree(folder)
    return cfg


def make_subset(data: dict, root: str | Path = ".", seed: int = 0, workers: int = 0) -> dict:
    """Stage 01: the DFDC-format subset (mp4 + metadata.json) from the chosen source."""
    paths = Paths.at(root)
    source = data.get("source", "synthetic")
    if source not in SOURCES:
        raise ValueError(f"params data.source: unknown source {source!r}; expected one of {SOURCES}")
    if source == "synthetic":
        cfg = _generator_config(SyntheticConfig, data, "synthetic", seed, paths.subset)
        return generate(cfg, paths.subset, workers=_workers(workers))
    if source == "faces":
        return faces.generate(_generator_config(faces.FacesConfig, data, "faces", seed, paths.subset), paths.subset)
    folder = Path(data.get("dfdc_path") or paths.external / "dfdc")
    folder = folder if folder.is_absolute() else project_root() / folder
    if source == "kaggle":
        folder = kaggle.download(paths.external / "kaggle")
    metadata, _ = dfdc.select_subset(folder, paths.subset, data["num_videos"], data["fake_share"], seed)
    return metadata


def extract_frames(frames: dict, splits: dict, root: str | Path = ".", seed: int = 0, workers: int = 0,
                   subset: str | Path | None = None) -> dict:
    """Stage 02: frames, labels.json, manifest.csv and the grouped splits.

    ``subset``: read the videos from there instead of ``root``'s own subset (two
    preprocessing variants of one set share it).
    """
    paths = Paths.at(root)
    records, skipped = load_subset(subset if subset is not None else paths.subset)
    cfg = _config(FrameConfig, frames, "params frames")
    done, failed = extract_all(records, paths.frames, cfg, workers=_workers(workers))
    kept = [r for r in records if r.name in done]
    if not kept:
        raise ValueError(f"{paths.subset}: no video could be extracted ({len(failed)} failed)")
    assignment = split_videos(kept, (splits["train"], splits["val"], splits["test"]), seed)
    write_json_atomic(paths.splits, assignment)
    manifest = write_index(kept, done, assignment, paths.frames)
    skips = {s.name: s.reason for s in [*skipped, *failed]}
    write_json_atomic(paths.frames / "skipped.json", skips)
    face_crop = face_crop_summary(done) if cfg.crop == "face" else None
    if face_crop is not None:
        write_json_atomic(paths.frames / "face_crop.json", face_crop)
        log.info("face crop: %(fallbacks)d of %(videos)d videos fell back to the full frame", face_crop)
    return {"records": kept, "manifest": manifest, "splits": assignment, "skipped": skips,
            "table": split_table(kept, assignment), "face_crop": face_crop}


def optical_flow(flow: dict, root: str | Path = ".", workers: int = 0) -> list[str]:
    """Stage 03: Farneback flow for every extracted video."""
    paths = Paths.at(root)
    names = sorted(read_json(paths.splits))
    compute_all(names, paths.frames, paths.flow, _config(FlowConfig, flow, "params flow"), workers=_workers(workers))
    return names
