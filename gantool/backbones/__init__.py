"""Classifier and segmentation backbones, torchvision-style, usable alone or as parts of other nets.

Adding a backbone is one new file here plus one ``@CLASSIFIERS.register(name)`` (or
``@SEGMENTERS.register(name)``) line, and an import below so that the line runs.

A classifier entry is a factory ``f(in_channels, num_classes, small_input=False, **options) -> nn.Module``
whose module maps (N, in_channels, H, W) images, 28 <= H, W <= 224 and beyond, to (N, num_classes)
logits and has:

- ``features``: the convolutional trunk, (N, in_channels, H, W) -> (N, trunk_channels, h, w), the
  part a discriminator or segmenter reuses. Where torchvision's layout has no ``features`` module
  (ResNet, GoogLeNet) it is an ``nn.Sequential`` view over the torchvision-named layers (built on
  each access, sharing their parameters), so state-dict keys stay torchvision's.
- ``classifier``: the last learned layers (torchvision's ``classifier``, or its ``fc``).
- ``forward_features(x)`` and ``forward_head(f)``, with ``forward(x) == forward_head(forward_features(x))``
  (GoogLeNet in training mode also returns its auxiliary logits).
- ``trunk_channels`` and ``trunk_stride``: the channels and the nominal downsampling of ``features``.

Small inputs: every trunk pool that could meet a map smaller than its window is a
``layers.MaxPool2d`` / ``layers.AvgPool2d``, which pools such a map to one pixel instead of failing
(and equals torch's pool everywhere else), so every classifier runs on 28x28 images with
torchvision's exact layout. ``small_input=True`` goes further: it drops the stem's 4x
downsampling (stride-1 first convolution, no stem pool; VGG drops its first two pools), so trunks
downsample 8x instead of 32x and a 28x28 image leaves the trunk as a 2x2 to 4x4 map rather than 1x1.
It keeps every parameter shape, so the same checkpoints load.

Activations: every classifier and segmenter takes ``activation=`` (a name of
``gantool.ops.activations.ACTIVATIONS``: relu, leaky_relu, elu, prelu, gelu, sigmoid, tanh) for every
activation place of its design (fcn_* pass it to their trunk). The default is the family's own (relu;
LeNet's sigmoid, lenet5_classic's tanh), which builds exactly today's network. Every place is a module
(functional ReLUs became parameter-free modules, so keys stay torchvision's); only ``prelu`` adds keys,
one ``.weight`` slope per place, as no place shares its module with another (a ResNet block reuses its
one ReLU module, as torchvision does, only for the default ``relu``).

A segmenter entry is a factory ``f(in_channels, num_classes, **options) -> nn.Module`` mapping
(N, in_channels, H, W) to per-pixel logits (N, num_classes, H, W) for any H and W.
"""
import torch.nn as nn

from . import alexnet, densenet, fcn, googlenet, lenet, lenet_classic, nin, resnet, unet, vgg  # noqa: F401  (fill the registries)
from .fcn import FCN
from .registry import CLASSIFIERS, SEGMENTERS
from .unet import UNet

__all__ = ["CLASSIFIERS", "SEGMENTERS", "build_classifier", "build_segmenter", "FCN", "UNet"]


def build_classifier(name: str, in_channels: int = 3, num_classes: int = 10, **options) -> nn.Module:
    """Build a classifier by name.

    Args:
        name: a name in ``CLASSIFIERS`` (lenet, lenet5_classic, alexnet, vgg11 ... vgg19_bn, nin,
            googlenet, resnet18, resnet34, resnet50, densenet121, densenet_small).
        in_channels: channels of the input images.
        num_classes: number of output logits.
        **options: passed to the network, e.g. ``small_input=True`` and ``activation="gelu"`` (every
            classifier), ``aux_logits=False`` (googlenet), ``replace_stride_with_dilation=(False, True, True)``
            (resnet18/34/50), ``dropout=0.2``.

    Returns:
        The classifier: (N, in_channels, H, W) -> (N, num_classes) logits, with ``features``,
        ``classifier``, ``trunk_channels`` and ``trunk_stride`` (see the module docstring).

    Raises:
        UnknownNameError: for an unknown ``name``; lists the choices.
    """
    return CLASSIFIERS.get(name)(in_channels=in_channels, num_classes=num_classes, **options)


def build_segmenter(name: str, in_channels: int, num_classes: int, **options) -> nn.Module:
    """Build a segmenter by name.

    Args:
        name: a name in ``SEGMENTERS`` (fcn_resnet18, fcn_resnet34, fcn_resnet50, fcn_vgg16, unet).
        in_channels: channels of the input images.
        num_classes: number of classes (logit channels).
        **options: passed to the factory, e.g. ``activation="gelu"`` (every segmenter),
            ``replace_stride_with_dilation=(False, True, True)`` (fcn_resnet*), ``small_input=True`` (fcn_*),
            ``base_channels=32`` or ``depth=3`` (unet).

    Returns:
        The segmenter: (N, in_channels, H, W) -> (N, num_classes, H, W) logits, any H and W.

    Raises:
        UnknownNameError: for an unknown ``name``; lists the choices.
    """
    return SEGMENTERS.get(name)(in_channels=in_channels, num_classes=num_classes, **options)
