"""Run one notebook of the study through papermill with values from ``params.yaml``.

``python -m dfd_utils.pipeline 02_extract_frames`` is each DVC stage's command.
The notebook's ``parameters`` cell names what it takes (its defaults are the smoke
profile); every name that is also a top-level key of ``params.yaml`` gets that
value, and ``root`` is set to the project root. The executed copy goes to
``artifacts/executed/``, which the book renders without running anything again; it
carries papermill's times and the machine that ran it (``metadata["dfd"]["run"]``,
``dfd_utils.tooling.execution``), which the book's execution statistics page reads.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.events import AliasEvent

from dfd_utils import kernels, profiles
from dfd_utils.io import disk_full
from dfd_utils.paths import Paths, project_root

log = logging.getLogger(__name__)


# Parameter files are read with YAML's aliases and duplicate keys refused, every error one line naming the file:
# a 7 KB file of nested aliases (a "billion laughs") expands to gigabytes when a value is printed or copied, and
# parameter files never need one; a key given twice would take the last value here and maybe the first elsewhere.
# A file that is not text (--params /etc/shadow, a folder, a binary) is refused with its reason, never a traceback.
MAX_BYTES = 1 << 20  # a parameters file is a few KB; a larger one is not a parameters file


class YamlError(ValueError):
    """A parameters file that cannot be read as plain YAML; the message names the file and the line."""


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, f"YAML alias *{event.anchor} refused (parameter files hold plain values; aliases can "
                            "expand without bound)", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class names it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (which value holds would depend on the reader)",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def yaml_loads(text: str, where) -> object:
    """``text`` parsed as plain YAML (no alias, no duplicate key); :class:`YamlError` naming ``where`` otherwise."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise YamlError(f"{where}: not a valid parameters file{line}: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise YamlError(f"{where}: not a valid parameters file: {str(err).splitlines()[0][:200]}") from None


def load_yaml_file(path: str | os.PathLike) -> object:
    """A YAML file read with :func:`yaml_loads`; a missing file is ``FileNotFoundError``, anything unreadable
    :class:`YamlError`, each naming the file."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise YamlError(f"{path}: {path.stat().st_size} bytes, too large for a parameters file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no parameters file") from None
    except IsADirectoryError:
        raise YamlError(f"{path}: a folder, not a parameters file") from None
    except OSError as err:
        raise YamlError(f"{path}: cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_BYTES:
        raise YamlError(f"{path}: too large for a parameters file (over {MAX_BYTES} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlError(f"{path}: not a text file (not UTF-8), so not a parameters file") from None
    return yaml_loads(text, path)


def load_params(path: str | os.PathLike = "params.yaml") -> dict:
    """A parameters file; a profile (``profiles/<name>.yaml``) is merged over the base profile first."""
    path = Path(path)
    if not path.is_absolute():
        path = project_root() / path
    if path.parent == profiles.profiles_dir() and path.suffix == ".yaml":
        return profiles.resolve(path.stem)
    params = load_yaml_file(path)  # aliases and duplicate keys refused; an unreadable file named, in one line
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


@dataclass(frozen=True)
class Chapter:
    """One executed notebook of the study: a notebook, run once or once per model (notebook 05 runs twice)."""

    notebook: str  # notebooks/<notebook>.ipynb
    model_name: str | None = None  # set for the detector stages (04-07)

    @property
    def name(self) -> str:
        """The executed copy's name (``artifacts/executed/<name>.ipynb``) and the book page's."""
        return f"{self.notebook}__{self.model_name}" if self.model_name else self.notebook


def _stages() -> dict:
    return yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"]


def chapters() -> list[Chapter]:
    """The study's chapters in pipeline order, read from ``dvc.yaml``: the one list the book and tests use."""
    out = []
    for stage in _stages().values():
        if "foreach" in stage:
            out += [Chapter(item["notebook"], key) for key, item in stage["foreach"].items()]
        else:
            out.append(Chapter(stage["cmd"].split("dfd_utils.pipeline", 1)[1].split()[0]))
    return out


def stage_params(notebook: str, model_name: str | None = None) -> list[str]:
    """The parameters (dotted, as ``dvc.yaml`` lists them) of the stage that runs ``notebook``."""
    found: list[str] = []
    for stage in _stages().values():
        if "foreach" in stage:
            for key, item in stage["foreach"].items():
                if item.get("notebook") == notebook and model_name in (None, key):
                    found += [p.replace("${key}", key) for p in stage["do"].get("params", [])]
        elif f"pipeline {notebook}" in stage.get("cmd", ""):
            found += stage.get("params", [])
    if not found:
        raise ValueError(f"dvc.yaml: no stage runs notebook {notebook} (or it tracks no parameters)")
    return list(dict.fromkeys(found))


