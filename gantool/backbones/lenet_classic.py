"""LeNet-5 as the classic course notes count it (LeCun et al. 1998): ``--netC lenet5_classic``.

Beside ``--netC lenet`` (the modern variant: average pooling, 61,706 parameters), this is the
network of the notes' table, 61,740 parameters:

=========  ===================================  ======  ===========  ====================================
layer      what                                 params  connections  connections, by the notes' formula
=========  ===================================  ======  ===========  ====================================
C1         conv 6@5x5, 32x32 -> 28x28              156      122,304  156 x 28 x 28
S2         trainable 2x2 subsampling -> 14x14       12        5,880  (4 + 1) x 6 x 14 x 14
C3         conv 16@5x5 on all 6 maps -> 10x10    2,416      241,600  2,416 x 10 x 10
S4         trainable 2x2 subsampling -> 5x5         32        2,000  (4 + 1) x 16 x 5 x 5
C5         conv 120@5x5 -> 1x1                  48,120       48,120  48,120 x 1
F6         linear 120 -> 84                     10,164       10,164  (120 + 1) x 84
output     84 x 10, no bias                        840          840  84 x 10
=========  ===================================  ======  ===========  ====================================

Connections are parameters x output positions for a convolution or linear layer (each output
element sees its inputs and a bias) and (window inputs + 1) per output element for a subsampling
layer. The notes print 41,600 for C3; their own formula gives 2,416 x 100 = 241,600 (the paper's
151,600 is for its sparse C3 of 1,516 parameters), so 41,600 is a slip. ``gantool.metrics.summary``
computes these figures from the layers run (its Connections column).

Choices where the notes leave freedom:

- C1, C3, C5 and F6 squash with ``tanh`` by default: the paper's "sigmoid squashing function" is the
  scaled tangent 1.7159 tanh(2a/3), the same shape up to scale; C5 squashes too, as every layer
  up to F6 does in the paper. Any name of ``gantool.ops.activations.ACTIVATIONS`` may replace it.
- The paper's output layer is 10 Euclidean RBF units on fixed 7x12 codes (84 x 10 parameters, no
  bias); here it is a bias-free linear layer with the same 840 parameters, giving logits for
  cross-entropy.
- Input sizes: a side under 32 is zero-padded (centred) to 32, so a 28x28 digit follows the 32x32
  arithmetic exactly as ``lenet``'s padded first convolution does; larger inputs run the unpadded
  convolutions (S4 gives H/4 - 3) and are pooled adaptively to 5x5 before C5, as ``lenet`` does.
- S2 and S4 start at weight 1, bias 0 (``TrainableSubsampling.reset_parameters``).

Training: the S layers' sigmoid feeds C3 and C5 only positive values, so Adam's first steps move
all their weights one way; at the classifier's default ``--lr 1e-3`` the built-in digits reach
about 0.93 test accuracy in 3 epochs of 2,048 images (measured, seeds 1-3), while at ``--lr 5e-3``
C3's tanh saturated and training stayed at chance.
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.activations import make_activation
from .registry import CLASSIFIERS

CLASSIC_SIZE = 32  # the paper's input field: 28x28 digits centred in 32x32


class TrainableSubsampling(nn.Module):
    """LeNet-5's S layers: each map is sigmoid(w_c * (sum of a k x k window) + b_c), one trainable
    weight and bias per map, non-overlapping windows (stride k).

    Args:
        channels: number of maps C.
        kernel: window side k (2 in LeNet-5).
        squash: apply the sigmoid (the paper's S layers do); False leaves the affine map.

    Parameters: ``weight`` (C,), ``bias`` (C,); 2C in all.

    Shapes: (N, C, H, W) -> (N, C, H // k, W // k); H and W at least k.
    """

    def __init__(self, channels: int, kernel: int = 2, squash: bool = True):
        if channels < 1 or kernel < 1:
            raise ValueError(f"TrainableSubsampling needs channels >= 1 and kernel >= 1, got {channels}, {kernel}")
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel
        self.stride = kernel
        self.squash = squash
        self.weight = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """w = 1, b = 0: the window sum meets the sigmoid's slope of 1/4 at its centre, so the layer
        starts at about unit gain. (w = 1 / k^2, an average, shrinks the signal k^2 times per S layer;
        measured on the built-in digits, that stalls training at chance.)"""
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        if x.shape[-2] < k or x.shape[-1] < k:
            raise ValueError(f"TrainableSubsampling({k}x{k}) got a {x.shape[-2]}x{x.shape[-1]} map; "
                             f"it needs at least {k}x{k}")
        window_sum = F.avg_pool2d(x, k, stride=k) * (k * k)  # (N, C, H // k, W // k)
        y = window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return torch.sigmoid(y) if self.squash else y

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel={self.kernel_size}, squash={self.squash}"


class PadToSize(nn.Module):
    """Zero-pads each spatial side shorter than ``size`` up to ``size``, centred (an odd
    remainder goes to the bottom / right); longer sides pass unchanged. No parameters.

    Shapes: (N, C, H, W) -> (N, C, max(H, size), max(W, size)).
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dh, dw = max(0, self.size - x.shape[-2]), max(0, self.size - x.shape[-1])
        if dh == 0 and dw == 0:
            return x
        return F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))

    def extra_repr(self) -> str:
        return f"size={self.size}"


