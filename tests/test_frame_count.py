"""Frames per video (chapter 13): which frames each count takes, the table, its reading, its settings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dfd_utils.chapters import frame_count
from dfd_utils.chapters.frame_count import auc_row, auc_table, count_indices, frames_used, mean_step, reading
from dfd_utils.config import ConfigError, load, parse
from dfd_utils.pipeline import load_params

# ------------------------------------------------------------------------------------------------ frame positions


def test_each_count_takes_stage_02s_equally_spaced_frames_exactly():
    """floor(i (n - 1) / (k - 1)): the 16 of a 30-frame clip are chapter 04's own (its info.json holds them)."""
    assert count_indices(30, 4) == [0, 9, 19, 29]
    assert count_indices(30, 8) == [0, 4, 8, 12, 16, 20, 24, 29]
    assert count_indices(30, 16) == [0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29]
    assert count_indices(300, 16) == [0, 19, 39, 59, 79, 99, 119, 139, 159, 179, 199, 219, 239, 259, 279, 299]
    assert count_indices(300, 32)[:4] == [0, 9, 19, 28] and count_indices(300, 32)[-1] == 299


def test_a_count_over_the_clip_takes_every_frame_once():
    assert frames_used(32, 30) == 30 and frames_used(16, 30) == 16
    assert count_indices(30, 32) == list(range(30))
    with pytest.raises(ValueError, match="flow needs 2"):
        frames_used(4, 1)


def test_direct_samples_are_not_nested_which_is_why_each_count_is_sampled_anew():
    """16 equally spaced of 300 frames are not among the 32: a subset of 32 could not reproduce chapter 04."""
    assert not set(count_indices(300, 16)) <= set(count_indices(300, 32))
    assert set(count_indices(30, 16)) <= set(count_indices(30, 32))  # all 30 frames hold any of them


def test_the_step_is_what_a_flow_field_spans():
    assert mean_step(count_indices(30, 4)) == pytest.approx(29 / 3)
    assert mean_step(count_indices(30, 32)) == 1.0
    assert mean_step([5]) == 0.0


# ------------------------------------------------------------------------------------------------ the table


def _videos(labels, probs, families=None):
    return pd.DataFrame({"label": labels, "prob": probs, "family": families or [f"f{i}" for i in range(len(labels))]})


