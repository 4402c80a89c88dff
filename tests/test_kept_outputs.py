"""Issue 29, deliverable 2 and the disk-full cases: kept outputs verified, not trusted.

Each case tampers with one kept file as a user (or a bad copy) would, mtime moved or
restored, and asserts the outcome: the file is made again with a WARNING naming it, and
the result equals the untampered one. Then frame settings that disagree with the run,
a full disk while writing split arrays and frames, and ``dfd predict --jsonl``.
"""

import errno
import json
import os
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_features import FROZEN, clips, model
from test_predict import _checkpoint, run

from conftest import SMALL, write_clip
from dfd_utils import io, kept
from dfd_utils.flow import FlowConfig, compute_all, flow_path
from dfd_utils.frame_settings import FrameSettingsError, check_frame_settings
from dfd_utils.frame_store import FrameConfig, frame_name, video_stem
from dfd_utils.frames import extract_all, extract_video
from dfd_utils.ledger import Ledger
from dfd_utils.sources.metadata import load_subset
from dfd_utils.sources.synthetic import generate, plan_dataset

CFG = FrameConfig(height=36, width=64, size_3d=32, num_frames=4)
SET = replace(SMALL, num_videos=4)


@pytest.fixture(autouse=True)
def later_run():
    """Each check below stands for a later run: nothing this process wrote is trusted by its stat."""
    kept._WRITTEN.clear()
    yield
    kept._WRITTEN.clear()


def _restore_mtime(path, before) -> None:
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _flip_last_byte(path) -> None:
    """One byte changed in place, size and mtime restored: only the bytes tell."""
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    _restore_mtime(path, st)
    kept._WRITTEN.clear()  # a later run: this process's own writes are not the edited file


def test_a_zeroed_feature_entry_is_computed_again(tmp_path, caplog):
    from dfd_utils.features import FeatureCache

    net, data = model("baseline"), {"train": clips(3)}
    first = FeatureCache(tmp_path)(net, data)["train"].features.clone()
    entries = sorted(tmp_path.glob("*.pt"))
    for path in entries:  # same shape and dtype, every value zero
        torch.save(torch.zeros_like(torch.load(path, weights_only=True)), path)
    kept._WRITTEN.clear()
    with caplog.at_level("WARNING"):
        again = FeatureCache(tmp_path)(model("baseline"), data)["train"].features
    assert all(f"{path}: {kept.CHANGED}" in caplog.text for path in entries)
    assert torch.equal(again, first)


def _negate_head(path) -> None:
    saved = torch.load(path, weights_only=True)
    for key in saved["model"]:
        if key.startswith("head."):
            saved["model"][key] = -saved["model"][key]
    torch.save(saved, path)


def _weights(net) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("tampered", ["last.pt", "best.pt"])
def test_a_training_state_with_a_negated_head_is_trained_again(tmp_path, caplog, tampered):
    """A negated head in last.pt resumed, or in best.pt published, would be a wrong model: the run starts over."""
    from dfd_utils.train import fit

    train, val = clips(6, 0), clips(4, 1)
    alone = model("baseline")
    fit(alone, train, val, replace(FROZEN, epochs=2), tmp_path / "alone")
    net = model("baseline")
    fit(net, train, val, replace(FROZEN, epochs=1), tmp_path / "run")
    _negate_head(tmp_path / "run" / tampered)
    kept._WRITTEN.clear()
    with caplog.at_level("WARNING"):
        net = model("baseline")
        fit(net, train, val, replace(FROZEN, epochs=2), tmp_path / "run")
    assert f"{tmp_path / 'run' / tampered}: {kept.CHANGED}; the run starts over" in caplog.text
    assert all(torch.equal(v, _weights(alone)[k]) for k, v in _weights(net).items())


