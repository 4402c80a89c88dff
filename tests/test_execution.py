"""The execution statistics: machine facts, stage times read from executed notebooks, and the book's page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dfd_utils.tooling import execution
from dfd_utils.tooling.execution import cpu_facts, machine_facts, precision_used, stage_times, statistics_page

# Two machines' /proc/cpuinfo, cut by hand to what matters (two processors each; the first one counts).
AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c avx2 bmi2 fma
bogomips\t: 4500.00

processor\t: 1
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c avx2 bmi2 fma
"""
AVX512_BF16 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""


def test_cpu_facts_from_an_avx2_only_cpuinfo():
    assert cpu_facts(AVX2_ONLY) == {"cpu": "AMD EPYC 7B12", "flags": ["avx2"]}


def test_cpu_facts_from_an_avx512_bf16_cpuinfo():
    assert cpu_facts(AVX512_BF16) == {"cpu": "Intel(R) Xeon(R) Platinum 8480+",
                                      "flags": ["avx2", "avx512f", "avx512_bf16", "amx_bf16"]}


def test_a_cpuinfo_without_flags_reports_none_rather_than_no_flags():
    facts = cpu_facts("processor\t: 0\nmodel name\t: Some CPU\n")
    assert facts == {"cpu": "Some CPU", "flags": None}


def test_bf16_falls_back_to_fp32_on_a_cpu_without_bf16_units():
    assert precision_used("bf16", "cpu", cpu_bf16=False) == "fp32"
    assert precision_used("bf16", "cpu", cpu_bf16=True) == "bf16"
    assert precision_used("bf16", "cuda", cpu_bf16=False) == "bf16"
    assert precision_used("fp32", "cpu", cpu_bf16=True) == "fp32"
    assert precision_used("fp16", "cpu", cpu_bf16=True).startswith("none")


def test_machine_facts_of_this_run(monkeypatch):
    from dfd_utils import precision

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    params = {"device": "cpu", "train": {"precision": "fp32"}, "models": {"cnn3d": {"precision": "bf16"}}}
    facts = machine_facts(params, "cnn3d", cpuinfo=AVX2_ONLY)
    assert facts["cpu"] == "AMD EPYC 7B12" and facts["flags"] == ["avx2"]
    assert facts["precision_requested"] == "bf16" and facts["precision_used"] == "fp32"  # the model's override
    assert machine_facts(params, "baseline", cpuinfo=AVX2_ONLY)["precision_requested"] == "fp32"
    assert facts["device"] == "cpu" and facts["gpu"] is None
    assert facts["torch_threads"] >= 1 and facts["logical_cores"] >= 1 and facts["torch"] and facts["python"]
    json.dumps(facts)  # it goes into the notebook's metadata


FACTS_A = {"cpu": "AMD EPYC 7B12", "flags": ["avx2"], "logical_cores": 4, "usable_cores": 2, "torch_threads": 2,
           "torch": "2.14.1", "python": "3.11.7", "device": "cpu", "gpu": None, "cpu_bf16": False,
           "precision_requested": "bf16", "precision_used": "fp32"}
FACTS_B = {**FACTS_A, "cpu": "Intel(R) Xeon(R) Platinum 8480+", "flags": ["avx2", "avx512f", "avx512_bf16", "amx_bf16"],
           "cpu_bf16": True, "precision_used": "bf16"}


def executed(folder, name, start=None, seconds=None, facts=None, papermill=True, exception=None):
    """An executed notebook as papermill and the pipeline leave it, its metadata written by hand."""
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if papermill:
        end = None if start is None else datetime.fromtimestamp(datetime.fromisoformat(start).timestamp() + seconds,
                                                                 UTC).isoformat()
        meta["papermill"] = {"start_time": start, "end_time": end, "duration": seconds, "exception": exception,
                             "parameters": {}}
    if facts is not None:
        meta["dfd"] = {"run": facts}
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": meta,
          "cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": f"# {name}"}]}
    (folder / f"{name}.ipynb").write_text(json.dumps(nb))


def test_stage_times_are_papermills_durations_and_their_sum(tmp_path):
    executed(tmp_path, "01_a", "2026-03-01T10:00:00.000000+00:00", 75.25, FACTS_A)
    executed(tmp_path, "02_b", "2026-03-01T10:01:20.000000+00:00", 3600.5, FACTS_A)
    runs = stage_times(tmp_path, ["01_a", "02_b"])
    assert [r.name for r in runs] == ["01_a", "02_b"]
    assert [r.seconds for r in runs] == [75.25, 3600.5]
    assert runs[0].start == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    page = statistics_page(runs)
    assert "| {doc}`notebooks/01_a` | 2026-03-01 10:00:00 | 1:15 |" in page
    assert "| {doc}`notebooks/02_b` | 2026-03-01 10:01:20 | 60:00 |" in page  # 3600.5 s: min:s, whole seconds
    assert "| **Total** |  | **61:16** |" in page  # 3675.75 s
    assert "Machine" in page and "AMD EPYC 7B12" in page and "Machine A" not in page  # one machine: no column


def test_a_duration_missing_is_taken_from_papermills_start_and_end(tmp_path):
    executed(tmp_path, "01_a", "2026-03-01T10:00:00+00:00", 42.0)
    nb = json.loads((tmp_path / "01_a.ipynb").read_text())
    nb["metadata"]["papermill"]["duration"] = None
    (tmp_path / "01_a.ipynb").write_text(json.dumps(nb))
    assert stage_times(tmp_path)[0].seconds == 42.0


