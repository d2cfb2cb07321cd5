"""Classifier backbones: every registry entry at 28/32/64 px with 1 and 3 channels, the
features/head contract, small-input stems, safe pools, GoogLeNet outputs, and a training step."""
import pytest
import torch
import torch.nn as nn

from gantool.backbones import CLASSIFIERS, build_classifier
from gantool.backbones.layers import AvgPool2d, MaxPool2d
from gantool.errors import UnknownNameError

NAMES = ["lenet", "lenet5_classic", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
         "vgg19", "vgg19_bn", "nin", "googlenet", "resnet18", "resnet34", "resnet50", "densenet121", "densenet_small"]
TRUNK_CHANNELS = {"lenet": 16, "lenet5_classic": 16, "alexnet": 256, "nin": 384, "googlenet": 1024, "resnet18": 512,
                  "resnet34": 512, "resnet50": 2048, "densenet121": 1024, "densenet_small": 248,
                  **{n: 512 for n in NAMES if "vgg" in n}}
# Cheap enough to build with real weights and run on the CPU (the VGG family shares vgg11_bn's code;
# the parity tests run all eight VGGs for real).
REAL = ["lenet", "lenet5_classic", "alexnet", "vgg11_bn", "nin", "googlenet", "resnet18", "resnet34", "resnet50",
        "densenet121", "densenet_small"]


pytestmark = pytest.mark.usefixtures("single_thread")


def test_registry_names():
    assert CLASSIFIERS.names() == sorted(NAMES)
    with pytest.raises(UnknownNameError, match="choose from: alexnet, densenet121"):
        build_classifier("resnet19")


def shape_only(name, **options):
    """The classifier in eval mode, built on the meta device, with real (zeroed) CPU storage for the
    trunk only: the head stays on the meta device, which computes shapes without storage, so the
    100 M-parameter VGG heads cost nothing (the parity tests run them for real). The trunk runs on
    the CPU because the meta device's kernels are slower than the CPU's on these small inputs."""
    with torch.device("meta"):
        net = build_classifier(name, **options)
    trunk = net.features.to_empty(device="cpu")  # a view for ResNet and GoogLeNet: fills the net's own modules
    with torch.no_grad():
        for t in list(trunk.parameters()) + list(trunk.buffers()):
            t.zero_()
    return net.eval()


# (small_input, in_channels): both stems, both channel counts; the parity tests add (False, 3).
SHAPE_CASES = [(False, 1), (True, 3)]
# How far a trunk's output side may be from size / trunk_stride. lenet5_classic's convolutions are
# unpadded (32 -> 28 -> 14 -> 10 -> 5), so its maps are H/4 - 3 from 32 px up.
STRIDE_SLACK = {"lenet5_classic": 3.5}


@pytest.mark.parametrize("name", NAMES)
@torch.no_grad()
def test_shapes_at_small_and_medium_sizes(name):
    """Every classifier, default and small-input stem, 1 and 3 channels, at 28, 32 and 64 px
    (torchvision's own AlexNet, VGG and DenseNet raise "Output size is too small" at 28 px).
    ``forward == forward_head(forward_features)`` is checked on real numbers below."""
    at_28 = {}
    for small, channels in SHAPE_CASES:
        net = shape_only(name, in_channels=channels, num_classes=7, small_input=small)
        assert net.trunk_channels == TRUNK_CHANNELS[name]
        for size in (28, 32, 64):
            f = net.features(torch.zeros(1, channels, size, size + 4))
            assert f.device.type == "cpu" and f.shape[:2] == (1, net.trunk_channels)
            # The nominal stride is the real one, up to the rounding of odd sizes.
            h = f.shape[2]
            assert 1 <= h and abs(h - size / net.trunk_stride) < STRIDE_SLACK.get(name, 2.5), \
                (name, small, size, h, net.trunk_stride)
            assert net.forward_head(f.to("meta")).shape == (1, 7), (name, small, channels, size)
            at_28.setdefault(small, h)
    # The small-input stem keeps more of a 28 px image (LeNet has no stem to change).
    if name in ("lenet", "lenet5_classic"):
        assert at_28[True] == at_28[False] == 5
    else:
        assert at_28[False] == 1 and at_28[True] >= 2, at_28


@pytest.mark.parametrize("name", REAL)
def test_real_forward_and_head_contract(name):
    """Real numbers at 28 px (1 channel) and 32 px (3 channels); forward == head(features)."""
    torch.manual_seed(0)
    # One VGG build only: its head takes a second to initialise.
    for channels, size in ((1, 28),) if "vgg" in name else ((1, 28), (3, 32)):
        net = build_classifier(name, in_channels=channels, num_classes=5).eval()
        x = torch.randn(2, channels, size, size)
        with torch.no_grad():
            y = net(x)
            f = net.forward_features(x)
            assert y.shape == (2, 5) and torch.isfinite(y).all()
            assert f.shape[1] == net.trunk_channels
            torch.testing.assert_close(net.forward_head(f), y)
            torch.testing.assert_close(net.features(x), f)


def test_224_inputs():
    torch.manual_seed(0)
    for name in ("lenet", "densenet_small", "nin"):
        net = build_classifier(name, in_channels=3, num_classes=4).eval()
        with torch.no_grad():
            assert net(torch.randn(1, 3, 224, 224)).shape == (1, 4)


