"""Translate large images in overlapping tiles and blend the seams.

A generator's memory grows with the image; tiles bound it. Neighbouring tiles overlap by
``overlap`` pixels and are averaged with weights that fall smoothly (a raised cosine) towards each
tile's edges, so no seam shows where the network's border effects would otherwise meet.
"""
import math
from typing import Callable, List

import torch
from torch import Tensor


def tile_starts(size: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of tiles of length ``tile`` covering ``[0, size)`` with at least ``overlap`` in common.

    The last tile ends exactly at ``size``; a ``size`` up to ``tile`` gives one tile at 0.
    """
    if size <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((size - tile) / stride) + 1
    # Spread the tiles evenly so every overlap is at least ``overlap`` wide.
    return [round(i * (size - tile) / (count - 1)) for i in range(count)]


def blend_window(length: int, overlap: int, device=None) -> Tensor:
    """1-D weights for one tile: a raised cosine over ``overlap`` pixels at each end, 1 in between.

    The weights never reach 0 (an image border is covered by one tile only).
    """
    w = torch.ones(length, device=device)
    ramp = min(overlap, length // 2)
    if ramp > 0:
        t = (torch.arange(ramp, device=device, dtype=torch.float32) + 0.5) / ramp
        edge = 0.5 - 0.5 * torch.cos(math.pi * t)  # (0, 1), rising
        w[:ramp] = edge
        w[length - ramp:] = edge.flip(0)
    return w


def translate_tiled(fn: Callable[[Tensor], Tensor], images: Tensor, tile: int, overlap: int = 32) -> Tensor:
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` crops of ``images`` and blend the results.

    Args:
        fn: maps (N, C, h, w) to (N, C_out, h, w) for any h, w (pad inside if needed).
        images: (N, C, H, W).
        tile: tile side in pixels (images no larger than that go through ``fn`` whole).
        overlap: pixels shared by neighbouring tiles, blended; less than ``tile``.

    Returns:
        (N, C_out, H, W).
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile {tile} and overlap {overlap}")
    n, _, h, w = images.shape
    if h <= tile and w <= tile:
        return fn(images)
    out = weight = None
    for top in tile_starts(h, tile, overlap):
        for left in tile_starts(w, tile, overlap):
            crop = images[:, :, top:top + tile, left:left + tile]
            result = fn(crop)  # (N, C_out, th, tw)
            th, tw = result.shape[-2:]
            if out is None:
                out = result.new_zeros(n, result.shape[1], h, w)
                weight = result.new_zeros(1, 1, h, w)
            win = blend_window(th, overlap, result.device)[:, None] * blend_window(tw, overlap, result.device)[None]
            out[:, :, top:top + th, left:left + tw] += result * win
            weight[:, :, top:top + th, left:left + tw] += win
    return out / weight
