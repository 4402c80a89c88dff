"""The chapters' shared panels and computed readings, on results written by hand."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dfd_utils import panels, plots  # noqa: E402
from dfd_utils.chapters import real_faces  # noqa: E402
from dfd_utils.datasets import SplitData  # noqa: E402
from dfd_utils.evaluate import FRAME_RULES, detector_metrics, frame_table, score_table, video_scores  # noqa: E402
from dfd_utils.models import build_model  # noqa: E402
from dfd_utils.report import interval, reading, seed_table, with_intervals  # noqa: E402


def test_video_scores_by_hand():
    p = np.array([[0.1, 0.6, 0.7, 0.2], [0.9, 0.8, 0.4, 0.5]])  # (V=2, T=4)
    np.testing.assert_allclose(video_scores(p, "share"), [0.5, 0.75])
    np.testing.assert_allclose(video_scores(p, "mean"), [0.4, 0.65])
    np.testing.assert_allclose(video_scores(p, "max"), [0.7, 0.9])
    np.testing.assert_allclose(video_scores(p, "topk", topk=2), [0.65, 0.85])
    with pytest.raises(ValueError, match="unknown frame-to-video rule 'median'"):
        video_scores(p, "median")
    with pytest.raises(ValueError, match=r"\(videos, frames\)"):
        video_scores(p.ravel(), "mean")


def _tables():
    """Two val and four test videos of a per-frame model with T=2 frames each."""
    probs = {"val": [0.9, 0.8, 0.1, 0.2], "test": [0.9, 0.7, 0.6, 0.2, 0.3, 0.1, 0.1, 0.4]}
    labels = {"val": [1, 0], "test": [1, 1, 0, 0]}
    videos, frames = [], []
    for split in ("val", "test"):
        names = [f"{split}{i}" for i in range(len(labels[split]))]
        videos.append(score_table(split, names, names, labels[split], probs[split], 2))
        frames.append(frame_table(split, names, labels[split], 2, probs[split]))
    return pd.concat(videos, ignore_index=True), pd.concat(frames, ignore_index=True)


def test_detector_metrics_chooses_on_validation_and_reports_every_rule():
    videos, frames = _tables()
    test = videos[videos.split == "test"]
    np.testing.assert_allclose(test["share"], [1.0, 0.5, 0.0, 0.0])  # frames >= 0.5 per video
    np.testing.assert_allclose(test["mean"], [0.8, 0.4, 0.2, 0.25])
    m = detector_metrics(videos, frames, grid=(0.3, 0.5, 0.7), n_boot=20)
    assert set(m["rules"]) == set(FRAME_RULES) and m["test_videos"] == 4
    assert m["threshold"] == m["rules"]["share"]["threshold"]
    assert m["rules"]["mean"]["roc_auc"] == 1.0  # 0.8, 0.4 above 0.2, 0.25: a perfect ranking
    assert m["threshold"] == 0.5  # every grid value is perfect on val; the tie goes to the one nearest 0.5
    assert m["confusion"] == [[2, 0], [0, 2]]  # test shares 1, 0.5 | 0, 0 at 0.5
    assert m["frame"]["accuracy"] == pytest.approx(7 / 8)  # at 0.5 only the second video's 0.2 is wrong
    # the mean ranks (ROC AUC, log loss), the share rule decides (accuracy, precision, recall)
    for k in ("roc_auc", "log_loss"):
        assert m["video"][k] == pytest.approx(m["rules"]["mean"][k]), k
    for k in ("accuracy", "precision", "recall"):
        assert m["video"][k] == pytest.approx(m["rules"]["share"][k]), k


def _summary():
    return pd.DataFrame({"table": ["T2", "T4", "T5"], "threshold": [0.5] * 3,
                         "roc_auc": [0.70, 0.95, 0.55], "roc_auc_low": [0.55, 0.86, 0.40],
                         "roc_auc_high": [0.85, 1.00, 0.70]}, index=["baseline", "two_stream_video", "cnn3d"])


def test_reading_is_computed_from_the_intervals():
    text = reading(_summary())
    assert "above 0.5): **baseline**, **two_stream_video**." in text
    assert "Not distinguishable from chance: **cnn3d**." in text
    assert "above the baseline's: **two_stream_video**." in text  # 0.86 > 0.85
    assert interval(0.914, 0.851, 0.96) == "0.91 [0.85, 0.96]"
    assert with_intervals(_summary(), ["roc_auc"], keep=("table",)).loc["cnn3d", "roc_auc"] == "0.55 [0.40, 0.70]"


def _metrics(auc=0.75, rules=True):
    m = {"video": {"roc_auc": auc}, "video_ci": {"roc_auc": (0.6, 0.9)}, "best_epoch": 2, "epochs_run": 4,
         "test_videos": 13, "threshold": 0.4, "confusion": [[3, 1], [2, 7]]}
    if rules:
        m["rules"] = {r: {"threshold": 0.5, "accuracy": 0.7, "precision": 0.8, "recall": 0.6, "f1": 0.686,
                          "balanced_accuracy": 0.7, "roc_auc": 0.75} for r in FRAME_RULES}
        m["frame"] = {"accuracy": 0.66, "roc_auc": 0.7}
    return m


def test_tables_of_one_detector():
    m = _metrics()
    assert panels.headline("baseline", "Table 2", m) == ("baseline (Table 2): best epoch 2 of 4, test ROC AUC 0.75 "
                                                         "[0.60, 0.90] on 13 videos")
    assert list(panels.rules_table(m).index) == list(FRAME_RULES)
    assert panels.rules_table(_metrics(rules=False)).empty  # whole-video models have no rules
    long = panels.rules_long({"baseline": m, "cnn3d": _metrics(rules=False)})
    assert len(long) == 4 and set(long.model) == {"baseline"}
    assert panels.frame_metrics(m).loc["accuracy", "test frames"] == 0.66


def _with_seeds(m, aucs=(0.75, 0.85, 0.95)):
    runs = [{"seed": i, "roc_auc": a, "roc_auc_ci": [a - 0.1, min(a + 0.1, 1.0)]} for i, a in enumerate(aucs)]
    m["seeds"] = {"runs": runs, "spread": {"roc_auc": {"mean": float(np.mean(aucs)),
                                                       "sd": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else 0.0}}}
    return m


def test_the_headline_and_tables_give_the_spread_over_seeds():
    m = _with_seeds(_metrics())
    assert panels.headline("baseline", "Table 2", m).endswith("on 13 videos; 3 seeds: 0.85 ± 0.10")
    table = seed_table({"baseline": m, "cnn3d": _metrics(0.6, rules=False)})
    assert list(table.columns) == ["seed 0", "seed 1", "seed 2", "mean", "sd"]
    assert table.loc["baseline", "seed 0"] == "0.75 [0.65, 0.85]" and table.loc["baseline", "seed 2"] == 0.95
    assert table.loc["baseline", "mean"] == pytest.approx(0.85) and table.loc["baseline", "sd"] == pytest.approx(0.1)
    assert table.loc["cnn3d", "seed 0"] == "0.60 [0.60, 0.90]" and table.loc["cnn3d", "sd"] == 0.0  # one run


def test_confusion_grid_draws_one_matrix_per_entry_and_hides_the_rest():
    fig = panels.confusion_grid({f"m{i}": _metrics() for i in range(3)}, columns=2)
    assert len(fig.axes) == 4 and not fig.axes[3].axison
    assert [t.get_text() for t in fig.axes[0].texts] == ["3", "1", "2", "7"]


def test_gradcam_strip_covers_each_model_level(tmp_path):
    torch.manual_seed(0)
    frames = torch.randint(0, 255, (2, 16, 3, 32, 48), dtype=torch.uint8)  # (V, T, 3, H, W)
    flows = torch.randn(2, 16, 2, 32, 48)
    data = SplitData(videos=["a.mp4", "b.mp4"], families=["a", "a"], labels=torch.tensor([0, 1]),
                     frames=frames, flows=flows, frames3d=frames)
    assert panels.first_fake(data) == 1
    for name in ("baseline", "two_stream_video", "cnn3d"):
        kw = {"height": 32, "width": 48} if name.startswith("two_stream") else {}
        model = build_model(name, backbone="resnet18", hidden=8, **kw).eval()
        cams = panels.video_cams(model, data, 1)
        assert cams.shape == (16, 32, 48), name
        fig = panels.gradcam_strip(model, data, tmp_path, name)
        assert "b.mp4 (FAKE)" in fig._suptitle.get_text()
        labels = [ax.get_ylabel() for ax in fig.axes[:15:5]]
        assert labels == ["frame", "Grad-CAM", "optical flow"]  # rows labelled; 4 frames + a key column
        assert any(ax.get_ylabel() == "Grad-CAM" and ax is not fig.axes[5] for ax in fig.axes)  # the colour bar


def test_real_faces_comparison_reading_and_bars():
    results = {v: {"baseline": _metrics(0.6 if v == "full" else 0.8), "cnn3d": _metrics(0.5, rules=False)}
               for v in real_faces.VARIANTS}
    for v in results:
        results[v]["baseline"]["table"] = "Table 2"
        results[v]["cnn3d"]["table"] = "Table 6"
        for m in results[v].values():
            m["video"] = {k: m["video"]["roc_auc"] for k in ("accuracy", "precision", "recall", "f1",
                                                             "balanced_accuracy", "roc_auc", "log_loss")}
    table = real_faces.comparison(results)
    assert table.loc["baseline", "face_minus_full"] == pytest.approx(0.2)
    shown = real_faces.shown(table)
    assert shown.loc["baseline", "face - full"] == "+0.20" and shown.loc["baseline", "face"] == "0.80 [0.60, 0.90]"
    text = real_faces.reading(table, results)
    assert text == "Face crops score higher for 1 of 2 models (mean change +0.100 AUC, first seed)."
    differences = pd.DataFrame([  # paired face - full: baseline better at every seed, cnn3d's interval holds 0
        {"model": "baseline", "difference": 0.2, "low": 0.05, "high": 0.35, "method": "paired BCa",
         "seeds": [0.2, 0.1]},
        {"model": "cnn3d", "difference": 0.0, "low": -0.1, "high": 0.1, "method": "paired BCa", "seeds": [0.0, 0.1]}])
    text = real_faces.reading(table, results, differences)
    assert "Paired over the same 13 test videos (the AUC difference, face minus full, paired BCa)" in text
    assert "face crops are better for baseline, worse for no model; for the other 1 the interval holds 0" in text
    differences.at[0, "seeds"] = [0.2, -0.01]  # one seed disagrees: nothing is counted
    assert "better for no model" in real_faces.reading(table, results, differences)
    assert list(real_faces.confusions(results)) == ["baseline\nfull", "cnn3d\nfull", "baseline\nface", "cnn3d\nface"]
    ax = plots.variant_bars(table)
    assert len(ax.patches) == 4


def test_the_flow_wheel_is_the_key_of_the_flow_colours():
    from dfd_utils.flow import flow_to_color

    wheel = plots.flow_wheel(65)
    assert wheel.shape == (65, 65, 3) and (wheel[0, 0] == 255).all()  # outside the disc: white
    right = flow_to_color(np.array([[[1.0]], [[0.0]]]), 1.0)[0, 0]  # motion to the right, full speed
    np.testing.assert_array_equal(wheel[32, 64], right)


def _smallest_text_pt(fig) -> float:
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
    return min(sizes)


def _result():
    from types import SimpleNamespace

    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "val_auc": 0.5 + e / 10} for e in (1, 2, 3)]
    model = SimpleNamespace(table="Table 4 (spatial and temporal streams)")
    return SimpleNamespace(name="two_stream_frame", model=model, history=history, metrics=_metrics())


def test_figures_fit_the_page_with_text_a_reader_can_read(tmp_path):
    """No figure is wider than the page (so the book shows it at >= 72 % size) and no text is under 8 pt."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (16, 36, 64, 3), dtype=np.uint8)
    figures = {
        "confusion grid of five": panels.confusion_grid({f"model {i}": _metrics() for i in range(5)}),
        "frame rows": plots.frame_rows({"REAL a.mp4": frames, "FAKE b.mp4": frames}),
        "heatmap strip": plots.heatmap_strip(frames, rng.random((16, 36, 64)), rng.normal(size=(16, 2, 36, 64))),
        "flow pairs": plots.flow_pairs(frames, rng.normal(size=(16, 2, 36, 64))),
        "learning curves": panels.learning_curves(_result()),  # a long headline as the title
    }
    for name, fig in figures.items():
        assert plots.shown_width_in(fig) <= plots.PAGE_WIDTH_IN + 0.1, name
        assert _smallest_text_pt(fig) >= plots.SMALLEST_FONT_PT, name
        assert fig.dpi == plots.DPI, name
    assert len(figures["confusion grid of five"].axes) == 6  # rows of three, the sixth cell hidden


