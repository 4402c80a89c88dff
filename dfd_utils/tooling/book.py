"""Build the study's HTML book (Jupyter Book 1) from the notebooks papermill executed.

    python -m dfd_utils.tooling.book build [--root .]

No notebook runs again: the executed copies in ``artifacts/executed`` are copied
into ``book/notebooks`` and rendered as they are. MathJax is vendored from the
npm package ``mathjax@3`` (one file, SVG output, so no web fonts) into
``book/_vendor`` and served from the book itself, so pages render offline.
The build uses ``-W --keep-going``: a broken reference fails it.
The *Execution statistics* page (``book/execution.md``) is written at each build from
the executed notebooks' metadata (``dfd_utils.tooling.execution``), and the front page's findings
(``book/findings.md``, included by ``intro.md``) from the run's ``metrics/`` (``dfd_utils.chapters.findings``),
and the *Model and data cards* page (``book/cards.md``) from its checkpoints (``dfd_utils.cards``), so
none is ever stale; git ignores all three. A results bundle (:mod:`dfd_utils.tooling.bundle`) brings the
executed notebooks, metrics and cards page of a run, so its book builds without the run's data or weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from dfd_utils.cards import write_page as write_cards
from dfd_utils.chapters.findings import write_book_page
from dfd_utils.paths import Paths, project_root
from dfd_utils.pipeline import chapters
from dfd_utils.tooling.colab import COLAB_BADGE
from dfd_utils.tooling.execution import write_page
from dfd_utils.tooling.vendor import npm_file

MATHJAX = "mathjax@3.2.2"
MATHJAX_FILE = "tex-svg.js"
CARDS_PAGE = "cards.md"  # generated at each build from the run's checkpoints (dfd_utils.cards); not in git
EXECUTION_PAGE = "execution.md"  # generated at each build (tooling/execution.py), listed last in _toc.yml; not in git


def vendor_mathjax(book: Path) -> Path:
    """``book/_vendor/mathjax/tex-svg.js`` from the npm registry (once; kept out of git)."""
    target = book / "_vendor" / "mathjax" / MATHJAX_FILE
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(npm_file(MATHJAX, f"es5/{MATHJAX_FILE}"))
    return target


def collect_notebooks(root: str | Path, book: Path) -> list[str]:
    """Copy the executed notebooks into the book; returns the chapters found."""
    executed = Paths.at(root).artifacts / "executed"
    names = [c.name for c in chapters()]  # dvc.yaml's order; book/_toc.yml lists the same (tested)
    missing = [c for c in names if not (executed / f"{c}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"{executed}: no executed notebook for {missing} (run `dvc repro` first)")
    out = book / "notebooks"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    sources = [c.split("__")[0] for c in names]
    for c in names:
        book = json.loads((executed / f"{c}.ipynb").read_text())
        first = book["cells"][0]
        text = "".join(first["source"]).replace(COLAB_BADGE, "../images/colab-badge.svg")  # served by the book
        if sources.count(c.split("__")[0]) > 1:  # one notebook, several chapters: name the model in the title
            title, _, rest = text.partition("\n")
            text = f"{title} ({c.split('__')[1]})\n{rest}"
        first["source"] = text
        for cell in book["cells"]:  # the defaults are the smoke profile: show the values this run used, folded
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "parameters" in tags:
                tags.append("remove-cell")
            elif "injected-parameters" in tags:
                tags.append("hide-input")
        (out / f"{c}.ipynb").write_text(json.dumps(book))
    return names


def stage_sources(root: str | Path) -> Path:
    """The book's source folder for a run: ``book/`` itself for the study (root "."),
    a copy under the root for another run (the tests' smoke book), so it never mixes."""
    source = project_root() / "book"
    target = Paths.at(root).root / "book"
    if target.resolve() == source.resolve():
        return source
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_build", "notebooks"))
    return target


def build(root: str | Path = ".", cards: Path | None = None) -> Path:
    """Build the book of the run under ``root``; returns its ``index.html``. ``cards``: the cards page already
    rendered from the run's checkpoints (a results bundle's, :mod:`dfd_utils.tooling.bundle`), used as it is."""
    book = stage_sources(root)
    vendor_mathjax(book)
    names = collect_notebooks(root, book)
    write_page(book / "notebooks", names, book / EXECUTION_PAGE)  # from the copies the book publishes
    write_book_page(Paths.at(root).metrics, book)  # the front page's findings, from this run's metrics
    if cards is None:
        write_cards(Paths.at(root).models, book / CARDS_PAGE)  # a model card per checkpoint of this run
    else:
        shutil.copyfile(cards, book / CARDS_PAGE)
    jb = Path(sys.executable).with_name("jupyter-book")
    # -q: Sphinx's status lines off (80 per build), its warnings and errors kept; -W makes a warning fail the build
    subprocess.run([str(jb), "build", str(book), "--builder", "html", "-W", "--keep-going", "-q"], check=True)
    index = book / "_build" / "html" / "index.html"
    print(f"book: {index}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--root", default=".", help="where the executed notebooks are (artifacts/executed)")
    args = parser.parse_args(argv)
    build(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
