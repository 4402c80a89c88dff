"""A stage's notebook runs over Unix sockets, prints progress lines to a log, and leaves nothing behind."""

import io
import logging
import tempfile
from pathlib import Path

import nbformat
import pytest

from dfd_utils import notebook_run


def _notebook(folder: Path, cells: int = 4) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell("print(x * 2)") for _ in range(cells)]
    path = folder / "in.ipynb"
    nbformat.write(nb, path)
    return path


def test_progress_is_whole_lines_without_carriage_returns_or_repeats():
    stream = io.StringIO()
    lines = notebook_run._Lines(stream)
    for text in ("\rstage: 0/9 cells, 00:00", "\rstage: 3/9 cells, 00:15", "\rstage: 3/9 cells, 00:15", "\n",
                 "\rstage: 9/9 cells, 00:31"):
        lines.write(text)
    assert stream.getvalue() == "stage: 3/9 cells, 00:15\nstage: 9/9 cells, 00:31\n"


@pytest.mark.slow  # two kernels: about 6 s
@pytest.mark.parametrize("long_tmp", [False, True])
def test_a_notebook_runs_and_leaves_no_socket_folder(tmp_path, monkeypatch, caplog, long_tmp):
    # a TMPDIR of 90 characters more than the test's folder: too long for a Unix socket's path; else a short one
    tmp = tmp_path / ("t" * 90) if long_tmp else Path(tempfile.mkdtemp(prefix="dfd-test-", dir="/tmp"))
    tmp.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    out = tmp_path / "out.ipynb"
    with caplog.at_level(logging.WARNING):
        notebook_run.execute(_notebook(tmp_path), out, {"x": 21}, tmp_path, name="demo")
    outputs = [c.outputs[0]["text"] for c in nbformat.read(out, 4).cells if c.cell_type == "code" and c.outputs]
    assert outputs == ["42\n"] * 4
    assert list(tmp.iterdir()) == []  # the socket folder went with the kernel
    assert ("kernel over localhost TCP" in caplog.text) == long_tmp
    tmp.rmdir()
