"""Which discriminator a recipe builds, as one value: :class:`DiscriminatorSpec`.

``build.py`` makes it from the options (``--netD --ndf --n_layers_D --D_head --D_backbone
--D_backbone_weights --freeze_D_backbone --D_backbone_norm --norm_D``, and ``--crop_size`` as the image size) and
hands it to every recipe with a discriminator, so that recipes neither repeat nor forward these options.
Normalisation and initialisation are the recipe's (``--norm``, ``--init_type`` and ``--init_gain`` apply
to its generator and discriminator alike, as in the classic toolkit), unless ``--norm_D spectral`` replaces
the discriminator's normalisation layers by spectral normalisation.
"""
import dataclasses
from typing import Optional

import torch.nn as nn

from .backbone_discriminator import BACKBONE_DISCRIMINATORS
from .builders import define_D


@dataclasses.dataclass(frozen=True)
class DiscriminatorSpec:
    """The discriminator the user asked for (see ``define_D`` for each field).

    Args:
        netD: a ``--netD`` name: a PatchGAN (basic, n_layers, pixel) or a backbone (resnet18, fcn, ...).
        ndf: filters in the first conv layer.
        n_layers_D: stride-2 conv layers of ``n_layers``.
        head, backbone, backbone_weights, freeze_backbone, backbone_norm: the backbone discriminators'
            options (``--D_head``, ``--D_backbone``, ``--D_backbone_weights``, ``--freeze_D_backbone``,
            ``--D_backbone_norm``); the PatchGANs ignore them.
        image_size: the training image size, which tells a backbone trunk whether its input is small.
        norm_D: ``auto`` (the recipe's classic normalisation) or ``spectral`` (``--norm_D``: spectral
            normalisation instead of normalisation layers, for every discriminator; see ``define_D``).
    """

    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    head: str = "global"
    backbone: str = "resnet18"
    backbone_weights: Optional[str] = None
    freeze_backbone: bool = False
    backbone_norm: str = "auto"
    image_size: Optional[int] = None
    norm_D: str = "auto"

    @property
    def is_backbone(self) -> bool:
        """Whether ``netD`` names a classifier or segmenter backbone rather than a PatchGAN."""
        return self.netD in BACKBONE_DISCRIMINATORS

    def build(self, input_nc: int, norm: str = "batch", init_type: str = "normal", init_gain: float = 0.02,
              **changes) -> nn.Module:
        """``define_D`` for ``input_nc`` channels with this spec (``changes`` override fields, e.g.
        ``image_size``); returns the initialised discriminator on the CPU."""
        spec = dataclasses.replace(self, **changes) if changes else self
        fields = dataclasses.asdict(spec)
        return define_D(input_nc, fields.pop("ndf"), fields.pop("netD"), fields.pop("n_layers_D"), norm,
                        init_type, init_gain, **fields)
