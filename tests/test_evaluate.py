"""Metrics against hand-computed values; thresholds chosen on validation only."""

import numpy as np
import pandas as pd
import pytest

from dfd_utils import stats
from dfd_utils.evaluate import (
    aggregate_frames,
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    confusion,
    detector_metrics,
    intervals,
    score_table,
    wilson,
)


def test_binary_metrics_by_hand():
    labels = [1, 1, 1, 0, 0]
    probs = [0.9, 0.6, 0.2, 0.7, 0.1]  # at 0.5: TP 2, FN 1, FP 1, TN 1
    m = binary_metrics(labels, probs)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["roc_auc"] == pytest.approx(4 / 6)  # pairs (fake > real): 0.9>both, 0.6>0.1, 0.2>0.1 -> 4 of 6
    expected_ll = -np.mean(np.log([0.9, 0.6, 0.2, 0.3, 0.9]))
    assert m["log_loss"] == pytest.approx(expected_ll)
    np.testing.assert_array_equal(confusion(labels, probs), [[1, 1], [1, 2]])


def test_aggregation_rules():
    probs = np.array([0.9, 0.8, 0.1, 0.2,  # video 0
                      0.4, 0.4, 0.6, 0.1])  # video 1
    table = aggregate_frames(probs, num_frames=4, topk=2)
    assert table.share.tolist() == [0.5, 0.25]
    assert table["mean"].tolist() == pytest.approx([0.5, 0.375])
    assert table["max"].tolist() == [0.9, 0.6]
    assert table.topk.tolist() == pytest.approx([0.85, 0.5])


def test_threshold_is_chosen_on_the_validation_scores_given():
    val_labels = [1, 1, 0, 0]
    val_share = [0.65, 0.45, 0.35, 0.2]  # only 0.4 separates them
    assert choose_threshold(val_labels, val_share) == 0.4
    assert choose_threshold([1, 0], [0.9, 0.1]) == 0.5  # ties go to the threshold nearest 0.5


def test_float_noise_on_a_grid_point_does_not_move_the_threshold():
    """A FAKE video scored 0.6 exactly on one CPU and 0.6 - 1e-7 on another: without rounding, 0.6 keeps it FAKE
    on the first (0.6 wins, 3 of 3) and loses it on the second (0.4, 0.5 and 0.6 tie at 2 of 3: 0.5 wins)."""
    labels = [1, 0, 0]
    exact = np.array([0.6, 0.55, 0.45])
    noisy = exact - np.array([1e-7, 0.0, 0.0])
    assert choose_threshold(labels, exact) == 0.6
    assert choose_threshold(labels, noisy) == 0.6  # rounded to 1e-3: the same video counts, the same threshold
    raw = {t: int(((noisy >= t).astype(int) == labels).sum()) for t in (0.5, 0.6)}
    assert raw == {0.5: 2, 0.6: 2}  # what the unrounded rule saw: a tie, settled towards 0.5


@pytest.mark.slow  # a few seconds: kept out of make test-fast
def test_bootstrap_resamples_families_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 1] * 20)
    probs = np.clip(labels * 0.6 + rng.normal(0.2, 0.2, 60), 0, 1)
    families = np.repeat(np.arange(20), 3)
    ci = bootstrap_ci(labels, probs, families, n_boot=200, seed=1)
    point = binary_metrics(labels, probs)
    for k in ("accuracy", "roc_auc"):
        low, high = ci[k]
        assert low <= point[k] <= high and high - low > 0
    assert ci["roc_auc"] == stats.auc_interval(labels, probs, families, n_boot=200, seed=1).as_tuple()[1:]
    assert ci == bootstrap_ci(labels, probs, families, n_boot=200, seed=1)
    # one giant family: every resample is that family, so the bootstrap collapses and the Wilson floor remains
    same = bootstrap_ci(labels, probs, np.zeros(60), n_boot=50, seed=1)
    assert same["accuracy"] == pytest.approx(wilson(point["accuracy"] * 60, 60))


