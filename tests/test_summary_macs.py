"""MACs and connections in gantool.metrics.summary: hand-counted single layers (convolution, grouped
and depthwise, dilated, linear, transposed), a brute-force count with all-ones tensors, LeNet-5's
table, and the script's output."""
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from conftest import REPO
from gantool.backbones import build_classifier
from gantool.backbones.lenet_classic import TrainableSubsampling
from gantool.metrics.summary import summarize, summary

pytestmark = pytest.mark.usefixtures("single_thread")


def only_row(layer, shape):
    s = summarize(layer, shape)
    assert len(s.rows) == 1
    return s.rows[0], s


def test_single_3x3_convolution():
    # Each of the 8 x 16 x 16 outputs sums 3 channels x 3 x 3 products: 8 * 16 * 16 * 3 * 9.
    row, s = only_row(nn.Conv2d(3, 8, 3, padding=1), (3, 16, 16))
    assert row.macs == s.total_macs == 55296
    # Connections: parameters (3 * 9 + 1) * 8 = 224, times 16 * 16 output positions.
    assert row.connections == s.total_connections == 224 * 256 == 55296 + 8 * 16 * 16
    # Per image: a batch of 4 reports the same figures.
    assert only_row(nn.Conv2d(3, 8, 3, padding=1), (4, 3, 16, 16))[0].macs == 55296


def test_grouped_depthwise_and_dilated_convolutions():
    # Depthwise (groups = C = 8): each output sees 1 channel x 3 x 3: 8 * 16 * 16 * 9.
    assert only_row(nn.Conv2d(8, 8, 3, padding=1, groups=8), (8, 16, 16))[0].macs == 18432
    # Two groups, 8 -> 4 channels, no padding: 4 * 14 * 14 outputs, each 8 / 2 channels x 9.
    assert only_row(nn.Conv2d(8, 4, 3, groups=2), (8, 16, 16))[0].macs == 4 * 14 * 14 * 4 * 9 == 28224
    # Dilation 2 spans 5 pixels but still has 9 taps: 16 - 4 = 12 outputs a side; 4 * 12 * 12 * 2 * 9.
    row = only_row(nn.Conv2d(2, 4, 3, dilation=2, bias=False), (2, 16, 16))[0]
    assert row.output_shape == (1, 4, 12, 12) and row.macs == 10368
    assert row.connections == row.macs  # no bias: nothing to add


def test_linear_per_leading_position():
    layer = nn.Linear(20, 5)
    row = only_row(layer, (1, 20, 20))[0]  # (N, C, L, 20) -> (N, C, L, 5): 1 x 20 positions of 20 x 5
    assert row.macs == 20 * 20 * 5 == 2000
    assert row.connections == (20 + 1) * 5 * 20  # parameters x positions
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 7))
    assert summarize(net, (3, 4, 4)).rows[1].macs == 48 * 7


def test_transposed_convolution():
    # Each of the 4 x 8 x 8 inputs scatters to 2 channels x 4 x 4 taps.
    row = only_row(nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), (4, 8, 8))[0]
    assert row.output_shape == (1, 2, 16, 16) and row.macs == 4 * 8 * 8 * 2 * 16 == 8192
    assert row.connections == 8192 + 2 * 16 * 16  # plus one bias per output element
    grouped = only_row(nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False), (4, 5, 5))[0]
    assert grouped.macs == 4 * 5 * 5 * (6 // 2) * 9


@pytest.mark.parametrize("layer, shape", [
    (nn.Conv2d(4, 6, (3, 2), dilation=(1, 2), groups=2, bias=False), (4, 9, 11)),
    (nn.Conv2d(3, 5, 5, stride=2, bias=False), (3, 15, 12)),
    (nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=False), (4, 5, 7)),
    (nn.Conv1d(3, 4, 3, bias=False), (3, 10)),
    (nn.Linear(6, 3, bias=False), (2, 6)),
])
def test_macs_equal_a_brute_force_count(layer, shape):
    """With every weight and input 1 and no padding, each output element is its number of products,
    so the output's sum counts the MACs independently of the formulas (N = 1)."""
    with torch.no_grad():
        layer.weight.fill_(1.0)
        x = torch.ones((1,) + shape)
        counted = int(layer(x).sum().round())
    s = summarize(layer, (1,) + shape) if len(shape) == 3 else None
    macs = s.rows[0].macs if s else _macs_of_any(layer, x)
    assert macs == counted


