"""Tests for gantool.networks: classic key lists, forward shapes, norm/init choices, padding."""
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from gantool.errors import UnknownNameError
from gantool.networks import (
    DISCRIMINATORS,
    GENERATORS,
    crop_to,
    define_D,
    define_G,
    get_norm_layer,
    init_weights,
    pad_to_multiple,
)
from gantool.networks.resnet_generator import ResnetGenerator


pytestmark = pytest.mark.usefixtures("single_thread")


KEYS_FILE = Path(__file__).with_name("classic_network_keys.txt")
HEADING = re.compile(r"^## (?P<name>\w+)\b(?P<settings>.*): (?P<entries>\d+) entries, (?P<params>\d+) parameters$")


def _parse_key_sections():
    """Read the reference file into [(heading, settings dict, [(key, shape)], n_params)]."""
    sections = []
    for line in KEYS_FILE.read_text().splitlines():
        match = HEADING.match(line)
        if match:
            text = match["settings"]
            settings = {
                "name": match["name"],
                "width": int(re.search(r"\bn[gd]f (\d+)", text)[1]),
                "norm": re.search(r"\b(\w+) norm\b", text)[1],
                "input_nc": int(re.search(r"\binput (\d+)", text)[1]) if "input " in text else 3,
                "dropout": bool(re.search(r"\bdropout\b", text, re.I)) and "no dropout" not in text,
                "n_layers_D": int(re.search(r"n_layers_D=(\d+)", text)[1]) if "n_layers_D=" in text else 3,
            }
            sections.append((line[3:], settings, [], int(match["params"]), int(match["entries"])))
        elif line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")
            sections[-1][2].append((key, shape))
    return sections


KEY_SECTIONS = _parse_key_sections()


def test_reference_file_is_complete():
    assert len(KEY_SECTIONS) >= 8
    for heading, _, keys, _, n_entries in KEY_SECTIONS:
        assert len(keys) == n_entries, heading


@pytest.mark.parametrize("section", KEY_SECTIONS, ids=[s[0].split(":")[0] for s in KEY_SECTIONS])
def test_classic_state_dict_keys(section):
    heading, s, expected_keys, expected_params, _ = section
    if s["name"] in GENERATORS:
        net = define_G(s["input_nc"], 3, s["width"], s["name"], s["norm"], s["dropout"])
    else:
        net = define_D(s["input_nc"], s["width"], s["name"], s["n_layers_D"], s["norm"])
    actual = [(k, str(tuple(v.shape))) for k, v in net.state_dict().items()]
    assert actual == expected_keys, heading
    assert sum(p.numel() for p in net.parameters()) == expected_params


