"""Run one notebook of the study through papermill with values from ``params.yaml``.

``python -m dfd_utils.pipeline 02_extract_frames`` is each DVC stage's command.
The notebook's ``parameters`` cell names what it takes (its defaults are the smoke
profile); every name that is also a top-level key of ``params.yaml`` gets that
value, and ``root`` is set to the project root. The executed copy goes to
``artifacts/executed/``, which the book renders without running anything again.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import yaml

from dfd_utils.paths import Paths, project_root

log = logging.getLogger(__name__)


def load_params(path: str | os.PathLike = "params.yaml") -> dict:
    path = Path(path)
    if not path.is_absolute():
        path = project_root() / path
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no parameters file") from None
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a mapping of parameter sections")
    return params


def check_params(params: dict, where: str | os.PathLike = "params.yaml") -> None:
    """Every key and value of ``params`` checked by the typed configuration (``dfd_utils.config``)."""
    from dfd_utils.config import parse

    parse(params, str(where))


def notebook_path(name: str) -> Path:
    path = project_root() / "notebooks" / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such notebook")
    return path


def parameters_for(notebook: Path, params: dict, root: str = ".") -> dict:
    """The values from ``params`` that the notebook's parameters cell declares."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    values = {name: params[name] for name in declared if name in params}
    values["root"] = root
    return values


def run(name: str, params_file: str = "params.yaml", root: str = ".", overrides: dict | None = None,
        output_name: str | None = None) -> Path:
    import papermill

    notebook = notebook_path(name)
    params = load_params(params_file)
    check_params(params, params_file)  # a typo or a bad value stops every stage before any work
    values = parameters_for(notebook, params, root)
    values.update(overrides or {})
    out = Paths.at(root).artifacts / "executed" / (f"{output_name}.ipynb" if output_name else notebook.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    log.info("running %s with %s", notebook.name, sorted(values))
    papermill.execute_notebook(str(notebook), str(out), parameters=values, kernel_name="python3",
                               cwd=str(notebook.parent), progress_bar=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="e.g. 02_extract_frames")
    parser.add_argument("--params", default="params.yaml", help="parameters file (a profile)")
    parser.add_argument("--root", default=".", help="where artifacts go, relative to the project")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one notebook parameter (a string), e.g. model_name=two_stream_video")
    parser.add_argument("--output-name", help="name of the executed copy (default: the notebook's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    overrides = dict(item.split("=", 1) for item in args.set)
    from dfd_utils.config import ConfigError

    try:
        run(args.notebook, args.params, args.root, overrides, args.output_name)
    except (ConfigError, FileNotFoundError) as err:
        print(f"dfd pipeline: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