def test_html_table_puts_each_interval_under_its_value():
    from dfd_utils.report import html_table

    table = pd.DataFrame({"table": ["Table 2 <b>"], "roc_auc": [interval(0.912, 0.85, 0.96)], "threshold": [0.5],
                          "videos": [13], "loss": [float("nan")]}, index=["baseline"])
    out = html_table(table)
    assert '<td>0.91<br><span class="dfd-interval">[0.85, 0.96]</span></td>' in out
    assert "<td>Table 2 &lt;b&gt;</td>" in out  # text is escaped; only the interval markup is HTML
    assert "<td>0.500</td>" in out and "<td>13</td>" in out and "<td></td>" in out
    assert "<th>roc_<wbr>auc</th>" in out  # long names may wrap at their underscores


def test_html_table_keeps_multi_level_headers():
    from dfd_utils.report import html_table

    rows = pd.MultiIndex.from_tuples([("full", "baseline"), ("face", "baseline")], names=["input", "model"])
    columns = pd.MultiIndex.from_tuples([("full", "share"), ("face", "mean")], names=["input", "rule"])
    out = html_table(pd.DataFrame([[0.91, 0.8], [0.7, 0.6]], index=rows, columns=columns))
    assert "('full'" not in out  # no tuple text
    assert "<th>input</th>" in out and "<th>model</th>" in out  # level names kept
    assert "<th>share</th>" in out and "<td>0.910</td>" in out


