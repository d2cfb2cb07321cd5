"""How a recipe's steps run: precision, memory layout, compiled networks and the NaN policy, decided once.

The trainer and the tester each own one :class:`StepRunner`. Recipes know none of this: a training step
receives ``update(name, loss)`` and calls it once per optimizer; the runner does the backward outside
autocast, the fp16 gradient scaler, the ``--nan_policy skip`` decision and the optimizer step. Networks are
changed (channels_last, ``torch.compile``, DDP) through the recipe's own ``wrap_networks``.

``auto`` values come from measurements (``scripts/benchmark.py``; figures in the README), not guesses.
"""
import time
from typing import Callable, Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..io.files import unwrap
from ..models.base import Recipe
from ..ops.diffaug import diff_augment, parse_policy
from .nan_guard import NanGuard
from .precision import Precision, resolve_precision

#: device type -> (channels_last, compile) chosen by ``auto``; on the CPU both were slower, on CUDA unmeasured
MEASURED_DEFAULTS: Dict[str, Tuple[bool, bool]] = {"cpu": (False, False), "cuda": (False, False)}


def batched_passes(device: torch.device, precision: str) -> bool:
    """Whether a recipe should send several inputs through a network in one call (``Recipe.allow_batched_passes``).

    Measured (README, Speed): on the CPU in fp32, CycleGAN 128 ran 1-2 % faster with separate calls; in bf16
    4 % faster batched. On a GPU a step is bound by kernel launches, which batching halves."""
    return device.type != "cpu" or precision != "fp32"


def _choose(value: str, device: torch.device, index: int) -> bool:
    if value == "auto":
        return MEASURED_DEFAULTS.get(device.type, (False, False))[index]
    return value == "on"


