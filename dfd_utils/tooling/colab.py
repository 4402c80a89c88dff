"""Colab: every notebook's badge and install cell, rendered from the repository's one URL.

The URL is ``[project.urls] Repository`` in ``pyproject.toml``, or the git remote
``origin`` when it is on GitHub (a fork's badges then open, and its install cells
clone, the fork). ``python -m dfd_utils.tooling.colab`` (``make colab``) writes three things
into each notebook, and ``tests/test_colab.py`` fails while one is stale:

* the badge line of the first (markdown) cell: opens the notebook in Colab;
* the first code cell, the ``parameters`` cell: its leading comment says what to
  choose (the profile: the data, the model size, the device);
* the install cell right after it (tagged ``colab``; the book removes it): on Colab
  only, it clones the project, installs it with its ``study`` extra and says whether
  the session must restart; elsewhere it does nothing and prints nothing.

The install cell cannot import this package (it is what the cell installs): it runs
``dfd_utils/tooling/colab_install.py``, standard library only, fetched from the repository.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from dfd_utils.paths import project_root

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BRANCH = "main"
COLAB_PROJECT = "/content/dfd"  # where the install cell clones the project on Colab
TAG = "colab"  # the install cell's tag (with remove-cell: the book leaves it out)
BADGE_LINE = re.compile(r"^\[!\[Open in Colab\]\(.*$", re.MULTILINE)

PARAMETERS_HELP = '''\
# Your choices, when you run this notebook by hand (JupyterLab, Colab); DVC passes the values its stage tracks.
# params = None: params.yaml, the demo profile (synthetic videos, minutes, on the GPU if any); "smoke": the same in
# seconds; "paper": the paper's run (DFDC videos under data/dfdc, ResNet50) with device cuda: it needs a GPU
# (on Colab: Runtime > Change runtime type > GPU). A profile's `device: auto` takes the GPU when there is one.
root = "."  # where the study's files go, relative to the project (the tests use "build/smoke")
params = None'''

INSTALL_CELL = '''\
# On Colab only (elsewhere this cell does nothing): clone the study, install it with its study extra and say
# whether the session must restart (pip replaced a package it had already imported, e.g. numpy):
# dfd_utils/tooling/colab_install.py, fetched from the repository, does it with the standard library alone.
import sys
from urllib.request import urlopen

if "google.colab" in sys.modules:
    exec(urlopen("{script}").read(), {{"REPO": "{url}", "PROJECT": "{project}"}})  # noqa: E501'''
INSTALL_SCRIPT = "dfd_utils/tooling/colab_install.py"


def pyproject_url(root: Path | None = None) -> str:
    """``[project.urls] Repository`` of ``pyproject.toml``: the repository's one URL."""
    data = tomllib.loads(((root or project_root()) / "pyproject.toml").read_text())
    return data["project"]["urls"]["Repository"]


