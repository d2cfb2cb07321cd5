"""Learning-rate policies (``--lr_policy``), stepped once per epoch."""
from torch.optim import Optimizer, lr_scheduler

from ..registry import Registry

LR_POLICIES = Registry("--lr_policy")


@LR_POLICIES.register("linear")
def _linear(optimizer: Optimizer, n_epochs: int, n_epochs_decay: int, epoch_count: int, lr_decay_iters: int):
    # Constant for n_epochs, then linear to (almost) zero over n_epochs_decay (classic lambda_rule).
    def rule(epoch: int) -> float:
        return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)

    return lr_scheduler.LambdaLR(optimizer, lr_lambda=rule)


@LR_POLICIES.register("step")
def _step(optimizer, n_epochs, n_epochs_decay, epoch_count, lr_decay_iters):
    return lr_scheduler.StepLR(optimizer, step_size=lr_decay_iters, gamma=0.1)


@LR_POLICIES.register("plateau")
def _plateau(optimizer, n_epochs, n_epochs_decay, epoch_count, lr_decay_iters):
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.2, threshold=0.01, patience=5)


@LR_POLICIES.register("cosine")
def _cosine(optimizer, n_epochs, n_epochs_decay, epoch_count, lr_decay_iters):
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs, eta_min=0)


def make_scheduler(optimizer: Optimizer, policy: str, n_epochs: int, n_epochs_decay: int, epoch_count: int = 1,
                   lr_decay_iters: int = 50):
    """A scheduler for ``optimizer`` following ``policy`` (linear, step, plateau, cosine).

    ``epoch_count`` is the number of the first epoch this scheduler sees (classic ``--epoch_count``).
    """
    return LR_POLICIES.get(policy)(optimizer, n_epochs, n_epochs_decay, epoch_count, lr_decay_iters)


def step_scheduler(scheduler, metric: float) -> None:
    """Advance one epoch; ``metric`` (the epoch's mean loss) only matters for the plateau policy."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(metric)
    else:
        scheduler.step()
