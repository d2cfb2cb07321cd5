"""torchvision parity: our AlexNet, VGGs, ResNets, DenseNet-121 and GoogLeNet have torchvision's
state-dict keys (same order and shapes), load its checkpoints strictly and give its outputs.

torchvision models are built with random weights (``weights=None``; nothing is downloaded). To keep
the 100 M-parameter VGG heads cheap, both nets are built on the meta device, the torchvision one is
given CPU storage and random values (BatchNorm statistics included, so eval-mode BatchNorm matters),
and ours takes those very tensors with ``load_state_dict(strict=True, assign=True)``.
"""
import functools
import math

import pytest
import torch
import torchvision.models as tvm

from gantool.backbones import build_classifier

# name -> input size of the output comparison (224 for a few, smaller where the net is heavy).
PARITY = {
    "alexnet": 224, "vgg11": 32, "vgg11_bn": 32, "vgg13": 32, "vgg13_bn": 32, "vgg16": 32, "vgg16_bn": 32,
    "vgg19": 32, "vgg19_bn": 32, "resnet18": 224, "resnet34": 64, "resnet50": 37, "densenet121": 64,
    "googlenet": 224,
}


pytestmark = pytest.mark.usefixtures("single_thread")


def randomize_(tensors, seed=0):
    """Fill a state dict's tensors in place with random values (BatchNorm statistics included)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in tensors.items():
            if key.endswith("num_batches_tracked"):
                t.zero_()
            elif key.endswith("running_var"):
                t.uniform_(0.5, 1.5, generator=gen)
            elif t.dim() > 1:  # conv and linear weights: variance 1 / fan_in keeps activations in range
                bound = math.sqrt(3.0 / t[0].numel())
                t.uniform_(-bound, bound, generator=gen)
            elif key.endswith("weight"):  # BatchNorm scales
                t.uniform_(0.5, 1.5, generator=gen)
            else:  # biases, BatchNorm shifts and running means
                t.uniform_(-0.1, 0.1, generator=gen)
    return tensors


@functools.lru_cache(maxsize=1)
def vgg_head():
    """One random VGG classifier head (120 M parameters), shared by the eight VGGs to save time."""
    with torch.device("meta"):
        head = tvm.vgg11(weights=None).classifier
    return randomize_(head.to_empty(device="cpu").state_dict(), seed=1)


def torchvision_net(name):
    """torchvision's ``name`` with its default options, random weights and random BatchNorm statistics."""
    with torch.device("meta"):
        # googlenet: init_weights=False only skips the FutureWarning about its slow init; same keys.
        net = getattr(tvm, name)(weights=None, **({"init_weights": False} if name == "googlenet" else {}))
    if name.startswith("vgg"):
        randomize_(net.features.to_empty(device="cpu").state_dict())
        net.classifier.load_state_dict(vgg_head(), assign=True)
    else:
        randomize_(net.to_empty(device="cpu").state_dict())
    return net


def ours_from(name, state_dict, **options):
    with torch.device("meta"):
        net = build_classifier(name, in_channels=3, num_classes=1000, **options)
    net.load_state_dict(state_dict, strict=True, assign=True)
    return net


@pytest.mark.parametrize("name", sorted(PARITY))
@torch.no_grad()
def test_keys_and_outputs_match_torchvision(name):
    tv = torchvision_net(name)
    with torch.device("meta"):
        ours_meta = build_classifier(name, in_channels=3, num_classes=1000)
    ours_shapes = [(k, tuple(v.shape)) for k, v in ours_meta.state_dict().items()]
    assert ours_shapes == [(k, tuple(v.shape)) for k, v in tv.state_dict().items()]

    ours = ours_from(name, tv.state_dict())
    size = PARITY[name]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    expected = tv.eval()(x)
    assert expected.std() > 0.05  # the comparison is not between two near-constant outputs
    torch.testing.assert_close(ours.eval()(x), expected, rtol=1e-5, atol=1e-5)


def test_googlenet_training_outputs_match_torchvision():
    """In training mode both return (logits, aux_logits2, aux_logits1), dropout masks included."""
    tv = torchvision_net("googlenet")
    ours = ours_from("googlenet", tv.state_dict())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(3)
    expected = tv.train()(x)
    torch.manual_seed(3)
    got = ours.train()(x)
    assert len(got) == 3 and got._fields == expected._fields
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_googlenet_transform_input_matches_torchvision():
    with torch.device("meta"):
        tv = tvm.googlenet(weights=None, init_weights=False, transform_input=True)
    tv.to_empty(device="cpu").load_state_dict(torchvision_net("googlenet").state_dict())
    ours = ours_from("googlenet", tv.state_dict(), transform_input=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_small_input_stems_load_torchvision_checkpoints():
    """The small-input stems keep every parameter shape, so the same checkpoint loads strictly."""
    for name in ("resnet18", "googlenet", "densenet121"):
        state = torchvision_net(name).state_dict()
        net = ours_from(name, state, small_input=True).eval()
        assert net(torch.randn(1, 3, 28, 28)).shape == (1, 1000)
