"""``--norm_D spectral``: spectral normalisation on every conv/linear layer of the classic, DCGAN and MLP
discriminators (and of the backbone ones), their normalisation layers removed; the maths, the keys, and
``train.py --norm_D spectral`` for cycle_gan and dcgan."""
import pytest
import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from conftest import TINY_TRAIN
from gantool import cli
from gantool.errors import GantoolError
from gantool.networks import DiscriminatorSpec, define_D
from gantool.networks.dcgan import define_dcgan
from gantool.networks.mlp_gan import MLPDiscriminator
from gantool.networks.norm import NORM_LAYERS, spectral_normalise

pytestmark = pytest.mark.usefixtures("single_thread")  # 2 busy cores: no spin-waiting threads


def _discriminators():
    """name -> (a spectral-norm discriminator, an input shape), for every family --norm_D spectral covers."""
    return {
        "basic": (define_D(3, 8, "basic", norm="instance", norm_D="spectral"), (2, 3, 32, 32)),
        "n_layers": (define_D(6, 8, "n_layers", n_layers_D=2, norm="batch", norm_D="spectral"), (2, 6, 32, 32)),
        "pixel": (define_D(3, 8, "pixel", norm="batch", norm_D="spectral"), (2, 3, 16, 16)),
        "dcgan": (define_dcgan(100, 1, 16, 8, 8, d_norm="spectral")[1], (2, 1, 16, 16)),
        "mlp": (spectral_normalise(MLPDiscriminator(1, 16)), (2, 1, 16, 16)),
    }


def _weighted(net):
    return [m for m in net.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def _sigma(layer) -> float:
    """The largest singular value of the normalised weight, as a (out, in * k * k) matrix."""
    weight = layer.weight  # the parametrization's output: original / its sigma estimate
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2).item()


@pytest.mark.parametrize("name", ["basic", "n_layers", "pixel", "dcgan", "mlp"])
def test_every_layer_is_normalised_and_the_norm_layers_are_gone(name):
    torch.manual_seed(0)
    D, shape = _discriminators()[name]
    layers = _weighted(D)
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, NORM_LAYERS) for m in D.modules())
    if name in ("basic", "n_layers", "pixel"):
        # The classic layout keeps its indices (norms become Identity) and every conv gets a bias.
        assert any(isinstance(m, nn.Identity) for m in D.modules())
    assert all(m.bias is not None for m in layers)
    D.train()
    with torch.no_grad():
        for _ in range(30):  # one power iteration per forward pass in train mode
            D(torch.randn(shape))
    sigmas = [_sigma(m) for m in layers]
    assert all(0.99 < s < 1.03 for s in sigmas), sigmas
    out = D(torch.randn(shape))
    out.mean().backward()
    assert all(p.grad is not None for p in D.parameters())


def test_keys_differ_from_the_classic_ones():
    classic = define_D(3, 8, "basic", norm="instance").state_dict()
    spectral = define_D(3, 8, "basic", norm="instance", norm_D="spectral").state_dict()
    assert "model.0.weight" in classic and "model.0.weight" not in spectral
    assert {"model.0.bias", "model.0.parametrizations.weight.original", "model.0.parametrizations.weight.0._u",
            "model.0.parametrizations.weight.0._v"} <= set(spectral)
    # Calling it twice changes nothing.
    D = define_D(3, 8, "pixel", norm="batch", norm_D="spectral")
    assert list(spectral_normalise(D).state_dict()) == list(define_D(3, 8, "pixel", norm="batch",
                                                                     norm_D="spectral").state_dict())


def test_backbones_follow_and_bad_values_are_one_line():
    D = DiscriminatorSpec(netD="resnet18", norm_D="spectral").build(3, norm="batch", image_size=32)
    assert not any(isinstance(m, NORM_LAYERS) for m in D.modules())
    assert all(parametrize.is_parametrized(m, "weight") for m in _weighted(D))
    with pytest.raises(GantoolError, match="--norm_D spectral and --D_backbone_norm batch contradict"):
        define_D(3, 8, "resnet18", norm="batch", backbone_norm="batch", norm_D="spectral", image_size=32)
    with pytest.raises(GantoolError, match="unknown --norm_D 'bogus'; choose from: auto, spectral"):
        define_D(3, 8, "basic", norm_D="bogus")


def test_norm_D_bogus_at_the_command_line(tmp_path, capsys):
    assert cli.train_main(["--checkpoints_dir", str(tmp_path), "--norm_D", "bogus", *TINY_TRAIN]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "gantool: error: unknown --norm_D 'bogus'; choose from: auto, spectral"


def test_cycle_gan_trains_with_spectral_norm(unaligned_root, tmp_path):
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "sn", "--seed", "1",
            "--norm_D", "spectral", *TINY_TRAIN]
    assert cli.train_main(args) == 0
    D = torch.load(tmp_path / "sn" / "latest_net_D_A.pth", weights_only=True)
    G = torch.load(tmp_path / "sn" / "latest_net_G_A.pth", weights_only=True)
    assert "model.0.parametrizations.weight.original" in D and "model.1.weight" in G  # G keeps its classic keys
    state = torch.load(tmp_path / "sn" / "latest_state.pth", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["networks"]["D_B"].values())


@pytest.mark.parametrize("model", ["dcgan", "gan"])
def test_unconditional_recipes_train_with_spectral_norm(model, tmp_path):
    args = ["--model", model, "--checkpoints_dir", str(tmp_path), "--name", "sn", "--norm_D", "spectral",
            "--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8",
            "--img_size", "16", "--n_epochs", "1", "--n_epochs_decay", "0", "--ngf", "8", "--ndf", "8"]
    assert cli.train_main(args) == 0
    D = torch.load(tmp_path / "sn" / "latest_net_D.pth", weights_only=True)
    first = "main.0" if model == "dcgan" else "model.0"
    assert f"{first}.parametrizations.weight.original" in D and not any("running_mean" in k for k in D)
