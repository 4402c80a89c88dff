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
from collections import Counter
from functools import cache
from pathlib import Path

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
