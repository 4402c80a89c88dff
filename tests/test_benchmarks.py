"""The benchmarks stay runnable: each imports against the package as it is; the loop benchmark also runs, tiny."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_a_benchmark_imports(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # module level only: main() runs under `if __name__ == "__main__"`
    assert callable(getattr(module, "main", None))


def _load(name: str):
    path = BENCHMARKS[0].parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_loop_benchmark_runs_every_model_and_mode_and_writes_its_ratios(tmp_path, capsys):
    """Tiny shapes, one step per timing: the table and the JSON hold a ratio per model and trunk mode (no timings
    are checked: they mean nothing on a shared test machine)."""
    bench = _load("bench_loop")
    out = tmp_path / "loop.json"
    bench.main(["--backbone", "resnet18", "--videos", "4", "--frames", "4", "--height", "32", "--width", "48",
                "--size-3d", "32", "--batch-frames", "4", "--batch-videos", "2", "--steps", "1", "--repeats", "1",
                "--threads", "1", "--json", str(out)])
    table = capsys.readouterr().out
    assert "ratio" in table.splitlines()[1] and "CPU flags" in table.splitlines()[0]
    results = json.loads(out.read_text())
    assert set(results["results"]) == {"baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d"}
    for name, modes in results["results"].items():
        assert set(modes) == {"finetune", "frozen"}
        for row in modes.values():
            assert row["ratio"] > 0 and row["model"] > 0 and row["loop"] > 0
            assert row["batch"] == (4 if name in ("baseline", "two_stream_frame") else 2)
    assert "cpu_flags" in results["meta"]
