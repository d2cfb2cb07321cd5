"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Random augmentations written as plain tensor operations, so gradients flow through them to whatever made
the images (the generator, when D judges fakes). Every function takes a batch ``(N, C, H, W)`` of any
channel count, dtype and device and returns one of the same shape; each sample gets its own random
parameters, drawn from torch's global generator on the batch's device (a seeded run repeats them, and a
resumed one continues them).

The magnitudes are the paper's: brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5] (for images in
[-1, 1]), translation by up to 1/8 of the size with zero padding, cutout of a square half the size.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from ..errors import GantoolError


def _uniform(x: Tensor) -> Tensor:
    """One U(0, 1) draw per sample, ``(N, 1, 1, 1)`` in ``x``'s dtype on ``x``'s device."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device).to(x.dtype)


def brightness(x: Tensor, magnitude: float = 0.5) -> Tensor:
    """Add one offset per sample, uniform in ``[-magnitude, magnitude]``, to every pixel and channel."""
    return x + magnitude * (2 * _uniform(x) - 1)


def saturation(x: Tensor, magnitude: float = 1.0) -> Tensor:
    """Scale each pixel's distance from its channel mean by one factor per sample in ``1 +- magnitude``
    (a no-op on one channel, where a pixel equals its channel mean)."""
    mean = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
    return (x - mean) * (1 + magnitude * (2 * _uniform(x) - 1)) + mean


def contrast(x: Tensor, magnitude: float = 0.5) -> Tensor:
    """Scale each sample's distance from its mean over all pixels and channels by a factor in ``1 +- magnitude``."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (x - mean) * (1 + magnitude * (2 * _uniform(x) - 1)) + mean


def _ratio_size(size: int, ratio: float) -> int:
    return int(size * ratio + 0.5)  # rounded half up, as in the paper's code


def shift(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Move sample ``i``'s content down by ``dy[i]`` and right by ``dx[i]`` pixels (negative: up, left);
    pixels that come from outside the image are 0.

    Args:
        x: ``(N, C, H, W)``.
        dy, dx: integer tensors of shape ``(N,)`` on ``x``'s device.
    """
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).unsqueeze(0) - dy.view(n, 1)  # (N, H): source row of each row
    cols = torch.arange(w, device=x.device).unsqueeze(0) - dx.view(n, 1)  # (N, W)
    out = x.gather(2, rows.clamp(0, h - 1).view(n, 1, h, 1).expand(n, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1).view(n, 1, 1, w).expand(n, c, h, w))
    inside = ((rows >= 0) & (rows < h)).view(n, 1, h, 1) & ((cols >= 0) & (cols < w)).view(n, 1, 1, w)
    return out * inside.to(x.dtype)


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by a random whole number of pixels, up to ``ratio`` of the height (vertically) and
    of the width (horizontally) either way, with zero padding (:func:`shift`)."""
    n, _, h, w = x.shape
    max_y, max_x = _ratio_size(h, ratio), _ratio_size(w, ratio)
    dy = torch.randint(-max_y, max_y + 1, (n,), device=x.device)
    dx = torch.randint(-max_x, max_x + 1, (n,), device=x.device)
    return shift(x, dy, dx)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square per sample, ``ratio`` of the height by ``ratio`` of the width, in every channel.

    As in the paper's code its centre is uniform over the image, so near a border part of it falls outside
    and fewer pixels are zeroed.
    """
    n, _, h, w = x.shape
    size_y, size_x = _ratio_size(h, ratio), _ratio_size(w, ratio)
    top = torch.randint(0, h + 1 - size_y % 2, (n, 1, 1), device=x.device) - size_y // 2
    left = torch.randint(0, w + 1 - size_x % 2, (n, 1, 1), device=x.device) - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cut = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)  # (N, H, W)
    return x * (~cut).unsqueeze(1).to(x.dtype)


#: ``--diffaug`` policy name -> the augmentations it applies, in order
POLICIES: Dict[str, Tuple[Callable[[Tensor], Tensor], ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> List[str]:
    """``"color,translation,cutout"`` -> its policy names in order (empty string: none); an unknown name
    raises a one-line ``GantoolError`` naming the valid ones."""
    names = [name.strip() for name in policy.split(",") if name.strip()]
    for name in names:
        if name not in POLICIES:
            raise GantoolError(f"--diffaug: unknown policy '{name}'; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: Tensor, policy: Sequence[str]) -> Tensor:
    """Apply the policies named in ``policy`` (see :func:`parse_policy`) in order to ``x`` ``(N, C, H, W)``;
    returns a tensor of the same shape, differentiable w.r.t. ``x``."""
    for name in policy:
        for augment in POLICIES[name]:
            x = augment(x)
    return x
