"""U-Net generator (Ronneberger et al. 2015, as used by pix2pix): ``--netG unet_256 | unet_128 | unet_64``.

The recursive block structure reproduces the classic pytorch-CycleGAN-and-pix2pix layout exactly
(keys such as ``model.model.1.model.3.model.1.weight``), so published pix2pix weights load unchanged.
``unet_64`` (6 downsamplings, for 64x64 images such as the built-in dataset) is a gantool addition.
"""
from typing import Optional

import torch
import torch.nn as nn

from ..ops.padding import crop_to, pad_to_multiple
from .norm import NormLayer, norm_uses_bias
from .registry import GENERATORS


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: downsample, run the inner ``submodule``, upsample, concatenate the skip.

    Args:
        outer_nc: channels this block returns to its parent (before the skip concat).
        inner_nc: channels after this block's downsampling conv.
        input_nc: channels of the block's input; defaults to ``outer_nc``.
        submodule: the next-deeper block (None for the innermost one).
        outermost: the top block: no norm or activation on the input, Tanh on the output, no skip.
        innermost: the bottleneck block: no submodule.
        norm_layer: normalization-layer constructor.
        use_dropout: append Dropout(0.5) (only used by middle blocks, as classic).

    Shapes: (N, input_nc, H, W) -> (N, input_nc + outer_nc, H, W), or (N, outer_nc, H, W) when
    outermost. H and W must be divisible by 2 ** (number of blocks from here down).
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: Optional[int] = None,
        submodule: Optional[nn.Module] = None,
        outermost: bool = False,
        innermost: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        use_dropout: bool = False,
    ):
        super().__init__()
        self.outermost = outermost
        use_bias = norm_uses_bias(norm_layer)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        # In-place LeakyReLU also rewrites the tensor that forward() concatenates as the skip, so
        # the skip carries activated features. The published weights were trained that way: keep it.
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)  # (N, outer_nc, H, W)
        # (N, input_nc, H, W) ++ (N, outer_nc, H, W) -> (N, input_nc + outer_nc, H, W)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net built from the innermost block outwards.

    Args:
        input_nc: channels of the input images.
        output_nc: channels of the output images.
        num_downs: number of stride-2 downsamplings (at least 5); 8 maps 256x256 to a 1x1 bottleneck.
        ngf: filters in the outermost conv layer; deeper levels use up to ``8 * ngf``.
        norm_layer: normalization-layer constructor (see ``get_norm_layer``).
        use_dropout: Dropout(0.5) in the ``num_downs - 5`` innermost middle blocks.

    Shapes: (N, input_nc, H, W) in [-1, 1] -> (N, output_nc, H, W) in [-1, 1], any H and W.
    Sizes that are not multiples of ``size_multiple`` (``2 ** num_downs``) are padded up to the next
    multiple and the output is cropped back, instead of failing at the skip concatenation.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        num_downs: int,
        ngf: int = 64,
        norm_layer: NormLayer = nn.BatchNorm2d,
        use_dropout: bool = False,
    ):
        if num_downs < 5:
            raise ValueError(f"num_downs must be at least 5, got {num_downs}")
        super().__init__()
        self.size_multiple = 2**num_downs
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer, use_dropout=use_dropout
            )
        # Widths shrink from 8*ngf back to ngf on the way out.
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm_layer=norm_layer
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Odd sizes would lose a pixel per level and no longer match their skips: pad, then crop back.
        padded, size = pad_to_multiple(x, self.size_multiple)  # (N, input_nc, H', W'), multiples
        # (N, input_nc, H', W') -> ... (N, 8*ngf, H'/2**num_downs, W'/2**num_downs) ... -> (N, output_nc, H', W')
        return crop_to(self.model(padded), size)  # (N, output_nc, H, W)


@GENERATORS.register("unet_256")
def unet_256(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool) -> nn.Module:
    """UnetGenerator with 8 downsamplings (256x256 images; the pix2pix default)."""
    return UnetGenerator(input_nc, output_nc, 8, ngf, norm_layer=norm_layer, use_dropout=use_dropout)


@GENERATORS.register("unet_128")
def unet_128(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool) -> nn.Module:
    """UnetGenerator with 7 downsamplings (128x128 images)."""
    return UnetGenerator(input_nc, output_nc, 7, ngf, norm_layer=norm_layer, use_dropout=use_dropout)


@GENERATORS.register("unet_64")
def unet_64(input_nc: int, output_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool) -> nn.Module:
    """UnetGenerator with 6 downsamplings (64x64 images; the pix2pix demo on the built-in dataset)."""
    return UnetGenerator(input_nc, output_nc, 6, ngf, norm_layer=norm_layer, use_dropout=use_dropout)
