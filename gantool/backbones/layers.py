"""Pooling layers for the backbones: torchvision's pools, made safe for small inputs.

torchvision sizes its trunks for 224x224 images. On 28x28 or 32x32 inputs some of their pools meet
a map smaller than their window (AlexNet at 32: a 1x1 map, a 3x3 window) and raise "Output size is
too small". These subclasses pool such a side as one window instead, so every map keeps at least
one pixel. Wherever the torch pool works they give exactly its output, so torchvision checkpoints
give the same results; they have no parameters, so state-dict keys are unchanged.
"""
from typing import Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

_Size = Union[int, Tuple[int, ...]]


def _pair(value: _Size) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _deficit(x: torch.Tensor, kernel_size: _Size, padding: _Size, dilation: _Size = 1) -> Tuple[int, int]:
    """Pixels missing at the bottom and right of ``x`` (N, C, H, W) for one full pooling window."""
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h, w = x.shape[-2:]
    return max(0, span_h - (h + 2 * ph)), max(0, span_w - (w + 2 * pw))


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that takes the maximum over a side shorter than its window instead of failing.

    Such a side is padded with -inf up to the window, which changes no maximum.
    Arguments as ``nn.MaxPool2d`` (``return_indices`` is not supported).

    Shapes: (N, C, H, W) -> (N, C, H', W') with H', W' >= 1; identical to ``nn.MaxPool2d`` whenever
    that gives a non-empty output.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = _deficit(x, self.kernel_size, self.padding, self.dilation)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
        return super().forward(x)


class AvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` that averages a side shorter than its window instead of failing.

    Such a side is zero-padded up to the window and the result rescaled, so the mean is over the
    real pixels (and the layer's own padding, as with ``count_include_pad=True``, the only mode
    supported). Arguments as ``nn.AvgPool2d``.

    Shapes: (N, C, H, W) -> (N, C, H', W') with H', W' >= 1; identical to ``nn.AvgPool2d`` whenever
    that gives a non-empty output.
    """

    def __init__(self, kernel_size: _Size, stride: _Size = None, padding: _Size = 0, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode, count_include_pad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = _deficit(x, self.kernel_size, self.padding)
        if not (pad_h or pad_w):
            return super().forward(x)
        kh, kw = _pair(self.kernel_size)
        y = super().forward(F.pad(x, (0, pad_w, 0, pad_h)))
        # The zeros entered the window's mean: undo their share along the padded sides.
        return y * (kh / (kh - pad_h)) * (kw / (kw - pad_w))
