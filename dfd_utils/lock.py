"""One writer per output folder: a second run of a stage on the same root stops at once, saying who holds it.

Two runs of one stage writing the same folder (two terminals, a notebook in Lab beside
``dvc repro``) would interleave temp files, stamps and renames. Each stage function
takes an exclusive ``flock`` on ``<folder>.lock`` beside the folder it writes; the
lock dies with its process, so a crash never leaves a stale lock behind. A stage that
links files from another stage's folder (a *donor*: ``ledger.Ledger.adopt``) holds a
shared lock on it meanwhile (:func:`reading`), so it never links a unit half rewritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


class Busy(RuntimeError):
    """Another process is writing the folder."""


@contextlib.contextmanager
def writing(folder: str | os.PathLike):
    """Hold the lock of ``folder`` while the block runs; raise :class:`Busy` if another process holds it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = folder.with_name(f".{folder.name}.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise Busy(f"{folder} is being written by {holder} (lock {path}): wait for it to finish or stop it, "
                       "then run again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(folder: str | os.PathLike) -> Iterator[bool]:
    """Hold a shared lock on ``folder`` while the block reads it: yields True, or False when the folder is missing or
    a writer holds it (the caller then leaves it alone). A writer that starts meanwhile stops with :class:`Busy`."""
    folder = Path(folder)
    if not folder.is_dir():
        yield False
        return
    with open(folder.with_name(f".{folder.name}.lock"), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def held_for_reading(stack: contextlib.ExitStack, folders: Iterable[str | os.PathLike]) -> tuple[Path, ...]:
    """The ``folders`` that :func:`reading` could lock, held until ``stack`` closes; the others are left out."""
    return tuple(Path(f) for f in folders if stack.enter_context(reading(f)))
