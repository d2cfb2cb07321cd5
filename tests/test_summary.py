"""gantool.metrics.summary and scripts/summarize.py: shapes, parameter counts and receptive fields from
the layer arithmetic (the 70x70 PatchGAN, LeNet-5's 156-parameter first convolution, ...)."""
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import REPO, run_cli
from gantool.backbones import build_classifier, build_segmenter
from gantool.networks import define_D, define_G
from gantool.metrics.summary import summarize, summary


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("netD, n_layers_D, field, jump, out", [
    ("basic", 3, 70, 8, 30),
    ("n_layers", 1, 16, 2, 126),
    ("n_layers", 2, 34, 4, 62),
    ("n_layers", 4, 142, 16, 14),
    ("pixel", 3, 1, 1, 256),
])
def test_patchgan_receptive_fields(netD, n_layers_D, field, jump, out):
    s = summarize(define_D(3, ndf=8, netD=netD, n_layers_D=n_layers_D, norm="instance"), (3, 256, 256))
    assert s.receptive_field == (field, field) and s.jump == (jump, jump)
    assert s.output_shape == (1, 1, out, out) and s.field_layer == ""


def test_basic_patchgan_table():
    net = define_D(3, netD="basic", norm="batch")
    text = summary(net, (3, 256, 256))
    rows = summarize(net, (3, 256, 256)).rows
    assert [r.name for r in rows] == [f"model.{i}" for i in range(12)]
    assert rows[0].output_shape == (1, 64, 128, 128) and rows[0].params == 3 * 64 * 16 + 64
    assert rows[-1].receptive_field == (70, 70)
    assert "Total params: 2,765,633" in text
    assert "Receptive field of each output pixel: 70x70 input pixels, jump 8x8" in text


def test_lenet_figures():
    s = summarize(build_classifier("lenet", in_channels=1, num_classes=10), (1, 28, 28))
    first = s.rows[0]
    assert (first.name, first.kind, first.params, first.output_shape) == ("features.0", "Conv2d", 156, (1, 6, 28, 28))
    assert [r.receptive_field for r in s.rows[:6]] == [(5, 5), (5, 5), (6, 6), (14, 14), (14, 14), (16, 16)]
    assert s.total_params == 61706 and s.output_shape == (1, 10)
    # A classifier's output is not an image: the figures are those of the last image-shaped layer.
    assert s.field_layer == "avgpool" and s.receptive_field == (16, 16) and s.jump == (4, 4)
    assert s.rows[-1].receptive_field is None


def test_resnet_totals_and_shared_modules():
    net = build_classifier("resnet18", in_channels=3, num_classes=1000)
    s = summarize(net, (3, 64, 64))
    assert s.total_params == s.trainable_params == 11689512  # torchvision's resnet18 count
    relu_rows = [r for r in s.rows if r.name == "layer1.0.relu"]
    assert len(relu_rows) == 2 and relu_rows[0].params == 0 and relu_rows[1].params is None
    assert sum(r.params or 0 for r in s.rows) == s.total_params
    # Stem 7x7/2 then 3x3/2 pool: 7, then 7 + 2 * 2 = 11.
    assert next(r for r in s.rows if r.name == "maxpool").receptive_field == (11, 11)
    # layer1.0: two 3x3 convs at jump 4 (+16); the shortcut's field is smaller, the sum takes the larger.
    assert [r.receptive_field for r in s.rows if r.name == "layer1.0.relu"][-1] == (27, 27)


def test_transposed_branches_and_functional_resampling():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(1, 4, 3, stride=2, padding=1)
            self.a = nn.Conv2d(4, 4, 1)
            self.b = nn.Conv2d(4, 4, 5, padding=2)
            self.up = nn.ConvTranspose2d(8, 2, 4, stride=2, padding=1)

        def forward(self, x):
            x = self.down(x)  # RF 3, jump 2
            x = torch.cat([self.a(x), self.b(x)], 1)  # branches: 3 and 3 + 4 * 2 = 11 -> 11
            x = self.up(x)  # 2 inputs per output: 11 + 2 = 13, jump 1
            return F.max_pool2d(x, 2)  # functional: 13 + 1 = 14, jump 2

    s = summarize(Net(), (1, 16, 16))
    assert {r.name: r.receptive_field for r in s.rows} == {"down": (3, 3), "a": (3, 3), "b": (11, 11), "up": (13, 13)}
    assert s.rows[-1].jump == (1, 1)
    assert s.receptive_field == (14, 14) and s.jump == (2, 2) and s.output_shape == (1, 2, 8, 8)


def test_fractional_jumps_and_non_square_kernels():
    net = nn.Sequential(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1), nn.Conv2d(1, 1, (1, 3)))
    s = summarize(net, (1, 8, 8))
    assert s.rows[0].jump == (0.5, 0.5) and s.rows[0].receptive_field == (2, 2)
    assert s.receptive_field == (2, 3)
    assert "0.5x0.5" in summary(net, (1, 8, 8))


def test_generators_and_segmenters():
    s = summarize(define_G(3, 3, ngf=8, netG="resnet_6blocks", norm="instance"), (3, 64, 64))
    # 7 (stem) + 2 + 4 (two 3x3/2) + 6 blocks * 2 convs * 2 * 4 + 4 + 2 (two 3x3/2 transposed) + 6 = 121
    assert s.receptive_field == (121, 121) and s.jump == (1, 1) and s.output_shape == (1, 3, 64, 64)
    seg = summarize(build_segmenter("unet", 3, 4, base_channels=4, depth=2), (3, 37, 53))
    assert seg.output_shape == (1, 4, 37, 53) and seg.jump == (1, 1)


def test_restores_modes_and_checks_shapes():
    net = define_D(3, ndf=8, netD="basic")
    net.train()
    net.model[3].eval()
    summarize(net, (2, 3, 64, 64))
    assert net.training and not net.model[3].training and net.model[1].training
    assert not any(m._forward_hooks for m in net.modules())
    with pytest.raises(ValueError, match="input_shape"):
        summarize(net, (64, 64))


def _load_script():
    spec = importlib.util.spec_from_file_location("summarize_script", Path(REPO) / "scripts" / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_in_process(capsys):
    script = _load_script()
    assert script.main(["--netC", "lenet", "--input_nc", "1", "--input_size", "28"]) == 0
    out = capsys.readouterr().out
    assert "--netC lenet" in out and "features.0" in out and "156" in out and "Total params: 61,706" in out
    assert script.main(["--netD", "n_layers", "--n_layers_D", "2", "--ndf", "8"]) == 0
    assert "34x34 input pixels" in capsys.readouterr().out
    assert script.main(["--netS", "unet", "--input_size", "20", "--num_classes", "3"]) == 0
    assert "(1, 3, 20, 20)" in capsys.readouterr().out
    assert script.main(["--netC", "nope"]) == 2
    assert "unknown --netC 'nope'; choose from: alexnet" in capsys.readouterr().err
    assert script.main(["--netG", "unet_256", "--input_size", "100"]) == 2
    assert "not a multiple of 256" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--netD", "basic", "--netG", "unet_256"])  # one network at a time


def test_script_command_line(tmp_path):
    result = run_cli("scripts/summarize.py", ["--netD", "basic", "--ndf", "16"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Receptive field of each output pixel: 70x70 input pixels, jump 8x8" in result.stdout
    assert "Input: (1, 3, 256, 256)   Output: (1, 1, 30, 30)" in result.stdout
