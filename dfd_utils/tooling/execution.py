"""How long each chapter ran, and on what: the facts behind the book's *Execution statistics* page.

A wall time means little without the machine that produced it: the same demo run takes
twice as long on a CPU without bf16 units, or with half the cores. So the run records
its own machine, at run time, in the executed notebook (``metadata["dfd"]["run"]``,
written by :func:`record` from ``dfd_utils.pipeline``), and the book reads the times
back from papermill's own metadata (``metadata["papermill"]``: start, end, duration),
never from a clock of ours or from numbers typed into a page. A stage DVC did not rerun
keeps the time and machine of the run that made it, which is what the page then shows.

* :func:`cpu_facts` parses ``/proc/cpuinfo`` (or a text given to it, as the tests do);
* :func:`machine_facts` adds cores, torch's threads and versions, the device, and the
  precision the training asks for and actually gets (bf16 falls back to fp32 on a CPU
  without AVX512-BF16 or AMX: :func:`dfd_utils.precision.cpu_has_bf16`);
* :func:`stage_times` reads the executed notebooks; :func:`statistics_page` writes the page.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The x86 flags that decide how fast (and in what precision) torch trains on a CPU, as the page names them.
FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX"}
RUN_KEY = ("dfd", "run")  # where a run's facts live in an executed notebook's metadata


def cpu_facts(cpuinfo: str | None = None) -> dict:
    """The CPU's model name and which of :data:`FLAGS` it reports.

    ``cpuinfo`` is the text of ``/proc/cpuinfo`` (read when None). ``flags`` is None where
    no flags line exists (not Linux, or not x86: nothing to report, rather than "none present").
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())  # the first processor's
    model = fields.get("model name") or platform.processor() or platform.machine() or "unknown"
    flags = fields.get("flags")
    present = None if flags is None else [f for f in FLAGS if f in set(flags.split())]
    return {"cpu": model, "flags": present}


def precision_used(requested: str, device: str, cpu_bf16: bool) -> str:
    """The precision training runs in, as ``dfd_utils.precision.autocast`` decides it."""
    if requested == "bf16" and device == "cpu" and not cpu_bf16:
        return "fp32"  # no native bf16 units: autocast runs fp32 (emulated bf16 would be slower)
    if requested == "fp16" and device != "cuda":
        return "none (fp16 needs CUDA)"  # the training stops with an error
    return requested


def machine_facts(params: dict | None = None, model_name: str | None = None, cpuinfo: str | None = None) -> dict:
    """What runs a stage: CPU, flags, cores, torch's threads, versions, device and precision.

    ``params`` is the run's parameters (``params.yaml`` or a profile): the device and
    ``train.precision``, with ``models.<model_name>``'s override on top for a detector stage.
    Imports torch and ``dfd_utils.precision`` (about 2 s, once per stage, outside papermill's clock).
    """
    import torch

    from dfd_utils.precision import cpu_has_bf16, resolve_device

    params = params or {}
    requested_device = str(params.get("device", "cpu"))
    try:
        device = resolve_device(requested_device)
    except RuntimeError:  # cuda asked for, none here: the stage will say so; record what was asked
        device = torch.device(requested_device)
    train = {**(params.get("train") or {}), **((params.get("models") or {}).get(model_name) or {})}
    requested = str(train.get("precision", "fp32"))
    bf16 = cpu_has_bf16()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = None
    return {
        **cpu_facts(cpuinfo),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),  # the kernels torch chose: DEFAULT, AVX2, AVX512
        "onednn_isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA") or None,  # the stages' cap (dfd_utils.kernels)
        "mkl_cbwr": os.environ.get("MKL_CBWR") or None,  # MKL's reproducible code path (dfd_utils.kernels)
        "opencv_cpu_disable": os.environ.get("OPENCV_CPU_DISABLE") or None,  # OpenCV's dispatch left out (idem)
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device.type,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" and torch.cuda.is_available() else None,
        "cpu_bf16": bf16,
        "precision_requested": requested,
        "precision_used": precision_used(requested, device.type, bf16),
    }


