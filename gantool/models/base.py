"""The recipe interface the shared trainer and tester drive."""
import argparse
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..io.files import unwrap
from ..metrics.labels import IGNORE_INDEX, ConfusionMatrix
from ..ops.padding import crop_to, pad_to_multiple
from ..registry import Registry
from .optimizers import ADAM, OptimizerSpec

MODELS = Registry("--model")

#: ``update(optimizer_name, loss)``: backward ``loss`` and step that optimizer, as the run decides (precision,
#: gradient scaler, ``--nan_policy``); a training step calls it once per optimizer, after zeroing its gradients
Update = Callable[[str, Tensor], None]


class Recipe:
    """A model recipe: its networks, optimizers and one training step; knows no loop and no files.

    Subclasses fill ``networks`` (checkpoint name -> module, e.g. ``"G_A"`` is saved as
    ``latest_net_G_A.pth``) and, when training, ``optimizers``; they set ``loss_names`` and
    ``visual_names`` and implement ``training_step`` and ``test_step``. Constructor arguments are
    named like the command-line options, and ``build.py`` passes the matching ones.

    How a step runs (device placement of batches, precision, gradient scaling, the NaN policy, compiled or
    distributed networks) is the trainer's: it hands ``training_step`` an ``update`` function and changes
    networks only through :meth:`wrap_networks`.

    Args:
        device: where the networks live; every tensor the recipe makes goes there.
        is_train: build the training parts (discriminators, losses, optimizers, pools).
    """

    loss_names: List[str] = []
    visual_names: List[str] = []
    #: pairs (output visual, ground-truth visual) whose paired quality the tester reports
    metric_pairs: List[Tuple[str, str]] = []
    #: pairs (generated visual, real visual of the same domain) whose FID/KID validation and ``test.py --metrics``
    #: report; ``"real"`` names the dataset's images for a recipe that makes its own inputs (noise)
    distribution_pairs: List[Tuple[str, str]] = []
    #: test visuals that the tester also tiles into one ``grid_<label>.png`` (e.g. generated samples)
    grid_visuals: List[str] = []
    #: the split (a ``--phase`` value) that train.py scores after every epoch, by running ``test_step``
    #: on it in eval mode and reading ``test_summary`` (``"test"`` for the classifier); None: no scoring
    eval_phase: Optional[str] = None
    #: what test.py says it did with the images ("translated 20 images")
    test_verb = "translated"
    #: ``--preset`` name -> option defaults of a reference listing (a recipe that has presets adds ``--preset``);
    #: they win over the built-in data's demo defaults, explicit options win over them
    presets: Dict[str, Dict[str, object]] = {}
    #: the optimiser ``make_optimizer`` builds (``use_optimizer`` changes it for one recipe)
    optimizer_spec: OptimizerSpec = ADAM

    def __init__(self, device: torch.device, is_train: bool):
        self.device = device
        self.is_train = is_train
        self.networks: Dict[str, nn.Module] = {}
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        #: what the last training step shows (``visuals()``); set by ``training_step``
        self.last_visuals: Dict[str, Tensor] = {}
        #: network name -> the options that built it, for errors, where the network carries no description
        self.arch_options: Dict[str, str] = {}

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        """Add this recipe's flags and change defaults (classic ``modify_commandline_options``)."""

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        """Option defaults for the demo run on built-in data (no ``--dataroot``), over the dataset's own."""
        return {}

    @staticmethod
    def derived_defaults(opt: argparse.Namespace, is_train: bool) -> dict:
        """Option defaults computed from other options' values (``opt``: everything parsed so far),
        e.g. a size that follows another option; explicit command-line values still win."""
        return {}

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        """Forward and losses for one batch, each loss handed to ``update(optimizer_name, loss)``; returns
        the detached losses. ``update`` None: :meth:`plain_update` (fp32, for code that drives a recipe directly)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained")

    def plain_update(self, name: str, loss: Tensor) -> None:
        """The ``update`` of a step without a trainer: backward in fp32 and step ``optimizers[name]``."""
        loss.backward()
        self.optimizers[name].step()

    def visuals(self) -> Dict[str, Tensor]:
        """The pictures of the last training step, by visual name (drawn only when the trainer asks)."""
        return self.last_visuals

    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Translate one batch without gradients; returns the visuals to save."""
        raise NotImplementedError(f"{type(self).__name__} has no test step")

    def test_batches(self, num_test: float) -> Optional[Iterable[Mapping[str, object]]]:
        """The recipe's own test inputs (e.g. noise for an unconditional generator) as batches for
        ``test_step``, or None to test on the ``--dataset_mode`` dataset."""
        return None

    def test_summary(self) -> Dict[str, float]:
        """Scores accumulated by ``test_step`` since the last call (accuracy, mIoU...), then reset;
        empty when the recipe keeps none. The tester and the trainer's ``eval_phase`` scoring report them."""
        return {}

    def end_of_epoch(self, epoch: int) -> Optional[str]:
        """Called by the trainer after each epoch; returns a line for the log (e.g. the epoch's
        training accuracy) or None."""
        return None

    def make_optimizer(self, name: str, params: Iterable[nn.Parameter], lr: float,
                       betas: Tuple[float, float]) -> torch.optim.Optimizer:
        """Register the recipe's optimiser (``optimizer_spec``, Adam unless ``use_optimizer`` chose another)
        over ``params`` as ``optimizers[name]``; returns it."""
        self.optimizers[name] = self.optimizer_spec.make(params, lr, betas, self.device)
        return self.optimizers[name]

    def use_optimizer(self, spec: OptimizerSpec) -> None:
        """Train with ``spec`` (``--optimizer --momentum --weight_decay``): every optimiser made so far is
        rebuilt over the same parameter groups and learning rates, and later ``make_optimizer`` calls use it.
        Call before training starts (the optimisers' state is not carried over)."""
        if spec == self.optimizer_spec:
            return
        self.optimizer_spec = spec
        for name, old in self.optimizers.items():
            groups = [{"params": g["params"], "lr": g["lr"]} for g in old.param_groups]
            self.optimizers[name] = spec.make(groups, groups[0]["lr"],
                                              old.param_groups[0].get("betas", (0.5, 0.999)), self.device)

    def passes_to_compile(self) -> List[str]:
        """Names of this recipe's forward-and-loss methods that ``--compile`` compiles whole (``fullgraph``):
        pure tensor functions of their arguments (no host reads, no Python randomness, no double backward),
        which ``training_step`` calls between its optimizer updates. Empty: ``--compile`` compiles the networks."""
        return []

    def compile_passes(self, compile_fn: Callable[[Callable], Callable]) -> None:
        """Replace each method of :meth:`passes_to_compile` by ``compile_fn(method)`` (the trainer's choice)."""
        for name in self.passes_to_compile():
            setattr(self, name, compile_fn(getattr(self, name)))

    def generator_names(self) -> List[str]:
        """Names of the generators among ``networks`` (``G``, ``G_A``...: the checkpoint names starting with G)."""
        return [name for name in self.networks if name.startswith("G")]

    def discriminator_names(self) -> List[str]:
        """Names of the discriminators among ``networks`` (``D``, ``D_A``...: the names starting with D)."""
        return [name for name in self.networks if name.startswith("D")]

    def allow_batched_passes(self, allowed: bool) -> None:
        """Whether the run wants several inputs of a network sent through it in one call (fewer, larger
        calls) where the recipe can do so exactly; the trainer decides per device and precision. No-op here."""

    def wrap_networks(self, wrap: Callable[[str, nn.Module], nn.Module]) -> None:
        """Replace every network by ``wrap(name, network)`` (the trainer's memory layout, DDP, torch.compile);
        the optimizers keep the same parameters. Checkpoints unwrap them again."""
        self.networks = {name: wrap(name, net) for name, net in self.networks.items()}

    def options_hint(self, name: str) -> str:
        """The options that built ``networks[name]``, quoted when a checkpoint does not fit it: from the
        network's own description (``gantool_arch``, see ``gantool.io.arch``), else from ``arch_options``."""
        arch = getattr(unwrap(self.networks[name]), "gantool_arch", None)
        return arch.hint() if arch is not None else self.arch_options.get(name, "")

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


