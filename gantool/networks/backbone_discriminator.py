"""Discriminators built from the classifier and segmenter backbones: ``--netD lenet | alexnet | vgg16 |
nin | googlenet | resnet18 | densenet121 | ...`` (a trunk plus a real/fake head), ``--netD fcn`` and
``--netD unet_seg`` (one logit per pixel).

As torchvision's ``segmentation/fcn.py`` holds its backbone, each discriminator here receives its
trunk module by composition (``self.backbone``), so a trunk's keys are the backbone's keys under
``backbone.`` and a pretrained trunk loads unchanged (``--D_backbone_weights``).
"""
import math
from typing import List, Optional

import torch
import torch.nn as nn

from ..backbones import CLASSIFIERS, FCN, UNet
from ..errors import GantoolError
from ..ops.padding import crop_to, pad_to_multiple
from .norm import NormLayer, init_weights, spectral_normalise
from .registry import DISCRIMINATORS
from .trunk import BACKBONE_NORMS, classifier_trunk, freeze, load_trunk_weights, set_trunk_norm

#: every ``--netC`` name: each is also a ``--netD``
CLASSIFIER_NAMES = tuple(CLASSIFIERS)
#: the per-pixel discriminators
SEGMENTER_NAMES = ("fcn", "unet_seg")
BACKBONE_DISCRIMINATORS = CLASSIFIER_NAMES + SEGMENTER_NAMES
D_HEADS = ("global", "patch")
#: images smaller than this (``image_size``) get the small-input stems: a 32x32 image would leave a
#: 32x-downsampling trunk as one pixel, which InstanceNorm (and BatchNorm on a batch of one) cannot take
SMALL_INPUT_BELOW = 128


class BackboneDiscriminator(nn.Module):
    """A classifier trunk with a real/fake head.

    Args:
        backbone: the trunk, (N, C, H, W) -> (N, backbone_channels, h, w) (a classifier's ``features``).
        backbone_channels: channels of the trunk output.
        head: ``global`` (average pooling and a linear layer: one logit per image) or ``patch``
            (a 3x3 convolution: one logit per trunk position, like a PatchGAN).

    Shapes: (N, C, H, W) -> (N, 1) for ``global``; (N, 1, h, w) for ``patch``.
    """

    def __init__(self, backbone: nn.Module, backbone_channels: int, head: str = "global"):
        if head not in D_HEADS:
            raise GantoolError(f"unknown --D_head '{head}'; choose from: {', '.join(D_HEADS)}")
        super().__init__()
        self.backbone = backbone
        if head == "global":
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(backbone_channels, 1))
        else:
            self.head = nn.Conv2d(backbone_channels, 1, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))  # (N, C', h, w) -> (N, 1) or (N, 1, h, w)


class UNetDiscriminator(nn.Module):
    """The U-Net discriminator (Schönfeld et al. 2020): the encoder's bottom map gives one logit per
    image, the decoder one logit per pixel. ``GANLoss`` and ``gradient_penalty`` take the list and
    average (sum) its two terms, so both outputs train.

    Args:
        unet: a ``gantool.backbones.UNet`` with one output class, held as ``self.backbone``.

    Shapes: (N, C, H, W), any H and W -> ``[(N, 1), (N, 1, H, W)]``.
    """

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.backbone = unet
        self.global_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(unet.trunk_channels, 1))

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        unet = self.backbone
        x, size = pad_to_multiple(x, unet.pad_multiple)  # (N, C, H', W'), multiples of 2 ** depth
        skips = []
        for level in unet.encoder:
            x = level(x)
            skips.append(x)
        x = skips.pop()  # the bottom: (N, trunk_channels, H' / 2 ** depth, W' / 2 ** depth)
        per_image = self.global_head(x)  # (N, 1)
        for up in unet.decoder:
            x = up(x, skips.pop())
        return [per_image, crop_to(unet.classifier(x), size)]  # (N, 1), (N, 1, H, W)


def _small_input(image_size: Optional[int]) -> bool:
    return image_size is not None and image_size < SMALL_INPUT_BELOW


def _resolve_norm(backbone_norm: str, norm: str) -> str:
    if backbone_norm not in BACKBONE_NORMS:
        raise GantoolError(f"unknown --D_backbone_norm '{backbone_norm}'; choose from: {', '.join(BACKBONE_NORMS)}")
    if backbone_norm == "auto":
        return "batch" if norm == "syncbatch" else norm  # SyncBatchNorm is converted from BatchNorm later
    return backbone_norm


