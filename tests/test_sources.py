import json
import zipfile

import pytest

from conftest import dfdc_clip, dfdc_part
from dfd_utils.sources import dfdc, kaggle
from dfd_utils.sources.metadata import load_subset, parse_metadata


def test_metadata_skips_are_reported_with_reasons(tmp_path):
    for name in ("a.mp4", "b.mp4", "stray.mp4"):
        (tmp_path / name).write_bytes(b"x")
    metadata = {"a.mp4": {"label": "REAL"}, "b.mp4": {"label": "FAKE", "original": "a.mp4"},
                "gone.mp4": {"label": "FAKE", "original": "a.mp4"}, "odd.mp4": {"label": "MAYBE"}}
    records, skips = parse_metadata(metadata, tmp_path)
    assert [(r.name, r.label, r.original) for r in records] == [("a.mp4", 0, None), ("b.mp4", 1, "a.mp4")]
    reasons = {s.name: s.reason for s in skips}
    assert "file is missing" in reasons["gone.mp4"]
    assert "unknown label 'MAYBE'" in reasons["odd.mp4"]
    assert "no entry" in reasons["stray.mp4"]


def test_load_subset_names_a_broken_metadata_file(tmp_path):
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="metadata.json: not valid JSON"):
        load_subset(tmp_path)


@pytest.fixture
def dfdc_root(tmp_path):
    """A DFDC-like part: 3 families (one with a portrait original), a stray small clip."""
    part = tmp_path / "dfdc" / "dfdc_train_part_0"
    meta = dfdc_part(part, families=3, portrait=(2,), split="train", original=None)
    dfdc_clip(part / "small.mp4", 240, 320)
    meta["small.mp4"] = {"label": "REAL", "split": "train"}
    (part / "metadata.json").write_text(json.dumps(meta))
    return tmp_path / "dfdc"


def test_dfdc_selection_keeps_fakes_with_originals_and_skips_with_reasons(dfdc_root, tmp_path):
    out = tmp_path / "subset"
    metadata, skips = dfdc.select_subset(dfdc_root, out, num_videos=9, fake_share=0.6, seed=0)
    reasons = {s.name: s.reason for s in skips}
    assert "not horizontal" in reasons["real2.mp4"] and "real2.mp4" not in metadata  # portrait original
    assert "fake20.mp4" not in metadata and "fake21.mp4" not in metadata  # its fakes go with it
    assert "not horizontal" in reasons["small.mp4"] and "small.mp4" not in metadata
    for entry in metadata.values():
        if entry["label"] == "FAKE":
            assert entry["original"] in metadata  # never an orphan fake
    checksums = json.loads((out / "checksums.json").read_text())
    assert set(checksums) == set(metadata) and all(len(v) == 64 for v in checksums.values())
    assert json.loads((out / "metadata.json").read_text()) == metadata


def test_dfdc_selection_is_seeded(dfdc_root, tmp_path):
    a, _ = dfdc.select_subset(dfdc_root, tmp_path / "a", num_videos=4, fake_share=0.5, seed=1)
    b, _ = dfdc.select_subset(dfdc_root, tmp_path / "b", num_videos=4, fake_share=0.5, seed=1)
    assert a == b


def test_dfdc_reads_zips_in_place(dfdc_root, tmp_path):
    part = dfdc_root / "dfdc_train_part_0"
    zpath = tmp_path / "zips" / "dfdc_train_part_0.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in part.iterdir():
            zf.write(f, f"dfdc_train_part_0/{f.name}")
    metadata, _ = dfdc.select_subset(zpath.parent, tmp_path / "subset", num_videos=5, fake_share=0.6, seed=0)
    assert len(metadata) >= 3 and all((tmp_path / "subset" / n).is_file() for n in metadata)


@pytest.mark.parametrize("member", ["../evil.mp4", "/abs/evil.mp4", "a/../../evil.mp4"])
def test_zip_members_that_escape_are_skipped_and_the_rest_still_read(dfdc_root, tmp_path, member):
    zpath = dfdc_root / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"evil.mp4": {"label": "REAL"}}))
        zf.writestr(member, b"x")
    candidates, skips = dfdc.find_candidates(dfdc_root)
    assert any("bad.zip: unsafe member path" in s.reason for s in skips)
    assert {c.name for c in candidates} >= {"real0.mp4", "fake00.mp4"}  # the valid folder is still read


def test_missing_dfdc_folder_says_which_parameter(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.dfdc_path"):
        dfdc.find_candidates(tmp_path / "nowhere")


def test_kaggle_without_credentials_says_what_to_do(no_credentials, tmp_path):
    with pytest.raises(kaggle.KaggleSetupError) as err:
        kaggle.download(tmp_path / "out")
    text = str(err.value)
    assert "kaggle.json" in text and "KAGGLE_USERNAME" in text and kaggle.RULES_URL in text
    assert not (tmp_path / "out").exists()


def test_kaggle_failure_never_prints_the_key_nor_leaves_files(no_credentials, tmp_path, monkeypatch):
    secret = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", secret)
    from kaggle.api.kaggle_api_extended import KaggleApi

    def fail(self, *args, **kwargs):
        raise ConnectionError(f"could not reach api with key {secret}")

    monkeypatch.setattr(KaggleApi, "authenticate", lambda self: None)
    monkeypatch.setattr(KaggleApi, "competition_download_files", fail)
    with pytest.raises(kaggle.KaggleSetupError) as err:
        kaggle.download(tmp_path / "out")
    assert secret not in str(err.value) and "***" in str(err.value)
    assert "Check the network" in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".kaggle-") for p in tmp_path.iterdir())


def test_kaggle_rules_not_accepted(no_credentials, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "k" * 32)
    from kaggle.api.kaggle_api_extended import KaggleApi

    monkeypatch.setattr(KaggleApi, "authenticate", lambda self: None)
    monkeypatch.setattr(KaggleApi, "competition_download_files",
                        lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("403 Client Error: Forbidden")))
    with pytest.raises(kaggle.KaggleSetupError, match="accept the rules"):
        kaggle.download(tmp_path / "out")
