"""Datasets by ``--dataset_mode``, the shared preprocessing, and the built-in demo dataset.

``create_dataset("unaligned", root=..., phase=..., ...)`` builds a registered mode; adding a
mode is one new module with ``@DATASETS.register(name)`` plus one import line below.
"""
from . import aligned, single, unaligned  # noqa: F401  (imported for their registrations)
from . import colorization  # noqa: F401  (imported for its registration)
from . import digits, image_folder, torchvision_sets  # noqa: F401  (imported for their registrations)
from . import segmentation  # noqa: F401  (imported for its registration)
from .base import DATASETS, FolderDataset
from .builtin import BUILTIN_NAME, builtin_option_defaults, ensure_builtin
from .transforms import Preprocess

__all__ = ["DATASETS", "FolderDataset", "Preprocess", "create_dataset", "ensure_builtin",
           "BUILTIN_NAME"]


def create_dataset(mode: str, **kwargs):
    """Build the dataset registered as ``mode`` with ``kwargs`` (see ``FolderDataset`` for them).

    Raises:
        UnknownNameError: ``mode`` is not registered (the message lists the choices).
    """
    return DATASETS.get(mode)(**kwargs)
