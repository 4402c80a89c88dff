"""Chapter 09's detector for real footage: chosen on validation, exported, `dfd predict`'s default, explained."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import make_checkpoint, write_clip
from dfd_utils.chapters import real_face_detector
from dfd_utils.chapters.real_faces import variant_root
from dfd_utils.cli import main
from dfd_utils.paths import Paths
from dfd_utils.video import write_video

FACE_INPUT = {"num_frames": 16, "height": 64, "width": 64, "size_3d": 32, "crop": "face", "crop_margin": 0.3}


def metrics(val_auc: float, val_loss: float, test_auc: float) -> dict:
    return {"val_video": {"roc_auc": val_auc, "log_loss": val_loss}, "video": {"roc_auc": test_auc},
            "video_ci": {"roc_auc": [test_auc - 0.1, min(test_auc + 0.05, 1.0)]},
            "video_ci_method": {"roc_auc": "cluster bootstrap BCa over original families (1000 draws)"}}


RESULTS = {  # three reach validation AUC 1.0; the lowest validation log loss among them decides; test never does
    "full": {"baseline": metrics(1.0, 0.70, 0.99), "cnn3d": metrics(0.9, 0.20, 1.00)},
    "face": {"baseline": metrics(1.0, 0.50, 0.60), "two_stream_video": metrics(1.0, 0.50, 0.70)},
}


def test_a_candidate_without_a_validation_score_is_never_chosen():
    nan = float("nan")
    results = {"face": {"baseline": metrics(nan, 0.1, 1.0), "cnn3d": metrics(0.8, nan, 0.5),
                        "cnn_rnn": metrics(0.8, 0.9, 0.4)}}
    assert real_face_detector.choose(real_face_detector.candidates(results)) == ("face", "cnn_rnn")
    both = {"full": {"cnn3d": metrics(0.8, 0.3, 0.9)}, "face": {"cnn3d": metrics(0.8, 0.3, 0.1)}}
    assert real_face_detector.choose(real_face_detector.candidates(both)) == ("face", "cnn3d")  # last tie: face


def test_the_choice_reads_validation_only_and_breaks_ties_by_log_loss_then_model_order():
    table = real_face_detector.candidates(RESULTS)
    assert real_face_detector.choose(table) == ("face", "baseline")  # 1.0 and 0.50; baseline before two_stream
    worse_test = {v: {m: {**r, "video": {"roc_auc": 0.0}} for m, r in by.items()} for v, by in RESULTS.items()}
    assert real_face_detector.choose(real_face_detector.candidates(worse_test)) == ("face", "baseline")
    text = real_face_detector.reading(table, ("face", "baseline"))
    assert "3 of 4 candidates reach it" in text and "0.600 [0.500, 0.650]" in text


def test_the_export_is_the_chosen_runs_checkpoint_with_its_choice_and_dfd_predict_uses_it(tmp_path, capsys):
    root = tmp_path / "study"
    for variant, by_model in RESULTS.items():
        for model in by_model:
            make_checkpoint(Paths.at(variant_root(root, variant)).models / f"{model}.pt", model,
                            cfg={"height": 64, "width": 64, "num_frames": 16} if model == "two_stream_video" else None,
                            extra={"input": FACE_INPUT, "data": {"source": "faces", "variant": variant}, "seed": 0,
                                   "test_metrics": {"roc_auc": 0.6, "ci": {"roc_auc": [0.5, 0.65]}}})
    table = real_face_detector.candidates(RESULTS)
    out = real_face_detector.export(root, ("face", "baseline"), RESULTS)
    assert out == Paths.at(root).models / "real_faces.pt"
    chosen = torch.load(Paths.at(variant_root(root, "face")).models / "baseline.pt", weights_only=True)
    exported = torch.load(out, weights_only=True)
    assert all(torch.equal(exported["state_dict"][k], v) for k, v in chosen["state_dict"].items())
    assert exported["selection"]["variant"] == "face" and "validation" in exported["selection"]["rule"]
    record = real_face_detector.write_choice(tmp_path / "choice.json", table, ("face", "baseline"))
    assert record["chosen"] == {"variant": "face", "model": "baseline"} and len(record["candidates"]) == 4
    assert json.loads((tmp_path / "choice.json").read_text()) == record

    main(["info", "--card", str(out)])
    card = capsys.readouterr().out
    assert "**Chosen** from chapter 09" in card and "cluster bootstrap BCa" in card  # the run's own methods

    clip = write_clip(tmp_path / "noface.mp4", h=96, w=128)  # random pixels: no face anywhere
    code = main(["predict", str(clip), "--root", str(root), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["checkpoint"].endswith("real_faces.pt") and summary["note"] is None  # no synthetic warning
    result = summary["results"][0]
    assert code == 1 and result["verdict"] is None and result["face"]["found"] is False
    assert result["error"].startswith("no face found in any of the 16 sampled frames")


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    """A 2 s clip of a real face (NASA's public-domain portrait, as scikit-image ships it) drifting right."""
    skimage_data = pytest.importorskip("skimage.data")
    face = cv2.resize(skimage_data.astronaut()[20:260, 110:350], (120, 120), interpolation=cv2.INTER_AREA)
    frames = np.full((20, 180, 320, 3), 90, np.uint8)
    for t in range(20):
        frames[t, 30:150, 40 + 4 * t:160 + 4 * t] = face
    path = tmp_path_factory.mktemp("face") / "astronaut.mp4"
    write_video(path, frames, 10)
    return path


@pytest.mark.parametrize("model", ["baseline", "cnn3d"])
def test_a_face_clip_gets_its_boxes_a_verdict_and_a_grad_cam_strip(model, face_clip, tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / f"{model}.pt", model, extra={"input": FACE_INPUT, "seed": 0,
                                                                  "data": {"source": "faces", "variant": "face"}})
    (tmp_path / "why").mkdir()
    (tmp_path / "why" / "Astronaut.PNG").write_text("an earlier run's")  # taken, whatever the case
    code = main(["predict", str(face_clip), str(face_clip), "--checkpoint", str(ckpt), "--json",
                 "--explain", str(tmp_path / "why")])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 0 and [r["verdict"] in ("FAKE", "REAL") for r in results] == [True, True]
    face = results[0]["face"]
    assert face["found"] and face["frames_with_face"] >= 14 and len(face["boxes"]) == 16
    x, y, w, h = face["boxes"][0]  # in the clip's own pixels: the portrait's face, near its top-left corner
    assert 40 <= x + w / 2 <= 170 and 30 <= y + h / 2 <= 150
    strips = [r["explanation"] for r in results]
    assert [p.rsplit("/", 1)[1] for p in strips] == ["astronaut-2.png", "astronaut-3.png"]  # never overwritten
    assert (tmp_path / "why" / "Astronaut.PNG").read_text() == "an earlier run's"
    image = cv2.imread(strips[0])
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 400


def test_explain_into_a_file_is_refused_before_any_clip_is_scored(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "b.pt", "baseline", extra={"input": FACE_INPUT})
    (tmp_path / "taken").write_text("mine")
    code = main(["predict", str(write_clip(tmp_path / "a.mp4")), "--checkpoint", str(ckpt),
                 "--explain", str(tmp_path / "taken")])
    captured = capsys.readouterr()
    assert code == 2 and "--explain" in captured.err and "exists and is not a folder" in captured.err
    assert captured.out == "" and (tmp_path / "taken").read_text() == "mine"


def test_a_strip_that_cannot_be_written_leaves_the_verdict_and_says_why(face_clip, tmp_path, capsys, monkeypatch):
    from dfd_utils import predict

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(predict, "write_strip", broken)
    ckpt = make_checkpoint(tmp_path / "b.pt", "baseline", extra={"input": FACE_INPUT})
    code = main(["predict", str(face_clip), "--checkpoint", str(ckpt), "--json", "--explain", str(tmp_path / "w")])
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert code == 0 and result["verdict"] in ("FAKE", "REAL") and result["explanation"] is None
    assert any("no explanation written (OSError" in w for w in result["warnings"])
