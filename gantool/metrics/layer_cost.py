"""The arithmetic cost of one layer call, for the layer summary: multiply-accumulates and connections.

Both are counted for one image (a batch of N costs N times as much) from the shapes of the call.

MACs (multiply-accumulates) count the products of the weighted sums, one per (weight, input) pair
used, padded zeros included (the usual convention of FLOP counters):

- convolution (``Conv1d/2d/3d``, any groups and dilation): Cout x Hout x Wout x (Cin / groups) x kh x kw;
- transposed convolution: each input element scatters to (Cout / groups) x kh x kw outputs, so
  Cin x Hin x Win x (Cout / groups) x kh x kw (products falling into the cropped border included);
- linear: in_features x out_features per leading position ((N, L, in) -> L x in x out);
- ``TrainableSubsampling`` (LeNet-5's S layers): k x k per output element, the cost of the
  equivalent depthwise convolution whose k x k weights all equal the map's one weight;
- nothing else: bias additions, normalisation, activations, pooling, padding and reshapes are not
  MACs (0), and neither are element-wise products with learned scales (BatchNorm, PReLU).

Connections follow the classic LeNet-5 notes: an output element is connected to each of its
inputs and to its bias, so a layer's connections are its MACs plus one per output element when it
has a bias. For a convolution or linear layer that is parameters x output positions, and for a
subsampling layer (k x k + 1) per output element, the notes' two formulas.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn

from ..backbones.lenet_classic import TrainableSubsampling


def layer_cost(module: nn.Module, x: Optional[torch.Tensor], out: Optional[torch.Tensor],
               batch: int) -> Tuple[int, int]:
    """``(macs, connections)`` of one call of ``module`` for one image (see the module docstring).

    Args:
        module: the layer called.
        x: its (first) input tensor, or None.
        out: its (first) output tensor, or None.
        batch: the number of images in the call; the counts are divided by it.

    Returns:
        ``(0, 0)`` for a layer that does no weighted sums, or a call without tensors.
    """
    if out is None:
        return 0, 0
    out_per_image = out.numel() // max(batch, 1)
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if x is None:
            return 0, 0
        in_per_image = x.numel() // max(batch, 1)
        macs = in_per_image * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    elif isinstance(module, nn.modules.conv._ConvNd):
        macs = out_per_image * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    elif isinstance(module, nn.Linear):
        macs = out_per_image * module.in_features
    elif isinstance(module, TrainableSubsampling):
        macs = out_per_image * module.kernel_size ** 2
        return macs, macs + out_per_image  # every output element has its map's bias
    else:
        return 0, 0
    return macs, macs + (out_per_image if getattr(module, "bias", None) is not None else 0)


def format_count(n: int) -> str:
    """``1,234,567 (1.23 M)``: the exact count, and a rounded one from a thousand up."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n:,} ({n / scale:.3g} {unit})"
    return f"{n:,}"
