"""Stage 02: 16 equally spaced frames per video, as JPEG, with labels and a manifest.

One folder per video (layout in ``dfd_utils.frame_store``, which readers import),
written to a temp folder and renamed when complete, so a crash never leaves a
half-written video; a rerun reuses a video's frames only when the stamp in its
``info.json`` matches what would make them now and every JPEG still hashes to the
SHA-256 recorded there (``dfd_utils.kept``; a changed one is named in a WARNING).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dfd_utils.face_tracking import FaceTrack, crop, crop_box, track_clip
from dfd_utils.frame_store import FrameConfig, frame_name, video_stem
from dfd_utils.io import (
    atomic_path,
    disk_full,
    free_bytes,
    link_tree,
    process_pool,
    progress,
    read_json,
    sha256,
    write_json_atomic,
)
from dfd_utils.kept import CHANGED, UNRECORDED, current_digest, warn, why_changed
from dfd_utils.lock import held_for_reading
from dfd_utils.provenance import Redone, code_version, stamp, why_stale
from dfd_utils.sources.metadata import Skip, VideoRecord
from dfd_utils.video import VideoError, check_decoded, probe, read_sampled_frames, resize

log = logging.getLogger(__name__)


def _imwrite(path: Path, rgb: np.ndarray, quality: int) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        if free_bytes(path) < (1 << 20):  # OpenCV says only False: a full disk is named, with the file
            raise disk_full(path)
        raise OSError(f"{path}: cannot write JPEG")


def frame_files(cfg: FrameConfig) -> list[str]:
    """Every file of a video's frames, relative to its folder: the 2D frames, then the 3D ones."""
    return [frame_name(i) for i in range(cfg.num_frames)] + [f"3d/{frame_name(i)}" for i in range(cfg.num_frames)]


def changed_file(folder: Path, info: dict, cfg: FrameConfig) -> str | None:
    """None when every frame file of ``folder`` holds the bytes its ``info.json`` recorded; else ``"<file>: why"``."""
    recorded = info.get("sha256") if isinstance(info.get("sha256"), dict) else {}
    for rel in frame_files(cfg):
        why = why_changed(folder / rel, recorded.get(rel))
        if why is not None:
            return f"{folder / rel}: {why}"
    return None


def model_view(frames: np.ndarray, height: int, width: int, face: FaceTrack | None = None, margin: float = 0.3
               ) -> np.ndarray:
    """What a model sees of sampled frames ``(T, H, W, 3)``: each resized to ``(T, height, width, 3)``.

    With a tracked ``face``, each frame is first cropped around that frame's face box
    (``margin`` face heights above and below, the output's aspect ratio). Training
    (stage 02) and ``dfd predict`` both go through here, so they cannot disagree.
    """
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for t, frame in enumerate(frames):
        if face is not None and not face.fallback:
            frame = crop(frame, crop_box(face.boxes[t], height, width, margin))
        out[t] = resize(frame, height, width)
    return out


def frame_stamp(source_sha256: str, cfg: FrameConfig) -> dict:
    """What one video's frames are made from: the source video's content, every frame setting, this code."""
    return stamp({"video": source_sha256}, asdict(cfg), CODE)


def extract_video(path: Path, out_dir: Path, cfg: FrameConfig, made_by: dict | None = None) -> dict:
    """Sample, resize and write one video's frames into ``out_dir`` atomically.

    ``info.json`` records the stamp ``made_by``: what the frames were made from.
    """
    info = probe(path)
    if not info.is_landscape:
        raise VideoError(path, f"portrait video ({info.width}x{info.height}); the study uses horizontal clips")
    frames, indices, decoded = read_sampled_frames(path, cfg.num_frames, info=info)  # (16, H, W, 3)
    check_decoded(path, decoded, info.header_frames)  # a truncated clip is a skip, not 16 frames of its start
    face = track_clip(frames) if cfg.crop == "face" else None
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "3d").mkdir(parents=True)
        for folder, (h, w) in ((tmp, (cfg.height, cfg.width)), (tmp / "3d", (cfg.size_3d, cfg.size_3d))):
            for position, frame in enumerate(model_view(frames, h, w, face, cfg.crop_margin)):
                _imwrite(folder / frame_name(position), frame, cfg.jpeg_quality)
        meta = {"indices": indices, "num_decoded": decoded, "source_size": [info.height, info.width],
                "header_frames": info.header_frames, "made_by": made_by,
                "sha256": {rel: sha256(tmp / rel) for rel in frame_files(cfg)}}  # checked before each reuse
        if face is not None:
            meta["face"] = face.summary()
        write_json_atomic(tmp / "info.json", meta)
    except BaseException:  # a full disk, a kill: no half-written temp folder left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return meta


