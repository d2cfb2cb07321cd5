"""What the unconditional GANs (``gan``, ``dcgan``) share: options, the noise-to-image training step,
fixed-noise sample grids and the samples that ``test.py`` writes.

A subclass only says which generator and discriminator to build (``build_networks``).
"""
import argparse
import math
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..losses import GAN_MODES, GANLoss
from ..networks import DiscriminatorSpec, spectral_normalise
from ..viz.images import make_grid_image
from .base import Recipe, Update

GRID_SIZE = 64  # images in a sample grid (8 x 8) unless --sample_grid says otherwise
UPDATE_ORDERS = ("D_first", "G_first")
MAX_GRID = 1024  # a grid is one image: more samples belong in test.py --num_test
TEST_BATCH = 64  # test.py generates in batches like training, so BatchNorm sees batch statistics


class UnconditionalGAN(Recipe):
    """Noise z ~ N(0, I) -> generator G -> images; discriminator D judges real ('A') against G(z).

    Every ``--gan_mode`` works: vanilla (BCE on logits) and lsgan halve D's loss over real + fake
    like the reference scripts; wgangp adds the gradient penalty (``--lambda_gp``) and, by
    default, trains G once per ``--n_critic 5`` D steps; hinge uses its margin losses.

    Args:
        device, is_train: see ``Recipe``.
        latent_dim: length of z.
        img_size: image height and width (``--img_size``; batches must arrive at this size).
        crop_size: the size batches arrive at; must equal ``img_size``.
        input_nc: image channels.
        gan_mode, lambda_gp, n_critic: the adversarial objective and its settings.
        lambda_r1, r1_every: the lazy R1 penalty on real images (``GANLoss``); 0: none.
        discriminator: the ``--netD`` spec (see ``networks.spec``); a backbone there replaces the recipe's
            own discriminator, ``ndf`` is DCGAN's discriminator width, and ``norm_D="spectral"`` puts spectral
            normalisation on the recipe's own discriminator instead of its normalisation layers.
        lr, beta1, beta2: Adam settings for both networks.
        seed: selects the fixed noise behind the training grids and the test samples.
        sample_grid: samples in each training grid (``ceil(sqrt(N))`` a row: 64 -> 8x8, 25 -> 5x5).
        update_order: ``"D_first"`` (the pytorch examples) or ``"G_first"``: G steps before D in each batch, D
            then judging the images G made before its step (PyTorch-GAN's order).
        activation: the hidden layers' activation of the MLP GAN (``gan``; ignored by ``dcgan``).

    Batches: 'A' (N, input_nc, img_size, img_size) real images in [-1, 1].
    """

    loss_names = ["D", "G"]
    visual_names = ["samples", "real"]
    grid_visuals = ["fake"]  # test.py also tiles its samples into grid_fake.png
    distribution_pairs = [("fake", "real")]  # samples against the dataset's real images
    default_img_size = 28

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.add_argument("--latent_dim", type=int, default=100, help="length of the noise vector z")
        parser.add_argument("--img_size", type=int, default=cls.default_img_size,
                            help="image height and width; also the default --load_size and --crop_size")
        parser.add_argument("--sample_grid", type=int, default=GRID_SIZE,
                            help="samples in each grid, ceil(sqrt(N)) a row (64: 8x8, 25: 5x5); test.py's "
                                 "default --num_test")
        if cls.presets:
            parser.add_argument("--preset", default=None, choices=sorted(cls.presets),
                                help="the defaults of a reference listing (see README); explicit options win")
        parser.set_defaults(dataset_mode="digits", batch_size=64, gan_mode="vanilla", no_flip=True)
        if is_train:
            parser.add_argument("--sample_interval", type=int, default=400,
                                help="batches between sample grids (sets --display_freq and --update_html_freq)")
            parser.add_argument("--n_critic", type=int, default=None,
                                help="discriminator steps per generator step (default: 5 for wgangp, else 1)")
            parser.add_argument("--update_order", default="D_first", choices=UPDATE_ORDERS,
                                help="which network steps first in each batch: D_first (pytorch examples) or "
                                     "G_first (PyTorch-GAN)")
            parser.set_defaults(n_epochs=200, n_epochs_decay=0)

    @staticmethod
    def derived_defaults(opt: argparse.Namespace, is_train: bool) -> dict:
        defaults = {"load_size": opt.img_size, "crop_size": opt.img_size}
        if not 2 <= opt.sample_grid <= MAX_GRID:
            raise GantoolError(f"--sample_grid must be between 2 and {MAX_GRID} samples, got {opt.sample_grid}")
        if not is_train:
            defaults["num_test"] = opt.sample_grid
        if is_train:
            images = max(opt.sample_interval, 1) * opt.batch_size  # the trainer counts images
            defaults.update(display_freq=images, update_html_freq=images, print_freq=100 * opt.batch_size,
                            save_latest_freq=1000 * opt.batch_size,
                            n_critic=GAN_MODES.get(opt.gan_mode).critic_steps)
        return defaults

    def __init__(self, device: torch.device, is_train: bool, latent_dim: int = 100, img_size: int = 28,
                 crop_size: int = 28, input_nc: int = 1, gan_mode: str = "vanilla", lambda_gp: float = 10.0,
                 n_critic: Optional[int] = 1, lr: float = 2e-4, beta1: float = 0.5, beta2: float = 0.999,
                 seed: int = 0, discriminator: DiscriminatorSpec = DiscriminatorSpec(), lambda_r1: float = 0.0,
                 r1_every: int = 16, sample_grid: int = GRID_SIZE, update_order: str = "D_first",
                 activation: str = "leaky_relu"):
        super().__init__(device, is_train)
        if latent_dim <= 0 or img_size <= 0:
            raise GantoolError(f"--latent_dim and --img_size must be positive, got {latent_dim} and {img_size}")
        if crop_size != img_size:
            raise GantoolError(f"--crop_size {crop_size} differs from --img_size {img_size}: these models train at "
                               f"--img_size (which also sets --load_size and --crop_size)")
        if not 2 <= sample_grid <= MAX_GRID:
            raise GantoolError(f"--sample_grid must be between 2 and {MAX_GRID} samples, got {sample_grid}")
        if update_order not in UPDATE_ORDERS:
            raise GantoolError(f"--update_order must be one of {', '.join(UPDATE_ORDERS)}, got '{update_order}'")
        self.latent_dim, self.img_size, self.input_nc, self.seed = latent_dim, img_size, input_nc, seed
        self.sample_grid, self.G_first, self.activation = sample_grid, update_order == "G_first", activation
        G, D = self.build_networks(is_train)
        if is_train and discriminator.is_backbone:
            # --netD naming a backbone (resnet18, unet_seg...) replaces the recipe's own D; the classic names
            # keep it. BatchNorm as in DCGAN, none for WGAN-GP (its per-sample penalty), unless --D_backbone_norm.
            D = discriminator.build(input_nc, norm=GAN_MODES.get(gan_mode).critic_norm("batch"), image_size=img_size)
        elif is_train and discriminator.norm_D == "spectral":
            # --norm_D spectral on the recipe's own D (the MLP's linear layers; DCGAN's convs have it already).
            D = spectral_normalise(D)
        self.networks["G"] = G.to(device)
        # The fixed noise behind every training grid: kept in the training state, so a resume shows the same z.
        self.fixed_z = torch.randn(sample_grid, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        self._last_real: Optional[Tensor] = None
        if not is_train:
            return
        n_critic = 1 if n_critic is None else n_critic
        if n_critic < 1:
            raise GantoolError(f"--n_critic must be 1 or more, got {n_critic}")
        self.networks["D"] = D.to(device)
        self.gan_loss = GANLoss(gan_mode, lambda_r1=lambda_r1, r1_every=r1_every).to(device)
        self.lambda_gp, self.n_critic = lambda_gp, n_critic
        self.make_optimizer("G", G.parameters(), lr, (beta1, beta2))
        self.make_optimizer("D", D.parameters(), lr, (beta1, beta2))
        self.step = 0
        self.last_G = torch.zeros((), device=device)

    def build_networks(self, is_train: bool) -> Tuple[nn.Module, Optional[nn.Module]]:
        """Return (generator, discriminator or None when not training)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- training
    def passes_to_compile(self) -> List[str]:
        return ["generate", "discriminator_losses", "generator_loss"]

    def generate(self, z: Tensor) -> Tensor:
        """G(z): (N, latent_dim) noise -> (N, C, H, W) images."""
        return self.networks["G"](z)

    def discriminator_losses(self, real: Tensor, fake: Tensor) -> Tuple[Tensor, Tensor]:
        """D's losses on real and on (detached) fake images: ``(loss_real, loss_fake)``."""
        D = self.networks["D"]
        return self.gan_loss(D(real), True), self.gan_loss(D(fake), False)

    def generator_loss(self, fake: Tensor) -> Tensor:
        """G's loss: D (frozen) should judge ``fake`` real."""
        return self.gan_loss(self.networks["D"](fake), True, for_discriminator=False)

    def _discriminator_loss(self, real: Tensor, fake: Tensor) -> Tuple[Tensor, Tensor]:
        D = self.networks["D"]
        loss_real, loss_fake = self.discriminator_losses(real, fake)
        # Label losses are halved as in the reference scripts, so D does not outpace G.
        loss = 0.5 * (loss_real + loss_fake) if self.gan_loss.objective.label_loss else loss_real + loss_fake
        penalty = self.gan_loss.penalty(D, real, fake, self.lambda_gp)  # WGAN-GP, R1 (eager: double backward)
        if penalty is None:
            return loss, real.new_zeros(())
        return loss + penalty, penalty.detach()

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        D = self.networks["D"]
        real = batch["A"]  # (N, C, H, W)
        expected = (self.input_nc, self.img_size, self.img_size)
        if tuple(real.shape[1:]) != expected:
            raise GantoolError(f"batches are {tuple(real.shape[1:])} but the networks expect {expected}; "
                               f"check --input_nc and --img_size")
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)  # (N, latent_dim)
        g_step = self.step % self.n_critic == 0
        with torch.set_grad_enabled(g_step):  # no graph through G on critic-only steps
            fake = self.generate(z)  # (N, C, H, W)
        if g_step and self.G_first:
            self._generator_update(fake, update)  # D then judges these same images, made before G's step
        self.set_requires_grad([D], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        loss_D, penalty = self._discriminator_loss(real, fake.detach())
        update("D", loss_D)
        if g_step and not self.G_first:
            self._generator_update(fake, update)
        self.step += 1
        self._last_real = real.detach()[:self.sample_grid]
        losses = {"D": loss_D.detach(), "G": self.last_G}
        if self.gan_loss.objective.gradient_penalty:
            losses["gp"] = penalty
        return losses

    def _generator_update(self, fake: Tensor, update: Update) -> None:
        self.set_requires_grad([self.networks["D"]], False)  # G's loss must not leave gradients in D
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_G = self.generator_loss(fake)
        update("G", loss_G)
        self.last_G = loss_G.detach()

    @torch.no_grad()
    def sample(self, z: Tensor) -> Tensor:
        """G(z) for (N, latent_dim) noise, with BatchNorm as the networks are set (train: batch statistics),
        without moving the running averages that the checkpoint keeps. Returns (N, C, H, W)."""
        G = self.networks["G"]
        saved = [b.clone() for b in G.buffers()]
        images = G(z.to(self.device))
        for buffer, value in zip(G.buffers(), saved):
            buffer.copy_(value)
        return images

    def visuals(self) -> Dict[str, object]:
        """Grids (``ceil(sqrt(sample_grid))`` a row) of G(fixed noise) and of the last real batch, drawn when the
        trainer asks."""
        ncols = math.ceil(math.sqrt(self.sample_grid))
        grids = {"samples": make_grid_image(self.sample(self.fixed_z), ncols=ncols)}
        if self._last_real is not None:
            grids["real"] = make_grid_image(self._last_real, ncols=ncols)
        return grids

    def extra_state(self) -> dict:
        return {"fixed_z": self.fixed_z.cpu(), "step": self.step, "last_G": self.last_G.cpu(),
                "gan_loss": self.gan_loss.r1_state()}

    def load_extra_state(self, state: dict) -> None:
        if state["fixed_z"].shape == self.fixed_z.shape:  # a new --sample_grid keeps its own seeded noise
            self.fixed_z = state["fixed_z"].to(self.device)
        self.step = int(state["step"])
        self.last_G = state["last_G"].to(self.device)
        if "gan_loss" in state:  # R1's lazy schedule (states saved before it lack it)
            self.gan_loss.load_r1_state(state["gan_loss"])

    # ----------------------------------------------------------------- testing
    def test_batches(self, num_test: float) -> List[Dict[str, object]]:
        """``num_test`` noise vectors from ``--seed`` in batches of up to 64 (the same seed, the same samples)."""
        if not math.isfinite(num_test):
            raise GantoolError("--num_test must be a number of samples for an unconditional model")
        count = max(int(num_test), 2)  # BatchNorm in train mode needs 2 or more per batch; extras are dropped
        z = torch.randn(count, self.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        n_batches = math.ceil(count / TEST_BATCH)
        bounds = [round(i * count / n_batches) for i in range(n_batches + 1)]  # even sizes: no batch of 1
        return [{"z": z[lo:hi], "A_paths": [f"sample{i:04d}" for i in range(lo, hi)]}
                for lo, hi in zip(bounds, bounds[1:])]

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        return {"fake": self.networks["G"](batch["z"])}  # (N, latent_dim) -> (N, C, H, W)
