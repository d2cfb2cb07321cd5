"""DCGAN (Radford et al. 2016; pytorch/examples ``dcgan``) on the shared trainer, for any power-of-two size."""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from ..losses import GAN_MODES
from ..networks import DiscriminatorSpec
from ..networks.dcgan import define_dcgan
from .base import MODELS
from .unconditional import UnconditionalGAN


@MODELS.register("dcgan", "DCGAN")
class DCGAN(UnconditionalGAN):
    """Transposed-convolution generator against a strided-convolution discriminator, BatchNorm in both
    (none in a wgangp critic), weights N(0, 0.02), Adam 2e-4 (0.5, 0.999).

    Args (beyond ``UnconditionalGAN``'s):
        ngf, ndf: generator / discriminator widths (``--ngf``, ``--ndf``; default 64 from 64x64 up, else 32).
        init_type, init_gain: weight initialisation (``--init_type normal --init_gain 0.02`` is DCGAN's).

    ``--img_size`` is a power of two from 16 to 256; batches: see ``UnconditionalGAN``.
    """

    default_img_size = 32

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # The built-in digits at 32x32: see README for the measured time and result. lr 4e-4: chosen by
        # scripts/demo_study.py at equal time (README, "How the demo settings were chosen").
        return {"n_epochs": 4, "n_epochs_decay": 2, "sample_interval": 100, "lr": 0.0004} if is_train else {}

    @staticmethod
    def derived_defaults(opt, is_train: bool) -> dict:
        # pytorch/examples' widths (64) from 64x64 up; half below, where 64 costs far more time for
        # little gain. A function of --img_size only, so test.py rebuilds the trained network.
        width = 64 if opt.img_size >= 64 else 32
        return {**UnconditionalGAN.derived_defaults(opt, is_train), "ngf": width, "ndf": width}

    def __init__(self, device: torch.device, is_train: bool, latent_dim: int = 100, img_size: int = 32,
                 crop_size: int = 32, input_nc: int = 1, ngf: int = 64, init_type: str = "normal",
                 init_gain: float = 0.02, gan_mode: str = "vanilla", lambda_gp: float = 10.0,
                 n_critic: Optional[int] = 1, lr: float = 2e-4, beta1: float = 0.5, beta2: float = 0.999,
                 seed: int = 0, discriminator: DiscriminatorSpec = DiscriminatorSpec(), lambda_r1: float = 0.0,
                 r1_every: int = 16):
        self.ngf, self.ndf, self.init_type, self.init_gain = ngf, discriminator.ndf, init_type, init_gain
        # WGAN-GP penalises each sample's gradient; BatchNorm would couple the samples (Gulrajani et al., sec. 4).
        self.d_norm = GAN_MODES.get(gan_mode).critic_norm("batch")
        if discriminator.norm_D == "spectral":
            self.d_norm = "spectral"  # no BatchNorm; a bias and spectral normalisation on every conv
        super().__init__(device, is_train, latent_dim, img_size, crop_size, input_nc, gan_mode, lambda_gp,
                         n_critic, lr, beta1, beta2, seed, discriminator=discriminator, lambda_r1=lambda_r1,
                         r1_every=r1_every)

    def build_networks(self, is_train: bool) -> Tuple[nn.Module, Optional[nn.Module]]:
        G, D = define_dcgan(self.latent_dim, self.input_nc, self.img_size, self.ngf, self.ndf, self.d_norm,
                            self.init_type, self.init_gain, with_discriminator=is_train)
        return G, D
