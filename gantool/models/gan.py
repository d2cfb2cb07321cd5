"""The classic fully connected GAN (Goodfellow et al. 2014; PyTorch-GAN ``gan.py``) on the shared trainer."""
from typing import Optional, Tuple

import torch.nn as nn

from ..networks.mlp_gan import MLPDiscriminator, MLPGenerator
from .base import MODELS
from .unconditional import UnconditionalGAN


@MODELS.register("gan", "MLP GAN")
class GAN(UnconditionalGAN):
    """MLP generator (latent -> 128 -> 256 -> 512 -> 1024 -> C*H*W) against an MLP discriminator
    (C*H*W -> 512 -> 256 -> 1), BCE on logits, Adam 2e-4 (0.5, 0.999), 28x28 by default.

    Options and batches: see ``UnconditionalGAN``. The networks keep PyTorch's default
    initialisation, as the reference script does.
    """

    default_img_size = 28

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # The built-in digits (12000 images): see README for the measured time and result.
        return {"n_epochs": 30, "n_epochs_decay": 10, "sample_interval": 150} if is_train else {}

    def build_networks(self, is_train: bool) -> Tuple[nn.Module, Optional[nn.Module]]:
        G = MLPGenerator(self.latent_dim, self.input_nc, self.img_size)
        D = MLPDiscriminator(self.input_nc, self.img_size) if is_train else None
        return G, D
