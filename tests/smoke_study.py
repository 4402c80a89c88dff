"""Every notebook of dvc.yaml run once per test session on the smoke profile, as DVC runs them (papermill).

``tests/test_notebooks.py`` checks what they wrote; ``tests/test_book.py`` builds the
book from the same executed copies, so no notebook runs twice in one ``make test``: on its two
workers too, where ``tests/conftest.py`` keeps both modules on one worker.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dfd_utils.pipeline import chapters

ROOT = "build/smoke"
RUNS = chapters()  # dvc.yaml's stages, in order


@cache
def run_smoke_study() -> dict[str, Path]:
    """Every notebook of the study, executed under ``build/smoke``: ``{executed name: path}``."""
    from dfd_utils import pipeline

    return {c.name: pipeline.run(c.notebook, "profiles/smoke.yaml", ROOT,
                                 {"model_name": c.model_name} if c.model_name else {}, c.name if c.model_name else None)
            for c in RUNS}
