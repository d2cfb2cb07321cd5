"""gantool: GAN training and image-to-image translation (CycleGAN, pix2pix, DCGAN, ...) on CPU or GPU.

Importing the package loads nothing heavy; use ``gantool.networks.define_G`` / ``define_D`` for
the classic networks, or the ``train.py`` / ``test.py`` command lines.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    # ``from gantool import Translator`` without importing torch when the package is imported.
    if name == "Translator":
        from .inference.translator import Translator

        return Translator
    raise AttributeError(f"module 'gantool' has no attribute {name!r}")