def test_example_frames_show_the_first_test_fake_and_its_original(tmp_path):
    import cv2

    frames = tmp_path / "artifacts" / "frames"
    rows = []
    for video, label, original, split in [("b.mp4", 1, "a.mp4", "test"), ("a.mp4", 0, "", "test"),
                                          ("c.mp4", 1, "a.mp4", "test"), ("z.mp4", 1, "y.mp4", "train")]:
        for t in range(16):
            for sub, size in (("", (12, 20)), ("3d", (16, 16))):
                folder = frames / video[:-4] / sub
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{t:02d}.jpg"), np.full((*size, 3), 10 * t, np.uint8))
            rows.append({"video": video, "label": label, "original": original, "position": t, "split": split})
    pd.DataFrame(rows).to_csv(frames / "manifest.csv", index=False)
    assert panels.example_pair(tmp_path) == ("b.mp4", "a.mp4")  # sorted: b before c; train's z never
    shown = panels.example_frames(tmp_path, 4)
    assert list(shown) == ["REAL a.mp4", "FAKE b.mp4"] and shown["FAKE b.mp4"].shape == (4, 12, 20, 3)
    assert [int(f[0, 0, 0]) for f in shown["FAKE b.mp4"]] == pytest.approx([0, 50, 100, 150], abs=2)  # 0, 5, 10, 15
    assert panels.example_frames(tmp_path, 8, three_d=True)["FAKE b.mp4"].shape == (8, 16, 16, 3)


