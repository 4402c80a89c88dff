# JupyterLab for this project (`make lab` passes it with --config): saving a notebook under
# notebooks/ keeps the metadata the repository commits, so opening and autosaving changes
# nothing (dfd_utils/lab.py).
c = get_config()  # noqa: F821
c.FileContentsManager.pre_save_hook = "dfd_utils.lab.pre_save"
