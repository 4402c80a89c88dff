"""One split's frames, 3D frames or flow as one memory-mapped array on disk: RAM no longer grows with the clips.

Decoding a split's JPEGs into tensors held it whole in RAM (825 clips: 0.8 GB of
frames, 2 GB of 3D frames at 224², 1.1 GB of flow; DFDC's 119,154 clips would need
about 500 GB). Here each (split, kind) is decoded once into one ``.npy`` file,
``<arrays>/<split>.<kind>.npy`` (uint8 frames stored ``(V, T, H, W, 3)`` and seen as
``(V, T, 3, H, W)``, float16 flow ``(V, T, 2, H, W)``: the very memory layout, strides
included, of the tensors decoding gave, so convolutions pick the same kernels and
training ends with the same bits), and opened memory-mapped:
a batch reads only its own rows, and the pages it read are page cache, which the
kernel takes back under pressure instead of the process holding them.

Kept across runs, so keyed on what made it (``dfd_utils.provenance``): beside each
array, ``<split>.<kind>.json`` records the SHA-256 of every input file's bytes (the
16 JPEGs of each video, or its flow ``.npy``), the video list, the shape and dtype, this
writer's code, and the SHA-256 of the array file itself (read again before every reuse but by
the process that wrote it, ``dfd_utils.kept``: a size and mtime can be restored after an edit).
An array is reused only when all of it matches; a changed frame, another writer, a truncated or overwritten file
is written anew, with one log line saying why. Files are written under a temporary
name and renamed (``io.atomic_path``), the stamp last, so a crash leaves no array that
a later run could take for finished.

Opened in numpy's copy-on-write mode (``"c"``): torch gets a writable buffer (no
warning, no crash if someone writes into a batch view), and a write stays in that
process's memory, never reaching the file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from dfd_utils.flow import flow_path, load_flow
from dfd_utils.frame_store import load_video_frames, video_stem
from dfd_utils.io import atomic_path, disk_full, ensure_space, progress, sha256, write_json_atomic
from dfd_utils.kept import remember, why_changed
from dfd_utils.paths import require
from dfd_utils.provenance import code_version, digest, stamp, why_stale

log = logging.getLogger(__name__)

KINDS = {"frames": np.uint8, "frames3d": np.uint8, "flows": np.float16}  # SplitData field -> stored dtype
FORMAT = 1  # bump when the file layout changes


def array_folder(frames_root: str | Path) -> Path:
    """Where a frame store's split arrays live by default: ``<frames_root>/../arrays`` (``artifacts/arrays``).

    Beside the frame store, not inside it: the frame store is a DVC output of stage 02,
    and these files are a cache of it, rebuilt from it whenever it changes.
    """
    return Path(frames_root).parent / "arrays"


def input_files(kind: str, name: str, frames_root: Path, flow_root: Path | None) -> list[Path]:
    """The files one video's rows of ``kind`` are decoded from, in order."""
    if kind == "flows":
        return [require(flow_path(flow_root, name), "flow")]
    folder = frames_root / video_stem(name) / ("3d" if kind == "frames3d" else "")
    files = sorted(folder.glob("[0-9][0-9].jpg"))
    if not files:
        raise FileNotFoundError(f"{folder}: no frames (run the frame extraction stage)")
    return files


def read_video(kind: str, name: str, frames_root: Path, flow_root: Path | None) -> np.ndarray:
    """One video as the split array stores it: ``(T, H, W, 3)`` uint8 frames or ``(T, 2, H, W)`` float16 flow."""
    if kind == "flows":
        return load_flow(flow_root, name)
    return load_video_frames(frames_root, name, three_d=kind == "frames3d")


