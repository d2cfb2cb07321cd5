"""--activation and --replace_stride_with_dilation: every classifier and segmenter family (lenet aside) takes
every activation name, the default builds torchvision's network unchanged, and both options reach the
networks through --model classifier / segmenter, their error messages and test.py."""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gantool import cli
from gantool.backbones import build_classifier, build_segmenter
from gantool.build import build_recipe
from gantool.errors import GantoolError
from gantool.models.backbone_options import dilation_flags
from gantool.ops.activations import ACTIVATIONS, make_activation
from gantool.options import parse

CPU = torch.device("cpu")
COMMON = ["--gpu_ids", "-1", "--display_id", "0", "--seed", "1", "--num_threads", "0"]

# Small variants at 32x32: one network per family (fcn_* pass the choice to their trunks).
FAMILIES = {
    "alexnet": lambda **kw: build_classifier("alexnet", 3, 5, small_input=True, **kw),
    "vgg11_bn": lambda **kw: build_classifier("vgg11_bn", 3, 5, small_input=True, **kw),
    "nin": lambda **kw: build_classifier("nin", 3, 5, small_input=True, **kw),
    "googlenet": lambda **kw: build_classifier("googlenet", 3, 5, small_input=True, **kw),
    "resnet18": lambda **kw: build_classifier("resnet18", 3, 5, small_input=True, **kw),
    "resnet50": lambda **kw: build_classifier("resnet50", 3, 5, small_input=True, **kw),
    "densenet_small": lambda **kw: build_classifier("densenet_small", 3, 5, small_input=True, **kw),
    "fcn_resnet18": lambda **kw: build_segmenter("fcn_resnet18", 3, 4, **kw),
    "fcn_vgg16": lambda **kw: build_segmenter("fcn_vgg16", 3, 4, small_input=True, **kw),
    "unet": lambda **kw: build_segmenter("unet", 3, 4, base_channels=4, depth=2, **kw),
}
# Activation places per network: every ReLU of torchvision's layout, functional ones and reused modules included.
PLACES = {"alexnet": 7, "vgg11_bn": 10, "nin": 12, "googlenet": 3 + 9 * 6 + 2 * 2, "resnet18": 1 + 8 * 2,
          "resnet50": 1 + 16 * 3, "densenet_small": 1 + 16 * 2 + 3 + 1, "fcn_resnet18": 1 + 8 * 2,
          "fcn_vgg16": 13 * 1, "unet": 5 * 2}
# One documented slope key per family, where prelu adds it.
PRELU_KEYS = {"alexnet": "classifier.5.weight", "vgg11_bn": "features.2.weight", "nin": "classifier.1.5.weight",
              "googlenet": "aux1.act.weight", "resnet18": "layer1.0.relu2.weight", "resnet50": "layer4.2.relu3.weight",
              "densenet_small": "act.weight", "fcn_resnet18": "backbone.relu.weight", "fcn_vgg16": "backbone.1.weight",
              "unet": "decoder.1.conv.5.weight"}

pytestmark = pytest.mark.usefixtures("single_thread")


def _no_relu(*args, **kwargs):
    raise AssertionError("a ReLU ran although another activation was chosen")


def _shapes(net):
    return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_runs_with_every_activation(family, activation, monkeypatch):
    torch.manual_seed(0)
    net = FAMILIES[family](activation=activation).train()
    kind = type(make_activation(activation))
    places = [m for _, m in net.named_modules(remove_duplicate=False) if isinstance(m, kind)]
    if activation == "relu":  # torchvision's layout, where a ResNet block reuses its one ReLU module
        assert 0 < len(places) <= PLACES[family]
    else:  # every place is its own module, none reused, so PReLU learns a slope per place
        assert len(places) == len({id(m) for m in places}) == PLACES[family]
    if activation != "relu":
        assert not any(isinstance(m, nn.ReLU) for m in net.modules())
        monkeypatch.setattr(F, "relu", _no_relu)  # nor does a functional ReLU remain in any forward
        monkeypatch.setattr(torch, "relu", _no_relu)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = net(x)  # training mode: GoogLeNet's auxiliary heads run too
    logits = out[0] if isinstance(out, tuple) else out
    assert logits.shape == ((2, 4, 32, 32) if family in ("fcn_resnet18", "fcn_vgg16", "unet") else (2, 5))
    assert torch.isfinite(logits).all()
    sum(o.float().pow(2).mean() for o in (out if isinstance(out, tuple) else [out])).backward()
    if activation == "prelu":
        assert all(m.weight.grad is not None for m in places)


