"""LeNet-5 (LeCun et al. 1998): ``--netC lenet``."""
from functools import partial

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from .layers import AvgPool2d
from .registry import CLASSIFIERS


class LeNet(nn.Module):
    """LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, then 120, 84 and ``num_classes`` units.

    The first convolution pads by 2, so a 28x28 (MNIST) image follows the classic 32x32 arithmetic:
    28 -> 28 -> 14 -> 10 -> 5, giving the classic 16x5x5 = 400 features. Pooling is the classic
    2x2 average ("subsampling"). Other sizes are pooled adaptively to 5x5 before the first linear
    layer (as torchvision's AlexNet and VGG do), so any input from 12x12 up works.

    Args:
        in_channels: channels of the input images.
        num_classes: number of output logits.
        activation: ``"sigmoid"`` (classic, the default) or any other name of
            ``gantool.ops.activations.ACTIVATIONS`` (relu, leaky_relu, elu, prelu, gelu, tanh); only
            ``prelu`` changes the state-dict keys: it adds ``features.1.weight``, ``features.4.weight``,
            ``classifier.1.weight`` and ``classifier.3.weight`` (one slope each).
        small_input: accepted so that every classifier takes it; LeNet is a small-input network
            already, so it changes nothing.

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 16, H/4 - 2, W/4 - 2).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, activation: str = "sigmoid",
                 small_input: bool = False):
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        act = partial(make_activation, activation)  # a fresh module per use (PReLU slopes are not shared)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            act(),
            AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            act(),
            AvgPool2d(kernel_size=2, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((5, 5))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )
        self.trunk_channels = 16
        self.trunk_stride = 4

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 28, 28) -> (N, 16, 5, 5)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.flatten(self.avgpool(f), 1)  # (N, 16, h, w) -> (N, 400)
        return self.classifier(f)  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("lenet")
def lenet(in_channels: int, num_classes: int, **options) -> LeNet:
    """LeNet-5; ``options``: ``activation``, ``small_input``."""
    return LeNet(in_channels, num_classes, **options)
