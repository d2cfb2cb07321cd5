"""DenseNet-BC (Huang et al. 2016) in torchvision's layout: ``--netC densenet121 | densenet_small``."""
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.activations import check_activation, make_activation
from .layers import AvgPool2d, MaxPool2d
from .registry import CLASSIFIERS


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (to ``bn_size * growth_rate``) then BN-ReLU-3x3 conv (to ``growth_rate``).

    ``activation`` (a name of ``gantool.ops.activations.ACTIVATIONS``) replaces both ReLUs, keeping
    their names ``relu1``, ``relu2``.

    Shapes: (N, num_input_features, H, W) -> (N, growth_rate, H, W): only the new features; the
    block concatenates them.
    """

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float,
                 activation: str = "relu"):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = make_activation(activation)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = make_activation(activation)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.norm1(x)))  # (N, bn_size * k, H, W)
        out = self.conv2(self.relu2(self.norm2(out)))  # (N, k, H, W)
        return F.dropout(out, p=self.drop_rate, training=self.training) if self.drop_rate > 0 else out


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers, each seeing the concatenation of the input and all earlier outputs.

    Shapes: (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W).
    """

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int, drop_rate: float,
                 activation: str = "relu"):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate, activation)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], 1)  # (N, C + i * k, H, W)
        return x


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``num_output_features``, then 2x2 average pooling (``activation``, a name of
    ``gantool.ops.activations.ACTIVATIONS``, replaces the ReLU, keeping its name ``relu``).

    Shapes: (N, num_input_features, H, W) -> (N, num_output_features, H/2, W/2) (at least 1x1).
    """

    def __init__(self, num_input_features: int, num_output_features: int, activation: str = "relu"):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = make_activation(activation)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, bias=False)
        self.pool = AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC with torchvision's keys (``features.denseblock1.denselayer1.norm1.weight``,
    ``features.transition1.conv.weight``, ``features.norm5.running_var``, ``classifier.weight``) and
    initialisation. (torchvision's memory-efficient checkpointing is left out: same keys and outputs.)

    Args:
        growth_rate: channels each dense layer adds (k).
        block_config: dense layers in each block; transitions between blocks halve the channels.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width, in multiples of ``growth_rate``.
        drop_rate: dropout after each dense layer.
        in_channels: channels of the input images.
        num_classes: number of output logits.
        small_input: ``conv0`` with stride 1 and no ``pool0``, for 28-64 px images; same parameter shapes.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation, keeping
            torchvision's module names (``relu0``, ``relu1``, ``relu2``, ``relu``); the head's, which
            torchvision calls as ``F.relu``, is the module ``act`` (parameter-free for ``relu``, the
            default, so the keys are torchvision's; ``prelu`` adds one ``.weight`` per place,
            ``act.weight`` included).

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, trunk_channels,
    H / trunk_stride, W / trunk_stride) (at least 1x1), before the final ReLU.
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0, in_channels: int = 3,
                 num_classes: int = 1000, small_input: bool = False, activation: str = "relu"):
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        stride = 1 if small_input else 2
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=stride, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", make_activation(activation)),
            ("pool0", nn.Identity() if small_input else MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate, activation)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2, activation))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.act = make_activation(activation)
        # Not in place: forward_head must leave the caller's features (forward_features's output) as they were.
        if hasattr(self.act, "inplace"):
            self.act.inplace = False
        self.classifier = nn.Linear(num_features, num_classes)
        self.trunk_channels = num_features
        self.trunk_stride = (1 if small_input else 4) * 2 ** (len(block_config) - 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 224, 224) -> (N, trunk_channels, 7, 7)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = F.adaptive_avg_pool2d(self.act(f), (1, 1))  # (N, C, h, w) -> (N, C, 1, 1)
        return self.classifier(torch.flatten(f, 1))  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("densenet121")
def densenet121(in_channels: int, num_classes: int, **options) -> DenseNet:
    """DenseNet-121 (growth 32, blocks 6-12-24-16); ``options``: ``drop_rate``, ``small_input``, ``activation``."""
    return DenseNet(32, (6, 12, 24, 16), 64, in_channels=in_channels, num_classes=num_classes, **options)


@CLASSIFIERS.register("densenet_small")
def densenet_small(in_channels: int, num_classes: int, **options) -> DenseNet:
    """A small DenseNet-BC: the sizes of Dive into Deep Learning's DenseNet (growth 32, four blocks
    of 4 layers, 64 stem channels, 248 trunk channels) with torchvision's bottleneck layers;
    about 1 M parameters. Options as ``densenet121``."""
    return DenseNet(32, (4, 4, 4, 4), 64, in_channels=in_channels, num_classes=num_classes, **options)