def record(executed: str | os.PathLike, facts: dict) -> None:
    """Write ``facts`` into an executed notebook's metadata (``metadata["dfd"]["run"]``)."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata.setdefault(RUN_KEY[0], {})[RUN_KEY[1]] = facts
    nbformat.write(nb, str(executed))


@dataclass(frozen=True)
class StageRun:
    """One executed notebook's run: papermill's times (None where it recorded none) and our machine facts."""

    name: str  # the executed copy's name (a chapter of ``dfd_utils.pipeline.chapters``)
    start: datetime | None  # UTC
    seconds: float | None  # papermill's duration: kernel start to the last cell's end
    failed: bool  # papermill recorded an exception
    facts: dict | None  # None: executed before the pipeline recorded facts, or outside it

    @property
    def timed(self) -> bool:
        return self.seconds is not None


def _utc(text) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_run(path: str | os.PathLike, name: str | None = None) -> StageRun:
    """One executed notebook's :class:`StageRun`; a notebook papermill never ran has no times (not zero)."""
    path = Path(path)
    meta = json.loads(path.read_text()).get("metadata", {})
    pm = meta.get("papermill") or {}
    start, end = _utc(pm.get("start_time")), _utc(pm.get("end_time"))
    seconds = pm.get("duration")
    if seconds is None and start and end:  # papermill's clock still, from its own timestamps
        seconds = (end - start).total_seconds()
    facts = (meta.get(RUN_KEY[0]) or {}).get(RUN_KEY[1])
    return StageRun(name or path.stem, start, None if seconds is None else float(seconds),
                    bool(pm.get("exception")), facts)


def stage_times(executed_dir: str | os.PathLike, names: list[str] | None = None) -> list[StageRun]:
    """The runs of ``executed_dir/<name>.ipynb`` in the order of ``names`` (default: every notebook, sorted)."""
    executed_dir = Path(executed_dir)
    names = names if names is not None else sorted(p.stem for p in executed_dir.glob("*.ipynb"))
    return [read_run(executed_dir / f"{name}.ipynb", name) for name in names]


