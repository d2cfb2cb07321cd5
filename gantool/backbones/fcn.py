"""Fully convolutional segmentation on a classifier trunk (Long et al. 2015, FCN-32s):
``--netS fcn_resnet18 | fcn_resnet34 | fcn_resnet50 | fcn_vgg16``."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.padding import crop_to, pad_to_multiple
from .registry import SEGMENTERS
from .resnet import resnet18, resnet34, resnet50
from .vgg import CONFIGS, init_weights, make_layers


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights that make a ``ConvTranspose2d(channels, channels, kernel_size)`` upsample each channel
    bilinearly: shape (channels, channels, kernel_size, kernel_size), zero across channels."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt = 1 - (og - center).abs() / factor
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return weight


class FCN(nn.Module):
    """A segmenter from any classifier trunk: 1x1 convolution to class scores, then a transposed
    convolution (initialised to bilinear upsampling, and learned) back to the input size.

    Inputs of any size are padded at the bottom and right to a multiple of ``output_stride``, and
    the logits cropped back. For trunks whose valid (unpadded) convolutions and pools do not divide
    the size exactly (AlexNet, NiN, LeNet), the upsampled scores are also resized bilinearly to the
    padded size; ResNet, VGG, GoogLeNet and DenseNet trunks need no resizing.

    Args:
        backbone: the trunk, (N, in_channels, H, W) -> (N, backbone_channels, H / output_stride,
            W / output_stride); usually a classifier's ``features`` (see ``from_classifier``).
        backbone_channels: channels of the trunk output.
        num_classes: number of classes (logit channels).
        output_stride: the trunk's downsampling factor (32; 8 with dilated or small-input trunks).

    Shapes: (N, in_channels, H, W) -> (N, num_classes, H, W) logits.
    """

    def __init__(self, backbone: nn.Module, backbone_channels: int, num_classes: int, output_stride: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Conv2d(backbone_channels, num_classes, kernel_size=1)
        self.output_stride = output_stride
        # Kernel 2s, stride s, padding s/2 maps h to exactly s * h.
        s = output_stride
        self.upsample = nn.ConvTranspose2d(num_classes, num_classes, 2 * s, stride=s, padding=s // 2, bias=False)
        with torch.no_grad():
            self.upsample.weight.copy_(bilinear_kernel(num_classes, 2 * s))

    @classmethod
    def from_classifier(cls, net: nn.Module, num_classes: int) -> "FCN":
        """An FCN on ``net.features`` (any classifier in ``CLASSIFIERS``), sharing its trunk modules."""
        return cls(net.features, net.trunk_channels, num_classes, net.trunk_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.output_stride)  # (N, C, H', W'), multiples of the stride
        scores = self.classifier(self.backbone(x))  # (N, num_classes, H'/s, W'/s)
        out = self.upsample(scores)  # (N, num_classes, H', W')
        if out.shape[-2:] != x.shape[-2:]:
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return crop_to(out, size)  # (N, num_classes, H, W)


def _fcn_resnet(factory, in_channels: int, num_classes: int, replace_stride_with_dilation: Sequence[bool],
                small_input: bool, activation: str) -> FCN:
    net = factory(in_channels, num_classes=1, replace_stride_with_dilation=replace_stride_with_dilation,
                  small_input=small_input, activation=activation)
    return FCN.from_classifier(net, num_classes)


@SEGMENTERS.register("fcn_resnet18")
def fcn_resnet18(in_channels: int, num_classes: int, replace_stride_with_dilation: Sequence[bool] = (False, False, False),
                 small_input: bool = False, activation: str = "relu") -> FCN:
    """FCN on a ResNet-18 trunk (keys ``backbone.conv1.weight``, ``backbone.layer4.1.bn2.bias``, ...).

    Args:
        in_channels: channels of the input images.
        num_classes: number of classes.
        replace_stride_with_dilation: dilate stages 2-4 instead of striding; ``(False, True, True)``
            keeps 1/8 resolution (as torchvision's segmentation models).
        small_input: the ResNet small-input stem (stride 8 trunk; see ``ResNet``).
        activation: the trunk's activation (see ``ResNet``; ``relu`` is torchvision's).
    """
    return _fcn_resnet(resnet18, in_channels, num_classes, replace_stride_with_dilation, small_input, activation)


@SEGMENTERS.register("fcn_resnet34")
def fcn_resnet34(in_channels: int, num_classes: int, replace_stride_with_dilation: Sequence[bool] = (False, False, False),
                 small_input: bool = False, activation: str = "relu") -> FCN:
    """FCN on a ResNet-34 trunk; arguments as ``fcn_resnet18``."""
    return _fcn_resnet(resnet34, in_channels, num_classes, replace_stride_with_dilation, small_input, activation)


@SEGMENTERS.register("fcn_resnet50")
def fcn_resnet50(in_channels: int, num_classes: int, replace_stride_with_dilation: Sequence[bool] = (False, False, False),
                 small_input: bool = False, activation: str = "relu") -> FCN:
    """FCN on a ResNet-50 trunk; arguments as ``fcn_resnet18``."""
    return _fcn_resnet(resnet50, in_channels, num_classes, replace_stride_with_dilation, small_input, activation)


@SEGMENTERS.register("fcn_vgg16")
def fcn_vgg16(in_channels: int, num_classes: int, small_input: bool = False, activation: str = "relu") -> FCN:
    """FCN-32s on a VGG-16 trunk (keys ``backbone.0.weight`` ... ``backbone.28.bias``).

    Args:
        in_channels: channels of the input images.
        num_classes: number of classes.
        small_input: drop VGG's first two pools (stride 8 trunk).
        activation: the trunk's activation (see ``make_layers``; ``relu`` is torchvision's).
    """
    # The trunk alone: building a whole VGG-16 would allocate (and initialise) its 120 M-parameter head.
    trunk = make_layers(CONFIGS[16], batch_norm=False, in_channels=in_channels, small_input=small_input,
                        activation=activation)
    return FCN(init_weights(trunk), 512, num_classes, output_stride=8 if small_input else 32)


#: the ``--netS`` names that take ``replace_stride_with_dilation`` (the recipes name them in errors)
DILATABLE = ("fcn_resnet18", "fcn_resnet34", "fcn_resnet50")
