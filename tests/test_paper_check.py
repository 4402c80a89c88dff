"""The paper check (``make paper-check``): every stage at the paper's shapes on the CPU, and its pieces.

The slow test runs the whole check (about 2-4 minutes on 2 cores) in a temporary folder;
the fast ones check that its profile says what the paper profile says, that the
stand-in ImageNet file is what ``weights: imagenet`` loads, and that the check reports
the split sizes of the resolved ``paper`` profile (the paper: 660 / 82 / 83 of 825).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dfd_utils import profiles
from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.tooling.hub_cache import place_random_imagenet

ROOT = Path(__file__).resolve().parents[1]

# Where the check may differ from the paper profile, and why: no GPU, a few clips, one batch per model.
ALLOWED = {"device", "workers", "data.num_videos", "data.fake_share", "splits.train", "splits.val", "splits.test",
           "train.precision", "train.seeds", "train.epochs", "train.patience", "train.max_batches",
           "evaluate.bootstrap", "models.two_stream_frame.epochs", "models.two_stream_video.epochs"}
CHECKED = ("data", "frames", "splits", "train", "evaluate", "models", "device", "workers")  # what the check runs
# The line `make paper-check` prints: the paper profile's own split of its 825 clips.
SPLIT_LINE = re.compile(r"^paper profile splits of 825 clips \((\d+) FAKE, (\d+) families, 0 across splits\): "
                        r"train (\d+) / val (\d+) / test (\d+) \(the paper: 660 / 82 / 83\)$", re.MULTILINE)


def _paper_split(stdout: str) -> tuple[int, int, int]:
    """The train / val / test sizes of the paper profile's split line, checked against the paper's within rounding."""
    found = SPLIT_LINE.findall(stdout)
    assert len(found) == 1, f"no paper split line in the output:\n{stdout[-2000:]}"
    fake, families, *sizes = map(int, found[0])
    assert abs(fake / 825 - 0.6) <= 0.02 and families < 825
    assert all(abs(n - paper) <= 3 for n, paper in zip(sizes, (660, 82, 83))) and sum(sizes) == 825, sizes
    return tuple(sizes)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_the_check_profile_is_the_paper_profile_but_for_a_cpu_and_tiny_data():
    paper = _flat({k: v for k, v in profiles.resolve("paper").items() if k in CHECKED})
    check = _flat({k: v for k, v in profiles.resolve("paper_check").items() if k in CHECKED})
    differ = {k for k in paper.keys() | check.keys() if paper.get(k) != check.get(k)}
    assert differ <= ALLOWED, f"profiles/paper_check.yaml drifted from profiles/paper.yaml: {sorted(differ - ALLOWED)}"
    assert check["train.backbone"] == "resnet50" and check["train.weights"] == "imagenet"
    assert check["train.trunk"] == "finetune" and check["frames.size_3d"] == 224
    assert (check["frames.height"], check["frames.width"], check["frames.num_frames"]) == (108, 192, 16)
    assert (check["train.batch_frames"], check["train.batch_videos"]) == (16, 4)


def test_paper_check_reports_the_paper_profiles_split_sizes():
    """``--splits`` prints the one line the full check ends with: profiles/paper.yaml's 825 clips split 80/10/10."""
    run = subprocess.run([sys.executable, "-m", "dfd_utils.tooling.paper_check", "--splits"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _paper_split(run.stdout) == (660, 82, 83)  # the study's splitter on the profile's planned families


def test_the_stand_in_imagenet_file_is_what_weights_imagenet_loads(tmp_path, monkeypatch):
    from dfd_utils.models.backbone import build_backbone, imagenet_weights_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = place_random_imagenet("resnet18", tmp_path, seed=3)
    assert path == imagenet_weights_file("resnet18")[1] and path.name.startswith("resnet18-")
    saved = torch.load(path, weights_only=True)
    built = build_backbone("resnet18", "imagenet").state_dict()
    assert all(torch.equal(built[k], v) for k, v in saved.items())
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        place_random_imagenet("efficientnet_lite0", tmp_path)


def _study_files() -> dict[str, int]:
    """The project's own outputs and their mtimes (not a git status: other tests run beside this one)."""
    found = {"params.yaml": (ROOT / "params.yaml").stat().st_mtime_ns}
    for folder in ("metrics", "dvclive", "artifacts"):
        if (ROOT / folder).is_dir():
            found.update({str(p.relative_to(ROOT)): p.stat().st_mtime_ns for p in (ROOT / folder).rglob("*")
                          if p.is_file()})
    return found


@pytest.mark.slow
def test_paper_check_runs_every_stage_at_the_papers_shapes(tmp_path):
    before = _study_files()
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "dfd_utils.tooling.paper_check", "--workdir", str(tmp_path / "work"),
                          "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "peak RSS" in run.stdout and "total" in run.stdout
    result = json.loads(report.read_text())
    sizes = _paper_split(run.stdout)  # the paper profile's split, reported beside the check's own shapes
    assert sizes == tuple(result["paper_splits"][s] for s in ("train", "val", "test"))
    stages = {s["name"]: s for s in result["stages"]}
    assert list(stages) == ["prepare", "subset", "frames", "flow", *(f"train:{m}" for m in MODEL_NAMES), "evaluate"]
    assert all(s["returncode"] == 0 and s["peak_rss_mib"] > 0 for s in stages.values())
    reports = result["reports"]
    assert reports["subset"]["source_size"] == [1080, 1920] and reports["subset"]["videos"] == 8
    assert reports["frames"]["frames"] == [4, 16, 3, 108, 192]  # (V, T, 3, H, W): the train split
    assert reports["frames"]["frames3d"] == [4, 16, 3, 224, 224]
    assert reports["flow"]["flows"] == [4, 16, 2, 108, 192]
    for name in MODEL_NAMES:
        trained = reports[f"train:{name}"]
        assert trained["backbone"] == "resnet50" and trained["trunk"] == "finetune"
        assert Path(trained["weights"]).name.startswith("resnet50-")  # torchvision's own file name
        assert Path(trained["weights"]).is_relative_to(tmp_path / "work" / "torch")
        assert trained["batch"] == (16 if trained["level"] == "frame" else 4)
    assert reports["evaluate"]["models"] == sorted(MODEL_NAMES)
    assert (tmp_path / "work" / reports["evaluate"]["summary"]).is_file()
    assert _study_files() == before, "the paper check wrote into the project's own study files"