def github_https(remote: str) -> str | None:
    """``https://github.com/owner/repo`` for a GitHub remote (ssh or https, with or without ``.git``), else None."""
    match = re.fullmatch(r"(?:git@github\.com:|ssh://git@github\.com/|https://(?:[^@/]+@)?github\.com/)"
                         r"([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote.strip())
    return f"https://github.com/{match[1]}/{match[2]}" if match else None


def git_remote(root: Path) -> str | None:
    """The URL of the remote ``origin``, or None (no git, no remote)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def repository_url(root: Path | None = None) -> str:
    """The GitHub remote ``origin`` as https when there is one, else ``pyproject.toml``'s URL."""
    root = root or project_root()
    remote = git_remote(root)
    return (github_https(remote) if remote else None) or pyproject_url(root)


def badge(url: str, notebook: str) -> str:
    """The markdown line that opens ``notebooks/<notebook>`` of the repository at ``url`` in Colab."""
    path = url.removeprefix("https://github.com/")
    return f"[![Open in Colab]({COLAB_BADGE})](https://colab.research.google.com/github/{path}/blob/{BRANCH}/" \
           f"notebooks/{notebook})"


def script_url(url: str) -> str:
    """Where the install cell fetches ``colab_install.py``: GitHub's raw file on ``BRANCH``, or a local clone's."""
    if url.startswith("https://github.com/"):
        return f"https://raw.githubusercontent.com/{url.removeprefix('https://github.com/')}/{BRANCH}/{INSTALL_SCRIPT}"
    if url.startswith("file://"):
        return f"{url}/{INSTALL_SCRIPT}"  # a local repository (the simulated Colab test)
    raise ValueError(f"{url}: Colab opens notebooks from GitHub only; set [project.urls] Repository to a GitHub URL")


def install_cell(url: str, project: str = COLAB_PROJECT) -> str:
    return INSTALL_CELL.format(script=script_url(url), url=url, project=project)


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def render(nb, notebook: str, url: str):
    """``nb`` (an nbformat notebook) with its badge, parameters help and install cell as ``url`` makes them.

    Order: the markdown title cell, the ``parameters`` cell (the first code cell: the
    choices), the install cell, then the notebook's own code.
    """
    import nbformat

    first = nb.cells[0]
    if first.cell_type != "markdown" or not BADGE_LINE.search(first.source):
        raise ValueError(f"{notebook}: the first cell must be markdown with an `[![Open in Colab](...)` line")
    first.source = BADGE_LINE.sub(lambda _: badge(url, notebook), first.source, count=1)

    params = [c for c in nb.cells if "parameters" in _tags(c)]
    if len(params) != 1:
        raise ValueError(f"{notebook}: needs exactly one cell tagged parameters")
    cell = params[0]
    lines = cell.source.splitlines()
    last = next(i for i, line in enumerate(lines) if line.startswith("params ="))
    own = lines[last + 1:]  # the notebook's own parameters, e.g. model_name
    cell.source = "\n".join([PARAMETERS_HELP, *own])

    old = [c for c in nb.cells if TAG in _tags(c) or c.source.startswith("# On Colab")]
    install = old[0] if old else nbformat.v4.new_code_cell()
    install.source = install_cell(url)
    install.metadata["tags"] = ["remove-cell", TAG]
    rest = [c for c in nb.cells[1:] if c is not cell and all(c is not o for o in old)]
    nb.cells = [first, cell, install, *rest]
    return nb


def notebooks(root: Path | None = None) -> list[Path]:
    return sorted(((root or project_root()) / "notebooks").glob("*.ipynb"))


def rendered(path: Path, url: str) -> str:
    """The text ``path`` must hold: nbformat's serialisation with the canonical metadata (``dfd_utils.tooling.lab``)."""
    import nbformat

    from dfd_utils.tooling.lab import canonical

    nb = canonical(render(nbformat.read(path, as_version=4), path.name, url))
    return nbformat.writes(nb) + "\n"  # nbformat.write adds the final newline


def stale(root: Path | None = None, url: str | None = None) -> list[str]:
    """The notebooks whose badge, parameters help or install cell differ from what ``url`` renders."""
    url = url or repository_url(root)
    return [p.name for p in notebooks(root) if p.read_text() != rendered(p, url)]


def write(root: Path | None = None, url: str | None = None) -> list[str]:
    """Rewrite the notebooks that are stale; returns their names."""
    url = url or repository_url(root)
    changed = []
    for path in notebooks(root):
        text = rendered(path, url)
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path.name)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is stale")
    args = parser.parse_args(argv)
    url = repository_url()
    names = stale(url=url) if args.check else write(url=url)
    verb = "stale" if args.check else "rewritten"
    print(f"{url}: {len(names)} notebook(s) {verb}" + (f": {', '.join(names)}" if names else ""))
    return 1 if args.check and names else 0


if __name__ == "__main__":
    sys.exit(main())
