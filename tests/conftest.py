"""Shared helpers and fixtures: small videos and checkpoints made on the spot (nothing is downloaded)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from dfd_utils.sources.synthetic import SyntheticConfig, generate
from dfd_utils.video import write_video

CODE_BITS = 10  # frames carry their own index as 10 black/white stripes

# `make test` runs the suite on two workers (pytest-xdist, -n 2) with the scheduler below: a test module
# stays on one worker, so its module fixtures run once; test_notebooks and test_book share one, so the
# notebooks run once (into build/smoke) for both; the longest groups start first, the rest fill in around
# them in collection order. (xdist's own --dist loadgroup does not group under pytest 9: it renames
# item._nodeid, which pytest 9 no longer reads.)
SMOKE_STUDY = "smoke_study"
SMOKE_MODULES = {"test_notebooks.py", "test_book.py"}  # both read tests/smoke_study.py's one run
LONGEST_FIRST = (SMOKE_STUDY, "test_paper_check.py", "test_dvc.py", "test_colab.py")


def test_group(nodeid: str) -> str:
    """The worker-sharing group of a test: its module, or the smoke study's."""
    module = nodeid.split("::")[0]
    return SMOKE_STUDY if Path(module).name in SMOKE_MODULES else Path(module).name


def pytest_collection_modifyitems(config, items):
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(test_group(item.nodeid), len(rank)))  # stable: modules stay whole


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid)

    config.option.loadscopereorder = False  # keep the longest-first order above
    return ByGroup(config, log)


def pytest_configure(config):
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    if workers > 1:  # the workers share the cores: each gets its share of torch threads, not all of them
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


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


X264 = ("-g", "250", "-bf", "3", "-crf", "18")  # B-frames, long GOP: what real clips are encoded with


def write_h264(path: Path, frames: np.ndarray, fps: float = 30.0, extra: tuple = (), x264: tuple = X264) -> Path:
    """Encode RGB frames with libx264 (``x264``: B-frames, long GOP, as real clips are; ``()``: its defaults)."""
    h, w = frames.shape[1:3]
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", *x264, *extra, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def truncated_h264(path: Path) -> Path:
    """120 numbered 72x128 frames (faststart, so the header survives), cut to 80 %: 73 frames still decode."""
    whole = write_h264(path.with_name(f"whole_{path.name}"), numbered_frames(120, 72, 128),
                       extra=("-movflags", "+faststart"), x264=())
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    return path


def write_clip(path: Path, h: int = 72, w: int = 128, n: int = 20, *, seed: int = 0, fill: int | None = None,
               gray: bool = False) -> Path:
    """Write an mp4v clip of ``n`` frames at ``h`` x ``w``, 10 fps: random pixels drawn with ``seed``,
    or every pixel ``fill``; ``gray`` writes a single-channel clip."""
    shape = (n, h, w, 3)
    frames = (np.full(shape, fill, np.uint8) if fill is not None
              else np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8))
    if gray:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h), isColor=False)
        for f in frames:
            writer.write(f[..., 0])
        writer.release()
    else:
        write_video(path, frames, 10)
    return path


def dfdc_clip(path: Path, h: int = 1080, w: int = 1920, n: int = 3) -> Path:
    """A flat gray clip, DFDC-sized (1080x1920) unless told: all the DFDC selection checks need."""
    return write_clip(path, h, w, n, fill=90)


def dfdc_part(folder: Path, families: int = 2, fakes: int = 2, portrait: tuple = (), **fields) -> dict:
    """A DFDC part in ``folder``: originals ``real<i>.mp4`` with ``fakes`` fakes each (``fake<i><j>.mp4``),
    DFDC-sized flat clips (the originals numbered in ``portrait`` stand upright), and its ``metadata.json``,
    every entry carrying ``fields`` too. Returns the metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i in range(families):
        real = f"real{i}.mp4"
        dfdc_clip(folder / real, *((1920, 1080) if i in portrait else (1080, 1920)))
        meta[real] = {"label": "REAL", **fields}
        for j in range(fakes):
            dfdc_clip(folder / f"fake{i}{j}.mp4")
            meta[f"fake{i}{j}.mp4"] = {"label": "FAKE", **fields, "original": real}
    (folder / "metadata.json").write_text(json.dumps(meta))
    return meta


def make_checkpoint(path: Path, name: str = "baseline", *, cfg: dict | None = None, extra: dict | None = None,
                    threshold: float = 0.5, nan_weights: bool = False, edit=None) -> Path:
    """Save an untrained ``name`` detector (resnet18 backbone, seed 0) as a dfd checkpoint at ``path``.

    ``cfg`` adds to the model's settings; ``extra`` to what the checkpoint carries besides ``threshold``
    and ``rule`` ("share" for a frame model, "prob" for a video one). For damaged checkpoints:
    ``nan_weights`` fills the first weight tensor with NaN; ``edit(payload)`` changes the saved dict in place.
    """
    import torch

    from dfd_utils.models import build_model, save_checkpoint

    torch.manual_seed(0)
    cfg = {"backbone": "resnet18", **(cfg or {})}
    model = build_model(name, **cfg).eval()
    if nan_weights:
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))
    save_checkpoint(path, model, name, cfg, extra={
        "threshold": threshold, "rule": "share" if model.level == "frame" else "prob", **(extra or {})})
    if edit:
        payload = torch.load(path, weights_only=True)
        edit(payload)
        torch.save(payload, path)
    return path


class CodeOnLoad:
    """Unpickling this creates the file ``marker``: what a planted pickle could do if loaded without weights_only."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def no_credentials(tmp_path, monkeypatch) -> Path:
    """A HOME of its own and no Kaggle variables: no Kaggle credentials anywhere. Returns that HOME."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


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
    """Factory: write a random mp4v clip of ``n`` frames at ``h`` x ``w`` into ``tmp_path`` (see ``write_clip``)."""
    def make(name="clip.mp4", n=20, h=72, w=128, gray=False):
        return write_clip(tmp_path / name, h, w, n, seed=n, gray=gray)
    return make