def test_a_row_holds_the_auc_and_an_interval_around_it():
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20)
    videos = _videos(labels, np.clip(labels * 0.3 + rng.random(40) * 0.7, 0, 1))
    row = auc_row("baseline", 32, 30, 1.0, videos, n_boot=200, seed=0)
    assert row["model"] == "baseline" and row["frames"] == 32 and row["frames_used"] == 30 and row["videos"] == 40
    assert row["low"] <= row["roc_auc"] <= row["high"] and 0.5 < row["roc_auc"] < 1
    assert row["method"] == "cluster bootstrap BCa over original families (200 draws)"
    perfect = auc_row("baseline", 4, 4, 9.67, _videos([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), n_boot=50, seed=0)
    assert perfect["roc_auc"] == 1.0 and "too few families" in perfect["method"]  # 4 families: the named stand-in


def test_a_count_is_compared_with_16_frames_paired_on_the_same_videos():
    rng = np.random.default_rng(1)
    labels = np.tile([0, 1, 1], 40)
    families = list(np.repeat([f"o{i}" for i in range(40)], 3))
    probs = labels * 0.5 + rng.random(120)
    ref = _videos(labels, probs, families).assign(video=[f"v{i}" for i in range(120)])
    same = frame_count.paired_to_reference(ref.copy(), ref, n_boot=200, seed=0)
    assert (same["difference"], same["diff_low"], same["diff_high"]) == (0.0, 0.0, 0.0) and same["equivalent"]
    worse = frame_count.paired_to_reference(ref.assign(prob=probs - 0.6 * labels), ref, n_boot=200, seed=0)
    assert worse["diff_high"] < 0 and not worse["equivalent"] and worse["detectable"] > 0
    with pytest.raises(ValueError, match="other test videos"):
        frame_count.paired_to_reference(ref.assign(video="x" + ref.video), ref, n_boot=20, seed=0)


def _made_up() -> pd.DataFrame:
    rows = []
    for model, aucs in {"two_stream_frame": (0.80, 0.88, 0.90, 0.91), "baseline": (0.70, 0.85, 0.93, 0.94)}.items():
        for count, auc in zip((32, 4, 16, 8), (aucs[3], aucs[0], aucs[2], aucs[1])):  # out of order on purpose
            row = {"model": model, "frames": count, "frames_used": min(count, 30), "step": 1.0, "videos": 95,
                   "roc_auc": auc, "low": auc - 0.06, "high": min(auc + 0.04, 1.0), "method": "BCa"}
            if count != 16:  # paired with 16 frames: the difference -+ 0.03 (95 %), -+ 0.025 (90 %)
                d = round(auc - aucs[2], 3)
                row.update(difference=d, diff_low=d - 0.03, diff_high=d + 0.03, detectable=0.04,
                           equivalent=abs(d) + 0.025 < frame_count.MARGIN, eq_low=d - 0.025, eq_high=d + 0.025)
            rows.append(row)
    return auc_table(rows)


def test_the_table_keeps_the_models_order_and_sorts_the_counts():
    table = _made_up()
    assert list(table.columns) == frame_count.COLUMNS
    assert list(table.model) == ["two_stream_frame"] * 4 + ["baseline"] * 4
    assert list(table.frames) == [4, 8, 16, 32] * 2
    shown = frame_count.shown(table)
    assert shown.loc[("baseline", 16), "test video AUC [95 % CI]"] == "0.930 [0.870, 0.970]"
    assert shown.loc[("baseline", 4), "− 16 frames, paired [95 % CI]"] == "-0.230 [-0.260, -0.200]"
    assert shown.loc[("baseline", 32), "within ±0.05 (TOST, 90 % CI)"] == "yes [-0.015, +0.035]"
    assert shown.loc[("baseline", 16), "− 16 frames, paired [95 % CI]"] == "–"
    assert (shown["interval method"] == "BCa").all()


def test_the_reading_is_paired_and_says_no_change_only_by_the_equivalence_test():
    text = reading(_made_up())
    two_stream, baseline = text.split("\n\n")
    assert two_stream.startswith("**two_stream_frame**: test video AUC 0.800 at 4, 0.880 at 8, 0.900 at 16, "
                                 "0.910 at 32 (30 used) frames; paired with 16 frames on the same videos: ")
    assert "4 frames lower it (-0.100 [-0.130, -0.070])" in two_stream
    assert "8 frames do not change it (within ±0.05: 90 % [-0.045, +0.005])" in two_stream
    assert "4 frames lower it" in baseline and "8 frames lower it (-0.080 [-0.110, -0.050])" in baseline
    unclear = _made_up().assign(diff_low=lambda t: t.difference - 0.2, diff_high=lambda t: t.difference + 0.2,
                                equivalent=lambda t: t.equivalent.where(t.difference.isna(), False))
    assert "no change shown either way" in reading(unclear) and "detectable 0.040" in reading(unclear)
    close = _made_up().assign(difference=lambda t: t.difference * 0, diff_low=lambda t: t.difference * 0 - 0.01,
                              diff_high=lambda t: t.difference * 0 + 0.01,
                              equivalent=lambda t: t.equivalent.where(t.difference.isna(), True),
                              eq_low=-0.01, eq_high=0.01)
    assert "every other count is within ±0.05 of 16 frames, so with these test videos the count does not change" \
        in reading(close)


def test_the_reading_without_the_reference_count_lists_the_aucs_only():
    table = _made_up()
    table = table[table.frames != 16].assign(difference=float("nan"))
    assert reading(table).startswith("**two_stream_frame**: test video AUC 0.800 at 4, 0.880 at 8")


def test_the_metrics_hold_every_model_and_count(tmp_path):
    from dfd_utils.paths import Paths

    path = frame_count.write_metrics(Paths.at(tmp_path), _made_up())
    kept = json.loads(path.read_text())
    assert set(kept) == {"two_stream_frame", "baseline"} and set(kept["baseline"]) == {"4", "8", "16", "32"}
    assert kept["baseline"]["32"] == {"roc_auc": 0.94, "roc_auc_ci": pytest.approx([0.88, 0.98]), "frames_used": 30,
                                      "videos": 95, "method": "BCa",
                                      "difference_to_16": pytest.approx([0.01, -0.02, 0.04]),
                                      "equivalent_to_16": True}
    assert "difference_to_16" not in kept["baseline"]["16"]


def test_the_figure_draws_one_line_per_model():
    import matplotlib

    matplotlib.use("Agg")
    ax = frame_count.figure(_made_up())
    assert len(ax.get_legend().get_texts()) == 2 and ax.get_xscale() == "log"


# ------------------------------------------------------------------------------------------------ settings


def test_the_demo_profile_asks_for_4_8_16_and_32_frames_of_both_per_frame_models():
    cfg = load("profiles/demo.yaml").frames_per_video
    assert cfg.counts == (4, 8, 16, 32) and cfg.models == ("baseline", "two_stream_frame")


@pytest.mark.parametrize("section, message", [
    ({"counts": [8, 4]}, "increasing order"),
    ({"counts": [4, 4]}, "increasing order"),
    ({"counts": [1, 4]}, "frames_per_video.counts"),
    ({"models": ["cnn_rnn"]}, "per-frame models"),
    ({"models": []}, "per-frame models"),
    ({"count": [4]}, "unknown key frames_per_video.count"),
])
def test_bad_frames_per_video_settings_are_refused_by_name(section, message):
    params = load_params("profiles/demo.yaml")
    params["frames_per_video"] = section
    with pytest.raises(ConfigError, match=message):
        parse(params, "demo.yaml")


# ------------------------------------------------------------------------------------------------ feature reuse


def test_positions_within_a_larger_sampling():
    assert frame_count.positions_within([count_indices(30, 4)], [count_indices(30, 32)]) == [[0, 9, 19, 29]]
    assert frame_count.positions_within([[0, 2]], [[0, 1, 2]]) == [[0, 2]]
    assert frame_count.positions_within([count_indices(300, 16)], [count_indices(300, 32)]) is None


def test_features_are_gathered_only_where_the_frames_are_the_same_pixels(tmp_path):
    """A smaller count's features come from the larger count's when its frames are among them; else computed."""
    import torch

    from dfd_utils.datasets import SplitData
    from dfd_utils.features import with_features
    from dfd_utils.models import build_model

    torch.manual_seed(0)
    model = build_model("baseline", backbone="resnet18", weights=None).eval()
    frames = torch.randint(0, 255, (2, 4, 3, 32, 32), dtype=torch.uint8)
    big = with_features(model, SplitData(["a", "b"], ["a", "b"], torch.tensor([0.0, 1.0]), frames, None, None))
    small = SplitData(["a", "b"], ["a", "b"], torch.tensor([0.0, 1.0]), frames[:, [0, 3]].clone(), None, None)
    got = frame_count.featured(model, small, [[0, 9], [0, 9]], (big, [[0, 3, 6, 9]] * 2), tmp_path)
    assert torch.equal(got.features, big.features[:, [0, 3]]) and not list(tmp_path.iterdir())  # gathered
    changed = SplitData(["a", "b"], ["a", "b"], torch.tensor([0.0, 1.0]), 255 - small.frames, None, None)
    again = frame_count.featured(model, changed, [[0, 9], [0, 9]], (big, [[0, 3, 6, 9]] * 2), tmp_path)
    assert torch.equal(again.features, with_features(model, changed).features)  # one video per pass: the same bits
    # Other pixels: computed and kept in the store, a file per video with its SHA-256 sealed beside it (dfd_utils.kept)
    entries = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(entries) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*entries, *(e + ".sha256" for e in entries)])
