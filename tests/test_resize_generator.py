"""``--netG resnet_6blocks_resize / resnet_9blocks_resize``: the ResNet generator with resize-convolution
upsampling (no checkerboard), its own names beside the classic ones, and a CLI round trip."""

import pytest
import torch
import torch.nn as nn
from conftest import TINY, run_cli, train_tiny_cycle_gan

from gantool.networks import define_G
from gantool.networks.resnet_generator import UPSAMPLES, ResnetGenerator

pytestmark = pytest.mark.usefixtures("single_thread")


def _upsampler(kind: str) -> nn.Sequential:
    torch.manual_seed(0)
    layers = nn.Sequential(*UPSAMPLES[kind](4, 4, True))
    with torch.no_grad():
        for p in layers.parameters():
            p.copy_(torch.rand(p.shape) + 0.5)  # positive weights: no cancellation can hide a pattern
    return layers


def test_resize_upsampling_has_no_checkerboard_where_the_transposed_one_has():
    # A constant input must give a constant output away from the borders: every output pixel of the resize
    # convolution sees the same weights; the stride-2 transposed 3x3 convolution gives even and odd pixels
    # different numbers of taps (Odena et al. 2016), the checkerboard.
    x = torch.ones(1, 4, 8, 8)
    with torch.no_grad():
        resize, transposed = _upsampler("resize")(x), _upsampler("transposed")(x)
    assert resize.shape == transposed.shape == (1, 4, 16, 16)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert resize[inner].std(dim=(2, 3)).max() < 1e-5
    assert transposed[inner].std(dim=(2, 3)).min() > 0.1
    # The transposed pattern has period 2: the four phases differ, each phase is flat.
    phases = [transposed[inner][..., i::2, j::2] for i in (0, 1) for j in (0, 1)]
    assert all(p.std(dim=(2, 3)).max() < 1e-5 for p in phases)
    assert len({round(p[0, 0].mean().item(), 3) for p in phases}) > 1


@pytest.mark.parametrize("blocks", [6, 9])
def test_same_size_and_shapes_as_the_classic_generator_other_decoder_keys(blocks):
    resize = define_G(3, 3, 8, f"resnet_{blocks}blocks_resize", "instance")
    classic = define_G(3, 3, 8, f"resnet_{blocks}blocks", "instance")
    count = sum(p.numel() for p in resize.parameters())
    assert count == sum(p.numel() for p in classic.parameters())  # a 3x3 kernel either way
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = resize(x)
    assert out.shape == x.shape and out.abs().max() <= 1
    # The encoder and the blocks keep their keys; the decoder's layers shift (3 layers per upsampling, not 1).
    resize_keys, classic_keys = list(resize.state_dict()), list(classic.state_dict())
    encoder = [k for k in classic_keys if int(k.split(".")[1]) < 10 + blocks]
    assert resize_keys[:len(encoder)] == encoder
    assert resize_keys != classic_keys
    # The classic file does not load into the resize generator (shapes and names differ): its own name keeps
    # published resnet_*blocks files loading into the classic layers.
    with pytest.raises(RuntimeError):
        resize.load_state_dict(classic.state_dict())
    types = [type(m).__name__ for m in resize.model]
    assert "ConvTranspose2d" not in types and types.count("Upsample") == 2


def test_unknown_upsampling_is_refused():
    with pytest.raises(ValueError, match="upsample must be one of transposed, resize"):
        ResnetGenerator(3, 3, 8, upsample="bilinear")


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = define_G(3, 3, ngf=4, netG="resnet_6blocks_resize", norm="instance").train()
    net(torch.rand(1, 3, 16, 16) * 2 - 1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_cli_train_then_test_rebuilds_from_the_side_file(tmp_path):
    root, side = train_tiny_cycle_gan(tmp_path, "resnet_6blocks_resize", "rz")
    assert side["kwargs"]["netG"] == "resnet_6blocks_resize"
    # test.py with the classic --netG given: the side file's network is what gets built and loaded.
    tested = run_cli("test.py", ["--model", "cycle_gan", "--dataroot", root, "--name", "rz", *TINY], cwd=tmp_path)
    assert tested.returncode == 0, tested.stderr + tested.stdout
    assert len(list((tmp_path / "results" / "rz" / "test_latest" / "images").glob("*_fake_B.png"))) == 2
