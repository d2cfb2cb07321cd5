"""Network in Network (Lin et al. 2013): ``--netC nin``."""
from functools import partial

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from .layers import MaxPool2d
from .registry import CLASSIFIERS


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
              activation: str = "relu") -> nn.Sequential:
    """One NiN block: a spatial convolution and two 1x1 convolutions (a per-pixel MLP), each with ReLU
    (or ``activation``, a name of ``gantool.ops.activations.ACTIVATIONS``; a module each).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H', W') with H' from the first convolution.
    """
    act = partial(make_activation, activation)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
        act(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        act(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        act(),
    )


class NiN(nn.Module):
    """NiN with AlexNet-like widths (as in Dive into Deep Learning): three NiN blocks with pools form
    the trunk; the head is dropout, a NiN block with ``num_classes`` channels and global average
    pooling, so there are no fully connected layers. As in the paper the last block ends in ReLU,
    so the logits are non-negative (softmax and cross-entropy work on them unchanged).

    Args:
        in_channels: channels of the input images.
        num_classes: number of output logits.
        dropout: dropout probability before the head.
        small_input: first convolution with stride 1 (padding 5) instead of stride 4 (no padding),
            for 28-64 px images; same parameter shapes.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation, the
            head's last one included (so ``sigmoid`` or ``tanh`` bound the logits to their range, as
            ``relu`` makes them non-negative); ``prelu`` adds ``features.{0,2,4}.{1,3,5}.weight`` and
            ``classifier.1.{1,3,5}.weight``.

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 384, h, w) with h = 5
    for H = 224 (at least 1).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5, small_input: bool = False,
                 activation: str = "relu"):
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        stem = dict(stride=1, padding=5) if small_input else dict(stride=4, padding=0)
        self.features = nn.Sequential(
            nin_block(in_channels, 96, kernel_size=11, **stem, activation=activation),
            MaxPool2d(kernel_size=3, stride=2),
            nin_block(96, 256, kernel_size=5, stride=1, padding=2, activation=activation),
            MaxPool2d(kernel_size=3, stride=2),
            nin_block(256, 384, kernel_size=3, stride=1, padding=1, activation=activation),
            MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nin_block(384, num_classes, kernel_size=3, stride=1, padding=1, activation=activation),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
        )
        self.trunk_channels = 384
        self.trunk_stride = 8 if small_input else 32

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 224, 224) -> (N, 384, 5, 5)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(f)  # (N, 384, h, w) -> (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("nin")
def nin(in_channels: int, num_classes: int, **options) -> NiN:
    """Network in Network; ``options``: ``dropout``, ``small_input``, ``activation``."""
    return NiN(in_channels, num_classes, **options)
