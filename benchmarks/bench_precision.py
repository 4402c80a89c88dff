"""Is bf16 + channels_last as good as fp32? Train the baseline both ways on the study's frames.

Same seed, same data, same epochs; reports each run's training throughput and its
best validation ROC AUC, so the speed-up is judged together with what it costs in
accuracy. Needs the frames and flows of a `dvc repro` (artifacts/).

    python benchmarks/bench_precision.py [--model baseline] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import yaml

from dfd_utils import config
from dfd_utils.models import build_model
from dfd_utils.paths import Paths
from dfd_utils.stages.detector import load_inputs, model_config
from dfd_utils.train import fit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="baseline")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    params = yaml.safe_load(open("params.yaml"))
    study = config.parse(params)  # checked, typed
    paths = Paths.at(".")
    rows = {}
    for label, precision, channels_last in (("fp32", "fp32", False), ("bf16+channels_last", "bf16", True)):
        train = {**config.merged_train(params["train"], params.get("models"), args.model), "epochs": args.epochs,
                 "patience": args.epochs, "precision": precision, "channels_last": channels_last}
        cfg, settings = config.train_settings(train, "train", study.seed, "cpu")
        torch.manual_seed(study.seed)
        mcfg = model_config(args.model, settings, study.frames)
        model = build_model(args.model, **mcfg)
        train_data, val_data = load_inputs(paths, model, "train"), load_inputs(paths, model, "val")
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            out = fit(model, train_data, val_data, cfg, run_dir, model_settings=mcfg)
            seconds = time.perf_counter() - start
        best = max(h["val_auc"] for h in out["history"])
        rows[label] = (seconds, best)
        print(f"{label:20s} {seconds:7.1f} s for {args.epochs} epochs   best validation ROC AUC {best:.3f}", flush=True)
    (t32, auc32), (t16, auc16) = rows.values()
    print(f"speed-up {t32 / t16:.2f}x; validation AUC {auc16:.3f} (bf16) vs {auc32:.3f} (fp32)")


if __name__ == "__main__":
    main()
