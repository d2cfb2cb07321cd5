"""VGG (Simonyan & Zisserman 2014) in torchvision's layout, built from a configuration list:
``--netC vgg11 | vgg11_bn | vgg13 | vgg13_bn | vgg16 | vgg16_bn | vgg19 | vgg19_bn``."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from .layers import MaxPool2d
from .registry import CLASSIFIERS

Config = Sequence[Union[int, str]]
"""Output channels of each 3x3 convolution, with ``"M"`` for a 2x2 max pool."""

CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg: Config, batch_norm: bool = False, in_channels: int = 3, small_input: bool = False,
                activation: str = "relu") -> nn.Sequential:
    """The VGG trunk: 3x3 convolutions (padding 1), each followed by [BatchNorm and] ReLU, and 2x2 pools.

    Args:
        cfg: the configuration list (see ``CONFIGS``).
        batch_norm: put a BatchNorm2d after every convolution.
        in_channels: channels of the input images.
        small_input: the first two pools become ``nn.Identity`` (8x instead of 32x downsampling);
            they keep their Sequential index, so keys do not move.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` in place of every ReLU (a module
            each, keeping its index; ``prelu`` adds a ``<index>.weight`` slope per convolution).

    Returns:
        ``nn.Sequential`` with torchvision's indices: (N, in_channels, H, W) -> (N, cfg[-2], H/32, W/32).
    """
    check_activation(activation)  # before building: a typo raises ValueError listing the choices
    layers: List[nn.Module] = []
    pools = 0
    for v in cfg:
        if v == "M":
            pools += 1
            layers.append(nn.Identity() if small_input and pools <= 2 else MaxPool2d(kernel_size=2, stride=2))
        else:
            conv = nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1)
            act = make_activation(activation)
            layers += [conv, nn.BatchNorm2d(int(v)), act] if batch_norm else [conv, act]
            in_channels = int(v)
    return nn.Sequential(*layers)


def init_weights(net: nn.Module) -> nn.Module:
    """torchvision's VGG initialisation, in place: Kaiming (fan-out) convolutions, N(0, 0.01) linear
    layers, zero biases, unit BatchNorm scales. Returns ``net``."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return net


class VGG(nn.Module):
    """VGG with torchvision's keys (``features.0.weight`` ... ``classifier.6.bias``) and initialisation.

    Args:
        cfg: the configuration list (see ``CONFIGS``).
        batch_norm: BatchNorm after every convolution (the ``_bn`` variants).
        in_channels: channels of the input images.
        num_classes: number of output logits.
        dropout: dropout probability in the classifier.
        small_input: drop the first two pools (see ``make_layers``), for 28-64 px images.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation, the
            trunk's and the classifier's (``relu``, the default, is torchvision's network; ``prelu``
            adds ``classifier.1.weight`` and ``classifier.4.weight`` besides the trunk's slopes).

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 512, H/32, W/32)
    (at least 1x1), pooled adaptively to 7x7 before the classifier as in torchvision.
    """

    def __init__(self, cfg: Config, batch_norm: bool = False, in_channels: int = 3, num_classes: int = 1000,
                 dropout: float = 0.5, small_input: bool = False, activation: str = "relu"):
        super().__init__()
        self.features = make_layers(cfg, batch_norm, in_channels, small_input, activation)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            make_activation(activation),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            make_activation(activation),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self.trunk_channels = [int(v) for v in cfg if v != "M"][-1]
        self.trunk_stride = 2 ** (sum(v == "M" for v in cfg) - (2 if small_input else 0))
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 224, 224) -> (N, 512, 7, 7)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.flatten(self.avgpool(f), 1)  # (N, 512, h, w) -> (N, 25088)
        return self.classifier(f)  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _vgg(depth: int, batch_norm: bool, in_channels: int, num_classes: int, **options) -> VGG:
    return VGG(CONFIGS[depth], batch_norm, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg11")
def vgg11(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-11 (configuration A); ``options``: ``dropout``, ``small_input``, ``activation``."""
    return _vgg(11, False, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg11_bn")
def vgg11_bn(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-11 with BatchNorm."""
    return _vgg(11, True, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg13")
def vgg13(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg(13, False, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg13_bn")
def vgg13_bn(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-13 with BatchNorm."""
    return _vgg(13, True, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg16")
def vgg16(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg(16, False, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg16_bn")
def vgg16_bn(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-16 with BatchNorm."""
    return _vgg(16, True, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg19")
def vgg19(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg(19, False, in_channels, num_classes, **options)


@CLASSIFIERS.register("vgg19_bn")
def vgg19_bn(in_channels: int, num_classes: int, **options) -> VGG:
    """VGG-19 with BatchNorm."""
    return _vgg(19, True, in_channels, num_classes, **options)