@pytest.fixture()
def made(synthetic_subset, tmp_path):
    records, _ = load_subset(synthetic_subset)
    records = records[:2]
    extract_all(records, tmp_path / "frames", CFG, workers=1)
    names = sorted(r.name for r in records)
    compute_all(names, tmp_path / "frames", tmp_path / "flow", FlowConfig(), workers=1)
    kept._WRITTEN.clear()
    return records, names


def test_a_hand_edited_frame_is_extracted_again(made, tmp_path, caplog):
    records, _ = made
    jpeg = tmp_path / "frames" / video_stem(records[0].name) / "3d" / frame_name(2)
    original = jpeg.read_bytes()
    jpeg.write_bytes(original[:-40] + bytes(40))  # an edit; its mtime moves
    with caplog.at_level("WARNING"):
        extract_all(records, tmp_path / "frames", CFG, workers=1)
    assert f"{jpeg}: {kept.CHANGED}" in caplog.text
    assert jpeg.read_bytes() == original


def test_a_hand_edited_flow_file_is_computed_again(made, tmp_path, caplog):
    _, names = made
    path = flow_path(tmp_path / "flow", names[0])
    original = np.load(path)
    _flip_last_byte(path)
    with caplog.at_level("WARNING"):
        compute_all(names, tmp_path / "frames", tmp_path / "flow", FlowConfig(), workers=1)
    assert f"{path}: {kept.CHANGED}" in caplog.text
    assert np.array_equal(np.load(path), original)


def test_a_changed_clip_with_its_mtime_restored_is_made_again(tmp_path, caplog):
    folder = tmp_path / "clips"
    generate(SET, folder, workers=1)
    clip = folder / plan_dataset(SET)[0].name
    original = clip.read_bytes()
    _flip_last_byte(clip)
    checksums = json.loads((folder / "checksums.json").read_text())
    with caplog.at_level("WARNING"):  # stage 02 keys frames on the clip's bytes, not on checksums.json
        from dfd_utils.frames import source_digest
        from dfd_utils.sources.metadata import VideoRecord

        source_digest(VideoRecord(clip.name, clip, "REAL", None), checksums)
    assert f"{clip}: its bytes differ from its SHA-256 in checksums.json" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        generate(SET, folder, workers=1)
    assert f"{clip}: {kept.CHANGED}" in caplog.text
    assert clip.read_bytes() == original


def test_a_refused_adopt_leaves_no_link(tmp_path, monkeypatch):
    """The donor's file is replaced between its check and the link: adopt refuses, and nothing is left linked."""
    from dfd_utils import ledger as ledger_module

    donor, here = Ledger(tmp_path / "donor"), Ledger(tmp_path / "here")
    donor.folder.mkdir()
    (donor.folder / "a.mp4").write_bytes(b"first")
    made_by = {"inputs": 1, "settings": {}, "code": {}}
    donor.record("a.mp4", made_by)
    real = ledger_module.link_or_copy

    def rewritten_then_linked(source, target):
        with io.atomic_path(source) as tmp:  # another writer replaces the donor's file
            tmp.write_bytes(b"other")
        real(source, target)

    monkeypatch.setattr(ledger_module, "link_or_copy", rewritten_then_linked)
    here.folder.mkdir()
    assert not here.adopt(donor, "a.mp4", made_by)
    assert not (here.folder / "a.mp4").exists() and "a.mp4" not in here.entries
    assert not list(here.folder.glob(".*"))


def test_frames_made_at_other_settings_are_refused_before_training(made, tmp_path):
    records, _ = made
    data = {"train": replace(clips(2), videos=[r.name for r in records], frames3d=None,
                             frames=torch.zeros(2, 4, 3, 36, 64, dtype=torch.uint8))}
    check_frame_settings(tmp_path / "frames", data, CFG)  # as made: accepted
    with pytest.raises(FrameSettingsError, match=r"frames\.height is 30") as err:
        check_frame_settings(tmp_path / "frames", data, replace(CFG, height=30))
    assert str(tmp_path / "frames" / video_stem(records[0].name)) in str(err.value)
    with pytest.raises(FrameSettingsError, match=r"info\.json: its frames were made with frames\.jpeg_quality 95"):
        check_frame_settings(tmp_path / "frames", data, replace(CFG, jpeg_quality=80))


