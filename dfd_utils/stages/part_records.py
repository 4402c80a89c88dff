"""Checks for the records of sharded extraction: ``--parts`` ranges, and ``part.json`` files read back.

A part's ``part.json`` may come from someone else's DVC remote: its video names become
folders under the merged output, which are removed and linked anew. Every name, part
number, index list and frame file is checked here, and the file named, before
:func:`~dfd_utils.stages.shards.merge` or :func:`~dfd_utils.stages.shards.to_frames`
removes or writes anything.
"""

from __future__ import annotations

import re
from pathlib import Path

from dfd_utils.frame_store import frame_name, video_stem
from dfd_utils.safe_names import check_plain_name, check_video_name, printable

MAX_RANGE = 10_000  # parts one range may name when the parts found are not known (DFDC has 50)


def _ranges(text: str) -> list[tuple[int, int, str]]:
    ranges = []
    for piece in filter(None, (p.strip() for p in str(text).split(","))):
        match = re.fullmatch(r"(\d{1,12})(?:-(\d{1,12}))?", piece)
        if not match:
            raise ValueError(f"--parts {text!r}: {piece!r} is not a part number or a range like 0-9")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise ValueError(f"--parts {text!r}: the range {piece!r} runs backwards")
        ranges.append((low, high, piece))
    if not ranges:
        raise ValueError(f"--parts {text!r}: no part named")
    return ranges


def parse_parts(text: str, found=None) -> list[int]:
    """``"3,4"`` or ``"0-9,12"`` -> sorted distinct part numbers; anything else is refused, quoting it.

    ``found``: the part numbers that exist; a range naming any other is refused before any
    set is built (``0-100000000``, a typo, must not build 1e8 integers), naming the range and
    the parts found. Without ``found``, a range over :data:`MAX_RANGE` parts is refused.
    """
    ranges = _ranges(text)
    if found is None:
        for low, high, piece in ranges:
            if high - low + 1 > MAX_RANGE:
                raise ValueError(f"--parts {text!r}: the range {piece!r} names {high - low + 1} parts (at most "
                                 f"{MAX_RANGE}); DFDC has 50")
        return sorted({n for low, high, _ in ranges for n in range(low, high + 1)})
    found = sorted(set(found))
    for low, high, piece in ranges:
        inside = sum(1 for n in found if low <= n <= high)
        if low == high and not inside:
            raise ValueError(f"--parts {text!r}: no dfdc_train_part_{low} (folder or zip); the parts found are "
                             f"{found or 'none'}")
        if inside != high - low + 1:
            raise ValueError(f"--parts {text!r}: the range {piece!r} names {high - low + 1 - inside} part(s) that are "
                             f"not found; the parts found are {found or 'none'}")
    return sorted({n for n in found if any(low <= n <= high for low, high, _ in ranges)})


def check_record(record, path: Path) -> dict:
    """A ``part.json`` read back, every field a path or a row is made from checked; the file named otherwise."""
    if not isinstance(record, dict) or not isinstance(record.get("videos"), dict) or "part" not in record:
        raise ValueError(f"{path}: not a part record (expected part, videos, frames)")
    part = record["part"]
    if isinstance(part, bool) or not isinstance(part, int) or part < 0:
        raise ValueError(f"{path}: its part number {printable(repr(part))} is not a whole number >= 0")
    if path.parent.name != f"part_{part}":
        raise ValueError(f"{path}: says part {part} but lies in {path.parent.name}")
    if not isinstance(record.get("frames"), dict):
        raise ValueError(f"{path}: its frame settings are missing or not a mapping")
    check_plain_name(record.get("source"), path, "source")
    skipped = record.get("skipped", {})
    if not isinstance(skipped, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in skipped.items()):
        raise ValueError(f"{path}: its skipped entries must map names to reasons (text)")
    stems = {}
    for name, video in record["videos"].items():
        check_video_name(name, path)
        if video_stem(name) in stems:
            raise ValueError(f"{path}: videos {stems[video_stem(name)]!r} and {name!r} share the folder "
                             f"{video_stem(name)!r}")
        stems[video_stem(name)] = name
        if not isinstance(video, dict):
            raise ValueError(f"{path}: video {name!r} is not a record")
        if video.get("original") is not None:
            check_video_name(video["original"], f"{path} (original of {name!r})")
        if video.get("label") not in (0, 1) or isinstance(video.get("label"), bool):
            raise ValueError(f"{path}: video {name!r} has label {printable(repr(video.get('label')))}, not 0 or 1")
        if not isinstance(video.get("sha256"), str):
            raise ValueError(f"{path}: video {name!r} has no SHA-256")
        indices = video.get("indices")
        if (not isinstance(indices, list) or not indices
                or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices)):
            raise ValueError(f"{path}: video {name!r} has no list of sampled frame indices")
    return record


def missing_frames(folder: Path, count: int) -> list[str]:
    """The frame files (2D and 3D) and ``info.json`` a video folder lacks; empty when it is complete."""
    wanted = [frame_name(i) for i in range(count)] + [f"3d/{frame_name(i)}" for i in range(count)] + ["info.json"]
    return [w for w in wanted if not (folder / w).is_file()]


def check_complete(part_folder: Path, record: dict, path: Path) -> None:
    """Every video of a part record has all its files under ``part_folder/frames``; else the first gap is named."""
    for name, video in record["videos"].items():
        gaps = missing_frames(part_folder / "frames" / video_stem(name), len(video["indices"]))
        if gaps:
            raise ValueError(f"{path}: video {name!r} lacks {len(gaps)} of its files ({', '.join(gaps[:3])}...) "
                             f"under {part_folder / 'frames' / video_stem(name)}; extract the part again")
