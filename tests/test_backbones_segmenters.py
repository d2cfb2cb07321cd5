"""Segmenters: FCN on classifier trunks and U-Net give (N, num_classes, H, W) logits at any size."""
import pytest
import torch
import torch.nn.functional as F

from gantool.backbones import CLASSIFIERS, FCN, SEGMENTERS, UNet, build_classifier, build_segmenter
from gantool.backbones.fcn import bilinear_kernel
from gantool.errors import UnknownNameError


pytestmark = pytest.mark.usefixtures("single_thread")


def test_registry_names():
    assert SEGMENTERS.names() == ["fcn_resnet18", "fcn_resnet34", "fcn_resnet50", "fcn_vgg16", "unet"]
    with pytest.raises(UnknownNameError, match="--netS 'fcn'; choose from: fcn_resnet18"):
        build_segmenter("fcn", 3, 2)


@pytest.mark.parametrize("name", ["fcn_resnet18", "fcn_resnet34", "fcn_resnet50", "fcn_vgg16", "unet"])
@torch.no_grad()
def test_logits_at_odd_sizes(name):
    torch.manual_seed(0)
    for channels, (h, w) in ((3, (37, 53)), (1, (64, 33))):
        net = build_segmenter(name, in_channels=channels, num_classes=5).eval()
        y = net(torch.randn(2, channels, h, w))
        assert y.shape == (2, 5, h, w) and torch.isfinite(y).all()


@torch.no_grad()
def test_dilated_and_small_input_fcn_keep_resolution():
    x = torch.randn(1, 3, 37, 53)
    for options in ({"replace_stride_with_dilation": (False, True, True)}, {"small_input": True}):
        net = build_segmenter("fcn_resnet18", 3, 4, **options).eval()
        assert net.output_stride == 8
        assert net.backbone(torch.randn(1, 3, 40, 56)).shape == (1, 512, 5, 7)
        assert net(x).shape == (1, 4, 37, 53)
    vgg = build_segmenter("fcn_vgg16", 3, 4, small_input=True)
    assert vgg.output_stride == 8 and vgg(x).shape == (1, 4, 37, 53)


def test_fcn_backbone_keys_are_torchvision_resnet_keys():
    """fcn_resnet* hold the trunk under torchvision's names, so a ResNet classifier checkpoint
    (without ``fc``) loads into ``backbone`` strictly."""
    fcn = build_segmenter("fcn_resnet18", 3, 21)
    assert "backbone.layer4.1.bn2.running_var" in fcn.state_dict()
    classifier = build_classifier("resnet18", 3, 1000)
    trunk_state = {k: v for k, v in classifier.state_dict().items() if not k.startswith("fc.")}
    fcn.backbone.load_state_dict(trunk_state, strict=True)
    assert torch.equal(fcn.backbone.conv1.weight, classifier.conv1.weight)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS.names()))
@torch.no_grad()
def test_fcn_on_any_classifier_trunk(name):
    """``FCN.from_classifier`` works on every trunk, including the unaligned AlexNet/NiN/LeNet ones."""
    with torch.device("meta"):
        net = build_classifier(name, in_channels=1, num_classes=3)
        fcn = FCN.from_classifier(net, num_classes=6).eval()
        assert fcn(torch.empty(1, 1, 37, 53)).shape == (1, 6, 37, 53)
        assert fcn.backbone.state_dict().keys() == net.features.state_dict().keys()


def test_fcn_upsampling_starts_bilinear():
    s = 8
    ones = torch.ones(1, 3, 4, 4)
    up = F.conv_transpose2d(ones, bilinear_kernel(3, 2 * s), stride=s, padding=s // 2)
    assert up.shape == (1, 3, 32, 32)
    torch.testing.assert_close(up[..., s:-s, s:-s], torch.ones(1, 3, 16, 16))  # constant stays constant
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    got = F.conv_transpose2d(ramp, bilinear_kernel(1, 2 * s), stride=s, padding=s // 2)[0, 0, s, s:-s]
    diffs = got.diff()
    torch.testing.assert_close(diffs, torch.full_like(diffs, 1 / s))  # a ramp stays a ramp


def test_unet_options_and_gradients():
    net = UNet(in_channels=2, num_classes=3, base_channels=8, depth=3)
    assert net.pad_multiple == 8 and net.trunk_channels == 64
    x = torch.randn(2, 2, 21, 30)
    loss = F.cross_entropy(net(x), torch.randint(0, 3, (2, 21, 30)))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
