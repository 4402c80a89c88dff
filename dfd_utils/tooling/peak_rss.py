"""Run a command as a child process and measure it: wall time and peak resident memory.

Why a child per stage: a process's peak RSS (``ru_maxrss``) never goes down, so one
process running every stage would report the largest stage for all of them. ``os.wait4``
returns the rusage of exactly the child it reaps, including the descendants that child
waited for (extraction's worker processes): the peak of the largest process in that
stage's tree. Linux carries a process's peak across ``fork`` and ``exec``, so a child's
figure is at least its parent's RSS when it was started: keep the measuring parent
small (``dfd_utils.tooling.paper_check`` imports no torch; about 20 MiB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    name: str
    returncode: int
    seconds: float
    peak_rss_mib: float  # the largest process of the stage's tree, MiB

    def line(self) -> str:
        status = "ok" if self.returncode == 0 else f"FAILED (exit {self.returncode})"
        return f"{self.name:<24s} {self.seconds:8.1f} s   peak RSS {self.peak_rss_mib:8.0f} MiB   {status}"


def max_rss_mib(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MiB: Linux counts KiB, macOS bytes."""
    return ru_maxrss / (1 << 20) if sys.platform == "darwin" else ru_maxrss / 1024


def run_measured(name: str, argv: list[str], env: dict | None = None, cwd: str | None = None) -> Measured:
    """Run ``argv`` (its output goes to ours) and return its exit code, wall time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return Measured(name, proc.returncode, time.perf_counter() - start, max_rss_mib(usage.ru_maxrss))