def test_the_page_lists_every_stage_and_the_flags(tmp_path):
    names = ["01_download_subset", "04_baseline__baseline", "08_compare_models"]
    for i, name in enumerate(names):
        executed(tmp_path, name, f"2026-03-01T10:0{i}:00+00:00", 10.0 * (i + 1), FACTS_A)
    page = statistics_page(stage_times(tmp_path, names))
    for name in names:
        assert f"{{doc}}`notebooks/{name}`" in page
    assert "| **Total** |  | **1:00** |" in page
    for label, present in (("AVX2", "yes"), ("AVX-512", "no"), ("AVX512-BF16", "no"), ("AMX", "no")):
        assert f"| {label} | {present} |" in page
    assert "| Cores | 4 logical, 2 usable by the run |" in page and "| Torch threads | 2 |" in page
    assert "bf16 requested, fp32 used (no AVX512-BF16 or AMX units" in page
    assert "| torch | 2.14.1 |" in page
    assert "/tmp" not in page and str(tmp_path) not in page


def test_stages_on_different_machines_say_so_per_row(tmp_path):
    executed(tmp_path, "01_a", "2026-03-01T10:00:00+00:00", 5.0, FACTS_A)
    executed(tmp_path, "02_b", "2026-03-02T10:00:00+00:00", 6.0, FACTS_B)
    executed(tmp_path, "03_c", "2026-03-02T10:01:00+00:00", 7.0)  # executed before facts were recorded
    page = statistics_page(stage_times(tmp_path, ["01_a", "02_b", "03_c"]))
    assert "| {doc}`notebooks/01_a` | 2026-03-01 10:00:00 | 0:05 | A |" in page
    assert "| {doc}`notebooks/02_b` | 2026-03-02 10:00:00 | 0:06 | B |" in page
    assert "| {doc}`notebooks/03_c` | 2026-03-02 10:01:00 | 0:07 | not recorded |" in page
    assert "differ in CPU, CPU flags, native bf16, precision used" in page
    assert "## Machine A" in page and "## Machine B" in page
    assert "| AMX | yes |" in page and "| AMX | no |" in page
    assert "bf16 requested, bf16 used" in page


def test_a_notebook_without_papermill_metadata_is_reported_not_zero(tmp_path):
    executed(tmp_path, "01_a", "2026-03-01T10:00:00+00:00", 30.0, FACTS_A)
    executed(tmp_path, "02_by_hand", papermill=False)
    runs = stage_times(tmp_path, ["01_a", "02_by_hand"])
    assert runs[1].seconds is None and runs[1].start is None and not runs[1].timed
    page = statistics_page(runs)
    assert "| {doc}`notebooks/02_by_hand` | not recorded | not recorded | not recorded |" in page
    assert "**0:30 (1 of 2 chapters timed)**" in page
    assert "Not timed (no papermill metadata" in page and "`02_by_hand`" in page


def test_no_facts_at_all_and_a_failed_stage(tmp_path):
    executed(tmp_path, "01_a", "2026-03-01T10:00:00+00:00", 3.0, exception=True)
    page = statistics_page(stage_times(tmp_path))
    assert "0:03 (stopped with an error)" in page and "No machine facts were recorded" in page


def test_the_pipeline_records_the_facts_in_the_executed_notebook(tmp_path, monkeypatch):
    """``pipeline.run`` writes ``metadata["dfd"]["run"]`` next to papermill's metadata (papermill faked here)."""
    import nbformat
    import papermill

    from dfd_utils import pipeline

    def fake_execute(source, out, **kwargs):
        nb = nbformat.read(source, as_version=4)
        nb.metadata["papermill"] = {"start_time": "2026-03-01T10:00:00+00:00", "duration": 1.5}
        nbformat.write(nb, out)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr(pipeline, "machine_facts", lambda params, model_name=None: {**FACTS_A, "model": model_name})
    out = pipeline.run("04_baseline", "profiles/smoke.yaml", str(tmp_path), {"model_name": "baseline"},
                       "04_baseline__baseline")
    meta = json.loads(out.read_text())["metadata"]
    assert meta["dfd"]["run"] == {**FACTS_A, "model": "baseline"} and meta["papermill"]["duration"] == 1.5
    assert stage_times(out.parent)[0].facts["cpu"] == "AMD EPYC 7B12"


def test_the_book_writes_the_page_it_lists_and_git_ignores_it():
    import yaml

    from dfd_utils.paths import project_root

    root = project_root()
    toc = yaml.safe_load((root / "book" / "_toc.yml").read_text())
    assert toc["parts"][-1]["chapters"][-1]["file"] == "execution"  # listed last
    assert "/book/execution.md" in (root / ".gitignore").read_text().splitlines()
    assert execution.__doc__ and execution.stage_times.__doc__


def test_the_page_names_the_kernels_torch_chose_and_a_cap_set_by_hand():
    from dfd_utils.tooling.execution import _facts_rows, machine_facts

    facts = machine_facts({"train": {"precision": "fp32"}})
    assert facts["cpu_kernels"] in ("DEFAULT", "AVX2", "AVX512", "VSX", "ZVECTOR", "SVE256", "NO AVX")
    rows = dict(_facts_rows({**facts, "cpu_kernels": "AVX2", "onednn_isa_cap": "AVX2", "mkl_cbwr": None}))
    assert rows["Torch CPU kernels"] == "AVX2, oneDNN capped at AVX2"
    capped = dict(_facts_rows({**facts, "cpu_kernels": "AVX2", "onednn_isa_cap": "AVX2", "mkl_cbwr": "AVX2"}))
    assert capped["Torch CPU kernels"] == "AVX2, oneDNN capped at AVX2, MKL's AVX2 path"  # dfd_utils.kernels
    uncapped = dict(_facts_rows({**facts, "cpu_kernels": "AVX512", "onednn_isa_cap": None, "mkl_cbwr": None}))
    assert uncapped["Torch CPU kernels"] == "AVX512"