class StepRunner:
    """Runs training and test steps of recipes on one device with the run's numerics.

    Args:
        device: the run's device.
        precision, channels_last, compile, nan_policy: the option values (``auto`` or explicit).
        log: prints the one line that says what was chosen.
        fixed_size: every batch has the same image size (``--preprocess`` crops or resizes to one), so that on
            a GPU cuDNN may time its algorithms once per layer and keep the fastest (``cudnn.benchmark``).
        full_depth: the images are 16-bit or float (``--bit_depth``): ``auto`` precision is fp32.
    """

    def __init__(self, device: torch.device, precision: str = "auto", channels_last: str = "auto",
                 compile: str = "auto", nan_policy: str = "stop", log: Callable[[str], None] = print,
                 fixed_size: bool = False, full_depth: bool = False):
        name, why = resolve_precision(precision, device, full_depth)
        self.device = device
        self.precision = Precision(name, device)
        self.nan_guard = NanGuard(nan_policy)  # both routes: skipping an update, and stopping the run
        self.memory_format = torch.channels_last if _choose(channels_last, device, 0) else torch.contiguous_format
        self.compiled = _choose(compile, device, 1)
        self._compile_pending = False
        self.log = log
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = fixed_size
        log(f"gantool: precision {why}; channels_last "
            f"{'on' if self.memory_format == torch.channels_last else 'off'}, "
            f"torch.compile {'on' if self.compiled else 'off'}")

    def prepare(self, recipe: Recipe, wrap: Optional[Callable[[str, nn.Module], nn.Module]] = None,
                training: bool = True) -> None:
        """Set the recipe's networks up for this run: memory layout, then ``wrap`` (DDP), then compilation.

        With ``--compile``, a training run compiles the recipe's forward-and-loss passes whole
        (``Recipe.passes_to_compile``: one graph each, no graph break allowed, static shapes; on CUDA with
        CUDA graphs, ``mode="reduce-overhead"``), so a step is a few compiled graphs plus the optimizer
        steps; otherwise (testing, a recipe without passes, DDP) each network is compiled.
        """
        passes = recipe.passes_to_compile() if self.compiled and training and wrap is None else []

        def setup(name: str, net: nn.Module) -> nn.Module:
            if self.memory_format == torch.channels_last:
                net = net.to(memory_format=torch.channels_last)
            if wrap is not None:
                net = wrap(name, net)
            return torch.compile(net) if self.compiled and not passes else net

        recipe.allow_batched_passes(batched_passes(self.device, self.precision.name))
        recipe.wrap_networks(setup)
        if passes:
            mode = "reduce-overhead" if self.device.type == "cuda" else None
            recipe.compile_passes(lambda fn: torch.compile(fn, fullgraph=True, dynamic=False, mode=mode))
        self._compile_pending = self.compiled  # the first step compiles: its time is reported

    def augment_discriminators(self, recipe: Recipe, policy: str) -> None:
        """DiffAugment (``--diffaug``, ``ops/diffaug.py``): from now on every call of the recipe's discriminators
        augments its input first, real and fake alike, with new random parameters per call and per sample.

        A forward pre-hook on each discriminator inside its wrappers (DDP, torch.compile), so the state-dict keys
        stay the same. It acts only in train mode: validation and test (eval mode, no D calls) never see it.
        ``policy`` is a comma-separated list such as ``"color,translation,cutout"``; empty: nothing.
        """
        names = parse_policy(policy)
        if not names:
            return
        if not recipe.discriminator_names():
            raise GantoolError("--diffaug augments what a discriminator sees, and this model has none")

        def augment(module: nn.Module, args: Tuple[object, ...]) -> Optional[Tuple[object, ...]]:
            if not module.training:
                return None
            return (diff_augment(args[0], names),) + tuple(args[1:])  # args[0]: (N, C, H, W) images

        for name in recipe.discriminator_names():
            unwrap(recipe.networks[name]).register_forward_pre_hook(augment)
        self.log(f"gantool: DiffAugment {','.join(names)} on {', '.join(recipe.discriminator_names())}")

    def to_device(self, batch: Mapping[str, object]) -> Dict[str, object]:
        """The batch's tensors on the run's device, images (4-d) in the run's memory layout."""
        def move(v: Tensor) -> Tensor:
            v = v.to(self.device, non_blocking=True)
            return v.contiguous(memory_format=self.memory_format) if v.dim() == 4 else v

        return {k: move(v) if isinstance(v, Tensor) else v for k, v in batch.items()}

    def update(self, optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
        """Backward ``loss`` (outside autocast) and step ``optimizer``, unless ``--nan_policy skip`` finds its
        gradients not finite (the fp16 scaler makes that decision itself). Gradients were zeroed before."""
        self.precision.backward(loss)
        if self.precision.scaler is None and self.nan_guard.skips_update(optimizer):
            optimizer.zero_grad(set_to_none=True)
            return
        self.precision.step(optimizer)

    def train_step(self, recipe: Recipe, batch: Mapping[str, object]) -> Dict[str, Tensor]:
        """One ``training_step`` of ``recipe`` under autocast; returns its (detached) losses."""
        start = time.perf_counter() if self._compile_pending else 0.0
        with self.precision.autocast():
            losses = recipe.training_step(self.to_device(batch),
                                          lambda name, loss: self.update(recipe.optimizers[name], loss))
        self.precision.end_step()
        if self._compile_pending:
            self._compile_pending = False
            self.log(f"gantool: torch.compile: the first step took {time.perf_counter() - start:.1f} s (compiling; "
                     "later runs reuse torch's compile cache where it can)")
        return losses

    def test_step(self, recipe: Recipe, batch: Mapping[str, object]) -> Dict[str, Tensor]:
        """One ``test_step`` of ``recipe`` without gradients, under autocast."""
        with torch.no_grad(), self.precision.autocast():
            return recipe.test_step(self.to_device(batch))

    def state_dict(self) -> Dict[str, object]:
        """What continues across a resume (the fp16 scaler's state)."""
        return self.precision.state_dict()

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.precision.load_state_dict(state)
