"""The extractor interface and registry (``--extractor``); ``extractors.py`` loads the entries.

An extractor is a module that maps a batch of images to one feature vector per image. It takes
images as they are stored, (N, C, H, W) floats in [0, 1] with C = 1 (gray) or 3 (RGB), of any size,
and does its own preprocessing (channel count, resizing, value range). Its ``name`` is written next
to every score it gave, so that figures from different extractors are never mixed.

Entries are registered by the modules that define them (``inception.py``, ``builtin_extractors.py``)
as functions ``(device, weights=None, download=False, log=print) -> FeatureExtractor``; weights they
cannot find without a download raise a one-line ``GantoolError`` saying how to get them.
"""
import torch
import torch.nn as nn
from torch import Tensor

from ..registry import Registry

EXTRACTORS = Registry("--extractor")


class FeatureExtractor(nn.Module):
    """Base class: ``forward(images)`` -> (N, ``dim``) float32 features.

    Attributes:
        name: the extractor and its weights, e.g. ``"inception-v3-pt_inception-2015-12-05"``; printed and
            saved with every score.
        dim: feature size.
    """

    name: str = ""
    dim: int = 0

    def preprocess(self, images: Tensor) -> Tensor:
        """(N, C, H, W) in [0, 1] -> the network's input (N, C', H', W')."""
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        """The network's input -> (N, ``dim``)."""
        raise NotImplementedError

    def forward(self, images: Tensor) -> Tensor:
        return self.features(self.preprocess(images)).float()  # (N, dim)


def gray_to_rgb(images: Tensor) -> Tensor:
    """(N, 1 or 3, H, W) -> (N, 3, H, W): a gray channel is repeated; other channel counts raise."""
    if images.shape[1] == 3:
        return images
    if images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    raise ValueError(f"an extractor takes 1 or 3 channels, got {images.shape[1]}")


def rgb_to_gray(images: Tensor) -> Tensor:
    """(N, 1 or 3, H, W) -> (N, 1, H, W) with the ITU-R 601 luma weights."""
    if images.shape[1] == 1:
        return images
    if images.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
        return (images * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)
    raise ValueError(f"an extractor takes 1 or 3 channels, got {images.shape[1]}")
