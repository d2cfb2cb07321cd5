"""Generators and discriminators, one architecture family per file, chosen by name.

Adding a network is one new file here plus one ``@GENERATORS.register(name)`` (or
``@DISCRIMINATORS.register(name)``) line, and an import below so that the line runs. The registries
and what their entries must be: ``registry.py``; building by name: ``builders.py``.
"""
from ..ops.padding import crop_to, pad_to_multiple
from . import patchgan, resnet_generator, unet_generator  # noqa: F401  (fill the registries)
from . import backbone_discriminator  # noqa: F401  (--netD from the classifier and segmenter backbones)
from . import mobile_resnet  # noqa: F401  (--netG mobile_resnet_*: separable-conv ResNet generators)
from .builders import build_from_arch, define_D, define_G
from .norm import get_norm_layer, init_weights, mixes_samples, spectral_normalise
from .registry import DISCRIMINATORS, GENERATORS
from .spec import DiscriminatorSpec

__all__ = [
    "GENERATORS",
    "DISCRIMINATORS",
    "define_G",
    "define_D",
    "build_from_arch",
    "DiscriminatorSpec",
    "get_norm_layer",
    "init_weights",
    "mixes_samples",
    "spectral_normalise",
    "pad_to_multiple",
    "crop_to",
]
