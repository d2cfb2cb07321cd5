"""DCGAN (Radford et al. 2016) for any power-of-two image size from 16 to 256.

At 64x64 the layouts are exactly pytorch/examples ``dcgan/main.py`` (``main.0.weight`` ...
``main.12.weight``), so its ``netG_epoch_*.pth`` files load. Other sizes add or remove one stride-2
stage per factor of two; channel counts double per stage down to 4x4 and are capped at 8 * ngf
(8 * ndf), like the classic PatchGAN, so that 128 and 256 stay a sensible size.
"""
import math
from typing import Callable, List

import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..io.arch import DCGANGeneratorArch
from .norm import get_norm_layer, init_weights, spectral_normalise

MIN_SIZE, MAX_SIZE = 16, 256


def _stages(img_size: int) -> int:
    """Stride-2 stages between 4x4 and ``img_size`` (4 for 64x64)."""
    if not (MIN_SIZE <= img_size <= MAX_SIZE and img_size & (img_size - 1) == 0):
        raise GantoolError(f"--img_size {img_size}: dcgan needs a power of two from {MIN_SIZE} to {MAX_SIZE}")
    return int(math.log2(img_size)) - 2


def _mult(stage: int) -> int:
    return min(2 ** stage, 8)


class DCGANGenerator(nn.Module):
    """z -> ConvTranspose 4x4 (1 -> 4x4) -> stride-2 ConvTranspose stages with BatchNorm + ReLU -> Tanh.

    ReLU in the generator and LeakyReLU(0.2) in the discriminator follow the DCGAN paper (and
    pytorch/examples); no layer has a bias because BatchNorm's shift makes it redundant.

    Args:
        latent_dim: length of z.
        channels: image channels.
        img_size: a power of two from 16 to 256.
        ngf: filters of the last hidden stage (the first has ``ngf * min(2**(stages-1), 8)``).

    Shapes: (N, latent_dim) or (N, latent_dim, 1, 1) -> (N, channels, img_size, img_size) in [-1, 1].
    """

    def __init__(self, latent_dim: int = 100, channels: int = 3, img_size: int = 64, ngf: int = 64):
        super().__init__()
        stages = _stages(img_size)
        width = ngf * _mult(stages - 1)
        layers: List[nn.Module] = [nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(True)]
        for stage in range(stages - 2, -1, -1):  # each stage doubles H and W
            out = ngf * _mult(stage)
            layers += [nn.ConvTranspose2d(width, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
            width = out
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.latent_dim = latent_dim
        # Saved beside its checkpoints (gantool.io.arch): test.py and the API rebuild it without options.
        self.gantool_arch = DCGANGeneratorArch(latent_dim=latent_dim, channels=channels, img_size=img_size, ngf=ngf)

    def forward(self, z: Tensor) -> Tensor:
        z = z.reshape(z.shape[0], self.latent_dim, 1, 1)  # (N, nz, 1, 1)
        return self.main(z)  # (N, ngf*m, 4, 4) -> ... -> (N, channels, img_size, img_size)


class DCGANDiscriminator(nn.Module):
    """Stride-2 convolutions with LeakyReLU(0.2) (normalised from the second) down to 4x4, then a 4x4 conv.

    Args:
        channels: image channels.
        img_size: a power of two from 16 to 256.
        ndf: filters of the first conv.
        norm_layer: normalisation after every conv but the first and last (``nn.BatchNorm2d`` in
            DCGAN; identity for a WGAN-GP critic, whose per-sample penalty BatchNorm would couple).
        bias: a bias on every conv (DCGAN has none: BatchNorm's shift makes it redundant; spectral
            normalisation keeps one).

    Shapes: (N, channels, img_size, img_size) -> (N, 1) raw logits.
    """

    def __init__(self, channels: int = 3, img_size: int = 64, ndf: int = 64,
                 norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d, bias: bool = False):
        super().__init__()
        stages = _stages(img_size)
        layers: List[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for stage in range(1, stages):  # each stage halves H and W
            out = ndf * _mult(stage)
            layers += [nn.Conv2d(width, out, 4, 2, 1, bias=bias), norm_layer(out), nn.LeakyReLU(0.2, inplace=True)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=bias))
        self.main = nn.Sequential(*layers)

    def forward(self, img: Tensor) -> Tensor:
        return self.main(img).flatten(1)  # (N, ndf*m, 4, 4) -> (N, 1, 1, 1) -> (N, 1)


def define_dcgan(latent_dim: int, channels: int, img_size: int, ngf: int, ndf: int, d_norm: str = "batch",
                 init_type: str = "normal", init_gain: float = 0.02, with_discriminator: bool = True):
    """Build and initialise a DCGAN pair (weights N(0, 0.02), BatchNorm scales N(1, 0.02) by default).

    Args:
        latent_dim, channels, img_size, ngf, ndf: see the network classes.
        d_norm: the discriminator's ``--norm`` name: ``batch`` (DCGAN), ``instance`` or ``none``; or ``spectral``
            (``--norm_D spectral``): no normalisation layers, a bias and spectral normalisation on every conv.
        init_type, init_gain: see ``init_weights``.
        with_discriminator: False builds the generator only (test time).

    Returns:
        ``(generator, discriminator or None)`` on the CPU.
    """
    G = init_weights(DCGANGenerator(latent_dim, channels, img_size, ngf), init_type, init_gain)
    if not with_discriminator:
        return G, None
    if d_norm == "spectral":
        D = DCGANDiscriminator(channels, img_size, ndf, get_norm_layer("none"), bias=True)
        return G, spectral_normalise(init_weights(D, init_type, init_gain))
    D = DCGANDiscriminator(channels, img_size, ndf, get_norm_layer(d_norm))
    return G, init_weights(D, init_type, init_gain)
