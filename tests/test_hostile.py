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

from dfd_utils.sources import dfdc
from dfd_utils.video import VideoInfo, write_video


def _clip(path: Path, h: int = 1080, w: int = 1920, n: int = 3) -> Path:
    write_video(path, np.full((n, h, w, 3), 90, np.uint8), 10)
    return path


@pytest.fixture
def part(tmp_path):
    """One DFDC part: two families of a real and two fakes each, at 1080x1920."""
    folder = tmp_path / "dfdc" / "dfdc_train_part_0"
    folder.mkdir(parents=True)
    meta = {}
    for i in range(2):
        _clip(folder / f"real{i}.mp4")
        meta[f"real{i}.mp4"] = {"label": "REAL"}
        for j in range(2):
            _clip(folder / f"fake{i}{j}.mp4")
            meta[f"fake{i}{j}.mp4"] = {"label": "FAKE", "original": f"real{i}.mp4"}
    (folder / "metadata.json").write_text(json.dumps(meta))
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
    target = _clip(tmp_path / "elsewhere.mp4")
    os.symlink(target, part / "linked.mp4")
    _add_entries(part, {"linked.mp4": {"label": "REAL"}})
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=4, fake_share=0.5, seed=0)
    assert any(s.name == "linked.mp4" and "links outside" in s.reason for s in skips)
    assert target.is_file()


def test_a_clip_that_fails_the_check_removes_only_the_stage_copy(part, tmp_path):
    _clip(part / "real0.mp4", 1920, 1080)  # now portrait: it fails the check
    _, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=2, fake_share=0.5, seed=0)
    assert any(s.name == "real0.mp4" and "not horizontal" in s.reason for s in skips)
    assert (part / "real0.mp4").is_file() and not (tmp_path / "subset" / "real0.mp4").exists()


def test_the_subset_holds_copies_so_the_users_files_never_change(part, tmp_path):
    metadata, _ = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    for name in metadata:
        copy = tmp_path / "subset" / name
        assert copy.stat().st_ino != (part / name).stat().st_ino
    copy.chmod(0o400)  # what a DVC cache may do to an output
    assert (part / name).stat().st_mode & 0o200


def test_a_file_the_stage_did_not_write_is_never_removed(part, tmp_path):
    out = tmp_path / "subset"
    dfdc.select_subset(part.parent, out, num_videos=6, fake_share=0.6, seed=0)
    (out / "my_notes.mp4").write_text("mine")
    metadata, _ = dfdc.select_subset(part.parent, out, num_videos=2, fake_share=0.5, seed=0)
    assert len(metadata) == 2 and (out / "my_notes.mp4").read_text() == "mine"
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted([*metadata, "my_notes.mp4"])  # its own extras gone


def test_orphan_fakes_are_never_selected_and_are_listed(part, tmp_path):
    _clip(part / "orphan.mp4")
    _add_entries(part, {"orphan.mp4": {"label": "FAKE", "original": "not_here.mp4"}})
    metadata, skips = dfdc.select_subset(part.parent, tmp_path / "subset", num_videos=6, fake_share=0.6, seed=0)
    assert "orphan.mp4" not in metadata
    assert any(s.name == "orphan.mp4" and "not_here.mp4" in s.reason for s in skips)
    assert all(e["original"] in metadata for e in metadata.values() if e["label"] == "FAKE")


def test_skipped_json_lists_every_skip_with_its_reason(part, tmp_path):
    _clip(part / "stray.mp4")  # a file with no entry
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
    assert abs(len(metadata) - 825) <= 1 and abs(fakes - 495) <= 1
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
def kaggle_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "home" / ".kaggle").mkdir(parents=True)
    return tmp_path / "home" / ".kaggle"


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
