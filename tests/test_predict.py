"""`dfd predict` and `dfd info` on every kind of input a user may throw at them."""

import json
import subprocess

import pytest
import torch

from conftest import make_checkpoint, numbered_frames, write_clip, write_h264
from dfd_utils.cli import main

INPUT = {"num_frames": 16, "height": 108, "width": 192, "size_3d": 32}
TRAINED = {"input": INPUT, "data": {"source": "synthetic", "num_videos": 24}, "val_metrics": {"roc_auc": 0.9},
           "test_metrics": {"roc_auc": 0.8, "ci": {"roc_auc": [0.6, 0.95]}, "videos": 13}, "seed": 0}


def _checkpoint(path, name="baseline"):
    cfg = {"height": 108, "width": 192, "num_frames": 16} if name == "two_stream_video" else None
    return make_checkpoint(path, name, cfg=cfg, extra=TRAINED)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "baseline.pt")


def run(capsys, *args):
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_predict_one_video_json(ckpt, tmp_path, capsys):
    code, out, _ = run(capsys, "predict", write_clip(tmp_path / "a.mp4"), "--checkpoint", ckpt, "--json")
    assert code == 0
    result = json.loads(out)["results"][0]
    assert 0 <= result["prob_fake"] <= 1 and result["verdict"] in ("FAKE", "REAL")
    assert len(result["frame_probs"]) == 16 and result["frames_decoded"] == 20 and result["seconds"] > 0
    probs = result["frame_probs"]
    assert result["prob_fake"] == pytest.approx(sum(probs) / 16, abs=1e-3)  # a probability: the frames' mean
    assert result["share_fake"] == pytest.approx(sum(p >= 0.5 for p in probs) / 16, abs=1e-3)  # the paper's rule
    assert result["score"] == result["share_fake"]  # the checkpoint's rule is the share
    assert result["verdict"] == ("FAKE" if result["share_fake"] >= 0.5 else "REAL")


def test_a_model_trained_on_synthetic_faces_says_so(ckpt, tmp_path, capsys):
    code, out, err = run(capsys, "predict", write_clip(tmp_path / "a.mp4"), "--checkpoint", ckpt)
    assert code == 0 and "trained on the study's synthetic faces" in err and "prob_fake=" in out
    _, out, _ = run(capsys, "predict", write_clip(tmp_path / "a.mp4"), "--checkpoint", ckpt, "--json")
    assert "synthetic faces" in json.loads(out)["note"]


