"""--netC lenet5_classic: LeNet-5 as the classic notes count it (parameters and connections layer by layer,
keys, shapes, the trainable subsampling, training), and --netC lenet's activation choices."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gantool import cli
from gantool.backbones import CLASSIFIERS, build_classifier
from gantool.backbones.lenet_classic import PadToSize, TrainableSubsampling
from gantool.metrics.summary import summarize
from gantool.ops.activations import ACTIVATIONS

pytestmark = pytest.mark.usefixtures("single_thread")

# The notes' layers: (row name, parameters, connections), each derived by hand.
# Parameters: a k x k convolution has (k * k * Cin + 1) * Cout, a linear layer (in + 1) * out,
# a trainable subsampling layer one weight and one bias per map.
# Connections: parameters x output positions for C and F layers; (4 inputs + 1 bias) per output element
# for S layers.
NOTES = [
    ("features.c1", (5 * 5 * 1 + 1) * 6, (5 * 5 * 1 + 1) * 6 * 28 * 28),  # 156, 122,304
    ("features.s2", 2 * 6, (4 + 1) * 6 * 14 * 14),  # 12, 5,880
    ("features.c3", (5 * 5 * 6 + 1) * 16, (5 * 5 * 6 + 1) * 16 * 10 * 10),  # 2,416, 241,600 (the notes: 41,600)
    ("features.s4", 2 * 16, (4 + 1) * 16 * 5 * 5),  # 32, 2,000
    ("classifier.c5", (5 * 5 * 16 + 1) * 120, (5 * 5 * 16 + 1) * 120 * 1 * 1),  # 48,120, 48,120
    ("classifier.f6", (120 + 1) * 84, (120 + 1) * 84),  # 10,164, 10,164
    ("classifier.output", 84 * 10, 84 * 10),  # 840 (no bias), 840
]


def test_notes_figures_are_the_printed_ones():
    """The hand formulas above give the numbers the notes print, except C3's connections: the notes
    print 41,600, a slip of their own formula (2,416 x 10 x 10 = 241,600)."""
    assert [p for _, p, _ in NOTES] == [156, 12, 2416, 32, 48120, 10164, 840]
    assert sum(p for _, p, _ in NOTES) == 61740
    assert [c for _, _, c in NOTES] == [122304, 5880, 241600, 2000, 48120, 10164, 840]


@pytest.mark.parametrize("size", [28, 32])
def test_parameters_and_connections_layer_by_layer(size):
    net = build_classifier("lenet5_classic", in_channels=1, num_classes=10)
    modules = dict(net.named_modules())
    for name, params, _ in NOTES:
        assert sum(p.numel() for p in modules[name].parameters()) == params, name
    assert sum(p.numel() for p in net.parameters()) == 61740

    s = summarize(net, (1, size, size))
    rows = {r.name: r for r in s.rows}
    for name, params, connections in NOTES:
        assert (rows[name].params, rows[name].connections) == (params, connections), name
    learned = {name for name, _, _ in NOTES}
    assert all(r.connections == 0 for r in s.rows if r.name not in learned)
    assert s.total_params == 61740 and s.total_connections == sum(c for _, _, c in NOTES) == 430908
    assert rows["features.c1"].output_shape == (1, 6, 28, 28) and rows["features.s4"].output_shape == (1, 16, 5, 5)


def test_state_dict_keys():
    net = build_classifier("lenet5_classic", in_channels=1, num_classes=10)
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == [
        ("features.c1.weight", (6, 1, 5, 5)), ("features.c1.bias", (6,)),
        ("features.s2.weight", (6,)), ("features.s2.bias", (6,)),
        ("features.c3.weight", (16, 6, 5, 5)), ("features.c3.bias", (16,)),
        ("features.s4.weight", (16,)), ("features.s4.bias", (16,)),
        ("classifier.c5.weight", (120, 16, 5, 5)), ("classifier.c5.bias", (120,)),
        ("classifier.f6.weight", (84, 120)), ("classifier.f6.bias", (84,)),
        ("classifier.output.weight", (10, 84)),
    ]
    assert "lenet5_classic" in CLASSIFIERS and "lenet" in CLASSIFIERS


@pytest.mark.parametrize("size", [28, 32])
def test_forward_shapes_and_head_contract(size):
    torch.manual_seed(0)
    net = build_classifier("lenet5_classic", in_channels=1, num_classes=10).eval()
    x = torch.randn(3, 1, size, size)
    with torch.no_grad():
        f = net.forward_features(x)
        assert f.shape == (3, net.trunk_channels, 5, 5) and net.trunk_stride == 4
        y = net(x)
        assert y.shape == (3, 10) and torch.isfinite(y).all()
        torch.testing.assert_close(net.forward_head(f), y)
        torch.testing.assert_close(net.features(x), f)
    assert build_classifier("lenet5_classic", in_channels=1, small_input=True).features.c1.weight.shape == (6, 1, 5, 5)


def test_other_sizes_and_padding():
    """A 28x28 image is padded by 2 on each side (as lenet's padded first convolution); larger
    ones run unpadded and are pooled to 5x5 before C5."""
    torch.manual_seed(0)
    net = build_classifier("lenet5_classic", in_channels=3, num_classes=4).eval()
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        c1 = net.features.c1
        torch.testing.assert_close(c1(net.features.pad(x)), F.conv2d(x, c1.weight, c1.bias, padding=2))
        assert net.features(torch.randn(1, 3, 64, 72)).shape == (1, 16, 13, 15)  # (64 - 4) / 2 - 4) / 2 = 13
        assert net(torch.randn(1, 3, 64, 72)).shape == (1, 4)
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 4)
    pad = PadToSize(32)
    assert pad(torch.ones(1, 1, 29, 40)).shape == (1, 1, 32, 40)
    assert pad(torch.ones(1, 1, 29, 40))[0, 0, :, 0].tolist() == [0.0] + [1.0] * 29 + [0.0, 0.0]  # odd rest: bottom


def test_trainable_subsampling_is_the_notes_formula():
    torch.manual_seed(0)
    layer = TrainableSubsampling(3)
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == [("weight", (3,)), ("bias", (3,))]
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -1.0, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.0, -0.3]))
    x = torch.randn(2, 3, 6, 7)  # the odd last column is dropped, as by a 2x2 pool
    window_sum = x[..., 0:6:2, 0:6:2] + x[..., 1:6:2, 0:6:2] + x[..., 0:6:2, 1:6:2] + x[..., 1:6:2, 1:6:2]
    expected = torch.sigmoid(layer.weight.view(1, 3, 1, 1) * window_sum + layer.bias.view(1, 3, 1, 1))
    torch.testing.assert_close(layer(x), expected)
    plain = TrainableSubsampling(3, squash=False)
    torch.testing.assert_close(plain(x), window_sum)  # weight 1 and bias 0 at the start
    with pytest.raises(ValueError, match="at least 2x2"):
        layer(torch.randn(1, 3, 1, 4))


def test_training_step_reaches_the_subsampling_weights():
    torch.manual_seed(0)
    net = build_classifier("lenet5_classic", in_channels=1, num_classes=10).train()
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    loss = F.cross_entropy(net(torch.randn(8, 1, 28, 28)), torch.arange(8) % 10)
    loss.backward()
    for name in ("features.s2.weight", "features.s2.bias", "features.s4.weight", "features.s4.bias"):
        grad = dict(net.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    assert all(p.grad is not None for p in net.parameters())
    opt.step()
    assert not torch.equal(before["features.s2.weight"], net.features.s2.weight)
    assert not torch.equal(before["features.s4.bias"], net.features.s4.bias)


def test_activation_choices():
    net = build_classifier("lenet5_classic")
    assert isinstance(net.features.act1, nn.Tanh) and isinstance(net.classifier.act6, nn.Tanh)
    keys = list(net.state_dict())
    for name in ACTIVATIONS:
        other = build_classifier("lenet5_classic", activation=name)
        extra = [k for k in other.state_dict() if k not in keys]
        assert extra == (["features.act1.weight", "features.act3.weight", "classifier.act5.weight",
                          "classifier.act6.weight"] if name == "prelu" else []), name
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of relu"):
        build_classifier("lenet5_classic", activation="swish")


# Today's lenet: default keys pinned, so that its checkpoints keep loading.
LENET_KEYS = ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
              "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias",
              "classifier.4.weight", "classifier.4.bias"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lenet_takes_every_activation(activation):
    torch.manual_seed(0)
    net = build_classifier("lenet", in_channels=1, num_classes=10, activation=activation)
    keys = list(net.state_dict())
    # PReLU owns one slope per activation layer: after each convolution (features.1, .4) and after
    # the first two linear layers (classifier.1, .3); every other choice is parameter-free.
    prelu = ["features.1.weight", "features.4.weight", "classifier.1.weight", "classifier.3.weight"]
    assert sorted(keys) == sorted(LENET_KEYS + (prelu if activation == "prelu" else []))
    assert sum(p.numel() for p in net.parameters()) == 61706 + (4 if activation == "prelu" else 0)
    assert type(net.features[1]).__name__.lower().replace("_", "") == {
        "relu": "relu", "leaky_relu": "leakyrelu", "elu": "elu", "prelu": "prelu", "gelu": "gelu",
        "sigmoid": "sigmoid", "tanh": "tanh"}[activation]
    with torch.no_grad():
        assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_lenet_default_is_unchanged():
    net = build_classifier("lenet", in_channels=1, num_classes=10)
    assert list(net.state_dict()) == LENET_KEYS
    assert all(isinstance(net.features[i], nn.Sigmoid) for i in (1, 4))
    assert all(isinstance(net.classifier[i], nn.Sigmoid) for i in (1, 3))
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of relu, leaky_relu"):
        build_classifier("lenet", activation="swish")


def test_built_as_a_discriminator_trunk():
    """Built on the meta device and given storage (as --netD lenet5_classic does), the S layers
    are initialised by reset_parameters, not left as garbage."""
    from gantool.networks import define_D

    D = define_D(1, 8, "lenet5_classic", image_size=28)
    assert torch.equal(D.state_dict()["backbone.s2.weight"], torch.ones(6))
    assert torch.equal(D.state_dict()["backbone.s4.bias"], torch.zeros(16))
    with torch.no_grad():
        assert D(torch.randn(2, 1, 28, 28)).shape == (2, 1)


def test_train_py_learns_the_builtin_digits(tmp_path, monkeypatch, capsys):
    """train.py --model classifier --netC lenet5_classic, end to end (about 5 s): 3 epochs of 2,048
    built-in digits at the default --lr 1e-3 (measured 0.93 test accuracy; chance is 0.1)."""
    monkeypatch.chdir(tmp_path)
    args = ["--model", "classifier", "--netC", "lenet5_classic", "--input_nc", "1", "--name", "t_lenet5",
            "--checkpoints_dir", str(tmp_path / "ck"), "--gpu_ids", "-1", "--display_id", "0", "--seed", "1",
            "--max_dataset_size", "2048", "--batch_size", "32", "--n_epochs", "3", "--n_epochs_decay", "0"]
    assert cli.train_main(args) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("epoch 3: test split (1000 images): accuracy ")[1].split()[0])
    assert accuracy > 0.7, out
    state = torch.load(tmp_path / "ck" / "t_lenet5" / "latest_net_C.pth", weights_only=True)
    assert state["features.s2.weight"].shape == (6,) and "classifier.output.bias" not in state