def _read_info(out_dir: Path) -> dict | None:
    try:
        return read_json(out_dir / "info.json")
    except (FileNotFoundError, ValueError):
        return None


def _complete(out_dir: Path, cfg: FrameConfig) -> bool:
    return all((out_dir / sub / frame_name(i)).is_file() for sub in ("", "3d") for i in range(cfg.num_frames))


def _same_elsewhere(donors: tuple[Path, ...], out_dir: Path, cfg: FrameConfig, made_by: dict
                    ) -> tuple[Path, dict] | None:
    """A donor root's frames of this video, made by exactly ``made_by`` and complete: ``(folder, info)``."""
    for donor in donors:
        folder = donor / out_dir.name
        saved = _read_info(folder)
        if (saved and why_stale(saved.get("made_by"), made_by) is None and _complete(folder, cfg)
                and folder.resolve() != out_dir.resolve() and changed_file(folder, saved, cfg) is None):
            return folder, saved
    return None


def _extract_job(args: tuple[VideoRecord, Path, FrameConfig, dict, tuple[Path, ...]]
                 ) -> tuple[str, dict | None, str | None, str | None, Path | None]:
    """One video: its frames reused if their stamp matches ``made_by``, linked from a donor root whose frames of it
    have that stamp, else extracted.

    Returns ``(name, info or None, error or None, why it was redone or None, the folder linked from or None)``.
    """
    record, root, cfg, made_by, donors = args
    out_dir = root / video_stem(record.name)
    saved = _read_info(out_dir)
    why = why_stale(saved.get("made_by"), made_by) if saved else "not made yet"
    if why is None and not _complete(out_dir, cfg):
        why = "some of its frame files are gone"
    if why is None:
        why = changed_file(out_dir, saved, cfg)  # a hand-edited JPEG, whatever its mtime: warned in the parent
    if why is None:
        return record.name, saved, None, None, None
    same = _same_elsewhere(donors, out_dir, cfg, made_by)
    if same is not None:  # the same source bytes, settings and code: the same frames, linked (no work)
        tmp = out_dir.with_name(f".{out_dir.name}.tmp")
        try:
            link_tree(same[0], tmp)
            if _read_info(tmp) == same[1] and _complete(tmp, cfg) and changed_file(tmp, same[1], cfg) is None:
                shutil.rmtree(out_dir, ignore_errors=True)
                tmp.rename(out_dir)
                return record.name, same[1], None, why, same[0]
        except (OSError, shutil.Error):  # the donor changed under the link: make them here instead
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    cv2.setNumThreads(1)
    try:
        return record.name, extract_video(record.path, out_dir, cfg, made_by), None, why, None
    except (VideoError, cv2.error) as err:
        shutil.rmtree(out_dir, ignore_errors=True)  # frames of an older version of this video are not its frames
        return record.name, None, getattr(err, "reason", str(err)), why, None


def remove_stale(root: Path, keep: set[str]) -> list[str]:
    """Remove video folders this stage wrote (they hold ``info.json``) for videos no longer in the subset."""
    removed = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith(".") and folder.name.endswith(".tmp"):
            shutil.rmtree(folder)
        elif folder.name not in keep and (folder / "info.json").is_file():
            shutil.rmtree(folder)
            removed.append(folder.name)
    if removed:
        log.warning("%s: removed the frames of %d videos no longer in the subset", root, len(removed))
    return removed


