"""JupyterLab that leaves the study's notebooks as committed when nothing was edited.

Saving rewrites a notebook's metadata with the running kernel's (``display_name``,
``language_info`` with the Python version) and cell metadata such as ``execution``
timings, so opening a notebook and letting autosave run would change the file: git
shows an edit nobody made, and ``dvc status`` reports the stage's notebook
dependency modified. ``make lab`` starts Lab with ``jupyter_lab_config.py``, whose
pre-save hook puts the committed metadata back (:func:`canonical`); the notebooks
are committed in nbformat's own serialisation, so an open-save cycle writes the
same bytes (tested).
"""

from __future__ import annotations

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
CELL_KEYS_DROPPED = ("execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed")  # written by Lab


def canonical(nb: dict) -> dict:
    """The notebook with the metadata the repository commits: kernel and language, nothing machine-specific."""
    nb["metadata"] = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in CELL_KEYS_DROPPED:
            meta.pop(key, None)
    return nb


def pre_save(model: dict, path: str, contents_manager=None, **kwargs) -> None:
    """Jupyter Server's ``FileContentsManager.pre_save_hook``: canonical metadata for the study's notebooks."""
    if model.get("type") == "notebook" and path.replace("\\", "/").lstrip("/").startswith("notebooks/"):
        canonical(model["content"])
