"""The ``--netG`` and ``--netD`` registries, filled by the family modules of this package.

A generator entry is a factory ``f(input_nc, output_nc, ngf, norm_layer, use_dropout) -> nn.Module``
whose module maps (N, input_nc, H, W) images in [-1, 1] to (N, output_nc, H, W) in [-1, 1] and
has an integer ``size_multiple`` attribute (H and W must be multiples of it).
A discriminator entry is a factory ``f(input_nc, ndf, n_layers_D, norm_layer) -> nn.Module``
whose module maps (N, input_nc, H, W) to raw logits (N, 1, H', W'); a factory with a true
``backbone_options`` attribute also takes ``define_D``'s backbone options and initialises its net
itself (see ``backbone_discriminator``), and its logits may be (N, 1) or a list of maps.
"""
from ..registry import Registry

GENERATORS = Registry("--netG")
DISCRIMINATORS = Registry("--netD")
