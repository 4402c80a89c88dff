"""The ``dfdc`` source: select a subset from a local copy of the Kaggle DFDC data.

Accepted layouts (any mix, found recursively under ``root``):

* ``train_sample_videos/`` with its ``metadata.json`` (Kaggle's 400-clip sample);
* ``dfdc_train_part_N/`` folders, each with a ``metadata.json``;
* ``dfdc_train_part_N.zip`` (or the whole competition zip), read in place; members
  with ``..`` or absolute paths are refused.

As the paper: horizontal 1080x1920 clips only (each candidate is probed; every skip
is recorded with its reason), ``num_videos`` clips at ``fake_share`` FAKE chosen by a
seeded rule that keeps each fake with its original; a shortfall is loud and recorded.
Metadata keys are plain file names (a key that names a path outside its folder is a
skip, never a file we touch); clips are copied (not linked) into the subset, and the
stage removes only copies it made.
"""

from __future__ import annotations

import logging
import re
import shutil
import zipfile
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from dfd_utils.config.checks import check_range
from dfd_utils.io import atomic_path, write_json_atomic
from dfd_utils.ledger import Ledger
from dfd_utils.provenance import Redone, stamp
from dfd_utils.sources.dfdc_candidates import (  # noqa: F401 (re-exported: the source's one import for callers)
    Candidate,
    _folder_candidates,
    _zip_candidates,
    find_candidates,
    plain_name,
    safe_member,
)
from dfd_utils.sources.metadata import Skip
from dfd_utils.video import VideoError, probe

log = logging.getLogger(__name__)


def families(candidates: list[Candidate], skips: list[Skip], seed: int) -> list[tuple[Candidate, list[Candidate]]]:
    """``(real, fakes)`` per original, in a seeded order, fakes shuffled; fakes without their original are skips."""
    reals = {c.name: c for c in candidates if c.label == "REAL"}
    fakes: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.label == "FAKE":
            if c.original in reals:
                fakes[c.original].append(c)
            else:
                skips.append(Skip(c.name, f"its original {c.original!r} is not in the data (a fake is kept only "
                                          "with its original)"))
    rng = np.random.default_rng(seed)
    order = [sorted(reals)[i] for i in rng.permutation(len(reals))]
    out = []
    for name in order:
        members = sorted(fakes[name], key=lambda c: c.name)
        out.append((reals[name], [members[i] for i in rng.permutation(len(members))]))
    return out


def _copy_stamp(c: Candidate, root: Path) -> dict:
    """What a subset clip is copied from: its file (or zip member) under ``root``, with the file's size and mtime.

    The path is relative to ``root``, so moving the project does not copy 825 clips
    again; a byte copy has no settings and no code worth keying on.
    """
    src = Path(c.container) / c.name if not c.member else Path(c.container)
    st = src.stat()
    try:
        where = str(src.resolve().relative_to(root.resolve()))
    except ValueError:
        where = str(src.resolve())
    return stamp({"source": where, "member": c.member, "size": st.st_size, "mtime_ns": st.st_mtime_ns}, {}, {})


