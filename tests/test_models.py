"""Every shape the paper's tables state, the I3D identity, weights loading, checkpoints."""

import logging
import os

import pytest
import torch

from dfd_utils.models import MODELS, build_model, load_checkpoint, save_checkpoint
from dfd_utils.models.backbone import WeightsUnavailable, imagenet_weights_file, resnet
from dfd_utils.models.cnn3d import inflate
from dfd_utils.models.layers import FlowCNN

torch.manual_seed(0)
FRAME = torch.randint(0, 256, (2, 3, 108, 192), dtype=torch.uint8)  # (B, 3, H, W)
FLOW = torch.randn(2, 2, 108, 192)
CLIP = torch.randint(0, 256, (2, 16, 3, 108, 192), dtype=torch.uint8)  # (B, T, 3, H, W)
CLIP_FLOW = torch.randn(2, 16, 2, 108, 192)


@pytest.fixture(scope="module")
def resnet50_models():
    return {name: build_model(name).eval() for name in ("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn")}


def test_table2_baseline_shapes(resnet50_models):
    m = resnet50_models["baseline"]
    with torch.no_grad():
        features = m.cnn(m.normalize(FRAME))
        assert features.shape == (2, 2048, 4, 6)  # the arithmetic; Table 2 says (7, 7, 2048): errata
        assert m(FRAME).shape == (2,)


def test_flow_stream_shapes_of_tables_3_and_4():
    stream = FlowCNN()
    with torch.no_grad():
        assert stream.features(FLOW).shape == (2, 64, 25, 46)  # Table 4: (16, 25, 46, 64)
        assert stream.feature_shape == (64, 25, 46) and 64 * 25 * 46 == 73_600
        assert stream(FLOW).shape == (2, 128)


def test_table3_two_stream_frame(resnet50_models):
    m = resnet50_models["two_stream_frame"]
    assert m.spatial[0].in_features == 2048 and m.spatial[0].out_features == 128
    assert m.head[0].in_features == 256
    with torch.no_grad():
        assert m(FRAME, FLOW).shape == (2,)


def test_table4_two_stream_video_layer_by_layer(resnet50_models):
    m = resnet50_models["two_stream_video"]
    assert (m.spatial_frame[0].in_features, m.spatial_frame[0].out_features) == (2048, 128)
    assert (m.spatial_clip[0].in_features, m.spatial_clip[0].out_features) == (2048, 512)  # 16 x 128 = 2048
    assert (m.temporal_frame.project[1].in_features, m.temporal_frame.project[1].out_features) == (73_600, 128)
    assert (m.temporal_clip[0].in_features, m.temporal_clip[0].out_features) == (2048, 512)
    assert m.head[1].in_features == 1024
    with torch.no_grad():
        assert m(CLIP, CLIP_FLOW).shape == (2,)
    with pytest.raises(ValueError, match="built for 16 frames"):
        m(CLIP[:, :8], CLIP_FLOW[:, :8])


def test_table5_cnn_rnn(resnet50_models):
    m = resnet50_models["cnn_rnn"]
    assert m.frame_features[0].in_features == 2048 and m.lstm.input_size == 128 and m.lstm.hidden_size == 128
    with torch.no_grad():
        assert m(CLIP).shape == (2,)


def test_table6_cnn3d_shapes():
    m = build_model("cnn3d").eval()
    clip = torch.randint(0, 256, (1, 16, 3, 224, 224), dtype=torch.uint8)
    with torch.no_grad():
        assert m.features(clip).shape == (1, 2048, 4, 7, 7)  # Table 6: (4, 7, 7, 2048)
        assert m(clip).shape == (1,)


def test_inflated_network_gives_the_2d_output_on_a_boring_video():
    torch.manual_seed(1)
    base = resnet("resnet18")
    base.eval()
    from dfd_utils.models.backbone import trunk

    trunk2d = trunk(base)
    trunk3d = inflate(trunk2d)
    frame = torch.randn(1, 3, 64, 96)
    clip = frame.unsqueeze(2).repeat(1, 1, 16, 1, 1)  # (1, 3, 16, 64, 96): 16 identical frames
    with torch.no_grad():
        out2d = trunk2d(frame)  # (1, 512, 2, 3)
        out3d = trunk3d(clip)  # (1, 512, 4, 2, 3)
    for t in range(out3d.shape[2]):
        torch.testing.assert_close(out3d[:, :, t], out2d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["two_stream_frame", "two_stream_video"])
