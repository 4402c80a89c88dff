"""The ``dfdc`` source: select a subset from a local copy of the Kaggle DFDC data.

Accepted layouts (any mix, found recursively under ``root``):

* ``train_sample_videos/`` with its ``metadata.json`` (Kaggle's 400-clip sample);
* ``dfdc_train_part_N/`` folders, each with a ``metadata.json``;
* ``dfdc_train_part_N.zip`` (or the whole competition zip), read in place; members
  with ``..`` or absolute paths are refused.

As the paper: horizontal 1080x1920 clips only (each candidate is probed; skips are
counted by reason), ``num_videos`` clips chosen by a seeded, class-aware rule that
keeps each fake together with its original. Files are hard-linked (or copied) into
the subset and their SHA-256 recorded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from dfd_utils.io import read_json, sha256, write_json_atomic
from dfd_utils.sources.metadata import LABELS, Skip
from dfd_utils.video import VideoError, probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    name: str
    label: str
    original: str | None
    container: str  # a folder, or a zip file
    member: str  # path inside the zip ("" for folders)

    @property
    def family(self) -> str:
        return self.original or self.name


def safe_member(name: str, zip_path: str | Path) -> str:
    """Refuse zip members that would escape the extraction folder (zip slip)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ValueError(f"{zip_path}: unsafe member path {name!r} (absolute or contains '..')")
    return str(path)


def _entries(metadata: dict, where: str) -> list[tuple[str, str, str | None]]:
    out = []
    for name, entry in metadata.items():
        label = entry.get("label") if isinstance(entry, dict) else None
        if label not in LABELS:
            log.warning("%s: %s has unknown label %r, skipped", where, name, label)
            continue
        out.append((name, label, (entry.get("original") or None) if label == "FAKE" else None))
    return out


def find_candidates(root: str | Path) -> list[Candidate]:
    """Every labelled clip in the folders and zips under ``root``."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: DFDC folder does not exist (set data.dfdc_path in params.yaml)")
    found: list[Candidate] = []
    for meta in sorted(root.rglob("metadata.json")):
        for name, label, original in _entries(read_json(meta), str(meta)):
            if (meta.parent / name).is_file():
                found.append(Candidate(name, label, original, str(meta.parent), ""))
            else:
                log.warning("%s: %s is listed but missing, skipped", meta, name)
    for zpath in sorted(root.rglob("*.zip")):
        try:
            with zipfile.ZipFile(zpath) as zf:
                members = {safe_member(m, zpath) for m in zf.namelist()}
                for meta_name in sorted(m for m in members if PurePosixPath(m).name == "metadata.json"):
                    prefix = str(PurePosixPath(meta_name).parent)
                    metadata = json.loads(zf.read(meta_name))
                    for name, label, original in _entries(metadata, f"{zpath}:{meta_name}"):
                        member = name if prefix == "." else f"{prefix}/{name}"
                        if member in members:
                            found.append(Candidate(name, label, original, str(zpath), member))
        except zipfile.BadZipFile:
            raise ValueError(f"{zpath}: not a valid zip file (truncated download?)") from None
    if not found:
        raise ValueError(f"{root}: no metadata.json with labelled videos found (folders or zips)")
    return found


def select_families(candidates: list[Candidate], fake_share: float, seed: int) -> list[list[Candidate]]:
    """Seeded, class-aware order of families: each an original first, then its fakes.

    Families are drawn at random; from each, the real clip (if the pool has it) and as
    many fakes as keep the running FAKE share near ``fake_share``.
    """
    families: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        families[c.family].append(c)
    rng = np.random.default_rng(seed)
    keys = sorted(families)
    order = [keys[i] for i in rng.permutation(len(keys))]
    fakes_per_real = fake_share / max(1 - fake_share, 1e-9)
    plan = []
    for key in order:
        members = sorted(families[key], key=lambda c: (c.label != "REAL", c.name))
        reals = [c for c in members if c.label == "REAL"]
        fakes = [c for c in members if c.label == "FAKE"]
        rng.shuffle(fakes)
        take = max(int(round(fakes_per_real * max(len(reals), 1))), 0)
        plan.append(reals + fakes[:take])
    return plan


def _materialise(c: Candidate, out_dir: Path) -> Path:
    """Link or copy (folders) or extract (zips) one clip into the subset folder."""
    dest = out_dir / c.name
    if dest.exists():
        return dest
    tmp = out_dir / f".{c.name}.tmp"
    if c.member:
        with zipfile.ZipFile(c.container) as zf, zf.open(c.member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        src = Path(c.container) / c.name
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    tmp.replace(dest)
    return dest



def select_subset(root: str | Path, out_dir: str | Path, num_videos: int = 825, fake_share: float = 0.6,
                  seed: int = 0, size: tuple[int, int] = (1080, 1920)) -> tuple[dict, list[Skip]]:
    """Build a DFDC-format subset of ``num_videos`` clips in ``out_dir``.

    Returns the metadata written and the skipped candidates with reasons.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    candidates = find_candidates(root)
    target_fake = int(round(num_videos * fake_share))
    target_real = num_videos - target_fake
    metadata, checksums, skips = {}, {}, []
    counts = Counter()
    for family in select_families(candidates, fake_share, seed):
        if len(metadata) >= num_videos:
            break
        for c in family:
            key = "FAKE" if c.label == "FAKE" else "REAL"
            if counts[key] >= (target_fake if key == "FAKE" else target_real):
                continue
            if c.label == "FAKE" and c.original and c.original not in metadata and any(
                x.label == "REAL" for x in family
            ):
                continue  # its original was skipped: do not keep an orphan fake
            path = _materialise(c, out_dir)
            try:
                info = probe(path)
                if (info.height, info.width) != tuple(size):
                    raise VideoError(path, f"{info.width}x{info.height}, not horizontal {size[1]}x{size[0]}")
            except VideoError as err:
                skips.append(Skip(c.name, err.reason))
                path.unlink()
                continue
            metadata[c.name] = {"label": c.label, "split": "train", "original": c.original}
            checksums[c.name] = sha256(path)
            counts[key] += 1
    if not metadata:
        raise ValueError(f"{root}: no clip passed the checks ({len(skips)} skipped)")
    write_json_atomic(out_dir / "metadata.json", metadata)
    write_json_atomic(out_dir / "checksums.json", checksums)
    write_json_atomic(out_dir / "skipped.json", {s.name: s.reason for s in skips})
    log.info("selected %d clips (%d FAKE); skipped %d: %s", len(metadata), counts["FAKE"], len(skips),
             dict(Counter(s.reason.split(",")[0] for s in skips)))
    return metadata, skips
