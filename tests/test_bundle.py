"""Results bundles: one run's executed notebooks, metrics and cards, packed, checked and unpacked."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dfd_utils.pipeline import chapters
from dfd_utils.tooling import bundle
from dfd_utils.tooling.bundle import BundleError


@pytest.fixture
def run(tmp_path):
    """A study root as a finished run leaves it: an executed notebook per chapter, metrics, no checkpoints."""
    root = tmp_path / "run"
    executed = root / "artifacts" / "executed"
    executed.mkdir(parents=True)
    for c in chapters():
        (executed / f"{c.name}.ipynb").write_text(json.dumps({"cells": [], "name": c.name}))
    (root / "metrics").mkdir()
    (root / "metrics" / "baseline.json").write_text('{"video": {"roc_auc": 0.9}}\n')
    return root


def _tar(path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {i.name: tar.extractfile(i).read() for i in tar}


def test_a_bundle_holds_every_chapter_the_metrics_and_the_cards_and_is_the_same_bytes_twice(run, tmp_path):
    first = bundle.make(run, tmp_path / "a.tar.gz")
    second = bundle.make(run, tmp_path / "b.tar.gz")
    assert first.read_bytes() == second.read_bytes()  # no times, owners or paths in it
    members = _members(first)
    assert {f"executed/{c.name}.ipynb" for c in chapters()} <= set(members)
    assert members["metrics/baseline.json"] == b'{"video": {"roc_auc": 0.9}}\n'
    assert b"# Model and data cards" in members["cards.md"]
    manifest = json.loads(members["MANIFEST.json"])
    assert set(manifest["files"]) == set(members) - {"MANIFEST.json"}


def test_unpacking_gives_back_the_run_as_a_study_root(run, tmp_path):
    made = bundle.make(run, tmp_path / "r.tar.gz")
    root = bundle.unpack(made, tmp_path / "book")
    for c in chapters():
        assert (root / "artifacts" / "executed" / f"{c.name}.ipynb").read_bytes() == (
            run / "artifacts" / "executed" / f"{c.name}.ipynb").read_bytes()
    assert (root / "metrics" / "baseline.json").read_text() == '{"video": {"roc_auc": 0.9}}\n'
    assert json.loads((root / "BUNDLE.json").read_text())["files"]
    bundle.unpack(made, tmp_path / "book")  # an earlier unpack is replaced


def test_a_bundle_without_a_finished_run_is_refused_naming_what_is_missing(run, tmp_path):
    missing = chapters()[3].name
    (run / "artifacts" / "executed" / f"{missing}.ipynb").unlink()
    with pytest.raises(BundleError, match=f"no executed notebook for .*{missing}"):
        bundle.make(run, tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()


def test_unpacking_never_writes_over_other_work(run, tmp_path):
    made = bundle.make(run, tmp_path / "r.tar.gz")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="not empty and not an earlier bundle's folder"):
        bundle.unpack(made, mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("case, message", [
    ("escape", "unexpected member '../evil.json'"),
    ("absolute", "unexpected member '/tmp/evil.json'"),
    ("link", "is not a regular file"),
    ("edited", "do not have the SHA-256"),
    ("extra", "lists .* differently"),
    ("no_manifest", "no MANIFEST.json"),
])
def test_a_hostile_or_damaged_bundle_is_refused_before_anything_is_written(run, tmp_path, case, message):
    members = _members(bundle.make(run, tmp_path / "good.tar.gz"))
    links: tuple[str, ...] = ()
    if case == "escape":
        members["../evil.json"] = b"{}"
    elif case == "absolute":
        members["/tmp/evil.json"] = b"{}"
    elif case == "link":
        links = ("metrics/link.json",)
    elif case == "edited":
        members["metrics/baseline.json"] = b'{"video": {"roc_auc": 1.0}}\n'
    elif case == "extra":
        members["metrics/extra.json"] = b"{}"
    else:
        del members["MANIFEST.json"]
    _tar(tmp_path / "bad.tar.gz", members, links)
    with pytest.raises(BundleError, match=message):
        bundle.unpack(tmp_path / "bad.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_bundle_is_named(tmp_path):
    (tmp_path / "notes.tar.gz").write_text("not a tar")
    with pytest.raises(BundleError, match="notes.tar.gz: not a readable .tar.gz"):
        bundle.read(tmp_path / "notes.tar.gz")
    with pytest.raises(BundleError, match="missing.tar.gz: no such file"):
        bundle.read(tmp_path / "missing.tar.gz")


def test_a_bundle_of_other_chapters_is_refused_naming_the_commit(run, tmp_path):
    members = _members(bundle.make(run, tmp_path / "good.tar.gz"))
    name = f"executed/{chapters()[0].name}.ipynb"
    del members[name]
    manifest = json.loads(members["MANIFEST.json"])
    del manifest["files"][name]
    members["MANIFEST.json"] = json.dumps(manifest).encode()
    _tar(tmp_path / "old.tar.gz", members)
    with pytest.raises(BundleError, match="are not this checkout's chapters"):
        bundle.read(tmp_path / "old.tar.gz")


def test_a_bundle_that_unpacks_past_the_limit_is_stopped_while_it_is_read(run, tmp_path, monkeypatch):
    """A small .tar.gz of zeros can unpack to gigabytes: the decompressed stream is counted as it is read."""
    members = _members(bundle.make(run, tmp_path / "good.tar.gz"))
    members["metrics/zeros.json"] = bytes(2 * 2**20)  # 2 MB of zeros: a few KB compressed
    _tar(tmp_path / "bomb.tar.gz", members)
    monkeypatch.setattr(bundle, "MAX_BYTES", 2**20)
    assert (tmp_path / "bomb.tar.gz").stat().st_size < 2**20
    with pytest.raises(BundleError, match="unpacks to more than 1048576 bytes"):
        bundle.read(tmp_path / "bomb.tar.gz")


def test_a_member_name_with_a_newline_or_another_format_is_refused(run, tmp_path):
    members = _members(bundle.make(run, tmp_path / "good.tar.gz"))
    _tar(tmp_path / "newline.tar.gz", {**members, "cards.md\n": b"x"})
    with pytest.raises(BundleError, match="unexpected member 'cards.md\\\\n'"):
        bundle.read(tmp_path / "newline.tar.gz")
    manifest = json.loads(members["MANIFEST.json"])
    _tar(tmp_path / "future.tar.gz", {**members, "MANIFEST.json": json.dumps({**manifest, "format": 2}).encode()})
    with pytest.raises(BundleError, match="bundle format 2; this checkout reads format 1"):
        bundle.read(tmp_path / "future.tar.gz")
