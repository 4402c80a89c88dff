"""Sharded extraction: stage 02's frames, one DFDC part at a time, merged into one manifest.

Why: DFDC holds 119,154 training clips in 50 parts (470 GB). One machine decoding them
all takes days; several machines can each take some parts, push what they made to the
DVC remote, and one machine merges. Per part ``N`` (a ``dfdc_train_part_N`` folder, or
its zip read in place), :func:`extract_part` writes ``<shards>/part_N/``:

    frames/<video stem>/000.jpg ... 015.jpg, 3d/..., info.json   (stage 02's layout and stamps)
    part.json   the part's clips: label, original, SHA-256, sampled indices; its skips with reasons;
                the frame settings it was made with

Only clips DFDC calls horizontal 1080x1920 are kept (the paper's rule; every other is a
skip with its reason). A rerun reuses a clip's frames when their stamp matches
(``frames.extract_all``). :func:`merge` reads every ``part_N/part.json`` and writes one
manifest whose content depends only on the parts' contents, never on which machine
made which part or in what order: rows sorted by video and frame, paths relative to
the shards folder. Two parts extracted apart merge to the same files as one run over
both (tested). :func:`to_frames` turns the merge into stage 02's own outputs
(``artifacts/frames`` with ``manifest.csv`` and ``labels.json``, ``splits.json``), so
stages 03-08 read it unchanged.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from dfd_utils.frame_store import FrameConfig, frame_name, video_stem
from dfd_utils.frames import extract_all, write_index
from dfd_utils.io import atomic_path, link_tree, read_json, sha256, write_json_atomic
from dfd_utils.lock import writing
from dfd_utils.safe_names import check_video_name, video_name_problem
from dfd_utils.sources import dfdc
from dfd_utils.sources.metadata import LABELS, Skip, VideoRecord
from dfd_utils.splits import SplitConfig, split_videos
from dfd_utils.stages.part_records import check_complete, check_record, parse_parts  # noqa: F401 (public)
from dfd_utils.video import VideoError, probe

log = logging.getLogger(__name__)

PART_FILE = "part.json"
SIZE = (1080, 1920)  # the paper keeps horizontal full-HD clips only


def part_dir(shards: str | Path, part: int) -> Path:
    return Path(shards) / f"part_{part}"


def _usable(c: dfdc.Candidate, clips: Path, skips: list[Skip]) -> VideoRecord | None:
    """One candidate as a record of a readable, horizontal 1080x1920 file (a zip member is copied out first)."""
    path = dfdc.copy_out(c, clips) if c.member else Path(c.container) / c.name
    try:
        info = probe(path)
        if (info.height, info.width) != SIZE:
            raise VideoError(path, f"{info.width}x{info.height}, not horizontal {SIZE[1]}x{SIZE[0]}")
    except VideoError as err:
        skips.append(Skip(c.name, f"{Path(c.container) / (c.member or c.name)}: {err.reason}"))
        return None
    return VideoRecord(c.name, path, LABELS[c.label], c.original)


def extract_part(root: str | Path, part: int, shards: str | Path, frames: FrameConfig,
                 workers: int | None = None) -> dict:
    """Extract DFDC part ``part`` (found under ``root``) into ``<shards>/part_<part>/``; returns its ``part.json``."""
    found = dfdc.list_parts(root)
    if part not in found:
        raise FileNotFoundError(f"{root}: no dfdc_train_part_{part} (folder or zip); the parts found are "
                                f"{list(found) or 'none'}")
    source = found[part]
    out = part_dir(shards, part)
    with writing(out):  # one extraction per part folder: a second one stops at once, naming the holder
        (out / PART_FILE).unlink(missing_ok=True)  # the part is not complete until its new record is written
        record = _extract_locked(source, part, out, frames, workers)
        check_complete(out, record, out / PART_FILE)  # every video's files, before the record vouches for them
        write_json_atomic(out / PART_FILE, record)
    log.info("part %d: %d videos extracted, %d skipped", part, len(record["videos"]), len(record["skipped"]))
    return record


def _extract_locked(source: Path, part: int, out: Path, frames: FrameConfig, workers: int | None) -> dict:
    clips = out / ".clips"  # zip members copied out for decoding, removed afterwards
    candidates, skips = dfdc.part_candidates(source)
    bad = {c.name: problem for c in candidates if (problem := video_name_problem(c.name))}
    skips += [Skip(str(name), f"{source}: video name {problem}") for name, problem in bad.items()]
    candidates = [c for c in candidates if c.name not in bad]  # names become folders: plain video file names only
    try:
        records = [r for c in sorted(candidates, key=lambda c: c.name) if (r := _usable(c, clips, skips))]
        if not records:
            raise ValueError(f"{source}: no usable 1080x1920 clip ({len(skips)} skipped)")
        checksums = {r.name: sha256(r.path) for r in records}
        done, failed = extract_all(records, out / "frames", frames, workers=workers, checksums=checksums)
    finally:
        shutil.rmtree(clips, ignore_errors=True)
    videos = {r.name: {"label": r.label, "original": r.original, "sha256": checksums[r.name],
                       "indices": done[r.name]["indices"], "num_decoded": done[r.name]["num_decoded"]}
              for r in records if r.name in done}
    return {"part": part, "source": source.name, "frames": asdict(frames), "videos": videos,
            "skipped": {s.name: s.reason for s in [*skips, *failed]}}


def read_parts(shards: str | Path) -> dict[int, dict]:
    """Every ``part_N/part.json`` under ``shards``: ``{N: record}``; a damaged one is named."""
    shards = Path(shards)
    parts = {}
    for path in sorted(shards.glob(f"part_*/{PART_FILE}")):
        record = check_record(read_json(path), path)  # names, numbers and indices, before anything is written
        parts[record["part"]] = record
    if not parts:
        raise FileNotFoundError(f"{shards}: no part_N/{PART_FILE}; run `dfd extract --parts ...` first")
    return dict(sorted(parts.items()))


def merge(shards: str | Path, out: str | Path | None = None) -> pd.DataFrame:
    """One manifest (a row per frame) over every extracted part, written to ``out`` (default ``<shards>/merged``).

    Also writes ``metadata.json`` (DFDC's format, with each video's part), ``checksums.json``,
    ``skipped.json`` and ``parts.json`` (which parts, from which sources). Refused: parts
    made with different frame settings, a video name in two parts (both named).
    """
    shards = Path(shards)
    out = Path(out) if out is not None else shards / "merged"
    parts = read_parts(shards)
    first = next(iter(parts))
    owner: dict[str, int] = {}
    rows, metadata, checksums, skipped = [], {}, {}, {}
    for part, record in parts.items():
        if record["frames"] != parts[first]["frames"]:
            raise ValueError(f"{part_dir(shards, part) / PART_FILE} and {part_dir(shards, first) / PART_FILE} were "
                             "made with different frame settings; extract them again with the same params.yaml")
        for name, video in record["videos"].items():
            if name in owner:
                raise ValueError(f"{name} is in part {owner[name]} and part {part}: a video must be in one part")
            owner[name] = part
            metadata[name] = {"label": "FAKE" if video["label"] else "REAL", "original": video["original"],
                              "part": part}
            checksums[name] = video["sha256"]
            for position, index in enumerate(video["indices"]):
                rows.append({"video": name, "label": video["label"], "original": video["original"] or "",
                             "position": position, "frame_index": index, "part": part,
                             "path": f"part_{part}/frames/{video_stem(name)}/{frame_name(position)}"})
        skipped.update({name: f"part {part}: {reason}" for name, reason in record["skipped"].items()})
    for part, record in parts.items():  # no manifest row for a frame file that does not exist
        check_complete(part_dir(shards, part), record, part_dir(shards, part) / PART_FILE)
    manifest = pd.DataFrame(rows).sort_values(["video", "position"], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False)
    for name, value in (("metadata.json", metadata), ("checksums.json", checksums), ("skipped.json", skipped),
                        ("parts.json", {str(p): {"source": r["source"], "videos": len(r["videos"])}
                                        for p, r in parts.items()})):
        write_json_atomic(out / name, dict(sorted(value.items())))
    return manifest


def to_frames(shards: str | Path, frames_out: str | Path, splits: SplitConfig, seed: int = 0) -> pd.DataFrame:
    """Stage 02's outputs from the merged parts: video folders, ``manifest.csv``, ``labels.json``, ``splits.json``.

    Video folders are hard-linked where the file system allows it (a copy otherwise):
    DFDC's frames must not be stored twice. ``splits.json`` goes beside ``frames_out``,
    where stage 02 writes it. Returns the manifest.
    """
    shards, frames_out = Path(shards), Path(frames_out)
    manifest = merge(shards)
    metadata = read_json(shards / "merged" / "metadata.json")
    for name in metadata:
        check_video_name(name, shards / "merged" / "metadata.json")
    records = [VideoRecord(name, Path(name), LABELS[e["label"]], e["original"]) for name, e in metadata.items()]
    indices = manifest.groupby("video").frame_index.apply(list).to_dict()  # video -> its sampled frame indices
    done = {r.name: {"indices": indices[r.name]} for r in records}
    frames_out.mkdir(parents=True, exist_ok=True)
    earlier = frames_out / "manifest.csv"  # a former merge's videos: those no longer merged are removed
    if earlier.is_file():
        former = pd.read_csv(earlier, keep_default_na=False, dtype=str)
        if "video" not in former:
            raise ValueError(f"{earlier}: not a frames manifest (no video column); nothing was removed")
        for name in set(former.video):  # every name checked before any folder is removed
            check_video_name(name, earlier)
        for stem in set(former.video.map(video_stem)) - {video_stem(n) for n in metadata}:
            if (frames_out / stem).is_dir() and not (frames_out / stem).is_symlink():
                shutil.rmtree(frames_out / stem, ignore_errors=True)
    for name, entry in metadata.items():  # linked anew each time: a re-extracted part's frames are new files
        link_tree(part_dir(shards, entry["part"]) / "frames" / video_stem(name), frames_out / video_stem(name))
    assignment = split_videos(records, splits.fractions, seed)
    write_json_atomic(frames_out.parent / "splits.json", assignment)
    return write_index(records, done, assignment, frames_out)
