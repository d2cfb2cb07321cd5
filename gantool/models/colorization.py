"""Colorization: pix2pix from the L channel to the ab channels of Lab; results shown in RGB."""
import argparse
from typing import Dict, Optional

from torch import Tensor

from ..color import model_to_rgb
from ..errors import GantoolError
from .base import MODELS
from .pix2pix import Pix2Pix


@MODELS.register("colorization", "gray -> colour")
class Colorization(Pix2Pix):
    """pix2pix with A = L (1 channel, ``L/50 - 1``) and B = ab (2 channels, ``ab/110``).

    Trains on ``--dataset_mode colorization`` (any folder of colour images). The ab outputs are
    joined with the input L and converted to RGB for every visual: ``real_A`` (the grayscale
    input), ``fake_B_rgb`` (the colouring) and ``real_B_rgb`` (the original), and paired quality
    compares the last two.
    """

    visual_names = ["real_A", "fake_B_rgb", "real_B_rgb"]
    metric_pairs = [("fake_B_rgb", "real_B_rgb")]
    distribution_pairs = [("fake_B_rgb", "real_B_rgb")]

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        Pix2Pix.add_options(parser, is_train)
        parser.set_defaults(dataset_mode="colorization")

    @staticmethod
    def check_channels(input_nc: int, output_nc: int) -> None:
        if (input_nc, output_nc) != (1, 2):
            raise GantoolError(f"--model colorization maps L (1 channel) to ab (2 channels), not --input_nc "
                               f"{input_nc} --output_nc {output_nc}; use --dataset_mode colorization")

    def make_visuals(self, real_A: Tensor, fake_B: Tensor, real_B: Optional[Tensor]) -> Dict[str, Tensor]:
        # real_A (N, 1, H, W) is L; fake_B and real_B (N, 2, H, W) are ab; shown as (N, 3, H, W) RGB.
        visuals = {"real_A": real_A, "fake_B_rgb": model_to_rgb(real_A, fake_B)}
        if real_B is not None:
            visuals["real_B_rgb"] = model_to_rgb(real_A, real_B)
        return visuals
