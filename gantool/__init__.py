"""gantool: GAN training and image-to-image translation (CycleGAN, pix2pix, DCGAN, ...) on CPU or GPU.

Importing the package loads nothing heavy. ``from gantool import Translator, define_G, define_D`` import
their modules on first use; the ``train.py`` / ``test.py`` command lines and ``gantool`` (``cli.py``) are
the entry points. The package's layout is described in README.md ("Layout").
"""
import importlib

__version__ = "0.1.0"

#: names importable from the package itself -> (module, attribute; None: the module)
_EXPORTS = {
    "Translator": ("gantool.inference.translator", "Translator"),
    "define_G": ("gantool.networks", "define_G"),
    "define_D": ("gantool.networks", "define_D"),
    "summary": ("gantool.metrics.summary", None),  # ``gantool.summary.summary(net, shape)``, as before
}


def __getattr__(name: str):
    # Imported on first use, so that ``import gantool`` does not import torch.
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gantool' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)
