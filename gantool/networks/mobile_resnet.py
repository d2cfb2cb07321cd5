"""A lightweight ResNet generator: ``--netG mobile_resnet_9blocks`` / ``mobile_resnet_6blocks``.

The classic ResnetGenerator (``resnet_generator.py``) with every 3x3 convolution of its residual blocks
replaced by a depthwise-separable one (``ops.separable.SeparableConv2d``: depthwise 3x3, norm, pointwise
1x1), as in the "mobile" generator of CycleGAN-compression (Li et al. 2020, GAN Compression). In the
classic ``resnet_9blocks`` (``--ngf 64``) the blocks hold 93 % of the weights and 88 % of the multiply-adds
at 256x256; each of their convolutions shrinks to 1/256 + 1/9 = 0.115 of its cost, so the whole generator
has 5.7x fewer parameters (1.99 M instead of 11.38 M) and 4.5x fewer multiply-adds (11.1 G instead of
49.6 G); the untouched encoder and decoder are now half of what is left (``scripts/bench_mobile.py``).

The stem, the two stride-2 convolutions and the two transposed convolutions stay as in the classic
generator, with the same ``model.<i>`` keys. Measured on a 2-core AVX512 CPU at 256x256 (fp32, one
forward+backward): making the downsampling separable too saved another 6-10 % of the time, and making the
upsampling separable (nearest upsampling + separable conv) cost 30 % more; neither was worth leaving
the classic (and prior-art) encoder and decoder for. The norm between the depthwise and the pointwise part
(MobileNet's and the prior art's layout) cost 5-7 % of the time and is kept.
"""
import torch
import torch.nn as nn

from ..ops.padding import pad_layer_class
from ..ops.separable import SeparableConv2d
from .norm import NormLayer
from .registry import GENERATORS
from .resnet_generator import ResnetGenerator


class MobileResnetBlock(nn.Module):
    """A residual block ``x + conv_block(x)`` of two depthwise-separable 3x3 convolutions at constant width.

    ``conv_block`` is ``[sep, norm, ReLU, (Dropout), sep, norm]``: the classic block's layout with each
    ``pad, conv`` pair replaced by one ``SeparableConv2d`` that pads itself, so the indices do not depend
    on ``padding_type`` (keys: ``conv_block.0.depthwise.weight``, ``conv_block.0.pointwise.weight``...).

    Args:
        dim: channel count C of input and output.
        padding_type: ``"reflect"``, ``"replicate"`` or ``"zero"``.
        norm_layer: normalisation constructor, called with ``dim``; also used between the depthwise and
            the pointwise part of each separable convolution.
        use_dropout: add Dropout(0.5) between the two convolutions.
        use_bias: whether the convolutions carry a bias.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool):
        super().__init__()
        pad_layer_class(padding_type)  # an unknown name fails here, before any layer is built

        def separable() -> SeparableConv2d:
            return SeparableConv2d(dim, dim, kernel_size=3, padding_type=padding_type, bias=use_bias,
                                   norm_layer=norm_layer)

        layers = [separable(), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            layers += [nn.Dropout(0.5)]
        layers += [separable(), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)  # (N, C, H, W)


class MobileResnetGenerator(ResnetGenerator):
    """The classic ResnetGenerator (same encoder, decoder and ``model.<i>`` indices) with ``MobileResnetBlock``s:
    depthwise-separable convolutions in its residual blocks.

    Args:
        input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks, padding_type: as ``ResnetGenerator``.

    Shapes: (N, input_nc, H, W) in [-1, 1] -> (N, output_nc, H, W) in [-1, 1], for H and W multiples of
    ``size_multiple`` (4), at least 8 with reflect or replicate padding (as the classic generator: the
    H/4 x W/4 blocks pad by one pixel); pad other sizes with ``pad_to_multiple``.
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_dropout: bool = False, n_blocks: int = 9, padding_type: str = "reflect"):
        super().__init__(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks, padding_type,
                         block=MobileResnetBlock)


@GENERATORS.register("mobile_resnet_9blocks")
def mobile_resnet_9blocks(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer,
                          use_dropout: bool) -> nn.Module:
    """MobileResnetGenerator with 9 residual blocks (the lightweight counterpart of ``resnet_9blocks``)."""
    return MobileResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9)


@GENERATORS.register("mobile_resnet_6blocks")
def mobile_resnet_6blocks(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer,
                          use_dropout: bool) -> nn.Module:
    """MobileResnetGenerator with 6 residual blocks (the lightweight counterpart of ``resnet_6blocks``)."""
    return MobileResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6)