def build_backbone_discriminator(netD: str, input_nc: int, ndf: int = 64, norm: str = "batch", head: str = "global",
                                 backbone: str = "resnet18", backbone_weights: Optional[str] = None,
                                 freeze_backbone: bool = False, backbone_norm: str = "auto",
                                 image_size: Optional[int] = None, init_type: str = "normal",
                                 init_gain: float = 0.02) -> nn.Module:
    """Build a backbone discriminator (``define_D`` calls this for the names in ``BACKBONE_DISCRIMINATORS``).

    Order: build the trunk, load ``backbone_weights``, change its normalisation, freeze it, add the
    head. The trunk keeps its Kaiming (or loaded) weights; only the new head gets ``init_type``.

    Args:
        netD: a ``--netC`` name (trunk + ``head``), ``fcn`` (FCN-32s on the ``backbone`` trunk, one
            logit per pixel) or ``unet_seg`` (the U-Net discriminator, ``ndf`` channels at the top).
        input_nc: channels of the discriminator input.
        ndf: width of ``unet_seg``; the classifier trunks have their architecture's fixed widths.
        norm: the recipe's ``--norm``, which ``backbone_norm="auto"`` follows.
        head: ``global`` or ``patch`` (``--D_head``; classifier trunks only).
        backbone: the ``--netC`` trunk of ``fcn`` (``--D_backbone``).
        backbone_weights: a state-dict file for the trunk (``--D_backbone_weights``): torchvision's
            classifier files, gantool ``--model classifier`` / ``segmenter`` files (``latest_net_C.pth``,
            ``latest_net_S.pth``).
        freeze_backbone: keep the trunk fixed (``--freeze_D_backbone``).
        backbone_norm: ``auto``, ``batch``, ``instance``, ``spectral`` or ``none`` (``--D_backbone_norm``).
        image_size: the training image size; below 128 the trunks use their small-input stems.
        init_type, init_gain: initialisation of the head.

    Returns:
        The discriminator on the CPU, (N, input_nc, H, W) -> raw logits, a tensor or (unet_seg) a list.
    """
    mode = _resolve_norm(backbone_norm, norm)
    if netD == "unet_seg":
        # One level fewer per halving below 64 px keeps the bottom map at 2x2 or more.
        depth = 4 if image_size is None else max(1, min(4, int(math.log2(max(image_size, 2))) - 2))
        full = UNet(input_nc, 1, base_channels=ndf, depth=depth)
        trunk: nn.Module = nn.ModuleDict({"encoder": full.encoder, "decoder": full.decoder})
        if backbone_weights:
            load_trunk_weights(full, trunk, backbone_weights, netD)
        set_trunk_norm(trunk, mode)
        if freeze_backbone:
            freeze(trunk)
        net: nn.Module = UNetDiscriminator(full)
        heads = [full.classifier, net.global_head]
    else:
        name = backbone if netD == "fcn" else netD
        if name not in CLASSIFIER_NAMES:
            raise GantoolError(f"unknown --D_backbone '{name}'; choose from: {', '.join(CLASSIFIER_NAMES)}")
        full, trunk, channels, stride = classifier_trunk(name, input_nc, _small_input(image_size))
        if backbone_weights:
            load_trunk_weights(full, trunk, backbone_weights, name)
        set_trunk_norm(trunk, mode)
        if freeze_backbone:
            freeze(trunk)
        if netD == "fcn":
            net = FCN(trunk, channels, 1, stride)  # the upsampling keeps its bilinear start
            heads = [net.classifier]
        else:
            net = BackboneDiscriminator(trunk, channels, head)
            heads = [net.head]
    for h in heads:
        init_weights(h, init_type, init_gain)
        if mode == "spectral":
            spectral_normalise(h)
    return net


def _factory(netD: str):
    def factory(input_nc: int, ndf: int, n_layers_D: int, norm_layer: NormLayer, **options) -> nn.Module:
        return build_backbone_discriminator(netD, input_nc, ndf, **options)

    factory.__doc__ = f"``--netD {netD}``: see ``build_backbone_discriminator`` (``n_layers_D`` is ignored)."
    factory.backbone_options = True  # define_D passes the --D_* options and lets it initialise itself
    return factory


for _name in BACKBONE_DISCRIMINATORS:
    DISCRIMINATORS.register(_name, "per pixel" if _name in SEGMENTER_NAMES else "")(_factory(_name))
