"""The study's statistics: coverage by simulation, BCa and the tests by hand."""

from __future__ import annotations

import time
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dfd_utils import stats

Z95 = NormalDist().inv_cdf(0.975)


def test_auc_and_its_weighted_form_are_sklearns_with_ties_and_repeats():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)  # many ties across classes
    assert stats.auc(y, s) == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    counts = rng.integers(0, 3, size=(4, 60))  # four draws: each video 0, 1 or 2 times
    for row, value in zip(counts, stats.weighted_auc(y, s, counts)):
        idx = np.repeat(np.arange(60), row)
        assert value == pytest.approx(roc_auc_score(y[idx], s[idx]), rel=1e-12)
    assert np.isnan(stats.auc([1, 1, 1], [0.1, 0.2, 0.3]))


# ------------------------------------------------------------------------------------------------- coverage


def simulated(rng, n_families: int, shift: float, family_sd: float):
    """One test set: families of one REAL and 1-3 FAKE (mean 1.5: ~60 % FAKE) sharing a family random effect.

    Scores ``u_family + shift * FAKE + noise``: videos of a family are correlated, as in the study."""
    fakes = rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1], size=n_families)  # (F,)
    family = np.repeat(np.arange(n_families), fakes + 1)  # (N,)
    labels = np.ones(len(family), dtype=int)
    labels[np.r_[0, np.cumsum(fakes + 1)[:-1]]] = 0  # each family's first video is its REAL original
    scores = rng.normal(0, family_sd, n_families)[family] + shift * labels + rng.normal(0, 1, len(family))
    return labels, scores, family


