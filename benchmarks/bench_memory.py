"""Peak memory of loading a split and training one epoch on it: decoded into RAM (before) against memory-mapped.

For each clip count, a frame store is written as stages 02 and 03 leave one (16 JPEG
frames per clip at the demo's 108x192, and a ``(16, 2, 108, 192)`` float16 flow per
clip; every clip in the train split), then each measurement runs in a fresh Python
process: ``load_split`` (frames and flow, the two-stream models' input) and
``train.fit`` for one epoch over every batch (16 frames, shuffled) with its stamp and
validation, on a tiny model whose compute is negligible, so what is measured is the data
path. ``before`` decodes the split into RAM (``arrays=None``); ``memmap, first`` writes
the arrays (a fresh folder); ``memmap`` opens them as a later stage does.

Two numbers per run, both from ``/proc/self/status``: ``VmHWM``, the peak resident set,
which also counts the pages of mapped files the process touched (page cache: clean,
shared, dropped by the kernel under memory pressure, never swapped), and the peak of
``RssAnon`` (sampled every 2 ms), the memory only this process holds, which is what
runs out. The clips are made here (random smooth frames, random flow), never downloaded::

    python benchmarks/bench_memory.py [--clips 120 825] [--json results.json] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

T, H, W = 16, 108, 192  # the demo's frames per clip and 2D size


def write_store(root: Path, clips: int, seed: int = 0) -> Path:
    """A frame store of ``clips`` videos, all in the train split: JPEGs, manifest.csv and one flow .npy each."""
    from dfd_utils.flow import flow_path

    if (root / "frames" / "manifest.csv").is_file():
        return root
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8), (W, H))  # a smooth scene
    rows = []
    (root / "flow").mkdir(parents=True, exist_ok=True)
    for i in range(clips):
        name = f"clip{i:05d}.mp4"
        folder = root / "frames" / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(T):
            frame = np.roll(base, 2 * t + i, axis=1) + rng.integers(0, 8, (H, W, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{t:02d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            rows.append({"video": name, "label": int(i % 5 < 3), "original": "", "position": t, "frame_index": t,
                         "split": "train"})
        np.save(flow_path(root / "flow", name), rng.normal(0, 1, (T, 2, H, W)).astype(np.float16))
    pd.DataFrame(rows).to_csv(root / "frames" / "manifest.csv", index=False)
    return root


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakAnon:
    """The largest ``RssAnon`` seen by a thread sampling every 2 ms while the block runs."""

    def __init__(self):
        self.peak, self._stop = status_kib("RssAnon"), threading.Event()

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, status_kib("RssAnon"))

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_kib("RssAnon"))


def child(root: Path, mode: str, arrays: Path) -> dict:
    """One measurement, in this (fresh) process: load the split, train one epoch; peak memory in MiB."""
    import torch
    from torch import nn

    from dfd_utils.datasets import load_split
    from dfd_utils.train import TrainConfig, fit

    class Tiny(nn.Module):
        """A two-stream-shaped frame model that costs nothing: 8x8 means of the frame and the flow, one linear layer."""

        input_view, uses_flow, three_d, level = "frame_flow", True, False, "frame"

        def __init__(self):
            super().__init__()
            self.pool, self.linear = nn.AdaptiveAvgPool2d(8), nn.Linear(5 * 64, 1)

        def forward(self, frames, flows):  # (B, 3, H, W) uint8, (B, 2, H, W) float16 -> (B,)
            x = torch.cat([self.pool(frames.float() / 255), self.pool(flows.float())], 1)  # (B, 5, 8, 8)
            return self.linear(x.flatten(1)).squeeze(1)

    torch.set_num_threads(1)
    base = status_kib("RssAnon")
    with PeakAnon() as anon:
        start = time.perf_counter()
        data = load_split(root / "frames", "train", root / "flow", flows=True,
                          arrays=None if mode == "before" else arrays)
        loaded = time.perf_counter() - start
        torch.manual_seed(0)
        cfg = TrainConfig(epochs=1, batch_frames=16, precision="fp32", channels_last=False, seed=0)
        with tempfile.TemporaryDirectory() as run_dir:
            fit(Tiny(), data, data, cfg, run_dir)
        total = time.perf_counter() - start
    return {"clips": len(data.videos), "mode": mode, "vmhwm_mib": status_kib("VmHWM") / 1024,
            "peak_anon_mib": anon.peak / 1024, "anon_at_start_mib": base / 1024, "load_s": loaded,
            "load_and_epoch_s": total}


def measure(root: Path, mode: str, arrays: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", str(root), "--mode", mode, "--arrays", str(arrays)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "DFD_PROGRESS": ""})
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, nargs="+", default=[120, 825])
    p.add_argument("--work", help="where the frame stores go (kept, reused); default: a temporary folder")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--arrays", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child), args.mode, Path(args.arrays))))
        return
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_memory_"))
    rows = []
    try:
        for clips in args.clips:
            start = time.perf_counter()
            root = write_store(work / f"{clips}", clips)
            print(f"{clips} clips: frame store in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            arrays = root / "arrays"
            shutil.rmtree(arrays, ignore_errors=True)
            for mode in ("before", "memmap, first", "memmap"):
                rows.append(measure(root, mode, arrays))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'clips':>6} {'mode':<14} {'peak RSS (VmHWM) MiB':>21} {'peak anonymous MiB':>19} {'load s':>7} "
          f"{'load+epoch s':>13}")
    for r in rows:
        print(f"{r['clips']:>6} {r['mode']:<14} {r['vmhwm_mib']:>21.0f} {r['peak_anon_mib']:>19.0f} "
              f"{r['load_s']:>7.1f} {r['load_and_epoch_s']:>13.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": rows, "frames": [T, H, W]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
