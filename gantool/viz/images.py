"""Tensor -> picture helpers: ``tensor2im``, ``save_image`` (atomic), ``make_grid_image``.

Images travel through the models as float tensors in [-1, 1] (the ``Normalize(0.5, 0.5)`` convention
of the classic pytorch-CycleGAN-and-pix2pix); on disk and in the dashboard they are uint8 RGB.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image

from ..io.files import atomic_write

ImageLike = Union[torch.Tensor, np.ndarray]


def _chw_to_uint8(chw: torch.Tensor) -> np.ndarray:
    """One (C, H, W) tensor in [-1, 1] -> uint8 (H, W, 3)."""
    if chw.dim() != 3 or chw.shape[0] not in (1, 3):
        raise ValueError(f"expected an image tensor shaped (C, H, W) with C = 1 or 3, got {tuple(chw.shape)}")
    # bf16/fp16 have no numpy equivalent and AMP outputs often arrive in them; a diverged GAN can emit
    # NaN, which would turn into arbitrary bytes, so show it as mid-gray instead.
    chw = torch.nan_to_num(chw.detach().to("cpu", torch.float32), nan=0.0).clamp_(-1.0, 1.0)
    if chw.shape[0] == 1:
        chw = chw.expand(3, -1, -1)
    # Truncation (not rounding) matches the classic tensor2im, so saved results are byte-identical.
    return ((chw.permute(1, 2, 0).numpy() + 1.0) / 2.0 * 255.0).astype(np.uint8)


def tensor2im(t: ImageLike) -> np.ndarray:
    """Turn a generator output into a displayable uint8 picture.

    Args:
        t: a (N, C, H, W) batch (only the first image is used, like the classic ``tensor2im``), or one
            (C, H, W) image; values in [-1, 1] (clamped), C = 1 (tiled to gray RGB) or 3; any dtype and
            device, gradients are ignored. A numpy array is taken as already converted and cast to uint8.

    Returns:
        uint8 array shaped (H, W, 3).
    """
    if isinstance(t, np.ndarray):
        return t.astype(np.uint8)
    if t.dim() == 4:
        t = t[0]
    return _chw_to_uint8(t)


def save_image(arr: np.ndarray, path: str, aspect_ratio: float = 1.0) -> None:
    """Save a uint8 (H, W, 3) picture atomically; the format follows the extension (.png, .jpg, ...).

    Args:
        arr: uint8 array (H, W, 3) or (H, W), e.g. from :func:`tensor2im`.
        path: destination file; its folder must exist.
        aspect_ratio: classic ``--aspect_ratio``: > 1 stretches the height to ``H * aspect_ratio``,
            < 1 stretches the width to ``W / aspect_ratio`` (bicubic). For the square crops the classic
            saves this is exactly its result; unlike the classic it does not swap H and W on
            non-square pictures.
    """
    image = Image.fromarray(np.asarray(arr, dtype=np.uint8))
    w, h = image.size
    if aspect_ratio > 1.0:
        image = image.resize((w, int(h * aspect_ratio)), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        image = image.resize((int(w / aspect_ratio), h), Image.BICUBIC)
    ext = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"cannot tell the image format of {path!r}; use a .png or .jpg name")
    atomic_write(path, lambda f: image.save(f, format=fmt))


def pad_to_same_size(images: Sequence[np.ndarray], fill: int = 255) -> list[np.ndarray]:
    """Pad (H, W, 3) uint8 pictures at the bottom/right to the largest height and width.

    Grids and visdom's ``images`` need equal sizes; visuals of one model normally agree already.
    """
    h = max(im.shape[0] for im in images)
    w = max(im.shape[1] for im in images)
    out = []
    for im in images:
        if im.shape[:2] != (h, w):
            canvas = np.full((h, w, 3), fill, dtype=np.uint8)
            canvas[: im.shape[0], : im.shape[1]] = im
            im = canvas
        out.append(im)
    return out


def make_grid_image(
    tensors: Union[ImageLike, Sequence[ImageLike]], ncols: int = 0, padding: int = 2, fill: int = 255
) -> np.ndarray:
    """Lay several images out in a grid, row by row.

    Args:
        tensors: a (N, C, H, W) batch (every image is used), or a sequence of images, each anything
            :func:`tensor2im` accepts (a batch in the sequence contributes its first image).
        ncols: images per row; 0 puts them all in one row.
        padding: pixels of ``fill`` between and around the images.
        fill: padding gray level (255 = white, like the classic dashboard).

    Returns:
        uint8 array (rows * (H + padding) + padding, cols * (W + padding) + padding, 3).
    """
    if isinstance(tensors, torch.Tensor) and tensors.dim() == 4:
        images = [_chw_to_uint8(t) for t in tensors]
    elif isinstance(tensors, (torch.Tensor, np.ndarray)):
        images = [tensor2im(tensors)]
    else:
        images = [tensor2im(t) for t in tensors]
    if not images:
        raise ValueError("make_grid_image needs at least one image")
    images = pad_to_same_size(images, fill)
    h, w = images[0].shape[:2]
    cols = min(ncols, len(images)) if ncols > 0 else len(images)
    rows = -(-len(images) // cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), fill, np.uint8)
    for k, im in enumerate(images):
        y = padding + (k // cols) * (h + padding)
        x = padding + (k % cols) * (w + padding)
        grid[y : y + h, x : x + w] = im
    return grid
