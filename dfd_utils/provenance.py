"""What made a kept output: fingerprints of inputs, settings and code, and the stamps that record them.

Everything kept across runs (a generated clip, a video's frames, its flow, a training
run) is a *unit* with a stamp: ``{"inputs": ..., "settings": ..., "code": ...}``. A unit
is reused only when its stored stamp equals the one the current run would write;
otherwise it is redone, and :func:`why_stale` says in one line what changed
(``settings: seam 0.6 -> 0.3``, ``inputs: source video``, ``code: dfd_utils/flow.py``).

The code version of a unit is the SHA-256 of every ``dfd_utils`` file its maker
imports, followed transitively (:func:`code_version`), plus the versions of the
libraries whose output it keeps (OpenCV encodes the JPEGs, torch trains the model).
A hash of the import closure is automatic (adding an import cannot leave a stale
key behind) and conservative: an edit to a shared helper redoes the units that load
it, which costs time but never a wrong reuse.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import json
import logging
import sys
import time
from collections import Counter
from functools import cache
from pathlib import Path

from dfd_utils.io import atomic_path, link_or_copy, sha256, write_json_atomic

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent


def digest(obj) -> str:
    """SHA-256 of a JSON-able value in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _module_file(module: str) -> Path | None:
    """``dfd_utils.x.y`` -> its file (a module, or a package's ``__init__``), None outside the package."""
    if module != "dfd_utils" and not module.startswith("dfd_utils."):
        return None
    base = PACKAGE.parent / module.replace(".", "/")
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return path if path.is_file() else None


def imported_modules(source: str) -> set[str]:
    """Every module name a piece of Python source imports (``from a import b`` gives ``a`` and ``a.b``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def module_closure(modules: set[str] | list[str] | tuple[str, ...]) -> set[Path]:
    """Every ``dfd_utils`` file that importing ``modules`` loads, parent packages included."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            path = _module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            todo += list(imported_modules(path.read_text()))
    return seen


LIBRARIES = {"opencv": "cv2", "numpy": "numpy", "torch": "torch", "torchvision": "torchvision"}  # name -> module


def module_version(module: str) -> str:
    """``module.__version__``, read from its ``version.py`` where the module is not imported yet.

    Why not import it: ``import torchvision`` costs about a second (it pulls in ``torch._dynamo``),
    and a notebook that trains EfficientNet-Lite0 never needs torchvision itself. The file is
    what the package's ``__init__`` reads (``0.29.1+cu130``, where the wheel's metadata says ``0.29.1``).
    """
    if module in sys.modules:
        return str(sys.modules[module].__version__)
    spec = importlib.util.find_spec(module)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        version_file = Path(folder) / "version.py"
        if version_file.is_file():
            for node in ast.parse(version_file.read_text()).body:
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                        and any(getattr(t, "id", None) == "__version__" for t in node.targets)):
                    return str(node.value.value)
    return str(importlib.import_module(module).__version__)


def _library_version(name: str) -> str:
    """The version the library itself reports (whichever wheel provides it: opencv-python, -headless, -contrib)."""
    try:
        return module_version(LIBRARIES.get(name, name))
    except (ImportError, AttributeError):
        return "absent"


