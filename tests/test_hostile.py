"""Hostile input: the DFDC path never touches a user's files, selects what it promises, and says what it skipped.

Each test is one case: the input, and the outcome asserted (what was skipped and why,
what was selected, and that nothing outside the project was written or removed).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import CodeOnLoad, dfdc_clip, dfdc_part, make_checkpoint, truncated_h264, write_clip
from dfd_utils.sources import dfdc
from dfd_utils.video import VideoInfo


@pytest.fixture
def part(tmp_path):
    """One DFDC part: two families of a real and two fakes each, at 1080x1920."""
    folder = tmp_path / "dfdc" / "dfdc_train_part_0"
    dfdc_part(folder)
    return folder


def _add_entries(folder: Path, entries: dict) -> None:
    meta = json.loads((folder / "metadata.json").read_text())
    meta.update(entries)
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("key", ["../../victim.txt", "../../victim.mp4", "/ABSOLUTE/victim.mp4", "sub/../../victim.mp4",
                                 "..", "C:\\victim.mp4"])
def test_a_metadata_key_outside_its_folder_never_touches_the_file(part, tmp_path, key):
    victims = [tmp_path / "victim.txt", tmp_path / "victim.mp4"]
    for victim in victims:
        victim.write_text("the user's own file")
    key = key.replace("/ABSOLUTE", str(tmp_path))
    _add_entries(part, {key: {"label": "REAL"}})
    metadata, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert all(victim.read_text() == "the user's own file" for victim in victims)
    reasons = {s.name: s.reason for s in skips}
    assert key in reasons and ("not a plain file name" in reasons[key] or "not a video file name" in reasons[key])
    assert key not in metadata and len(metadata) == 4


def test_a_symlink_out_of_the_folder_is_refused_and_its_target_kept(part, tmp_path):
    target = dfdc_clip(tmp_path / "elsewhere.mp4")
    os.symlink(target, part / "linked.mp4")
    _add_entries(part, {"linked.mp4": {"label": "REAL"}})
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any(s.name == "linked.mp4" and "links outside" in s.reason for s in skips)
    assert target.is_file()


def test_a_clip_that_fails_the_check_removes_only_the_stage_copy(part, tmp_path):
    dfdc_clip(part / "real0.mp4", 1920, 1080)  # now portrait: it fails the check
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=2, fake_share=0.5, seed=0)
    assert any(s.name == "real0.mp4" and "not horizontal" in s.reason for s in skips)
    assert (part / "real0.mp4").is_file() and not (tmp_path / "subset" / "real0.mp4").exists()


def test_the_subset_holds_copies_so_the_users_files_never_change(part, tmp_path):
    metadata, _ = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    for name in metadata:
        copy = tmp_path / "subset" / name
        assert copy.stat().st_ino != (part / name).stat().st_ino
    copy.chmod(0o400)  # what a DVC cache may do to an output
    assert (part / name).stat().st_mode & 0o200  # the user's file keeps its permissions (a hard link would not)


def test_a_file_the_stage_did_not_write_is_never_removed(part, tmp_path):
    out = tmp_path / "subset"
    dfdc.select_subset(part.parent, out, num_videos=6, fake_share=0.6, seed=0)
    (out / "my_notes.mp4").write_text("mine")
    metadata, _ = dfdc.select_subset(part.parent, out, num_videos=2, fake_share=0.5, seed=0)
    assert len(metadata) == 2 and (out / "my_notes.mp4").read_text() == "mine"
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted([*metadata, "my_notes.mp4"])  # its own extras gone


def test_orphan_fakes_are_never_selected_and_are_listed(part, tmp_path):
    dfdc_clip(part / "orphan.mp4")
    _add_entries(part, {"orphan.mp4": {"label": "FAKE", "original": "not_here.mp4"}})
    metadata, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    assert "orphan.mp4" not in metadata
    assert any(s.name == "orphan.mp4" and "not_here.mp4" in s.reason for s in skips)
    assert all(e["original"] in metadata for e in metadata.values() if e["label"] == "FAKE")


def test_skipped_json_lists_every_skip_with_its_reason(part, tmp_path):
    dfdc_clip(part / "stray.mp4")  # a file with no entry
    _add_entries(part, {"gone.mp4": {"label": "REAL"}, "odd.mp4": {"label": "MAYBE"}})  # no file; bad label
    dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    skipped = json.loads((tmp_path / "subset" / "skipped.json").read_text())
    assert "has no entry" in skipped["stray.mp4"] and "stray.mp4" in skipped["stray.mp4"]
    assert "file is missing" in skipped["gone.mp4"] and "unknown label 'MAYBE'" in skipped["odd.mp4"]


def test_a_zip_with_broken_metadata_is_a_skip_naming_the_zip(part, tmp_path):
    with zipfile.ZipFile(part.parent / "broken.zip", "w") as zf:
        zf.writestr("metadata.json", "{not json")
    with zipfile.ZipFile(part.parent / "notazip.zip", "w"):
        pass
    (part.parent / "notazip.zip").write_bytes(b"PK\x03\x04 truncated")
    metadata, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    reasons = " | ".join(s.reason for s in skips)
    assert "broken.zip:metadata.json: not valid JSON" in reasons and "notazip.zip: not a readable zip" in reasons
    assert len(metadata) == 6  # the valid folder is used


def test_a_zip_key_in_a_subfolder_is_a_skip_not_a_crash(part, tmp_path):
    with zipfile.ZipFile(part.parent / "sub.zip", "w") as zf:
        zf.writestr("metadata.json", json.dumps({"inner/x.mp4": {"label": "REAL"}}))
        zf.writestr("inner/x.mp4", b"x")
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any(s.name == "inner/x.mp4" and "not a plain file name" in s.reason for s in skips)


@pytest.mark.parametrize("num_videos,fake_share", [(1, 0.6), (10, 1.0), (10, -0.5), (10, 0.0)])
def test_the_selection_refuses_counts_and_shares_out_of_range(part, tmp_path, num_videos, fake_share):
    with pytest.raises(ValueError, match="num_videos|fake_share"):
        dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=num_videos, fake_share=fake_share)


@pytest.fixture
def dfdc_families(tmp_path, monkeypatch):
    """DFDC's shape without its pixels: 400 originals with 1-10 fakes each (tiny files, probe stubbed)."""
    folder = tmp_path / "dfdc" / "dfdc_train_part_0"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    meta = {}
    for i in range(400):
        (folder / f"r{i:03d}.mp4").write_bytes(b"r")
        meta[f"r{i:03d}.mp4"] = {"label": "REAL"}
        for j in range(int(rng.integers(1, 11))):
            (folder / f"f{i:03d}_{j}.mp4").write_bytes(b"f")
            meta[f"f{i:03d}_{j}.mp4"] = {"label": "FAKE", "original": f"r{i:03d}.mp4"}
    (folder / "metadata.json").write_text(json.dumps(meta))
    monkeypatch.setattr(dfdc, "probe", lambda path: VideoInfo(width=1920, height=1080, fps=30.0, header_frames=300))
    return folder.parent


