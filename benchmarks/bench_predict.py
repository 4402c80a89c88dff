"""`dfd predict` on one 10 s 1080x1920 H.264 clip: wall time and where it goes.

Scores the clip with a checkpoint (the study's, if `make repro` ran; otherwise an
untrained baseline of the same shape, which costs the same) and splits the time
into decoding 16 frames and the rest (resize, flow, model). Goal: <= 3 s on a
2-core CPU, dominated by decoding.

    python benchmarks/bench_predict.py [--checkpoint artifacts/models/baseline.pt]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the clip maker of bench_frames
from bench_frames import make_clip  # noqa: E402

from dfd_utils.models import build_model, save_checkpoint  # noqa: E402
from dfd_utils.predict import Predictor  # noqa: E402
from dfd_utils.video import read_sampled_frames  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="default: artifacts/models/baseline.pt if present")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(args.checkpoint or "artifacts/models/baseline.pt")
        if not ckpt.is_file():
            ckpt = Path(tmp) / "baseline.pt"
            save_checkpoint(ckpt, build_model("baseline", backbone="resnet18"), "baseline", {"backbone": "resnet18"},
                            extra={"threshold": 0.5, "rule": "share",
                                   "input": {"num_frames": 16, "height": 108, "width": 192, "size_3d": 112}})
        clip = make_clip(Path(tmp) / "clip.mp4")
        predictor = Predictor(ckpt)
        predictor.predict(clip)  # warm-up
        total = min(_timed(lambda: predictor.predict(clip)) for _ in range(args.repeats))
        decode = min(_timed(lambda: read_sampled_frames(clip)) for _ in range(args.repeats))
    print(f"checkpoint: {ckpt.name} ({predictor.payload['model']})")
    print(f"dfd predict, 10 s 1080x1920 H.264: {total:.2f} s (decoding 16 frames: {decode:.2f} s, "
          f"{100 * decode / total:.0f} %)  goal <= 3 s")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
