"""Stage 02 (notebook 02): frames, labels, manifest and the grouped splits of the subset."""

from __future__ import annotations

import logging
from pathlib import Path

from dfd_utils.config import build
from dfd_utils.frame_store import FrameConfig
from dfd_utils.frames import extract_all, face_crop_summary, write_index
from dfd_utils.io import read_json, worker_count, write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.paths import Paths
from dfd_utils.sources.metadata import load_subset
from dfd_utils.splits import SplitConfig, split_table, split_videos

log = logging.getLogger(__name__)


def source_checksums(folder: Path) -> dict[str, str]:
    """Stage 01's ``checksums.json`` (video -> SHA-256), or nothing: ``extract_all`` hashes what it lacks."""
    path = folder / "checksums.json"
    return read_json(path) if path.is_file() else {}


def extract_frames(frames: dict, splits: dict, root: str | Path = ".", seed: int = 0, workers: int = 0,
                   subset: str | Path | None = None, donors: tuple[str | Path, ...] = ()) -> dict:
    """Stage 02: frames, labels.json, manifest.csv and the grouped splits.

    ``subset``: read the videos from there instead of ``root``'s own subset (two
    preprocessing variants of one set share it). ``donors``: other study roots; a video's
    frames one of them made by the same stamp are linked from there.
    """
    paths = Paths.at(root)
    cfg = build(FrameConfig, frames, "frames")
    shares = build(SplitConfig, splits, "splits")
    folder = Path(subset) if subset is not None else paths.subset
    records, skipped = load_subset(folder)
    with writing(paths.frames):
        return _extract_frames(paths, cfg, shares, folder, records, skipped, seed, workers,
                               tuple(Paths.at(d).frames for d in donors))


def _extract_frames(paths: Paths, cfg: FrameConfig, shares: SplitConfig, folder: Path, records, skipped, seed: int,
                    workers: int, donors: tuple[Path, ...] = ()) -> dict:
    done, failed = extract_all(records, paths.frames, cfg, workers=worker_count(workers),
                               checksums=source_checksums(folder), donors=donors)
    kept = [r for r in records if r.name in done]
    if not kept:
        raise ValueError(f"{folder}: no video could be extracted ({len(failed)} failed)")
    if not any(r.study_split for r in kept):
        shares.check_count(len(kept), f"splits ({len(kept)} videos extracted)")
    assignment = split_videos(kept, shares.fractions, seed)
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
