"""ResNet (He et al. 2015) in torchvision's layout: ``--netC resnet18 | resnet34 | resnet50``."""
from collections import OrderedDict
from typing import List, Optional, Sequence, Type, Union

import torch
import torch.nn as nn

from ..ops.activations import check_activation, make_activation
from .registry import CLASSIFIERS


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution without bias, padded to keep the size (at stride 1)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _own_module(activation: str) -> Optional[nn.Module]:
    """The module of a block's second (third) activation place: None for ``relu``, where the block reuses
    its one ``relu`` module as torchvision does (so its module tree and summaries stay torchvision's),
    else a module of its own, so that ``prelu`` learns one slope per place instead of sharing one."""
    return None if activation == "relu" else make_activation(activation)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34).

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the first convolution.
        downsample: the projection shortcut (1x1 convolution and BatchNorm) when the shape changes.
        dilation: dilation of both convolutions (torchvision supports 1 only; FCN trunks use more).
        activation: a name of ``gantool.ops.activations.ACTIVATIONS``; see ``ResNet`` for how its
            modules are placed.

    Shapes: (N, inplanes, H, W) -> (N, planes, H / stride, W / stride).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 dilation: int = 1, activation: str = "relu"):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = make_activation(activation)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self.relu2 = _own_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return (self.relu if self.relu2 is None else self.relu2)(out + identity)  # (N, planes, H', W')


class Bottleneck(nn.Module):
    """1x1 reduction, 3x3 (with the stride, as torchvision's "ResNet v1.5") and 1x1 expansion by 4,
    with a residual connection (ResNet-50).

    Args: as ``BasicBlock``; the output has ``planes * 4`` channels.

    Shapes: (N, inplanes, H, W) -> (N, 4 * planes, H / stride, W / stride).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 dilation: int = 1, activation: str = "relu"):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = make_activation(activation)
        self.downsample = downsample
        self.stride = stride
        self.relu2, self.relu3 = _own_module(activation), _own_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = (self.relu if self.relu2 is None else self.relu2)(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return (self.relu if self.relu3 is None else self.relu3)(out + identity)  # (N, 4 * planes, H', W')


Block = Type[Union[BasicBlock, Bottleneck]]


class ResNet(nn.Module):
    """ResNet with torchvision's keys (``conv1.weight``, ``layer1.0.bn1.running_mean``,
    ``layer2.0.downsample.0.weight``, ``fc.bias``) and initialisation.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks in each of the four stages.
        in_channels: channels of the input images.
        num_classes: number of output logits.
        replace_stride_with_dilation: for stages 2, 3 and 4, dilate instead of striding (keeps
            resolution for segmentation: ``(False, True, True)`` gives an 8x trunk).
        zero_init_residual: start each residual branch's last BatchNorm at zero.
        small_input: ``conv1`` with stride 1 and no ``maxpool``, for 28-64 px images; same
            parameter shapes (the 7x7 kernel stays, unlike CIFAR ResNets, so checkpoints load).
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation place
            (``relu``, the default, is torchvision's network). With ``relu`` each block applies its one
            ``relu`` module at all its places, as torchvision does; any other choice gives the 2nd (and
            Bottleneck's 3rd) place its own module ``relu2`` (``relu3``), so ``prelu`` adds one slope per
            place: ``relu.weight`` (stem), ``layerX.Y.relu.weight``, ``layerX.Y.relu2.weight`` [...relu3].

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 512 * expansion,
    H / trunk_stride, W / trunk_stride), rounded up.
    """

    def __init__(self, block: Block, layers: Sequence[int], in_channels: int = 3, num_classes: int = 1000,
                 replace_stride_with_dilation: Sequence[bool] = (False, False, False),
                 zero_init_residual: bool = False, small_input: bool = False, activation: str = "relu"):
        if len(layers) != 4 or len(replace_stride_with_dilation) != 3:
            raise ValueError("ResNet needs 4 stage sizes and 3 replace_stride_with_dilation flags, "
                             f"got {list(layers)} and {list(replace_stride_with_dilation)}")
        check_activation(activation)  # before building: a typo raises ValueError listing the choices
        super().__init__()
        self.inplanes, self.dilation = 64, 1
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=1 if small_input else 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = make_activation(activation)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        dilate = replace_stride_with_dilation
        self.layer1 = self._make_layer(block, 64, layers[0], activation=activation)
        self.layer2 = self._make_layer(block, 128, layers[1], 2, dilate[0], activation)
        self.layer3 = self._make_layer(block, 256, layers[2], 2, dilate[1], activation)
        self.layer4 = self._make_layer(block, 512, layers[3], 2, dilate[2], activation)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self.trunk_channels = 512 * block.expansion
        self.trunk_stride = (8 if small_input else 32) // 2 ** sum(map(bool, replace_stride_with_dilation))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.constant_((m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight, 0)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1, dilate: bool = False,
                    activation: str = "relu") -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # The 1x1 projection shortcut: match the residual branch's channels and stride.
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
            )
        layers: List[nn.Module] = [block(self.inplanes, planes, stride, downsample, previous_dilation, activation)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, dilation=self.dilation, activation=activation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    _TRUNK = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")

    @property
    def features(self) -> nn.Sequential:
        """The trunk, conv1 to layer4, as a view sharing this net's modules, with torchvision's
        names (so an FCN holding it has torchvision segmentation keys such as ``backbone.layer1.0.conv1.weight``):
        (N, in_channels, H, W) -> (N, trunk_channels, H / trunk_stride, W / trunk_stride).
        A new ``nn.Sequential`` on each access."""
        return nn.Sequential(OrderedDict((name, getattr(self, name)) for name in self._TRUNK))

    @property
    def classifier(self) -> nn.Linear:
        """The last layer, ``fc``: (N, trunk_channels) -> (N, num_classes)."""
        return self.fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer2(self.layer1(x))  # (N, 128 * expansion, H/8, W/8)
        return self.layer4(self.layer3(x))  # (N, 512 * expansion, H/32, W/32)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(f), 1))  # (N, C, h, w) -> (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("resnet18")
def resnet18(in_channels: int, num_classes: int, **options) -> ResNet:
    """ResNet-18; ``options``: ``replace_stride_with_dilation``, ``zero_init_residual``, ``small_input``,
    ``activation``."""
    return ResNet(BasicBlock, [2, 2, 2, 2], in_channels, num_classes, **options)


@CLASSIFIERS.register("resnet34")
def resnet34(in_channels: int, num_classes: int, **options) -> ResNet:
    """ResNet-34; options as ``resnet18``."""
    return ResNet(BasicBlock, [3, 4, 6, 3], in_channels, num_classes, **options)


@CLASSIFIERS.register("resnet50")
def resnet50(in_channels: int, num_classes: int, **options) -> ResNet:
    """ResNet-50 (bottleneck blocks); options as ``resnet18``."""
    return ResNet(Bottleneck, [3, 4, 6, 3], in_channels, num_classes, **options)


#: the ``--netC`` names that take ``replace_stride_with_dilation`` (the recipes name them in errors)
DILATABLE = ("resnet18", "resnet34", "resnet50")
