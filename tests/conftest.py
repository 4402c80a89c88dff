"""Shared fixtures: small videos made on the spot (nothing is downloaded)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from dfd_utils.sources.synthetic import SyntheticConfig, generate
from dfd_utils.video import write_video

CODE_BITS = 10  # frames carry their own index as 10 black/white stripes


def numbered_frames(count: int, height: int = 96, width: int = 160) -> np.ndarray:
    """Frames whose pixels encode their index in binary stripes: ``(count, H, W, 3)`` uint8."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    stripe = width // CODE_BITS
    for i in range(count):
        for bit in range(CODE_BITS):
            if (i >> bit) & 1:
                frames[i, :, bit * stripe:(bit + 1) * stripe] = 255
    return frames


def read_code(frame: np.ndarray) -> int:
    """The index a numbered frame carries (robust to compression)."""
    stripe = frame.shape[1] // CODE_BITS
    gray = frame.mean(axis=2)
    return sum(1 << bit for bit in range(CODE_BITS)
               if gray[:, bit * stripe + 2:(bit + 1) * stripe - 2].mean() > 127)


def ffmpeg() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_h264(path: Path, frames: np.ndarray, fps: float = 30.0, extra: tuple = ()) -> Path:
    """Encode RGB frames with libx264 (B-frames, long GOP), as real clips are."""
    h, w = frames.shape[1:3]
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "250", "-bf", "3",
           "-crf", "18", *extra, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


@pytest.fixture(scope="session")
def numbered_h264(tmp_path_factory) -> Path:
    """A 90-frame H.264 clip whose frames encode their own index."""
    return write_h264(tmp_path_factory.mktemp("h264") / "numbered.mp4", numbered_frames(90))


SMALL = SyntheticConfig(num_videos=20, fake_share=0.6, height=72, width=128, fps=10.0, duration_s=2.0, seed=3)


@pytest.fixture(scope="session")
def synthetic_subset(tmp_path_factory) -> Path:
    """A small synthetic DFDC-format subset (20 videos, 72x128, 20 frames each)."""
    folder = tmp_path_factory.mktemp("subset")
    generate(SMALL, folder, workers=2)
    return folder


@pytest.fixture
def tiny_video(tmp_path):
    """Factory: write an mp4v clip of ``n`` frames at ``h`` x ``w``."""
    def make(name="clip.mp4", n=20, h=72, w=128, gray=False):
        rng = np.random.default_rng(n)
        frames = rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)
        path = tmp_path / name
        if gray:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h), isColor=False)
            for f in frames:
                writer.write(f[..., 0])
            writer.release()
        else:
            write_video(path, frames, 10)
        return path
    return make
