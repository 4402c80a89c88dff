"""Sampling 16 frames from a 10 s 1080x1920 H.264 clip: sequential decoding vs seeking.

Both methods run in this process on the same clip; the script checks that they
return identical frames and reports the speed ratio, then Farneback's time per
frame pair at 108x192. The clip is made here (libx264 from imageio-ffmpeg, B-frames,
a keyframe every 250 frames, like camera footage), never downloaded.

    python benchmarks/bench_frames.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.flow import farneback
from dfd_utils.video import read_frames_by_seeking, read_sampled_frames, resize, sample_indices


def make_clip(path: Path, seconds: float = 10, fps: int = 30, height: int = 1080, width: int = 1920) -> Path:
    import imageio_ffmpeg

    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (height // 16, width // 8, 3), dtype=np.uint8), (2 * width, height))
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-g", "250", "-bf", "3", "-pix_fmt", "yuv420p", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for i in range(int(seconds * fps)):
        frame = np.ascontiguousarray(texture[:, 4 * i: 4 * i + width])  # a panning scene
        cv2.putText(frame, str(i), (100, 300), cv2.FONT_HERSHEY_SIMPLEX, 8, (255, 255, 255), 20)
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait():
        raise RuntimeError("ffmpeg failed to write the benchmark clip")
    return path


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    cv2.setNumThreads(1)  # one video per core, as the extraction stage runs
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4")
        sequential, indices, decoded = read_sampled_frames(clip)
        seeking = read_frames_by_seeking(clip, indices)
        identical = bool(np.array_equal(sequential, seeking))
        t_seq = best_time(lambda: read_sampled_frames(clip), args.repeats)
        t_seek = best_time(lambda: read_frames_by_seeking(clip, sample_indices(decoded)), args.repeats)
    small = [resize(f, 108, 192) for f in sequential]
    t_flow = best_time(lambda: [farneback(a, b) for a, b in zip(small[:-1], small[1:])], args.repeats) / 15
    result = {"frames_decoded": decoded, "identical_frames": identical, "sequential_s": t_seq, "seeking_s": t_seek,
              "speedup": t_seek / t_seq, "farneback_ms_per_pair_108x192": 1000 * t_flow}
    print(f"10 s 1080x1920 H.264, {decoded} frames, 16 sampled")
    print(f"  sequential grab/retrieve: {t_seq:.2f} s")
    print(f"  seek per frame (CAP_PROP_POS_FRAMES): {t_seek:.2f} s")
    print(f"  speedup: {t_seek / t_seq:.2f}x   identical frames: {identical}")
    print(f"Farneback at 108x192: {1000 * t_flow:.1f} ms per pair")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