def select(params: dict, dotted: list[str]) -> dict:
    """The values of ``params`` named by ``dotted`` keys (``train``, ``data.source``), nested as in the file."""
    out: dict = {}
    for key in dotted:
        *parents, last = key.split(".")
        source, target = params, out
        for part in parents:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(source, dict) and last in source:
            target[last] = source[last]
    return out


UNTRACKED = ("workers",)  # how many processes: it changes the speed, never a result


def parameters_for(notebook: Path, params: dict, root: str = ".", model_name: str | None = None) -> dict:
    """What papermill passes: ``root``, the model's name, and ``params``: exactly the values its DVC stage tracks.

    A notebook therefore cannot read a value that DVC does not know it depends on.
    """
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    values: dict = {"root": root}
    if "params" in declared:
        tracked = select(params, stage_params(notebook.stem, model_name))
        values["params"] = {**tracked, **{k: params[k] for k in UNTRACKED if k in params}}
    return values


def run(name: str, params_file: str = "params.yaml", root: str = ".", overrides: dict | None = None,
        output_name: str | None = None) -> Path:
    import papermill

    notebook = notebook_path(name)
    params = load_params(params_file)
    check_params(params, params_file)  # a typo or a bad value stops every stage before any work
    overrides = overrides or {}
    values = parameters_for(notebook, params, root, overrides.get("model_name"))
    values.update(overrides)
    out = Paths.at(root).artifacts / "executed" / (f"{output_name}.ipynb" if output_name else notebook.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    log.info("running %s with %s", notebook.name, sorted(values))
    # Before torch loads here or in the kernel (which inherits this environment): the same CPU kernels on every
    # x86-64 machine, so results do not move in the last bits between machines (dfd_utils.kernels says why).
    bf16 = kernels.bf16_on_cpu(params)
    with kernels.capped(os.environ, bf16) as capped:
        if capped:
            log.info("CPU kernels capped at AVX2 (%s; DFD_KERNELS=native leaves them uncapped)",
                     " ".join(f"{k}={v}" for k, v in capped.items()))
        elif (why := kernels.reason_not_capped(os.environ, bf16)) is not None:
            log.info("CPU kernels not capped: %s (results may differ in the last bits between CPUs)", why)
        # The machine's facts (this process runs the kernel: same machine) are gathered beside the kernel's start:
        # they import torch (about 1.5 s), which would otherwise wait in front of every stage on an idle second core.
        with ThreadPoolExecutor(max_workers=1) as pool:
            facts = pool.submit(machine_facts, params, overrides.get("model_name"))
            try:
                # papermill, a Unix-socket kernel, a progress line; by name, as machine_facts: no input to results
                importlib.import_module("dfd_utils.notebook_run").execute(notebook, out, values, notebook.parent)
            except papermill.PapermillExecutionError:  # a cell failed: the copy papermill wrote says where, and on what
                if facts.exception() is None:  # the notebook's error is the one to report, never the facts'
                    record(out, facts.result())
                raise
            except OSError as err:  # papermill could not save its copy: on a full disk, the stage's own error is lost
                if err.errno != errno.ENOSPC:
                    raise
                raise disk_full(out) from err
            facts = facts.result()
    try:
        record(out, facts)  # the book's execution statistics read it (dfd_utils.tooling.execution)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise disk_full(out) from err
    return out


def machine_facts(params: dict, model_name: str | None = None) -> dict:
    """What runs this stage (``dfd_utils.tooling.execution.machine_facts``), to record in the executed copy.

    Imported by name, not by an import statement: the facts describe the run (like papermill's
    timestamps), they are no input to any result, so a change to ``execution.py`` or to what it
    reads (``precision.py``, hence the models) need not make DVC rerun every stage; the deps
    check (``tests/test_pipeline.py``) follows import statements only.
    """
    return importlib.import_module("dfd_utils.tooling.execution").machine_facts(params, model_name)


def record(executed: Path, facts: dict) -> None:
    """``facts`` into the executed copy's metadata (``tooling.execution.record``; imported by name, as above)."""
    importlib.import_module("dfd_utils.tooling.execution").record(executed, facts)


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
    logging.getLogger("papermill").setLevel(logging.WARNING)  # its "Input Notebook" lines; notebook_run says more
    overrides = dict(item.split("=", 1) for item in args.set)
    from dfd_utils.config import ConfigError

    try:
        run(args.notebook, args.params, args.root, overrides, args.output_name)
    except (ConfigError, FileNotFoundError) as err:
        print(f"dfd pipeline: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk: one line naming the disk and the file, not papermill's traceback
        if err.errno != errno.ENOSPC:
            raise
        print(f"dfd pipeline: {args.notebook}: {err.strerror} (free space there and run the stage again)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
