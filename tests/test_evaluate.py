"""Metrics against hand-computed values; thresholds chosen on validation only."""

import numpy as np
import pytest

from dfd_utils.evaluate import aggregate_frames, binary_metrics, bootstrap_ci, choose_threshold, confusion, wilson


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


def test_a_perfect_small_test_split_does_not_get_a_zero_width_interval():
    labels = np.array([1] * 6 + [0] * 7)  # 13 test videos, all decided right (the demo run's split size)
    probs = np.where(labels == 1, 0.9, 0.1)
    ci = bootstrap_ci(labels, probs, np.arange(13), n_boot=100, seed=0)
    z = 1.959963984540054
    assert ci["accuracy"] == pytest.approx((13 / (13 + z * z), 1.0))  # 0.77, not [1.00, 1.00]
    assert ci["roc_auc"] == pytest.approx((6 / (6 + z * z), 1.0))  # counted over the smaller class: 6 FAKE
    assert ci["recall"] == pytest.approx((6 / (6 + z * z), 1.0))  # 6 of 6 FAKE found
    assert ci["precision"] == pytest.approx((6 / (6 + z * z), 1.0))  # 6 of 6 called FAKE are FAKE


def test_an_interval_always_contains_its_estimate():
    labels = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    probs = np.array([0.9, 0.2, 0.4, 0.6, 0.8, 0.7, 0.1, 0.3])
    point = binary_metrics(labels, probs)
    for k, (low, high) in bootstrap_ci(labels, probs, [0, 0, 1, 1, 2, 2, 3, 3], n_boot=100, seed=0).items():
        assert low <= point[k] <= high, k


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
