"""The recipe interface the shared trainer and tester drive."""
import argparse
from typing import Dict, Iterable, List, Mapping, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..networks import crop_to, pad_to_multiple
from ..registry import Registry

MODELS = Registry("--model")


class Recipe:
    """A model recipe: its networks, optimizers and one training step; knows no loop and no files.

    Subclasses fill ``networks`` (checkpoint name -> module, e.g. ``"G_A"`` is saved as
    ``latest_net_G_A.pth``) and, when training, ``optimizers``; they set ``loss_names`` and
    ``visual_names`` and implement ``training_step`` and ``test_step``. Constructor arguments are
    named like the command-line options, and ``build.py`` passes the matching ones.

    Args:
        device: where the networks live; every tensor the recipe makes goes there.
        is_train: build the training parts (discriminators, losses, optimizers, pools).
    """

    loss_names: List[str] = []
    visual_names: List[str] = []
    #: pairs (output visual, ground-truth visual) whose paired quality the tester reports
    metric_pairs: List[Tuple[str, str]] = []

    def __init__(self, device: torch.device, is_train: bool):
        self.device = device
        self.is_train = is_train
        self.networks: Dict[str, nn.Module] = {}
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.visuals: Dict[str, Tensor] = {}
        self.arch_options: Dict[str, str] = {}  # network name -> the options that built it, for errors

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        """Add this recipe's flags and change defaults (classic ``modify_commandline_options``)."""

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        """Option defaults for the demo run on built-in data (no ``--dataroot``), over the dataset's own."""
        return {}

    def training_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Forward, losses, backward and optimizer steps for one batch; returns detached losses."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained")

    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Translate one batch without gradients; returns the visuals to save."""
        raise NotImplementedError(f"{type(self).__name__} has no test step")

    def networks_to_load(self) -> List[str]:
        """Names of the networks test.py loads from the checkpoint folder."""
        return list(self.networks)

    def extra_state(self) -> dict:
        """State beyond networks and optimizers (image pools...) for exact resume."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what ``extra_state`` returned."""

    def train(self, mode: bool = True) -> None:
        """Put every network in train (or eval) mode."""
        for net in self.networks.values():
            net.train(mode)

    def eval(self) -> None:
        """Put every network in eval mode (``test.py --eval``)."""
        self.train(False)

    def to_device(self, batch: Mapping[str, object]) -> Dict[str, object]:
        """Move the batch's tensors to the recipe's device."""
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}

    @staticmethod
    def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
        """Switch gradients of ``nets`` on or off (no discriminator gradients during the G step)."""
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    @staticmethod
    def translate(net: nn.Module, images: Tensor) -> Tensor:
        """Run a generator on images of any size: pad to its ``size_multiple``, crop back.

        Args:
            net: a generator with a ``size_multiple`` attribute (1 if absent).
            images: (N, C, H, W) batch in [-1, 1].
        Returns:
            (N, C_out, H, W) batch.
        """
        padded, size = pad_to_multiple(images, getattr(net, "size_multiple", 1))
        return crop_to(net(padded), size)
