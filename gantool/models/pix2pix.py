"""pix2pix (Isola et al. 2017): a U-Net generator and a conditional PatchGAN, adversarial + L1 loss."""
import argparse
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from ..errors import GantoolError
from ..losses import GANLoss
from ..networks import DiscriminatorSpec, define_G
from .base import MODELS, Recipe, Update
from .pool import ImagePool

# The demo on the built-in 64x64 dataset (no --dataroot): a U-Net whose 6 downsamplings fit 64x64, for
# 4 + 4 epochs of 200 pairs (time and quality: README). The dataset's own demo defaults (64x64, ngf 32,
# ndf 32) apply underneath: ngf 64's 512-channel layers are many times slower on a CPU for a demo.
# Explicit options still win.
_DEMO_NETWORK = {"netG": "unet_64"}
# DiffAugment: chosen by scripts/demo_study.py at equal time (README, "How the demo settings were chosen").
_DEMO_TRAINING = {"n_epochs": 4, "n_epochs_decay": 4, "diffaug": "translation,cutout"}


@MODELS.register("pix2pix", "paired A -> B")
class Pix2Pix(Recipe):
    """Paired translation A -> B.

    G: A -> B (``unet_256`` by default; any registered generator, any image size). D judges the
    pair (A, B) concatenated on channels, so it has ``input_nc + output_nc`` input channels and
    learns whether B fits A. G minimises ``GAN(D(A, G(A)), real) + lambda_L1 * |G(A) - B|``;
    its noise is dropout, kept on at test time as in the classic toolkit.
    Batches hold 'A' (N, input_nc, H, W) and 'B' (N, output_nc, H, W) in [-1, 1].
    """

    loss_names = ["G_GAN", "G_L1", "D_real", "D_fake"]
    visual_names = ["real_A", "fake_B", "real_B"]
    # In aligned data B is the true translation of A.
    metric_pairs = [("fake_B", "real_B")]
    distribution_pairs = [("fake_B", "real_B")]

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.set_defaults(norm="batch", netG="unet_256", dataset_mode="aligned")
        if is_train:
            parser.set_defaults(pool_size=0, gan_mode="vanilla")
            parser.add_argument("--lambda_L1", type=float, default=100.0, help="weight of the L1 loss |G(A) - B|")

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        return {**_DEMO_NETWORK, **(_DEMO_TRAINING if is_train else {})}

    @staticmethod
    def check_channels(input_nc: int, output_nc: int) -> None:
        """Reject channel counts this recipe cannot show as images."""
        if output_nc not in (1, 3):
            raise GantoolError(f"--model pix2pix writes 1- or 3-channel images, not --output_nc {output_nc}; "
                               "for L -> ab use --model colorization")

    def __init__(self, device: torch.device, is_train: bool, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 netG: str = "unet_256", norm: str = "batch", no_dropout: bool = False, init_type: str = "normal",
                 init_gain: float = 0.02, gan_mode: str = "vanilla", pool_size: int = 0, lr: float = 2e-4,
                 beta1: float = 0.5, beta2: float = 0.999, lambda_L1: float = 100.0, lambda_gp: float = 10.0,
                 lambda_r1: float = 0.0, r1_every: int = 16, seed: int = 0,
                 discriminator: DiscriminatorSpec = DiscriminatorSpec()):
        super().__init__(device, is_train)
        self.check_channels(input_nc, output_nc)
        self.networks["G"] = define_G(input_nc, output_nc, ngf, netG, norm, not no_dropout, init_type,
                                      init_gain).to(device)
        if not is_train:
            return
        # Conditional D: it sees the input next to the (real or generated) output.
        self.networks["D"] = discriminator.build(input_nc + output_nc, norm, init_type, init_gain).to(device)
        self.gan_loss = GANLoss(gan_mode, lambda_r1=lambda_r1, r1_every=r1_every).to(device)
        self.lambda_gp, self.lambda_L1 = lambda_gp, lambda_L1
        self.pool = ImagePool(pool_size, seed=seed)  # 0 (the default): D sees the current fake only
        self.make_optimizer("G", self.networks["G"].parameters(), lr, (beta1, beta2))
        self.make_optimizer("D", self.networks["D"].parameters(), lr, (beta1, beta2))

    def networks_to_load(self):
        return ["G"]  # published pix2pix models are latest_net_G.pth alone

    def make_visuals(self, real_A: Tensor, fake_B: Tensor, real_B: Optional[Tensor]) -> Dict[str, Tensor]:
        """The pictures to show and save for one batch (subclasses convert them, e.g. Lab to RGB).

        ``real_B`` is None when the test data has inputs only (``--dataset_mode single``).
        """
        visuals = {"real_A": real_A, "fake_B": fake_B}
        if real_B is not None:
            visuals["real_B"] = real_B
        return visuals

    def passes_to_compile(self) -> List[str]:
        # The penalties (WGAN-GP, R1: double backward) run eagerly in training_step, outside these passes.
        return ["generate", "discriminator_losses", "generator_losses"]

    def generate(self, real_A: Tensor) -> Tensor:
        """G(A) at any H, W (padded to G's size multiple and cropped back): (N, C_out, H, W)."""
        return self.translate(self.networks["G"], real_A)

    def discriminator_losses(self, real_AB: Tensor, fake_AB: Tensor) -> Tuple[Tensor, Tensor]:
        """D's losses on a (pooled, detached) fake pair and on the real pair: ``(loss_D_fake, loss_D_real)``."""
        D = self.networks["D"]
        return self.gan_loss(D(fake_AB), False), self.gan_loss(D(real_AB), True)

    def generator_losses(self, fake_AB: Tensor, fake_B: Tensor, real_B: Tensor) -> Tuple[Tensor, Tensor]:
        """G's losses: fool D (frozen), and stay close to the true B: ``(loss_G_GAN, loss_G_L1)``."""
        loss_G_GAN = self.gan_loss(self.networks["D"](fake_AB), True, for_discriminator=False)
        return loss_G_GAN, torch.nn.functional.l1_loss(fake_B.float(), real_B.float()) * self.lambda_L1

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        D = self.networks["D"]
        real_A, real_B = batch["A"], batch["B"]  # (N, C_in, H, W), (N, C_out, H, W)
        fake_B = self.generate(real_A)
        real_AB = torch.cat([real_A, real_B], 1)  # (N, C_in + C_out, H, W)
        fake_AB = torch.cat([real_A, fake_B], 1)

        # Discriminator first (classic order), on a detached fake so G gets no gradient from it.
        self.set_requires_grad([D], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        pooled = self.pool.query(fake_AB.detach())
        loss_D_fake, loss_D_real = self.discriminator_losses(real_AB, pooled)
        loss_D = 0.5 * (loss_D_fake + loss_D_real)  # halved so D learns slower than G
        penalty = self.gan_loss.penalty(D, real_AB, pooled, self.lambda_gp)
        if penalty is not None:
            loss_D = loss_D + penalty
        update("D", loss_D)

        # Generator: fool D, and stay close to the true B.
        self.set_requires_grad([D], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_G_GAN, loss_G_L1 = self.generator_losses(fake_AB, fake_B, real_B)
        update("G", loss_G_GAN + loss_G_L1)

        with torch.no_grad():
            self.last_visuals = {k: v.detach() for k, v in self.make_visuals(real_A, fake_B, real_B).items()}
        losses = {"G_GAN": loss_G_GAN, "G_L1": loss_G_L1, "D_real": loss_D_real, "D_fake": loss_D_fake}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        real_A = batch["A"]
        # Aligned data carries the true B; a single folder may have it as 'truth' (a <folder>_truth sibling).
        real_B = batch["B"] if "B" in batch else batch.get("truth")
        return self.make_visuals(real_A, self.translate(self.networks["G"], real_A), real_B)

    def extra_state(self) -> dict:
        return {"pool": self.pool.state_dict(), "gan_loss": self.gan_loss.r1_state()} if self.is_train else {}

    def load_extra_state(self, state: dict) -> None:
        if "pool" in state:
            self.pool.load_state_dict(state["pool"], self.device)
        if "gan_loss" in state:  # R1's lazy schedule (states saved before it lack it)
            self.gan_loss.load_r1_state(state["gan_loss"])
