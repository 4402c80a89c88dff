"""Small I/O helpers shared by every stage: atomic writes, JSON, progress bars."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm  # the terminal bar: the executed notebooks stay free of widget warnings


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """A temp path beside ``path`` to write to; renamed onto ``path`` only if the block succeeds.

    A crash or an error never leaves half a file under the real name, and the temp
    file is removed on failure. Hidden (``.name.<pid>.tmp``), so globs for outputs
    skip it; the process id keeps parallel writers apart. ``suffix``: a file type
    the writer insists on (OpenCV picks the container by ``.mp4``, numpy adds ``.npy``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix or ''}")
    tmp.unlink(missing_ok=True)  # never write through whatever is there (a planted symlink)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_torch_atomic(obj, path: str | os.PathLike) -> None:
    """``torch.save`` of ``obj`` onto ``path`` through a temp file, with the same bytes whatever the path.

    Why not ``torch.save(obj, tmp)``: PyTorch names its zip archive's root folder after the
    file it writes, so a checkpoint saved through ``.model.pt.<pid>.tmp`` carried the process
    id in its bytes and no two runs wrote the same file. Serialised in memory, the root is
    always ``archive``: the same weights give the same file (and DVC the same hash).
    Torch is imported here, not at the top: most users of this module never touch a tensor.
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def write_csv_atomic(table, path: str | os.PathLike) -> None:
    """``table.to_csv(path, index=False)`` through a temp file and a rename.

    Why not in place: with DVC's hardlinked cache (``.dvc/config``) a kept output is the cache's
    own file, read-only but writable by root; writing through it (a notebook rerun by hand,
    outside ``dvc repro``) would change the cached copy. A rename leaves it as it was.
    """
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON through a temp file and a rename, so a crash never leaves half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def sha256(path: str | os.PathLike) -> str:
    """The file's SHA-256, read in 1 MiB blocks (videos do not fit comfortably in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths) -> str:
    """One SHA-256 over the bytes of several small files, in the order given (a video's 16 JPEGs)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def progress(iterable, **kwargs):
    """tqdm that stays quiet when stderr is not a terminal and DFD_PROGRESS is unset."""
    disable = not (sys.stderr.isatty() or os.environ.get("DFD_PROGRESS"))
    return tqdm(iterable, disable=disable, **kwargs)


def worker_count(workers: int | None) -> int:
    """``workers`` processes, or one per core when it is 0 or unset (``params.yaml``: ``workers: 0``)."""
    return workers if workers and workers > 0 else (os.cpu_count() or 1)


def process_pool(workers: int | None) -> ProcessPoolExecutor:
    """Worker processes started fresh ("spawn"), never forked.

    A forked child inherits the parent's OpenCV and OpenMP thread pools in whatever
    state they were: after the parent has run a parallel OpenCV call (a face
    detection in a notebook, say), the child's first one can wait forever.
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``target`` as a second name of ``source``'s bytes (a hard link: no copy, and it can never go stale, since a
    writer that replaces ``source`` makes a new file); a copy where the two lie on different file systems."""
    if not Path(source).is_file():
        raise FileNotFoundError(f"{source}: missing (the stage that writes it has not run, or its output was removed)")
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def link_tree(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``target`` made anew as a tree of :func:`link_or_copy` of every file under ``source``."""
    if not Path(source).is_dir():
        raise FileNotFoundError(f"{source}: missing (the stage that writes it has not run, or its output was removed)")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=link_or_copy)


def mount_point(path: str | os.PathLike) -> Path:
    """The mount point (the disk) that holds ``path``, or would hold it once written."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes an unprivileged writer may still put on the disk holding ``path``."""
    st = os.statvfs(mount_point(path))
    return st.f_bavail * st.f_frsize


def disk_full(path: str | os.PathLike, needed: int | None = None) -> OSError:
    """ENOSPC naming the disk and the file being written (the kernel's error names neither)."""
    free = free_bytes(path)
    want = f", {needed} needed" if needed is not None else ""
    return OSError(errno.ENOSPC, f"no space left on the disk mounted at {mount_point(path)} ({free} bytes free{want}) "
                                 f"while writing {path}")


def ensure_space(path: str | os.PathLike, needed: int) -> None:
    """Refuse, before anything is written, a file of ``needed`` bytes that the disk holding ``path`` cannot take."""
    if free_bytes(path) < needed:
        raise disk_full(path, needed)
