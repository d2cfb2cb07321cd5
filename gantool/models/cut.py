"""CUT and FastCUT (Park et al. 2020, contrastive unpaired translation): one generator, one discriminator.

G: A -> B (a ResNet generator); D judges B images; F embeds patches of G's encoder features. Instead of
CycleGAN's second generator and cycle, the PatchNCE loss asks that each patch of G(A), seen by G's own
encoder, be closer to the patch at the same place in A than to the other patches of A. With
``--nce_idt`` (CUT's default) G(B) must also keep B's patches (an identity term), and FastCUT instead
flips the input at random and asks that features follow the flip (``--flip_equivariance``).
"""
import argparse
import random
from typing import Dict, List, Mapping, Optional

import torch
from torch import Tensor

from ..errors import GantoolError
from ..losses import GANLoss, patch_nce_loss
from ..networks import DiscriminatorSpec, define_G
from ..networks.patch_sample import build_patch_sampler, encoder_features
from .base import MODELS, Recipe, Update

#: --CUT_mode -> its defaults (the paper's; explicit options win). FastCUT's 150 + 50 epochs apply to real
#: datasets; the built-in demo keeps its short schedule.
MODES = {"cut": {"nce_idt": True, "lambda_NCE": 1.0, "flip_equivariance": False},
         "fastcut": {"nce_idt": False, "lambda_NCE": 10.0, "flip_equivariance": True}}
