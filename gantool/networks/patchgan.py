"""PatchGAN discriminators (Isola et al. 2017): ``--netD basic | n_layers | pixel``.

Layouts reproduce the classic pytorch-CycleGAN-and-pix2pix ones exactly (keys ``model.11.weight``,
``net.5.weight``). Outputs are raw logits, one per patch: the GAN loss applies the sigmoid
(BCEWithLogits) or none at all (lsgan, wgangp, hinge).
"""
import torch
import torch.nn as nn

from .norm import NormLayer, norm_uses_bias
from .registry import DISCRIMINATORS


class NLayerDiscriminator(nn.Module):
    """A fully convolutional PatchGAN classifying overlapping patches as real or fake.

    Args:
        input_nc: channels of the input (6 for pix2pix, which sees A and B concatenated).
        ndf: filters in the first conv layer; later layers use up to ``8 * ndf``.
        n_layers: number of stride-2 conv layers; 3 gives the 70x70 receptive field.
        norm_layer: normalization-layer constructor (see ``get_norm_layer``).

    Shapes: (N, input_nc, H, W) -> (N, 1, H', W') logits, where each stride-2 layer maps
    S -> floor(S / 2) and the two final stride-1 layers each take one off: 256x256 -> 30x30
    for ``n_layers=3``.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = nn.BatchNorm2d):
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        super().__init__()
        use_bias = norm_uses_bias(norm_layer)
        kw, padw = 4, 1
        # No norm on the first layer: normalising raw images hurts (as in DCGAN).
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
            sequence += [
                nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * nf_mult),
                nn.LeakyReLU(0.2, True),
            ]
        nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (N, input_nc, H, W) -> (N, 1, H', W')


class PixelDiscriminator(nn.Module):
    """A 1x1 PatchGAN (PixelGAN): classifies every pixel independently.

    Args:
        input_nc: channels of the input.
        ndf: filters in the first 1x1 conv layer.
        norm_layer: normalization-layer constructor (see ``get_norm_layer``).

    Shapes: (N, input_nc, H, W) -> (N, 1, H, W) logits.
    """

    def __init__(self, input_nc: int, ndf: int = 64, norm_layer: NormLayer = nn.BatchNorm2d):
        super().__init__()
        use_bias = norm_uses_bias(norm_layer)
        # The last conv follows the norm rule too (classic), so with batch norm it has no bias.
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
            norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, input_nc, H, W) -> (N, 1, H, W)


@DISCRIMINATORS.register("basic", "70x70 PatchGAN")
def basic(input_nc: int, ndf: int, n_layers_D: int, norm_layer: NormLayer) -> nn.Module:
    """The 70x70 PatchGAN: NLayerDiscriminator with 3 layers (``n_layers_D`` is ignored)."""
    return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm_layer=norm_layer)


@DISCRIMINATORS.register("n_layers", "PatchGAN of --n_layers_D layers")
def n_layers(input_nc: int, ndf: int, n_layers_D: int, norm_layer: NormLayer) -> nn.Module:
    """NLayerDiscriminator with ``n_layers_D`` stride-2 layers."""
    return NLayerDiscriminator(input_nc, ndf, n_layers=n_layers_D, norm_layer=norm_layer)


@DISCRIMINATORS.register("pixel", "1x1 PixelGAN")
def pixel(input_nc: int, ndf: int, n_layers_D: int, norm_layer: NormLayer) -> nn.Module:
    """The 1x1 PixelGAN (``n_layers_D`` is ignored)."""
    return PixelDiscriminator(input_nc, ndf, norm_layer=norm_layer)
