"""U-Net segmenter (Ronneberger et al. 2015) with same-padded convolutions: ``--netS unet``."""
from typing import List

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from ..ops.padding import crop_to, pad_to_multiple
from .layers import MaxPool2d
from .registry import SEGMENTERS


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (padding 1, no bias), each with BatchNorm and ReLU (or ``activation``, a name
    of ``gantool.ops.activations.ACTIVATIONS``, a module each at indices 2 and 5).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "relu"):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            make_activation(activation),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            make_activation(activation),
        )


class Down(nn.Sequential):
    """2x2 max pool then ``DoubleConv``: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int, activation: str = "relu"):
        super().__init__(MaxPool2d(kernel_size=2, stride=2), DoubleConv(in_channels, out_channels, activation))


class Up(nn.Module):
    """2x2 transposed convolution (halving the channels), concatenation with the skip, ``DoubleConv``.

    Shapes: (N, in_channels, H, W) and skip (N, in_channels / 2, 2H, 2W) -> (N, out_channels, 2H, 2W).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "relu"):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, activation)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)  # (N, C/2, 2H, 2W)
        return self.conv(torch.cat([skip, x], 1))  # (N, C, 2H, 2W) -> (N, out_channels, 2H, 2W)


class UNet(nn.Module):
    """U-Net: an encoder of ``depth`` 2x downsamplings, a symmetric decoder with skip connections,
    and a 1x1 convolution to class logits. Convolutions are padded (unlike the paper's valid ones),
    so inputs of any size are padded at the bottom and right to a multiple of ``2 ** depth`` and the
    logits cropped back.

    Args:
        in_channels: channels of the input images.
        num_classes: number of classes (logit channels).
        base_channels: channels of the first level; level i has ``base_channels * 2 ** i``.
        depth: number of downsamplings (4 in the paper).
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every ``DoubleConv``
            (``relu``, the default, is the paper's; ``prelu`` adds ``<...>.2.weight`` and
            ``<...>.5.weight`` per ``DoubleConv``).

    Shapes: (N, in_channels, H, W) -> (N, num_classes, H, W) logits; the encoder bottom
    (``trunk_channels``) is (N, base_channels * 2 ** depth, H / 2 ** depth, W / 2 ** depth).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 64, depth: int = 4,
                 activation: str = "relu"):
        if depth < 1:
            raise ValueError(f"UNet depth must be >= 1, got {depth}")
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList(
            [DoubleConv(in_channels, widths[0], activation)]
            + [Down(widths[i], widths[i + 1], activation) for i in range(depth)]
        )
        self.decoder = nn.ModuleList([Up(widths[i + 1], widths[i], activation) for i in reversed(range(depth))])
        self.classifier = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self.pad_multiple = 2**depth  # inputs are padded to a multiple of this, and the logits cropped back
        self.trunk_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.pad_multiple)  # (N, C, H', W'), multiples of 2 ** depth
        skips: List[torch.Tensor] = []
        for level in self.encoder:
            x = level(x)  # (N, base * 2 ** i, H' / 2 ** i, W' / 2 ** i)
            skips.append(x)
        x = skips.pop()  # the bottom: (N, base * 2 ** depth, H' / 2 ** depth, W' / 2 ** depth)
        for up in self.decoder:
            x = up(x, skips.pop())  # one level up
        return crop_to(self.classifier(x), size)  # (N, num_classes, H, W)


@SEGMENTERS.register("unet")
def unet(in_channels: int, num_classes: int, base_channels: int = 64, depth: int = 4,
         activation: str = "relu") -> UNet:
    """U-Net segmenter; see ``UNet`` for the arguments."""
    return UNet(in_channels, num_classes, base_channels, depth, activation)