def minutes(seconds: float) -> str:
    """``754.4`` -> ``"12:34"`` (min:s, whole seconds; minutes past 59 stay minutes)."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


FACT_NAMES = {  # a fact's key -> how the page names it when machines differ
    "cpu": "CPU", "flags": "CPU flags", "logical_cores": "cores", "usable_cores": "usable cores",
    "torch_threads": "torch threads", "torch": "torch version", "python": "Python version", "device": "device",
    "gpu": "GPU", "cpu_bf16": "native bf16", "precision_requested": "precision requested",
    "precision_used": "precision used", "cpu_kernels": "torch CPU kernels", "onednn_isa_cap": "oneDNN ISA cap",
    "mkl_cbwr": "MKL code path", "opencv_cpu_disable": "OpenCV dispatch disabled",
}


def _facts_rows(facts: dict) -> list[tuple[str, str]]:
    flags = facts.get("flags")
    rows = [("CPU", facts.get("cpu", "unknown"))]
    for flag, label in FLAGS.items():
        rows.append((label, "not reported" if flags is None else ("yes" if flag in flags else "no")))
    cores = f"{facts.get('logical_cores')} logical"
    if facts.get("usable_cores") not in (None, facts.get("logical_cores")):
        cores += f", {facts['usable_cores']} usable by the run"
    kernels = str(facts.get("cpu_kernels", "not recorded"))
    if facts.get("onednn_isa_cap"):
        kernels += f", oneDNN capped at {facts['onednn_isa_cap']}"
    if facts.get("mkl_cbwr"):
        kernels += f", MKL's {facts['mkl_cbwr']} path"
    rows += [("Cores", cores), ("Torch threads", str(facts.get("torch_threads"))), ("Torch CPU kernels", kernels),
             ("Device", facts.get("device", "cpu") + (f" ({facts['gpu']})" if facts.get("gpu") else ""))]
    requested, used = facts.get("precision_requested"), facts.get("precision_used")
    precision = f"{requested} requested, {used} used"
    if requested == "bf16" and used == "fp32":
        precision += " (no AVX512-BF16 or AMX units: bf16 falls back to fp32)"
    rows += [("Precision", precision), ("torch", str(facts.get("torch"))), ("Python", str(facts.get("python")))]
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header)] + [line(r) for r in rows]


def statistics_page(runs: list[StageRun], link: bool = True) -> str:
    """The page (MyST Markdown): one row per run, the total, and the machine facts each run recorded.

    ``link`` names each chapter by a ``{doc}`` reference to its page in the book (its title);
    without it, by the executed notebook's name.
    """
    machines: dict[str, str] = {}  # facts (as JSON) -> A, B, ...
    for run in runs:
        if run.facts is not None:
            machines.setdefault(json.dumps(run.facts, sort_keys=True), chr(ord("A") + len(machines)))
    recorded = [r for r in runs if r.facts is not None]
    per_row = len(machines) > 1 or bool(machines) and len(recorded) < len(runs)

    lines = ["# Execution statistics", "",
             "How long each chapter took to run, and on what machine. This page is generated when the book is "
             "built, from the executed notebooks it publishes: the times are papermill's (from the kernel's "
             "start to the last cell's end), the machine facts were recorded by the run itself "
             "(`dfd_utils.pipeline`). A stage that DVC did not rerun keeps the time and machine of the run "
             "that made it.", ""]
    header = ["Chapter", "Started (UTC)", "Wall time (min:s)"] + (["Machine"] if per_row else [])
    rows = []
    for run in runs:
        name = f"{{doc}}`notebooks/{run.name}`" if link else f"`{run.name}`"
        started = run.start.strftime("%Y-%m-%d %H:%M:%S") if run.start else "not recorded"
        wall = minutes(run.seconds) if run.timed else "not recorded"
        if run.failed:
            wall += " (stopped with an error)"
        row = [name, started, wall]
        if per_row:
            row.append(machines[json.dumps(run.facts, sort_keys=True)] if run.facts is not None else "not recorded")
        rows.append(row)
    timed = [r for r in runs if r.timed]
    total = minutes(sum(r.seconds for r in timed)) if timed else "not recorded"
    if timed and len(timed) < len(runs):
        total += f" ({len(timed)} of {len(runs)} chapters timed)"
    rows.append(["**Total**", "", f"**{total}**"] + ([""] if per_row else []))
    lines += _table(header, rows) + [""]
    untimed = [r.name for r in runs if not r.timed]
    if untimed:
        listed = ", ".join(f"`{n}`" for n in untimed)
        lines += [f"Not timed (no papermill metadata: executed outside the pipeline): {listed}.", ""]

    if not machines:
        lines += ["## Machine", "", "No machine facts were recorded: these notebooks were executed before "
                  "the pipeline recorded them, or outside it.", ""]
        return "\n".join(lines)
    if len(machines) > 1:
        differ = [FACT_NAMES.get(k, k) for k in FACT_NAMES
                  if len({json.dumps(r.facts.get(k), sort_keys=True) for r in recorded}) > 1]
        lines += [f"The chapters did not all run on the same machine with the same settings: they ran on "
                  f"{len(machines)}, which differ in {', '.join(differ)}. The Machine column says which ran each.",
                  ""]
    elif per_row:
        lines += ["Some chapters recorded no machine facts (executed before the pipeline recorded them, or "
                  "outside it): the Machine column says which.", ""]
    for key, label in machines.items():
        lines += [f"## Machine {label}" if per_row else "## Machine", ""]
        lines += _table(["Fact", "Value"], [list(row) for row in _facts_rows(json.loads(key))]) + [""]
    return "\n".join(lines)


def write_page(notebooks: str | os.PathLike, names: list[str], target: str | os.PathLike) -> Path:
    """:func:`statistics_page` of the notebooks ``notebooks/<name>.ipynb``, written to ``target``."""
    target = Path(target)
    target.write_text(statistics_page(stage_times(notebooks, names)))
    return target
