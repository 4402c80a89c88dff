"""Names read from files a user did not write (a part's ``part.json``, a manifest, metadata) before they become paths.

A video name becomes a folder under an output (``<frames>/<stem>/``) that may be removed
and made anew: ``".."`` or ``"/home/x.mp4"`` there would remove or write outside it. Every
such name must be a plain video file name; anything else is refused, naming the file it
came from, before anything is removed or written. :func:`printable` escapes control
characters for text output (a file name holding a newline or ESC must not rewrite the
terminal or forge a line).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from dfd_utils.sources.metadata import VIDEO_SUFFIXES

MAX_NAME = 255  # bytes a file name may take on common file systems


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def video_name_problem(name) -> str | None:
    """Why ``name`` is not a plain video file name, or None when it is one."""
    if not isinstance(name, str):
        return f"{name!r} is not a file name (a {type(name).__name__})"
    if not name or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
        return f"{name!r} is empty or too long for a file name"
    if _has_control(name):
        return f"{name!r} holds control characters"
    if "/" in name or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return f"{name!r} is a path, not a plain file name (folders and absolute paths are refused)"
    stem = PurePosixPath(name).stem
    if name.startswith(".") or stem in ("", ".", "..") or stem.startswith("."):
        return f"{name!r} is not a plain file name ('..' and hidden names are refused)"
    if PurePosixPath(name).suffix.lower() not in VIDEO_SUFFIXES:
        return f"{name!r} is not a video file name ({', '.join(sorted(VIDEO_SUFFIXES))})"
    return None


def check_video_name(name, where) -> str:
    """``name`` if it is a plain video file name; else ``ValueError`` naming ``where`` (the file it came from)."""
    problem = video_name_problem(name)
    if problem:
        raise ValueError(f"{where}: video name {problem}; nothing was written or removed")
    return name


def check_plain_name(name, where, what: str = "name") -> str:
    """A plain name (no folder, no ``..``, no control character), any suffix: a profile's name, a part's source."""
    if (not isinstance(name, str) or not name or len(name) > MAX_NAME or _has_control(name) or "/" in name
            or "\\" in name or name in (".", "..") or (len(name) > 1 and name[1] == ":")):
        raise ValueError(f"{where}: {what} {name!r} is not a plain name (folders, '..', absolute paths and "
                         "control characters are refused)")
    return name


def printable(text) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): safe to print on one terminal line."""
    text = str(text)
    if not _has_control(text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if (ord(c) < 32 or 127 <= ord(c) < 160) else c
                   for c in text)
