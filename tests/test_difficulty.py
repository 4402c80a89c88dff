"""Chapter 00: the artifacts' strengths from magnitudes measured in the data, blind to models and training."""

import json
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
import yaml

from dfd_utils import profiles
from dfd_utils.chapters import difficulty
from dfd_utils.chapters.choose_difficulty import View, measure_clip, measured_config
from dfd_utils.config import DifficultyConfig, parse
from dfd_utils.flow import FlowConfig
from dfd_utils.paths import project_root
from dfd_utils.sources.synthetic import clip_stamp, plan_dataset

DATA_STAGES = ("choose_difficulty", "download_subset", "extract_frames", "optical_flow")


def measured(rows: dict[float, tuple[float, float]], natural=(10.0, 2.0)) -> pd.DataFrame:
    """A hand-made measurement: per strength, the spatial change (grey levels) and the flow change (px) of one fake."""
    return pd.DataFrame([{"video": "a.mp4", "strength": s, "natural_pixel_change": natural[0],
                          "natural_motion_px": natural[1], "spatial_change": sp, "temporal_change_px": tm}
                         for s, (sp, tm) in rows.items()])


def test_the_rule_takes_each_kind_nearest_the_share_of_natural_change():
    ratios = pd.Series({0.1: 0.1, 0.2: 0.22, 0.3: 0.28, 0.4: 0.5})
    assert difficulty.choose(ratios, 0.27) == 0.3  # |.28 - .27| = .01 is the least
    assert difficulty.choose(ratios, 0.25) == 0.2  # .22 and .28 are both .03 away: the tie goes to the weaker
    assert difficulty.choose(ratios, 0.5) == 0.4


def test_the_result_file_holds_the_ratios_computed_by_hand(tmp_path):
    study = parse(profiles.resolve("smoke"))
    study = replace(study, difficulty=DifficultyConfig(strengths=(0.1, 0.2, 0.4), num_videos=1, share=0.25))
    table = measured({0.1: (1.0, 0.2), 0.2: (2.6, 0.45), 0.4: (5.0, 1.2)})  # ratios .1 .26 .5 and .1 .225 .6
    result = difficulty.write_result(tmp_path / "difficulty.json", table, study)
    assert json.loads((tmp_path / "difficulty.json").read_text()) == result
    assert result["chosen"] == {"spatial": 0.2, "temporal": 0.2}
    assert result["at_choice"] == {"spatial_change": 2.6, "spatial_ratio": 0.26, "temporal_change_px": 0.45,
                                   "temporal_ratio": 0.225}
    assert result["natural"] == {"pixel_change": 10.0, "motion_px": 2.0}
    assert [row["strength"] for row in result["sweep"]] == [0.1, 0.2, 0.4]
    assert "0.25 of the natural change" in result["rule"]


def test_a_clip_is_measured_against_itself_without_the_knobs():
    """Strength 0 changes nothing, bit for bit; stronger knobs change more; the temporal knobs move the flow."""
    study = parse(profiles.resolve("smoke"))
    cfg = measured_config(replace(study, difficulty=DifficultyConfig(num_videos=1)))
    plan = next(p for p in plan_dataset(cfg) if p.label == "FAKE")
    view = View(8, 36, 64, FlowConfig())
    rows = measure_clip(cfg, plan, (0.0, 0.3, 1.0), view)
    assert [r["strength"] for r in rows] == [0.0, 0.3, 1.0]
    assert rows[0]["spatial_change"] == 0.0 and rows[0]["temporal_change_px"] == 0.0
    assert 0 < rows[1]["spatial_change"] < rows[2]["spatial_change"]
    assert rows[1]["temporal_change_px"] > 0.05
    assert rows[0]["natural_motion_px"] > 0 and rows[0]["natural_pixel_change"] > 0


def test_the_measured_set_has_every_artifact_off_and_enough_fakes():
    study = parse(profiles.resolve("demo"))
    cfg = measured_config(study)
    knobs = asdict(cfg)
    assert all(knobs[k] == 0 for names in difficulty.KINDS.values() for k in names)
    assert sum(p.label == "FAKE" for p in plan_dataset(cfg)) >= study.difficulty.num_videos
    assert cfg.height == study.data.synthetic["height"] and cfg.unaltered_share == study.data.synthetic[
        "unaltered_share"]