@pytest.mark.parametrize("family", FAMILIES)
def test_default_keys_and_outputs_are_unchanged_and_prelu_only_adds_slopes(family):
    with torch.device("meta"):  # keys and shapes only: no storage, no initialisation cost
        default = _shapes(FAMILIES[family]())
        for activation in ACTIVATIONS:
            shapes = _shapes(FAMILIES[family](activation=activation))
            if activation != "prelu":
                assert shapes == default, activation
            else:
                added = [s for s in shapes if s not in default]
                assert [s for s in shapes if s in default] == default
                assert len(added) == PLACES[family] and all(k.endswith(".weight") and s == (1,) for k, s in added)
                assert (PRELU_KEYS[family], (1,)) in added
    if family in ("alexnet", "vgg11_bn", "fcn_vgg16"):
        return  # the heavy heads: their keys are checked above, torchvision parity in test_backbones_parity
    nets = []
    for kw in ({}, {"activation": "relu"}):
        torch.manual_seed(0)
        nets.append(FAMILIES[family](**kw).eval())
    x = torch.rand(2, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))
    with torch.no_grad():
        assert torch.equal(nets[0](x), nets[1](x))


def test_resnet_blocks_get_an_activation_module_per_place_only_for_other_choices():
    plain = build_classifier("resnet18", 3, 5)
    assert not hasattr(plain.layer1[0], "relu2") or plain.layer1[0].relu2 is None  # torchvision's one shared ReLU
    assert sum(isinstance(m, nn.ReLU) for m in plain.modules()) == 1 + 8
    gelu = build_classifier("resnet18", 3, 5, activation="gelu")
    assert sum(isinstance(m, nn.GELU) for m in gelu.modules()) == 1 + 8 * 2
    assert isinstance(build_classifier("resnet50", 3, 5, activation="elu").layer2[1].relu3, nn.ELU)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu"])
def test_densenet_head_leaves_the_features_it_is_given_alone(activation):
    net = build_classifier("densenet_small", 3, 5, small_input=True, activation=activation).eval()
    with torch.no_grad():
        f = net.forward_features(torch.rand(1, 3, 32, 32) * 2 - 1)
        kept = f.clone()
        net.forward_head(f)  # the in-place activations would overwrite f
    assert torch.equal(f, kept)


def test_unknown_activation_is_one_short_error(tmp_path, monkeypatch, capsys):
    for family in FAMILIES:
        with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of relu, leaky_relu"):
            FAMILIES[family](activation="swish")
    monkeypatch.chdir(tmp_path)
    for model in ("classifier", "segmenter"):
        with pytest.raises(SystemExit):  # argparse's own message lists the choices
            parse(["--model", model, "--activation", "swish", "--dataroot", "."], is_train=True)
        err = capsys.readouterr().err
        assert "argument --activation: invalid choice: 'swish'" in err and "gelu" in err


def test_activation_reaches_the_networks_and_their_hints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = parse(["--model", "classifier", "--netC", "resnet18", "--activation", "gelu"], is_train=False)
    recipe = build_recipe(opt, CPU)
    assert sum(isinstance(m, nn.GELU) for m in recipe.networks["C"].modules()) == 17
    assert recipe.arch_options["C"].endswith(" --activation gelu")
    opt = parse(["--model", "segmenter", "--netS", "unet", "--num_classes", "3", "--activation", "prelu",
                 "--dataroot", "."], is_train=True)
    recipe = build_recipe(opt, CPU)
    assert sum(isinstance(m, nn.PReLU) for m in recipe.networks["S"].modules()) == 2 * 9  # depth 4: 9 DoubleConvs
    assert "--activation prelu" in recipe.arch_options["S"]
    # The networks' own defaults when the option is left out: lenet keeps its sigmoid.
    opt = parse(["--model", "classifier", "--netC", "lenet"], is_train=False)
    assert opt.activation is None and isinstance(build_recipe(opt, CPU).networks["C"].features[1], nn.Sigmoid)


@pytest.mark.parametrize("text, flags", [("0,1,1", (False, True, True)), ("False,True,True", (False, True, True)),
                                         (" true, FALSE ,1", (True, False, True)), ("0,0,0", (False, False, False))])
def test_dilation_flags_formats(text, flags):
    assert dilation_flags(text) == flags


