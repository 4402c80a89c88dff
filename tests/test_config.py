"""One typed configuration: every key of params.yaml checked, by its dotted name, before any work."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dfd_utils.config import ConfigError, load, parse, train_settings
from dfd_utils.config.training import ModelSettings, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
DEMO = yaml.safe_load((ROOT / "profiles" / "demo.yaml").read_text())


def with_change(path: str, value, base=DEMO) -> dict:
    params = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return params


@pytest.mark.parametrize("profile", ["smoke", "demo", "paper"])
def test_every_profile_parses(profile):
    study = load(ROOT / "profiles" / f"{profile}.yaml")
    loop, model = study.train_for("cnn3d")
    assert isinstance(loop, TrainConfig) and isinstance(model, ModelSettings)
    assert loop.seed == study.seed and loop.device == study.device


@pytest.mark.parametrize("path", ["train.epoch", "frames.num_frame", "flow.win_size", "data.synthetic.seem",
                                  "data.faces.jiter", "evaluate.top_k", "splits.testing", "real_faces.epochs",
                                  "real_faces.train.epoch", "real_faces.frames.face.hieght", "modles"])
def test_an_unknown_key_is_refused_by_its_dotted_name(path):
    with pytest.raises(ConfigError) as err:
        parse(with_change(path, 3))
    assert path.split(".")[-1] in str(err.value) and ("keys" in str(err.value))
    if path.count(".") >= 1 and not path.startswith("real_faces.frames"):
        assert path in str(err.value)
    assert str(err.value).startswith("params.yaml: ")


def test_the_known_keys_are_listed():
    with pytest.raises(ConfigError, match=r"unknown key train\.epoch; the keys of train are: epochs, patience"):
        parse(with_change("train.epoch", 3))


@pytest.mark.parametrize("path,value,message", [
    ("train.epochs", -1, "train.epochs must be >= 1"),
    ("train.epochs", 2.5, "train.epochs must be an integer"),
    ("train.lr", 0, "train.lr must be > 0"),
    ("train.precision", "fp8", "train.precision must be fp32, bf16 or fp16"),
    ("train.dropout", 1.0, "train.dropout must be < 1"),
    ("frames.num_frames", 0, "frames.num_frames must be >= 2"),
    ("frames.height", 0, "frames.height must be >= 16"),
    ("frames.crop", "nose", "frames.crop must be 'full' or 'face'"),
    ("flow.poly_n", 6, "flow.poly_n must be 5 or 7"),
    ("splits.val", 0.3, "splits: the shares must sum to 1"),
    ("splits.test", 0.0, "splits.test must be > 0"),
    ("data.fake_share", 1.0, "data.fake_share must be < 1"),
    ("data.fake_share", -0.5, "data.fake_share must be > 0"),
    ("data.num_videos", 1, "data.num_videos must be >= 2"),
    ("data.source", "youtube", "data.source must be one of synthetic, faces, dfdc, kaggle"),
    ("evaluate.threshold_grid", [], "evaluate.threshold_grid must hold at least one threshold"),
    ("device", "gpu", "device must be cpu, cuda or auto"),
    ("seed", -1, "seed must be >= 0"),
    ("real_faces.models", ["resnet"], "real_faces.models must name models of baseline"),
    ("train.backbone", "vgg16", "train.backbone must be one of resnet18, resnet34, resnet50, efficientnet_lite0"),
    ("models.cnn3d", {"backbone": "efficientnet-lite0"}, "backbone must be one of"),
])
def test_a_bad_value_names_the_key_and_the_allowed_range(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse(with_change(path, value))
    assert message in str(err.value)


def test_per_model_overrides_are_merged_in_one_place():
    study = parse(with_change("models.cnn3d", {"dropout": 0.1, "epochs": 2}))
    loop, model = study.train_for("cnn3d")
    assert (loop.epochs, model.dropout) == (2, 0.1)
    base_loop, base_model = study.train_for("baseline")
    assert (base_loop.epochs, base_model.dropout) == (DEMO["train"]["epochs"], DEMO["train"]["dropout"])
    with pytest.raises(ConfigError, match=r"models\.cnn3d\.dropuot"):
        parse(with_change("models.cnn3d", {"dropuot": 0.1}))
    with pytest.raises(ConfigError, match=r"unknown key models\.resnet"):
        parse(with_change("models.resnet", {}))


def test_efficientnet_lite0_with_imagenet_weights_validates():
    params = with_change("train.weights", "imagenet", with_change("train.backbone", "efficientnet_lite0"))
    study = parse(params)
    for name in ("baseline", "cnn3d"):
        _, model = study.train_for(name)
        assert (model.backbone, model.weights) == ("efficientnet_lite0", "imagenet")
    _, model = parse(with_change("models.cnn3d", {"backbone": "efficientnet_lite0"})).train_for("cnn3d")
    assert model.backbone == "efficientnet_lite0"


def test_missing_keys_take_the_dataclass_defaults():
    loop, model = train_settings({"epochs": 2})
    assert loop == TrainConfig(epochs=2) and model == ModelSettings()


def test_the_stage_command_stops_on_a_typo_before_any_work(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(with_change("train.epoch", 3)))
    out = subprocess.run([sys.executable, "-m", "dfd_utils.pipeline", "01_download_subset", "--params", str(params),
                          "--root", str(tmp_path / "study")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2, out.stderr
    assert f"{params}: unknown key train.epoch" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("path, value, message", [  # issue 29: types and ranges at load, by the dotted key
    ("train.class_weighting", "false", "train.class_weighting must be true or false"),
    ("train.channels_last", 1, "train.channels_last must be true or false"),
    ("train.lr", float("inf"), "train.lr must be a finite number"),
    ("train.dropout", float("nan"), "train.dropout must be a finite number"),
    ("seed", 2**64, "seed must be <= 4294967295"),
    ("workers", 2**70, "workers must be <= 9223372036854775807"),
    ("data.dfdc_path", [1, 2], "data.dfdc_path must be text (a string)"),
    ("data.source", ["dfdc"], "data.source must be text (a string)"),
    ("device", {"cuda": 0}, "device must be text (a string)"),
    ("data.synthetic.height", -72, "data.synthetic.height must be >= 16"),
    ("data.synthetic.fps", 0, "data.synthetic.fps must be > 0"),
    ("data.synthetic.duration_s", 0.01, "data.synthetic.duration_s: 0.01 s at 15.0 fps makes 1 frames"),
    ("real_faces.faces.fps", 0, "real_faces.faces.fps must be > 0"),
    ("evaluate.threshold_grid", [0.5, "x"], "evaluate.threshold_grid item 1: must be a number"),
    ("frames.jpeg_quality", 90.0, "frames.jpeg_quality must be an integer"),
])
def test_a_value_of_the_wrong_type_or_out_of_range_is_refused_at_load(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse(with_change(path, value))
    assert message in str(err.value) and str(err.value).startswith("params.yaml: ")


def test_a_params_file_is_read_with_aliases_and_duplicate_keys_refused(tmp_path):
    from dfd_utils.pipeline import YamlError, load_params

    path = tmp_path / "params.yaml"
    path.write_text("base: &b {seed: 1}\nother: *b\n")
    with pytest.raises(YamlError, match=r"params.yaml: not a valid parameters file \(line 2, column 8\): YAML alias"):
        load_params(path)
    path.write_text("train:\n  lr: 0.1\n  lr: 0.2\n")
    with pytest.raises(YamlError, match="key 'lr' is given twice"):
        load_params(path)
