"""Every notebook runs, once, on the smoke profile, and says what a reader needs to see."""

from __future__ import annotations

import json
import re

import pytest
from smoke_study import ROOT, RUNS, run_smoke_study

from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.paths import Paths

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
    assert len(executed) == len(RUNS) == 15
    paths = Paths.at(ROOT)
    for name in MODEL_NAMES:
        assert (paths.models / f"{name}.pt").is_file() and (paths.metrics / f"{name}.json").is_file(), name
    assert (paths.metrics / "summary.json").is_file() and (paths.metrics / "real_faces.json").is_file()
    assert (paths.metrics / "calibration.json").is_file() and (paths.metrics / "frames_per_video.json").is_file()
    assert (paths.metrics / "families.json").is_file()


def test_the_comparison_chapter_prints_its_computed_reading():
    text = _outputs(run_smoke_study()["08_compare_models"])
    assert "Better than chance" in text and "Not distinguishable from chance" in text


def test_the_claims_chapter_glues_a_verdict_for_every_claim():
    """The prose cites glued values only: each claim's verdict, evidence and seed count must be in the outputs."""
    from dfd_utils.chapters.claims import CLAIMS, VERDICTS

    cells = json.loads(run_smoke_study()["10_claims"].read_text())["cells"]
    glued = {}
    for out in (o for c in cells for o in c.get("outputs", [])):
        name = out.get("metadata", {}).get("scrapbook", {}).get("name")
        if name:
            glued[name] = "".join(next(iter(out["data"].values())))
    for claim in CLAIMS:
        assert glued[f"{claim.id}_verdict"].strip("'") in VERDICTS, claim.id
        assert f"{claim.id}_evidence" in glued and f"{claim.id}_seeds" in glued
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    cited = set(re.findall(r"\{glue:text\}`([^`:]+)", prose))
    assert cited and cited <= set(glued), sorted(cited - set(glued))
    assert "Of the paper's" in _outputs(run_smoke_study()["10_claims"])


def test_the_calibration_chapter_reads_its_numbers_and_keeps_them():
    """The reading is computed from the table; metrics/calibration.json holds every model's T, ECE and log loss."""
    text = _outputs(run_smoke_study()["11_calibration"])
    assert "Over-confident on validation (T > 1" in text and "Test ECE lower after scaling" in text
    kept = json.loads((Paths.at(ROOT).metrics / "calibration.json").read_text())
    assert set(kept) == set(MODEL_NAMES)
    for record in kept.values():
        assert record["temperature"] > 0
        assert {"ece_before", "ece_after", "log_loss_before", "log_loss_after"} <= set(record)


def test_a_detector_chapter_shows_its_headline_and_rules():
    text = _outputs(run_smoke_study()["04_baseline__baseline"])
    assert "share" in text and "topk" in text  # the frame-to-video rules table


def test_the_frames_per_video_chapter_reads_its_table_and_keeps_it():
    """Every model at every count of the profile, with an interval; the 16-frame row is chapter 04's test AUC."""
    from dfd_utils.pipeline import load_params

    text = _outputs(run_smoke_study()["13_frames_per_video"])
    assert "**baseline**: test video AUC" in text and "**two_stream_frame**: test video AUC" in text
    counts = load_params("profiles/smoke.yaml")["frames_per_video"]["counts"]
    kept = json.loads((Paths.at(ROOT).metrics / "frames_per_video.json").read_text())
    assert set(kept) == {"baseline", "two_stream_frame"}
    for per_count in kept.values():
        assert set(per_count) == {str(c) for c in counts}
        for record in per_count.values():
            low, high = record["roc_auc_ci"]
            assert low <= record["roc_auc"] <= high and 2 <= record["frames_used"]
    chapter04 = json.loads((Paths.at(ROOT).metrics / "baseline.json").read_text())["video"]["roc_auc"]
    assert kept["baseline"]["16"]["roc_auc"] == pytest.approx(chapter04, abs=1e-6)


