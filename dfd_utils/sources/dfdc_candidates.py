"""Which clips a local DFDC copy holds: ``metadata.json`` folders and zips found under a root, every entry
named and checked (plain file names, no zip slip) before anything is read, and every skip kept with its reason.

Why a module of its own: finding candidates is the part of the ``dfdc`` source that reads untrusted names
(metadata keys, zip members); :mod:`dfd_utils.sources.dfdc` then chooses and copies from what this returns,
and sharded extraction (:mod:`dfd_utils.stages.shards`) reads DFDC's parts through the same checks.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dfd_utils.io import read_json
from dfd_utils.ledger import is_plain_name
from dfd_utils.sources.metadata import LABELS, VIDEO_SUFFIXES, Skip


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


def plain_name(name, where: str) -> str:
    """A metadata key must be a plain video file name: no folder, no ``..``, no absolute path.

    Keys become paths twice (the clip in the user's folder, its copy in the subset):
    a key like ``../../notes.txt`` must never reach a file outside either folder.
    """
    if not is_plain_name(name):
        raise ValueError(f"{where}: key {name!r} is not a plain file name (folders, '..' and absolute paths "
                         "are refused)")
    if PurePosixPath(name).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{where}: key {name!r} is not a video file name ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return name


def _entries(metadata, where: str, skips: list[Skip]) -> list[tuple[str, str, str | None]]:
    """``(name, label, original)`` of every usable entry; the others become skips with reasons."""
    if not isinstance(metadata, dict):
        skips.append(Skip(where, "metadata is not a JSON object keyed by file name"))
        return []
    out = []
    for name, entry in metadata.items():
        label = entry.get("label") if isinstance(entry, dict) else None
        label = label if isinstance(label, str) else repr(label)  # a list or a number is not a label
        try:
            plain_name(name, where)
        except ValueError as err:
            skips.append(Skip(str(name), str(err)))
            continue
        if label not in LABELS:
            skips.append(Skip(name, f"{where}: unknown label {label!r} (expected REAL or FAKE)"))
            continue
        original = (entry.get("original") or None) if label == "FAKE" else None
        if original is not None and not isinstance(original, str):
            skips.append(Skip(name, f"{where}: original {original!r} is not a file name"))
            continue
        out.append((name, label, original))
    return out


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (symlinks followed) stays inside ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _folder_candidates(meta: Path, skips: list[Skip]) -> list[Candidate]:
    folder = meta.parent
    try:
        metadata = read_json(meta)
    except ValueError as err:
        skips.append(Skip(str(meta), str(err)))
        return []
    found = []
    for name, label, original in _entries(metadata, str(meta), skips):
        path = folder / name
        if not path.is_file():
            skips.append(Skip(name, f"listed in {meta} but the file is missing"))
        elif not _inside(path, folder):
            skips.append(Skip(name, f"{path} links outside {folder}: refused"))
        else:
            found.append(Candidate(name, label, original, str(folder), ""))
    listed = set(metadata) if isinstance(metadata, dict) else set()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and path.name not in listed:
            skips.append(Skip(path.name, f"{path}: video file has no entry in {meta}"))
    return found


def _zip_candidates(zpath: Path, skips: list[Skip]) -> list[Candidate]:
    found = []
    try:
        with zipfile.ZipFile(zpath) as zf:
            members: dict[str, str] = {}  # normalised name -> the name in the archive ("./a/b", "a\\b")
            for m in zf.namelist():
                try:
                    members.setdefault(safe_member(m, zpath).removeprefix("./"), m)
                except ValueError as err:
                    skips.append(Skip(m, str(err)))
            for meta_name in sorted(m for m in members if PurePosixPath(m).name == "metadata.json"):
                where = f"{zpath}:{meta_name}"
                prefix = str(PurePosixPath(meta_name).parent)
                try:
                    metadata = json.loads(zf.read(members[meta_name]))
                except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                        RuntimeError, EOFError) as err:
                    skips.append(Skip(where, f"{where}: not valid JSON ({err})"))
                    continue
                for name, label, original in _entries(metadata, where, skips):
                    member = name if prefix == "." else f"{prefix}/{name}"
                    if member in members:
                        found.append(Candidate(name, label, original, str(zpath), members[member]))
                    else:
                        skips.append(Skip(name, f"listed in {where} but the zip has no {member}"))
    except (zipfile.BadZipFile, OSError) as err:
        skips.append(Skip(str(zpath), f"{zpath}: not a readable zip file ({err}; a truncated download?)"))
    return found


def find_candidates(root: str | Path) -> tuple[list[Candidate], list[Skip]]:
    """Every labelled clip in the folders and zips under ``root``, and every entry skipped, with its reason."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: DFDC folder does not exist (set data.dfdc_path in params.yaml)")
    found: list[Candidate] = []
    skips: list[Skip] = []
    for meta in sorted(root.rglob("metadata.json")):
        found += _folder_candidates(meta, skips)
    for zpath in sorted(root.rglob("*.zip")):
        found += _zip_candidates(zpath, skips)
    unique: dict[str, Candidate] = {}
    for c in found:
        if c.name in unique:
            skips.append(Skip(c.name, f"{c.container}: the name is taken by {unique[c.name].container}"))
        else:
            unique[c.name] = c
    if not unique:
        raise ValueError(f"{root}: no metadata.json with labelled videos found (folders or zips); "
                         f"{len(skips)} entries skipped")
    return list(unique.values()), skips
