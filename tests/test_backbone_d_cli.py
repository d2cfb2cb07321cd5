"""Backbone discriminators through the command line: a few training iterations of dcgan, gan, cycle_gan
and pix2pix with --netD <backbone>, pretrained and frozen trunks, and their mistakes."""
import os

import pytest
import torch

from conftest import TINY_TRAIN, run_cli, write_images
from gantool import cli

GAN = ["--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8", "--img_size", "16",
       "--n_epochs", "1", "--n_epochs_decay", "0", "--print_freq", "8", "--ngf", "8", "--ndf", "8", "--seed", "3"]


pytestmark = pytest.mark.usefixtures("single_thread")


def _losses(run):
    """The loss values of loss_log.txt, all finite."""
    values = [float(w) for line in (run / "loss_log.txt").read_text().splitlines() if line.startswith("(epoch")
              for w in line.split(")", 1)[1].split()[1::2]]
    assert values and all(torch.isfinite(torch.tensor(values))), values
    return values


@pytest.mark.parametrize("netD,extra", [
    ("lenet", []), ("alexnet", ["--D_head", "patch"]), ("nin", []), ("googlenet", []),
    ("resnet18", ["--D_head", "patch"]), ("densenet_small", ["--gan_mode", "wgangp", "--n_critic", "1"]),
    ("fcn", ["--D_backbone", "lenet"]), ("unet_seg", ["--gan_mode", "hinge"]),
])
def test_dcgan_trains_with_a_backbone_discriminator(netD, extra, tmp_path):
    assert cli.train_main(["--model", "dcgan", "--netD", netD, "--checkpoints_dir", str(tmp_path), "--name", "d",
                           *GAN, *extra]) == 0
    _losses(tmp_path / "d")
    D = torch.load(tmp_path / "d" / "latest_net_D.pth", weights_only=True)
    assert any(k.startswith("backbone.") for k in D)  # the backbone, not DCGAN's own main.* layers
    state = torch.load(tmp_path / "d" / "latest_state.pth", weights_only=True)
    assert state["total_iters"] == 16 and set(state["optimizers"]) == {"G", "D"}


def test_mlp_gan_takes_a_backbone_discriminator_too(tmp_path):
    assert cli.train_main(["--model", "gan", "--netD", "lenet", "--checkpoints_dir", str(tmp_path), "--name", "g",
                           *GAN, "--img_size", "28"]) == 0
    assert "backbone.0.weight" in torch.load(tmp_path / "g" / "latest_net_D.pth", weights_only=True)


@pytest.mark.parametrize("netD,extra", [
    ("resnet18", []), ("vgg16", ["--D_head", "patch"]), ("densenet_small", ["--D_backbone_norm", "spectral"]),
    ("unet_seg", []), ("fcn", ["--D_backbone", "nin", "--gan_mode", "vanilla"]),
])
def test_cycle_gan_trains_with_a_backbone_discriminator(netD, extra, unaligned_root, tmp_path):
    assert cli.train_main(["--model", "cycle_gan", "--netD", netD, "--dataroot", unaligned_root, "--checkpoints_dir",
                           str(tmp_path), "--name", "c", *TINY_TRAIN, "--load_size", "16", "--crop_size", "16",
                           "--max_iters", "2", "--seed", "3", *extra]) == 0
    losses = _losses(tmp_path / "c")
    assert len(losses) == 8  # one line: D_A G_A cycle_A idt_A D_B G_B cycle_B idt_B
    for name in ("D_A", "D_B"):
        D = torch.load(tmp_path / "c" / f"latest_net_{name}.pth", weights_only=True)
        assert any(k.startswith("backbone.") for k in D)
        # --norm instance (CycleGAN's) reaches the trunk: no BatchNorm statistics are saved.
        assert not any(k.endswith("running_mean") for k in D)


def test_pix2pix_with_a_frozen_pretrained_trunk_through_the_command_line(tmp_path):
    """A torchvision-format resnet18 file initialises D's trunk (6 input channels: A|B), which stays fixed."""
    import torchvision

    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    for split in ("train", "test"):
        write_images(tmp_path / "ab" / split, 3, size=(64, 32), seed=len(split))
    args = ["--model", "pix2pix", "--dataroot", str(tmp_path / "ab"), "--netD", "resnet18",
            "--D_head", "patch", "--D_backbone_weights", str(weights), "--freeze_D_backbone", "--D_backbone_norm",
            "batch", "--batch_size", "3", *TINY_TRAIN]
    result = run_cli("train.py", args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    D = torch.load(tmp_path / "checkpoints" / "experiment_name" / "latest_net_D.pth", weights_only=True)
    source = torch.load(weights, weights_only=True)
    assert D["backbone.conv1.weight"].shape == (64, 6, 7, 7)
    assert torch.allclose(D["backbone.conv1.weight"], source["conv1.weight"].repeat(1, 2, 1, 1) / 2)
    for key in ("layer3.1.conv2.weight", "layer4.0.bn1.running_var", "layer4.0.bn1.weight"):
        assert torch.equal(D["backbone." + key], source[key]), key  # frozen: statistics included
    assert D["head.weight"].shape == (1, 512, 3, 3)


def test_weights_that_do_not_fit_are_one_line_at_the_command_line(unaligned_root, tmp_path, capsys):
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "partial.pth")
    args = ["--model", "cycle_gan", "--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN]
    assert cli.train_main(args + ["--netD", "resnet18", "--D_backbone_weights", str(tmp_path / "partial.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "partial.pth does not fit the resnet18 trunk: it lacks" in err
    assert cli.train_main(args + ["--netD", "resnet99"]) == 2
    assert "unknown --netD 'resnet99'; choose from: alexnet, basic, densenet121" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "experiment_name" / "latest_net_D_A.pth")
