"""Preparing a backbone trunk for a discriminator: building it cheaply, loading pretrained weights,
changing its normalisation and freezing it.

A discriminator reuses only a classifier's ``features``; the classifier's head is never used, and
for VGG and AlexNet it holds most of the parameters (a 100 M-parameter MLP), so ``classifier_trunk``
builds the classifier on the meta device and gives real storage to the trunk alone.
"""
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..backbones import build_classifier
from ..errors import GantoolError
from ..io.files import clean_state_dict, load_file
from .norm import spectral_normalise

#: ``--D_backbone_norm`` values; ``auto`` follows the recipe's ``--norm``.
BACKBONE_NORMS = ("auto", "batch", "instance", "spectral", "none")


def classifier_trunk(name: str, in_channels: int, small_input: bool) -> Tuple[nn.Module, nn.Module, int, int]:
    """The trunk of ``--netC name`` on the CPU, freshly initialised, without allocating the head.

    Convolutions get Kaiming-normal weights (fan-out, ReLU gain; torchvision's ResNet and VGG rule,
    used here for every trunk) and zero biases; BatchNorm starts at scale 1, shift 0.

    Returns:
        ``(classifier, trunk, trunk_channels, trunk_stride)``: the whole classifier (its head left on
        the meta device, only useful to name the trunk's weights) and its ``features``,
        (N, in_channels, H, W) -> (N, trunk_channels, H / trunk_stride, W / trunk_stride).
    """

    options = {"aux_logits": False} if name == "googlenet" else {}
    with torch.device("meta"):
        net = build_classifier(name, in_channels, 1, small_input=small_input, **options)
    trunk = net.features.to_empty(device="cpu")  # a view for ResNet and GoogLeNet: fills the net's own modules
    with torch.no_grad():
        for m in trunk.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()  # scale 1, shift 0, running mean 0 and variance 1
            elif hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return net, trunk, net.trunk_channels, net.trunk_stride


def _key_candidates(full: nn.Module, trunk: nn.Module) -> List[Tuple[List[str], torch.Tensor]]:
    """For every tensor of ``trunk``: the file keys it may have, and the tensor.

    A torchvision or gantool classifier file names it as in ``full`` (``features.0.weight``,
    ``layer1.0.conv1.weight``); a segmentation file (torchvision ``fcn_resnet50``, gantool ``--netS
    fcn_*``) names it ``backbone.<key in the trunk>``.
    """
    full_names = {id(t): k for k, t in full.state_dict(keep_vars=True).items()}
    out = []
    for key, tensor in trunk.state_dict(keep_vars=True).items():
        names = [full_names.get(id(tensor), key), "backbone." + key, key]
        out.append((list(dict.fromkeys(names)), tensor))
    return out


def load_trunk_weights(full: nn.Module, trunk: nn.Module, path: str, name: str) -> None:
    """Fill ``trunk`` (part of ``full``, a ``name`` network) from a torchvision-format state-dict file
    (``--D_backbone_weights``).

    Extra keys (the classifier's head, auxiliary heads) are ignored. The first convolution may
    have been trained on another number of input channels (3 for RGB, while pix2pix's D sees 6 and
    gray images 1): see ``_spread_channels``.

    Raises:
        GantoolError: the file is unreadable or not weights-only, or it lacks some of the trunk's
            weights, or one has another shape; the message names the first such key.
    """

    state = load_file(path, "--D_backbone_weights file")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise GantoolError(f"{path} is not a state dict (name -> tensor); save the model's state_dict()")
    state = clean_state_dict(state)
    pairs = _key_candidates(full, trunk)
    missing = [names[0] for names, t in pairs
               if not any(n in state for n in names) and not names[0].endswith("num_batches_tracked")]
    if missing:
        raise GantoolError(f"{path} does not fit the {name} trunk: it lacks {len(missing)} of its "
                           f"{len(pairs)} tensors (first: '{missing[0]}'); it needs a torchvision or gantool "
                           f"{name} state dict")
    first_conv = next((names[0] for names, t in pairs if t.dim() == 4), None)
    with torch.no_grad():
        for names, tensor in pairs:
            key = next((n for n in names if n in state), None)
            if key is None:
                continue
            value = state[key]
            if names[0] == first_conv and value.dim() == 4 and value.shape[1] != tensor.shape[1] \
                    and value.shape[0] == tensor.shape[0] and value.shape[2:] == tensor.shape[2:]:
                value = _spread_channels(value, tensor.shape[1])
            if value.shape != tensor.shape:
                raise GantoolError(f"{path}: '{key}' is {tuple(value.shape)} but the {name} trunk needs "
                                   f"{tuple(tensor.shape)} there; was it saved from another network?")
            tensor.copy_(value)