class LeNet5Classic(nn.Module):
    """LeNet-5 as the classic notes count it: C1, S2 (trainable), C3, S4 (trainable), C5, F6 and a
    bias-free output layer; 61,740 parameters for 1 channel and 10 classes (module docstring).

    Args:
        in_channels: channels of the input images.
        num_classes: number of output logits.
        activation: the squashing of C1, C3, C5 and F6, a name of
            ``gantool.ops.activations.ACTIVATIONS`` (default ``"tanh"``; the S layers always use
            the sigmoid, as the notes state).
        small_input: accepted so that every classifier takes it; LeNet-5 is a small-input network
            already, so it changes nothing.

    State-dict keys: ``features.{c1,s2,c3,s4}.{weight,bias}``, ``classifier.{c5,f6}.{weight,bias}``,
    ``classifier.output.weight`` (plus one ``.weight`` per activation layer for ``prelu``).

    Shapes: (N, in_channels, H, W) -> (N, num_classes); ``features``: -> (N, 16, 5, 5) for
    H, W <= 32, else (N, 16, H // 4 - 3, W // 4 - 3) up to rounding.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, activation: str = "tanh",
                 small_input: bool = False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("pad", PadToSize(CLASSIC_SIZE)),
            ("c1", nn.Conv2d(in_channels, 6, kernel_size=5)),
            ("act1", make_activation(activation)),  # raises ValueError listing the choices
            ("s2", TrainableSubsampling(6)),
            ("c3", nn.Conv2d(6, 16, kernel_size=5)),  # every S2 map feeds every C3 map
            ("act3", make_activation(activation)),
            ("s4", TrainableSubsampling(16)),
        ]))
        self.avgpool = nn.AdaptiveAvgPool2d((5, 5))  # identity at the classic sizes (S4 is 5x5)
        self.classifier = nn.Sequential(OrderedDict([
            ("c5", nn.Conv2d(16, 120, kernel_size=5)),
            ("act5", make_activation(activation)),
            ("flatten", nn.Flatten()),
            ("f6", nn.Linear(120, 84)),
            ("act6", make_activation(activation)),
            ("output", nn.Linear(84, num_classes, bias=False)),  # the notes' 84 x 10 weights, no bias
        ]))
        self.trunk_channels = 16
        self.trunk_stride = 4

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, C, 28 or 32, same) -> (N, 16, 5, 5)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        f = self.avgpool(f)  # (N, 16, h, w) -> (N, 16, 5, 5)
        return self.classifier(f)  # C5 (N, 120, 1, 1) -> flatten -> F6 (N, 84) -> (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@CLASSIFIERS.register("lenet5_classic")
def lenet5_classic(in_channels: int, num_classes: int, **options) -> LeNet5Classic:
    """LeNet-5 as the classic notes count it (61,740 parameters); ``options``: ``activation``, ``small_input``."""
    return LeNet5Classic(in_channels, num_classes, **options)