def test_the_papers_subset_is_selected_exactly_on_dfdc_like_families(dfdc_families, tmp_path):
    metadata, _ = dfdc.select_subset(dfdc_families, tmp_path / "subset", num_videos=825, fake_share=0.6, seed=0)
    fakes = sum(e["label"] == "FAKE" for e in metadata.values())
    assert len(metadata) == 825 and fakes == 495
    assert all(e["original"] in metadata for e in metadata.values() if e["label"] == "FAKE")
    selection = json.loads((tmp_path / "subset" / "selection.json").read_text())
    assert selection["shortfall"] == 0 and selection["fake"] == fakes


def test_a_shortfall_is_loud_and_recorded(part, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        metadata, _ = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=24, fake_share=0.6, seed=0)
    assert len(metadata) == 6
    assert any("asked for 24 clips (14 FAKE), the data give 6 (4 FAKE, 2 REAL)" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")
    selection = json.loads((tmp_path / "subset" / "selection.json").read_text())
    assert selection["requested"] == 24 and selection["selected"] == 6 and selection["shortfall"] == 18


@pytest.fixture
def kaggle_home(no_credentials):
    (no_credentials / ".kaggle").mkdir(parents=True)
    return no_credentials / ".kaggle"


@pytest.mark.parametrize("form", ["env_token", "token_file", "kaggle_json", "env_key"])
def test_kaggle_accepts_every_credential_form_of_kaggle_2(kaggle_home, monkeypatch, form):
    from dfd_utils.sources import kaggle

    if form == "env_token":
        monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_abc123")
    elif form == "token_file":
        (kaggle_home / "access_token").write_text("KGAT_abc123\n")
    elif form == "kaggle_json":
        (kaggle_home / "kaggle.json").write_text(json.dumps({"username": "me", "key": "k" * 32}))
    else:
        monkeypatch.setenv("KAGGLE_USERNAME", "me")
        monkeypatch.setenv("KAGGLE_KEY", "k" * 32)
    assert kaggle.find_credentials()


@pytest.mark.parametrize("content, says", [
    ("{not json", "not JSON (line 1)"),
    ('["me", "key"]', "no 'username' and no 'key'"),
    ('{"username": "me"}', "no 'key'"),
    ('{"username": "me", "key": 12345}', "no 'key'"),
])
def test_a_malformed_kaggle_json_is_refused_naming_the_file_and_what_is_wrong(kaggle_home, content, says):
    from dfd_utils.sources import kaggle

    (kaggle_home / "kaggle.json").write_text(content)
    with pytest.raises(kaggle.KaggleSetupError) as err:
        kaggle.download(kaggle_home.parent / "dfdc")
    assert str(err.value).startswith(f"{kaggle_home / 'kaggle.json'}: {says}")
    assert "12345" not in str(err.value)  # never the file's content: it holds the key
    assert not (kaggle_home.parent / "dfdc").exists()


@pytest.mark.parametrize("where", ["kaggle_json", "token_file", "env_token"])
def test_kaggle_never_prints_a_secret_from_any_source(kaggle_home, tmp_path, monkeypatch, capsys, where):
    from kaggle.api.kaggle_api_extended import KaggleApi

    from dfd_utils.sources import kaggle

    secret = "s3cr3t0123456789abcdef"
    if where == "kaggle_json":
        (kaggle_home / "kaggle.json").write_text(json.dumps({"username": "me", "key": secret}))
    elif where == "token_file":
        (kaggle_home / "access_token").write_text(secret)
    else:
        monkeypatch.setenv("KAGGLE_API_TOKEN", secret)

    def leak(self):
        print(f"banner: please sign in, token {secret}")
        raise ValueError(f"401 Unauthorized for token {secret}")

    monkeypatch.setattr(KaggleApi, "authenticate", leak)
    with pytest.raises(kaggle.KaggleSetupError) as err:
        kaggle.download(tmp_path / "out")
    out = capsys.readouterr()
    assert secret not in str(err.value) and secret not in out.out + out.err and "***" in str(err.value)
    assert "banner" not in out.out + out.err  # the library's sign-in help stays out of the notebook
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ dfd predict: never a confident wrong answer
def _model_checkpoint(path: Path, **damage) -> Path:
    """A baseline checkpoint whose preprocessing (8 frames of 32x48) differs from the defaults."""
    return make_checkpoint(path, extra={"config": {"frames": {"num_frames": 8, "height": 32, "width": 48}}},
                           **damage)


def _predict(capsys, *args):
    from dfd_utils.cli import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def small_clip(tmp_path):
    return write_clip(tmp_path / "clips" / "a.mp4", n=12, fill=90)


@pytest.mark.parametrize("case", ["nan_weights", "unknown_cfg_key", "missing_model_cfg", "nan_threshold_in_file"])
def test_a_bad_checkpoint_exits_2_naming_the_file(tmp_path, small_clip, capsys, case):
    ckpt = tmp_path / "bad.pt"
    if case == "nan_weights":
        _model_checkpoint(ckpt, nan_weights=True)
    elif case == "unknown_cfg_key":
        _model_checkpoint(ckpt, edit=lambda payload: payload["model_cfg"].update(wings=2))
    elif case == "missing_model_cfg":
        _model_checkpoint(ckpt, edit=lambda payload: payload.pop("model_cfg"))
    else:
        _model_checkpoint(ckpt, threshold=float("nan"))
    code, out, err = _predict(capsys, "predict", small_clip, "--checkpoint", ckpt, "--json")
    assert code == 2 and str(ckpt) in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_threshold_option_exits_2(tmp_path, small_clip, capsys, value):
    ckpt = _model_checkpoint(tmp_path / "ok.pt")
    code, out, err = _predict(capsys, "predict", small_clip, "--checkpoint", ckpt, f"--threshold={value}")
    assert code == 2 and "--threshold must be a finite number" in err and out == ""


def test_json_output_is_strict_and_the_preprocessing_comes_from_the_checkpoint(tmp_path, small_clip, capsys):
    ckpt = _model_checkpoint(tmp_path / "ok.pt")
    code, out, _ = _predict(capsys, "predict", small_clip, "--checkpoint", ckpt, "--json")
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))["results"][0]
    assert code == 0 and len(result["frame_probs"]) == 8  # config.frames.num_frames of the checkpoint


