"""`make clean-cache`: only the caches a rerun rebuilds go, never an output DVC tracks, never through a link."""

import fcntl

from dfd_utils.paths import project_root
from dfd_utils.tooling import clean


def _file(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _study(tmp_path):
    a = tmp_path / "study" / "artifacts"
    gone = [_file(a / "arrays" / "train.frames.npy", 1000), _file(a / "arrays" / "train.frames.json", 10),
            _file(a / "families" / "temporal" / "artifacts" / "arrays" / "val.flow.npy", 500),
            _file(a / "runs" / "cnn3d" / "seed0" / "last.pt", 300),
            _file(a / "runs" / "cnn3d" / "seed0" / "last.pt.sha256", 64)]
    kept = [_file(a / "runs" / "cnn3d" / "seed0" / "best.pt", 200), _file(a / "models" / "cnn3d.pt", 200),
            _file(a / "frames_per_video" / "08" / "arrays" / "test.frames.npy", 400),  # inside a DVC output
            _file(a / "frames" / "v.mp4" / "00.jpg", 50)]
    outside = _file(tmp_path / "elsewhere" / "artifacts" / "arrays" / "theirs.npy", 700)
    _file(tmp_path / "elsewhere" / "run" / "last.pt", 700)
    (a / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    return tmp_path / "study", gone, kept + [outside, tmp_path / "elsewhere" / "run" / "last.pt"]


def test_only_split_arrays_and_resumable_states_are_removed_and_counted(tmp_path, capsys):
    root, gone, kept = _study(tmp_path)
    assert clean.main(["--root", str(root), "--dry-run"]) == 0
    assert all(p.exists() for p in gone + kept)
    assert clean.clean(root) == {"split arrays": 1510, "resumable training states": 364}
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept), [p for p in kept if not p.exists()]
    assert (root / "artifacts" / "linked").is_symlink()  # a link to elsewhere: neither followed nor removed


def test_a_running_dvc_command_is_not_cleaned_under(tmp_path, capsys):
    root, gone, _ = _study(tmp_path)
    lock = root / ".dvc" / "tmp" / "lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what zc.lockfile holds during `dvc repro`
        assert clean.main(["--root", str(root)]) == 2
    assert "a DVC command is running" in capsys.readouterr().err
    assert all(p.exists() for p in gone)
    assert clean.main(["--root", str(root)]) == 0  # released: cleans


def test_the_dvc_cache_links_its_outputs_where_the_disk_allows():
    """A copy-type cache doubles every cached output (2.8 GB for the demo study): the study's .dvc/config asks for a
    reflink or a hardlink first, falling back to a copy where the cache sits on another filesystem."""
    import configparser

    config = configparser.ConfigParser()
    config.read(project_root() / ".dvc" / "config")
    kinds = [k.strip() for k in config["cache"]["type"].strip('"').split(",")]
    assert kinds[:2] == ["reflink", "hardlink"] and kinds[-1] == "copy"


def test_rewriting_a_kept_output_never_writes_through_the_dvc_cache(tmp_path, monkeypatch):
    """With a hardlinked cache a kept output IS the cached file (read-only, but root writes anyway): the study's
    writers of cached outputs replace the file (a new inode), so the cached twin keeps its bytes. Checked for the
    prediction CSVs and for papermill's executed copy, which it writes in place while a notebook runs."""
    import os

    import pandas as pd
    import papermill

    from dfd_utils import notebook_run
    from dfd_utils.io import write_csv_atomic

    cache, kept = tmp_path / "cache_object", tmp_path / "videos.csv"
    cache.write_text("video,prob\na.mp4,0.1\n")
    os.link(cache, kept)
    os.chmod(cache, 0o444)
    write_csv_atomic(pd.DataFrame({"video": ["a.mp4"], "prob": [0.9]}), kept)
    assert cache.read_text() == "video,prob\na.mp4,0.1\n" and kept.read_text() == "video,prob\na.mp4,0.9\n"

    executed, twin = tmp_path / "04_baseline.ipynb", tmp_path / "executed_object"
    twin.write_text("{}")
    os.link(twin, executed)

    def in_place(notebook, out, **kwargs):  # as papermill does: open the output path and write it
        with open(out, "w") as handle:
            handle.write('{"cells": []}')

    monkeypatch.setattr(papermill, "execute_notebook", in_place)
    notebook_run.execute(tmp_path / "nb.ipynb", executed, {}, tmp_path)
    assert twin.read_text() == "{}" and executed.read_text() == '{"cells": []}'
