"""Kept outputs verified, not trusted: a file is reused only while its bytes are those recorded when it was written.

Every output kept across runs (a clip, a video's frames, its flow, a split array, a
feature cache entry, a training state) has its SHA-256 (:func:`dfd_utils.io.sha256`,
the one file digest of the package) recorded by its writer: in the record the stage
already keeps (a ledger, ``info.json``, a flow or array stamp) or, for files with no
record of their own (``.pt`` feature entries, ``best.pt``/``last.pt``), in a sidecar
``<file>.sha256`` (:func:`seal`). Before such a file is reused for a result its bytes
are hashed again and compared (:func:`why_changed`): a size and mtime that did not move
prove nothing, since an edit can restore both (``touch -r``, a copy with ``-p``). The
one shortcut: a file this process wrote itself, whose size and mtime are still those it
had then, is not read again (:func:`remember`).

A mismatch is reported by :func:`warn` (a WARNING naming the file) and the caller makes
the file again, as if it had never been made: the same inputs give the same bytes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dfd_utils.io import atomic_path, sha256

log = logging.getLogger(__name__)

CHANGED = "its bytes differ from the SHA-256 recorded when it was written"
UNRECORDED = "no SHA-256 was recorded when it was written"
_WRITTEN: dict[str, tuple[tuple[int, int, int], str]] = {}  # path -> (inode, size, mtime_ns), its SHA-256


def _key(path: str | os.PathLike) -> str:
    return os.path.abspath(path)


def _stat(path: str | os.PathLike) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def remember(path: str | os.PathLike, digest: str | None = None) -> str:
    """Note ``path`` as written by this process just now; returns its SHA-256 (``digest``: when the caller has it).

    Call it after the final rename (a rename keeps the inode, size and mtime of the temp file).
    """
    digest = digest or sha256(path)
    _WRITTEN[_key(path)] = (_stat(path), digest)
    return digest


def current_digest(path: str | os.PathLike) -> str:
    """``path``'s SHA-256: read again, unless this process wrote it and its inode, size and mtime are unchanged."""
    written = _WRITTEN.get(_key(path))
    if written is not None and written[0] == _stat(path):
        return written[1]
    return sha256(path)


def why_changed(path: str | os.PathLike, recorded) -> str | None:
    """None when ``path``'s bytes hash to ``recorded``; else why it cannot be reused."""
    if not isinstance(recorded, str) or not recorded:
        return UNRECORDED
    return None if current_digest(path) == recorded else CHANGED


def warn(path: str | os.PathLike, why: str, action: str = "made again") -> None:
    """The one line a reader sees when a kept file is not reused because of its bytes."""
    log.warning("%s: %s; %s", path, why, action)


def sidecar(path: str | os.PathLike) -> Path:
    return Path(f"{path}.sha256")


def seal(path: str | os.PathLike, digest: str | None = None) -> str:
    """Record ``path``'s SHA-256 beside it (``<path>.sha256``), for a file whose writer keeps no record of its own."""
    digest = remember(path, digest)
    with atomic_path(sidecar(path)) as tmp:
        tmp.write_text(digest + "\n")
    return digest


def why_unsealed(path: str | os.PathLike) -> str | None:
    """None when ``path`` still holds the bytes :func:`seal` recorded; else why not (no record, or changed)."""
    try:
        recorded = sidecar(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return UNRECORDED
    return why_changed(path, recorded)


def unseal(path: str | os.PathLike) -> None:
    """Remove ``path`` and its record."""
    Path(path).unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)
