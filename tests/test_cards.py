"""Model and data cards: every sentence that depends on a number is computed from the checkpoint."""

import json

from test_predict import _checkpoint

from dfd_utils import cards
from dfd_utils.cli import main
from dfd_utils.sources.face_clips import CLIPS

INFO = {"model": "cnn3d", "table": "Table 6", "level": "video", "parameters": 3_900_865,
        "config": {"backbone": "efficientnet_lite0"}, "seed": 0, "dfd_version": "0.1.0",
        "input": {"num_frames": 16, "height": 108, "width": 192, "size_3d": 112, "crop": "full", "jpeg_quality": 95},
        "threshold": 0.5, "rule": "prob", "temperature": 0.7, "trained_on": {"source": "synthetic", "num_videos": 240},
        "validation_metrics": {"roc_auc": 0.745, "accuracy": 0.686},
        "test_metrics": {"roc_auc": 0.652, "accuracy": 0.663, "balanced_accuracy": 0.588, "precision": 0.647,
                         "recall": 0.965, "ci": {"roc_auc": [0.48, 0.75], "accuracy": [0.56, 0.75]}, "videos": 95}}


def test_the_failure_modes_are_read_from_the_metrics():
    notes = cards.failure_modes(INFO)
    assert any("on real footage its verdicts are not evidence" in n for n in notes)
    assert any("Calls almost every test video FAKE (recall 0.965, precision 0.647)" in n for n in notes)
    assert any("accuracy (0.663) flatters it against the balanced accuracy (0.588)" in n for n in notes)
    assert any("(0.480–0.750) reaches 0.5: not shown better than chance" in n for n in notes)
    sound = {**INFO, "trained_on": {"source": "faces"},
             "test_metrics": {"roc_auc": 0.95, "accuracy": 0.9, "balanced_accuracy": 0.9, "precision": 0.9,
                              "recall": 0.9, "ci": {"roc_auc": [0.9, 0.99]}, "videos": 95}}
    notes = cards.failure_modes(sound)
    assert not any("FAKE (recall" in n or "flatters" in n or "chance" in n or "synthetic" in n for n in notes)
    assert any("one real person's face" in n for n in notes)


def test_the_card_holds_the_metrics_table_the_decision_and_the_interval_methods():
    card = cards.model_card(INFO, ci_methods={"roc_auc": "cluster BCa", "accuracy": "Wilson"})
    assert "| roc_auc | 0.745 | 0.652 | 0.480–0.750 |" in card
    assert "| accuracy | 0.686 | 0.663 | 0.560–0.750 |" in card
    assert "| recall | – | 0.965 | – |" in card  # no validation value, no interval: said, not invented
    assert "reaches 0.5, the threshold chosen on validation" in card and "temperature of 0.700" in card
    assert "roc_auc: cluster BCa; accuracy: Wilson" in card
    assert "does not record the method" in cards.model_card(INFO)  # no metrics file: the card says so


def test_dfd_info_card_on_a_checkpoint(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / "artifacts" / "models" / "baseline.pt")
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "baseline.json").write_text(json.dumps({"video": {"roc_auc": 0.8},
                                                       "video_ci_method": {"roc_auc": "cluster bootstrap BCa"}}))
    assert main(["info", "--card", str(ckpt)]) == 0
    card = capsys.readouterr().out
    assert card.startswith("### baseline") and "(Table 2 of the paper)" in card
    assert "| roc_auc | 0.900 | 0.800 | 0.600–0.950 |" in card and "roc_auc: cluster bootstrap BCa" in card
    (metrics / "baseline.json").write_text(json.dumps({"video": {"roc_auc": 0.5}, "video_ci_method": {}}))
    main(["info", "--card", str(ckpt)])  # another run's metrics: its methods are not borrowed
    assert "does not record the method" in capsys.readouterr().out
    (metrics / "baseline.json").write_text("[1, 2]")  # not an object: no method, no crash
    assert main(["info", "--card", str(ckpt)]) == 0 and "does not record the method" in capsys.readouterr().out


def test_the_book_page_has_a_card_per_model_and_the_data_cards(tmp_path):
    models = tmp_path / "artifacts" / "models"
    _checkpoint(models / "baseline.pt")
    page = cards.write_page(models, tmp_path / "cards.md").read_text()
    assert page.count("\n### ") == 5 + 2  # five models (four without a checkpoint, said so) and two data sources
    assert "No checkpoint in this run (`cnn3d.pt` not made)." in page
    assert "**Not the run the chapters show**: `baseline.pt`'s test AUC differs" in page  # no metrics file beside it
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "baseline.json").write_text(json.dumps({"video": {"roc_auc": 0.8}}))
    assert "Not the run the chapters show" not in cards.write_page(models, tmp_path / "cards.md").read_text()
    for clip in CLIPS:
        assert f"`{clip.file}` | {clip.split} |" in page and clip.sha256[:16] in page
