"""Learning-rate policies by hand computation."""
import pytest
import torch

from gantool.errors import UnknownNameError
from gantool.engine.schedulers import make_scheduler, step_scheduler


def _lrs(policy, epochs, **kw):
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(opt, policy, **kw)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        step_scheduler(sched, 1.0)
    return out


def test_linear_is_constant_then_decays_to_near_zero():
    lrs = _lrs("linear", 5, n_epochs=2, n_epochs_decay=3)
    assert lrs == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.25])


def test_linear_honours_epoch_count():
    assert _lrs("linear", 2, n_epochs=2, n_epochs_decay=3, epoch_count=3) == pytest.approx([0.75, 0.5])


def test_step_and_cosine():
    assert _lrs("step", 4, n_epochs=4, n_epochs_decay=0, lr_decay_iters=2) == pytest.approx([1, 1, 0.1, 0.1])
    assert _lrs("cosine", 3, n_epochs=2, n_epochs_decay=0) == pytest.approx([1.0, 0.5, 0.0], abs=1e-7)


def test_plateau_reduces_after_patience():
    assert _lrs("plateau", 8, n_epochs=1, n_epochs_decay=0)[-1] == pytest.approx(0.2)


def test_unknown_policy():
    with pytest.raises(UnknownNameError, match="cosine"):
        _lrs("exp", 1, n_epochs=1, n_epochs_decay=0)
