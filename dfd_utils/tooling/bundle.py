"""A results bundle: what the book shows, without the 7 GB of data, weights and caches that made it.

    python -m dfd_utils.tooling.bundle make [--root .] [--out build/dfd-results.tar.gz]
    python -m dfd_utils.tooling.bundle book BUNDLE [--root build/bundle]

``make`` packs one run's executed notebooks (``artifacts/executed``), its ``metrics/`` and
its *Model and data cards* page (rendered from the checkpoints, which stay behind) with a
``MANIFEST.json``: each file's SHA-256, the commit and ``dvc.lock``'s SHA-256, so a reader
knows which run and which code a bundle holds. A release attaches it (a few MB); ``make
book BUNDLE=...`` (``book``) checks and unpacks it into its own folder and builds the book
there: no data, no training, no DVC cache. The tar is deterministic (sorted members, no
times or owners), so the same run gives the same bundle bytes.

Unpacking reads a file someone else made, so it is strict before writing anything: only
regular files under the three known names, no path that leaves the folder, every file's
bytes those the manifest lists, nothing over :data:`MAX_BYTES`; and it writes only into a
folder that is empty or holds an earlier unpack (its ``BUNDLE.json``), never over other work.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

from dfd_utils.io import atomic_path, write_json_atomic
from dfd_utils.paths import Paths, project_root
from dfd_utils.pipeline import chapters

MANIFEST = "MANIFEST.json"
MARKER = "BUNDLE.json"  # left in the folder a bundle was unpacked into: the next unpack may replace it
CARDS = "cards.md"
MEMBER = re.compile(r"^(executed/[A-Za-z0-9_]+\.ipynb|metrics/[A-Za-z0-9_]+\.json|cards\.md|MANIFEST\.json)$")
MAX_BYTES = 512 * 2**20  # a bundle of the demo run is about 7 MB; anything this large is not one
MAX_MEMBERS = 1000  # the demo's has 29
FORMAT = 1


class BundleError(ValueError):
    """A bundle that cannot be made or used; the message names the file and the problem."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _commit(root: Path) -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def contents(root: str | Path = ".") -> dict[str, bytes]:
    """``{member name: bytes}`` of one run: every chapter's executed notebook, its metrics and cards page."""
    from dfd_utils.cards import write_page as write_cards

    paths = Paths.at(root)
    executed = paths.artifacts / "executed"
    names = [c.name for c in chapters()]
    missing = [n for n in names if not (executed / f"{n}.ipynb").is_file()]
    if missing:
        raise BundleError(f"{executed}: no executed notebook for {missing}; run the study first (`make repro`)")
    metrics = sorted(paths.metrics.glob("*.json"))
    if not metrics:
        raise BundleError(f"{paths.metrics}: no metrics files; run the study first (`make repro`)")
    files = {f"executed/{n}.ipynb": (executed / f"{n}.ipynb").read_bytes() for n in names}
    files |= {f"metrics/{p.name}": p.read_bytes() for p in metrics}
    with tempfile.TemporaryDirectory() as tmp:
        files[CARDS] = write_cards(paths.models, Path(tmp) / CARDS).read_bytes()
    return files


def make(root: str | Path = ".", out: str | Path = "build/dfd-results.tar.gz") -> Path:
    """Pack one run into ``out`` (deterministic bytes); returns its path."""
    files = contents(root)
    lock = Paths.at(root).root / "dvc.lock"
    manifest = {"format": FORMAT, "commit": _commit(Paths.at(root).root),
                "dvc_lock_sha256": _sha256(lock.read_bytes()) if lock.is_file() else None,
                "files": {name: _sha256(data) for name, data in sorted(files.items())}}
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    out = Path(out) if Path(out).is_absolute() else project_root() / out
    with atomic_path(out) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return out


class _Limited(io.RawIOBase):
    """A read-only stream that stops with :class:`BundleError` past ``limit`` bytes: the decompressed tar is
    counted as it is read, so no header or member can make the reader hold more than a bundle may."""

    def __init__(self, raw, limit: int, name: Path):
        self.raw, self.left, self.name = raw, limit, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise BundleError(f"{self.name}: unpacks to more than {MAX_BYTES} bytes")
        buffer[: len(data)] = data
        return len(data)