def _generator_sizes(size_multiple):
    """A square and a non-square input size per generator: smallest multiple >= 32, then 2x wide."""
    side = size_multiple * max(1, -(-32 // size_multiple))
    return [(side, side), (side, 2 * side)]


@pytest.mark.parametrize("name", GENERATORS.names())
@pytest.mark.parametrize("input_nc,output_nc", [(1, 1), (1, 3), (3, 1), (3, 3)])
def test_generator_forward(name, input_nc, output_nc):
    torch.manual_seed(0)
    net = define_G(input_nc, output_nc, ngf=8, netG=name, norm="instance", use_dropout=True)
    assert isinstance(net.size_multiple, int) and net.size_multiple >= 1
    with torch.no_grad():
        for h, w in _generator_sizes(net.size_multiple):
            x = torch.rand(1, input_nc, h, w) * 2 - 1
            y = net(x)
            assert y.shape == (1, output_nc, h, w)
            assert torch.isfinite(y).all()
            assert y.abs().max() <= 1  # Tanh output


def test_generator_size_multiples():
    assert define_G(3, 3, 8, "resnet_9blocks").size_multiple == 4
    assert define_G(3, 3, 8, "unet_128").size_multiple == 128
    assert define_G(3, 3, 8, "unet_256").size_multiple == 256


@pytest.mark.parametrize("name", DISCRIMINATORS.names())
@pytest.mark.parametrize("input_nc", [1, 3, 6])
def test_discriminator_forward(name, input_nc):
    net = define_D(input_nc, ndf=8, netD=name, norm="batch")
    for size in (32, 64):
        x = torch.rand(2, input_nc, size, size + 16) * 2 - 1
        # The contract: raw logits (N, 1, H', W') or (N, 1), or a list of them (U-Net discriminator).
        y = net(x)
        outputs = list(y) if isinstance(y, (list, tuple)) else [y]
        for y in outputs:
            assert y.shape[:2] == (2, 1) and all(side >= 1 for side in y.shape[2:])
            assert torch.isfinite(y).all()
        sum(y.mean() for y in outputs).backward()  # trainable end to end


@pytest.mark.parametrize(
    "netD,n_layers_D,side",
    [("basic", 3, 30), ("n_layers", 3, 30), ("n_layers", 5, 6), ("n_layers", 1, 126), ("pixel", 3, 256)],
)
def test_patchgan_map_size(netD, n_layers_D, side):
    net = define_D(3, ndf=4, netD=netD, n_layers_D=n_layers_D, norm="instance")
    with torch.no_grad():
        y = net(torch.zeros(1, 3, 256, 256))
    assert y.shape == (1, 1, side, side)


def test_discriminator_outputs_raw_logits():
    net = define_D(3, ndf=8, netD="pixel", norm="none", init_gain=1.0)
    with torch.no_grad():
        y = net(torch.rand(1, 3, 16, 16) * 20 - 10)
    assert (y < 0).any() or (y > 1).any()  # not squashed by a sigmoid


def test_norm_layers():
    batch = get_norm_layer("batch")(5)
    assert isinstance(batch, nn.BatchNorm2d) and batch.affine and batch.track_running_stats
    inst = get_norm_layer("instance")(5)
    assert isinstance(inst, nn.InstanceNorm2d) and not inst.affine and not inst.track_running_stats
    none = get_norm_layer("none")(5)
    x = torch.randn(2, 5, 3, 3)
    assert torch.equal(none(x), x) and not list(none.parameters())


def test_norm_none_builds_and_runs():
    g = define_G(3, 3, ngf=8, netG="resnet_6blocks", norm="none")
    assert g(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize(
    "call,choices",
    [
        (lambda: get_norm_layer("group"), ["batch", "instance", "none"]),
        (lambda: define_G(3, 3, netG="resnet_12blocks"), GENERATORS.names()),
        (lambda: define_D(3, netD="giant"), DISCRIMINATORS.names()),
        (lambda: define_G(3, 3, ngf=4, norm="layer"), ["batch", "instance", "none"]),
        (lambda: init_weights(nn.Conv2d(1, 1, 1), "uniform"), ["normal", "xavier", "kaiming", "orthogonal"]),
        (lambda: init_weights(nn.ReLU(), "uniform"), ["normal", "xavier", "kaiming", "orthogonal"]),
    ],
    ids=["norm", "netG", "netD", "define_G-norm", "init_type", "init_type-no-conv"],
)
def test_unknown_names_list_choices(call, choices):
    with pytest.raises(UnknownNameError) as info:
        call()
    assert isinstance(info.value, ValueError)
    for choice in choices:
        assert choice in str(info.value)


def test_init_normal_matches_classic():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 32, 3), nn.Linear(8, 8))
    init_weights(net, "normal", 0.02)
    conv, bn, deconv, linear = net
    for m in (conv, deconv, linear):
        assert abs(m.weight.std().item() - 0.02) < 0.002 and abs(m.weight.mean().item()) < 0.002
        assert torch.all(m.bias == 0)
    assert abs(bn.weight.mean().item() - 1) < 0.01 and 0 < bn.weight.std().item() < 0.04
    assert torch.all(bn.bias == 0)


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_types(init_type):
    torch.manual_seed(0)
    net = init_weights(nn.Sequential(nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32)), init_type, 0.02)
    conv, bn = net
    assert torch.isfinite(conv.weight).all() and torch.all(conv.bias == 0)
    assert torch.all(bn.bias == 0)
    if init_type == "orthogonal":
        rows = conv.weight.flatten(1)  # (32, 144): orthogonal rows scaled by the gain
        assert torch.allclose(rows @ rows.T, 0.02**2 * torch.eye(32), atol=1e-6)


@pytest.mark.parametrize("h,w", [(1, 1), (2, 3), (3, 2), (5, 7), (37, 53), (64, 64), (8, 9)])
@pytest.mark.parametrize("multiple", [1, 4, 16])
def test_pad_crop_round_trip(h, w, multiple):
    x = torch.randn(2, 3, h, w)
    padded, size = pad_to_multiple(x, multiple)
    assert size == (h, w)
    assert padded.shape[:2] == (2, 3)
    assert padded.shape[2] % multiple == 0 and padded.shape[3] % multiple == 0
    assert h <= padded.shape[2] < h + multiple and w <= padded.shape[3] < w + multiple
    assert torch.equal(crop_to(padded, size), x)


def test_pad_uses_reflection_when_it_fits():
    x = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 4, 5)
    padded, _ = pad_to_multiple(x, 8)  # width 5 -> 8: pad 3 < 5, so reflect
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1]
    tiny, _ = pad_to_multiple(torch.ones(1, 1, 2, 2), 8)  # pad 6 >= 2, so replicate
    assert tiny.shape == (1, 1, 8, 8) and torch.all(tiny == 1)


def test_pad_rejects_bad_arguments():
    with pytest.raises(ValueError):
        pad_to_multiple(torch.zeros(3, 8, 8), 4)
    with pytest.raises(ValueError):
        pad_to_multiple(torch.zeros(1, 3, 8, 8), 0)


def test_resnet_on_odd_size_after_padding():
    net = ResnetGenerator(3, 3, ngf=8, norm_layer=get_norm_layer("instance"), n_blocks=2).eval()
    x = torch.rand(1, 3, 37, 53) * 2 - 1
    with torch.no_grad():
        padded, size = pad_to_multiple(x, net.size_multiple)
        y = crop_to(net(padded), size)
    assert padded.shape[-2:] == (40, 56)
    assert y.shape == (1, 3, 37, 53)


@pytest.mark.parametrize("name", GENERATORS.names())
def test_generator_backward_in_train_mode(name):
    # The U-Net's in-place LeakyReLUs rewrite tensors autograd may need; training must still work.
    net = define_G(3, 3, ngf=4, netG=name, norm="batch", use_dropout=True).train()
    side = _generator_sizes(net.size_multiple)[0][0]
    net(torch.rand(2, 3, side, side) * 2 - 1).mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