def test_wilson_interval_by_hand():
    z = 1.959963984540054
    assert wilson(13, 13) == pytest.approx((13 / (13 + z * z), 1.0))  # p = 1: the lower bound is n / (n + z^2)
    assert wilson(0, 13) == pytest.approx((0.0, z * z / (13 + z * z)))
    low, high = wilson(6, 12)  # symmetric around 1/2: 0.5 -+ z sqrt(1/48 + z^2/576) / (1 + z^2/12)
    half = z * np.sqrt(0.25 / 12 + z * z / 576) / (1 + z * z / 12)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half))
    assert wilson(0, 0) == (0.0, 1.0)


def test_a_perfect_small_test_split_does_not_get_a_zero_width_interval_for_a_proportion():
    labels = np.array([1] * 6 + [0] * 7)  # 13 test videos, all decided right (the demo run's split size)
    probs = np.where(labels == 1, 0.9, 0.1)
    ci, methods = intervals(labels, probs, np.arange(13), n_boot=100, seed=0)
    z = 1.959963984540054
    assert ci["accuracy"] == pytest.approx((13 / (13 + z * z), 1.0))  # 0.77, not [1.00, 1.00]
    assert ci["recall"] == pytest.approx((6 / (6 + z * z), 1.0))  # 6 of 6 FAKE found
    assert ci["precision"] == pytest.approx((6 / (6 + z * z), 1.0))  # 6 of 6 called FAKE are FAKE
    assert "Wilson" in methods["accuracy"] and "percentile" in methods["accuracy"]
    # ROC AUC is no proportion: its interval is the cluster bootstrap's, which a perfect ranking cannot widen
    assert ci["roc_auc"] == (1.0, 1.0) and methods["roc_auc"] == stats.bca_method(100)


def test_the_auc_interval_is_the_cluster_bca_interval_not_the_wilson_floor():
    rng = np.random.default_rng(5)
    labels = np.array([0, 1, 1] * 30)  # 30 families: one REAL and two FAKE each
    families = np.repeat(np.arange(30), 3)
    probs = np.clip(0.5 + 0.25 * labels - 0.1 + rng.normal(0, 0.2, 90), 0, 1)
    ci, methods = intervals(labels, probs, families, n_boot=300, seed=2)
    iv = stats.auc_interval(labels, probs, families, n_boot=300, seed=2)
    assert ci["roc_auc"] == (iv.low, iv.high) and methods["roc_auc"] == iv.method
    assert methods["roc_auc"] == "cluster bootstrap BCa over original families (300 draws)"
    smaller = wilson(iv.point * 30, 30)  # what the old floor gave: read over the 30 REAL videos
    assert iv.high - iv.low < smaller[1] - smaller[0]


def test_too_few_families_fall_back_to_a_named_wilson_interval_for_auc():
    labels = np.array([0, 1, 1] * 5)  # 5 families: below stats.MIN_FAMILIES
    probs = np.linspace(0.1, 0.9, 15) * 0.5 + 0.5 * labels
    ci, methods = intervals(labels, probs, np.repeat(np.arange(5), 3), n_boot=50)
    point = binary_metrics(labels, probs)["roc_auc"]
    assert ci["roc_auc"] == pytest.approx(wilson(point * 5, 5))
    assert "Wilson" in methods["roc_auc"] and "too few families" in methods["roc_auc"]


