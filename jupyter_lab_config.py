# JupyterLab for this project (`make lab` passes it with --config; `make env` also names the same hook in the
# environment's own Jupyter config, so a plain `jupyter lab` from .venv applies it): saving a notebook under
# notebooks/ writes the form the repository commits (its metadata, no outputs), so opening, running and
# saving changes nothing that git or DVC sees unless a cell was edited (dfd_utils/tooling/lab.py).
c = get_config()  # noqa: F821
c.FileContentsManager.pre_save_hook = "dfd_utils.tooling.lab.pre_save"