def test_help_shows_examples_and_exit_codes_and_version(capsys):
    for args in (["--help"], ["predict", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text and "exit codes:" in text and "2  the command cannot run" in text
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("dfd ")


def test_threshold_option_decides(ckpt, tmp_path, capsys):
    clip = write_clip(tmp_path / "a.mp4")
    _, out, _ = run(capsys, "predict", clip, "--checkpoint", ckpt, "--json", "--threshold", "0")
    assert json.loads(out)["results"][0]["verdict"] == "FAKE"
    _, out, _ = run(capsys, "predict", clip, "--checkpoint", ckpt, "--json", "--threshold", "1")
    result = json.loads(out)["results"][0]
    assert result["verdict"] == ("FAKE" if result["score"] >= 1 else "REAL")
    for outside in ("1.01", "-3", "2"):  # a threshold is compared with a probability or a share: [0, 1] only
        code, out, err = run(capsys, "predict", clip, "--checkpoint", ckpt, "--json", f"--threshold={outside}")
        assert code == 2 and out == "" and "--threshold must be within [0, 1]" in err


@pytest.mark.slow  # a few seconds: kept out of make test-fast
def test_unusual_but_valid_videos_are_scored(ckpt, tmp_path, capsys):
    write_clip(tmp_path / "short.mp4", n=5)
    write_clip(tmp_path / "portrait.mp4", h=128, w=72)
    write_clip(tmp_path / "huge.mp4", n=3, h=2160, w=3840)
    write_h264(tmp_path / "vfr.mp4", numbered_frames(40), extra=("-vf", "setpts='N/(25*TB)+0.013*mod(N,3)/TB'",
                                                                   "-fps_mode", "vfr"))
    write_h264(tmp_path / "gray éñ 動画.mp4", numbered_frames(20), extra=("-pix_fmt", "gray"))
    code, out, err = run(capsys, "predict", tmp_path, "--checkpoint", ckpt, "--json")
    results = {r["path"].rsplit("/", 1)[1]: r for r in json.loads(out)["results"]}
    assert code == 0, err
    assert all(r["error"] is None for r in results.values())
    assert "frames repeated" in results["short.mp4"]["warnings"][0]
    assert "portrait" in results["portrait.mp4"]["warnings"][0]
    assert results["vfr.mp4"]["frames_decoded"] == 40


def test_a_folder_with_bad_files_answers_the_good_ones_and_fails(ckpt, tmp_path, capsys):
    write_clip(tmp_path / "good.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.avi").write_bytes(b"garbage" * 500)
    (tmp_path / "notes.txt").write_text("not a video")
    data = write_clip(tmp_path / "whole.mp4", n=30).read_bytes()
    (tmp_path / "whole.mp4").unlink()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    code, out, err = run(capsys, "predict", tmp_path, "--checkpoint", ckpt)
    assert code == 1 and "3 of 4 inputs failed" in err  # notes.txt is not a video: not tried
    assert "good.mp4" in out and out.count("FAILED") == 3 and "notes.txt" not in out
    assert "empty.mp4: file is empty" in out and "junk.avi: OpenCV cannot open" in out
    assert "truncated.mp4" in out
    code, out, _ = run(capsys, "predict", tmp_path / "notes.txt", "--checkpoint", ckpt)  # named explicitly: tried
    assert code == 1 and "notes.txt: OpenCV cannot open" in out


def test_missing_and_wrong_checkpoints(tmp_path, capsys):
    clip = write_clip(tmp_path / "a.mp4")
    code, _, err = run(capsys, "predict", clip, "--checkpoint", tmp_path / "none.pt")
    assert code == 2 and "none.pt: checkpoint does not exist" in err
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    code, _, err = run(capsys, "predict", clip, "--checkpoint", tmp_path / "foreign.pt")
    assert code == 2 and "not a dfd checkpoint" in err
    code, _, err = run(capsys, "predict", clip, "--root", tmp_path)
    assert code == 2 and "no trained models yet" in err


def test_video_models_with_flow_and_3d(tmp_path, capsys):
    for name in ("two_stream_video", "cnn3d"):
        ckpt = _checkpoint(tmp_path / f"{name}.pt", name)
        code, out, _ = run(capsys, "predict", write_clip(tmp_path / "a.mp4"), "--checkpoint", ckpt, "--json")
        result = json.loads(out)["results"][0]
        assert code == 0 and result["frame_probs"] is None and 0 <= result["prob_fake"] <= 1


def test_default_checkpoint_is_the_best_on_validation_not_test(tmp_path, capsys):
    """cnn3d wins on test, baseline on validation: the test split must not choose the model."""
    (tmp_path / "metrics").mkdir()
    for name, val_auc, test_auc in (("baseline", 0.9, 0.6), ("cnn3d", 0.7, 0.99)):
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(
            {"val_video": {"roc_auc": val_auc}, "video": {"roc_auc": test_auc}}))
    (tmp_path / "metrics" / "summary.json").write_text(json.dumps({"baseline": {"roc_auc": 0.6},
                                                                   "cnn3d": {"roc_auc": 0.99}}))
    _checkpoint(tmp_path / "artifacts" / "models" / "baseline.pt")
    code, out, _ = run(capsys, "predict", write_clip(tmp_path / "a.mp4"), "--root", tmp_path, "--json")
    assert code == 0 and json.loads(out)["model"] == "baseline"


def test_info(ckpt, capsys):
    code, out, _ = run(capsys, "info", ckpt)
    info = json.loads(out)
    assert code == 0 and info["model"] == "baseline" and info["table"] == "Table 2"
    assert info["trained_on"]["source"] == "synthetic" and info["validation_metrics"]["roc_auc"] == 0.9
    assert info["test_metrics"]["roc_auc"] == 0.8 and info["test_metrics"]["videos"] == 13
    assert info["parameters"] > 1_000_000


@pytest.mark.slow  # a few seconds: kept out of make test-fast
def test_console_script_is_installed(ckpt, tmp_path):
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("dfd")
    if not exe.exists():
        pytest.skip("dfd entry point not installed (pip install -e .)")
    done = subprocess.run([str(exe), "info", str(ckpt)], capture_output=True, text=True)
    assert done.returncode == 0 and '"model": "baseline"' in done.stdout