def _macs_of_any(layer, x):
    """layer_cost directly, for inputs summarize does not take (not 4-D)."""
    from gantool.metrics.layer_cost import layer_cost

    return layer_cost(layer, x, layer(x), batch=1)[0]


def test_parameter_free_layers_and_shared_modules():
    relu = nn.ReLU()
    conv = nn.Conv2d(2, 2, 1, bias=False)
    net = nn.Sequential(conv, relu, nn.MaxPool2d(2), nn.BatchNorm2d(2), conv)  # conv runs twice
    s = summarize(net, (2, 8, 8))
    assert [r.macs for r in s.rows] == [2 * 8 * 8 * 2, 0, 0, 0, 2 * 4 * 4 * 2]
    assert s.total_macs == 256 + 64  # a second call costs again, while its parameters count once
    assert s.rows[-1].params is None
    text = s.table()
    assert "Connections" not in text.splitlines()[0]  # equal to MACs everywhere: no column
    assert "Total MACs: 320 per image" in text and "Total connections" not in text


def test_trainable_subsampling_cost():
    # 3 maps of 4 x 5 outputs; 2 x 2 window inputs each (as a depthwise 2x2 conv), plus one bias each.
    row = only_row(TrainableSubsampling(3), (3, 8, 10))[0]
    assert row.macs == 3 * 4 * 5 * 4 and row.connections == 3 * 4 * 5 * (4 + 1)
    assert row.receptive_field == (2, 2) and row.jump == (2, 2)


# LeNet-5 (lenet5_classic) by hand, one image: output elements x products per element.
LENET5_MACS = {
    "features.c1": 6 * 28 * 28 * (1 * 5 * 5),  # 117,600
    "features.s2": 6 * 14 * 14 * 4,  # 4,704
    "features.c3": 16 * 10 * 10 * (6 * 5 * 5),  # 240,000
    "features.s4": 16 * 5 * 5 * 4,  # 1,600
    "classifier.c5": 120 * 1 * 1 * (16 * 5 * 5),  # 48,000
    "classifier.f6": 84 * 120,  # 10,080
    "classifier.output": 10 * 84,  # 840
}


@pytest.mark.parametrize("size", [28, 32])
def test_lenet5_classic_macs(size):
    s = summarize(build_classifier("lenet5_classic", in_channels=1, num_classes=10), (1, size, size))
    assert {r.name: r.macs for r in s.rows if r.macs} == LENET5_MACS
    assert s.total_macs == sum(LENET5_MACS.values()) == 422824
    text = s.table()
    header = text.splitlines()[0].split()
    assert header == ["Layer", "Type", "Output", "shape", "Params", "MACs", "Connections", "RF", "Jump"]
    assert "Total MACs: 422,824 (423 k) per image" in text
    assert "Total connections: 430,908 (431 k) per image" in text
    c3 = next(line for line in text.splitlines() if line.startswith("features.c3"))
    assert c3.split()[6:9] == ["2,416", "240,000", "241,600"]


def test_lenet_macs():
    # The modern lenet: the same convolutions, then 400 x 120, 120 x 84, 84 x 10 (average pools: no MACs).
    s = summarize(build_classifier("lenet", in_channels=1, num_classes=10), (1, 28, 28))
    assert s.total_macs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10 == 416520


def _load_script():
    spec = importlib.util.spec_from_file_location("summarize_script", Path(REPO) / "scripts" / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", ["28", "32"])
def test_script_prints_the_notes_table(capsys, size):
    assert _load_script().main(["--netC", "lenet5_classic", "--input_nc", "1", "--input_size", size]) == 0
    out = capsys.readouterr().out
    assert "--netC lenet5_classic" in out and "Total params: 61,740" in out
    assert "Total MACs: 422,824" in out and "Total connections: 430,908" in out
    for name, connections in (("features.c1", "122,304"), ("features.s2", "5,880"), ("features.c3", "241,600"),
                              ("features.s4", "2,000"), ("classifier.c5", "48,120"), ("classifier.f6", "10,164"),
                              ("classifier.output", "840")):
        line = next(li for li in out.splitlines() if li.startswith(name + " "))
        assert line.split()[-3] == connections, line


def test_summary_text_has_the_column():
    text = summary(nn.Conv2d(3, 8, 3, padding=1), (3, 16, 16))
    assert "55,296" in text and "57,344" in text and "MACs" in text.splitlines()[0]
