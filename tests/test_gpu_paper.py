"""benchmarks/gpu_paper.py's CPU-runnable parts: it refuses without CUDA, --prepare makes the paper profile's
data in DFDC's format, and --dry-run runs every code path but CUDA's (timings, the table, the JSON, the kill
and resume in child processes). The GPU numbers themselves need a GPU: none has run it yet."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_paper.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_paper", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="refusing needs a machine without CUDA")
def test_without_cuda_it_refuses_and_says_why(tmp_path, capsys):
    assert _module().main(["--workdir", str(tmp_path)]) == 2
    assert "no CUDA device here" in capsys.readouterr().err


def test_without_prepared_data_it_says_what_to_run(tmp_path, capsys):
    assert _module().main(["--workdir", str(tmp_path / "none"), "--dry-run"]) == 2
    assert "no prepared data; run gpu_paper.py --prepare" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_then_dry_run_times_resumes_and_writes_json(tmp_path, capsys):
    bench = _module()
    work = tmp_path / "work"
    assert bench.main(["--prepare", "--workdir", str(work), "--clips", "8", "--workers", "2"]) == 0
    subset = json.loads((work / "study/artifacts/subset/metadata.json").read_text())
    assert len(subset) == 8  # selected by the dfdc source from dfdc_train_part_0
    assert (work / "dfdc/dfdc_train_part_0/metadata.json").is_file()
    out = tmp_path / "r.json"
    assert bench.main(["--workdir", str(work), "--dry-run", "--models", "baseline", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "s/epoch" in table and "resume (baseline" in table
    results = json.loads(out.read_text())
    row = results["models"]["baseline"]
    assert row["batch"] == 16 and len(row["seconds_per_epoch"]) == 1 and row["peak_gpu_mib"] is None
    assert set(row["step_seconds"]) == {"fp32", "bf16"}
    resume = results["resume"]
    assert resume["saved_epoch_at_kill"] == 1  # killed before epoch 2 was saved
    assert resume["resumed_vs_uninterrupted"]["identical"], resume  # on the CPU, bit for bit
    assert resume["control_uninterrupted_twice"]["identical"]
