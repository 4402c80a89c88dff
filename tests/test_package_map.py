"""The package maps: each ``__init__.py`` docstring names every module and subpackage beside it.

A newcomer reads ``dfd_utils/__init__.py`` first; a module missing from it is a module
nobody finds. The check is by name (``frames.py``, ``models/``), so a renamed or added
module fails here until the map says what it is.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dfd_utils"
INITS = sorted(PACKAGE.rglob("__init__.py"))


def _members(package: Path) -> list[str]:
    modules = [p.name for p in sorted(package.glob("*.py")) if p.name != "__init__.py"]
    return modules + [p.name + "/" for p in sorted(package.iterdir()) if (p / "__init__.py").is_file()]


def _unnamed(package: Path) -> list[str]:
    """The modules and subpackages beside ``package``'s ``__init__.py`` that its docstring does not name."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    return [name for name in _members(package)
            if not re.search(r"(?<![\w/])" + re.escape(name) + (r"" if name.endswith("/") else r"(?!\w)"), doc)]


@pytest.mark.parametrize("init", INITS, ids=lambda p: str(p.parent.relative_to(PACKAGE.parent)))
def test_each_package_map_names_every_module_beside_it(init):
    missing = _unnamed(init.parent)
    assert not missing, f"{init.relative_to(PACKAGE.parent)}: its map does not name {missing}"


def test_the_map_check_finds_a_module_left_out(tmp_path):
    """The check itself: a package whose docstring leaves one module out is caught, by that module's name."""
    (tmp_path / "__init__.py").write_text('"""Map::\n\n    a.py  the first\n"""\n')
    (tmp_path / "a.py").write_text("")
    (tmp_path / "ab.py").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("")
    assert _unnamed(tmp_path) == ["ab.py", "sub/"]


def test_no_two_modules_share_a_name():
    """``frames.py`` in two folders makes every traceback and import line ambiguous: one name, one module."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "__init__.py":
            names.setdefault(path.name, []).append(str(path.relative_to(PACKAGE.parent)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}


def test_no_chapter_or_library_module_imports_the_tooling():
    """Tooling (book, Lab, Colab, checks) sits beside the study, not under it: no module outside ``tooling/`` and no
    notebook imports it, so an edit there reruns no stage. The pipeline records a run's facts through
    ``tooling.execution`` by name (``pipeline.machine_facts`` says why), which this static check does not see."""

    from dfd_utils.provenance import imported_modules
    from dfd_utils.tooling.stage_deps import notebook_code

    sources = {str(p.relative_to(PACKAGE.parent)): p.read_text() for p in PACKAGE.rglob("*.py")
               if "tooling" not in p.parts}
    sources |= {nb.name: notebook_code(nb) for nb in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb"))}
    importers = sorted(name for name, text in sources.items()
                       if any(m.startswith("dfd_utils.tooling") for m in imported_modules(text)))
    assert importers == []


def test_every_module_fits_on_a_few_screens():
    """A module over 300 lines holds more than one idea: split it by idea (as train, resume and ranks are)."""
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}
