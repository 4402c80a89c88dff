"""Memory-mapped split arrays: the values of the old decode path bit for bit, the same views, batches and training,
and never a stale or damaged array reused."""

import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from dfd_utils.datasets import load_split, make_view
from dfd_utils.features import feature_key, trunk_context, trunk_digest
from dfd_utils.flow import flow_path
from dfd_utils.models import build_model
from dfd_utils.train import TrainConfig, fit, split_digest

T, H, W, S = 4, 32, 48, 32


def frame_store(root, num_videos: int = 6, seed: int = 0):
    """A frame store as stage 02 and 03 leave it: JPEGs (2D and 3D), manifest.csv, and a flow .npy per video."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(num_videos):
        name = f"v{i}.mp4"
        folder = root / "frames" / f"v{i}"
        (folder / "3d").mkdir(parents=True)
        for t in range(T):
            cv2.imwrite(str(folder / f"{t:02d}.jpg"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
            cv2.imwrite(str(folder / "3d" / f"{t:02d}.jpg"), rng.integers(0, 255, (S, S, 3), dtype=np.uint8))
            rows.append({"video": name, "label": i % 2, "original": "" if i % 2 == 0 else f"v{i - 1}.mp4",
                         "position": t, "frame_index": t, "split": "train"})
        (root / "flow").mkdir(exist_ok=True)
        np.save(flow_path(root / "flow", name), rng.normal(0, 2, (T, 2, H, W)).astype(np.float16))
    pd.DataFrame(rows).to_csv(root / "frames" / "manifest.csv", index=False)
    return root


def both(root, **kwargs):
    """The split through the arrays and through the old decode path."""
    kwargs = {"flows": True, "three_d": True, **kwargs}
    return (load_split(root / "frames", "train", root / "flow", **kwargs),
            load_split(root / "frames", "train", root / "flow", arrays=None, **kwargs))


def test_arrays_hold_exactly_what_decoding_gives(tmp_path):
    mapped, decoded = both(frame_store(tmp_path))
    for key in ("frames", "flows", "frames3d"):
        a, b = getattr(mapped, key), getattr(decoded, key)
        assert a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()  # the same memory layout
        assert torch.equal(a, b), key
    assert mapped.frames.dtype == torch.uint8 and mapped.flows.dtype == torch.float16
    assert mapped.frames.shape == (6, T, 3, H, W) and mapped.frames3d.shape == (6, T, 3, S, S)
    assert set(mapped.arrays) == {"frames", "flows", "frames3d"} and not decoded.arrays
    assert split_digest(mapped) == split_digest(decoded)  # a training run's stamp does not move
    assert sorted(p.name for p in (tmp_path / "arrays").iterdir()) == [
        "train.flows.json", "train.flows.npy", "train.frames.json", "train.frames.npy", "train.frames3d.json",
        "train.frames3d.npy"]


@pytest.mark.parametrize("view,flow,three_d", [("frame", False, False), ("frame_flow", False, False),
                                                ("video", True, False), ("video", False, True)])
def test_views_and_batches_are_the_same(tmp_path, view, flow, three_d):
    mapped, decoded = both(frame_store(tmp_path))
    a, b = make_view(mapped, view, flow, three_d), make_view(decoded, view, flow, three_d)
    assert len(a) == len(b)
    indices = [5, 0, 3, len(a) - 1]
    for i in indices:
        for key, value in a[i].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b[i][key])), key
    ba, bb = a.batch(indices), b.batch(indices)
    assert list(ba) == list(bb)
    for key in ba:
        assert ba[key].dtype == bb[key].dtype and torch.equal(ba[key], bb[key]), key


def test_the_feature_key_is_the_same(tmp_path):
    mapped, decoded = both(frame_store(tmp_path), flows=False)
    torch.manual_seed(0)
    net = build_model("baseline", backbone="resnet18", hidden=8)
    context = trunk_context(net, trunk_digest(net))
    assert [feature_key(context, v) for v in mapped.frames] == [feature_key(context, v) for v in decoded.frames]


def test_training_on_arrays_ends_with_the_same_weights(tmp_path):
    mapped, decoded = both(frame_store(tmp_path), flows=False, three_d=False)
    cfg = TrainConfig(epochs=1, batch_frames=8, precision="fp32", channels_last=False, seed=0)
    weights = []
    for name, data in (("mapped", mapped), ("decoded", decoded)):
        torch.manual_seed(0)
        model = build_model("baseline", backbone="resnet18", hidden=8, dropout=0.0)
        fit(model, data, replace(data), cfg, tmp_path / name)
        weights.append(model.state_dict())
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def test_a_second_load_reuses_the_arrays(tmp_path, caplog):
    root = frame_store(tmp_path)
    load_split(root / "frames", "train")
    array = tmp_path / "arrays" / "train.frames.npy"
    before = array.stat().st_mtime_ns
    caplog.set_level("INFO", "dfd_utils.split_arrays")
    again = load_split(root / "frames", "train")
    assert array.stat().st_mtime_ns == before and "written anew" not in caplog.text
    assert again.arrays["frames"] == str(array)


def test_a_changed_frame_rebuilds_the_array(tmp_path, caplog):
    root = frame_store(tmp_path)
    load_split(root / "frames", "train")
    image = root / "frames" / "v2" / "01.jpg"
    cv2.imwrite(str(image), np.full((H, W, 3), 7, np.uint8))
    with caplog.at_level("WARNING", "dfd_utils.split_arrays"):
        mapped = load_split(root / "frames", "train")
    assert "train.frames.npy: written anew: inputs changed (files " in caplog.text
    assert torch.equal(mapped.frames, load_split(root / "frames", "train", arrays=None).frames)


@pytest.mark.parametrize("damage,why", [
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "unreadable as an array"),
    (lambda p: p.write_bytes(p.read_bytes()[:-64] + bytes(64)), "its bytes differ"),
    (lambda p: p.write_bytes(b"garbage"), "unreadable as an array"),
    (lambda p: p.with_suffix(".json").write_text("{"), "its stamp is missing or unreadable"),
])
def test_a_damaged_array_is_written_anew(tmp_path, caplog, damage, why):
    root = frame_store(tmp_path)
    first = load_split(root / "frames", "train", root / "flow", flows=True)
    expected = first.flows.clone()
    del first
    damage(tmp_path / "arrays" / "train.flows.npy")
    with caplog.at_level("WARNING", "dfd_utils.split_arrays"):
        again = load_split(root / "frames", "train", root / "flow", flows=True)
    assert why in caplog.text and "train.flows.npy: written anew" in caplog.text
    assert torch.equal(again.flows, expected)


def test_writes_to_a_loaded_split_never_reach_the_file(tmp_path):
    root = frame_store(tmp_path)
    data = load_split(root / "frames", "train")
    original = data.frames[0, 0, 0, 0, 0].item()
    data.frames[0, 0, 0, 0, 0] += 1  # copy-on-write: this process only
    assert load_split(root / "frames", "train").frames[0, 0, 0, 0, 0].item() == original


def test_videos_of_another_shape_are_named(tmp_path):
    root = frame_store(tmp_path)
    for t in range(T):
        cv2.imwrite(str(root / "frames" / "v3" / f"{t:02d}.jpg"), np.zeros((H, W + 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"frames/v3: frames of shape .* a split's videos must share one shape"):
        load_split(root / "frames", "train")
    assert not (tmp_path / "arrays" / "train.frames.npy").exists()  # nothing half-written left under the name


def test_a_split_is_hashed_in_slices_to_the_same_digest(tmp_path, monkeypatch):
    """tensor_digest hashes a few videos at a time (a whole copy of mapped frames would hold the split in RAM), and
    gives the SHA-256 of the whole tensor's C-order bytes all the same."""
    import hashlib

    import dfd_utils.digest as digest_module

    def whole(*tensors):  # the definition: each tensor's shape, dtype and C-order bytes, in one piece
        h = hashlib.sha256()
        for t in tensors:
            if t is None:
                h.update(b"none")
                continue
            h.update(f"{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
        return h.hexdigest()

    monkeypatch.setattr(digest_module, "ROWS", 2)
    mapped, _ = both(frame_store(tmp_path, num_videos=5))
    cases = [(mapped.labels, mapped.frames, None, mapped.flows, mapped.frames3d), (torch.tensor(3.0),),
             (torch.zeros(0, 4),), (torch.zeros(3, 0),), (torch.arange(12.0).view(3, 4).t(),)]
    for tensors in cases:
        assert digest_module.tensor_digest(*tensors) == whole(*tensors)


def test_an_array_is_hashed_before_every_reuse_but_by_its_writer(tmp_path, monkeypatch, caplog):
    """The process that wrote an array trusts its stat; any later reuse hashes it (``dfd_utils.kept``): an edit with
    its size and mtime restored is written anew with a WARNING naming the file, and the arrays equal the first."""
    from dfd_utils import kept

    root = frame_store(tmp_path)
    first = load_split(root / "frames", "train").frames.clone()
    array = tmp_path / "arrays" / "train.frames.npy"
    hashed = []
    real = kept.sha256
    monkeypatch.setattr(kept, "sha256", lambda p: hashed.append(Path(p)) or real(p))
    load_split(root / "frames", "train")
    assert hashed == []  # written by this process, untouched since
    kept._WRITTEN.clear()  # a later run
    load_split(root / "frames", "train")
    assert hashed == [array]
    st = array.stat()
    data = bytearray(array.read_bytes())
    data[-1] ^= 0xFF  # one byte of the last frame, size and mtime restored
    array.write_bytes(bytes(data))
    os.utime(array, ns=(st.st_atime_ns, st.st_mtime_ns))
    kept._WRITTEN.clear()
    with caplog.at_level("WARNING", "dfd_utils.split_arrays"):
        again = load_split(root / "frames", "train").frames
    assert f"{array}: written anew: its bytes differ" in caplog.text
    assert torch.equal(again, first)
