"""The classic fully connected GAN (Goodfellow et al. 2014; PyTorch-GAN ``gan.py``) on the shared trainer."""
from typing import Optional, Tuple

import torch.nn as nn

from ..networks.mlp_gan import DEFAULT_ACTIVATION, MLPDiscriminator, MLPGenerator
from ..ops.activations import ACTIVATIONS
from .base import MODELS
from .unconditional import UnconditionalGAN

#: PyTorch-GAN ``implementations/gan/gan.py``'s argparse defaults, under gantool's option names (``n_cpu`` is
#: ``--num_threads``, ``b1/b2`` are ``--beta1/--beta2``, ``channels`` is ``--input_nc``), its constant learning
#: rate (no decay epochs), its 5x5 grid of 25 samples and its generator-then-discriminator update order
PYTORCH_GAN = {"n_epochs": 100, "n_epochs_decay": 0, "batch_size": 128, "lr": 0.0002, "beta1": 0.5,
               "beta2": 0.999, "num_threads": 8, "latent_dim": 100, "img_size": 28, "input_nc": 1,
               "sample_interval": 400, "sample_grid": 25, "update_order": "G_first", "gan_mode": "vanilla"}


@MODELS.register("gan", "MLP GAN")
class GAN(UnconditionalGAN):
    """MLP generator (latent -> 128 -> 256 -> 512 -> 1024 -> C*H*W) against an MLP discriminator
    (C*H*W -> 512 -> 256 -> 1), BCE on logits, Adam 2e-4 (0.5, 0.999), 28x28 by default.

    Options and batches: see ``UnconditionalGAN``. The networks keep PyTorch's default
    initialisation, as the reference script does.
    """

    default_img_size = 28
    presets = {"pytorch_gan": PYTORCH_GAN}

    @classmethod
    def add_options(cls, parser, is_train: bool) -> None:
        super().add_options(parser, is_train)
        parser.add_argument("--activation", default=DEFAULT_ACTIVATION, choices=ACTIVATIONS,
                            help="hidden layers' activation of G and D (leaky_relu: slope 0.2, the reference)")

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # The built-in digits (12000 images): see README for the measured time and result. lr 4e-4: chosen by
        # scripts/demo_study.py at equal time (README, "How the demo settings were chosen").
        return {"n_epochs": 30, "n_epochs_decay": 10, "sample_interval": 150, "lr": 0.0004} if is_train else {}

    def build_networks(self, is_train: bool) -> Tuple[nn.Module, Optional[nn.Module]]:
        G = MLPGenerator(self.latent_dim, self.input_nc, self.img_size, self.activation)
        D = MLPDiscriminator(self.input_nc, self.img_size, self.activation) if is_train else None
        return G, D
