"""The fast path of a run: precision, memory layout and compilation, decided once per device.

``auto`` values come from measurements (``scripts/benchmark.py``), not guesses:

- CPU (2-core AMD EPYC with AVX512-BF16, torch 2.14): bf16 autocast made CycleGAN training 2.0-2.5x
  faster; channels_last made it slower (0.85x in fp32, and bf16 2.10x instead of 2.45x); torch.compile
  took 67 s to compile a ResnetGenerator and ran it slower than eager. So: bf16, no channels_last, no compile.
- CUDA: not measured yet (no GPU was available), so ``auto`` keeps the eager, contiguous layout there;
  ``--channels_last`` and ``--compile`` turn them on, and the benchmark script measures them.
"""
from typing import Callable, Dict, Tuple

import torch

from .precision import Precision, resolve_precision

#: device type -> (channels_last, compile) chosen by ``auto``
MEASURED_DEFAULTS: Dict[str, Tuple[bool, bool]] = {"cpu": (False, False), "cuda": (False, False)}


def _choose(value: str, device: torch.device, index: int) -> bool:
    if value == "auto":
        return MEASURED_DEFAULTS.get(device.type, (False, False))[index]
    return value == "on"


def configure(recipe, device: torch.device, precision: str = "auto", channels_last: str = "auto",
              compile: str = "auto", nan_policy: str = "stop", log: Callable[[str], None] = print) -> Precision:
    """Set the recipe's precision, memory layout and compiled networks; log one line saying what was chosen.

    Args:
        recipe: a built recipe; its ``networks`` may be replaced by compiled wrappers (checkpoints unwrap them).
        device: the run's device.
        precision, channels_last, compile, nan_policy: the option values (``auto`` or explicit).
    Returns:
        the :class:`Precision` now set on the recipe.
    """
    name, why = resolve_precision(precision, device)
    recipe.precision = Precision(name, device, nan_policy)
    layout = _choose(channels_last, device, 0)
    compiled = _choose(compile, device, 1)
    if layout:
        recipe.memory_format = torch.channels_last
        for net in recipe.networks.values():
            net.to(memory_format=torch.channels_last)
    if compiled:
        recipe.networks = {k: torch.compile(net) for k, net in recipe.networks.items()}
    log(f"gantool: precision {why}; channels_last {'on' if layout else 'off'}, "
        f"torch.compile {'on' if compiled else 'off'}")
    return recipe.precision
