"""The ``--netC`` and ``--netS`` registries, filled by the family modules of this package (entries: see
the package docstring)."""
from ..registry import Registry

CLASSIFIERS = Registry("--netC")
SEGMENTERS = Registry("--netS")
