"""CycleGAN (Zhu et al. 2017): two generators, two PatchGAN discriminators, cycle and identity losses."""
import argparse
import itertools
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from ..errors import GantoolError
from ..losses import GANLoss, cycle_loss, identity_loss
from ..networks import DiscriminatorSpec, define_G, mixes_samples
from .base import MODELS, Recipe, Update
from .pool import ImagePool


@MODELS.register("cycle_gan", "unpaired A <-> B")
class CycleGAN(Recipe):
    """Unpaired translation A <-> B.

    G_A: A -> B, G_B: B -> A, D_A judges B images, D_B judges A images. Losses: adversarial
    (``gan_mode``), cycle ``lambda_A * |G_B(G_A(A)) - A| + lambda_B * |G_A(G_B(B)) - B|`` and
    identity ``lambda_identity * (lambda_B * |G_A(B) - B| + lambda_A * |G_B(A) - A|)``.
    Batches hold 'A' (input side) and 'B' (output side), (N, C, H, W) in [-1, 1].
    ``discriminator`` says which D to build (``--netD``, ``--ndf``... as one value, see
    ``networks.spec``); it may name a backbone (``resnet18``, ``unet_seg``...).
    """

    loss_names = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
    metric_pairs = [("fake_B", "truth_B")]
    distribution_pairs = [("fake_B", "real_B"), ("fake_A", "real_A")]

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.set_defaults(no_dropout=True)
        if is_train:
            parser.add_argument("--lambda_A", type=float, default=10.0, help="weight of the cycle loss A -> B -> A")
            parser.add_argument("--lambda_B", type=float, default=10.0, help="weight of the cycle loss B -> A -> B")
            parser.add_argument("--lambda_identity", type=float, default=0.5,
                                help="identity loss weight, relative to lambda_A/B; 0 turns it off")

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # Chosen by scripts/demo_study.py at equal wall-clock (README, "How the demo settings were chosen"):
        # DiffAugment keeps the two discriminators from memorising 200 pictures (SSIM 0.32 -> 0.68), and
        # resize-convolution upsampling removes the transposed convolutions' checkerboard (0.71). Its steps
        # cost 16 % more, so 2 + 1 epochs (600 steps) keep the demo within the old 800 steps' time.
        network = {"netG": "resnet_6blocks_resize"}
        return {**network, "diffaug": "translation,cutout", "n_epochs": 2, "n_epochs_decay": 1} if is_train \
            else network

    def __init__(self, device: torch.device, is_train: bool, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 netG: str = "resnet_9blocks", norm: str = "instance", no_dropout: bool = True,
                 init_type: str = "normal", init_gain: float = 0.02, gan_mode: str = "lsgan", pool_size: int = 50,
                 lr: float = 2e-4, beta1: float = 0.5, beta2: float = 0.999, lambda_A: float = 10.0,
                 lambda_B: float = 10.0, lambda_identity: float = 0.5, lambda_gp: float = 10.0, lambda_r1: float = 0.0,
                 r1_every: int = 16, seed: int = 0, discriminator: DiscriminatorSpec = DiscriminatorSpec()):
        super().__init__(device, is_train)
        g = dict(ngf=ngf, netG=netG, norm=norm, use_dropout=not no_dropout, init_type=init_type, init_gain=init_gain)
        self.networks["G_A"] = define_G(input_nc, output_nc, **g).to(device)
        self.networks["G_B"] = define_G(output_nc, input_nc, **g).to(device)
        self.visual_names = ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]
        if not is_train:
            return
        if lambda_identity > 0 and input_nc != output_nc:
            raise GantoolError(f"the identity loss needs --input_nc == --output_nc (got {input_nc} and {output_nc}); "
                               "pass --lambda_identity 0")
        self.networks["D_A"] = discriminator.build(output_nc, norm, init_type, init_gain).to(device)
        self.networks["D_B"] = discriminator.build(input_nc, norm, init_type, init_gain).to(device)
        self.gan_loss = GANLoss(gan_mode, lambda_r1=lambda_r1, r1_every=r1_every).to(device)
        self.lambda_gp = lambda_gp
        self.lambda_A, self.lambda_B, self.lambda_identity = lambda_A, lambda_B, lambda_identity
        self.pool_A, self.pool_B = ImagePool(pool_size, seed=seed), ImagePool(pool_size, seed=seed + 1)
        G = itertools.chain(self.networks["G_A"].parameters(), self.networks["G_B"].parameters())
        D = itertools.chain(self.networks["D_A"].parameters(), self.networks["D_B"].parameters())
        self.make_optimizer("G", G, lr, (beta1, beta2))
        self.make_optimizer("D", D, lr, (beta1, beta2))
        #: run several inputs through a network in one call (``_generator_passes``); exact only when no
        #: layer mixes the samples of a batch, so off when any network has batch norm
        self.batch_passes = self._can_batch = not any(mixes_samples(net) for net in self.networks.values())
        if lambda_identity > 0:
            self.visual_names = ["real_A", "fake_B", "rec_A", "idt_B", "real_B", "fake_A", "rec_B", "idt_A"]

    def allow_batched_passes(self, allowed: bool) -> None:
        if self.is_train:
            self.batch_passes = allowed and self._can_batch

    def networks_to_load(self):
        return ["G_A", "G_B"]

    def _discriminator_loss(self, netD, real: Tensor, fake: Tensor) -> Tensor:
        if self.batch_passes and real.shape == fake.shape:  # one pass over both: exact without batch norm
            pred_real, pred_fake = _halves(netD(torch.cat([real, fake])), real.shape[0])
        else:
            pred_real, pred_fake = netD(real), netD(fake)
        # 0.5: the classic halving, so D learns slower than G.
        loss = 0.5 * (self.gan_loss(pred_real, True) + self.gan_loss(pred_fake, False))
        penalty = self.gan_loss.penalty(netD, real, fake, self.lambda_gp)
        if penalty is not None:
            loss = loss + penalty
        return loss

    def _generator_passes(self, real_A: Tensor, real_B: Tensor):
        """fake_B, rec_A, fake_A, rec_B and (with the identity loss) idt_A = G_A(B), idt_B = G_B(A).

        Batched, each generator's inputs go through it in as few calls as the data dependencies allow
        (G_A: A and B; G_B: B, A and G_A(A); G_A: G_B(B)): three calls instead of six, with the same
        results as long as no layer mixes samples (instance norm, not batch norm).
        """
        G_A, G_B = self.networks["G_A"], self.networks["G_B"]
        n, idt = real_A.shape[0], self.lambda_identity > 0
        if not self.batch_passes or real_A.shape != real_B.shape:  # (sizes differ with --preprocess none)
            fake_B, fake_A = G_A(real_A), G_B(real_B)
            rec_A, rec_B = G_B(fake_B), G_A(fake_A)
            idt_A, idt_B = (G_A(real_B), G_B(real_A)) if idt else (None, None)
            return fake_B, rec_A, fake_A, rec_B, idt_A, idt_B
        out_A = (G_A(torch.cat([real_A, real_B])) if idt else G_A(real_A)).split(n)
        fake_B, idt_A = out_A if idt else (out_A[0], None)
        out_B = G_B(torch.cat([real_B, fake_B] + ([real_A] if idt else []))).split(n)
        fake_A, rec_A = out_B[0], out_B[1]
        idt_B = out_B[2] if idt else None
        rec_B = G_A(fake_A)
        return fake_B, rec_A, fake_A, rec_B, idt_A, idt_B

    def passes_to_compile(self) -> List[str]:
        # The penalties (WGAN-GP, R1) differentiate twice, which compiled graphs do not support: D stays eager then.
        return ["generator_losses"] + ([] if self.gan_loss.needs_double_backward else ["discriminator_losses"])

    def generator_losses(self, real_A: Tensor, real_B: Tensor) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """The generators' passes and losses (the discriminators judge, frozen): ``(losses, images)``, losses
        G_A, G_B, cycle_A, cycle_B, idt_A, idt_B (float32, 0-dim) and images fake_B, rec_A, fake_A, rec_B
        (and idt_A, idt_B with the identity loss). A pure tensor function: ``--compile`` compiles it whole."""
        n = self.networks
        fake_B, rec_A, fake_A, rec_B, idt_A, idt_B = self._generator_passes(real_A, real_B)
        zero = real_A.new_zeros((), dtype=torch.float32)
        loss_idt_A = loss_idt_B = zero
        images = {"fake_B": fake_B, "rec_A": rec_A, "fake_A": fake_A, "rec_B": rec_B}
        if idt_A is not None:  # G_A should leave B images alone, G_B A images
            loss_idt_A = identity_loss(idt_A, real_B, self.lambda_B * self.lambda_identity)
            loss_idt_B = identity_loss(idt_B, real_A, self.lambda_A * self.lambda_identity)
            images.update(idt_A=idt_A, idt_B=idt_B)
        losses = {"G_A": self.gan_loss(n["D_A"](fake_B), True, for_discriminator=False),
                  "G_B": self.gan_loss(n["D_B"](fake_A), True, for_discriminator=False),
                  "cycle_A": cycle_loss(rec_A, real_A, self.lambda_A),
                  "cycle_B": cycle_loss(rec_B, real_B, self.lambda_B), "idt_A": loss_idt_A, "idt_B": loss_idt_B}
        return losses, images

    def discriminator_losses(self, real_A: Tensor, real_B: Tensor, pooled_A: Tensor,
                             pooled_B: Tensor) -> Tuple[Tensor, Tensor]:
        """D_A's loss (real B against pooled fake B) and D_B's (real A against pooled fake A)."""
        return (self._discriminator_loss(self.networks["D_A"], real_B, pooled_B),
                self._discriminator_loss(self.networks["D_B"], real_A, pooled_A))

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        n = self.networks
        real_A, real_B = batch["A"], batch["B"]  # (N, C_in, H, W), (N, C_out, H, W)
        # Generators: the discriminators' weights get no gradients here.
        self.set_requires_grad([n["D_A"], n["D_B"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        g, images = self.generator_losses(real_A, real_B)
        update("G", g["G_A"] + g["G_B"] + g["cycle_A"] + g["cycle_B"] + g["idt_A"] + g["idt_B"])

        # Discriminators, on fakes drawn from the history pools.
        self.set_requires_grad([n["D_A"], n["D_B"]], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        pooled_B = self.pool_B.query(images["fake_B"].detach())
        pooled_A = self.pool_A.query(images["fake_A"].detach())
        loss_D_A, loss_D_B = self.discriminator_losses(real_A, real_B, pooled_A, pooled_B)
        update("D", loss_D_A + loss_D_B)

        visuals = {"real_A": real_A, "fake_B": images["fake_B"], "rec_A": images["rec_A"], "real_B": real_B,
                   "fake_A": images["fake_A"], "rec_B": images["rec_B"]}
        if "idt_A" in images:
            visuals.update(idt_A=images["idt_A"], idt_B=images["idt_B"])
        self.last_visuals = {k: v.detach() for k, v in visuals.items()}
        losses = {"D_A": loss_D_A, "G_A": g["G_A"], "cycle_A": g["cycle_A"], "idt_A": g["idt_A"],
                  "D_B": loss_D_B, "G_B": g["G_B"], "cycle_B": g["cycle_B"], "idt_B": g["idt_B"]}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        n = self.networks
        real_A, real_B = batch["A"], batch["B"]
        fake_B = self.translate(n["G_A"], real_A)
        fake_A = self.translate(n["G_B"], real_B)
        visuals = {"real_A": real_A, "fake_B": fake_B}
        if "truth" in batch:  # the true B of real_A, shown beside the translation
            visuals["truth_B"] = batch["truth"]
        visuals.update(rec_A=self.translate(n["G_B"], fake_B), real_B=real_B, fake_A=fake_A,
                       rec_B=self.translate(n["G_A"], fake_A))
        return visuals

    def extra_state(self) -> dict:
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict(),
                "gan_loss": self.gan_loss.r1_state()}

    def load_extra_state(self, state: dict) -> None:
        self.pool_A.load_state_dict(state["pool_A"], self.device)
        self.pool_B.load_state_dict(state["pool_B"], self.device)
        if "gan_loss" in state:  # R1's lazy schedule (states saved before it lack it)
            self.gan_loss.load_r1_state(state["gan_loss"])


def _halves(prediction, n: int):
    """Split a discriminator's output for ``cat([real, fake])`` (a tensor, or a list of them for a D with
    several outputs) into the outputs for the first ``n`` samples and for the rest."""
    if isinstance(prediction, Tensor):
        return prediction[:n], prediction[n:]
    pairs = [_halves(p, n) for p in prediction]
    return type(prediction)(a for a, _ in pairs), type(prediction)(b for _, b in pairs)