def test_a_folder_is_searched_recursively_and_an_empty_one_is_an_error(tmp_path, small_clip, capsys):
    ckpt = _model_checkpoint(tmp_path / "ok.pt")
    nested = tmp_path / "top"
    (nested / "part_0").mkdir(parents=True)
    write_clip(nested / "part_0" / "deep.mp4", n=12, fill=90)
    code, out, _ = _predict(capsys, "predict", nested, "--checkpoint", ckpt, "--json")
    assert code == 0 and [Path(r["path"]).name for r in json.loads(out)["results"]] == ["deep.mp4"]
    code, out, err = _predict(capsys, "predict", nested, "--checkpoint", ckpt, "--no-recursive", "--json")
    assert code == 2 and "no video files found" in err and "--no-recursive" in err and out == ""


@pytest.mark.parametrize("case", ["still_image", "single_frame", "truncated_faststart"])
def test_a_still_image_or_a_truncated_file_is_a_failure_not_a_verdict(tmp_path, capsys, case):
    import cv2

    ckpt = _model_checkpoint(tmp_path / "ok.pt")
    path = tmp_path / f"{case}.mp4"
    if case == "still_image":
        cv2.imwrite(str(tmp_path / "photo.jpg"), np.full((72, 128, 3), 120, np.uint8))
        (tmp_path / "photo.jpg").rename(path)
    elif case == "single_frame":
        write_clip(path, n=1, fill=90)
    else:
        truncated_h264(path)  # the header survives, a fifth of the frames do not
    code, out, err = _predict(capsys, "predict", path, "--checkpoint", ckpt, "--json")
    result = json.loads(out)["results"][0]
    assert code == 1 and result["verdict"] is None and result["prob_fake"] is None
    assert ("still image" in result["error"]) if case != "truncated_faststart" else \
        ("truncated: 73 of the 120 frames" in result["error"])


