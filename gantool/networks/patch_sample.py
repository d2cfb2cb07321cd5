"""CUT's patch sampler ``F`` (``--netF``) and the generator features it samples (Park et al. 2020).

The PatchNCE loss compares, patch by patch, what the generator's encoder makes of an input and of its
translation. ``encoder_features`` taps the outputs of chosen layers of a ResNet generator's ``model``
sequence (``--nce_layers 0,4,8,12,16``: indices into it) without changing the generator or its
state-dict keys, so classic generator files still load. ``PatchSampleF`` picks the same random
positions in the features of both images and maps each picked feature vector through a small MLP per
layer (``mlp_sample``; ``sample``: no MLP) to a unit vector.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..io.files import unwrap
from .norm import init_weights

NETF_CHOICES = ("mlp_sample", "sample")


def encoder_layers(generator: nn.Module) -> nn.Sequential:
    """The ``model`` sequence of a ResNet generator (unwrapped from DDP/compile); others raise a one-line error."""
    net = unwrap(generator)
    model = getattr(net, "model", None)
    if type(net).__name__ != "ResnetGenerator" or not isinstance(model, nn.Sequential):
        raise GantoolError(f"--model cut taps the layers of a ResNet generator (--netG resnet_9blocks or "
                           f"resnet_6blocks), not a {type(net).__name__}")
    return model


def check_layers(generator: nn.Module, layers: Sequence[int]) -> None:
    """Raise a one-line error when ``layers`` are not increasing indices of the generator's layers."""
    count = len(encoder_layers(generator))
    bad = [i for i in layers if not 0 <= i < count]
    if bad or not layers or list(layers) != sorted(set(layers)):
        raise GantoolError(f"--nce_layers {','.join(map(str, layers))}: give increasing layer indices of the "
                           f"generator, 0 to {count - 1} (the default 0,4,8,12,16 taps the input, both "
                           "downsamplings and two residual blocks)")


def encoder_features(generator: nn.Module, x: Tensor, layers: Sequence[int]) -> List[Tensor]:
    """The outputs of ``generator.model[i]`` for ``i`` in ``layers`` (increasing), running only as far as the
    last of them. (N, C, H, W) -> [(N, C_i, H_i, W_i) ...]."""
    wanted, feats, last = set(layers), [], max(layers)
    model = encoder_layers(generator)
    for index, layer in enumerate(model):
        x = layer(x)
        if index in wanted:
            # The classic generator's ReLUs work in place: a tapped norm output would become its ReLU's output.
            following = model[index + 1] if index + 1 < len(model) else None
            feats.append(x.clone() if index < last and getattr(following, "inplace", False) else x)
        if index == last:
            break
    return feats


def _l2_normalise(x: Tensor) -> Tensor:
    return x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-7)  # rows of (M, C) to unit length


class PatchSampleF(nn.Module):
    """Samples ``num_patches`` positions of each feature map and embeds them (CUT's ``PatchSampleF``).

    Built eagerly from the tapped layers' channel counts (the reference builds its MLPs on the first batch),
    so the optimizer, precision, checkpoints and DDP see every parameter from the start.

    Args:
        channels: channels of each tapped layer's output.
        use_mlp: ``mlp_sample`` (two linear layers with ReLU per tapped layer, to ``nc`` features) or ``sample``.
        nc: output features of each MLP.
        init_type, init_gain: weight initialisation (the generator's).

    ``forward(feats, num_patches, patch_ids)``: feats [(N, C_i, H_i, W_i)] -> ([(N * P_i, nc or C_i)] unit
    vectors, [(P_i,) position indices]); ``num_patches`` 0 keeps every position; ``patch_ids`` given: those
    positions (the query image uses the key image's).
    """

    def __init__(self, channels: Sequence[int], use_mlp: bool = True, nc: int = 256, init_type: str = "normal",
                 init_gain: float = 0.02):
        super().__init__()
        self.use_mlp, self.nc = use_mlp, nc
        self.channels = list(channels)
        if use_mlp:
            for i, c in enumerate(channels):  # mlp_0, mlp_1...: the reference's key names
                setattr(self, f"mlp_{i}", nn.Sequential(nn.Linear(c, nc), nn.ReLU(), nn.Linear(nc, nc)))
            init_weights(self, init_type, init_gain)

    def forward(self, feats: List[Tensor], num_patches: int,
                patch_ids: Optional[List[Tensor]] = None) -> Tuple[List[Tensor], List[Tensor]]:
        out, ids = [], []
        for i, feat in enumerate(feats):
            n, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)  # (N, H*W, C)
            if patch_ids is not None:
                index = patch_ids[i]
            elif num_patches > 0:
                if num_patches > h * w:
                    raise GantoolError(f"--num_patches {num_patches} is more than the {h}x{w} = {h * w} positions "
                                       f"of tapped layer {i}; use --num_patches {h * w} or less, or larger images")
                index = torch.randperm(h * w, device=feat.device)[:num_patches]
            else:
                index = torch.arange(h * w, device=feat.device)
            sample = flat[:, index, :].flatten(0, 1)  # (N * P, C)
            if self.use_mlp:
                sample = getattr(self, f"mlp_{i}")(sample)  # (N * P, nc)
            out.append(_l2_normalise(sample))
            ids.append(index)
        return out, ids


def build_patch_sampler(generator: nn.Module, layers: Sequence[int], input_nc: int, image_size: int,
                        num_patches: int, netF: str = "mlp_sample", nc: int = 256, init_type: str = "normal",
                        init_gain: float = 0.02) -> PatchSampleF:
    """``F`` for ``generator``'s tapped ``layers``, with their channel counts and sizes read from one pass of a
    blank ``image_size`` image; a ``num_patches`` larger than a tapped map is a one-line error here."""
    if netF not in NETF_CHOICES:
        raise GantoolError(f"unknown --netF '{netF}'; choose from: {', '.join(NETF_CHOICES)}")
    if num_patches < 0:
        raise GantoolError(f"--num_patches must not be negative, got {num_patches}")
    check_layers(generator, layers)
    net = unwrap(generator)
    device, training = next(net.parameters()).device, net.training
    net.eval()  # the probe must not move batch-norm statistics
    with torch.no_grad():
        feats = encoder_features(net, torch.zeros(1, input_nc, image_size, image_size, device=device), layers)
    net.train(training)
    for layer, feat in zip(layers, feats):
        positions = feat.shape[2] * feat.shape[3]
        if num_patches > positions:
            raise GantoolError(f"--num_patches {num_patches} is more than the {feat.shape[2]}x{feat.shape[3]} = "
                               f"{positions} positions of --nce_layers {layer} at --crop_size {image_size}; use "
                               f"--num_patches {positions} or less, a larger --crop_size, or other --nce_layers")
    return PatchSampleF([f.shape[1] for f in feats], netF == "mlp_sample", nc, init_type, init_gain)