def test_the_checkpoint_never_records_an_input_its_frames_do_not_have(tmp_path, monkeypatch):
    """Frames of 36x64 trained with frames.height 30: refused by run_experiment before training, no checkpoint."""
    import dfd_utils.stages.detector as exp

    monkeypatch.setattr(exp, "load_inputs", lambda paths, m, split, limit=None: replace(clips(4), frames3d=None))
    with pytest.raises(FrameSettingsError, match=r"frames are height 32, but the run's frames\.height is 30"):
        exp.run_experiment("baseline", {"backbone": "resnet18", "hidden": 8, "epochs": 1},
                           {"num_frames": 4, "height": 30, "width": 48, "size_3d": 32}, {"bootstrap": 10},
                           root=tmp_path, live=False)
    assert not list(tmp_path.rglob("*.pt"))


def test_disk_full_while_writing_a_split_array_names_disk_and_file(tmp_path, monkeypatch):
    from test_split_arrays import frame_store

    from dfd_utils import split_arrays

    root = frame_store(tmp_path)
    arrays = tmp_path / "arrays"
    names = sorted(p.name + ".mp4" for p in (root / "frames").iterdir() if p.is_dir())
    monkeypatch.setattr(io, "free_bytes", lambda path: 1000)  # checked before a byte is written
    with pytest.raises(OSError) as err:
        split_arrays.split_array("frames", "train", names, root / "frames", None, arrays)
    assert err.value.errno == errno.ENOSPC and "train.frames.npy" in str(err.value)
    assert f"disk mounted at {io.mount_point(arrays)}" in str(err.value)
    monkeypatch.undo()

    def full(fd, offset, length):  # the disk filled by another writer after the check
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(split_arrays.os, "posix_fallocate", full)
    with pytest.raises(OSError, match=r"no space left on the disk mounted at .* while writing .*train\.frames\.npy"):
        split_arrays.split_array("frames", "train", names, root / "frames", None, arrays)
    assert not [p for p in arrays.iterdir() if p.name.startswith(".")]  # no temp file left


def test_disk_full_while_writing_frames_names_disk_and_file(synthetic_subset, tmp_path, monkeypatch):
    import dfd_utils.frames as frames

    records, _ = load_subset(synthetic_subset)
    monkeypatch.setattr(frames.cv2, "imwrite", lambda *a, **k: False)  # what OpenCV says on ENOSPC
    monkeypatch.setattr(frames, "free_bytes", lambda path: 0)
    out = tmp_path / "frames" / video_stem(records[0].name)
    with pytest.raises(OSError, match=r"no space left on the disk mounted at .* while writing .*00\.jpg") as err:
        extract_video(records[0].path, out, CFG)
    assert err.value.errno == errno.ENOSPC
    assert not list((tmp_path / "frames").iterdir())  # no temp folder left


def test_predict_jsonl_prints_each_clip_as_a_line_then_the_summary(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / "baseline.pt")
    clip_a, clip_b = write_clip(tmp_path / "a.mp4"), write_clip(tmp_path / "b.mp4")
    code, out, _ = run(capsys, "predict", clip_a, clip_b, "--checkpoint", ckpt, "--jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 3
    assert [line["path"] for line in lines[:2]] == [str(clip_a), str(clip_b)]
    assert lines[2]["model"] == "baseline" and "results" not in lines[2] and lines[2]["interrupted"] is False
    code, out, _ = run(capsys, "predict", clip_a, clip_b, "--checkpoint", ckpt, "--json")  # unchanged: one object
    assert [r["prob_fake"] for r in json.loads(out)["results"]] == [line["prob_fake"] for line in lines[:2]]