def test_gradients_reach_both_streams(name):
    m = build_model(name, backbone="resnet18")
    x, f = (FRAME, FLOW) if name == "two_stream_frame" else (CLIP, CLIP_FLOW)
    m(x, f).sum().backward()
    assert m.cnn[0].weight.grad.abs().sum() > 0  # spatial stream, first conv
    stream = m.temporal if name == "two_stream_frame" else m.temporal_frame
    assert stream.features[0].weight.grad.abs().sum() > 0  # temporal stream, first conv


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_saves_and_loads_with_weights_only(tmp_path, name):
    cfg = {"backbone": "resnet18"}
    if name == "cnn3d":
        inputs = (torch.randint(0, 256, (1, 16, 3, 32, 32), dtype=torch.uint8),)
    elif name == "two_stream_video":
        inputs = (CLIP[:1], CLIP_FLOW[:1])
    elif name == "two_stream_frame":
        inputs = (FRAME, FLOW)
    elif name == "cnn_rnn":
        inputs = (CLIP[:1],)
    else:
        inputs = (FRAME,)
    m = build_model(name, **cfg).eval()
    save_checkpoint(tmp_path / "m.pt", m, name, cfg, extra={"threshold": 0.4})
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["model"] == name and payload["threshold"] == 0.4
    loaded, _ = load_checkpoint(tmp_path / "m.pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs), m(*inputs))


def test_the_same_weights_saved_twice_are_the_same_bytes(tmp_path):
    """DVC hashes checkpoints: two runs that train the same weights must write the same file, whatever its path
    and the writing process (torch names its zip root after the file: a temp name made every save differ)."""
    import zipfile

    torch.manual_seed(0)
    cfg = {"backbone": "resnet18", "hidden": 8, "lstm_hidden": 8}
    model = build_model("cnn_rnn", weights=None, **cfg)
    save_checkpoint(tmp_path / "a" / "cnn_rnn.pt", model, "cnn_rnn", cfg)
    save_checkpoint(tmp_path / "b" / "other.pt", model, "cnn_rnn", cfg)
    first, second = (tmp_path / "a" / "cnn_rnn.pt").read_bytes(), (tmp_path / "b" / "other.pt").read_bytes()
    assert first == second
    roots = {name.split("/")[0] for name in zipfile.ZipFile(tmp_path / "a" / "cnn_rnn.pt").namelist()}
    assert roots == {"archive"}, roots
    assert not list((tmp_path / "a").glob(".*")), "no temp file left beside it"


def test_a_wrong_checkpoint_gets_a_clear_error(tmp_path):
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a dfd checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"nope")
    with pytest.raises(ValueError, match="junk.pt: not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_imagenet_weights_load_from_the_hub_cache(torch_home):
    url, cached = imagenet_weights_file("resnet18")
    assert str(cached).startswith(str(torch_home)) and cached.name == os.path.basename(url)
    reference = resnet("resnet18")
    with torch.no_grad():
        reference.conv1.weight.fill_(0.125)
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    loaded = resnet("resnet18", weights="imagenet")
    torch.testing.assert_close(loaded.conv1.weight, reference.conv1.weight)


def test_missing_imagenet_weights_name_the_file_to_place(torch_home, monkeypatch):
    import torch.hub

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    _, cached = imagenet_weights_file("resnet18")
    with pytest.raises(WeightsUnavailable) as err:
        resnet("resnet18", weights="imagenet")
    assert str(cached) in str(err.value) and "network is unreachable" in str(err.value)


def test_fallback_to_random_weights_only_when_asked(torch_home, monkeypatch, caplog):
    import torch.hub

    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with caplog.at_level(logging.WARNING):
        model = build_model("baseline", backbone="resnet18", weights="imagenet", weights_fallback=True)
    assert model is not None and "Falling back to random weights" in caplog.text


def test_local_weights_file(tmp_path):
    reference = resnet("resnet18")
    torch.save({"state_dict": reference.state_dict()}, tmp_path / "w.pth")
    loaded = resnet("resnet18", weights=tmp_path / "w.pth")
    torch.testing.assert_close(loaded.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)
    with pytest.raises(WeightsUnavailable, match="nope.pth: weights file does not exist"):
        resnet("resnet18", weights=tmp_path / "nope.pth")
    torch.save(resnet("resnet34").state_dict(), tmp_path / "r34.pth")
    with pytest.raises(WeightsUnavailable, match="do not fit resnet18"):
        resnet("resnet18", weights=tmp_path / "r34.pth")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown model 'vit'"):
        build_model("vit")
    with pytest.raises(ValueError, match="unknown backbone"):
        resnet("vgg16")
