"""ResNet-based generator (Johnson et al. 2016), the CycleGAN default ``--netG resnet_9blocks``.

The layer order reproduces the classic pytorch-CycleGAN-and-pix2pix ``nn.Sequential`` exactly,
parameter-free layers included, so that published state dicts (``model.10.conv_block.5.weight``)
load unchanged. Do not insert, remove or reorder layers.

``--netG resnet_*blocks_resize`` replaces the two transposed convolutions by nearest-neighbour upsampling and
a 3x3 convolution (Odena et al. 2016, "Deconvolution and checkerboard artifacts"): every output pixel gets the
same number of contributions, so the generator cannot paint the transposed convolution's checkerboard. Its
decoder's weights have other shapes, hence its own names; the classic names keep the classic layers.
"""
from typing import Callable, List

import torch
import torch.nn as nn

from ..ops.padding import pad_layer_class
from .norm import NormLayer, norm_uses_bias
from .registry import GENERATORS


class ResnetBlock(nn.Module):
    """A residual block ``x + conv_block(x)`` of two 3x3 convolutions at constant width.

    Args:
        dim: channel count C of input and output.
        padding_type: ``"reflect"``, ``"replicate"`` or ``"zero"``.
        norm_layer: normalization-layer constructor, called with ``dim``.
        use_dropout: add Dropout(0.5) between the two convolutions.
        use_bias: whether the convolutions carry a bias.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool):
        super().__init__()
        self.conv_block = self.build_conv_block(dim, padding_type, norm_layer, use_dropout, use_bias)

    @staticmethod
    def build_conv_block(
        dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool
    ) -> nn.Sequential:
        """Build ``[pad, conv, norm, ReLU, (Dropout), pad, conv, norm]`` as in the classic code.

        With ``"zero"`` padding the convolutions pad themselves and the pad layers are left out,
        which shifts the indices exactly as it does in the classic code.
        """
        pad_cls = pad_layer_class(padding_type)
        conv_padding = 1 if pad_cls is None else 0

        def conv_and_pad() -> List[nn.Module]:
            pad = [] if pad_cls is None else [pad_cls(1)]
            return pad + [nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding, bias=use_bias)]

        layers = conv_and_pad() + [norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            layers += [nn.Dropout(0.5)]
        layers += conv_and_pad() + [norm_layer(dim)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)  # (N, C, H, W)


def _transposed_up(in_nc: int, out_nc: int, use_bias: bool) -> List[nn.Module]:
    return [nn.ConvTranspose2d(in_nc, out_nc, kernel_size=3, stride=2, padding=1, output_padding=1, bias=use_bias)]


def _resize_up(in_nc: int, out_nc: int, use_bias: bool) -> List[nn.Module]:
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
            nn.Conv2d(in_nc, out_nc, kernel_size=3, padding=0, bias=use_bias)]


# How the decoder doubles the size: (in channels, out channels, bias) -> layers.
UPSAMPLES = {"transposed": _transposed_up, "resize": _resize_up}


class ResnetGenerator(nn.Module):
    """Encoder (two stride-2 convs) -> ``n_blocks`` ResnetBlocks -> decoder (two transposed or resize convs).

    Args:
        input_nc: channels of the input images.
        output_nc: channels of the output images.
        ngf: filters in the first conv layer; the bottleneck has ``4 * ngf``.
        norm_layer: normalization-layer constructor (see ``get_norm_layer``).
        use_dropout: use Dropout(0.5) inside the residual blocks.
        n_blocks: number of residual blocks (9 for 256x256 images, 6 for 128x128 in the paper).
        padding_type: padding inside the residual blocks: ``"reflect"``, ``"replicate"`` or ``"zero"``.
        block: the residual block class, called as ``block(dim, padding_type, norm_layer, use_dropout,
            use_bias)`` (``ResnetBlock``; the mobile generator passes its separable block).
        upsample: ``"transposed"`` (classic: stride-2 transposed 3x3 convolutions) or ``"resize"`` (nearest
            upsampling by 2, reflection pad 1, 3x3 convolution; three layers where the classic has one).

    Shapes: (N, input_nc, H, W) in [-1, 1] -> (N, output_nc, H, W) in [-1, 1], for H and W
    multiples of ``size_multiple`` (4); pad other sizes with ``pad_to_multiple``.
    """

    n_downsampling = 2

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: NormLayer = nn.BatchNorm2d,
        use_dropout: bool = False,
        n_blocks: int = 6,
        padding_type: str = "reflect",
        block: Callable[..., nn.Module] = ResnetBlock,
        upsample: str = "transposed",
    ):
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLES)}, got {upsample!r}")
        super().__init__()
        self.size_multiple = 2 ** self.n_downsampling
        use_bias = norm_uses_bias(norm_layer)

        model = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(self.n_downsampling):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        mult = 2**self.n_downsampling
        for _ in range(n_blocks):
            model += [block(ngf * mult, padding_type, norm_layer, use_dropout, use_bias)]
        for i in range(self.n_downsampling):
            mult = 2 ** (self.n_downsampling - i)
            model += UPSAMPLES[upsample](ngf * mult, ngf * mult // 2, use_bias) + [
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        # The last conv always has a bias, whatever the norm (classic).
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, input_nc, H, W) -> (N, 4*ngf, H/4, W/4) -> (N, output_nc, H, W)
        return self.model(x)


@GENERATORS.register("resnet_9blocks")
def resnet_9blocks(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool) -> nn.Module:
    """ResnetGenerator with 9 residual blocks (the CycleGAN default for 256x256 images)."""
    return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9)


@GENERATORS.register("resnet_6blocks")
def resnet_6blocks(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool) -> nn.Module:
    """ResnetGenerator with 6 residual blocks (the paper's choice for 128x128 images)."""
    return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6)


@GENERATORS.register("resnet_9blocks_resize")
def resnet_9blocks_resize(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer,
                          use_dropout: bool) -> nn.Module:
    """``resnet_9blocks`` with resize-convolution upsampling (no checkerboard; see the module notes)."""
    return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9,
                           upsample="resize")


@GENERATORS.register("resnet_6blocks_resize")
def resnet_6blocks_resize(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer,
                          use_dropout: bool) -> nn.Module:
    """``resnet_6blocks`` with resize-convolution upsampling (no checkerboard; see the module notes)."""
    return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6,
                           upsample="resize")
