"""Recipes by ``--model``: which networks, which losses, one training step.

Adding a model is one new module with ``@MODELS.register(name)`` plus one import line below.
"""
from .base import MODELS, Recipe

from . import cut, cycle_gan, test  # noqa: F401  (imported for their registrations)
from . import colorization, pix2pix  # noqa: F401  (imported for their registrations)
from . import dcgan, gan  # noqa: F401  (imported for their registrations)
from . import classifier, segmenter  # noqa: F401  (imported for their registrations)

__all__ = ["MODELS", "Recipe"]