def test_detector_metrics_record_the_method_of_every_interval():
    rng = np.random.default_rng(1)
    rows = []
    for split, n in (("val", 30), ("test", 40)):
        labels = np.tile([0, 1], n // 2)
        probs = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.2, n), 0, 1)
        rows.append(score_table(split, [f"{split}{i}" for i in range(n)], np.repeat(np.arange(n // 2), 2),
                                labels, probs, None))
    m = detector_metrics(pd.concat(rows, ignore_index=True), None, n_boot=100)
    assert set(m["video_ci_method"]) == set(m["video_ci"])  # a method for every interval, and the old keys kept
    assert m["video_ci_method"]["roc_auc"].startswith("cluster bootstrap BCa")
    assert m["video_ci"]["roc_auc"] == pytest.approx(list(stats.auc_interval(
        rows[1].label, rows[1].prob, rows[1].family, n_boot=100).as_tuple()[1:]))


def test_an_interval_of_a_proportion_always_contains_its_estimate():
    labels = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    probs = np.array([0.9, 0.2, 0.4, 0.6, 0.8, 0.7, 0.1, 0.3])
    point = binary_metrics(labels, probs)
    for k, (low, high) in bootstrap_ci(labels, probs, [0, 0, 1, 1, 2, 2, 3, 3], n_boot=100, seed=0).items():
        assert low <= point[k] <= high, k  # AUC too: 4 families is the named Wilson fallback, which contains it


def test_weighted_metrics_equal_sklearn_on_the_sample_with_its_repeats_written_out():
    """One bootstrap draw, as weights, gives what sklearn gives on the resampled videos (ties included)."""
    from sklearn import metrics as skm

    from dfd_utils.evaluate import weighted_metrics

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 40)
    probs = np.round(rng.random(40), 1)  # rounded: many tied scores across classes
    called = probs >= 0.5
    counts = rng.integers(0, 3, size=(5, 40))  # five draws: each video 0, 1 or 2 times
    values = weighted_metrics(labels, probs, called, counts)
    for b, row in enumerate(counts):
        idx = np.repeat(np.arange(40), row)
        y, p, pred = labels[idx], probs[idx], called[idx].astype(int)
        expected = {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
                    "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
                    "balanced_accuracy": skm.balanced_accuracy_score(y, pred), "roc_auc": skm.roc_auc_score(y, p),
                    "log_loss": skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])}
        for k, v in expected.items():
            assert values[k][b] == pytest.approx(v, rel=1e-12), (k, b)


def test_metrics_of_one_class_and_of_no_fake_call():
    m = binary_metrics([1, 1, 1], [0.2, 0.3, 0.4])  # nothing called FAKE, no REAL video
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0 and m["accuracy"] == 0.0
    assert np.isnan(m["roc_auc"]) and np.isnan(m["balanced_accuracy"])


def test_chapter_08_compares_every_model_with_the_baseline_both_ways_paired():
    """A model better than the baseline, one worse and one the same: the paired reading names all three."""
    from dfd_utils.report import baseline_comparison, comparison_shown, interval_methods, reading

    rng = np.random.default_rng(7)
    n = 60
    labels = np.tile([0, 1], n)
    base = labels * 1.0 + rng.normal(0, 1, 2 * n)

    def table(scores):
        return pd.DataFrame({"split": "test", "video": [f"v{i}" for i in range(2 * n)],
                             "family": np.repeat(np.arange(n), 2), "label": labels, "prob": scores})

    predictions = {"baseline": table(base), "better": table(base + 3 * labels), "worse": table(base - 1.5 * labels),
                   "same": table(base.copy())}
    comparison = baseline_comparison(predictions, n_boot=200)
    assert comparison.loc["better", "low"] > 0 and comparison.loc["worse", "high"] < 0
    assert (comparison.loc["same", ["difference", "low", "high"]] == 0).all()
    assert comparison.method.str.startswith("paired cluster bootstrap BCa").all()
    summary = pd.DataFrame({"roc_auc": [0.8, 0.95, 0.4, 0.8], "roc_auc_low": [0.7, 0.9, 0.3, 0.7],
                            "roc_auc_high": [0.9, 1.0, 0.45, 0.9]}, index=list(predictions))
    text = reading(summary, comparison=comparison)
    assert "better, **better**; worse, **worse**; no difference shown, **same** (detectable: 0.00)" in text
    assert "Worse than chance (the upper end below 0.5): **worse**." in text
    assert "interval method" in comparison_shown(comparison)
    m = {"a": {"video_ci_method": {"roc_auc": "BCa"}}, "b": {"video_ci_method": {"roc_auc": "Wilson"}}}
    assert interval_methods(m, ("roc_auc",)).loc["roc_auc", "interval method"] == "BCa (a); Wilson (b)"