def extract_all(records: list[VideoRecord], root: str | Path, cfg: FrameConfig, workers: int | None = None,
                checksums: dict[str, str] | None = None, donors: tuple[Path, ...] = ()
                ) -> tuple[dict[str, dict], list[Skip]]:
    """Extract every video in parallel; returns per-video info and the skips with reasons.

    A video's frames are reused only when their stamp matches: the source video's
    SHA-256 (from ``checksums``, name -> hex, computed here where missing), every
    frame setting and the code. ``donors``: other frame roots; a video whose frames one
    of them holds with exactly that stamp is linked from there (chapter 12's families share
    their originals; chapter 13's 16 frames are stage 02's). Anything else is extracted
    again, with one line why.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "frame_config.json").unlink(missing_ok=True)  # the folder-wide stamp of older versions
    checksums = checksums or {}
    remove_stale(root, {video_stem(r.name) for r in records})
    done: dict[str, dict] = {}
    skips: list[Skip] = []
    redone = Redone("frames")
    with contextlib.ExitStack() as held, process_pool(workers) as pool:
        donors = held_for_reading(held, donors)  # a donor being written is left out
        jobs = [(r, root, cfg, frame_stamp(source_digest(r, checksums), cfg), donors) for r in records]
        for name, meta, reason, why, source in progress(pool.map(_extract_job, jobs), total=len(jobs),
                                                        desc="frames"):
            if why is not None and why.endswith((CHANGED, UNRECORDED)):
                warn(why.rsplit(": ", 1)[0], why.rsplit(": ", 1)[1], "the video's frames made again")
            if source is not None:
                redone.link(name, source, why)
            else:
                redone.note(name, why)
            if meta is None:
                skips.append(Skip(name, reason))
                log.warning("skipped %s: %s", name, reason)
            else:
                done[name] = meta
    redone.log()
    return done, skips


def source_digest(record: VideoRecord, checksums: dict[str, str]) -> str:
    """The clip's SHA-256, read from its bytes: ``checksums.json`` is compared, never trusted (a clip changed with
    its mtime restored keeps its old checksum there), and a clip that differs from it is named."""
    actual = current_digest(record.path)
    if checksums.get(record.name) not in (None, actual):
        warn(record.path, "its bytes differ from its SHA-256 in checksums.json (changed after it was made)",
             "its frames are keyed on its bytes (rerun stage 01 to make the clip again)")
    return actual


def face_crop_summary(done: dict[str, dict]) -> dict:
    """How face cropping went: videos, fallbacks to the full frame (named), frames with a detection, and how many
    videos' tracks each detector made (``face_tracking.track_clip``: YuNet, Haar where YuNet saw no face)."""
    faces = {name: meta["face"] for name, meta in done.items() if "face" in meta}
    fallbacks = sorted(name for name, face in faces.items() if face["fallback"])
    return {"videos": len(faces), "fallbacks": len(fallbacks), "fallback_videos": fallbacks,
            "frames_with_face": sum(face["frames_with_face"] for face in faces.values()),
            "frames": sum(len(meta["indices"]) for meta in done.values() if "face" in meta),
            "detectors": {d: sum(face.get("detector") == d for face in faces.values())  # the track's own
                          for d in sorted({str(face.get("detector")) for face in faces.values()})}}


def write_index(records: list[VideoRecord], done: dict[str, dict], splits: dict[str, str], root: str | Path
                ) -> pd.DataFrame:
    """Write ``labels.json`` (frame file -> 0/1) and ``manifest.csv`` (one row per frame)."""
    root = Path(root)
    rows = []
    for r in records:
        if r.name not in done:
            continue
        for position, index in enumerate(done[r.name]["indices"]):
            rows.append(dict(video=r.name, label=r.label, original=r.original or "", position=position,
                             frame_index=index, split=splits[r.name],
                             path=f"{video_stem(r.name)}/{frame_name(position)}"))
    manifest = pd.DataFrame(rows)
    write_json_atomic(root / "labels.json", dict(zip(manifest.path, manifest.label.astype(int).tolist())))
    with atomic_path(root / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False)
    return manifest


# The code that makes frames, hashed when this module is imported: an edit made while a
# run is going (a long `make repro`) must not be stamped on frames the old code made.
CODE = code_version(__name__, libraries=("opencv", "numpy"))
