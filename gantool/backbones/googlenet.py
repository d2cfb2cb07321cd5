"""GoogLeNet / Inception v1 (Szegedy et al. 2014) in torchvision's layout: ``--netC googlenet``."""
from collections import OrderedDict
from functools import partial
from typing import NamedTuple, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.activations import check_activation, make_activation
from .layers import MaxPool2d
from .registry import CLASSIFIERS


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with ``aux_logits``: three (N, num_classes) tensors."""

    logits: torch.Tensor
    aux_logits2: Optional[torch.Tensor]
    aux_logits1: Optional[torch.Tensor]


class BasicConv2d(nn.Module):
    """Convolution (no bias), BatchNorm (eps 1e-3) and ReLU. ``kwargs`` go to ``nn.Conv2d``.

    The activation is a module, ``act`` (torchvision calls ``F.relu``), so that ``activation`` (a name
    of ``gantool.ops.activations.ACTIVATIONS``) can replace it; ReLU has no parameters, so the keys
    are torchvision's; ``prelu`` adds ``act.weight``.
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "relu", **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Inception(nn.Module):
    """An Inception block: four parallel paths concatenated along channels.

    Paths: 1x1 conv; 1x1 reduction then 3x3; 1x1 reduction then a second "5x5" path that is 3x3, as
    in torchvision (its known bug, kept so its checkpoints load); 3x3 max pool then 1x1 projection.
    ``activation``: every ``BasicConv2d``'s (see there).

    Shapes: (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, activation: str = "relu"):
        super().__init__()
        conv = partial(BasicConv2d, activation=activation)
        self.branch1 = conv(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv(in_channels, ch3x3red, kernel_size=1), conv(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            conv(in_channels, ch5x5red, kernel_size=1), conv(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(paths, 1)  # (N, C1 + C2 + C3 + C4, H, W)


class InceptionAux(nn.Module):
    """Auxiliary classifier on an intermediate map (training only).

    ``activation``: of ``conv`` and after ``fc1`` (a module, ``act``, where torchvision calls ``F.relu``).

    Shapes: (N, in_channels, H, W) -> (N, num_classes); the map is pooled adaptively to 4x4 first.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7, activation: str = "relu"):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, activation, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))  # (N, C, H, W) -> (N, 128, 4, 4)
        x = self.act(self.fc1(torch.flatten(x, 1)))  # (N, 1024)
        return self.fc2(self.dropout(x))  # (N, num_classes)


class GoogLeNet(nn.Module):
    """GoogLeNet with torchvision's keys (``conv1.conv.weight``, ``inception3a.branch1.bn.weight``,
    ``aux1.fc2.bias``, ``fc.weight``), defaults (those of ``torchvision.models.googlenet(weights=None)``)
    and initialisation.

    Args:
        in_channels: channels of the input images.
        num_classes: number of output logits.
        aux_logits: build the two auxiliary classifiers ``aux1`` (after inception4a) and ``aux2``
            (after inception4d).
        transform_input: map inputs normalised with ImageNet statistics to the [-1, 1] scaling that
            Google's original weights expect (needs ``in_channels == 3``).
        dropout: dropout probability before ``fc``.
        dropout_aux: dropout probability in the auxiliary classifiers.
        small_input: ``conv1`` with stride 1 and no ``maxpool1``, for 28-64 px images; same
            parameter shapes.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation (each
            ``BasicConv2d``'s ``act`` and the auxiliary heads' ``act``; ``relu``, the default, is
            torchvision's network; ``prelu`` adds one ``act.weight`` per place, e.g.
            ``conv1.act.weight``, ``inception3a.branch2.1.act.weight``, ``aux1.act.weight``).

    Shapes: (N, in_channels, H, W) -> (N, num_classes) logits in eval mode or without ``aux_logits``;
    in training mode with ``aux_logits``, ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``,
    as torchvision. ``features``: -> (N, 1024, H/32, W/32) (at least 1x1).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, aux_logits: bool = True,
                 transform_input: bool = False, dropout: float = 0.2, dropout_aux: float = 0.7,
                 small_input: bool = False, activation: str = "relu"):
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet transform_input needs 3 input channels, got {in_channels}")
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        conv, inception = partial(BasicConv2d, activation=activation), partial(Inception, activation=activation)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = conv(in_channels, 64, kernel_size=7, stride=1 if small_input else 2, padding=3)
        self.maxpool1 = nn.Identity() if small_input else MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv(64, 64, kernel_size=1)
        self.conv3 = conv(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, num_classes, dropout_aux, activation) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout_aux, activation) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        self.trunk_channels = 1024
        self.trunk_stride = 8 if small_input else 32
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    _TRUNK = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
              "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
              "inception5a", "inception5b")

    @property
    def features(self) -> nn.Sequential:
        """The trunk, conv1 to inception5b, as a view sharing this net's modules (no aux heads):
        (N, in_channels, H, W) -> (N, 1024, H/32, W/32). A new ``nn.Sequential`` on each access."""
        return nn.Sequential(OrderedDict((name, getattr(self, name)) for name in self._TRUNK))

    @property
    def classifier(self) -> nn.Linear:
        """The last layer, ``fc``: (N, 1024) -> (N, num_classes)."""
        return self.fc

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        # torchvision's arithmetic, per channel: x * (std / 0.5) + (mean - 0.5) / 0.5.
        return torch.cat([x[:, i : i + 1] * (std[i] / 0.5) + (mean[i] - 0.5) / 0.5 for i in range(3)], 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self._transform_input(x))  # (N, C, 224, 224) -> (N, 1024, 7, 7)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.flatten(self.avgpool(f), 1)  # (N, 1024, h, w) -> (N, 1024)
        return self.fc(self.dropout(f))  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, GoogLeNetOutputs]:
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))  # (N, 64, H/4, W/4)
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, H/8, W/8)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # (N, 480, H/16, W/16)
        x = self.inception4a(x)  # (N, 512, H/16, W/16)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, H/16, W/16)
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))  # (N, 832, H/32, W/32)
        x = self.inception5b(self.inception5a(x))  # (N, 1024, H/32, W/32)
        logits = self.forward_head(x)  # (N, num_classes)
        return GoogLeNetOutputs(logits, aux2, aux1) if with_aux else logits


@CLASSIFIERS.register("googlenet")
def googlenet(in_channels: int, num_classes: int, **options) -> GoogLeNet:
    """GoogLeNet; ``options``: ``aux_logits`` (default True), ``transform_input``, ``dropout``,
    ``dropout_aux``, ``small_input``, ``activation``."""
    return GoogLeNet(in_channels, num_classes, **options)
