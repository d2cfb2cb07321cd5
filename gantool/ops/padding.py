"""Pad arbitrary-size images to a generator's ``size_multiple`` and crop the result back.

Strided generators only reproduce their input size when H and W are multiples of
``2 ** downsamplings``; test-time images (``--preprocess none``) often are not.
"""
from typing import Optional, Tuple, Type

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pad_last_dim(x: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """Pad ``pad`` pixels after the end of ``dim`` (-1 for width, -2 for height)."""
    if pad == 0:
        return x
    # Reflection avoids a visible seam, but needs pad < size; tiny images fall back to replicate.
    mode = "reflect" if pad < x.shape[dim] else "replicate"
    widths = (0, pad, 0, 0) if dim == -1 else (0, 0, 0, pad)
    return F.pad(x, widths, mode=mode)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Pad the bottom and right of a batch so that H and W become multiples of ``multiple``.

    Args:
        x: images, shape (N, C, H, W).
        multiple: the size multiple, usually the generator's ``size_multiple``.

    Returns:
        ``(padded, (H, W))``: the padded batch (N, C, H', W') with H' and W' the next multiples
        (``x`` itself when nothing is needed), and the original size to hand to ``crop_to``.
    """
    if x.dim() != 4:
        raise ValueError(f"pad_to_multiple expects an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = x.shape[-2:]
    x = _pad_last_dim(x, -h % multiple, dim=-2)
    x = _pad_last_dim(x, -w % multiple, dim=-1)
    return x, (h, w)


def crop_to(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Crop a batch back to ``size`` from the top-left, undoing ``pad_to_multiple``.

    Args:
        x: images, shape (N, C, H', W') with H' >= H and W' >= W.
        size: ``(H, W)`` as returned by ``pad_to_multiple``.

    Returns:
        A view of shape (N, C, H, W).
    """
    h, w = size
    return x[..., :h, :w]


#: ``padding_type`` -> the layer that pads a feature map by a few pixels (None: the convolution zero-pads itself)
PAD_LAYERS = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "zero": None}


def pad_layer_class(padding_type: str) -> Optional[Type[nn.Module]]:
    """The padding layer class of ``padding_type`` (``"reflect"``, ``"replicate"``; None for ``"zero"``).

    Raises:
        ValueError: for another name, listing the choices.
    """
    if padding_type not in PAD_LAYERS:
        raise ValueError(f"padding_type '{padding_type}' is unknown; choose from: {', '.join(PAD_LAYERS)}")
    return PAD_LAYERS[padding_type]
