"""Exponential moving averages of a run's generators (``--ema_decay``), kept by the trainer.

After every training step each averaged weight moves towards the generator's own,
``ema <- decay * ema + (1 - decay) * weight``, in one ``torch._foreach_lerp_`` over all the parameters
(a few kernels on the device, nothing read back to the host); buffers (batch-norm statistics) are copied.
An average starts at the generator's initial weights, so it needs about ``1 / (1 - decay)`` steps (1000
for 0.999) before it says much. The averages are saved beside the networks as ``<label>_net_<name>_ema.pth``
(with the architecture side file), kept in the training state, and scored by validation in place of the
generators (see :meth:`GeneratorEMA.swapped_in`).
"""
import contextlib
import copy
import os
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import GantoolError
from ..io.checkpoint import fit_state, load_network
from ..io.files import unwrap
from ..models.base import Recipe

#: ``G_A`` is averaged as ``G_A_ema`` (``latest_net_G_A_ema.pth``)
EMA_SUFFIX = "_ema"


def _pairs(average: nn.Module, live: nn.Module, what: str) -> Tuple[List[Tensor], List[Tensor]]:
    """The averaged and the live tensors (``what``: ``parameters`` or ``buffers``), in the same order."""
    named_avg = list(getattr(average, f"named_{what}")())
    named_live = list(getattr(live, f"named_{what}")())
    assert [n for n, _ in named_avg] == [n for n, _ in named_live], "the average is a copy of the network"
    return [t for _, t in named_avg], [t for _, t in named_live]


class GeneratorEMA:
    """Moving averages of some networks (a recipe's generators).

    Args:
        networks: name -> the live network, unwrapped (its parameters are the ones the optimizer steps;
            later wrappers such as DDP or ``torch.compile`` keep them).
        decay: the weight of the old average per step, in [0, 1); 0 copies the networks at every step.
        memory_format: the layout the run gives the live networks (``torch.channels_last``...), so that
            both sides of an update are laid out alike.

    Raises:
        GantoolError: ``decay`` outside [0, 1).
    """

    def __init__(self, networks: Dict[str, nn.Module], decay: float,
                 memory_format: torch.memory_format = torch.contiguous_format):
        if not 0 <= decay < 1:
            raise GantoolError(f"--ema_decay must be at least 0 and below 1 (e.g. 0.999), got {decay}")
        self.decay = float(decay)
        self.averages: Dict[str, nn.Module] = {}
        avg_params: List[Tensor] = []
        live_params: List[Tensor] = []
        avg_buffers: List[Tensor] = []
        live_buffers: List[Tensor] = []
        for name, net in networks.items():
            average = copy.deepcopy(net).to(memory_format=memory_format)
            average.requires_grad_(False)
            self.averages[name] = average
            for avg, live, what in ((avg_params, live_params, "parameters"), (avg_buffers, live_buffers, "buffers")):
                a, b = _pairs(average, net, what)
                avg.extend(a)
                live.extend(b)
        self._params = (avg_params, live_params)
        self._buffers = (avg_buffers, live_buffers)

    @torch.no_grad()
    def update(self) -> None:
        """One step of every average: tensor operations on the networks' device only (no host sync)."""
        if self._params[0]:
            torch._foreach_lerp_(self._params[0], self._params[1], 1.0 - self.decay)
        if self._buffers[0]:
            torch._foreach_copy_(self._buffers[0], self._buffers[1])

    @torch.no_grad()
    def reset(self) -> None:
        """Set every average to its network's current weights."""
        for avg, live in (self._params, self._buffers):
            if avg:
                torch._foreach_copy_(avg, live)

    def networks(self) -> Dict[str, nn.Module]:
        """The averages under their checkpoint names (``G_A_ema``...), to save beside the networks."""
        return {name + EMA_SUFFIX: net for name, net in self.averages.items()}

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """Inside, the live networks hold the averaged weights (so a test step runs the averages as test.py
        --ema would); their own weights are restored exactly afterwards."""
        with torch.no_grad():
            saved = [p.detach().clone() for p in self._params[1]]
            if saved:
                torch._foreach_copy_(self._params[1], self._params[0])
        try:
            yield
        finally:
            with torch.no_grad():
                if saved:
                    torch._foreach_copy_(self._params[1], saved)

    def state_dict(self) -> dict:
        """The averages' weights on the CPU and the decay, for the training state."""
        return {"decay": self.decay,
                "networks": {name: {k: v.detach().cpu() for k, v in net.state_dict().items()}
                             for name, net in self.averages.items()}}

    def load_state_dict(self, state: Optional[dict], path: str, log: Callable[[str], None]) -> None:
        """Restore :meth:`state_dict` (from the training state ``path``); a state without averages (a run
        trained without ``--ema_decay``) starts them from the current weights, with a line saying so."""
        if not state:
            self.reset()
            log(f"gantool: {path} holds no generator averages (trained without --ema_decay): they start from "
                "the current weights")
            return
        for name, net in self.averages.items():
            if name not in state["networks"]:
                raise GantoolError(f"{path} holds averages of {sorted(state['networks'])}, not of {name}")
            fit_state(net, state["networks"][name], f"{path} [{name}{EMA_SUFFIX}]")

    def load_files(self, folder: str, label: str, log: Callable[[str], None]) -> None:
        """After a resume from network files: load ``<label>_net_<name>_ema.pth`` when all exist, else
        start the averages from the (just loaded) networks."""
        files = {name: os.path.join(folder, f"{label}_net_{name}{EMA_SUFFIX}.pth") for name in self.averages}
        if not all(os.path.isfile(f) for f in files.values()):
            self.reset()
            log(f"gantool: no {label}_net_*{EMA_SUFFIX}.pth in {folder}: the generator averages start from the "
                "loaded weights")
            return
        for name, net in self.averages.items():
            load_network(net, files[name])


def make_ema(recipe: Recipe, decay: float, memory_format: torch.memory_format) -> Optional[GeneratorEMA]:
    """The averages of ``recipe``'s generators for ``--ema_decay decay`` (None when 0: no averages).

    Call it before the trainer wraps the networks. Raises one line for a recipe without generators."""
    if not decay:
        return None
    names = recipe.generator_names()
    if not names:
        raise GantoolError("--ema_decay averages the generators, and this model has none; drop --ema_decay")
    return GeneratorEMA({name: unwrap(recipe.networks[name]) for name in names}, decay, memory_format)