def inputs_digest(kind: str, names: list[str], frames_root: Path, flow_root: Path | None) -> str:
    """SHA-256 over every input file's name and bytes, video by video: any changed frame or flow changes it."""
    h = hashlib.sha256()
    for name in names:
        for path in input_files(kind, name, frames_root, flow_root):
            h.update(f"{video_stem(name)}/{path.name}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def open_array(path: str | Path, kind: str) -> torch.Tensor:
    """A stored split array as a tensor over its memory map (copy-on-write: writes never reach the file).

    Frames are stored as decoded, ``(V, T, H, W, 3)``, and seen as ``(V, T, 3, H, W)``
    (a permuted view, channels last in memory), as the decode path's ``np.stack`` of
    transposed frames laid them out; flow is stored and seen ``(V, T, 2, H, W)``.
    """
    tensor = torch.from_numpy(np.load(path, mmap_mode="c"))
    return tensor if kind == "flows" else tensor.permute(0, 1, 4, 2, 3)


def _why_unusable(path: Path, record: Path, made_by: dict) -> str | None:
    """None when ``path`` is an array this code made from these inputs, whole; else one line saying why not."""
    if not path.is_file():
        return "not made yet"
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return "its stamp is missing or unreadable"
    if not isinstance(saved, dict):
        return "its stamp is not a JSON object"
    why = why_stale(saved.get("made_by"), made_by)
    if why is not None:
        return why
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as err:  # a bad header, or a file shorter than its header says
        return f"unreadable as an array ({str(err).splitlines()[0][:120]})"
    if [list(array.shape), str(array.dtype)] != [saved.get("shape"), saved.get("dtype")]:
        return f"holds {tuple(array.shape)} {array.dtype}, its stamp says {saved.get('shape')} {saved.get('dtype')}"
    del array
    return why_changed(path, saved.get("sha256"))  # hashed again, unless this process just wrote it


def _write(path: Path, record: Path, kind: str, names: list[str], frames_root: Path, flow_root: Path | None,
           made_by: dict) -> None:
    """Decode every video of ``names`` into a new array at ``path``, then stamp it."""
    first = read_video(kind, names[0], frames_root, flow_root)  # (T, H, W, 3) or (T, 2, H, W): all must match
    record.unlink(missing_ok=True)  # never a stamp beside an array it did not make
    shape = (len(names), *first.shape)
    ensure_space(path, int(np.prod(shape)) * np.dtype(KINDS[kind]).itemsize + 4096)  # refused before a byte is written
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=KINDS[kind], shape=shape)
        _reserve(tmp, path)  # every block on disk now: a disk filled by another writer is an OSError here, not a SIGBUS
        for i, name in enumerate(progress(names, desc=f"{path.name}", leave=False)):
            video = first if i == 0 else read_video(kind, name, frames_root, flow_root)
            if video.shape != first.shape:
                where = flow_path(flow_root, name) if kind == "flows" else frames_root / video_stem(name)
                raise ValueError(f"{where}: {kind} of shape {video.shape}, but {names[0]} has {first.shape}; "
                                 "a split's videos must share one shape (extract the frames again)")
            out[i] = video
        out.flush()
        shape, dtype = list(out.shape), str(out.dtype)
        del out  # closes the map before the rename
        sha = sha256(tmp)
    remember(path, sha)
    write_json_atomic(record, {"made_by": made_by, "shape": shape, "dtype": dtype, "sha256": sha})


def _reserve(tmp: Path, path: Path) -> None:
    """Allocate the sparse file ``tmp`` a memory map was opened on, so running out of disk raises ENOSPC naming
    ``path`` (the file being written), not a SIGBUS at the first page the map cannot back."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise disk_full(path) from None
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: checked above only
            raise
    finally:
        os.close(fd)


def split_array(kind: str, split: str, names: list[str], frames_root: str | Path, flow_root: str | Path | None,
                folder: str | Path) -> tuple[torch.Tensor, Path]:
    """The ``kind`` rows of videos ``names`` (in order), memory-mapped from ``folder``; written first if need be.

    Returns the tensor (``(V, T, 3, H, W)`` uint8 or ``(V, T, 2, H, W)`` float16, values
    and strides exactly those of decoding the files) and the array's path.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown split array kind {kind!r}; expected one of {sorted(KINDS)}")
    frames_root, folder = Path(frames_root), Path(folder)
    flow_root = Path(flow_root) if flow_root is not None else None
    path, record = folder / f"{split}.{kind}.npy", folder / f"{split}.{kind}.json"
    made_by = stamp({"videos": digest(names), "files": inputs_digest(kind, names, frames_root, flow_root)},
                    {"kind": kind, "dtype": np.dtype(KINDS[kind]).name, "format": FORMAT}, CODE)
    why = _why_unusable(path, record, made_by)
    if why is not None:
        (log.info if why == "not made yet" else log.warning)("%s: written anew: %s", path, why)
        _write(path, record, kind, names, frames_root, flow_root, made_by)
    return open_array(path, kind), path


CODE = code_version(__name__, libraries=("opencv", "numpy"))  # the decoders and this writer, hashed at import
