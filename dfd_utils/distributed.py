"""Training one model on several processes with torchrun (DDP): the launcher a stage calls, and each rank's entry.

With ``train.nproc: N > 1`` the training stage (``stages.detector.train_seed``) calls
:func:`launch`, which writes the run's job (the model's settings and initial weights,
the splits, the loop's settings and the run's stamp) to ``<run>/ddp_job.pt`` and runs

    python -m torch.distributed.run --standalone --nproc_per_node N -m dfd_utils.distributed <run>/ddp_job.pt

as a subprocess, so a notebook cell runs once whatever the number of ranks; it then
reads back what rank 0 wrote (``best.pt``, ``last.pt``, DVCLive) as :func:`train.fit`
would have returned it. Several machines: ``DFD_TORCHRUN`` replaces ``--standalone``
with the rendezvous (``--nnodes M --node-rank 0 --rdzv-backend c10d --rdzv-endpoint
HOST:PORT``) on the machine that runs the stage, and each other machine runs the same
command on the same job file (a shared filesystem) with its own ``--node-rank``
(book/scale.md, "Scaling past one machine"); the per-rank batch is the global batch over all ranks.

Each rank (:func:`main`) joins the process group (gloo on CPUs, NCCL on GPUs, one per
rank, ``LOCAL_RANK``) and runs the one loop, ``train.fit``, as one rank of N
(``dfd_utils.ranks``: the sampler, the per-rank batch, rank 0 alone validating, keeping
checkpoints, logging and deciding whether a saved run resumes).

What keeps N ranks from matching one process bit for bit: the float sums of the
gradient run in another order; BatchNorm normalises each rank's share with its own
statistics (fine-tuned trunks; a frozen trunk's head has none); dropout draws per rank;
a split whose size is not a multiple of N is padded by the sampler with its first items;
and the whole-video loss's soft F1 is computed per share, not over the global batch.
The sampler's order (``randperm`` seeded ``seed + epoch``) is not the one-process loop's
(one generator over all epochs): :func:`launch` with ``nproc=1`` runs the rank path on one
rank, the reference ``tests/test_distributed.py`` compares N ranks against.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist

from dfd_utils.config.training import TrainConfig
from dfd_utils.datasets import SplitData
from dfd_utils.features import features_fit, with_features
from dfd_utils.losses import class_weights
from dfd_utils.models import Detector, build_model
from dfd_utils.precision import prepare, resolve_device
from dfd_utils.ranks import per_rank_batch
from dfd_utils.resume import save_atomic
from dfd_utils.split_arrays import open_array
from dfd_utils.train import fit, run_stamp

log = logging.getLogger(__name__)

TENSORS = ("frames", "flows", "frames3d")  # SplitData fields a job carries by value or by array path


def _split_payload(data: SplitData, needed: set[str]) -> dict:
    """``data`` as plain values for the job: memory-mapped fields by their array's path, the others by value."""
    payload = {"videos": data.videos, "families": data.families, "labels": data.labels, "features": data.features,
               "features_of": data.features_of}
    for key in TENSORS:
        tensor = getattr(data, key)
        if key not in needed or tensor is None:
            payload[key] = None
        elif key in data.arrays:
            payload[key] = {"array": data.arrays[key]}
        else:
            payload[key] = tensor
    return payload


def _split_from(payload: dict) -> SplitData:
    fields = {key: open_array(v["array"], key) if isinstance(v, dict) else v
              for key, v in payload.items() if key in TENSORS}
    return SplitData(videos=payload["videos"], families=payload["families"], labels=payload["labels"],
                     features=payload["features"], features_of=payload["features_of"], **fields)


def launch(model: Detector, name: str, train: SplitData, val: SplitData, cfg: TrainConfig, run_dir: str | Path,
           model_settings: dict, live_dir: str | Path | None = None, nproc: int | None = None) -> dict:
    """:func:`train.fit` on ``nproc`` (default ``cfg.nproc``) processes under torchrun; returns what ``fit`` returns.

    ``name`` and ``model_settings``: what builds the model (``build_model(name, **model_settings)``);
    its current weights are the ranks' initial weights. Resumes, or starts over, as ``fit`` does
    (rank 0 decides, with the stamp made here from the splits as given).
    """
    nproc = nproc or cfg.nproc
    per_rank_batch(cfg, model.level, nproc)  # refused here, before any process starts
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    made_by = run_stamp(model, train, val, cfg, device, model_settings)
    model = prepare(model, device, cfg.channels_last)
    if cfg.trunk == "frozen":  # the trunk's features once, here; the ranks train what comes after it
        train, val = (d if features_fit(model, d) else with_features(model, d) for d in (train, val))
    needed = {"frames3d" if model.three_d else "frames", *(["flows"] if model.uses_flow else [])}  # frozen too:
    # the views count frames on them; mapped splits travel as their arrays' paths, at no cost
    job = {"name": name, "build": {**model_settings, "weights": "none", "weights_fallback": False},
           "initial": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "cfg": asdict(cfg),
           "made_by": made_by, "run_dir": str(run_dir), "nproc": nproc,
           "live_dir": str(live_dir) if live_dir is not None else "",
           "train": _split_payload(train, needed), "val": _split_payload(val, needed)}
    job_path = run_dir / "ddp_job.pt"
    save_atomic(job, job_path, sealed=False)
    rendezvous = shlex.split(os.environ.get("DFD_TORCHRUN", "--standalone"))  # several machines: see book/scale.md
    cmd = [sys.executable, "-m", "torch.distributed.run", *rendezvous, "--nproc_per_node", str(nproc),
           "-m", "dfd_utils.distributed", str(job_path)]
    log.info("training on %d processes: %s", nproc, " ".join(cmd))
    try:
        done = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": _pythonpath()})
    finally:
        job_path.unlink(missing_ok=True)
    if done.returncode:
        raise RuntimeError(f"{run_dir}: torchrun with {nproc} processes failed (exit code {done.returncode}); "
                           "the ranks' errors are printed above")
    state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)["state"]
    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    weights = class_weights(train.labels) if cfg.class_weighting else None
    return {"history": state["history"], "best_epoch": state["best_epoch"], "class_weights": weights,
            "made_by": made_by}


def _pythonpath() -> str:
    """This checkout first, so the ranks import the ``dfd_utils`` the caller runs (not another installed copy)."""
    here = str(Path(__file__).resolve().parent.parent)
    return os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH", "")])])


def main(job_path: str) -> None:
    """One rank of a torchrun job written by :func:`launch`: join the group, then ``train.fit`` as one rank of N."""
    job = torch.load(job_path, map_location="cpu", weights_only=True, mmap=True)  # tensors mapped, read on use
    cfg = TrainConfig(**job["cfg"])
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(torch.device("cuda", int(os.environ["LOCAL_RANK"])))  # one GPU per rank
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        model = build_model(job["name"], **job["build"])
        model.load_state_dict(job["initial"])
        fit(model, _split_from(job["train"]), _split_from(job["val"]), cfg, job["run_dir"],
            live=_live(job["live_dir"]), made_by=job["made_by"], distributed=True)
    finally:
        dist.destroy_process_group()


def _live(folder: str):
    """Rank 0's DVCLive logger factory (``fit`` calls it on rank 0 alone), continuing a resumed run's curves."""
    if not folder:
        return None

    def make(resume: bool):
        from dvclive import Live

        return Live(folder, resume=resume, save_dvc_exp=False, dvcyaml=None, report=None)

    return make


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv[1])
