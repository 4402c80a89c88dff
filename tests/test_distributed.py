"""DDP under torchrun on CPUs (gloo): the global batch of one process, the final weights of one process within a
stated tolerance, rank 0 alone writing, and a batch that does not split evenly refused before any process starts."""

from dataclasses import replace

import pytest
import torch
from test_features import clips
from torch.utils.data import DistributedSampler

from dfd_utils.config import ConfigError, train_settings
from dfd_utils.distributed import launch
from dfd_utils.models import build_model
from dfd_utils.train import TrainConfig

CFG = TrainConfig(epochs=3, patience=10, batch_frames=8, batch_videos=2, precision="fp32", channels_last=False,
                  lr=3e-3, seed=0, trunk="frozen", nproc=2)
# Two ranks against one over the same sampler order: the same global batches, gradients averaged in another order
# (float sums), so the weights agree to float32 rounding, grown a little by 9 Adam steps.
TOLERANCE = 1e-6  # measured: 7.5e-9 (2 ranks, gloo, 2-core x86 CPU, torch 2.14)


def model():
    torch.manual_seed(0)
    return build_model("baseline", backbone="resnet18", hidden=16, dropout=0.0)


MCFG = {"backbone": "resnet18", "hidden": 16, "dropout": 0.0}


def test_the_ranks_share_out_the_global_batch_of_one_process():
    """Rank r takes positions r, r + N, ... of the epoch's order: per step, the ranks' shares of B / N items are
    exactly the B items one process takes."""
    items, batch, world = list(range(24)), 8, 2
    for epoch in range(3):
        one = DistributedSampler(items, num_replicas=1, rank=0, shuffle=True, seed=5)
        one.set_epoch(epoch)
        order = list(one)
        shares = []
        for rank in range(world):
            sampler = DistributedSampler(items, num_replicas=world, rank=rank, shuffle=True, seed=5)
            sampler.set_epoch(epoch)
            mine = list(sampler)
            shares.append([mine[i:i + batch // world] for i in range(0, len(mine), batch // world)])
        for step, start in enumerate(range(0, len(order), batch)):
            assert sorted(shares[0][step] + shares[1][step]) == sorted(order[start:start + batch])


@pytest.mark.slow
def test_two_ranks_end_with_the_weights_of_one(tmp_path):
    train, val = clips(6, 0), clips(4, 1)  # 24 frames: 3 global batches of 8, 4 per rank
    runs = {}
    for nproc in (1, 2):
        net = model()
        out = launch(net, "baseline", train, val, replace(CFG, nproc=nproc), tmp_path / f"n{nproc}", MCFG,
                     live_dir=tmp_path / f"live{nproc}", nproc=nproc)
        last = torch.load(tmp_path / f"n{nproc}" / "last.pt", weights_only=True)
        runs[nproc] = (out, last["model"])
        assert [h["epoch"] for h in out["history"]] == [1, 2, 3]
        assert not (tmp_path / f"n{nproc}" / "ddp_job.pt").exists()
        assert (tmp_path / f"live{nproc}" / "plots" / "metrics" / "val_auc.tsv").is_file()  # rank 0's DVCLive
    (one, w1), (two, w2) = runs[1], runs[2]
    differences = {k: (w1[k].float() - w2[k].float()).abs().max().item() for k in w1}
    print(f"max |w1 - w2| = {max(differences.values()):.3g} over {len(w1)} tensors")
    assert max(differences.values()) <= TOLERANCE, differences
    trunk = [k for k in w1 if k.startswith("cnn.")]
    assert all(differences[k] == 0 for k in trunk)  # the frozen trunk never moved on any rank
    assert any(not torch.equal(w1[k], model().state_dict()[k]) for k in w1 if k.startswith("head."))  # it learned
    for a, b in zip(one["history"], two["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["val_auc"] == pytest.approx(b["val_auc"], abs=1e-6)


@pytest.mark.slow
def test_a_finished_distributed_run_is_read_back_not_trained_again(tmp_path):
    train, val = clips(4, 0), clips(4, 1)
    cfg = replace(CFG, epochs=1)
    first = launch(model(), "baseline", train, val, cfg, tmp_path, MCFG)
    stamp = (tmp_path / "last.pt").stat().st_mtime_ns
    again = launch(model(), "baseline", train, val, cfg, tmp_path, MCFG)
    assert again["history"] == first["history"] and (tmp_path / "last.pt").stat().st_mtime_ns == stamp


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ConfigError, match="train.batch_frames 16 is not divisible by nproc 3"):
        train_settings({"nproc": 3})
    with pytest.raises(ConfigError, match="train.nproc must be"):
        train_settings({"nproc": 0})
    assert train_settings({"nproc": 2})[0].nproc == 2 and train_settings({})[0].nproc == 1
    with pytest.raises(ValueError, match="train.batch_frames 8 is not divisible by train.nproc 3"):
        launch(model(), "baseline", clips(4), clips(4), replace(CFG, nproc=1), "unused", MCFG, nproc=3)


def test_the_stage_launches_torchrun_only_for_several_processes(tmp_path, monkeypatch):
    import dfd_utils.stages.detector as stage

    calls = []
    monkeypatch.setattr(stage, "launch", lambda *a, **k: calls.append("torchrun") or stage.fit(
        a[0], a[2], a[3], a[4], a[5], model_settings=a[6]))
    data = {"train": clips(4, 0), "val": clips(4, 1)}
    stage.train_seed("baseline", MCFG, replace(CFG, epochs=1), data, tmp_path / "a", None)
    assert calls == ["torchrun"]
    stage.train_seed("baseline", MCFG, replace(CFG, epochs=1, nproc=1), data, tmp_path / "b", None)
    assert calls == ["torchrun"]  # one process: fit in this process, as before
