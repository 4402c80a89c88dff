"""Chapter 00's rule: one strength from the baseline's validation runs, and the check that the study follows it."""

import json

import pandas as pd
import pytest

from dfd_utils import difficulty, profiles
from dfd_utils.config import DifficultyConfig, parse
from dfd_utils.paths import project_root
from dfd_utils.stages.difficulty import data_at


def runs(means: dict[float, tuple[float, ...]]) -> pd.DataFrame:
    return pd.DataFrame([{"strength": s, "seed": i, "val_auc": a} for s, aucs in means.items()
                         for i, a in enumerate(aucs)])


def test_the_rule_takes_the_strength_nearest_the_target():
    table = runs({0.1: (0.52, 0.58), 0.2: (0.70, 0.76), 0.3: (0.84, 0.88), 0.45: (0.97, 0.99), 0.6: (1.0, 1.0)})
    assert difficulty.choose(table, 0.85) == 0.3  # means .55 .73 .86 .98 1.0: |.86 - .85| is the least
    assert difficulty.choose(table, 0.75) == 0.2
    assert difficulty.choose(table, 0.99) == 0.45  # .98 and 1.0 are both .01 away: the tie goes to the weaker


def test_the_result_file_holds_every_run_and_the_choice(tmp_path):
    study = parse(profiles.resolve("smoke"))
    table = runs({0.3: (0.8,), 0.6: (0.99,)})
    result = difficulty.write_result(tmp_path / "difficulty.json", table, study)
    stored = json.loads((tmp_path / "difficulty.json").read_text())
    assert stored == result and stored["chosen"] == 0.3 and stored["mean_val_auc"] == {"0.3": 0.8, "0.6": 0.99}
    assert stored["rule"] == "the strength whose mean baseline validation AUC is nearest 0.85"
    assert len(stored["runs"]) == 2


def test_the_sweep_sets_all_five_knobs_and_keeps_the_rest():
    study = parse(profiles.resolve("demo"))
    data = data_at(study, 0.25)
    assert {data["synthetic"][k] for k in difficulty.STRENGTH_KNOBS} == {0.25}
    assert data["synthetic"]["unaltered_share"] == study.data.synthetic["unaltered_share"]
    assert data["num_videos"] == study.difficulty.num_videos and data["source"] == "synthetic"


def test_the_choice_says_when_the_weakest_artifacts_are_still_found():
    found = {"chosen": 0.025, "target_auc": 0.85, "mean_val_auc": {"0": 0.803, "0.025": 0.87, "0.4": 0.98}}
    assert difficulty.choice_text(found) == (
        "The rule chooses strength **0.025**: its mean baseline validation AUC, 0.870, is the nearest to the target "
        "0.85. Even at strength 0 the baseline reaches 0.803: part of what it detects is none of the five knobs (the "
        "pasted face itself), so no strength brings the fakes to chance.")
    at_chance = {**found, "mean_val_auc": {"0": 0.52, "0.025": 0.87}}
    assert "Even at" not in difficulty.choice_text(at_chance)


def test_chapter_01_says_whether_the_study_follows_the_choice():
    study = parse(profiles.resolve("demo"))
    knobs = difficulty.demo_strengths(study)
    same = {"chosen": next(iter(knobs.values())), "mean_val_auc": {}, "target_auc": 0.85}
    other = {**same, "chosen": 0.05}
    assert len(set(knobs.values())) == 1, "the demo sets the five knobs to one strength"
    assert difficulty.follows_text(study, same).startswith("The fakes are rendered at strength")
    assert "does not follow chapter 00's choice" in difficulty.follows_text(study, other)
    assert "has not run here" in difficulty.follows_text(study, None)


def test_the_demo_follows_the_committed_sweep():
    """The committed ``metrics/difficulty.json`` (the demo's own sweep) chose the strength ``params.yaml`` uses."""
    path = project_root() / "metrics" / "difficulty.json"
    study = parse(profiles.resolve("demo"))
    result = json.loads(path.read_text())
    assert result["target_auc"] == study.difficulty.target_auc
    assert sorted(float(s) for s in result["mean_val_auc"]) == sorted(study.difficulty.strengths)
    assert difficulty.follows_choice(study, result), difficulty.follows_text(study, result)


@pytest.mark.parametrize("bad, message", [
    ({"strengths": [0.2, 0.2]}, "strengths must list distinct values"),
    ({"strengths": [1.5]}, "strengths"),
    ({"target_auc": 0.5}, "target_auc"),
    ({"splits": [0.9, 0.1]}, "splits must hold three shares"),
    ({"num_videos": 8}, "leave a split empty"),
])
def test_bad_sweep_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        DifficultyConfig(**bad)
