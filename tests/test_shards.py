"""Sharded extraction: DFDC parts extracted apart merge to exactly what one run over all of them gives."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from dfd_utils.cli import main as dfd
from dfd_utils.datasets import load_split
from dfd_utils.sources import dfdc
from dfd_utils.sources.dfdc_parts import part_folder, write_parts
from dfd_utils.stages.optical_flow import optical_flow
from dfd_utils.stages.shards import merge, parse_parts, read_parts

PARAMS = "profiles/smoke.yaml"  # frames 16 at 108x192, 3D at 64: the frame settings every part shares


def zip_part(folder: Path) -> Path:
    """Replace a part's folder by its zip (DFDC's download), members under the part's name."""
    zpath = folder.with_suffix(".zip")
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    shutil.rmtree(folder)
    return zpath


@pytest.fixture(scope="module")
def dfdc_root(tmp_path_factory) -> Path:
    """Part 0 as a folder, part 1 as a zip: two families each (an original and one fake), 1080x1920, 18 frames."""
    root = tmp_path_factory.mktemp("dfdc")
    write_parts(root, [0, 1], families=2, fakes=1, frames=18)
    zip_part(part_folder(root, 1))
    return root


def _extract(root: Path, shards: Path, parts: str) -> None:
    assert dfd(["extract", "--parts", parts, "--dfdc-path", str(root), "--shards", str(shards), "--params",
                PARAMS]) == 0


@pytest.mark.slow  # full-HD clips decoded several times: 5-10 s each
def test_parts_extracted_apart_merge_like_one_run(dfdc_root, tmp_path):
    _extract(dfdc_root, tmp_path / "one", "0,1")  # one machine, both parts
    _extract(dfdc_root, tmp_path / "m1", "1")  # two machines, each its part, the later one first
    _extract(dfdc_root, tmp_path / "m0", "0")
    shared = tmp_path / "shared"  # what `dvc pull` of both machines' outputs gives the merging machine
    for machine in ("m0", "m1"):
        shutil.copytree(tmp_path / machine, shared, dirs_exist_ok=True)
    one, two = merge(tmp_path / "one"), merge(shared)
    assert one.equals(two)
    for name in ("manifest.csv", "metadata.json", "checksums.json", "skipped.json", "parts.json"):
        assert (tmp_path / "one/merged" / name).read_bytes() == (shared / "merged" / name).read_bytes(), name
    assert sorted(one.part.unique()) == [0, 1] and one.video.nunique() == 8 and len(one) == 8 * 16
    assert json.loads((shared / "merged/parts.json").read_text())["1"]["source"] == "dfdc_train_part_1.zip"
    assert not (tmp_path / "m1/part_1/.clips").exists()  # the zip's members copied out for decoding are gone
    assert all((shared / p).is_file() for p in one.path)


@pytest.mark.slow  # full-HD clips decoded several times: 5-10 s each
def test_merged_parts_become_stage_02_outputs_that_training_reads(dfdc_root, tmp_path):
    _extract(dfdc_root, tmp_path / "shards", "0-1")
    frames = tmp_path / "artifacts" / "frames"
    assert dfd(["merge", "--shards", str(tmp_path / "shards"), "--frames", str(frames), "--params", PARAMS]) == 0
    splits = json.loads((tmp_path / "artifacts/splits.json").read_text())
    assert len(splits) == 8 and set(splits.values()) <= {"train", "val", "test"}
    train = load_split(frames, "train", three_d=True)
    assert tuple(train.frames.shape[1:]) == (16, 3, 108, 192)  # (V, T, 3, H, W)
    assert tuple(train.frames3d.shape[1:]) == (16, 3, 64, 64)  # (V, T, 3, S, S): the smoke profile's 3D size
    assert optical_flow({}, tmp_path, workers=2) == sorted(splits)  # stage 03 reads the merge as stage 02's


@pytest.mark.slow  # full-HD clips decoded several times: 5-10 s each
def test_a_video_in_two_parts_or_mixed_frame_settings_are_refused(dfdc_root, tmp_path):
    shards = tmp_path / "shards"
    _extract(dfdc_root, shards, "0,1")
    record_path = shards / "part_1" / "part.json"
    record = json.loads(record_path.read_text())
    original = dict(record)
    record["videos"]["p0_real0.mp4"] = record["videos"]["p1_real0.mp4"]
    record_path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="p0_real0.mp4 is in part 0 and part 1"):
        merge(shards)
    record_path.write_text(json.dumps({**original, "frames": {**original["frames"], "size_3d": 112}}))
    with pytest.raises(ValueError, match="part_1/part.json and .*part_0/part.json were made with different frame"):
        merge(shards)


def test_parts_are_found_once_and_named_when_missing(dfdc_root, tmp_path, capsys):
    assert {p: path.name for p, path in dfdc.list_parts(dfdc_root).items()} == {
        0: "dfdc_train_part_0", 1: "dfdc_train_part_1.zip"}
    assert dfd(["extract", "--parts", "7", "--dfdc-path", str(dfdc_root), "--shards", str(tmp_path / "s"),
                "--params", PARAMS]) == 2
    assert "no dfdc_train_part_7 (folder or zip); the parts found are [0, 1]" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(dfdc_root, copy)
    shutil.copytree(dfdc_root / "dfdc_train_part_0", copy / "more" / "dfdc_train_part_0")
    with pytest.raises(ValueError, match="DFDC part 0 is found twice"):
        dfdc.list_parts(copy)
    with pytest.raises(FileNotFoundError, match="no part_N/part.json"):
        read_parts(tmp_path / "empty")


@pytest.mark.parametrize("text, parts", [("3,4", [3, 4]), ("0-2,9", [0, 1, 2, 9]), (" 4, 4 ,", [4])])
def test_parts_are_parsed(text, parts):
    assert parse_parts(text) == parts


@pytest.mark.parametrize("text, message", [("3-1", "runs backwards"), ("x", "not a part number"), (",", "no part")])
def test_bad_parts_are_refused_quoting_them(text, message):
    with pytest.raises(ValueError, match=message):
        parse_parts(text)
