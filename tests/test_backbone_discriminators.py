"""--netD from the backbones: every name builds and judges images, heads, per-pixel outputs, pretrained
trunks (torchvision files, channel tiling, clear errors), frozen trunks, and BatchNorm replacements."""
import pytest
import torch
import torch.nn as nn

from gantool.backbones import CLASSIFIERS
from gantool.errors import GantoolError
from gantool.losses import GANLoss, gradient_penalty
from gantool.models.base import Recipe
from gantool.networks import DISCRIMINATORS, define_D
from gantool.networks.backbone_discriminator import BACKBONE_DISCRIMINATORS, CLASSIFIER_NAMES


pytestmark = pytest.mark.usefixtures("single_thread")


def test_every_classifier_is_a_discriminator_and_the_classic_names_stay():
    assert sorted(CLASSIFIER_NAMES) == CLASSIFIERS.names()
    assert set(DISCRIMINATORS.names()) == {"basic", "n_layers", "pixel", *BACKBONE_DISCRIMINATORS}
    # The classic positional signature and keys are unchanged (the key lists are pinned in test_networks).
    D = define_D(3, 8, "basic", 3, "instance", "normal", 0.02)
    assert "model.11.weight" in D.state_dict() and D(torch.randn(1, 3, 64, 64)).shape == (1, 1, 6, 6)


@pytest.mark.parametrize("name", BACKBONE_DISCRIMINATORS)
def test_every_backbone_discriminator_judges_a_batch(name):
    """Each name at 32 px with one image (the cycle_gan case: InstanceNorm, batch of one), and the
    patch head with BatchNorm on two; outputs are raw logits of the documented shapes."""
    with torch.no_grad():
        D = define_D(3, 8, name, norm="instance", image_size=32)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
        out = D(torch.randn(1, 3, 32, 32))
        if name == "unet_seg":
            assert [tuple(o.shape) for o in out] == [(1, 1), (1, 1, 32, 32)]
        elif name == "fcn":
            assert out.shape == (1, 1, 32, 32)
        else:
            assert out.shape == (1, 1)
            patch = define_D(6, 8, name, norm="batch", head="patch", image_size=32)(torch.randn(2, 6, 32, 32))
            assert patch.dim() == 4 and patch.shape[:2] == (2, 1) and patch.shape[2] >= 2


@pytest.mark.parametrize("name,backbone", [("resnet18", None), ("unet_seg", None), ("densenet_small", None),
                                           ("fcn", "nin")])
def test_training_step_with_gan_losses_and_gradient_penalty(name, backbone):
    D = define_D(3, 8, name, norm="batch", backbone_norm="spectral", image_size=32, backbone=backbone or "resnet18")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    real, fake = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    loss = GANLoss("wgangp")
    total = loss(D(real), True) + loss(D(fake), False) + gradient_penalty(D, real, fake)
    total.backward()
    assert torch.isfinite(total)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())


def test_unet_discriminator_uses_both_outputs_in_the_loss():
    D = define_D(3, 8, "unet_seg", norm="none", image_size=32)
    per_image, per_pixel = D(torch.randn(2, 3, 32, 32))
    loss = GANLoss("lsgan")
    expected = 0.5 * ((per_image - 1) ** 2).mean() + 0.5 * ((per_pixel - 1) ** 2).mean()
    assert torch.allclose(loss([per_image, per_pixel], True), expected)


def test_instance_norm_keeps_images_of_a_batch_apart():
    """With --D_backbone_norm instance no statistic crosses the batch: an image's logit does not depend
    on its companions, while with BatchNorm it does."""
    x = torch.randn(3, 3, 32, 32)
    for mode, independent in (("instance", True), ("batch", False)):
        torch.manual_seed(0)
        D = define_D(3, 8, "resnet18", backbone_norm=mode, image_size=32).train()
        with torch.no_grad():
            alone, together = D(x[:1]) if mode == "instance" else D(x[:2]), D(x)
        n = alone.shape[0]
        assert torch.allclose(alone, together[:n], atol=1e-5) == independent, mode


def _torchvision_resnet18(path):
    import torchvision

    tv = torchvision.models.resnet18().eval()
    with torch.no_grad():
        for m in tv.modules():  # non-trivial running statistics, so that loading them is checked
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(tv.state_dict(), path)
    return nn.Sequential(*list(tv.children())[:-2])


