"""The optimisers every recipe can train with (``--optimizer --momentum --weight_decay``).

A recipe asks for one optimiser per network group with the run's ``--lr`` and ``--beta1/--beta2``
(``Recipe.make_optimizer``); an ``OptimizerSpec`` says which algorithm builds it:

- ``adam`` (the default, as in the classic code): betas from ``--beta1 --beta2``; ``--weight_decay``
  is the classic L2 term added to the gradient (``torch.optim.Adam``'s own).
- ``adamw``: Adam with decoupled weight decay (Loshchilov & Hutter), the usual choice when decay matters.
- ``sgd``: stochastic gradient descent, ``--momentum`` (heavy ball; 0: plain SGD), L2 ``--weight_decay``.
- ``rmsprop``: torch's RMSprop (squared-gradient average 0.99, eps 1e-8), ``--momentum``, L2 ``--weight_decay``.

Fused (one kernel for all tensors) where torch has it for the device, else the multi-tensor loop on CUDA.
"""
import dataclasses
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from ..errors import GantoolError

_CLASSES = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
            "rmsprop": torch.optim.RMSprop}
#: the ``--optimizer`` choices
OPTIMIZERS = tuple(_CLASSES)
_WITH_MOMENTUM = ("sgd", "rmsprop")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """Which optimiser a recipe builds, and the settings that are the same for all its networks.

    Args:
        name: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``.
        momentum: momentum of ``sgd`` and ``rmsprop`` (Adam's momentum is ``beta1``); 0 or more, below 1.
        weight_decay: L2 weight decay (decoupled for ``adamw``); 0 or more.

    Raises:
        GantoolError: for an unknown name, a momentum the optimiser has no use for, or values out of range.
    """

    name: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.name not in _CLASSES:
            raise GantoolError(f"unknown --optimizer '{self.name}'; choose one of {', '.join(OPTIMIZERS)}")
        if not 0 <= self.momentum < 1:
            raise GantoolError(f"--momentum must be at least 0 and below 1, got {self.momentum}")
        if self.momentum and self.name not in _WITH_MOMENTUM:
            raise GantoolError(f"--momentum applies to --optimizer sgd or rmsprop; {self.name}'s momentum is "
                               f"--beta1")
        if self.weight_decay < 0:
            raise GantoolError(f"--weight_decay must not be negative, got {self.weight_decay}")

    @property
    def kind(self) -> str:
        """The torch class name this spec builds (``Adam``, ``SGD``...), as saved in training states."""
        return _CLASSES[self.name].__name__

    def settings(self, betas: Tuple[float, float]) -> dict:
        """The keyword arguments beyond ``lr`` for this optimiser's constructor."""
        if self.name in ("adam", "adamw"):
            return {"betas": betas, "weight_decay": self.weight_decay}
        return {"momentum": self.momentum, "weight_decay": self.weight_decay}

    def reapply(self, optimizer: torch.optim.Optimizer) -> None:
        """Put this spec's momentum and weight decay back into ``optimizer``'s groups (a resumed state carries
        the old run's; a new ``--weight_decay`` on ``--continue_train`` should take effect)."""
        for group in optimizer.param_groups:
            group["weight_decay"] = self.weight_decay
            if self.name in _WITH_MOMENTUM:
                group["momentum"] = self.momentum

    def make(self, params: Iterable[nn.Parameter], lr: float, betas: Tuple[float, float],
             device: torch.device) -> torch.optim.Optimizer:
        """The optimiser over ``params`` at learning rate ``lr``; ``betas`` are used by adam and adamw."""
        params, cls, kwargs = list(params), _CLASSES[self.name], self.settings(betas)
        try:
            return cls(params, lr=lr, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):  # no fused kernel for this device, dtype or optimiser
            return cls(params, lr=lr, foreach=device.type == "cuda", **kwargs)


ADAM = OptimizerSpec()


def check_optimizer_kinds(saved: Optional[Mapping[str, str]], optimizers: Dict[str, torch.optim.Optimizer],
                          path: str) -> None:
    """Refuse to resume ``optimizers`` from a training state whose optimisers were another kind (their state
    would load without complaint and mean nothing: Adam's moments are not SGD's momentum).

    Args:
        saved: the state's ``optimizer_kinds`` (network group -> torch class name); None for states written
            before ``--optimizer`` existed, which were all Adam.
        optimizers: the run's optimisers by group name.
        path: the state file, for the message.
    """
    def option(kind: str) -> str:
        return next((n for n, c in _CLASSES.items() if c.__name__ == kind), kind)

    saved = saved or {name: "Adam" for name in optimizers}
    for name, optimizer in optimizers.items():
        kind, before = type(optimizer).__name__, saved.get(name)
        if before is not None and before != kind:
            raise GantoolError(f"{path} was trained with --optimizer {option(before)}; continue with --optimizer "
                               f"{option(before)}, or start a new run (another --name) for --optimizer {option(kind)}")