@cache
def code_version(*modules: str, libraries: tuple[str, ...] = ()) -> dict:
    """The code that makes a unit: ``{file: sha256}`` over the import closure of ``modules``, and library versions.

    Cached per process: the files do not change while a stage runs.
    """
    files = {str(p.relative_to(PACKAGE.parent)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
             for p in sorted(module_closure(modules))}
    return {"files": files, "libraries": {lib: _library_version(lib) for lib in libraries}}


def stamp(inputs, settings, code: dict) -> dict:
    """The record kept beside a unit: what it was made from, with what settings, by which code.

    Normalised through JSON (tuples become lists), so a stamp read back from disk
    compares equal to the one the current run makes.
    """
    return json.loads(json.dumps({"inputs": inputs, "settings": settings, "code": code}, sort_keys=True, default=str))


def _changed_keys(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old:
                out.append(f"{prefix}{key} (new)")
            elif key not in new:
                out.append(f"{prefix}{key} (gone)")
            elif old[key] != new[key]:
                sub = _changed_keys(old[key], new[key], f"{prefix}{key}.")
                out += sub or [f"{prefix}{key}"]
        return out
    if old == new:
        return []
    return [f"{prefix.rstrip('.')} {_short(old)} -> {_short(new)}" if prefix else f"{_short(old)} -> {_short(new)}"]


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 24 else text[:21] + "..."


def why_stale(saved: dict | None, current: dict) -> str | None:
    """None when ``saved`` matches ``current``; else one line naming what changed."""
    if saved is None:
        return "no record of what made it"
    if not isinstance(saved, dict) or set(saved) != set(current):
        return "its record is from an older format"
    parts = []
    for part in ("inputs", "settings", "code"):
        if saved[part] != current[part]:
            keys = _changed_keys(saved[part], current[part])
            if part == "code":
                keys = [k.split(" ")[0] for k in keys]
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            parts.append(f"{part} changed ({shown})" if shown else f"{part} changed")
    return "; ".join(parts) or None


class Redone:
    """Counts why units were redone, for one summary line per stage (each unit also logs its own line)."""

    def __init__(self, what: str):
        self.what = what
        self.reasons: Counter[str] = Counter()
        self.reused = 0
        self.linked = 0  # taken from another folder that made them by the same stamp (a hard link, no work)
        self.stale_linked = 0  # of those, units that were here but stale

    def note(self, unit: str, reason: str | None) -> None:
        if reason is None:
            self.reused += 1
            return
        kind = reason.split(" (")[0] if reason != "not made yet" else reason
        self.reasons[kind] += 1
        if reason != "not made yet":
            log.info("%s of %s redone: %s", self.what, unit, reason)

    def link(self, unit: str, source: Path, reason: str | None = None) -> None:
        """``unit`` was not here (``reason``: or was, but stale) and is linked from ``source``, which made it by the
        same stamp."""
        self.linked += 1
        if reason is not None and reason != "not made yet":
            self.stale_linked += 1
            log.info("%s of %s redone (linked from %s): %s", self.what, unit, source, reason)

    def summary(self) -> str:
        made = sum(self.reasons.values())
        why = ", ".join(f"{k}: {n}" for k, n in self.reasons.most_common())
        linked = f", {self.linked} linked from a folder that made them alike" if self.linked else ""
        return f"{self.what}: {self.reused} reused{linked}, {made} made" + (f" ({why})" if why else "")

    def log(self) -> None:
        stale = sum(n for k, n in self.reasons.items() if k != "not made yet") + self.stale_linked
        (log.warning if stale else log.info)(self.summary())


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

        The file's SHA-256 is recomputed only when its size or mtime moved (as make and
        git do), so checking 825 DFDC clips costs a ``stat`` each, not 8 GB of reading.
        """
        entry = self.entries.get(name)
        path = self.folder / name
        if entry is None or not path.is_file():
            return "not made yet" if entry is None else "its file is gone"
        why = why_stale(entry.get("made_by"), made_by)
        if why is None and _stat(path) != entry.get("stat"):
            if entry.get("sha256") != sha256(path):
                return "its file was changed by hand"
            entry["stat"] = _stat(path)  # same bytes, new mtime (a DVC checkout): hash it once, not every run
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
        with atomic_path(target) as tmp:
            link_or_copy(donor.folder / name, tmp)
            if _stat(tmp) != recorded["stat"]:  # replaced since it was checked: not the file the donor recorded
                return False
        self.entries[name] = {"made_by": made_by, "sha256": recorded["sha256"], "stat": _stat(target)}
        return True

    def record(self, name: str, made_by: dict, digest: str | None = None) -> None:
        """Note that ``name`` was made by ``made_by`` (``digest``: its SHA-256 when the caller has it)."""
        path = self.folder / name
        self.entries[name] = {"made_by": made_by, "sha256": digest or sha256(path), "stat": _stat(path)}
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


def is_plain_name(name) -> bool:
    """A bare file name: no folder part, no ``..``, not absolute, not too long for a file system."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name and not (len(name) > 1 and name[1] == ":"))


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]