class LabelRecipe(Recipe):
    """What the classifier and the segmenter share: one network ``networks[key]`` trained with the run's optimiser
    (Adam unless ``--optimizer``) on cross-entropy, always in eval mode at test time (BatchNorm with running statistics, any batch
    size), scored on the test split after every epoch, and a confusion matrix behind every score.

    Args:
        device, is_train: see ``Recipe``.
        num_classes: number of classes.
        lr, beta1, beta2: the learning rate and Adam's betas.
    """

    eval_phase = "test"
    key = ""  # the network's checkpoint name
    #: ``ConfusionMatrix.scores`` names -> the names reported by ``test_summary``
    score_names: Dict[str, str] = {}

    def __init__(self, device: torch.device, is_train: bool, num_classes: int, lr: float, beta1: float,
                 beta2: float):
        super().__init__(device, is_train)
        if num_classes < 2:
            raise GantoolError(f"--num_classes must be 2 or more, got {num_classes}")
        self.num_classes, self.lr, self.betas = num_classes, lr, (beta1, beta2)
        self.test_scores = ConfusionMatrix(num_classes)  # over test_step calls
        self.train_scores = ConfusionMatrix(num_classes)  # over the current epoch's training batches

    def add_network(self, net: torch.nn.Module, arch_options: str) -> None:
        """Register the network (and, when training, its optimizer)."""
        self.networks[self.key] = net.to(self.device)
        self.arch_options[self.key] = arch_options
        if self.is_train:
            self.make_optimizer(self.key, net.parameters(), self.lr, self.betas)

    def check_labels(self, labels: Tensor, what: str) -> None:
        """Raise a one-line error for labels outside [0, num_classes) (``IGNORE_INDEX`` is allowed: ignored)."""
        bad = labels[(labels != IGNORE_INDEX) & ((labels < 0) | (labels >= self.num_classes))]
        if bad.numel():
            value = int(bad[0])
            hint = ("; --dataset_mode image_folder gives labels only to images in class subfolders"
                    if value < 0 else f"; pass --num_classes {value + 1} or more")
            raise GantoolError(f"{what} {value} is not a class of --num_classes {self.num_classes}{hint}")

    def train(self, mode: bool = True) -> None:
        # test.py runs networks in train mode unless --eval (the classic GAN habit); a classifier is
        # always scored with its running statistics, so only training puts it in train mode.
        super().train(mode and self.is_train)

    def test_summary(self) -> Dict[str, float]:
        scores = self.test_scores.scores()
        self.test_scores.reset()
        return {name: scores[key] for key, name in self.score_names.items() if key in scores}

    def extra_state(self) -> dict:
        return {"train_scores": self.train_scores.matrix.cpu()}  # a resume mid-epoch keeps the epoch's counts

    def load_extra_state(self, state: dict) -> None:
        self.train_scores.matrix = state["train_scores"].to(self.device)
