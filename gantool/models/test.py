"""The single-direction ``test`` model: one pretrained generator, no training."""
import argparse
from typing import Dict, Mapping

import torch
from torch import Tensor

from ..errors import GantoolError
from ..networks import define_G
from .base import MODELS, Recipe


@MODELS.register("test", "one generator, test.py only")
class TestModel(Recipe):
    """Translate with ``latest_net_G{model_suffix}.pth`` (e.g. a published ``*_pretrained`` model).

    ``--model_suffix _A`` loads ``latest_net_G_A.pth`` from a CycleGAN run. Batches hold 'A'
    ((N, input_nc, H, W) in [-1, 1]) and, for the built-in dataset, 'truth'.
    """

    visual_names = ["real", "fake"]
    metric_pairs = [("fake", "truth")]
    distribution_pairs = [("fake", "truth")]  # the target domain: the true outputs where the data has them

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        if is_train:
            raise GantoolError("--model test only translates with a trained generator; use it with test.py "
                               "(train with --model cycle_gan or pix2pix)")
        parser.set_defaults(dataset_mode="single")
        parser.add_argument("--model_suffix", default="",
                            help="load latest_net_G<suffix>.pth, e.g. _A for a CycleGAN run's G_A")

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # On the built-in test images, translate with the classic architecture of the published
        # generators (horse2zebra_pretrained, ...), not the slimmer demo network.
        return {"netG": "resnet_9blocks", "ngf": 64}

    def __init__(self, device: torch.device, is_train: bool, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 netG: str = "resnet_9blocks", norm: str = "instance", no_dropout: bool = False,
                 init_type: str = "normal", init_gain: float = 0.02, model_suffix: str = ""):
        super().__init__(device, is_train)
        name = "G" + model_suffix
        self.net_name = name
        self.networks[name] = define_G(input_nc, output_nc, ngf, netG, norm, not no_dropout, init_type, init_gain).to(device)

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        visuals = {"real": batch["A"], "fake": self.translate(self.networks[self.net_name], batch["A"])}
        if "truth" in batch:
            visuals["truth"] = batch["truth"]
        return visuals
