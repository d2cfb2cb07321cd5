"""Depthwise-separable convolution (Sifre 2014; Xception, MobileNet, Howard et al. 2017).

A full k x k convolution mixes space and channels at once. The separable form factorises it:

- a **depthwise** k x k convolution filters each input channel on its own (``groups = in_channels``,
  ``depth_multiplier`` filters per channel), then
- a **pointwise** 1 x 1 convolution mixes the channels.

For Cin input channels, Cout output channels and a k x k kernel (depth multiplier 1, no biases):

====================  ==========================  ======================
                      parameters                  multiply-adds per pixel
====================  ==========================  ======================
full k x k conv       k² · Cin · Cout             k² · Cin · Cout
separable             k² · Cin + Cin · Cout       k² · Cin + Cin · Cout
ratio                 1/Cout + 1/k²               1/Cout + 1/k²
====================  ==========================  ======================

(multiply-adds per output pixel at stride 1, so the same ratio holds for the whole layer). For 3 x 3 and
Cout = 256, the ResNet generator's bottleneck, that is 1/256 + 1/9 = 0.115: 8.7 times fewer of both. With
a depth multiplier m the depthwise part has m·Cin outputs and the cost is k²·m·Cin + m·Cin·Cout.

The factorised layer is a restriction of the full one: with nothing between the two parts, it equals a
full convolution whose kernel is ``W[o, i] = P[o, i] · D[i]`` (rank one across channels per output),
which is what it gives up for the saving. MobileNet puts a normalisation and an activation between the
two parts; both are constructor arguments here, off by default.
"""
from typing import Callable, Optional

import torch
import torch.nn as nn

from .padding import pad_layer_class


class SeparableConv2d(nn.Module):
    """Depthwise k x k convolution, optional norm and activation, then pointwise 1 x 1 convolution.

    Children (so state-dict keys are ``depthwise.weight``, ``norm.*``, ``pointwise.weight``, ...):
    ``pad`` (a padding layer, or Identity for ``"zero"``), ``depthwise``, ``norm``, ``activation``
    (Identity when not asked for) and ``pointwise``.

    Args:
        in_channels: Cin.
        out_channels: Cout.
        kernel_size: k of the depthwise convolution; odd, so that ``"same"`` padding is symmetric.
        stride: stride of the depthwise convolution (2 to downsample); the pointwise one has stride 1.
        padding_type: ``"reflect"``, ``"replicate"`` or ``"zero"``: how the border is padded by k // 2.
        depth_multiplier: depthwise filters per input channel (m): the middle has m · Cin channels.
        bias: whether both convolutions carry a bias (the ResNet generator's rule: only before
            InstanceNorm; see ``networks.norm.norm_uses_bias``).
        norm_layer: normalisation constructor called with m · Cin, applied between the two parts; None: none.
        activation: activation constructor (no arguments, e.g. ``nn.ReLU``) applied after ``norm_layer``;
            None: none (the CycleGAN-compression "mobile" generator puts only a norm between).

    Shapes: (N, Cin, H, W) -> (N, Cout, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding_type: str = "zero",
        depth_multiplier: int = 1,
        bias: bool = True,
        norm_layer: Optional[Callable[[int], nn.Module]] = None,
        activation: Optional[Callable[[], nn.Module]] = None,
    ):
        super().__init__()
        pad_cls = pad_layer_class(padding_type)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive (symmetric padding), got {kernel_size}")
        if depth_multiplier < 1:
            raise ValueError(f"depth_multiplier must be >= 1, got {depth_multiplier}")
        mid = in_channels * depth_multiplier
        half = kernel_size // 2
        self.pad = nn.Identity() if pad_cls is None or half == 0 else pad_cls(half)
        self.depthwise = nn.Conv2d(in_channels, mid, kernel_size, stride=stride,
                                   padding=half if pad_cls is None else 0, groups=in_channels, bias=bias)
        self.norm = norm_layer(mid) if norm_layer is not None else nn.Identity()
        self.activation = activation() if activation is not None else nn.Identity()
        self.pointwise = nn.Conv2d(mid, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise(self.pad(x))  # (N, m*Cin, H/stride, W/stride): each channel filtered alone
        x = self.activation(self.norm(x))
        return self.pointwise(x)  # (N, Cout, H/stride, W/stride): channels mixed


def separable_cost(in_channels: int, out_channels: int, kernel_size: int, depth_multiplier: int = 1) -> int:
    """Weights (= multiply-adds per output pixel) of a bias-free ``SeparableConv2d``: k²·m·Cin + m·Cin·Cout.

    A full k x k convolution has ``kernel_size ** 2 * in_channels * out_channels``; the ratio of the two is
    ``1 / out_channels + 1 / kernel_size ** 2`` for ``depth_multiplier`` 1.
    """
    mid = in_channels * depth_multiplier
    return kernel_size * kernel_size * mid + mid * out_channels
