"""The depthwise-separable convolution (gantool.ops.separable) and ``--netG mobile_resnet_9blocks / 6blocks``:
what the block computes, the generator's keys and sizes, numerics, a CLI round trip and the benchmark script."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import REPO, TINY, run_cli, train_tiny_cycle_gan
from gantool.networks import define_G, get_norm_layer
from gantool.networks.mobile_resnet import MobileResnetBlock
from gantool.ops.separable import SeparableConv2d, separable_cost

pytestmark = pytest.mark.usefixtures("single_thread")

NAMES = ["mobile_resnet_9blocks", "mobile_resnet_6blocks"]
BENCH = Path(REPO) / "scripts" / "bench_mobile.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_mobile", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the separable block -------------------------------------------------------------------------------------


def _randomised(conv: SeparableConv2d) -> SeparableConv2d:
    """Non-trivial weights and biases everywhere (default init leaves affine norms at 1 and 0)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return conv


@pytest.mark.parametrize("padding_type,pad_mode", [("reflect", "reflect"), ("replicate", "replicate"),
                                                   ("zero", "constant")])
@pytest.mark.parametrize("stride,multiplier", [(1, 1), (2, 2)])
def test_separable_equals_explicit_depthwise_then_pointwise(padding_type, pad_mode, stride, multiplier):
    conv = _randomised(SeparableConv2d(4, 6, 3, stride=stride, padding_type=padding_type,
                                       depth_multiplier=multiplier, norm_layer=nn.BatchNorm2d,
                                       activation=nn.ReLU)).eval()
    x = torch.randn(2, 4, 11, 10)
    mid = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=pad_mode), conv.depthwise.weight, conv.depthwise.bias,
                   stride=stride, groups=4)
    n = conv.norm
    mid = F.relu(F.batch_norm(mid, n.running_mean, n.running_var, n.weight, n.bias, False, 0.0, n.eps))
    expected = F.conv2d(mid, conv.pointwise.weight, conv.pointwise.bias)
    assert conv.depthwise.weight.shape == (4 * multiplier, 1, 3, 3)
    assert expected.shape == (2, 6, -(-11 // stride), -(-10 // stride))
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_separable_without_norm_is_a_full_conv_with_the_product_kernel(multiplier, kernel_size):
    conv = _randomised(SeparableConv2d(5, 7, kernel_size, padding_type="zero", depth_multiplier=multiplier))
    D, b_d = conv.depthwise.weight, conv.depthwise.bias  # (5m, 1, k, k), (5m,)
    P, b_p = conv.pointwise.weight[:, :, 0, 0], conv.pointwise.bias  # (7, 5m), (7,)
    # W[o, i] = sum_j P[o, i*m + j] * D[i*m + j]: depthwise output channel i*m + j reads input channel i.
    full = (P[:, :, None, None] * D[None, :, 0]).reshape(7, 5, multiplier, kernel_size, kernel_size).sum(2)
    bias = b_p + P @ b_d
    x = torch.randn(2, 5, 9, 12)
    torch.testing.assert_close(conv(x), F.conv2d(x, full, bias, padding=kernel_size // 2), rtol=1e-4, atol=1e-4)


def test_separable_cost_and_saving():
    conv = SeparableConv2d(256, 256, 3, bias=False)
    assert sum(p.numel() for p in conv.parameters()) == separable_cost(256, 256, 3) == 9 * 256 + 256 * 256
    assert separable_cost(256, 256, 3) / (9 * 256 * 256) == pytest.approx(1 / 256 + 1 / 9)
    assert separable_cost(4, 6, 3, depth_multiplier=2) == 9 * 8 + 8 * 6
    assert _bench_module().count_macs(conv, (1, 256, 16, 16)) == separable_cost(256, 256, 3) * 16 * 16


def test_separable_rejects_bad_arguments():
    with pytest.raises(ValueError, match="reflect, replicate, zero"):
        SeparableConv2d(4, 4, padding_type="circular")
    with pytest.raises(ValueError, match="odd"):
        SeparableConv2d(4, 4, kernel_size=4)
    with pytest.raises(ValueError, match="depth_multiplier"):
        SeparableConv2d(4, 4, depth_multiplier=0)


# --- the generator -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("h,w", [(32, 32), (48, 20), (8, 12)])
def test_forward_shapes_any_multiple_of_4(name, h, w):
    # From 8 up: at 4 the bottleneck is 1 pixel, too small to reflect-pad (the classic generator's limit too).
    net = define_G(3, 2, ngf=8, netG=name, norm="instance").eval()
    assert net.size_multiple == 4
    with torch.no_grad():
        y = net(torch.rand(1, 3, h, w) * 2 - 1)
    assert y.shape == (1, 2, h, w) and y.abs().max() <= 1


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("use_dropout", [False, True])
def test_norms_and_dropout(norm, use_dropout):
    net = define_G(3, 3, ngf=4, netG="mobile_resnet_6blocks", norm=norm, use_dropout=use_dropout).train()
    assert any(isinstance(m, nn.Dropout) for m in net.modules()) == use_dropout
    y = net(torch.rand(2, 3, 16, 24) * 2 - 1)
    assert y.shape == (2, 3, 16, 24) and torch.isfinite(y).all()


def test_bf16_autocast_and_channels_last():
    torch.manual_seed(0)
    net = define_G(3, 3, ngf=8, netG="mobile_resnet_9blocks", norm="instance").eval()
    x = torch.rand(1, 3, 32, 28) * 2 - 1
    with torch.no_grad():
        reference = net(x)
        net = net.to(memory_format=torch.channels_last)
        last = net(x.contiguous(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(last, reference, rtol=1e-4, atol=1e-5)
    assert low.dtype == torch.bfloat16 and low.shape == reference.shape
    assert (low.float() - reference).abs().mean() < 0.05


def _expected_mobile_keys(ngf: int):
    """The state-dict keys and shapes of mobile_resnet_9blocks with instance norm (no norm keys; conv biases)."""
    c = 4 * ngf
    keys = [("model.1", (ngf, 3, 7, 7)), ("model.4", (2 * ngf, ngf, 3, 3)), ("model.7", (c, 2 * ngf, 3, 3))]
    for block in range(10, 19):
        for conv in (0, 3):  # [sep, norm, ReLU, sep, norm] without dropout
            keys += [(f"model.{block}.conv_block.{conv}.depthwise", (c, 1, 3, 3)),
                     (f"model.{block}.conv_block.{conv}.pointwise", (c, c, 1, 1))]
    keys += [("model.19", (c, 2 * ngf, 3, 3)), ("model.22", (2 * ngf, ngf, 3, 3)), ("model.26", (3, ngf, 7, 7))]
    out = []
    for key, shape in keys:
        out += [(f"{key}.weight", shape), (f"{key}.bias", (shape[1] if "model.19" in key or "model.22" in key
                                                          else shape[0],))]
    return out


def test_key_list_is_pinned():
    net = define_G(3, 3, 64, "mobile_resnet_9blocks", "instance")
    actual = [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
    assert actual == _expected_mobile_keys(64)
    assert sum(p.numel() for p in net.parameters()) == 1_987_075
    # The encoder and decoder are the classic generator's, key for key.
    classic = define_G(3, 3, 64, "resnet_9blocks", "instance").state_dict()
    outside = [(k, shape) for k, shape in actual if "conv_block" not in k]
    assert outside == [(k, tuple(v.shape)) for k, v in classic.items() if "conv_block" not in k]


def test_block_keys_with_batch_norm_and_dropout():
    block = MobileResnetBlock(8, "reflect", get_norm_layer("batch"), use_dropout=True, use_bias=False)
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    expected = []
    for sep, norm in ((0, 1), (4, 5)):  # [sep, norm, ReLU, Dropout, sep, norm]
        expected += [f"conv_block.{sep}.depthwise.weight"] + [f"conv_block.{sep}.norm.{k}" for k in bn]
        expected += [f"conv_block.{sep}.pointwise.weight"] + [f"conv_block.{norm}.{k}" for k in bn]
    assert list(block.state_dict()) == expected


@pytest.mark.parametrize("dim", [8, 256])
def test_block_parameter_count_by_the_formula(dim):
    # Instance norm: biases on both convs, no norm parameters. Per separable conv: k²·C + C (depthwise)
    # + C·C + C (pointwise); two per block. The classic block: 2 · (9·C·C + C).
    instance = MobileResnetBlock(dim, "reflect", get_norm_layer("instance"), False, use_bias=True)
    assert sum(p.numel() for p in instance.parameters()) == 2 * (9 * dim + dim + dim * dim + dim)
    assert 2 * (separable_cost(dim, dim, 3) + 2 * dim) == 2 * (dim * dim + 11 * dim)
    # Batch norm: no biases; an affine norm (2·C) inside each separable conv and after it.
    batch = MobileResnetBlock(dim, "zero", get_norm_layer("batch"), False, use_bias=False)
    assert sum(p.numel() for p in batch.parameters()) == 2 * (separable_cost(dim, dim, 3) + 2 * dim + 2 * dim)
    if dim == 256:  # the saving against the classic block at the default width
        assert 2 * (9 * dim * dim + dim) / (2 * (dim * dim + 11 * dim)) == pytest.approx(8.63, abs=0.01)


def test_gradients_reach_every_parameter_and_the_input():
    torch.manual_seed(0)
    net = define_G(3, 3, ngf=4, netG="mobile_resnet_9blocks", norm="instance").train()
    x = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    F.l1_loss(net(x), torch.zeros(1, 3, 16, 16)).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


# --- the command line and the benchmark ------------------------------------------------------------------------


def test_cli_train_then_test_with_and_without_options(tmp_path):
    mobile = {"resnet_6blocks": "mobile_resnet_9blocks"}
    root, side = train_tiny_cycle_gan(tmp_path, "mobile_resnet_9blocks", "mob")
    assert side["kwargs"]["netG"] == "mobile_resnet_9blocks" and side["kwargs"]["ngf"] == 8

    # With the options given, then with none: the side file rebuilds the generator (default --netG resnet_9blocks).
    given = run_cli("test.py", ["--model", "cycle_gan", "--dataroot", root, "--name", "mob",
                                *[mobile.get(a, a) for a in TINY]], cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    bare = run_cli("test.py", ["--model", "test", "--model_suffix", "_A", "--dataroot", f"{root}/testA", "--name",
                               "mob", "--gpu_ids", "-1", "--load_size", "32", "--crop_size", "32",
                               "--results_dir", "bare"], cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert "PSNR" in given.stdout
    assert len(list((tmp_path / "results" / "mob" / "test_latest" / "images").glob("*_fake_B.png"))) == 2
    assert list((tmp_path / "bare" / "mob" / "test_latest" / "images").glob("*_fake.png"))


def test_schedule_gives_proportional_steps():
    schedule = _bench_module().schedule
    assert schedule(4, 200, 1.0) == {"n_epochs": 2, "n_epochs_decay": 2, "max_dataset_size": 200, "steps": 800}
    faster = schedule(4, 200, 1.5)
    assert faster["steps"] == 1200 and faster["n_epochs"] + faster["n_epochs_decay"] == 6
    slower = schedule(4, 200, 0.8)
    assert slower == {"n_epochs": 2, "n_epochs_decay": 2, "max_dataset_size": 160, "steps": 640}
    assert abs(schedule(4, 200, 1.11)["steps"] - 888) <= 5


def test_bench_script_quick(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--threads", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CPU:" in done.stdout and "classic/mobile" in done.stdout
    figures = json.loads(out.read_text())
    classic, mobile = figures["figures"]["resnet_9blocks"], figures["figures"]["mobile_resnet_9blocks"]
    assert classic["params"] > 4 * mobile["params"] and classic["macs"] > 3 * mobile["macs"]
    assert figures["timings"]["forward_backward"]["ratio"] > 0
