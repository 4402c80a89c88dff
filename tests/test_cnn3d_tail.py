"""The 3D CNN's trained tail: its last blocks learn (time) even when the trunk is frozen; chapter 07's choice rule."""

import pytest
import torch

from dfd_utils.config.training import ModelSettings
from dfd_utils.frame_store import FrameConfig
from dfd_utils.gradcam import gradcam
from dfd_utils.models import build_model
from dfd_utils.models.backbone import build_backbone, time_strided, trunk
from dfd_utils.models.cnn3d import Cnn3d, blocks, inflate
from dfd_utils.stages.detector import model_config
from dfd_utils.stages.regime import choose, text
from dfd_utils.train import trainable_parameters


@pytest.mark.parametrize("backbone, count", [("resnet18", 12), ("resnet50", 20), ("efficientnet_lite0", 18)])
def test_the_trunk_splits_into_its_blocks(backbone, count):
    """ResNet: stem (4 layers) + every bottleneck; Lite0: stem + 16 MBConv blocks + head conv."""
    base = build_backbone(backbone, None)
    units = blocks(inflate(trunk(base), time_strided(base)))
    assert len(units) == count
    assert type(units[-1]).__name__ in ("BasicBlock", "Bottleneck", "Sequential")


def test_a_tail_changes_no_output_and_zero_blocks_changes_nothing():
    torch.manual_seed(0)
    whole = Cnn3d("resnet18", train_blocks=0).eval()
    split = Cnn3d("resnet18", train_blocks=2).eval()
    assert len(whole.tail) == 0 and len(split.tail) == 2
    # copy every weight across the two layouts: the same blocks in the same order
    for mine, theirs in zip(blocks(split.cnn) + list(split.tail), blocks(whole.cnn)):
        mine.load_state_dict(theirs.state_dict())
    split.head.load_state_dict(whole.head.state_dict())
    clip = torch.randint(0, 255, (2, 16, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(whole(clip), split(clip), atol=1e-5)
        assert split.pooled(clip).dim() == 5  # (B, C', T', h, w): what the tail reads
        assert whole.pooled(clip).shape == (2, 512)  # pooled, as before
        assert torch.allclose(split.classify(split.pooled(clip)), split(clip))


def test_the_tail_trains_when_the_trunk_is_frozen():
    model = Cnn3d("resnet18", train_blocks=1)
    trained = {id(p) for p in trainable_parameters(model, "frozen")}
    assert all(id(p) in trained for p in model.tail.parameters())
    assert all(id(p) in trained for p in model.head.parameters())
    assert not any(id(p) in trained for p in model.cnn.parameters())
    with pytest.raises(ValueError, match="train_blocks must be between 0 and 11 for resnet18, got 12"):
        Cnn3d("resnet18", train_blocks=12)


def test_only_the_3d_cnn_takes_train_blocks():
    frames = FrameConfig()
    assert model_config("cnn3d", ModelSettings(train_blocks=2), frames)["train_blocks"] == 2
    assert "train_blocks_grid" not in model_config("cnn3d", ModelSettings(train_blocks_grid=(0, 2)), frames)
    with pytest.raises(ValueError, match="train_blocks applies to the 3D CNN only"):
        model_config("baseline", ModelSettings(train_blocks=2), frames)
    assert build_model("cnn3d", backbone="resnet18", train_blocks=1).tail


def test_gradcam_reads_the_tail():
    model = Cnn3d("resnet18", train_blocks=1)
    heat = gradcam(model, torch.randint(0, 255, (16, 3, 64, 64), dtype=torch.uint8))
    assert heat.shape == (16, 64, 64) and float(heat.min()) >= 0 and float(heat.max()) <= 1


def test_the_rule_takes_the_best_validation_auc_and_ties_go_to_fewer_blocks():
    assert choose({0: 0.61, 2: 0.74, 6: 0.70}) == 2
    assert choose({0: 0.7, 2: 0.7, 6: 0.69}) == 0
    result = {"rule": "", "seed": 0, "trunk": "frozen", "val_videos": 36, "val_auc": {"0": 0.61, "2": 0.74},
              "chosen": 2, "used": 0}
    assert "**`models.cnn3d.train_blocks` is 0, not the choice 2**" in text(result)
    assert "The study trains 2 block(s), the choice." in text({**result, "used": 2})


def test_the_demo_trains_the_blocks_chapter_07_chose():
    """The committed ``metrics/cnn3d.json`` (the demo's own comparison) chose what ``params.yaml`` trains."""
    import json

    from dfd_utils import profiles
    from dfd_utils.config import parse
    from dfd_utils.paths import project_root

    regime = json.loads((project_root() / "metrics" / "cnn3d.json").read_text())["regime"]
    _, settings = parse(profiles.resolve("demo")).train_for("cnn3d")
    assert [int(k) for k in regime["val_auc"]] == list(settings.train_blocks_grid)
    assert regime["chosen"] == choose({int(k): v for k, v in regime["val_auc"].items()})
    assert regime["chosen"] == regime["used"] == settings.train_blocks
