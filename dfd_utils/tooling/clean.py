"""Free the disk a finished study no longer needs: caches that are rebuilt on demand, nothing DVC tracks.

After ``make repro`` the default study holds about 12 GB under ``artifacts/``, and two kinds of file in it
are kept only to make a *later* rerun faster:

* **split arrays** (``**/artifacts/arrays/``, :mod:`dfd_utils.split_arrays`): each split's frames and flow
  decoded into one memory-mapped array, 2.6 GiB; ``.dvcignore`` hides them from DVC, and a stage that
  needs one writes it again from the frame store (seconds per split);
* **resumable training states** (``last.pt`` and its seal in each run folder: weights, Adam's moments, RNG
  states), 2.9 GiB (both measured on the default study); no DVC output either. Without one, a rerun that
  could have resumed or reused a finished run trains it again, with the same result (training is seeded
  and deterministic on the CPU).

``python -m dfd_utils.tooling.clean`` (``make clean-cache``) removes both, saying how much each freed; ``--dry-run``
only says it. The weights the study publishes (``artifacts/models``), each run's ``best.pt``, frames, flow,
metrics and executed notebooks are never touched, so ``dvc status`` stays clean. It refuses while a DVC
command holds the repository's lock (a running ``dvc repro`` may be reading an array).
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import sys
from pathlib import Path

from dfd_utils.paths import project_root

RESUME_FILES = ("last.pt", "last.pt.sha256")


def dvc_busy(root: Path) -> bool:
    """Whether a DVC command holds ``.dvc/tmp/lock`` (DVC's zc.lockfile: an flock on that file)."""
    lock = root / ".dvc" / "tmp" / "lock"
    if not lock.is_file():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())


def rebuildable(artifacts: Path) -> dict[str, list[Path]]:
    """What :func:`clean` would remove under ``artifacts``: split-array folders and resumable states.

    Links are never followed: a link is removed as a link, and nothing outside ``artifacts`` is looked at.
    """
    arrays, states = [], []
    for folder, dirs, files in os.walk(artifacts):  # os.walk does not descend into linked folders
        here = Path(folder)
        if here.name == "arrays" and here.parent.name == "artifacts":
            arrays.append(here)
            dirs[:] = []
            continue
        states += [here / f for f in files if f in RESUME_FILES]
    return {"split arrays": sorted(arrays), "resumable training states": sorted(states)}


def clean(root: Path, dry_run: bool = False) -> dict[str, int]:
    """Remove the rebuildable caches under ``root/artifacts``; returns the bytes freed per kind."""
    if dvc_busy(root):
        raise RuntimeError(f"{root / '.dvc' / 'tmp' / 'lock'}: a DVC command is running; clean when it ends")
    freed = {}
    for kind, paths in rebuildable(root / "artifacts").items():
        freed[kind] = sum(_size(p) for p in paths)
        if dry_run:
            continue
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return freed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dfd_utils.tooling.clean", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="the project (default: this checkout)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be freed, remove nothing")
    args = parser.parse_args(argv)
    root = args.root or project_root()
    try:
        freed = clean(root, args.dry_run)
    except RuntimeError as err:
        print(f"dfd clean: {err}", file=sys.stderr)
        return 2
    verb = "would free" if args.dry_run else "freed"
    for kind, size in freed.items():
        print(f"{kind}: {verb} {size / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