@pytest.mark.parametrize("text", ["0,1", "0,1,2", "yes,no,no", "011", ""])
def test_a_wrong_dilation_format_is_argparse_error(text, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        parse(["--model", "classifier", "--replace_stride_with_dilation", text], is_train=False)
    assert (f"argument --replace_stride_with_dilation: expected three flags for layer2,layer3,layer4 such as "
            f"0,1,1 or False,True,True, got {text!r}") in capsys.readouterr().err


@pytest.mark.parametrize("text, stride", [("0,0,0", 32), ("0,1,1", 8), ("1,1,1", 4)])
def test_dilation_from_the_command_line_sets_the_trunk_stride(text, stride, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = parse(["--model", "classifier", "--netC", "resnet18", "--input_nc", "3",
                 "--replace_stride_with_dilation", text], is_train=False)
    recipe = build_recipe(opt, CPU)
    net = recipe.networks["C"].eval()
    assert net.trunk_stride == stride
    with torch.no_grad():
        assert net.features(torch.rand(1, 3, 64, 64)).shape == (1, 512, 64 // stride, 64 // stride)
    hint = f" --replace_stride_with_dilation {text}"
    assert recipe.arch_options["C"].endswith(hint)  # the hint quotes what was given

    opt = parse(["--model", "segmenter", "--netS", "fcn_resnet18", "--num_classes", "4", "--dataroot", ".",
                 "--replace_stride_with_dilation", text], is_train=False)
    recipe = build_recipe(opt, CPU)
    fcn = recipe.networks["S"].eval()
    assert fcn.output_stride == stride and fcn.upsample.weight.shape == (4, 4, 2 * stride, 2 * stride)
    with torch.no_grad():
        assert fcn(torch.rand(1, 3, 40, 36)).shape == (1, 4, 40, 36)
    assert recipe.arch_options["S"].endswith(hint)  # the hint quotes what was given


@pytest.mark.parametrize("args, message", [
    (["--model", "classifier", "--netC", "vgg16"], "--netC vgg16 has none"),
    (["--model", "classifier", "--netC", "lenet"], "--netC lenet has none"),
    (["--model", "segmenter", "--netS", "unet", "--num_classes", "3", "--dataroot", "."], "--netS unet has none"),
    (["--model", "segmenter", "--netS", "fcn_vgg16", "--num_classes", "3", "--dataroot", "."],
     "--netS fcn_vgg16 has none"),
])
def test_dilation_on_a_network_without_it_is_a_clear_error(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = parse(args + ["--replace_stride_with_dilation", "0,1,1"], is_train=False)
    with pytest.raises(GantoolError, match="^--replace_stride_with_dilation applies to resnet18/34/50 and "
                                           "fcn_resnet18/34/50; " + message):
        build_recipe(opt, CPU)


def test_a_dilated_segmenter_checkpoint_rebuilds_in_test_py_from_its_side_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = ["--model", "segmenter", "--netS", "fcn_resnet18", "--name", "dilated", "--load_size", "32",
           "--crop_size", "32", "--max_dataset_size", "8"]
    dilated = ["--replace_stride_with_dilation", "0,1,1"]
    assert cli.train_main(net + dilated + COMMON + ["--batch_size", "8", "--n_epochs", "1", "--n_epochs_decay", "0"]) == 0
    assert cli.test_main(net + dilated + ["--gpu_ids", "-1", "--num_threads", "0"]) == 0
    first = capsys.readouterr().out
    assert "gantool: segmented 8 images" in first
    side = json.loads((tmp_path / "checkpoints" / "dilated" / "latest_net_S.json").read_text())
    assert side["builder"] == "segmenter" and side["kwargs"]["replace_stride_with_dilation"] == [False, True, True]
    # Without the option test.py rebuilds the dilated network from the side file: the same scores.
    assert cli.test_main(net + ["--gpu_ids", "-1", "--num_threads", "0"]) == 0
    again = capsys.readouterr().out
    scores = [line for line in first.splitlines() if "scores on" in line]
    assert scores and scores == [line for line in again.splitlines() if "scores on" in line]
    # A contradicting explicit option is replaced, with one line saying so.
    assert cli.test_main(net + ["--replace_stride_with_dilation", "0,0,1", "--gpu_ids", "-1", "--num_threads", "0"]) == 0
    assert "was saved with --replace_stride_with_dilation 0,1,1" in capsys.readouterr().out
    # Without the side file (a checkpoint from elsewhere) the transposed convolution does not fit: one clear line.
    (tmp_path / "checkpoints" / "dilated" / "latest_net_S.json").unlink()
    assert cli.test_main(net + ["--gpu_ids", "-1", "--num_threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "does not fit the network you asked for (--netS fcn_resnet18" in err and "upsample.weight" in err


def test_train_and_test_py_with_activation_gelu_and_dilation(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = ["--model", "classifier", "--netC", "resnet18", "--name", "gelu", "--activation", "gelu",
           "--replace_stride_with_dilation", "False,True,True", "--max_dataset_size", "32"]
    assert cli.train_main(net + COMMON + ["--batch_size", "16", "--n_epochs", "1", "--n_epochs_decay", "0"]) == 0
    assert "activation: gelu" in (tmp_path / "checkpoints" / "gelu" / "train_opt.txt").read_text()
    assert cli.test_main(net + ["--gpu_ids", "-1", "--num_threads", "0"]) == 0
    assert "gantool: classified 32 images" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "results" / "gelu" / "test_latest" / "metrics.json").read_text())
    assert metrics["images"] == 32
    # test.py without the options rebuilds the GELU, dilated network from the side file: the same predictions
    # (a ReLU network would load the same weights without complaint, so this is what keeps the scores right).
    plain = ["--model", "classifier", "--netC", "resnet18", "--name", "gelu", "--max_dataset_size", "32"]
    assert cli.test_main(plain + ["--gpu_ids", "-1", "--num_threads", "0", "--results_dir", "again"]) == 0
    again = json.loads((tmp_path / "again" / "gelu" / "test_latest" / "metrics.json").read_text())
    assert again == metrics