def test_the_families_chapter_crosses_every_model_and_its_diagonal_is_each_familys_own_test():
    """Every model trained on every family and scored on every family; where the two are the same, the AUC is
    the one the family's own training wrote (the same checkpoint, the same test videos, the features reused)."""
    from dfd_utils.chapters.families import family_root
    from dfd_utils.config import FAMILIES, load

    text = _outputs(run_smoke_study()["12_spatial_temporal"])
    assert "The premise" in text and "train -> test pairs whose test fakes are of another kind" in text
    kept = json.loads((Paths.at(ROOT).metrics / "families.json").read_text())
    models = load("profiles/smoke.yaml").families.models
    assert set(kept["synthetic"]) == set(models)
    for model in models:
        for trained in FAMILIES:
            assert set(kept["synthetic"][model][trained]) == set(FAMILIES)
            own = json.loads((Paths.at(family_root(ROOT, trained)).metrics / f"{model}.json").read_text())
            same = kept["synthetic"][model][trained][trained]
            assert same["roc_auc"] == pytest.approx(own["video"]["roc_auc"], abs=1e-9)
            assert same["videos"] == own["test_videos"]
    # the smoke profile's chapter 09 set is too small for every kind of fake in every split: said, not trained
    assert "faces" not in kept and "Nothing was trained on these sets" in text


def test_the_families_chapter_shows_the_frame_order_test_of_every_temporal_and_both_model():
    """Each model trained on the temporal and both families scored with its frames shuffled and one repeated: the
    table with its paired intervals and their method, the reading, and the drops in metrics/families.json."""
    from dfd_utils.chapters.families import ORDER_FAMILIES
    from dfd_utils.chapters.frame_order import PERTURBATIONS, TABLE_COLUMNS
    from dfd_utils.config import load

    text = _outputs(run_smoke_study()["12_spatial_temporal"])
    assert all(column in text for column in TABLE_COLUMNS) and "paired cluster bootstrap BCa" in text
    assert "**With its frames shuffled**" in text and "**With one frame repeated**" in text
    order = json.loads((Paths.at(ROOT).metrics / "families.json").read_text())["frame_order"]
    models = load("profiles/smoke.yaml").families.models
    assert set(order) == set(models)
    for model in models:
        assert set(order[model]) == set(ORDER_FAMILIES)
        for family in ORDER_FAMILIES:
            for kind in PERTURBATIONS:
                entry = order[model][family][kind]
                assert entry["method"].startswith("paired cluster bootstrap BCa") and entry["margin"] == 0.05
                assert entry["drop"] == pytest.approx(entry["roc_auc_in_order"] - entry["roc_auc"], abs=1e-9)
    for family in ORDER_FAMILIES:  # a per-frame model without flow: its frames' scores, in another order
        shuffled = order["baseline"][family]["shuffled"]
        assert shuffled["max_score_change"] < 1e-6 and shuffled["drop"] == 0


def test_chapter_00_measures_both_kinds_without_training_anything():
    result = json.loads((Paths.at(ROOT).metrics / "difficulty.json").read_text())
    assert set(result["chosen"]) == {"spatial", "temporal"}
    assert [row["strength"] for row in result["sweep"]] == [0.3, 0.6]  # the smoke profile's strengths
    assert all(row["spatial_ratio"] > 0 and row["temporal_ratio"] > 0 for row in result["sweep"])
    assert "The rule sets the spatial knobs" in _outputs(run_smoke_study()["00_difficulty"])
    assert not (Paths.at(ROOT).artifacts / "difficulty").exists()  # no sweep set, no model: nothing trained


def test_chapter_07_keeps_its_validation_comparison_of_how_much_trains():
    regime = json.loads((Paths.at(ROOT).metrics / "cnn3d.json").read_text())["regime"]
    assert list(regime["val_auc"]) == ["0", "2"]  # the smoke profile's grid
    assert regime["chosen"] in (0, 2) and regime["used"] == 2  # the demo's train_blocks, which smoke inherits
    assert "Validation video AUC" in _outputs(run_smoke_study()["07_3d_cnn__cnn3d"])


def test_chapter_10_keeps_every_verdict_for_comparing_runs():
    from dfd_utils.chapters.claims import CLAIMS, VERDICTS

    record = json.loads((Paths.at(ROOT).metrics / "claims.json").read_text())
    assert set(record) == {c.id for c in CLAIMS}
    assert all(v["verdict"] in VERDICTS for v in record.values())