def test_torchvision_weights_load_into_the_trunk(tmp_path):
    path = str(tmp_path / "resnet18.pth")
    trunk = _torchvision_resnet18(path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        D = define_D(3, 8, "resnet18", backbone_weights=path, backbone_norm="batch").eval()
        assert torch.allclose(D.backbone(x), trunk(x), atol=1e-5)
        # Other channel counts: RGB filters tiled and rescaled, so a gray image repeated gives the same map.
        gray = torch.randn(2, 1, 64, 64)
        for channels in (1, 2, 4, 6):
            D = define_D(channels, 8, "resnet18", backbone_weights=path, backbone_norm="batch").eval()
            assert torch.allclose(D.backbone(gray.repeat(1, channels, 1, 1)), trunk(gray.repeat(1, 3, 1, 1)),
                                  rtol=1e-4, atol=1e-3)
        # A torchvision segmentation file (trunk under backbone.) fits --netD fcn.
        D = define_D(3, 8, "fcn", backbone="resnet18", backbone_weights=path, backbone_norm="batch")
        torch.save({"backbone." + k: v for k, v in D.backbone.state_dict().items()}, tmp_path / "fcn.pth")
        D2 = define_D(3, 8, "fcn", backbone="resnet18", backbone_weights=str(tmp_path / "fcn.pth"),
                      backbone_norm="batch")
        assert all(torch.equal(v, D2.backbone.state_dict()[k]) for k, v in D.backbone.state_dict().items())


def test_weights_that_do_not_fit_are_one_clear_error(tmp_path):
    path = str(tmp_path / "resnet18.pth")
    _torchvision_resnet18(path)
    with pytest.raises(GantoolError, match=r"does not fit the resnet34 trunk: it lacks .*'layer1.2.conv1.weight'"):
        define_D(3, 8, "resnet34", backbone_weights=path)
    state = torch.load(path, weights_only=True)
    state["layer2.0.conv1.weight"] = torch.zeros(128, 32, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(GantoolError, match=r"'layer2.0.conv1.weight' is \(128, 32, 3, 3\) but the resnet18 trunk"):
        define_D(3, 8, "resnet18", backbone_weights=str(tmp_path / "bad.pth"))
    torch.save({"weights": nn.Linear(2, 2)}, tmp_path / "pickled.pth")  # a module: refused by weights_only
    with pytest.raises(GantoolError, match="refused"):
        define_D(3, 8, "resnet18", backbone_weights=str(tmp_path / "pickled.pth"))
    with pytest.raises(GantoolError, match="does not exist"):
        define_D(3, 8, "resnet18", backbone_weights=str(tmp_path / "missing.pth"))


def test_frozen_trunk_stays_fixed_but_passes_gradients(tmp_path):
    path = str(tmp_path / "resnet18.pth")
    _torchvision_resnet18(path)
    D = define_D(3, 8, "resnet18", backbone_weights=path, freeze_backbone=True, backbone_norm="batch",
                 image_size=32)
    unfrozen = define_D(3, 8, "resnet18", backbone_norm="batch", image_size=32)
    assert set(D.state_dict()) == set(unfrozen.state_dict())  # the same checkpoint keys
    assert [n for n, _ in D.named_parameters()] == ["head.2.weight", "head.2.bias"]
    before = {k: v.clone() for k, v in D.state_dict().items()}
    Recipe.set_requires_grad([D], True)  # what the recipes do before every D step: cannot unfreeze
    opt = torch.optim.Adam(D.parameters(), lr=0.1)
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    D.train()(x).sum().backward()
    opt.step()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the generator still gets gradients
    changed = {k for k, v in D.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.2.weight", "head.2.bias"}  # BatchNorm running statistics included


def test_bad_options_are_named():
    with pytest.raises(GantoolError, match="unknown --D_head 'middle'"):
        define_D(3, 8, "resnet18", head="middle")
    with pytest.raises(GantoolError, match="unknown --D_backbone 'resnet19'"):
        define_D(3, 8, "fcn", backbone="resnet19")
    with pytest.raises(GantoolError, match="unknown --D_backbone_norm 'group'"):
        define_D(3, 8, "resnet18", backbone_norm="group")
