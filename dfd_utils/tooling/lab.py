"""JupyterLab that leaves the study's notebooks as committed unless a code or markdown cell was edited.

The notebooks under ``notebooks/`` are DVC dependencies of their stages, committed without outputs. Saving
from Lab would rewrite them: the running kernel's metadata (``display_name``, ``language_info`` with the
Python version), cell metadata such as ``execution`` timings, and after a run the outputs and execution
counts; git would show an edit nobody made and ``dvc status`` would report the stage changed, so the next
``dvc repro`` reran it. A pre-save hook (:func:`pre_save`) writes the committed form instead
(:func:`canonical`): the repository's metadata, no outputs, no execution counts. Outputs stay on screen for
the session; the executed copies the pipeline made are under ``artifacts/executed/``.

The hook reaches a plain ``jupyter lab`` too, not only ``make lab``: ``make env`` runs ``python -m
dfd_utils.tooling.lab install``, which names it in the environment's own Jupyter config
(``<venv>/etc/jupyter/jupyter_server_config.json``, the first place Jupyter looks), so any Lab or Jupyter
Server started from the project's environment applies it, wherever it was started; it touches only the
notebooks of a dfd checkout (:func:`is_study_notebook`). A conda environment (``environment.yml``) gets it
with ``python -m dfd_utils.tooling.lab install`` run once. Editors that save notebooks themselves (VS Code)
or ``jupyter nbconvert --inplace`` do not run server hooks; ``nbstripout`` (a dev dependency) cleans those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
CELL_KEYS_DROPPED = ("execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed")  # written by Lab
HOOK = "dfd_utils.tooling.lab.pre_save"
FORMER_HOOKS = ("dfd_utils.lab.pre_save",)  # this hook before the module moved to tooling/: replaced, not refused


def canonical(nb: dict) -> dict:
    """The notebook as the repository commits it: kernel and language only, no outputs or execution counts."""
    nb["metadata"] = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in CELL_KEYS_DROPPED:
            meta.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def is_study_notebook(file: Path) -> bool:
    """A notebook directly in the ``notebooks/`` folder of a dfd checkout (``dvc.yaml`` and ``dfd_utils/`` beside
    it), wherever Lab was started and whatever link led to it; another project's ``notebooks/`` is left alone."""
    file = file.resolve()
    project = file.parent.parent
    return (file.suffix == ".ipynb" and file.parent.name == "notebooks" and (project / "dvc.yaml").is_file()
            and (project / "dfd_utils").is_dir())


def pre_save(model: dict, path: str, contents_manager=None, **kwargs) -> None:
    """Jupyter Server's ``FileContentsManager.pre_save_hook``: the committed form for the study's notebooks."""
    if model.get("type") != "notebook":
        return
    root = Path(getattr(contents_manager, "root_dir", None) or ".")
    if is_study_notebook(root / path.lstrip("/")):
        canonical(model["content"])


def install(prefix: Path = Path(sys.prefix)) -> Path:
    """Name the hook in ``prefix``'s Jupyter Server config, keeping whatever else that file sets; a config that
    is not JSON, or that names another pre-save hook, is refused rather than overwritten."""
    config = prefix / "etc" / "jupyter" / "jupyter_server_config.json"
    try:
        settings = json.loads(config.read_text()) if config.is_file() else {}
    except ValueError as err:
        raise ValueError(f"{config}: not JSON ({err}); fix or remove it, then run `make env` again") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{config}: not a JSON object; fix or remove it, then run `make env` again")
    section = settings.setdefault("FileContentsManager", {})
    if section.get("pre_save_hook") not in (None, HOOK, *FORMER_HOOKS):
        raise ValueError(f"{config}: already names the pre-save hook {section['pre_save_hook']!r}; "
                         f"set {HOOK!r} by hand if this environment is the study's")
    section["pre_save_hook"] = HOOK
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(settings, indent=2) + "\n")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dfd_utils.tooling.lab", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install"], help="name the pre-save hook in this environment's Jupyter")
    parser.parse_args(argv)
    try:
        print(f"dfd: Lab's pre-save hook set in {install()}")
    except ValueError as err:
        print(f"dfd: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
