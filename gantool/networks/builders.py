"""``define_G``, ``define_D`` and ``build_from_arch``: networks by name, initialised, on the CPU."""
from typing import Optional, Union

import torch.nn as nn

from ..io.arch import Arch, DCGANGeneratorArch, GeneratorArch, MLPGeneratorArch, arch_from_record
from .dcgan import DCGANGenerator
from .mlp_gan import MLPGenerator
from .norm import get_norm_layer, init_weights
from .registry import DISCRIMINATORS, GENERATORS


def define_G(
    input_nc: int,
    output_nc: int,
    ngf: int = 64,
    netG: str = "resnet_9blocks",
    norm: str = "batch",
    use_dropout: bool = False,
    init_type: str = "normal",
    init_gain: float = 0.02,
) -> nn.Module:
    """Build and initialise a generator, like the classic ``networks.define_G``.

    Unlike the classic builder it neither moves the net to a device nor wraps it in
    DataParallel: the caller owns the device.

    Args:
        input_nc: channels of the input images.
        output_nc: channels of the output images.
        ngf: filters in the first conv layer.
        netG: a name in ``GENERATORS`` (resnet_9blocks, resnet_6blocks, unet_256, unet_128, ...).
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        use_dropout: use dropout layers in the generator.
        init_type: ``"normal"``, ``"xavier"``, ``"kaiming"`` or ``"orthogonal"``.
        init_gain: scale for normal, xavier and orthogonal init.

    Returns:
        The generator on the CPU: (N, input_nc, H, W) -> (N, output_nc, H, W), with an integer
        ``size_multiple`` attribute that H and W must divide into, and ``gantool_arch`` (these
        constructor options, written beside its checkpoints by ``save_network``).

    Raises:
        UnknownNameError: for an unknown ``netG``, ``norm`` or ``init_type``; lists the choices.
    """
    factory = GENERATORS.get(netG)
    net = factory(
        input_nc=input_nc,
        output_nc=output_nc,
        ngf=ngf,
        norm_layer=get_norm_layer(norm),
        use_dropout=use_dropout,
    )
    net = init_weights(net, init_type, init_gain)
    # Saved beside its checkpoints (gantool.io.arch), so test.py and Translator.load rebuild it without options.
    net.gantool_arch = GeneratorArch(input_nc=input_nc, output_nc=output_nc, ngf=ngf, netG=netG, norm=norm,
                                     use_dropout=bool(use_dropout))
    return net


def build_from_arch(arch: Union[Arch, dict]) -> nn.Module:
    """Rebuild the (untrained) generator that ``arch`` describes (a description or a side file's record), on the CPU."""
    arch = arch_from_record(arch)
    builders = {GeneratorArch: define_G, MLPGeneratorArch: MLPGenerator, DCGANGeneratorArch: DCGANGenerator}
    return builders[type(arch)](**arch.kwargs())


def define_D(
    input_nc: int,
    ndf: int = 64,
    netD: str = "basic",
    n_layers_D: int = 3,
    norm: str = "batch",
    init_type: str = "normal",
    init_gain: float = 0.02,
    *,
    head: str = "global",
    backbone: str = "resnet18",
    backbone_weights: Optional[str] = None,
    freeze_backbone: bool = False,
    backbone_norm: str = "auto",
    image_size: Optional[int] = None,
) -> nn.Module:
    """Build and initialise a discriminator, like the classic ``networks.define_D``.

    Unlike the classic builder it neither moves the net to a device nor wraps it in
    DataParallel: the caller owns the device.

    Args:
        input_nc: channels of the discriminator input (``input_nc + output_nc`` for pix2pix).
        ndf: filters in the first conv layer.
        netD: a name in ``DISCRIMINATORS``: ``"basic"`` (70x70 PatchGAN), ``"n_layers"``
            (PatchGAN with ``n_layers_D`` layers) or ``"pixel"`` (1x1 PixelGAN); a ``--netC``
            classifier name (its trunk plus ``head``); ``"fcn"`` or ``"unet_seg"`` (per pixel).
        n_layers_D: stride-2 conv layers, used by ``"n_layers"`` only.
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        init_type: ``"normal"``, ``"xavier"``, ``"kaiming"`` or ``"orthogonal"``.
        init_gain: scale for normal, xavier and orthogonal init.
        head, backbone, backbone_weights, freeze_backbone, backbone_norm, image_size: the backbone
            discriminators' options (``--D_head``, ``--D_backbone``, ``--D_backbone_weights``,
            ``--freeze_D_backbone``, ``--D_backbone_norm``, the training image size); the classic
            names ignore them. See ``backbone_discriminator.build_backbone_discriminator``.

    Returns:
        The discriminator on the CPU: (N, input_nc, H, W) -> (N, 1, H', W') raw logits
        ((N, 1) for ``--D_head global``, a list of two for ``unet_seg``).

    Raises:
        UnknownNameError: for an unknown ``netD``, ``norm`` or ``init_type``; lists the choices.
    """
    factory = DISCRIMINATORS.get(netD)
    norm_layer = get_norm_layer(norm)
    if getattr(factory, "backbone_options", False):
        # Initialises its new head only: the trunk keeps its architecture's (or loaded) weights.
        return factory(input_nc=input_nc, ndf=ndf, n_layers_D=n_layers_D, norm_layer=norm_layer, norm=norm,
                       head=head, backbone=backbone, backbone_weights=backbone_weights,
                       freeze_backbone=freeze_backbone, backbone_norm=backbone_norm, image_size=image_size,
                       init_type=init_type, init_gain=init_gain)
    net = factory(input_nc=input_nc, ndf=ndf, n_layers_D=n_layers_D, norm_layer=norm_layer)
    return init_weights(net, init_type, init_gain)