def test_chapter_01_says_whether_the_study_follows_the_choice():
    study = parse(profiles.resolve("demo"))
    knobs = difficulty.demo_knobs(study)
    same = {"chosen": {"spatial": knobs["seam"], "temporal": knobs["jitter"]}}
    other = {"chosen": {"spatial": knobs["seam"], "temporal": knobs["jitter"] + 0.1}}
    assert difficulty.follows_text(study, same).startswith("The fakes are rendered at the strengths")
    assert "does not follow chapter 00's choice" in difficulty.follows_text(study, other)
    assert "has not run here" in difficulty.follows_text(study, None)


def test_the_demo_follows_the_committed_measurement():
    """The committed ``metrics/difficulty.json`` (the demo's measurement) chose the strengths ``params.yaml`` uses."""
    result = json.loads((project_root() / "metrics" / "difficulty.json").read_text())
    study = parse(profiles.resolve("demo"))
    assert result["share"] == study.difficulty.share
    assert [row["strength"] for row in result["sweep"]] == list(study.difficulty.strengths)
    assert difficulty.follows_choice(study, result), difficulty.follows_text(study, result)
    for kind in ("spatial", "temporal"):  # the chosen strength is the one nearest the share, as the rule says
        ratios = pd.Series({row["strength"]: row[f"{kind}_ratio"] for row in result["sweep"]})
        assert difficulty.choose(ratios, result["share"]) == result["chosen"][kind]


def test_no_data_stage_tracks_a_training_setting():
    """A learning rate must never change the dataset: the data stages track no ``train`` or ``models`` value."""
    stages = yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"]
    for name in DATA_STAGES:
        tracked = [p for p in stages[name].get("params", []) if p.split(".")[0] in ("train", "models", "device")]
        assert not tracked, f"stage {name} tracks {tracked}"


def test_a_learning_rate_changes_no_clip():
    """Studies that differ only in ``train.lr`` plan and stamp every clip alike (the stamp keys a clip's reuse)."""
    base = profiles.resolve("demo")
    other = json.loads(json.dumps(base))
    other["train"]["lr"] = 0.002
    a, b = parse(base), parse(other)
    assert a.train != b.train
    cfg_a, cfg_b = a.data.generator(a.seed), b.data.generator(b.seed)
    assert cfg_a == cfg_b
    assert [clip_stamp(cfg_a, p) for p in plan_dataset(cfg_a)] == [clip_stamp(cfg_b, p) for p in plan_dataset(cfg_b)]
    assert measured_config(a) == measured_config(b)


@pytest.mark.parametrize("bad, message", [
    ({"strengths": [0.2, 0.2]}, "strengths must list distinct values"),
    ({"strengths": [1.5]}, "strengths"),
    ({"strengths": [0.0]}, "strengths"),
    ({"share": 0}, "share"),
    ({"share": 1.5}, "share"),
    ({"num_videos": 0}, "num_videos"),
])
def test_bad_measurement_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        DifficultyConfig(**bad)


def test_the_choice_text_states_both_magnitudes():
    result = {"share": 0.25, "chosen": {"spatial": 0.15, "temporal": 0.2},
              "natural": {"pixel_change": 11.9, "motion_px": 1.67},
              "at_choice": {"spatial_change": 2.66, "spatial_ratio": 0.224, "temporal_change_px": 0.48,
                            "temporal_ratio": 0.287}}
    text = difficulty.choice_text(result)
    assert "spatial knobs (seam, color_mismatch, resolution_mismatch) to **0.15**" in text
    assert "temporal knobs (jitter, flicker) to **0.2**" in text
    assert "0.48 px, 0.29 of the natural motion" in text
    assert np.isclose(result["at_choice"]["temporal_change_px"] / result["natural"]["motion_px"], 0.287, atol=1e-3)
