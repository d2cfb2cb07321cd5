"""Loading a feature extractor for FID/KID by name (``--extractor``); see ``extractor_base`` for the interface."""
from typing import Callable, Optional

import torch

from .extractor_base import EXTRACTORS, FeatureExtractor


def load_extractor(name: str, device: torch.device = torch.device("cpu"), weights: Optional[str] = None,
                   download: bool = False, log: Callable[[str], None] = print) -> FeatureExtractor:
    """The extractor ``name`` on ``device`` in eval mode, gradients off.

    Args:
        name: a registered name (``inception``, ``digits``, ``toy_scenes`` ...); unknown names raise listing them.
        weights: a weights file to use instead of the extractor's default place.
        download: fetch missing weights from their published address (only when the user asked).
    """
    _register_all()
    net = EXTRACTORS.get(name)(device=device, weights=weights, download=download, log=log)
    net.eval().requires_grad_(False)
    return net.to(device)


def extractor_names() -> list:
    """The registered extractor names."""
    _register_all()
    return EXTRACTORS.names()


def _register_all() -> None:
    # The modules register their entries on import; imported here, not at package import (no side effects).
    from . import builtin_extractors, inception  # noqa: F401