# ------------------------------------------------------------------ stages: one writer, parameters checked first
def test_a_second_run_of_a_stage_on_the_same_root_stops_at_once(tmp_path):
    from dfd_utils.lock import Busy, writing
    from dfd_utils.paths import Paths
    from dfd_utils.stages.subset import make_subset

    data = {"source": "synthetic", "num_videos": 4, "fake_share": 0.5, "synthetic": {"height": 72, "width": 128}}
    with writing(Paths.at(tmp_path).subset):  # another run holds the subset
        with pytest.raises(Busy, match=r"subset is being written by pid \d+"):
            make_subset(data, tmp_path, workers=1)
    assert not (Paths.at(tmp_path).subset / "metadata.json").exists()


@pytest.mark.parametrize("change,message", [
    ({"data": {"num_videos": 5}}, "leave a split empty"),
    ({"splits": {"train": 0.998, "val": 0.001, "test": 0.001}}, "leave a split empty"),  # 0.24 of 240 videos
    ({"train": {"epochs": -1}}, "train.epochs must be >= 1"),
    ({"frames": {"num_frames": 0}}, "frames.num_frames must be >= 2"),
    ({"frames": {"height": 0}}, "frames.height must be >= 16"),
])
def test_parameters_are_refused_at_load_before_any_work(change, message):
    import copy

    import yaml

    from dfd_utils.config import ConfigError, parse

    params = copy.deepcopy(yaml.safe_load((Path(__file__).parent.parent / "profiles" / "demo.yaml").read_text()))
    for section, values in change.items():
        params[section].update(values)
    with pytest.raises(ConfigError, match=message):
        parse(params)


