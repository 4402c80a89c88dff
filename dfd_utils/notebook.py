"""What every notebook does first: read its parameters, quiet the logs, seed everything."""

from __future__ import annotations

import logging

import pandas as pd

from dfd_utils.config import StudyConfig, for_notebook
from dfd_utils.report import html_table
from dfd_utils.seed import seed_everything


def setup(params: str | dict | None) -> StudyConfig:
    """The notebook's configuration, checked and seeded: ``params.yaml`` when opened by hand, the tracked values
    under DVC (papermill), a profile's name where one is given (the tests: ``"smoke"``).

    Warnings stay visible in the executed notebooks (a stage that redid work says why);
    progress chatter does not.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    show_tables_that_fit()
    study = for_notebook(params)
    seed_everything(study.seed)
    return study


def show_tables_that_fit() -> None:
    """Inside IPython, every DataFrame is shown as :func:`report.html_table` (intervals on two lines)."""
    try:
        from IPython import get_ipython
    except ImportError:  # the package without Jupyter: nothing is displayed
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, html_table)