def test_real_faces_paired_reads_both_inputs_scores_on_the_same_videos(tmp_path):
    from dfd_utils.paths import Paths

    videos = [f"v{i}.mp4" for i in range(20)]
    labels = [i % 2 for i in range(20)]
    for variant, probs in (("face", [0.9 if y else 0.1 for y in labels]), ("full", [0.5] * 20)):
        folder = Paths.at(real_faces.variant_root(tmp_path, variant)).predictions / "baseline"
        folder.mkdir(parents=True)
        pd.DataFrame({"split": "test", "video": videos, "family": [f"f{i // 2}" for i in range(20)],
                      "label": labels, "prob": probs}).to_csv(folder / "videos.csv", index=False)
    results = {v: {"baseline": {"seeds": {"runs": [{"seed": 0, "roc_auc": a}, {"seed": 1, "roc_auc": a - 0.1}]}}}
               for v, a in (("face", 1.0), ("full", 0.5))}
    table = real_faces.paired(tmp_path, results, n_boot=200)
    row = table.iloc[0]
    assert row.model == "baseline" and row.difference == pytest.approx(0.5)  # AUC 1.0 against 0.5
    assert row.low > 0 and row.seeds == [pytest.approx(0.5), pytest.approx(0.5)]
    assert "paired cluster bootstrap BCa" in row.method
