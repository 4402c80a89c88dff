"""The ``paper`` profile is the paper: every value the paper states, asserted on the *resolved* profile.

``profiles/paper.yaml`` holds only what differs from ``profiles/demo.yaml``; the rest it
inherits, so a change to the demo can silently change the paper's run. These tests read
the profile as the study does (``dfd_utils.profiles.resolve``, then the typed
configuration of ``dfd_utils.config``, per model through ``StudyConfig.train_for``) and
check each value against the paper's text (section numbers in the comments), inherited
or not. What the paper does not state (epochs, precision, fine-tuning, the device) is
not asserted here; ``book/errata.md`` lists it.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfd_utils import profiles
from dfd_utils.config import parse
from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.sources.metadata import VideoRecord
from dfd_utils.splits import SPLITS, split_videos

PAPER_SPLIT = {"train": 660, "val": 82, "test": 83}  # section 3.1: "660 videos ... 82 videos ... 83 videos"
PER_FRAME = ("baseline", "two_stream_frame")  # Table 1: frame-by-frame granularity; the rest whole-video


@pytest.fixture(scope="module")
def study():
    return parse(profiles.resolve("paper"), "profiles/paper.yaml (over demo)")


def test_the_data_are_the_papers_825_dfdc_clips_about_60_percent_fake(study):
    from dfd_utils.sources import dfdc

    assert study.data.source == "dfdc"  # section 3: the Kaggle DFDC dataset
    assert study.data.num_videos == 825  # "825 10-second video clips"
    assert study.data.fake_share == pytest.approx(0.6, abs=0.02)  # 0.59-0.62, "the rough class split" (5.2)
    size = inspect.signature(dfdc.select_subset).parameters["size"].default
    assert size == (1080, 1920)  # "only ... the horizontal videos which have dimensions of 1080x1920"


def test_frames_are_16_at_108x192_and_224x224_for_the_3d_cnn(study):
    f = study.frames
    assert f.num_frames == 16  # "16 equally spaced out frames"
    assert (f.height, f.width) == (108, 192)  # section 3.1
    assert f.size_3d == 224  # "For our 3D CNN ... we resized our image to size 224x224"
    assert f.crop == "full"  # the paper crops nothing


def test_splits_are_80_10_10(study):
    assert study.splits.fractions == pytest.approx((0.8, 0.1, 0.1))  # section 3.1


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_trains_as_the_paper_says(study, name):
    from dfd_utils.models import MODELS
    from dfd_utils.train import loss_config

    cfg, settings = study.train_for(name)
    assert settings.backbone == "resnet50"  # "we used ResNet50 as our base 2D CNN across all architectures"
    assert settings.weights == "imagenet"  # the 3D CNN's "pre-trained model" (section 3.1)
    assert settings.flow_pool == 1  # the flow stream reads the full (108, 192, 2) flow (Table 4)
    assert settings.hidden == 128  # the tables' hidden width
    assert cfg.lr == pytest.approx(1e-3)  # "a learning rate of 10e-3", i.e. 1e-3 (errata)
    level = MODELS[name].level
    assert level == ("frame" if name in PER_FRAME else "video")
    assert (cfg.batch_frames, cfg.batch_videos) == (16, 4)  # section 4.2.2
    loss = loss_config(cfg, level)
    assert loss.kind == ("bce" if level == "frame" else "bce_f1")  # section 4.2.1
    if loss.kind == "bce_f1":
        assert (loss.alpha, loss.beta) == (1.0, 1.0)  # equation (4); the paper gives no weights: 1 and 1
    assert cfg.class_weighting  # section 4.2.1, tf.keras class_weight
    assert cfg.patience >= cfg.epochs  # the paper reports no early stopping: none can end a run
    assert cfg.seeds == 1  # one run per model


def test_the_threshold_grid_is_0_3_to_0_7_in_steps_of_0_1(study):
    assert study.evaluate.threshold_grid == pytest.approx((0.3, 0.4, 0.5, 0.6, 0.7))  # section 4.2.2


def test_the_optimiser_is_adam_at_1e_3_without_weight_decay(study, tmp_path):
    """The paper profile's training loop, one batch on toy data: the optimiser it saves is Adam, lr 1e-3, no decay."""
    import torch

    from dfd_utils.datasets import SplitData
    from dfd_utils.models import build_model
    from dfd_utils.train import fit

    cfg, _ = study.train_for("baseline")
    cfg = replace(cfg, device="cpu", precision="fp32", channels_last=False, epochs=1, patience=1, max_batches=1,
                  trunk="finetune")
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0.0, 1.0, 0.0, 1.0])
    split = SplitData(videos=[f"v{i}.mp4" for i in range(4)], families=[f"v{i}.mp4" for i in range(4)], labels=labels,
                      frames=torch.randint(0, 255, (4, 2, 3, 32, 32), generator=g, dtype=torch.uint8), flows=None,
                      frames3d=None)
    model = build_model("baseline", backbone="resnet18", hidden=8, dropout=0.0)  # the loop, not ResNet50's weights
    fit(model, split, split, cfg, tmp_path)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["optimizer"]["param_groups"]
    assert all(g["lr"] == pytest.approx(1e-3) and g["weight_decay"] == 0 and "betas" in g and not g["amsgrad"]
               for g in saved)  # Adam (section 4.2.2); the paper states no weight decay


