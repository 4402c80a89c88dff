"""Each DVC stage's code dependencies are the modules it runs: written into ``dvc.yaml`` and checked.

A stage runs ``python -m dfd_utils.pipeline NOTEBOOK``: the pipeline module and every
``dfd_utils`` module the notebook's code imports, followed transitively
(:func:`~dfd_utils.provenance.module_closure`). Listing exactly those files, and no
folder, is what makes DVC rerun a stage when code it runs changed and only then: an
edit to the synthetic generator reruns the stages that generate synthetic data, not
the training stages, which read frames from disk. Package maps (an ``__init__.py`` that is
only its docstring) are no code and no dependency. Modules the pipeline loads by name
(``execution``, ``notebook_run``: the run's facts and the papermill call, no input to a
result) are left out on purpose (``pipeline.machine_facts`` says why).

``python -m dfd_utils.tooling.stage_deps`` rewrites the ``dfd_utils/...`` lines of each stage's
``deps`` in place (every other line, comment and order kept); ``--check`` exits 1 naming
each stage whose list differs (``tests/test_pipeline.py`` runs it).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import yaml

from dfd_utils.provenance import PACKAGE, imported_modules, module_closure

ROOT = PACKAGE.parent
RUNNER = "dfd_utils.pipeline"  # every stage's command
def docstring_only(path: Path) -> bool:
    """A package map (an ``__init__.py`` that holds its docstring and nothing else): no code a stage runs."""
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def notebook_code(notebook: Path) -> str:
    """A notebook's code cells as one Python source; shell and magic lines (the Colab cell) become ``pass``."""
    cells = json.loads(notebook.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        for line in cell["source"]:
            stripped = line.lstrip()
            lines.append(line[: len(line) - len(stripped)] + "pass\n" if stripped.startswith(("!", "%")) else line)
        lines.append("\n")
    return "".join(lines)


def stage_notebooks(stage: dict) -> list[str]:
    """The notebooks a stage (or each item of a ``foreach`` stage) runs, as repository paths."""
    if "foreach" in stage:
        return sorted({f"notebooks/{item['notebook']}.ipynb" for item in stage["foreach"].values()})
    return [d for d in stage["deps"] if str(d).startswith("notebooks/")]


def code_deps(notebooks: list[str], root: Path = ROOT) -> list[str]:
    """Every ``dfd_utils`` file the runner and ``notebooks`` import, sorted, as repository paths."""
    modules = {RUNNER}
    for notebook in notebooks:
        modules |= imported_modules(notebook_code(root / notebook))
    return sorted(p.relative_to(root).as_posix() for p in module_closure(modules) if not docstring_only(p))


def wanted(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, list[str]]:
    """Stage name -> the code dependencies it must list."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return {name: code_deps(stage_notebooks(stage), dvc_yaml.parent) for name, stage in stages.items()}


STAGE = re.compile(r"^  ([A-Za-z_][\w-]*):")  # a stage's key, two spaces in
DEPS = re.compile(r"^(\s+)deps:\s*(#.*)?$")
ITEM = re.compile(r"^(\s+)- (\S+)(\s+#.*)?$")


def rewrite(text: str, deps: dict[str, list[str]]) -> str:
    """``dvc.yaml``'s text with each stage's ``dfd_utils/`` deps replaced by ``deps[stage]``, where the first stood
    (a stage that listed none gets them at the end of its ``deps``)."""
    out: list[str] = []
    stage, in_deps, indent, placed = None, False, None, False

    def close() -> None:  # a deps block ends: modules not placed yet go at its end
        if in_deps and not placed and deps.get(stage) and indent is not None:
            out.extend(f"{indent}- {path}\n" for path in deps[stage])

    for line in text.splitlines(keepends=True):
        if (m := STAGE.match(line)) and not line.startswith("   "):
            close()
            stage, in_deps = m.group(1), False
        elif DEPS.match(line):
            close()
            in_deps, indent, placed = True, None, False
            out.append(line)
            continue
        elif in_deps:
            item = ITEM.match(line)
            if item and (indent is None or item.group(1) == indent):
                indent = item.group(1)
                if item.group(2).startswith("dfd_utils/"):
                    if not placed and stage in deps:
                        out += [f"{indent}- {path}\n" for path in deps[stage]]
                        placed = True
                    continue
                out.append(line)
                continue
            if line.strip() and not line.lstrip().startswith("#"):
                close()
                in_deps = False
        out.append(line)
    close()
    return "".join(out)


def listed(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, list[str]]:
    """Stage name -> the ``dfd_utils/`` deps ``dvc.yaml`` lists now, in order."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return {name: [d for d in (stage.get("do", stage))["deps"] if str(d).startswith("dfd_utils/")]
            for name, stage in stages.items()}


def differences(dvc_yaml: Path = ROOT / "dvc.yaml") -> list[str]:
    """One line per stage whose listed code deps are not exactly the modules it runs."""
    now, need = listed(dvc_yaml), wanted(dvc_yaml)
    lines = []
    for name in need:
        missing, extra = sorted(set(need[name]) - set(now[name])), sorted(set(now[name]) - set(need[name]))
        if missing or extra or now[name] != need[name]:
            lines.append(f"stage {name}: add {missing}, drop {extra}" if missing or extra
                         else f"stage {name}: not in sorted order")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a stage's code deps are not its imports")
    parser.add_argument("--dvc-yaml", type=Path, default=ROOT / "dvc.yaml")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.dvc_yaml)
        for line in problems:
            print(f"{args.dvc_yaml}: {line}", file=sys.stderr)
        if problems:
            print("regenerate: python -m dfd_utils.tooling.stage_deps", file=sys.stderr)
        return 1 if problems else 0
    args.dvc_yaml.write_text(rewrite(args.dvc_yaml.read_text(), wanted(args.dvc_yaml)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
