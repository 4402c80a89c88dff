"""Reruns tell the truth: change one knob, and exactly what depends on it is made again.

The study runs end to end on a tiny profile (stages 01-03 and two models), then
reruns after one change at a time. A file counts as *remade* when it was written
again (a new inode or mtime: every writer goes through a temp file and a rename),
which a content hash could not tell, since a deterministic redo writes the same bytes.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest

from dfd_utils.paths import Paths
from dfd_utils.sources.metadata import load_subset
from dfd_utils.stages.detector import run_experiment
from dfd_utils.stages.extract_frames import extract_frames
from dfd_utils.stages.optical_flow import optical_flow
from dfd_utils.stages.subset import make_subset

pytestmark = pytest.mark.slow

PARAMS = {
    "data": {"source": "synthetic", "num_videos": 16, "fake_share": 0.5,
             "synthetic": {"height": 72, "width": 128, "fps": 10.0, "duration_s": 1.0, "seam": 0.3}},
    "frames": {"num_frames": 4, "height": 32, "width": 48, "size_3d": 32},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "flow": {"winsize": 15},
    "train": {"backbone": "resnet18", "hidden": 8, "dropout": 0.5, "epochs": 1, "max_batches": 1,
              "precision": "fp32", "channels_last": False},
    "evaluate": {"bootstrap": 10},
}
MODELS = ("baseline", "two_stream_frame")  # one without flow, one with


def run_study(params: dict, root: Path) -> None:
    make_subset(params["data"], root, seed=0, workers=1)
    extract_frames(params["frames"], params["splits"], root, seed=0, workers=1)
    optical_flow(params["flow"], root, workers=1)
    for name in MODELS:
        run_experiment(name, params["train"], params["frames"], params["evaluate"], root=root, seed=0, live=False)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every kept file under the study root -> (inode, mtime_ns): which files a run wrote again."""
    paths = Paths.at(root)
    files = [*paths.subset.glob("*.mp4"), *paths.frames.rglob("*.jpg"), *paths.flow.glob("*.npy"),
             *(paths.runs / m / "seed0" / "last.pt" for m in MODELS)]  # one seed: train.seeds' default
    return {str(f.relative_to(root)): (f.stat().st_ino, f.stat().st_mtime_ns) for f in files}


def remade(before: dict, after: dict) -> set[str]:
    assert set(before) == set(after), "the same videos and runs must exist"
    return {f for f in after if after[f] != before[f]}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    run_study(PARAMS, root)
    records, _ = load_subset(Paths.at(root).subset)
    fakes = {Path(r.name).stem for r in records if r.label == 1}
    return root, fakes


def kinds(files: set[str], fakes: set[str]) -> dict[str, set[str]]:
    """Remade files grouped by what they are: clips, frames, flow of REAL or FAKE videos, and runs."""
    out: dict[str, set[str]] = {}
    for f in files:
        parts = Path(f).parts  # artifacts/<kind>/...
        if parts[1] == "runs":
            out.setdefault("runs", set()).add(parts[2])
            continue
        stem = Path(parts[2]).stem
        label = "fake" if stem in fakes else "real"
        out.setdefault(f"{parts[1]}:{label}", set()).add(stem)
    return out


def rerun(root: Path, change) -> dict[str, set[str]]:
    params = copy.deepcopy(PARAMS)
    change(params)
    before = snapshot(root)
    run_study(params, root)
    return remade(before, snapshot(root))


def test_a_second_run_remakes_nothing(study):
    root, _ = study
    assert rerun(root, lambda p: None) == set()


def test_a_generator_knob_remakes_the_fakes_and_everything_downstream_of_them(study):
    root, fakes = study
    files = rerun(root, lambda p: p["data"]["synthetic"].update(seam=0.9))
    got = kinds(files, fakes)
    assert set(got) == {"subset:fake", "frames:fake", "flow:fake", "runs"}, got
    assert got["subset:fake"] == got["frames:fake"] == got["flow:fake"] == fakes  # every fake, no real
    assert got["runs"] == set(MODELS)
    run_study(PARAMS, root)  # back to the fixture's state for the next test


def test_a_frame_setting_keeps_the_clips_and_remakes_frames_flow_and_runs(study):
    root, fakes = study
    got = kinds(rerun(root, lambda p: p["frames"].update(jpeg_quality=80)), fakes)
    assert set(got) == {"frames:fake", "frames:real", "flow:fake", "flow:real", "runs"}, got
    assert got["runs"] == set(MODELS)
    run_study(PARAMS, root)


def test_a_flow_setting_remakes_flow_and_only_the_model_that_reads_it(study):
    root, fakes = study
    got = kinds(rerun(root, lambda p: p["flow"].update(winsize=9)), fakes)
    assert set(got) == {"flow:fake", "flow:real", "runs"}, got
    assert got["runs"] == {"two_stream_frame"}  # the baseline never sees flow
    run_study(PARAMS, root)


@pytest.mark.parametrize("key,value", [("dropout", 0.2), ("lr", 0.01), ("hidden", 16)])
def test_a_model_or_training_setting_retrains_and_leaves_the_data_alone(study, key, value):
    root, fakes = study
    got = kinds(rerun(root, lambda p: p["train"].update({key: value})), fakes)
    assert got == {"runs": set(MODELS)}, got
    run_study(PARAMS, root)


def test_each_remade_unit_says_why(study, caplog):
    root, _ = study
    with caplog.at_level(logging.INFO):
        rerun(root, lambda p: p["train"].update(dropout=0.1))
    starts_over = [r.getMessage() for r in caplog.records if "starts over" in r.getMessage()]
    assert len(starts_over) == len(MODELS) and all("dropout 0.5 -> 0.1" in m for m in starts_over), starts_over
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_study(PARAMS, root)
        rerun(root, lambda p: p["frames"].update(jpeg_quality=70))
    lines = [r.getMessage() for r in caplog.records]
    assert any("frames of" in m and "jpeg_quality 95 -> 70" in m for m in lines)
    assert any(m.startswith("frames: 0 reused, 16 made") for m in lines), [m for m in lines if "reused" in m]
    run_study(PARAMS, root)


def test_a_second_run_in_a_fresh_process_remakes_nothing(study):
    """Stamps must not depend on the process that made them (hash seeds, import order, worker processes)."""
    import subprocess
    import sys

    root, _ = study
    before = snapshot(root)
    here = Path(__file__).resolve().parent
    code = (f"import sys; sys.path.insert(0, {str(here)!r}); from pathlib import Path; "
            f"from test_reruns import PARAMS, run_study; run_study(PARAMS, Path({str(root)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=here.parent, timeout=600)
    assert remade(before, snapshot(root)) == set()