_FASTCUT_EPOCHS = {"n_epochs": 150, "n_epochs_decay": 50}


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _layers(text: str) -> List[int]:
    try:
        return [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer indices such as 0,4,8,12,16, got {text!r}")


@MODELS.register("cut", "unpaired A -> B, contrastive (CUT/FastCUT)")
class CUT(Recipe):
    """Contrastive unpaired translation A -> B (``--CUT_mode CUT`` or ``FastCUT``).

    Losses: adversarial ``lambda_GAN * GAN(D(G(A)), real)`` and PatchNCE ``lambda_NCE * NCE(A, G(A))``,
    averaged with ``NCE(B, G(B))`` under ``--nce_idt``; D: the classic halved real/fake loss. F is trained
    with G (one optimizer over both: the reference steps two Adams with the same settings in the same
    step, which is the same thing). Batches hold 'A' and 'B', (N, C, H, W) in [-1, 1].
    """

    loss_names = ["G_GAN", "NCE", "NCE_Y", "D_real", "D_fake"]
    visual_names = ["real_A", "fake_B", "real_B"]
    metric_pairs = [("fake_B", "truth_B")]
    distribution_pairs = [("fake_B", "real_B")]

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.set_defaults(no_dropout=True)
        parser.add_argument("--CUT_mode", default="CUT", type=str.lower, choices=["cut", "fastcut"],
                            help="CUT, or FastCUT (no identity NCE, flip equivariance, lambda_NCE 10, 150 + 50 "
                                 "epochs)")
        parser.add_argument("--nce_layers", default="0,4,8,12,16", type=_layers,
                            help="indices of the generator's layers whose features PatchNCE compares")
        parser.add_argument("--netF", default="mlp_sample", help="patch embedding: mlp_sample or sample")
        parser.add_argument("--netF_nc", type=int, default=256, help="features of F's MLPs")
        parser.add_argument("--num_patches", type=int, default=256, help="patches sampled per layer and image")
        if is_train:
            parser.set_defaults(pool_size=0, gan_mode="lsgan")
            parser.add_argument("--lambda_GAN", type=float, default=1.0, help="weight of the adversarial loss")
            parser.add_argument("--lambda_NCE", type=float, default=None, help="weight of the PatchNCE loss "
                                "(default: 1 for CUT, 10 for FastCUT)")
            parser.add_argument("--nce_idt", type=_bool, nargs="?", const=True, default=None,
                                help="also PatchNCE between B and G(B) (default: on for CUT, off for FastCUT)")
            parser.add_argument("--nce_T", type=float, default=0.07, help="temperature of the PatchNCE loss")
            parser.add_argument("--nce_includes_all_negatives_from_minibatch", type=_bool, nargs="?", const=True,
                                default=False, help="take negatives from every image of the batch, not only "
                                                    "the same image")
            parser.add_argument("--flip_equivariance", type=_bool, nargs="?", const=True, default=None,
                                help="flip the input at random and ask the features to follow (FastCUT's default)")

    @staticmethod
    def derived_defaults(opt: argparse.Namespace, is_train: bool) -> dict:
        if not is_train:
            return {}
        defaults = dict(MODES[opt.CUT_mode])
        if opt.CUT_mode == "fastcut" and opt.dataroot is not None:
            defaults.update(_FASTCUT_EPOCHS)
        return defaults

    def __init__(self, device: torch.device, is_train: bool, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 netG: str = "resnet_9blocks", norm: str = "instance", no_dropout: bool = True,
                 init_type: str = "normal", init_gain: float = 0.02, crop_size: int = 256,
                 nce_layers: Optional[List[int]] = None, netF: str = "mlp_sample", netF_nc: int = 256,
                 num_patches: int = 256, gan_mode: str = "lsgan", lr: float = 2e-4, beta1: float = 0.5,
                 beta2: float = 0.999, lambda_GAN: float = 1.0, lambda_NCE: Optional[float] = 1.0,
                 nce_idt: Optional[bool] = True, nce_T: float = 0.07,
                 nce_includes_all_negatives_from_minibatch: bool = False,
                 flip_equivariance: Optional[bool] = False, lambda_gp: float = 10.0, lambda_r1: float = 0.0,
                 r1_every: int = 16, discriminator: DiscriminatorSpec = DiscriminatorSpec()):
        super().__init__(device, is_train)
        G = define_G(input_nc, output_nc, ngf, netG, norm, not no_dropout, init_type, init_gain)
        self.networks["G"] = G.to(device)
        self.nce_layers = list(nce_layers if nce_layers is not None else [0, 4, 8, 12, 16])
        self.num_patches = num_patches
        if not is_train:
            return  # test.py needs G alone (latest_net_F.pth is for resuming training)
        F = build_patch_sampler(self.networks["G"], self.nce_layers, input_nc, crop_size, num_patches, netF,
                                netF_nc, init_type, init_gain)
        if nce_T <= 0:
            raise GantoolError(f"--nce_T must be positive, got {nce_T}")
        self.networks["F"] = F.to(device)
        self.networks["D"] = discriminator.build(output_nc, norm, init_type, init_gain).to(device)
        self.gan_loss = GANLoss(gan_mode, lambda_r1=lambda_r1, r1_every=r1_every).to(device)
        self.lambda_gp, self.lambda_GAN, self.nce_T = lambda_gp, lambda_GAN, nce_T
        self.lambda_NCE = 1.0 if lambda_NCE is None else lambda_NCE
        self.nce_idt = bool(nce_idt) and self.lambda_NCE > 0
        if self.nce_idt and input_nc != output_nc:
            raise GantoolError(f"--nce_idt compares B with G(B), which needs --input_nc == --output_nc (got "
                               f"{input_nc} and {output_nc}); pass --nce_idt false")
        self.flip_equivariance = bool(flip_equivariance)
        self.all_negatives = nce_includes_all_negatives_from_minibatch
        params = list(self.networks["G"].parameters()) + list(self.networks["F"].parameters())
        self.make_optimizer("G", params, lr, (beta1, beta2))
        self.make_optimizer("D", self.networks["D"].parameters(), lr, (beta1, beta2))

    def networks_to_load(self) -> List[str]:
        return ["G"]

    # ----------------------------------------------------------------- losses
    def nce_loss(self, source: Tensor, target: Tensor, flipped: bool) -> Tensor:
        """PatchNCE between ``source`` and its translation ``target``, averaged over layers and patches."""
        G, F = self.networks["G"], self.networks["F"]
        feat_q = encoder_features(G, target, self.nce_layers)
        if flipped:  # the translation was made from the flipped input: flip its features back
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        feat_k = encoder_features(G, source, self.nce_layers)
        pool_k, ids = F(feat_k, self.num_patches)
        pool_q, _ = F(feat_q, self.num_patches, ids)
        total = source.new_zeros((), dtype=torch.float32)
        for q, k in zip(pool_q, pool_k):
            total = total + patch_nce_loss(q, k, source.shape[0], self.nce_T, self.all_negatives).mean()
        return total * self.lambda_NCE / len(self.nce_layers)

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        G, D = self.networks["G"], self.networks["D"]
        real_A, real_B = batch["A"], batch["B"]  # (N, C, H, W) each
        n = real_A.shape[0]
        real = torch.cat([real_A, real_B]) if self.nce_idt else real_A
        flipped = self.flip_equivariance and random.random() < 0.5  # Python's generator: in the training state
        if flipped:
            real = torch.flip(real, [3])
        fake = self.translate(G, real)
        fake_B = fake[:n]
        idt_B = fake[n:] if self.nce_idt else None

        self.set_requires_grad([D], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        loss_D_fake = self.gan_loss(D(fake_B.detach()), False)
        loss_D_real = self.gan_loss(D(real_B), True)
        loss_D = 0.5 * (loss_D_fake + loss_D_real)
        penalty = self.gan_loss.penalty(D, real_B, fake_B.detach(), self.lambda_gp)
        update("D", loss_D if penalty is None else loss_D + penalty)

        self.set_requires_grad([D], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        zero = real_A.new_zeros((), dtype=torch.float32)
        loss_G_GAN = zero
        if self.lambda_GAN > 0:
            loss_G_GAN = self.gan_loss(D(fake_B), True, for_discriminator=False) * self.lambda_GAN
        # Flip equivariance: G translated the flipped input; its features, flipped back, must match the input's.
        loss_NCE = self.nce_loss(real_A, fake_B, flipped) if self.lambda_NCE > 0 else zero
        loss_NCE_Y = zero
        if self.nce_idt:
            loss_NCE_Y = self.nce_loss(real_B, idt_B, flipped)
            nce = 0.5 * (loss_NCE + loss_NCE_Y)
        else:
            nce = loss_NCE
        update("G", loss_G_GAN + nce)

        shown = torch.flip(fake_B, [3]) if flipped else fake_B  # beside the unflipped input
        self.last_visuals = {"real_A": real_A.detach(), "fake_B": shown.detach(), "real_B": real_B.detach()}
        losses = {"G_GAN": loss_G_GAN, "NCE": loss_NCE, "NCE_Y": loss_NCE_Y, "D_real": loss_D_real,
                  "D_fake": loss_D_fake}
        return {k: v.detach() for k, v in losses.items()}

    def extra_state(self) -> dict:
        return {"gan_loss": self.gan_loss.r1_state()} if self.is_train else {}  # the lazy R1 counter

    def load_extra_state(self, state: dict) -> None:
        if "gan_loss" in state:
            self.gan_loss.load_r1_state(state["gan_loss"])

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        real_A = batch["A"]
        visuals = {"real_A": real_A, "fake_B": self.translate(self.networks["G"], real_A)}
        if "truth" in batch:
            visuals["truth_B"] = batch["truth"]
        if "B" in batch:
            visuals["real_B"] = batch["B"]
        return visuals
