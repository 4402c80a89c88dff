"""How a stage executes its notebook: over Unix sockets, with a progress line, and quietly.

Papermill's defaults suit a terminal, not a `dvc repro` log: its progress bar is off without one (so a
3-minute stage printed nothing), it logs the input notebook twice, and the kernel it starts listens on
localhost TCP, which ipykernel 7 rightly warns about at every start ("susceptible to eavesdropping").
Here the kernel talks over Unix sockets in a private temporary folder (no port another local user can
reach, nothing written beside the notebooks), papermill logs only warnings, and progress is one plain line
at most every ``PROGRESS_EVERY_S`` seconds, at a cell's end: "<notebook>: 12/40 cells, 01:05".

None of this changes what a notebook computes or the executed copy it writes.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum

PROGRESS_EVERY_S = 15.0


SOCKET_PATH_MAX = 100  # a Unix socket's path holds at most 107 bytes; the kernel adds "-<port>" to ours


class IPCKernelManager(AsyncKernelManager):
    """A kernel reached over Unix sockets in its own 0700 temporary folder, removed at shutdown.

    Where the temporary folder's path is too long for a socket (a long ``TMPDIR``), the kernel is reached over
    localhost TCP as papermill does by default, and the log says why.
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._socket_dir = tempfile.mkdtemp(prefix="dfd-kernel-")  # mkdtemp: mode 0700, this user only
        ip = os.path.join(self._socket_dir, "kernel")
        if len(ip.encode()) + len("-65535") > SOCKET_PATH_MAX:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            logging.getLogger(__name__).warning("kernel over localhost TCP: the socket path %s would be longer "
                                                "than a Unix socket allows (set a shorter TMPDIR)", ip)
            self.transport, self.ip = "tcp", "127.0.0.1"
        else:
            self.ip = ip

    async def _async_cleanup_resources(self, restart: bool = False) -> None:  # what shutdown_kernel awaits
        await super()._async_cleanup_resources(restart)
        if not restart:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


class _Lines(io.TextIOBase):
    """tqdm's output as whole lines: a log file gets "a line per update", never carriage returns."""

    def __init__(self, stream):
        self.stream, self.last = stream, None

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line and line != self.last and ": 0/" not in line:  # from the first finished cell on
            self.stream.write(line + "\n")
            self.stream.flush()
            self.last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress(name: str, stream=None) -> dict:
    """Papermill's ``progress_bar`` settings: one line per update, at most every ``PROGRESS_EVERY_S`` s."""
    return {"desc": name, "file": _Lines(stream or sys.stderr), "mininterval": PROGRESS_EVERY_S, "ascii": True,
            "bar_format": "{desc}: {n_fmt}/{total_fmt} cells, {elapsed}"}


def execute(notebook: Path, out: Path, values: dict, cwd: Path, name: str | None = None) -> None:
    """Run ``notebook`` with ``values`` into ``out`` (papermill, kernel ``python3``, working folder ``cwd``)."""
    import papermill

    logging.getLogger("papermill").setLevel(logging.WARNING)  # its "Input Notebook" lines, twice per stage
    out.unlink(missing_ok=True)  # papermill writes in place: a kept copy may be DVC's hardlinked cache file itself
    papermill.execute_notebook(str(notebook), str(out), parameters=values, kernel_name="python3", cwd=str(cwd),
                               progress_bar=progress(name or out.stem), kernel_manager_class=IPCKernelManager)
