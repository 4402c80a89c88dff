"""Every notebook runs, once, on the smoke profile, and says what a reader needs to see."""

from __future__ import annotations

import json

import pytest
from smoke_study import ROOT, RUNS, run_smoke_study

from dfd_utils.paths import Paths
from dfd_utils.settings import MODEL_NAMES

pytestmark = pytest.mark.slow


def _outputs(path) -> str:
    """All text a reader sees in an executed notebook (stream output and text/plain results)."""
    text = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            text.append("".join(out.get("text", "")))
            text.append("".join(out.get("data", {}).get("text/plain", "")))
            text.append("".join(out.get("data", {}).get("text/markdown", "")))
    return "\n".join(text)


def test_every_notebook_runs_and_each_detector_leaves_its_results():
    executed = run_smoke_study()
    assert len(executed) == len(RUNS) == 10
    paths = Paths.at(ROOT)
    for name in MODEL_NAMES:
        assert (paths.models / f"{name}.pt").is_file() and (paths.metrics / f"{name}.json").is_file(), name
    assert (paths.metrics / "summary.json").is_file() and (paths.metrics / "real_faces.json").is_file()


def test_the_comparison_chapter_prints_its_computed_reading():
    text = _outputs(run_smoke_study()["08_compare_models"])
    assert "Better than chance" in text and "Not distinguishable from chance" in text


def test_a_detector_chapter_shows_its_headline_and_rules():
    text = _outputs(run_smoke_study()["04_baseline__baseline"])
    assert "share" in text and "topk" in text  # the frame-to-video rules table
