"""The activation choices a network family offers where its design leaves them free (``--activation``).

One name -> one module factory, so every family that accepts ``activation=`` spells the same names,
gives the same error for a typo and builds the same modules. ``prelu`` is the only choice with a
parameter (one slope, as ``nn.PReLU()``), so it adds one ``<layer>.weight`` key per activation layer;
every other choice keeps a network's state-dict keys unchanged.
"""
from typing import Callable, Dict

import torch.nn as nn

_FACTORIES: Dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "prelu": nn.PReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

#: every name ``make_activation`` accepts, in the order the help text lists them
ACTIVATIONS = tuple(_FACTORIES)


def check_activation(name: str) -> str:
    """Return ``name`` if it is an activation choice, else raise ``ValueError`` listing the choices."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}")
    return name


def make_activation(name: str) -> nn.Module:
    """A fresh activation module: relu (in place), leaky_relu (slope 0.2, in place, as GAN code uses it),
    elu (in place), prelu (one learned slope, initially 0.25), gelu, sigmoid or tanh.

    Raises:
        ValueError: for an unknown ``name`` (the message lists the choices).
    """
    return _FACTORIES[check_activation(name)]()