def test_lenet_classic_arithmetic():
    net = build_classifier("lenet", in_channels=1, num_classes=10)
    assert net.features[0].padding == (2, 2)
    assert sum(p.numel() for p in net.features[0].parameters()) == 156
    assert sum(p.numel() for p in net.parameters()) == 61706
    with torch.no_grad():
        assert net.features(torch.randn(1, 1, 28, 28)).shape == (1, 16, 5, 5)  # the classic 16x5x5
    assert isinstance(build_classifier("lenet", activation="relu").features[1], nn.ReLU)
    assert isinstance(net.features[1], nn.Sigmoid)
    with pytest.raises(ValueError, match="activation"):
        build_classifier("lenet", activation="swish")  # tanh is a choice now (gantool.ops.activations)


def test_vgg_configurations():
    with torch.device("meta"):
        for depth, convs in ((11, 8), (13, 10), (16, 13), (19, 16)):
            plain, bn = build_classifier(f"vgg{depth}"), build_classifier(f"vgg{depth}_bn")
            assert sum(isinstance(m, nn.Conv2d) for m in plain.features) == convs
            assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.features) == convs
            assert sum(isinstance(m, nn.BatchNorm2d) for m in plain.features) == 0


def test_nin_blocks_and_global_pooling():
    net = build_classifier("nin", in_channels=1, num_classes=10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert sum(m.kernel_size == (1, 1) for m in convs) == 8  # two 1x1 convs in each of the 4 blocks
    assert not any(isinstance(m, nn.Linear) for m in net.modules())
    assert isinstance(net.classifier[2], nn.AdaptiveAvgPool2d)


def test_resnet_projection_shortcuts_and_dilation():
    net = build_classifier("resnet18")
    assert net.layer1[0].downsample is None
    proj = net.layer2[0].downsample
    assert proj[0].kernel_size == (1, 1) and proj[0].stride == (2, 2)
    assert build_classifier("resnet50").layer1[0].downsample is not None  # 64 -> 256 channels
    with torch.device("meta"):
        dilated = build_classifier("resnet18", replace_stride_with_dilation=(False, True, True))
        assert dilated.trunk_stride == 8
        assert dilated.features(torch.empty(1, 3, 64, 64)).shape == (1, 512, 8, 8)
        assert dilated.layer4[1].conv1.dilation == (4, 4)


def test_densenet_blocks_and_transitions():
    net = build_classifier("densenet_small")
    names = [n for n, _ in net.features.named_children()]
    assert names == ["conv0", "norm0", "relu0", "pool0", "denseblock1", "transition1", "denseblock2",
                     "transition2", "denseblock3", "transition3", "denseblock4", "norm5"]
    with torch.no_grad():
        block = net.features.denseblock1.eval()
        assert block(torch.randn(1, 64, 8, 8)).shape == (1, 64 + 4 * 32, 8, 8)


def test_googlenet_outputs():
    torch.manual_seed(0)
    net = build_classifier("googlenet", in_channels=1, num_classes=6)
    assert net.aux1 is not None and net.aux2 is not None
    x = torch.randn(2, 1, 32, 32)
    out = net.train()(x)
    assert [t.shape for t in out] == [(2, 6)] * 3
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    with torch.no_grad():
        assert net.eval()(x).shape == (2, 6)
        plain = build_classifier("googlenet", in_channels=1, num_classes=6, aux_logits=False)
    assert plain.aux1 is None and plain.train()(x).shape == (2, 6)
    with pytest.raises(ValueError, match="transform_input"):
        build_classifier("googlenet", in_channels=1, transform_input=True)


def test_training_step_updates_weights():
    torch.manual_seed(0)
    for name, small in (("resnet18", True), ("densenet_small", False), ("lenet", False)):
        net = build_classifier(name, in_channels=1, num_classes=3, small_input=small).train()
        before = [p.detach().clone() for p in net.parameters()]
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = nn.functional.cross_entropy(net(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 0]))
        loss.backward()
        opt.step()
        assert all(p.grad is not None for p in net.parameters()), name
        assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters())), name


def test_trunk_view_shares_parameters():
    net = build_classifier("resnet18")
    trunk = net.features
    assert trunk.layer1 is net.layer1 and "fc" not in dict(trunk.named_children())
    assert net.classifier is net.fc
    shared = {id(p) for p in trunk.parameters()}
    assert shared == {id(p) for n, p in net.named_parameters() if not n.startswith("fc.")}


def test_safe_pools_match_torch_and_never_shrink_to_zero():
    x = torch.randn(2, 3, 9, 7)
    for ours, ref in ((MaxPool2d(3, 2), nn.MaxPool2d(3, 2)), (MaxPool2d(3, 2, ceil_mode=True), nn.MaxPool2d(3, 2, ceil_mode=True)),
                      (AvgPool2d(2, 2), nn.AvgPool2d(2, 2)), (MaxPool2d(3, 1, padding=1), nn.MaxPool2d(3, 1, padding=1))):
        assert torch.equal(ours(x), ref(x))
    tiny = torch.randn(2, 3, 2, 1)
    with pytest.raises(RuntimeError):
        nn.MaxPool2d(3, 2)(tiny)
    assert torch.equal(MaxPool2d(3, 2)(tiny), tiny.amax(dim=(2, 3), keepdim=True))
    one_row = torch.randn(2, 3, 1, 6)
    torch.testing.assert_close(AvgPool2d(2, 2)(one_row), nn.functional.avg_pool2d(one_row, (1, 2), (1, 2)))
    assert torch.equal(AvgPool2d(2, 2)(tiny[..., :1, :]), tiny[..., :1, :])
