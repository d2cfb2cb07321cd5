"""``define_G``, ``define_D`` and ``build_from_arch``: networks by name, initialised, on the CPU."""
from typing import Optional, Union

import torch.nn as nn

from ..backbones import build_classifier, build_segmenter
from ..errors import GantoolError
from ..io.arch import (Arch, BackboneArch, ClassifierArch, DCGANGeneratorArch, GeneratorArch, MLPGeneratorArch,
                       arch_from_record)
from .dcgan import DCGANGenerator
from .mlp_gan import MLPGenerator
from .norm import D_NORMS, get_norm_layer, init_weights, spectral_normalise
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


def _backbone(arch: BackboneArch) -> nn.Module:
    """The classifier or segmenter a ``BackboneArch`` describes (the recipes' own construction)."""
    given = {k: v for k, v in (("activation", arch.activation),
                               ("replace_stride_with_dilation", arch.replace_stride_with_dilation)) if v is not None}
    if isinstance(arch, ClassifierArch):
        return build_classifier(arch.netC, arch.input_nc, arch.num_classes, small_input=arch.small_input, **given)
    if arch.netS == "unet":  # the segmenter recipe's names for unet's width and depth
        given.update(base_channels=arch.base_channels, depth=arch.unet_depth)
    else:
        given["small_input"] = arch.small_input
    return build_segmenter(arch.netS, arch.input_nc, arch.num_classes, **given)


def build_from_arch(arch: Union[Arch, dict]) -> nn.Module:
    """Rebuild the (untrained) network that ``arch`` describes (a description or a side file's record), on the CPU."""
    arch = arch_from_record(arch)
    if isinstance(arch, BackboneArch):
        return _backbone(arch)
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
    norm_D: str = "auto",
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
        norm_D: ``"auto"``: normalised by ``norm`` (the classic discriminator, the classic keys); ``"spectral"``
            (``--norm_D spectral``): no normalisation layers, spectral normalisation on every conv and linear
            layer instead (``norm.spectral_normalise``), a bias on every conv; for a backbone it is
            ``backbone_norm="spectral"``. Its keys differ from the classic ones (``model.0.parametrizations.
            weight.original``...).

    Returns:
        The discriminator on the CPU: (N, input_nc, H, W) -> (N, 1, H', W') raw logits
        ((N, 1) for ``--D_head global``, a list of two for ``unet_seg``).

    Raises:
        UnknownNameError: for an unknown ``netD``, ``norm`` or ``init_type``; lists the choices.
        GantoolError: for an unknown ``norm_D``, or ``norm_D="spectral"`` with another explicit ``backbone_norm``.
    """
    factory = DISCRIMINATORS.get(netD)
    norm_layer = get_norm_layer(norm)
    check_norm_D(norm_D)
    spectral = norm_D == "spectral"
    if getattr(factory, "backbone_options", False):
        if spectral and backbone_norm not in ("auto", "spectral"):
            raise GantoolError(f"--norm_D spectral and --D_backbone_norm {backbone_norm} contradict each other; "
                               "drop one of them")
        backbone_norm = "spectral" if spectral else backbone_norm
        # Initialises its new head only: the trunk keeps its architecture's (or loaded) weights.
        return factory(input_nc=input_nc, ndf=ndf, n_layers_D=n_layers_D, norm_layer=norm_layer, norm=norm,
                       head=head, backbone=backbone, backbone_weights=backbone_weights,
                       freeze_backbone=freeze_backbone, backbone_norm=backbone_norm, image_size=image_size,
                       init_type=init_type, init_gain=init_gain)
    if spectral:
        # The InstanceNorm layout gives every conv a bias (no norm follows it any more); the norms then go.
        norm_layer = get_norm_layer("instance")
    net = factory(input_nc=input_nc, ndf=ndf, n_layers_D=n_layers_D, norm_layer=norm_layer)
    net = init_weights(net, init_type, init_gain)
    return spectral_normalise(net) if spectral else net


def check_norm_D(norm_D: str) -> None:
    """Raise one line listing the choices for an unknown ``--norm_D`` value."""
    if norm_D not in D_NORMS:
        raise GantoolError(f"unknown --norm_D '{norm_D}'; choose from: {', '.join(D_NORMS)}")
