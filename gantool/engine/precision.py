"""Numeric precision of training (``--precision``): autocast, the fp16 gradient scaler, backward and step.

The step runner (``engine/step.py``) runs every ``training_step`` inside :meth:`Precision.autocast`; each
``update(name, loss)`` a recipe calls comes to :meth:`Precision.backward` (outside autocast: backward ops
reuse the dtypes the forward chose) and :meth:`Precision.step`. Losses themselves are computed in float32
(see ``losses.py``), so only the networks run in bf16/fp16.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ..errors import GantoolError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(name: str, device: torch.device, full_depth: bool = False) -> Tuple[str, str]:
    """The precision ``--precision name`` means on ``device``, and a line saying why.

    ``auto``: bf16 autocast on CPUs with AVX512-BF16/AMX, where it is about twice as fast; fp32 on GPUs,
    where bf16 autocast measured no faster than fp32 for any of the benchmark's workloads (the steps are
    bound by kernel launches, not arithmetic; figures in the README), and elsewhere. ``full_depth`` (16-bit or
    float images, ``--bit_depth``): fp32 everywhere, since bf16 keeps 8 significant bits, the depth of the
    8-bit pictures such data is meant to go beyond.
    """
    if name not in PRECISIONS:
        raise GantoolError(f"unknown --precision {name!r}; choose from: {', '.join(PRECISIONS)}")
    if name == "auto" and full_depth:
        return "fp32", "fp32 (16-bit/float images: bf16 autocast would keep 8 significant bits of them)"
    if device.type == "cuda":
        if name == "auto":
            return "fp32", "fp32 (on GPUs bf16 autocast measured no faster; --precision bf16 to choose it)"
        if name == "bf16" and not torch.cuda.is_bf16_supported():
            raise GantoolError("--precision bf16: this GPU does not support bf16; use --precision fp16 or fp32")
    elif device.type == "cpu":
        native = cpu_has_native_bf16()
        if name == "auto":
            return ("bf16", "bf16 autocast (this CPU has AVX512-BF16/AMX)") if native else \
                ("fp32", "fp32 (this CPU has no bf16 instructions; autocast would be slower)")
    elif name == "auto":
        return "fp32", f"fp32 (no autocast measurements for {device.type})"
    notes = {"fp32": "fp32 (as asked)", "bf16": "bf16 autocast (as asked)",
             "fp16": "fp16 autocast with a gradient scaler (as asked)"}
    return name, notes[name]


class Precision:
    """Autocast, loss scaling and optimizer steps for one run.

    Args:
        precision: a resolved precision (``fp32``, ``bf16`` or ``fp16``; see :func:`resolve_precision`).
        device: the run's device.
    """

    def __init__(self, precision: str = "fp32", device: torch.device = torch.device("cpu")):
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"Precision needs a resolved precision, got {precision!r}")
        self.name, self.device = precision, device
        self.dtype: Optional[torch.dtype] = _DTYPES.get(precision)
        # fp16's 5-bit exponent underflows small gradients: scale the loss up, unscale before the step.
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def autocast(self):
        """The autocast context for forward passes (a no-op in fp32).

        Without autocast's weight cache: the cache keeps a low-precision copy of every weight until the
        step ends, which raised peak memory above fp32's and was not faster (scripts/benchmark.py; README).
        """
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None,
                              cache_enabled=False)

    def backward(self, loss: Tensor) -> None:
        """Backward ``loss`` outside autocast, scaled when the fp16 scaler is on."""
        with torch.autocast(self.device.type, enabled=False):
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Step ``optimizer`` (through the scaler, which skips the step itself when a gradient overflowed)."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def end_step(self) -> None:
        """Called by the trainer once per training step, after all of the recipe's updates."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> Dict[str, object]:
        return {"scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
