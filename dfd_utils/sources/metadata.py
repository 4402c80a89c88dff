"""The DFDC ``metadata.json`` format, read strictly but forgivingly.

``{"abc.mp4": {"label": "FAKE"|"REAL", "split": "train", "original": "xyz.mp4"|null}}``.
DFDC omits ``original`` for REAL entries, so it is read with ``.get``. Two optional
keys extend the format for sources that know who is on screen (the ``faces`` set):
``identity`` (the person) and ``study_split`` (train/val/test, chosen by the source
so that no identity crosses splits; ``splits.split_videos`` keeps it). Entries that
cannot be used (no file, unknown label) and files with no entry are *skipped with a
reason*, never silently dropped: the caller logs and reports them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dfd_utils.io import read_json
from dfd_utils.paths import require

log = logging.getLogger(__name__)

LABELS = {"REAL": 0, "FAKE": 1}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".webm", ".mkv"}


@dataclass(frozen=True)
class VideoRecord:
    name: str  # file name, the key in metadata.json
    path: Path
    label: int  # 0 REAL, 1 FAKE (the paper's encoding)
    original: str | None  # the real video a fake was made from
    identity: str | None = None  # the person on screen, where the source knows it
    study_split: str | None = None  # train/val/test fixed by the source (identity-disjoint splits)

    @property
    def family(self) -> str:
        """Videos of one family (an original and its fakes) must share a split."""
        return self.original or self.name


@dataclass(frozen=True)
class Skip:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def parse_metadata(metadata: dict, folder: Path, source: str = "metadata.json") -> tuple[list[VideoRecord], list[Skip]]:
    """Validate metadata entries against the files in ``folder``."""
    if not isinstance(metadata, dict):
        raise ValueError(f"{source}: expected a JSON object keyed by file name")
    records, skips = [], []
    for name, entry in sorted(metadata.items()):
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or label not in LABELS:
            skips.append(Skip(name, f"unknown label {label!r} in {source} (expected REAL or FAKE)"))
            continue
        path = folder / name
        if not path.is_file():
            skips.append(Skip(name, f"listed in {source} but the file is missing"))
            continue
        original = entry.get("original") if label == "FAKE" else None
        study_split = entry.get("study_split")
        if study_split not in (None, "train", "val", "test"):
            skips.append(Skip(name, f"unknown study_split {study_split!r} in {source} (expected train, val or test)"))
            continue
        records.append(VideoRecord(name, path, LABELS[label], original or None, entry.get("identity"), study_split))
    listed = set(metadata)
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.name not in listed:
            skips.append(Skip(path.name, f"video file has no entry in {source}"))
    return records, skips


def load_subset(folder: str | Path) -> tuple[list[VideoRecord], list[Skip]]:
    """Read ``folder/metadata.json`` and the videos beside it."""
    folder = Path(folder)
    meta_path = require(folder / "metadata.json", "subset")
    records, skips = parse_metadata(read_json(meta_path), folder, str(meta_path))
    for skip in skips:
        log.warning("skipped %s", skip)
    if not records:
        raise ValueError(f"{meta_path}: no usable video (skipped: {len(skips)})")
    return records, skips
