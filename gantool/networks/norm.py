"""Normalization-layer choices (``--norm``) and weight initialisation (``--init_type``).

Both follow the classic pytorch-CycleGAN-and-pix2pix ``networks.py`` exactly, because the
published pretrained weights and the training recipes were tuned against this behaviour.
"""
import functools
from typing import Callable

import torch.nn as nn
from torch.nn import init
from torch.nn.utils import parametrize

from ..registry import Registry

NormLayer = Callable[[int], nn.Module]
"""A constructor taking the channel count and returning a normalization module."""

NORMS = Registry("--norm")
INITS = Registry("--init_type")


@NORMS.register("batch")
def _batch() -> NormLayer:
    # Learned scale/shift and running statistics, as pix2pix trains and evaluates with them.
    return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)


@NORMS.register("syncbatch")
def _syncbatch() -> NormLayer:
    # Built as BatchNorm2d (same keys, so checkpoints move between batch and syncbatch); under torchrun the
    # trainer converts it to nn.SyncBatchNorm (distributed.ddp_wrapper): statistics over all processes' batches.
    return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)


@NORMS.register("instance")
def _instance() -> NormLayer:
    # No parameters and no buffers: the published CycleGAN generators have no norm keys.
    return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


@NORMS.register("none")
def _none() -> NormLayer:
    def norm_layer(num_features: int) -> nn.Module:
        return nn.Identity()

    return norm_layer


def get_norm_layer(norm: str = "instance") -> NormLayer:
    """Return the normalization-layer constructor for a ``--norm`` name.

    Args:
        norm: ``"batch"`` (BatchNorm2d, affine, running stats; ``"syncbatch"``: the same, synchronised
            across processes under torchrun), ``"instance"`` (InstanceNorm2d,
            no affine, no running stats) or ``"none"`` (identity).

    Returns:
        A callable ``norm_layer(num_features) -> nn.Module`` for (N, C, H, W) feature maps.

    Raises:
        UnknownNameError: for any other name; the message lists the choices.
    """
    return NORMS.get(norm)()


def norm_uses_bias(norm_layer: NormLayer) -> bool:
    """Whether convolutions followed by ``norm_layer`` carry a bias, by the classic rule.

    Only InstanceNorm (which has no affine shift here) gets conv biases; BatchNorm's shift
    makes them redundant. The classic rule also gives ``none`` no biases; it is kept because
    the state-dict keys depend on it.

    Args:
        norm_layer: a class such as ``nn.InstanceNorm2d`` or a ``functools.partial`` of one.
    """
    if isinstance(norm_layer, functools.partial):
        return norm_layer.func == nn.InstanceNorm2d
    return norm_layer == nn.InstanceNorm2d


@INITS.register("normal")
def _normal(weight, gain: float) -> None:
    init.normal_(weight, 0.0, gain)


@INITS.register("xavier")
def _xavier(weight, gain: float) -> None:
    init.xavier_normal_(weight, gain=gain)


@INITS.register("kaiming")
def _kaiming(weight, gain: float) -> None:
    # The classic code ignores the gain here.
    init.kaiming_normal_(weight, a=0, mode="fan_in")


@INITS.register("orthogonal")
def _orthogonal(weight, gain: float) -> None:
    init.orthogonal_(weight, gain=gain)


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialise ``net``'s weights in place, exactly as the classic code does.

    Conv*/Linear weights get ``init_type`` (normal N(0, gain), xavier-normal, kaiming-normal
    fan-in, or orthogonal), and their biases 0. BatchNorm2d weights get N(1, gain), biases 0.
    Other modules keep PyTorch's defaults.

    Args:
        net: the network to initialise.
        init_type: ``"normal"``, ``"xavier"``, ``"kaiming"`` or ``"orthogonal"``.
        init_gain: standard deviation for normal, gain for xavier and orthogonal.

    Returns:
        ``net`` itself, for chaining.

    Raises:
        UnknownNameError: for an unknown ``init_type``, even if ``net`` has no conv layers.
    """
    init_func = INITS.get(init_type)

    def init_module(m: nn.Module) -> None:
        # Matching on the class name (as classic) also covers ConvTranspose2d and Conv1d.
        classname = m.__class__.__name__
        weight = getattr(m, "weight", None)
        if weight is not None and ("Conv" in classname or "Linear" in classname):
            init_func(weight.data, init_gain)
            if getattr(m, "bias", None) is not None:
                init.constant_(m.bias.data, 0.0)
        elif "BatchNorm2d" in classname and weight is not None:
            init.normal_(weight.data, 1.0, init_gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(init_module)
    return net


#: ``--norm_D`` values: ``auto`` keeps each recipe's classic discriminator normalisation (``--norm`` for the
#: PatchGANs, BatchNorm for DCGAN, none for the MLP GAN); ``spectral`` replaces it by spectral normalisation
D_NORMS = ("auto", "spectral")
#: the layers ``spectral_normalise`` removes (batch norm in all its forms, instance, group and layer norm)
NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def spectral_normalise(net: nn.Module) -> nn.Module:
    """Replace ``net``'s normalisation layers by spectral normalisation (Miyato et al. 2018), in place.

    Every layer of ``NORM_LAYERS`` becomes ``nn.Identity`` (the module keeps its position, so the other keys
    keep their indices) and every convolution (transposed too) and linear layer gets
    ``torch.nn.utils.parametrizations.spectral_norm``: its weight is divided by an estimate of its largest
    singular value, refined by one power iteration per forward pass in train mode. The weight's keys become
    ``<layer>.parametrizations.weight.original`` (plus the power iteration's ``_u`` and ``_v``). Layers that
    are normalised already are left alone, so calling it twice changes nothing.

    Args:
        net: a discriminator (or part of one), its weights initialised: the normalised weight starts from them.

    Returns:
        ``net`` itself (shapes unchanged).
    """
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, NORM_LAYERS):
                setattr(parent, child_name, nn.Identity())
    for m in list(net.modules()):
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and not parametrize.is_parametrized(m, "weight"):
            nn.utils.parametrizations.spectral_norm(m)
    return net


def mixes_samples(net: nn.Module) -> bool:
    """Whether ``net`` has a layer whose training output depends on the other samples of the batch
    (batch norm and its synchronised form); without one, concatenating inputs into one call is exact."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