def _spread_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """First-layer filters (out, c, k, k) for ``channels`` inputs instead of c, with the same sum over
    the inputs, so that a gray image repeated on every channel gives the same response: fewer channels
    sum the filters of channels i, i + channels, ... (RGB -> gray: their sum); more channels repeat
    filter i mod c, each copy scaled down by its number of copies (RGB -> 6 channels: halves)."""
    c = weight.shape[1]
    spread = torch.zeros(channels, c, dtype=weight.dtype)  # new channel j takes spread[j, i] of old filter i
    if channels >= c:
        spread[torch.arange(channels), torch.arange(channels) % c] = 1.0
        spread /= spread.sum(0, keepdim=True)
    else:
        spread[torch.arange(c) % channels, torch.arange(c)] = 1.0
    return torch.einsum("oi...,ji->oj...", weight, spread)


def _replace(module: nn.Module, kind: type, make) -> None:
    """Replace every submodule of class ``kind`` (strictly: not subclasses) by ``make(old)``."""
    for parent in list(module.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is kind:
                setattr(parent, child_name, make(child))


def _instance_from_batch(bn: nn.BatchNorm2d) -> nn.Module:
    new = nn.InstanceNorm2d(bn.num_features, eps=bn.eps, affine=bn.affine)
    if bn.affine:  # keep a loaded scale and shift
        with torch.no_grad():
            new.weight.copy_(bn.weight)
            new.bias.copy_(bn.bias)
    return new


def set_trunk_norm(trunk: nn.Module, mode: str) -> None:
    """Change the BatchNorm layers of ``trunk`` in place (``--D_backbone_norm``).

    Args:
        mode: ``batch`` keeps them; ``instance`` makes each an affine InstanceNorm (keeping its scale
            and shift), so no statistic is shared between the images of a batch; ``none`` removes
            them; ``spectral`` removes them and puts spectral normalisation on every convolution and
            linear layer (Miyato et al. 2018), the usual GAN choice when BatchNorm would leak
            batch statistics (e.g. into the WGAN-GP penalty).
    """
    if mode not in BACKBONE_NORMS[1:]:
        raise GantoolError(f"unknown --D_backbone_norm '{mode}'; choose from: {', '.join(BACKBONE_NORMS)}")
    if mode == "batch":
        return
    if mode == "instance":
        _replace(trunk, nn.BatchNorm2d, _instance_from_batch)
        return
    _replace(trunk, nn.BatchNorm2d, lambda bn: nn.Identity())
    for m in trunk.modules():
        if isinstance(m, nn.ReLU):
            # Without the norm a ReLU may meet a tensor still needed elsewhere (DenseNet's concatenation).
            m.inplace = False
    if mode == "spectral":
        spectral_normalise(trunk)  # the same as --norm_D spectral does to the classic discriminators


class FrozenBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm that always uses its running statistics and never updates them (a frozen trunk
    keeps the statistics it was trained with, in train mode too). Same state-dict keys as BatchNorm2d.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


def _frozen_batch_norm(bn: nn.BatchNorm2d) -> nn.Module:
    new = FrozenBatchNorm2d(bn.num_features, eps=bn.eps, affine=bn.affine)
    new.load_state_dict(bn.state_dict())
    return new


def freeze(trunk: nn.Module) -> None:
    """Keep ``trunk`` fixed (``--freeze_D_backbone``): its parameters become buffers.

    Buffers stay in the state dict under the same keys and follow ``.to(device)``, but are not in
    ``parameters()``: no optimizer sees them and ``set_requires_grad`` cannot switch them back on,
    while gradients still flow through the trunk to its input (the generator needs them).
    BatchNorm layers keep their running statistics (``FrozenBatchNorm2d``).
    """
    _replace(trunk, nn.BatchNorm2d, _frozen_batch_norm)
    for m in trunk.modules():
        params: Dict[str, nn.Parameter] = dict(m._parameters)
        for pname, p in params.items():
            if p is not None:
                del m._parameters[pname]
                m.register_buffer(pname, p.detach())
