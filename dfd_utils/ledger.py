"""The ledger of a folder of generated files: what made each one, its SHA-256, and what may be pruned.

Split from ``dfd_utils.provenance`` (the stamps it records): a generating source (``sources.clip_set``,
``sources.dfdc``) keeps one per output folder.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from dfd_utils.io import atomic_path, link_or_copy, write_json_atomic
from dfd_utils.kept import CHANGED, remember, warn, why_changed
from dfd_utils.provenance import Redone, why_stale

log = logging.getLogger(__name__)


class Ledger:
    """The stamps of the files a generating source wrote into one folder (``provenance.json``).

    ``{file name: {"made_by": stamp, "sha256": hex, "stat": [size, mtime_ns]}}``, saved
    at least every second, so an interrupted run keeps what it finished. It is also the list of what the source
    made: :meth:`prune` removes only files listed here, never a file it did not write.
    ``checksums.json`` (name -> SHA-256, the DFDC source's format) is written from it
    for stage 02, which keys each video's frames on its source's checksum.
    """

    FILE = "provenance.json"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / self.FILE
        try:
            entries = json.loads(path.read_text()) if path.is_file() else {}
        except ValueError:
            log.warning("%s: unreadable, every file is made again", path)
            entries = {}
        if not isinstance(entries, dict):
            log.warning("%s: not a JSON object, every file is made again", path)
            entries = {}
        planted = sorted(str(k) for k, v in entries.items() if not (is_plain_name(k) and isinstance(v, dict)))
        if planted:  # a ledger comes back with a DVC checkout: never trust it with a path
            log.warning("%s: ignored %d entries that are not plain file names in this folder: %s", path,
                        len(planted), planted[:3])
        self.entries = {k: v for k, v in entries.items() if str(k) not in planted}
        self._saved = time.monotonic()

    def why(self, name: str, made_by: dict) -> str | None:
        """None when ``name`` exists and was made by ``made_by``; else why it must be made.

        The file's SHA-256 is recomputed (``dfd_utils.kept``: a size and mtime restored after an edit prove nothing),
        but for a file this process wrote.
        """
        entry = self.entries.get(name)
        path = self.folder / name
        if entry is None or not path.is_file():
            return "not made yet" if entry is None else "its file is gone"
        why = why_stale(entry.get("made_by"), made_by)
        if why is None and why_changed(path, entry.get("sha256")) is not None:  # hashed: an mtime can be restored
            warn(path, CHANGED, "made again")
            return "its file was changed by hand"
        if why is None:
            entry["stat"] = _stat(path)  # the bytes recorded (a DVC checkout moves the mtime): adopt's race check
        return why

    def to_make(self, stamps: dict[str, dict], redone: Redone, donors: tuple[Ledger, ...] = ()) -> list[str]:
        """The planned names (``stamps``: name -> stamp) whose file must be made; files no longer planned are pruned.

        Each name's reason (or its reuse) is noted in ``redone``. ``donors``: ledgers of other folders; a name one
        of them made by exactly its stamp is linked from there instead (:meth:`adopt`).
        """
        self.prune(set(stamps))
        todo, adopted = [], False
        for name, made_by in stamps.items():
            why = self.why(name, made_by)
            donor = next((d for d in donors if why is not None and self.adopt(d, name, made_by)), None)
            if donor is not None:
                redone.link(name, donor.folder, why)
                adopted = True
                continue
            redone.note(name, why)
            if why is not None:
                todo.append(name)
        if adopted:
            self.save()
        return todo

    def adopt(self, donor: Ledger, name: str, made_by: dict) -> bool:
        """Link ``donor``'s file ``name`` here when the donor made it by exactly ``made_by``; whether it did.

        Why: chapter 12's three families share their sixty originals, made by the same stamp
        (a real's holds no fake's knob): rendering them once is enough. The stamp, not the
        name, decides, and the donor's own check runs first (its file still what it recorded).
        A hard link: both folders' writers replace files, never write into them, so neither can change the other.
        """
        if donor.folder.resolve() == self.folder.resolve() or donor.why(name, made_by) is not None:
            return False
        target, recorded = self.folder / name, donor.entries[name]
        try:
            with atomic_path(target) as tmp:
                link_or_copy(donor.folder / name, tmp)
                if _stat(tmp) != recorded["stat"]:  # replaced since it was checked: not the file the donor recorded
                    raise _Replaced  # out of the block before its rename: the link is removed, never put in place
        except _Replaced:
            return False
        self.entries[name] = {"made_by": made_by, "sha256": recorded["sha256"], "stat": _stat(target)}
        return True

    def record(self, name: str, made_by: dict, digest: str | None = None) -> None:
        """Note that ``name`` was made by ``made_by`` (``digest``: its SHA-256 when the caller has it)."""
        path = self.folder / name
        self.entries[name] = {"made_by": made_by, "sha256": remember(path, digest), "stat": _stat(path)}
        if time.monotonic() - self._saved > 1.0:  # at most a save a second: a crash loses a second of work
            self.save()

    def forget(self, name: str) -> None:
        if self.entries.pop(name, None) is not None:
            self.save()

    def prune(self, keep: set[str]) -> list[str]:
        """Remove files this ledger made that are not in ``keep``; returns their names."""
        gone = sorted(set(self.entries) - keep)
        for name in gone:
            (self.folder / name).unlink(missing_ok=True)
            del self.entries[name]
        if gone:
            self.save()
            log.warning("%s: removed %d files no longer in the plan", self.folder, len(gone))
        return gone

    def save(self) -> None:
        write_json_atomic(self.folder / self.FILE, self.entries)
        self._saved = time.monotonic()

    def write_checksums(self, names) -> dict[str, str]:
        self.save()
        sums = {n: self.entries[n]["sha256"] for n in sorted(names)}
        write_json_atomic(self.folder / "checksums.json", sums)
        return sums


class _Replaced(Exception):
    """A donor's file replaced between its check and its link."""


def is_plain_name(name) -> bool:
    """A bare file name: no folder part, no ``..``, not absolute, not too long for a file system."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name and not (len(name) > 1 and name[1] == ":"))


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]
