"""MLP GAN and DCGAN networks: reference key layouts, shapes for every size, initialisation."""
import pytest
import torch

from gantool.errors import GantoolError
from gantool.networks.dcgan import DCGANDiscriminator, DCGANGenerator, define_dcgan
from gantool.networks.mlp_gan import MLPDiscriminator, MLPGenerator


def _shapes(net):
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def test_mlp_gan_has_the_pytorch_gan_layout():
    G, D = MLPGenerator(100, 1, 28), MLPDiscriminator(1, 28)
    widths = [(100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    expected_G = {}
    for index, (n_in, n_out) in zip([0, 2, 5, 8, 11], widths):
        expected_G.update({f"model.{index}.weight": (n_out, n_in), f"model.{index}.bias": (n_out,)})
    for index, n in ((3, 256), (6, 512), (9, 1024)):
        expected_G.update({f"model.{index}.{k}": (n,) for k in ("weight", "bias", "running_mean", "running_var")})
    assert _shapes(G) == expected_G
    assert [m.eps for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)] == [0.8, 0.8, 0.8]
    assert _shapes(D) == {"model.0.weight": (512, 784), "model.0.bias": (512,), "model.2.weight": (256, 512),
                          "model.2.bias": (256,), "model.4.weight": (1, 256), "model.4.bias": (1,)}
    z = torch.randn(5, 100)
    img = G(z)
    assert img.shape == (5, 1, 28, 28) and img.abs().max() <= 1
    assert D(img).shape == (5, 1)
    assert MLPGenerator(16, 3, 20)(torch.randn(2, 16)).shape == (2, 3, 20, 20)


def test_dcgan_64_has_the_pytorch_examples_layout():
    G, D = define_dcgan(latent_dim=100, channels=3, img_size=64, ngf=64, ndf=64)
    conv_G = {0: (100, 512), 3: (512, 256), 6: (256, 128), 9: (128, 64), 12: (64, 3)}
    expected_G = {f"main.{i}.weight": (a, b, 4, 4) for i, (a, b) in conv_G.items()}
    for i, n in ((1, 512), (4, 256), (7, 128), (10, 64)):
        expected_G.update({f"main.{i}.{k}": (n,) for k in ("weight", "bias", "running_mean", "running_var")})
    assert _shapes(G) == expected_G
    conv_D = {0: (64, 3), 2: (128, 64), 5: (256, 128), 8: (512, 256), 11: (1, 512)}
    expected_D = {f"main.{i}.weight": (a, b, 4, 4) for i, (a, b) in conv_D.items()}
    for i, n in ((3, 128), (6, 256), (9, 512)):
        expected_D.update({f"main.{i}.{k}": (n,) for k in ("weight", "bias", "running_mean", "running_var")})
    assert _shapes(D) == expected_D
    # DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scales N(1, 0.02), shifts 0.
    weights = torch.cat([G.main[i].weight.flatten() for i in conv_G])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.001
    assert abs(G.main[1].weight.mean().item() - 1) < 0.01 and G.main[1].bias.abs().max() == 0


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_for_every_size(size, channels):
    G = DCGANGenerator(latent_dim=8, channels=channels, img_size=size, ngf=4)
    D = DCGANDiscriminator(channels=channels, img_size=size, ndf=4)
    img = G(torch.randn(2, 8))
    assert img.shape == (2, channels, size, size)
    assert G(torch.randn(2, 8, 1, 1)).shape == img.shape  # the 4-d noise of pytorch/examples works too
    assert D(img).shape == (2, 1)
    stages = size.bit_length() - 3  # stride-2 layers between 4x4 and size
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules()) == stages + 1
    assert sum(isinstance(m, torch.nn.Conv2d) for m in D.modules()) == stages + 1
    # Widths double towards 4x4 and stop at 8x the base width.
    assert G.main[0].out_channels == 4 * min(2 ** (stages - 1), 8)


@pytest.mark.parametrize("size", [8, 24, 48, 512])
def test_dcgan_rejects_sizes_it_cannot_build(size):
    with pytest.raises(GantoolError, match=f"--img_size {size}: dcgan needs a power of two from 16 to 256"):
        DCGANGenerator(img_size=size)


def test_wgangp_critic_has_no_batchnorm():
    _, D = define_dcgan(8, 1, 32, 8, 8, d_norm="none")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    assert set(_shapes(D)) == {"main.0.weight", "main.2.weight", "main.5.weight", "main.8.weight"}