def test_a_malicious_checkpoint_is_refused_without_running_its_code(tmp_path, small_clip, capsys):
    import torch

    marker = tmp_path / "pwned"
    torch.save({"format": "dfd-checkpoint-v1", "model": CodeOnLoad(marker)}, tmp_path / "evil.pt")
    code, out, err = _predict(capsys, "predict", small_clip, "--checkpoint", tmp_path / "evil.pt")
    assert code == 2 and "evil.pt: not a readable PyTorch checkpoint" in err and not marker.exists()


def test_a_truncated_clip_is_a_skip_in_stage_02_not_frames_of_its_start(tmp_path):
    from dfd_utils.frame_store import FrameConfig
    from dfd_utils.frames import extract_all
    from dfd_utils.sources.metadata import VideoRecord

    cut = truncated_h264(tmp_path / "cut.mp4")
    done, skips = extract_all([VideoRecord("cut.mp4", cut, 1, None)], tmp_path / "frames",
                              FrameConfig(height=32, width=48, size_3d=32), workers=1)
    assert not done and "cut.mp4" in skips[0].name and "truncated: 73 of the 120 frames" in skips[0].reason


def test_learning_curves_continue_after_a_resume_without_a_second_step_0(tmp_path):
    """DVCLive rows: one per epoch, numbered 0, 1, 2, ... across an interruption."""
    import torch

    from dfd_utils.config.training import TrainConfig
    from dfd_utils.datasets import SplitData
    from dfd_utils.models import build_model
    from dfd_utils.train import fit

    rows: list[tuple[int, str]] = []
    made: list[bool] = []

    class FakeLive:
        step = 0

        def log_metric(self, name, value):
            rows.append((self.step, name))

        def next_step(self):
            self.step += 1

        def end(self):
            pass

    def factory(resume):
        made.append(resume)
        return FakeLive()

    g = torch.Generator().manual_seed(0)
    split = SplitData([f"v{i}" for i in range(4)], [f"v{i}" for i in range(4)], torch.tensor([0.0, 1, 0, 1]),
                      torch.randint(0, 255, (4, 2, 3, 32, 32), generator=g, dtype=torch.uint8), None, None)
    cfg = TrainConfig(epochs=3, patience=5, precision="fp32", channels_last=False, batch_frames=4)

    def crash(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        fit(build_model("baseline", backbone="resnet18", hidden=4), split, split, cfg, tmp_path, live=factory,
            on_epoch_end=crash)
    torch.manual_seed(0)
    fit(build_model("baseline", backbone="resnet18", hidden=4), split, split, cfg, tmp_path, live=factory)
    steps = sorted({step for step, name in rows if name == "val_auc"})
    assert made == [False, True] and steps == [0, 1, 2]
    assert sum(name == "val_auc" for _, name in rows) == 3  # no epoch logged twice


# ------------------------------------------------------------------ from the review: more hostile DFDC inputs
def test_a_planted_ledger_entry_never_deletes_a_file_outside(part, tmp_path):
    out = tmp_path / "subset"
    dfdc.select_subset(part.parent, out, num_videos=4, fake_share=0.5, seed=0)
    victim = tmp_path / "victim.mp4"
    victim.write_text("mine")
    ledger = json.loads((out / "provenance.json").read_text())
    ledger[str(victim)] = ledger["../x.mp4"] = {"made_by": {}, "sha256": "0" * 64, "stat": [0, 0]}
    (out / "provenance.json").write_text(json.dumps(ledger))
    dfdc.select_subset(part.parent, out, num_videos=2, fake_share=0.5, seed=0)  # prunes what it no longer needs
    assert victim.read_text() == "mine"


@pytest.mark.parametrize("where", ["same", "subset_inside_data", "data_inside_subset"])
def test_a_dfdc_path_overlapping_the_subset_is_refused_before_any_work(part, where):
    data = part.parent
    out = {"same": data, "subset_inside_data": data / "artifacts" / "subset",
           "data_inside_subset": data.parent}[where]
    before = sorted(p.name for p in part.iterdir())
    with pytest.raises(ValueError, match="overlap"):
        dfdc.select_subset(data, out, num_videos=4, fake_share=0.5, seed=0)
    assert sorted(p.name for p in part.iterdir()) == before


@pytest.mark.parametrize("label", [["REAL"], 1, None, {"x": 1}])
def test_a_label_of_the_wrong_type_is_a_skip(part, tmp_path, label):
    dfdc_clip(part / "odd.mp4")
    _add_entries(part, {"odd.mp4": {"label": label}})
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any(s.name == "odd.mp4" and "unknown label" in s.reason for s in skips)


def test_a_key_too_long_for_the_file_system_is_a_skip(part, tmp_path):
    _add_entries(part, {"a" * 300 + ".mp4": {"label": "REAL"}})
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any("not a plain file name" in s.reason for s in skips)


def test_a_corrupt_zip_member_is_a_skip_and_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "dfdc"
    folder.mkdir()
    good = dfdc_clip(tmp_path / "good.mp4")
    meta = {"r0.mp4": {"label": "REAL"}, "f0.mp4": {"label": "FAKE", "original": "r0.mp4"},
            "r1.mp4": {"label": "REAL"}, "f1.mp4": {"label": "FAKE", "original": "r1.mp4"}}
    zpath = folder / "part.zip"
    with zipfile.ZipFile(zpath, "w") as zf:  # stored, so the bytes of f1.mp4 can be damaged in place
        zf.writestr("metadata.json", json.dumps(meta))
        for name in meta:
            zf.write(good, name)
    data = bytearray(zpath.read_bytes())
    with zipfile.ZipFile(zpath) as zf:
        info = zf.getinfo("f1.mp4")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100: start + 110] = b"\x00" * 10  # a bad CRC on read
    zpath.write_bytes(bytes(data))
    metadata, skips = dfdc.select_subset(folder, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any(s.name == "f1.mp4" and "cannot be copied out" in s.reason for s in skips)
    assert "f1.mp4" not in metadata and not list((tmp_path / "subset").glob(".*.tmp"))


def test_zip_members_with_a_dot_prefix_are_read(tmp_path):
    folder = tmp_path / "dfdc"
    folder.mkdir()
    good = dfdc_clip(tmp_path / "good.mp4")
    with zipfile.ZipFile(folder / "part.zip", "w") as zf:
        zf.writestr("./part/metadata.json", json.dumps({"r.mp4": {"label": "REAL"},
                                                         "f.mp4": {"label": "FAKE", "original": "r.mp4"}}))
        zf.write(good, "./part/r.mp4")
        zf.write(good, "./part/f.mp4")
    metadata, _ = dfdc.select_subset(folder, tmp_path / "subset", num_videos=2, fake_share=0.5, seed=0)
    assert sorted(metadata) == ["f.mp4", "r.mp4"]


@pytest.mark.parametrize("num_videos,fake_share", [(2, 0.8), (2, 0.2), (10, 0.01)])
def test_a_subset_with_no_fake_or_no_real_is_refused(part, tmp_path, num_videos, fake_share):
    with pytest.raises(ValueError, match="at least one of each"):
        dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=num_videos, fake_share=fake_share)


