"""AlexNet (Krizhevsky et al. 2012) in torchvision's layout: ``--netC alexnet``."""
from functools import partial

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from .layers import MaxPool2d
from .registry import CLASSIFIERS


class AlexNet(nn.Module):
    """AlexNet with torchvision's keys (``features.0.weight`` ... ``classifier.6.bias``).

    Args:
        in_channels: channels of the input images.
        num_classes: number of output logits.
        dropout: dropout probability in the classifier.
        small_input: first convolution with stride 1 (padding 5) instead of stride 4, for 28-64 px
            images; same parameter shapes.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for all seven activations, a
            module each at torchvision's indices (``relu``, the default, is torchvision's network;
            ``prelu`` adds ``features.{1,4,7,9,11}.weight`` and ``classifier.{2,5}.weight``).

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 256, h, w) with
    h = 6 for H = 224 (1 for H = 28; 2 with ``small_input``), pooled adaptively to 6x6 before the
    classifier as in torchvision.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.5,
                 small_input: bool = False, activation: str = "relu"):
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        act = partial(make_activation, activation)  # a fresh module per place (PReLU slopes are not shared)
        stem = dict(stride=1, padding=5) if small_input else dict(stride=4, padding=2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, **stem),
            act(),
            MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            act(),
            MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            act(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            act(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            act(),
            MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            act(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            act(),
            nn.Linear(4096, num_classes),
        )
        self.trunk_channels = 256
        self.trunk_stride = 8 if small_input else 32

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 224, 224) -> (N, 256, 6, 6)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.flatten(self.avgpool(f), 1)  # (N, 256, h, w) -> (N, 9216)
        return self.classifier(f)  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("alexnet")
def alexnet(in_channels: int, num_classes: int, **options) -> AlexNet:
    """AlexNet; ``options``: ``dropout``, ``small_input``, ``activation``."""
    return AlexNet(in_channels, num_classes, **options)
