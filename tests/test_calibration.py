"""Calibration (chapter 11): ECE, reliability bins and temperature scaling on hand-made probabilities."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from dfd_utils import calibration
from dfd_utils.calibration import apply_temperature, ece, fit_temperature, reliability


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def drawn(n=100_000, seed=0, scale=2.0):
    """Logits ``z`` and labels drawn from ``sigmoid(z)``: ``sigmoid(z)`` is calibrated by construction."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, scale, n)  # (n,)
    return z, (rng.random(n) < sigmoid(z)).astype(int)


# ------------------------------------------------------------------------------------------------ ECE, by hand


def test_ece_of_a_tiny_example_by_hand():
    # bin 0: p 0.05, REAL -> gap 0.05; bin 1: p 0.15, FAKE -> gap 0.85; bin 9: p 0.92 FAKE and 0.98 REAL ->
    # confidence 0.95, observed 0.5, gap 0.45 over 2 videos. ECE = (0.05 + 0.85 + 2 * 0.45) / 4 = 0.45
    assert ece([0, 1, 1, 0], [0.05, 0.15, 0.92, 0.98]) == pytest.approx(0.45)
    # two bins: [0, 0.5) holds 0.2 (REAL) and 0.4 (FAKE): |0.3 - 0.5| = 0.2; [0.5, 1] holds 0.9 (FAKE): 0.1
    assert ece([0, 1, 1], [0.2, 0.4, 0.9], bins=2) == pytest.approx((2 * 0.2 + 0.1) / 3)


def test_reliability_bins_count_every_video_once_ends_included():
    probs = np.array([0.0, 0.1, 0.1, 0.35, 0.5, 0.99, 1.0])  # 0 in the first bin, 1 in the last
    labels = np.array([0, 0, 1, 0, 1, 1, 1])
    table = reliability(labels, probs, bins=4)
    assert table["count"].tolist() == [3, 1, 1, 2] and table["count"].sum() == len(probs)
    assert table["low"].tolist() == [0, 0.25, 0.5, 0.75] and table["high"].iloc[-1] == 1
    assert table["confidence"].iloc[0] == pytest.approx(0.2 / 3) and table["observed"].iloc[0] == pytest.approx(1 / 3)
    assert table["observed"].iloc[3] == 1.0
    empty = reliability([1, 0], [0.05, 0.06], bins=10)
    assert empty["count"].sum() == 2 and empty["confidence"].isna().sum() == 9  # empty bins: NaN, weigh nothing


def test_a_calibrated_model_has_ece_near_zero_and_temperature_near_one():
    z, y = drawn()
    p = sigmoid(z)
    assert ece(y, p) < 0.01
    assert fit_temperature(y, p) == pytest.approx(1.0, abs=0.03)


def test_an_over_confident_model_gets_t_above_one_and_a_lower_validation_log_loss():
    z, y = drawn(seed=1)
    p = sigmoid(3 * z)  # logits three times too large: over-confident
    t = fit_temperature(y, p)
    assert t == pytest.approx(3.0, rel=0.05)
    after = apply_temperature(p, t)
    assert calibration.log_loss(y, after) < calibration.log_loss(y, p) - 0.05
    assert ece(y, after) < ece(y, p) / 3
    under = fit_temperature(y, sigmoid(z / 2))  # timid: sharpened
    assert under == pytest.approx(0.5, rel=0.05)


def test_log_loss_is_sklearns_on_clipped_probabilities():
    y, p = [0, 1, 1, 0], [0.2, 0.7, 1.0, 0.0]
    assert calibration.log_loss(y, p) == pytest.approx(sk_log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))