def test_originals_without_fakes_do_not_crowd_out_an_exact_selection(dfdc_families, tmp_path):
    folder = dfdc_families / "dfdc_train_part_0"
    meta = json.loads((folder / "metadata.json").read_text())
    for i in range(300):  # many originals whose fakes are not in this part
        (folder / f"lonely{i:03d}.mp4").write_bytes(b"r")
        meta[f"lonely{i:03d}.mp4"] = {"label": "REAL"}
    (folder / "metadata.json").write_text(json.dumps(meta))
    for seed in range(3):
        metadata, _ = dfdc.select_subset(dfdc_families, tmp_path / f"s{seed}", num_videos=825, fake_share=0.6,
                                         seed=seed)
        assert len(metadata) == 825 and sum(e["label"] == "FAKE" for e in metadata.values()) == 495


def test_the_selection_is_the_same_for_a_seed_and_differs_between_seeds(dfdc_families, tmp_path):
    a, _ = dfdc.select_subset(dfdc_families, tmp_path / "a", num_videos=100, fake_share=0.6, seed=1)
    b, _ = dfdc.select_subset(dfdc_families, tmp_path / "b", num_videos=100, fake_share=0.6, seed=1)
    c, _ = dfdc.select_subset(dfdc_families, tmp_path / "c", num_videos=100, fake_share=0.6, seed=2)
    assert a == b and set(a) != set(c)