def _materialise(c: Candidate, out_dir: Path) -> Path:
    """Copy (folders) or extract (zips) one clip into the subset folder, atomically.

    A copy, not a hard link: the subset is a DVC output, and whatever DVC or a user
    does to its files (permissions, edits) must never reach the user's DFDC copy.
    """
    dest = out_dir / plain_name(c.name, "metadata")
    with atomic_path(dest) as tmp:  # a fresh temp file: never written through a planted symlink
        if c.member:
            with zipfile.ZipFile(c.container) as zf, zf.open(c.member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            shutil.copyfile(Path(c.container) / c.name, tmp)
    return dest


class _Picker:
    """Copies candidates into the subset and keeps those that pass the video check; the rest are skips."""

    def __init__(self, root: Path, out_dir: Path, size: tuple[int, int], skips: list[Skip]):
        self.root, self.out_dir, self.size, self.skips = root, out_dir, size, skips
        self.ledger = Ledger(out_dir)
        self.redone = Redone("dfdc clips")
        self.checked: dict[str, bool] = {}

    def take(self, c: Candidate) -> bool:
        if c.name in self.checked:
            return self.checked[c.name]
        made_by = _copy_stamp(c, self.root)
        why = self.ledger.why(c.name, made_by)
        self.redone.note(c.name, why)
        path = self.out_dir / c.name
        try:
            if why is not None:
                try:
                    _materialise(c, self.out_dir)
                except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as err:
                    raise VideoError(path, f"cannot be copied out ({type(err).__name__}: {err})") from None
            info = probe(path)
            if (info.height, info.width) != tuple(self.size):
                raise VideoError(path, f"{info.width}x{info.height}, not horizontal {self.size[1]}x{self.size[0]}")
        except VideoError as err:
            self.skips.append(Skip(c.name, f"{Path(c.container) / (c.member or c.name)}: {err.reason}"))
            self.ledger.forget(c.name)
            path.unlink(missing_ok=True)  # the copy this stage made, never the user's file
            self.checked[c.name] = False
            return False
        if why is not None:
            self.ledger.record(c.name, made_by)
        self.checked[c.name] = True
        return True


def select_subset(root: str | Path, out_dir: str | Path, num_videos: int = 825, fake_share: float = 0.6,
                  seed: int = 0, size: tuple[int, int] = (1080, 1920)) -> tuple[dict, list[Skip]]:
    """Build a DFDC-format subset of ``num_videos`` clips, ``fake_share`` of them FAKE, in ``out_dir``.

    Exact when the data allow it: ``round(num_videos * fake_share)`` fakes and the rest
    reals. Originals are drawn in a seeded order; the fakes are then taken round-robin
    over the chosen originals (one fake of each, then a second, ...), so every fake
    comes with its original and families contribute evenly. When the data cannot give
    that many, the shortfall is logged as a warning and recorded in ``selection.json``.
    Writes ``metadata.json``, ``checksums.json``, ``skipped.json`` (every skip, with
    its reason) and ``selection.json``. Returns the metadata and the skips.
    """
    check_range("num_videos", num_videos, 2, kind=int)
    check_range("fake_share", fake_share, 0, 1, low_open=True, high_open=True)
    want_fake = int(round(num_videos * fake_share))
    want_real = num_videos - want_fake
    if not 1 <= want_fake <= num_videos - 1:
        raise ValueError(f"num_videos {num_videos} at fake_share {fake_share:g} gives {want_fake} FAKE and "
                         f"{want_real} REAL clips: a subset needs at least one of each")
    root, out_dir = Path(root), Path(out_dir)
    r, o = root.resolve(), out_dir.resolve()
    if r == o or r in o.parents or o in r.parents:
        raise ValueError(f"data.dfdc_path {root} and the subset folder {out_dir} overlap: the selection would read "
                         "its own copies (and could remove your clips); point data.dfdc_path at the DFDC copy only")
    out_dir.mkdir(parents=True, exist_ok=True)
    candidates, skips = find_candidates(root)
    picker = _Picker(root, out_dir, size, skips)
    chosen: list[tuple[Candidate, list[Candidate]]] = []
    ordered = families(candidates, skips, seed)
    ordered = [f for f in ordered if f[1]] + [f for f in ordered if not f[1]]  # originals with fakes first
    for real, fakes in ordered:
        if len(chosen) == want_real:
            break
        if picker.take(real):
            chosen.append((real, fakes))
        else:
            skips += [Skip(f.name, f"its original {real.name} failed the video check") for f in fakes]
    taken_fakes: list[Candidate] = []
    queues = [list(fakes) for _, fakes in chosen]
    while len(taken_fakes) < want_fake and any(queues):
        for queue in queues:
            while queue and len(taken_fakes) < want_fake:
                fake = queue.pop(0)
                if picker.take(fake):
                    taken_fakes.append(fake)
                    break
    selected = [real for real, _ in chosen] + taken_fakes
    if not selected:
        raise ValueError(f"{root}: no clip passed the checks ({len(skips)} skipped)")
    keep = {c.name for c in selected}
    picker.ledger.prune(keep)
    picker.redone.log()
    metadata = {c.name: {"label": c.label, "split": "train", "original": c.original}
                for c in sorted(selected, key=lambda c: c.name)}
    selection = {"requested": num_videos, "fake_share_requested": fake_share, "selected": len(selected),
                 "fake": len(taken_fakes), "real": len(chosen), "shortfall": num_videos - len(selected),
                 "fake_share": round(len(taken_fakes) / len(selected), 4), "skipped": len(skips),
                 "skip_reasons": dict(Counter(_reason_kind(s.reason) for s in skips))}
    picker.ledger.write_checksums(keep)
    write_json_atomic(out_dir / "metadata.json", metadata)
    write_json_atomic(out_dir / "skipped.json", {s.name: s.reason for s in skips})
    write_json_atomic(out_dir / "selection.json", selection)
    if selection["shortfall"] or len(taken_fakes) != want_fake:
        log.warning("DFDC selection: asked for %d clips (%d FAKE), the data give %d (%d FAKE, %d REAL); "
                    "%d skipped, see %s", num_videos, want_fake, len(selected), len(taken_fakes), len(chosen),
                    len(skips), out_dir / "skipped.json")
    else:
        log.info("selected %d clips (%d FAKE); skipped %d", len(selected), len(taken_fakes), len(skips))
    return metadata, skips


def _reason_kind(reason: str) -> str:
    """A skip reason without the file names, for counting: 'not horizontal', 'file is missing', ..."""
    for kind in ("not horizontal", "file is missing", "has no entry", "not a plain file name", "unknown label",
                 "is not in the data", "failed the video check", "unsafe member", "not valid JSON",
                 "not a readable zip", "name is taken", "links outside", "not a video file name"):
        if kind in reason:
            return kind
    return reason.split(":")[-1].strip()[:60]


PART_NAME = re.compile(r"^dfdc_train_part_(\d+)(\.zip)?$")  # DFDC's 50 parts: folders, or their zips


def list_parts(root: str | Path) -> dict[int, Path]:
    """Every ``dfdc_train_part_N`` folder or ``.zip`` under ``root``: ``{N: path}``, in part order.

    A part found twice (a folder and its zip, or two copies) is refused with both paths:
    which copy a shard read must never depend on the order a file system lists them.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: DFDC folder does not exist (set data.dfdc_path in params.yaml)")
    found: dict[int, Path] = {}
    for path in sorted(root.rglob("dfdc_train_part_*")):
        match = PART_NAME.match(path.name)
        if not match or (path.is_dir() == bool(match.group(2))) or not (path.is_dir() or path.is_file()):
            continue  # a file without .zip, or a folder named like a zip
        part = int(match.group(1))
        if part in found:
            raise ValueError(f"DFDC part {part} is found twice: {found[part]} and {path}; keep one")
        found[part] = path
    return dict(sorted(found.items()))


def part_candidates(path: str | Path) -> tuple[list[Candidate], list[Skip]]:
    """The labelled clips of one part (a folder with its metadata.json, or a zip read in place), and the skips."""
    path = Path(path)
    skips: list[Skip] = []
    if path.is_dir():
        found = [c for meta in sorted(path.rglob("metadata.json")) for c in _folder_candidates(meta, skips)]
    else:
        found = _zip_candidates(path, skips)
    return found, skips


def copy_out(c: Candidate, out_dir: Path) -> Path:
    """Copy (folder) or extract (zip) one clip into ``out_dir``: :func:`_materialise`, for other stages."""
    return _materialise(c, out_dir)