@pytest.mark.parametrize("t", [0.3, 0.8, 1.0, 2.5, 10.0])
def test_temperature_keeps_the_ranking_so_auc_is_unchanged(t):
    z, y = drawn(n=2000, seed=2)
    p = np.concatenate([sigmoid(z), [1e-5, 0.5, 1 - 1e-5]])
    y = np.concatenate([y, [0, 1, 1]])
    after = apply_temperature(p, t)
    assert roc_auc_score(y, after) == roc_auc_score(y, p)
    assert np.array_equal(np.argsort(after, kind="stable"), np.argsort(p, kind="stable"))
    assert apply_temperature([0.5], t)[0] == pytest.approx(0.5)


def test_apply_temperature_by_hand_and_at_the_ends():
    # logit(0.8) = log 4; halved: log 2 -> sigmoid = 2/3
    assert apply_temperature([0.8], 2.0)[0] == pytest.approx(2 / 3)
    assert apply_temperature([0.8], 1.0)[0] == pytest.approx(0.8)
    ends = apply_temperature([0.0, 1.0], 2.0)  # clipped, then scaled: finite and inside (0, 1)
    assert 0 < ends[0] < 1e-2 and 1 - 1e-2 < ends[1] < 1
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            apply_temperature([0.5], bad)


def test_a_fit_with_nothing_to_learn_or_at_a_bound_says_so():
    assert calibration.fit([1, 1, 1], [0.6, 0.7, 0.9]) == calibration.Temperature(
        1.0, "validation holds one class only: no temperature fitted (T = 1)")
    assert calibration.fit([0, 1], [0.5, 0.5]).value == 1.0
    separated = calibration.fit([0, 0, 1, 1], [0.3, 0.4, 0.6, 0.7])  # perfectly separated: sharper is always better
    assert separated.value == pytest.approx(calibration.T_BOUNDS[0], rel=1e-2) and "bound" in separated.note


def test_the_golden_section_fallback_finds_the_same_minimum():
    z, y = drawn(n=5000, seed=3)
    p = sigmoid(2 * z)
    q = np.clip(p, 1e-6, 1 - 1e-6)
    lz = np.log(q) - np.log1p(-q)

    def nll(log_t):
        s = lz / math.exp(log_t)
        return float(np.mean(np.where(y == 1, np.logaddexp(0, -s), np.logaddexp(0, s))))

    golden = math.exp(calibration._golden(nll, math.log(0.05), math.log(20)))
    assert golden == pytest.approx(fit_temperature(y, p), rel=1e-3)


# ------------------------------------------------------------------------------------------------ one model


def videos_csv(seed=4, n_val=4000, n_test=4000, factor=3.0):
    """A model's videos.csv: val and test rows, over-confident by ``factor``."""
    z, y = drawn(n=n_val + n_test, seed=seed)
    split = np.array(["val"] * n_val + ["test"] * n_test)
    return pd.DataFrame({"split": split, "video": [f"v{i}.mp4" for i in range(len(z))], "family": "f",
                         "label": y, "prob": sigmoid(factor * z), "decision": sigmoid(factor * z)})


def test_calibrate_fits_on_validation_and_measures_test(tmp_path):
    table = videos_csv()
    record = calibration.calibrate("cnn3d", table)
    test, val = table[table.split == "test"], table[table.split == "val"]
    assert record.temperature == fit_temperature(val.label, val.prob)  # validation rows only
    assert (record.val_videos, record.test_videos) == (4000, 4000)
    assert record.ece_before == pytest.approx(ece(test.label, test.prob))
    assert record.ece_after < record.ece_before and record.log_loss_after < record.log_loss_before
    assert record.val_log_loss_after < record.val_log_loss_before
    assert record.bins_before["count"].sum() == record.bins_after["count"].sum() == 4000
    moved = table.assign(prob=np.where(table.split == "test", 0.5, table.prob))  # test rows never enter the fit
    assert calibration.calibrate("cnn3d", moved).temperature == record.temperature
    shown = calibration.table({"cnn3d": record})
    assert list(shown.columns) == ["T", "ECE before", "ECE after", "log loss before", "log loss after"]
    assert "Over-confident on validation (T > 1, softened): cnn3d." in calibration.reading({"cnn3d": record})
    path = calibration.write_metrics(tmp_path, {"cnn3d": record})
    kept = json.loads(path.read_text())["cnn3d"]
    assert kept["temperature"] == pytest.approx(record.temperature) and set(kept) >= {"ece_before", "log_loss_after"}


