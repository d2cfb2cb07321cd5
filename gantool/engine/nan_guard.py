"""Watching training losses for NaN and infinity without a host synchronisation per step.

The trainer hands every step's (detached) losses to :meth:`NanGuard.observe`; they stay on the device
until :meth:`NanGuard.check`, which the trainer calls at every step on the CPU (where it costs nothing)
and, on a GPU, before it prints, shows or saves anything. A check looks at all pending steps at once,
so the report still names the first bad loss and its exact step.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from ..errors import GantoolError

NAN_POLICIES = ("stop", "skip")


class NonFiniteLoss(GantoolError):
    """Training met a NaN or infinite loss under ``--nan_policy stop``."""


class NanGuard:
    """The policy for non-finite losses (``--nan_policy``), in one place: which updates to skip, and when to stop.

    Args:
        policy: ``stop`` raises :class:`NonFiniteLoss` at the first non-finite loss; ``skip`` skips every
            optimizer update whose gradients are not finite (:meth:`skips_update`; one host check per update,
            a synchronisation each on a GPU), only counts the bad losses, and stops after ``patience`` bad
            steps in a row, when skipping is evidently not helping.
        patience: consecutive bad steps tolerated under ``skip``.
    """

    def __init__(self, policy: str = "stop", patience: int = 50):
        if policy not in NAN_POLICIES:
            raise GantoolError(f"unknown --nan_policy {policy!r}; choose from: {', '.join(NAN_POLICIES)}")
        self.policy, self.patience = policy, patience
        self.pending: List[Tuple[Tuple[int, int, int], Dict[str, Tensor]]] = []
        self.bad_in_a_row = 0
        self.bad_steps = 0  # under skip: bad steps since the last report

    def skips_update(self, optimizer: torch.optim.Optimizer) -> bool:
        """Under ``skip``: whether this update must be skipped because a gradient is not finite (as after a
        NaN loss). The gradients, not the loss: under torchrun they are already averaged, so every process
        decides alike."""
        if self.policy != "skip":
            return False
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        return bool(grads) and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())

    def observe(self, where: Tuple[int, int, int], losses: Dict[str, Tensor]) -> None:
        """Keep one step's losses; ``where`` is (epoch, image in epoch, images in all) after the step."""
        self.pending.append((where, losses))

    def check(self, last_saved: Optional[str]) -> None:
        """Look at the pending losses (one host sync); raise under ``stop`` if any is not finite.

        Args:
            last_saved: what the last good checkpoint is, for the message (or None if none was saved).
        """
        if not self.pending:
            return
        finite = torch.stack([torch.stack([torch.isfinite(v).all() for v in losses.values()])
                              for _, losses in self.pending]).cpu()  # (steps, losses)
        pending, self.pending = self.pending, []
        for (where, losses), row in zip(pending, finite.tolist()):
            if all(row):
                self.bad_in_a_row = 0
                continue
            self.bad_steps += 1
            self.bad_in_a_row += 1
            bad = [name for name, ok in zip(losses, row) if not ok]
            if self.policy == "stop" or self.bad_in_a_row >= self.patience:
                raise NonFiniteLoss(self._message(where, bad, losses, last_saved))

    def _message(self, where, bad: List[str], losses: Dict[str, Tensor], last_saved: Optional[str]) -> str:
        epoch, epoch_iter, total = where
        values = ", ".join(f"{name} = {float(losses[name])}" for name in bad)
        kept = (f"the last good checkpoint ({last_saved}) is kept" if last_saved
                else "nothing had been saved yet, and nothing was")
        how = ("" if self.policy == "stop" else
               f" after {self.bad_in_a_row} bad steps in a row under --nan_policy skip")
        return (f"loss {values} at epoch {epoch}, image {epoch_iter} ({total} images in all); training "
                f"stopped{how} without saving this state; {kept}. Try a lower --lr, --precision fp32, "
                f"or --nan_policy skip")

    def take_report(self) -> Optional[str]:
        """A note on the steps skipped since the last call (``skip`` policy), or None."""
        if not self.bad_steps:
            return None
        note = f"skipped the updates of {self.bad_steps} steps with non-finite losses (--nan_policy skip)"
        self.bad_steps = 0
        return note
