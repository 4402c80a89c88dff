"""Hostile input, third round (issue 29): shards that would delete, memory spent before a check, the CLI's extremes.

Each test is one case: the input, and the outcome asserted (the exit code, the message
naming the file or the key, and that nothing outside the named output was written or
removed).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import CodeOnLoad, make_checkpoint, write_clip
from dfd_utils.cli import main as dfd
from dfd_utils.frame_store import frame_name

PARAMS = "profiles/smoke.yaml"


def run(capsys, *args):
    code = dfd([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------ dfd merge / extract: names are names
def fake_part(shards: Path, part: int, names: list[str], frames: int = 2, **record) -> Path:
    """A part folder as `dfd extract` writes it (tiny JPEGs), its part.json updated with ``record``."""
    folder = shards / f"part_{part}"
    image = np.full((8, 8, 3), 100, np.uint8)
    videos = {}
    for i, name in enumerate(names):
        stem = folder / "frames" / Path(name).stem
        (stem / "3d").mkdir(parents=True, exist_ok=True)
        for k in range(frames):
            cv2.imwrite(str(stem / frame_name(k)), image)
            cv2.imwrite(str(stem / "3d" / frame_name(k)), image)
        (stem / "info.json").write_text("{}")
        videos[name] = {"label": i % 2, "original": None, "sha256": "0" * 64, "indices": list(range(frames)),
                        "num_decoded": frames}
    payload = {"part": part, "source": f"dfdc_train_part_{part}", "frames": {"num_frames": frames},
               "videos": videos, "skipped": {}}
    payload.update(record)
    (folder / "part.json").write_text(json.dumps(payload))
    return folder / "part.json"


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("name", ["..", "../victim.mp4", "/ABS/victim.mp4", ".hidden.mp4", "a\nb.mp4", "x.txt"])
def test_a_planted_name_in_part_json_is_refused_before_anything_is_written(tmp_path, capsys, name):
    (tmp_path / "victim.mp4").write_text("the user's own file")
    out = tmp_path / "work" / "frames"
    out.mkdir(parents=True)
    (out.parent / "keep.txt").write_text("beside the output")
    record = fake_part(tmp_path / "shards", 0, ["ok.mp4"])
    data = json.loads(record.read_text())
    data["videos"][name.replace("/ABS", str(tmp_path))] = data["videos"]["ok.mp4"]
    record.write_text(json.dumps(data))
    before = tree(tmp_path)
    code, stdout, err = run(capsys, "merge", "--shards", tmp_path / "shards", "--frames", out, "--params", PARAMS)
    assert code == 2 and str(record) in err and one_line(err) and stdout == ""
    assert tree(tmp_path) == before  # nothing written or removed, the folder above the output intact
    assert (tmp_path / "victim.mp4").read_text() == "the user's own file"


@pytest.mark.parametrize("field,value", [("original", "../up.mp4"), ("label", "FAKE"), ("indices", "0-15"),
                                         ("part", "0"), ("source", "../elsewhere")])
def test_a_damaged_part_record_is_refused_naming_the_file(tmp_path, capsys, field, value):
    record = fake_part(tmp_path / "shards", 0, ["ok.mp4"])
    data = json.loads(record.read_text())
    if field in ("part", "source"):
        data[field] = value
    else:
        data["videos"]["ok.mp4"][field] = value
    record.write_text(json.dumps(data))
    code, _, err = run(capsys, "merge", "--shards", tmp_path / "shards")
    assert code == 2 and str(record) in err and one_line(err)
    assert not (tmp_path / "shards" / "merged").exists()


def test_a_part_missing_frame_files_is_refused_before_the_manifest(tmp_path, capsys):
    record = fake_part(tmp_path / "shards", 0, ["a.mp4", "b.mp4"])
    (tmp_path / "shards/part_0/frames/b/3d" / frame_name(1)).unlink()  # one video without all its files
    code, _, err = run(capsys, "merge", "--shards", tmp_path / "shards")
    assert code == 2 and str(record) in err and "'b.mp4' lacks 1 of its files" in err
    assert not (tmp_path / "shards" / "merged").exists()  # no manifest row for a file that does not exist


def test_a_planted_name_in_the_former_frames_manifest_removes_nothing(tmp_path, capsys):
    fake_part(tmp_path / "shards", 0, ["a.mp4", "b.mp4"])
    out = tmp_path / "work" / "frames"
    out.mkdir(parents=True)
    (out / "manifest.csv").write_text("video,label\n..,0\n")  # a tampered manifest of an earlier merge
    before = tree(tmp_path / "work")
    code, _, err = run(capsys, "merge", "--shards", tmp_path / "shards", "--frames", out, "--params", PARAMS)
    assert code == 2 and str(out / "manifest.csv") in err and "'..'" in err
    assert tree(tmp_path / "work") == before


def test_a_second_extract_of_the_same_part_is_refused_naming_the_holder(tmp_path, capsys):
    from dfd_utils.lock import writing

    (tmp_path / "dfdc" / "dfdc_train_part_0").mkdir(parents=True)
    shards = tmp_path / "shards"
    record = fake_part(shards, 0, ["a.mp4"])
    before = record.read_text()
    with writing(shards / "part_0"):  # another `dfd extract --parts 0` is running
        code, _, err = run(capsys, "extract", "--parts", "0", "--dfdc-path", tmp_path / "dfdc", "--shards", shards,
                           "--params", PARAMS)
    assert code == 2 and f"part_0 is being written by pid {os.getpid()}" in err and one_line(err)
    assert record.read_text() == before  # the running extraction's record is left alone


def test_a_huge_parts_range_is_refused_at_once_naming_the_parts_found(tmp_path, capsys):
    for part in (0, 1):
        (tmp_path / "dfdc" / f"dfdc_train_part_{part}").mkdir(parents=True)
    start = time.perf_counter()
    code, _, err = run(capsys, "extract", "--parts", "0-100000000", "--dfdc-path", tmp_path / "dfdc", "--shards",
                       tmp_path / "shards", "--params", PARAMS)
    assert code == 2 and "'0-100000000'" in err and "the parts found are [0, 1]" in err and one_line(err)
    assert time.perf_counter() - start < 5 and not (tmp_path / "shards").exists()


def test_a_huge_parts_range_is_refused_even_without_the_parts_found():
    from dfd_utils.stages.shards import parse_parts

    with pytest.raises(ValueError, match="names 100000001 parts"):
        parse_parts("0-100000000")


# ------------------------------------------------------------------ checkpoints: checked before they are built
@pytest.mark.parametrize("command", ["info", "predict"])
def test_a_checkpoint_whose_settings_do_not_fit_its_weights_is_refused_unbuilt(tmp_path, capsys, command):
    ckpt = make_checkpoint(tmp_path / "big.pt", edit=lambda p: p["model_cfg"].update(hidden=1_000_000))
    clip = write_clip(tmp_path / "a.mp4", n=12, fill=90)
    args = ["info", ckpt] if command == "info" else ["predict", clip, "--checkpoint", ckpt, "--json"]
    start = time.perf_counter()
    code, out, err = run(capsys, *args)
    assert code == 2 and str(ckpt) in err and "does not fit its weights" in err and one_line(err) and out == ""
    assert time.perf_counter() - start < 20  # refused from the shapes, never building a 1e6-wide model


@pytest.mark.parametrize("model", [["baseline"], {"x": 1}, 3])
def test_a_checkpoint_naming_no_model_exits_2(tmp_path, capsys, model):
    ckpt = make_checkpoint(tmp_path / "odd.pt", edit=lambda p: p.update(model=model))
    code, out, err = run(capsys, "info", ckpt)
    assert code == 2 and str(ckpt) in err and one_line(err) and out == ""


def test_a_refused_pickle_does_not_advise_running_its_code(tmp_path, capsys):
    import torch

    torch.save({"format": "dfd-checkpoint-v1", "model": CodeOnLoad(tmp_path / "pwned")}, tmp_path / "evil.pt")
    code, _, err = run(capsys, "info", tmp_path / "evil.pt")
    assert code == 2 and "could run code" in err and "weights_only=False" not in err and one_line(err)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("threshold", [2, -3, True])
def test_a_checkpoint_threshold_outside_0_1_exits_2(tmp_path, capsys, threshold):
    ckpt = make_checkpoint(tmp_path / "t.pt", edit=lambda p: p.update(threshold=threshold))
    code, out, err = run(capsys, "predict", write_clip(tmp_path / "a.mp4", n=12), "--checkpoint", ckpt, "--json")
    assert code == 2 and str(ckpt) in err and "threshold" in err and out == ""


# ------------------------------------------------------------------ dfd predict: memory bounded, results streamed
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "ok.pt",
                           extra={"config": {"frames": {"num_frames": 4, "height": 32, "width": 48}}})


def test_a_frame_over_the_limit_is_refused_and_the_others_are_scored(tmp_path, capsys, ckpt, monkeypatch):
    import dfd_utils.predict as predict

    monkeypatch.setattr(predict, "MAX_FRAME", (100, 80))  # as 7680x4320 is for real clips
    big = write_clip(tmp_path / "big.mp4", h=72, w=128, n=8)
    small = write_clip(tmp_path / "small.mp4", h=48, w=64, n=8)
    code, out, _ = run(capsys, "predict", big, small, "--checkpoint", ckpt, "--json")
    results = {Path(r["path"]).name: r for r in json.loads(out)["results"]}
    assert code == 1 and "frame 128x72 is larger than the 100x80 (8K) limit" in results["big.mp4"]["error"]
    assert results["small.mp4"]["verdict"] in ("FAKE", "REAL")


def test_frames_are_downscaled_while_they_are_read(tmp_path):
    from dfd_utils.predict import read_small
    from dfd_utils.video import probe, read_sampled_frames

    clip = write_clip(tmp_path / "a.mp4", h=72, w=128, n=10)
    small, decoded = read_small(clip, 4, probe(clip), max_side=32)
    full, _, _ = read_sampled_frames(clip, 4)
    assert small.shape == (4, 18, 32, 3) and decoded == 10
    assert np.abs(small.astype(int) - [cv2.resize(f, (32, 18), interpolation=cv2.INTER_AREA) for f in full]).max() == 0


def test_each_clip_line_is_printed_as_it_finishes(tmp_path, capsys, ckpt, monkeypatch):
    from dfd_utils.predict import Predictor

    clips = [write_clip(tmp_path / f"{i}.mp4", n=8, seed=i) for i in range(3)]
    seen = []
    real = Predictor.predict

    def spy(self, path, explain=None):
        seen.append(capsys.readouterr().out)  # what was printed before this clip started
        return real(self, path, explain)

    monkeypatch.setattr(Predictor, "predict", spy)
    assert dfd(["predict", *map(str, clips), "--checkpoint", str(ckpt)]) == 0
    assert "0.mp4" in seen[1] and "1.mp4" in seen[2] and "2.mp4" not in seen[2]


def test_an_interrupted_json_run_prints_what_finished(tmp_path, capsys, ckpt, monkeypatch):
    from dfd_utils.predict import Predictor

    clips = [write_clip(tmp_path / f"{i}.mp4", n=8, seed=i) for i in range(3)]
    real = Predictor.predict

    def stop_at_second(self, path, explain=None):
        if Path(path).name == "1.mp4":
            raise KeyboardInterrupt
        return real(self, path, explain)

    monkeypatch.setattr(Predictor, "predict", stop_at_second)
    code, out, err = run(capsys, "predict", *clips, "--checkpoint", ckpt, "--json")
    report = json.loads(out)
    assert code == 130 and report["interrupted"] and [Path(r["path"]).name for r in report["results"]] == ["0.mp4"]
    assert "interrupted: 1 of 3 inputs scored" in err


def test_text_output_escapes_control_characters_in_file_names(tmp_path, capsys, ckpt):
    clip = write_clip(tmp_path / "evil\n\x1b[2Jname.mp4", n=8)
    code, out, _ = run(capsys, "predict", clip, "--checkpoint", ckpt)
    assert code == 0 and "\x1b" not in out and "evil\\n\\x1b[2Jname.mp4" in out
    assert len(out.strip().splitlines()) == 3  # header, the clip's line, its frames: no forged line


def test_looping_and_broken_symlinks_in_a_folder_are_reported(tmp_path, capsys, ckpt):
    folder = tmp_path / "videos"
    folder.mkdir()
    write_clip(folder / "good.mp4", n=8)
    os.symlink(folder / "loop.mp4", folder / "loop.mp4")
    os.symlink(tmp_path / "gone.mp4", folder / "broken.mp4")
    code, out, _ = run(capsys, "predict", folder, "--checkpoint", ckpt)
    assert code == 1
    for name in ("loop.mp4", "broken.mp4"):
        assert f"FAILED {folder / name}: a symbolic link that is broken or loops" in out


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_named_as_such_not_missing(tmp_path, capsys, ckpt, kind):
    path = Path("/dev/zero")
    if kind == "fifo":
        path = tmp_path / "pipe.mp4"
        os.mkfifo(path)
    code, out, _ = run(capsys, "predict", path, "--checkpoint", ckpt, "--json")
    result = json.loads(out)["results"][0]
    assert code == 1 and "not a regular file (a device, FIFO or socket)" in result["error"]


# ------------------------------------------------------------------ parameter files: plain YAML, typed values
def params_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def extract_with(tmp_path, capsys, params) -> tuple[int, str]:
    (tmp_path / "dfdc" / "dfdc_train_part_0").mkdir(parents=True, exist_ok=True)
    code, _, err = run(capsys, "extract", "--parts", "0", "--dfdc-path", tmp_path / "dfdc", "--shards",
                       tmp_path / "shards", "--params", params)
    return code, err


def test_a_yaml_alias_bomb_is_refused_at_once_naming_the_file(tmp_path, capsys):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    params = params_file(tmp_path, "\n".join(lines) + "\nseed: *a11\n")
    start = time.perf_counter()
    code, err = extract_with(tmp_path, capsys, params)
    assert code == 2 and str(params) in err and "alias" in err and one_line(err) and len(err) < 400
    assert time.perf_counter() - start < 5


def test_a_duplicate_key_is_refused_naming_it(tmp_path, capsys):
    params = params_file(tmp_path, "seed: 1\nseed: 2\n")
    code, err = extract_with(tmp_path, capsys, params)
    assert code == 2 and str(params) in err and "key 'seed' is given twice" in err and one_line(err)


@pytest.mark.parametrize("which", ["/etc/passwd", "binary", "folder"])
def test_a_params_file_that_is_not_one_exits_2_in_one_line(tmp_path, capsys, which):
    path = Path(which)
    if which == "binary":
        path = tmp_path / "x.bin"
        path.write_bytes(bytes(range(256)) * 4)
    elif which == "folder":
        path = tmp_path
    code, err = extract_with(tmp_path, capsys, path)
    assert code == 2 and str(path) in err and one_line(err)


def test_a_string_setting_of_the_wrong_type_is_refused_naming_the_key(tmp_path, capsys):
    import yaml

    demo = yaml.safe_load((Path(__file__).parent.parent / "profiles" / "demo.yaml").read_text())
    demo["data"]["dfdc_path"] = [1, 2]
    params = params_file(tmp_path, yaml.safe_dump(demo))
    code, err = extract_with(tmp_path, capsys, params)
    assert code == 2 and str(params) in err and "data.dfdc_path must be text" in err and one_line(err)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "smoke\n", "a/b", ""])
def test_a_profile_name_must_be_a_name(tmp_path, capsys, name):
    from dfd_utils import profiles

    out = tmp_path / "params.yaml"
    assert profiles.main([name, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not a profile name" in err and one_line(err) and not out.exists()