def test_load_reads_the_predictions_that_exist(tmp_path):
    from dfd_utils.paths import Paths

    with pytest.raises(FileNotFoundError, match="no predictions"):
        calibration.load(tmp_path)
    folder = Paths.at(tmp_path).predictions / "baseline"
    folder.mkdir(parents=True)
    videos_csv(n_val=10, n_test=10).to_csv(folder / "videos.csv", index=False)
    assert list(calibration.load(tmp_path)) == ["baseline"]
    with pytest.raises(ValueError, match="prob"):
        calibration.calibrate("baseline", pd.DataFrame({"split": ["val"], "label": [1]}))


def test_the_reliability_figure_has_one_panel_per_model():
    from dfd_utils import plots

    records = {name: calibration.calibrate(name, videos_csv(seed=i, n_val=300, n_test=300))
               for i, name in enumerate(("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d"))}
    fig = plots.reliability_diagrams(records)
    drawn_axes = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in drawn_axes] == list(records)
    assert plots.shown_width_in(fig) <= plots.PAGE_WIDTH_IN + 0.05


# ------------------------------------------------------------------------------------------------ dfd predict

INPUT = {"num_frames": 16, "height": 108, "width": 192, "size_3d": 32}


def predict_json(capsys, clip, checkpoint, *more):
    from dfd_utils.cli import main

    code = main(["predict", str(clip), "--checkpoint", str(checkpoint), "--json", *map(str, more)])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_dfd_predict_reports_the_calibrated_probability_and_decides_on_the_raw_score(tmp_path, capsys):
    from conftest import make_checkpoint, write_clip
    from dfd_utils.cli import main

    clip = write_clip(tmp_path / "a.mp4")
    t = 0.25  # sharpens: an untrained model's probabilities near 0.5 move visibly
    for name in ("baseline", "cnn_rnn"):  # the share rule of a per-frame model, a whole-video model's probability
        plain = make_checkpoint(tmp_path / f"{name}.pt", name, extra={"input": INPUT})
        hot = make_checkpoint(tmp_path / f"{name}_t.pt", name, extra={"input": INPUT, "temperature": t})
        before, after = predict_json(capsys, clip, plain), predict_json(capsys, clip, hot)
        assert (before["temperature"], before["calibrated"]) == (None, False)
        assert (after["temperature"], after["calibrated"]) == (t, True)
        raw, cal = before["results"][0], after["results"][0]
        assert raw["prob_raw"] is None and cal["prob_raw"] == raw["prob_fake"]
        assert cal["prob_fake"] == pytest.approx(apply_temperature([raw["prob_fake"]], t)[0], abs=2e-4)
        assert abs(cal["prob_fake"] - 0.5) > abs(raw["prob_fake"] - 0.5)
        for key in ("score", "verdict", "share_fake", "frame_probs"):  # the decision stays on the raw scores
            assert cal[key] == raw[key], (name, key)
        between = (raw["prob_fake"] + cal["prob_fake"]) / 2  # a threshold the calibrated probability crosses
        again = predict_json(capsys, clip, hot, "--threshold", between)["results"][0]
        if name == "cnn_rnn":
            assert again["verdict"] == ("FAKE" if raw["prob_fake"] >= between else "REAL")  # the raw score decides
    assert main(["predict", str(clip), "--checkpoint", str(hot)]) == 0
    out = capsys.readouterr().out
    assert f"prob_fake is calibrated: temperature {t:g}" in out and "(raw " in out
    bad = make_checkpoint(tmp_path / "bad.pt", extra={"input": INPUT, "temperature": -1.0})
    assert main(["predict", str(clip), "--checkpoint", str(bad)]) == 2
    assert "temperature must be a finite number > 0" in capsys.readouterr().err