def test_the_95_percent_auc_interval_covers_the_true_auc_of_clustered_data():
    """500 synthetic test sets of ~95 videos in 38 families; the true AUC from 400 000 families of the same model.

    The Wilson floor this replaced had no stated coverage; the cluster BCa interval's is measured here.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(20261207)
    shift, family_sd = 1.0, 0.7
    true = stats.auc(*simulated(rng, 400_000, shift, family_sd)[:2])
    assert true == pytest.approx(NormalDist().cdf(shift / np.sqrt(2 * family_sd**2 + 2)), abs=0.002)  # analytic
    covered, sizes = 0, []
    for i in range(500):
        labels, scores, family = simulated(rng, 38, shift, family_sd)
        sizes.append((len(labels), labels.mean()))
        iv = stats.auc_interval(labels, scores, family, n_boot=1000, seed=i)
        covered += iv.low <= true <= iv.high
    n, fake = np.mean(sizes, axis=0)
    assert 90 <= n <= 100 and 0.55 <= fake <= 0.65
    assert 0.93 <= covered / 500 <= 0.97, covered / 500
    assert time.perf_counter() - start < 60


# ------------------------------------------------------------------------------------------------------- BCa


def test_bca_by_hand():
    draws = np.arange(1.0, 21.0)  # 20 draws 1..20
    # point 8: 7 draws below, 1 tie -> share 7.5 / 20, z0 = Φ⁻¹(0.375); jackknife symmetric -> a = 0
    iv = stats.bca(8.0, draws, [1.0, 2.0, 3.0], 0.90, "m")
    z0 = NormalDist().inv_cdf(0.375)
    lo_q, hi_q = (NormalDist().cdf(2 * z0 + NormalDist().inv_cdf(q)) for q in (0.05, 0.95))
    assert (iv.low, iv.high) == pytest.approx(tuple(np.quantile(draws, [lo_q, hi_q])))
    # no bias and no skew: BCa is the percentile interval
    plain = stats.bca(10.5, draws, [1.0, 2.0, 3.0], 0.90, "m")
    assert (plain.low, plain.high) == pytest.approx(tuple(np.quantile(draws, [0.05, 0.95])))
    # acceleration from a skewed jackknife: d = mean - jack = (1, 1, -2): a = (1 + 1 - 8) / (6 * 6 ** 1.5)
    skewed = stats.bca(10.5, draws, [2.0, 2.0, 5.0], 0.90, "m")
    a = -6 / (6 * 6**1.5)
    ends = [NormalDist().cdf(z / (1 - a * z)) for z in (NormalDist().inv_cdf(0.05), NormalDist().inv_cdf(0.95))]
    assert (skewed.low, skewed.high) == pytest.approx(tuple(np.quantile(draws, ends)))
    assert np.isnan(stats.bca(float("nan"), draws, [], 0.95, "m").low)


def test_cluster_bca_resamples_families_whole_pairs_tables_and_matches_the_vectorised_form():
    rng = np.random.default_rng(1)
    labels, scores, family = simulated(rng, 30, 1.0, 0.5)
    table = pd.DataFrame({"family": family, "label": labels, "prob": scores})
    sizes = []

    def stat(t):
        sizes.append(len(t["a"]) - len(t["b"]))
        return stats.auc(t["a"].label, t["a"].prob)

    generic = stats.cluster_bca({"a": table, "b": table.copy()}, stat, n_boot=200, seed=3)
    assert set(sizes) == {0}  # one draw, the same families in both tables
    assert generic == stats.auc_interval(labels, scores, family, n_boot=200, seed=3)
    assert generic.method == "cluster bootstrap BCa over original families (200 draws)" and generic.level == 0.95


def test_too_few_families_or_no_defined_draw_give_no_interval():
    iv = stats.auc_interval([0, 1] * 7, np.arange(14.0), np.repeat(np.arange(stats.MIN_FAMILIES - 1), 2))
    assert np.isfinite(iv.point) and np.isnan(iv.low) and np.isnan(iv.high) and not iv.defined
    one_class = stats.auc_interval([1] * 20, np.arange(20.0), np.arange(20))
    assert np.isnan(one_class.point) and np.isnan(one_class.low)


def test_the_paired_difference_of_a_model_with_itself_is_exactly_zero():
    rng = np.random.default_rng(2)
    labels, scores, family = simulated(rng, 40, 0.8, 0.5)
    iv = stats.paired_auc_difference(labels, scores, scores, family)
    assert (iv.point, iv.low, iv.high) == (0.0, 0.0, 0.0) and iv.method.startswith("paired")


def test_pairing_narrows_a_difference_that_shared_difficulty_would_hide():
    rng = np.random.default_rng(3)
    labels, scores, family = simulated(rng, 40, 0.8, 2.0)  # a large family effect shared by both models
    better = scores + 0.6 * labels
    paired = stats.paired_auc_difference(labels, better, scores, family)
    a, b = (stats.auc_interval(labels, s, family) for s in (better, scores))
    assert paired.low > 0 and paired.high - paired.low < (a.high - a.low) + (b.high - b.low)


# ------------------------------------------------------------------------------------------------------ TOST


def test_a_random_scorer_is_equivalent_to_chance_and_a_perfect_one_is_not():
    rng = np.random.default_rng(5)
    labels = np.tile([0, 1], 200)  # 400 videos in 200 families
    family = np.repeat(np.arange(200), 2)
    same, iv = stats.equivalence(labels, rng.random(400), family, reference=0.5, margin=0.1)
    assert same and iv.level == pytest.approx(0.90) and 0.4 < iv.low < iv.high < 0.6
    perfect, iv = stats.equivalence(labels, labels + rng.random(400) * 0.5, family)
    assert not perfect and iv.point == 1.0


def test_paired_equivalence_within_a_margin():
    rng = np.random.default_rng(6)
    labels, scores, family = simulated(rng, 200, 1.0, 0.5)
    noisy = scores + rng.normal(0, 0.01, len(scores))  # the same model up to float-sized noise
    same, iv = stats.paired_equivalence(labels, noisy, scores, family, margin=0.05)
    assert same and -0.05 < iv.low <= iv.high < 0.05 and iv.level == pytest.approx(0.90)
    different, _ = stats.paired_equivalence(labels, scores + 1.5 * labels, scores, family, margin=0.05)
    assert not different


def test_detectable_effect_by_hand():
    iv = stats.Interval(0.0, -0.1, 0.1, 0.95, "m")  # SE = 0.2 / (2 * 1.96) = 0.051
    assert stats.detectable_effect(iv) == pytest.approx((Z95 + NormalDist().inv_cdf(0.8)) * 0.1 / Z95)
    assert stats.detectable_effect(iv, power=0.5) == pytest.approx(0.1)  # z_0.5 = 0: the half-width itself
    z90 = NormalDist().inv_cdf(0.95)
    at90 = stats.Interval(0.5, 0.4, 0.6, 0.90, "m")
    assert stats.detectable_effect(at90) == pytest.approx((z90 + NormalDist().inv_cdf(0.8)) * 0.1 / z90)
    assert np.isnan(stats.detectable_effect(stats.Interval(0.5, float("nan"), float("nan"), 0.95, "m")))