# ---- the split sizes the study's own splitter gives 825 clips ----

def _round_robin_families(num_videos: int, fake_share: float) -> list[VideoRecord]:
    """As the ``dfdc`` source selects: the fakes dealt round-robin over the originals (one or two each at 60 %)."""
    num_fake = round(num_videos * fake_share)
    reals = [f"real{i:03d}.mp4" for i in range(num_videos - num_fake)]
    records = [VideoRecord(r, Path(r), 0, None) for r in reals]
    records += [VideoRecord(f"fake{j:03d}.mp4", Path(f"fake{j:03d}.mp4"), 1, reals[j % len(reals)])
                for j in range(num_fake)]
    return records


def _uneven_families(num_videos: int, fake_share: float, seed: int, most: int = 4) -> list[VideoRecord]:
    """DFDC-like: each original with 0 to ``most`` fakes, drawn at random."""
    rng = np.random.default_rng(seed)
    num_fake = round(num_videos * fake_share)
    reals = [f"real{i:03d}.mp4" for i in range(num_videos - num_fake)]
    counts = np.zeros(len(reals), dtype=int)
    while counts.sum() < num_fake:
        i = int(rng.integers(len(reals)))
        if counts[i] < most:
            counts[i] += 1
    records = [VideoRecord(r, Path(r), 0, None) for r in reals]
    records += [VideoRecord(f"fake{i:03d}_{k}.mp4", Path(f"fake{i:03d}_{k}.mp4"), 1, r)
                for i, r in enumerate(reals) for k in range(counts[i])]
    return records


def _check_split(records: list[VideoRecord], assignment: dict[str, str], fake_share: float) -> None:
    families: dict[str, set[str]] = {}
    for r in records:
        families.setdefault(r.family, set()).add(assignment[r.name])
    crossing = sorted(f for f, where in families.items() if len(where) > 1)
    assert not crossing, f"families in more than one split: {crossing[:5]}"
    sizes = Counter(assignment.values())
    assert sum(sizes.values()) == len(records) == 825
    for split in SPLITS:
        assert abs(sizes[split] - PAPER_SPLIT[split]) <= 3, (split, dict(sizes))  # the paper's, within family rounding
        fake = sum(r.label for r in records if assignment[r.name] == split) / sizes[split]
        assert abs(fake - fake_share) < 0.06, (split, fake)  # stratified: each split near the FAKE share


def test_the_resolved_split_gives_the_papers_660_82_83(study):
    data, shares = study.data, study.splits.fractions
    records = _round_robin_families(data.num_videos, data.fake_share)
    assert sum(r.label for r in records) / len(records) == pytest.approx(0.6, abs=0.02)
    _check_split(records, split_videos(records, shares, study.seed), data.fake_share)


@pytest.mark.parametrize("seed", range(5))
def test_the_resolved_split_holds_for_uneven_families(study, seed):
    data, shares = study.data, study.splits.fractions
    records = _uneven_families(data.num_videos, data.fake_share, seed)
    _check_split(records, split_videos(records, shares, seed), data.fake_share)


def test_make_paper_check_reports_the_same_sizes(study):
    from dfd_utils.tooling.paper_check import split_line, split_sizes

    sizes = split_sizes("paper")
    assert sizes["clips"] == 825 and sizes["families_crossing"] == 0
    assert all(abs(sizes[s] - PAPER_SPLIT[s]) <= 3 for s in SPLITS), sizes
    assert f"train {sizes['train']} / val {sizes['val']} / test {sizes['test']}" in split_line(sizes)