def read(bundle: str | Path) -> tuple[dict, dict[str, bytes]]:
    """``(manifest, {member: bytes})`` of a bundle, every check made before anything is written."""
    bundle = Path(bundle)
    if not bundle.is_file():
        raise BundleError(f"{bundle}: no such file")
    if bundle.stat().st_size > MAX_BYTES:
        raise BundleError(f"{bundle}: {bundle.stat().st_size} bytes, more than a results bundle holds ({MAX_BYTES})")
    files: dict[str, bytes] = {}
    try:
        with gzip.open(bundle) as unzipped, tarfile.open(fileobj=_Limited(unzipped, MAX_BYTES, bundle),
                                                         mode="r|") as tar:  # a stream: members read once, in order
            total = 0
            for info in tar:
                if len(files) >= MAX_MEMBERS:
                    raise BundleError(f"{bundle}: more than {MAX_MEMBERS} members")
                if not info.isfile():
                    raise BundleError(f"{bundle}: member {info.name!r} is not a regular file (a link or folder)")
                if not MEMBER.fullmatch(info.name):
                    raise BundleError(f"{bundle}: unexpected member {info.name!r} (a bundle holds executed/*.ipynb, "
                                      f"metrics/*.json, {CARDS} and {MANIFEST} only)")
                if info.name in files:
                    raise BundleError(f"{bundle}: member {info.name!r} appears twice")
                total += info.size
                if total > MAX_BYTES:
                    raise BundleError(f"{bundle}: unpacks to more than {MAX_BYTES} bytes")
                files[info.name] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise BundleError(f"{bundle}: not a readable .tar.gz ({err})") from None
    if MANIFEST not in files:
        raise BundleError(f"{bundle}: no {MANIFEST}")
    try:
        manifest = json.loads(files.pop(MANIFEST))
        listed = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"{bundle}: {MANIFEST} is not a bundle manifest ({err})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{bundle}: bundle format {manifest.get('format')!r}; this checkout reads format {FORMAT}")
    if set(listed) != set(files):
        raise BundleError(f"{bundle}: {MANIFEST} lists {sorted(set(listed) ^ set(files))} differently from the "
                          "files it holds")
    changed = sorted(name for name, data in files.items() if _sha256(data) != listed[name])
    if changed:
        raise BundleError(f"{bundle}: {changed} do not have the SHA-256 its {MANIFEST} records (damaged or edited)")
    names = {c.name for c in chapters()}
    notebooks = {Path(n).stem for n in files if n.startswith("executed/")}
    if notebooks != names:
        raise BundleError(f"{bundle}: its executed notebooks {sorted(notebooks ^ names)} are not this checkout's "
                          f"chapters (dvc.yaml); made by commit {manifest.get('commit')}")
    return manifest, files


def unpack(bundle: str | Path, root: str | Path = "build/bundle") -> Path:
    """Check ``bundle`` and unpack it as a study root under ``root`` (its ``artifacts/executed``, ``metrics``)."""
    manifest, files = read(bundle)
    paths = Paths.at(root)
    if paths.root.exists():
        if not paths.root.is_dir() or paths.root.is_symlink():
            raise BundleError(f"{paths.root}: exists and is not a folder; choose another --root")
        if any(paths.root.iterdir()) and not (paths.root / MARKER).is_file():
            raise BundleError(f"{paths.root}: not empty and not an earlier bundle's folder (no {MARKER}); "
                              "choose another --root, nothing was written")
        shutil.rmtree(paths.root)  # an earlier unpack: replaced whole, so no file of another run stays
    for name, data in files.items():
        target = paths.artifacts / name if name.startswith("executed/") else paths.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    write_json_atomic(paths.root / MARKER, {"bundle": str(Path(bundle).resolve()), **manifest})
    return paths.root


def book(bundle: str | Path, root: str | Path = "build/bundle") -> Path:
    """Unpack ``bundle`` and build the book of the run it holds; returns the book's ``index.html``."""
    from dfd_utils.tooling import book as book_build

    where = unpack(bundle, root)
    return book_build.build(where, cards=where / CARDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dfd_utils.tooling.bundle", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("make", help="pack this run's executed notebooks, metrics and cards")
    made.add_argument("--root", default=".")
    made.add_argument("--out", default="build/dfd-results.tar.gz")
    built = sub.add_parser("book", help="check and unpack a bundle, then build its book")
    built.add_argument("bundle")
    built.add_argument("--root", default="build/bundle", help="where to unpack (empty, or an earlier bundle's)")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            print(f"bundle: {make(args.root, args.out)}")
        else:
            book(args.bundle, args.root)
    except (BundleError, FileNotFoundError) as err:
        print(f"dfd: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
