"""GAN losses, gradient penalty and L1 terms, checked against values worked out by hand."""
import math

import pytest
import torch
from torch import nn

from gantool.errors import UnknownNameError
from gantool.losses import GAN_MODES, GANLoss, cycle_loss, gradient_penalty, identity_loss

LOGITS = torch.tensor([[1.9072, 1.1079, 1.4906], [-0.6584, -0.0512, 0.7608], [-0.0614, 0.6583, 0.1095]])
TARGETS = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
# A small map whose per-element losses are easy to do by hand.
PRED = torch.tensor([[0.5, -1.0], [2.0, 0.0]])


def hand_bce(logits, target):
    """mean(-(t log s + (1 - t) log(1 - s))), s = sigmoid(x), in plain Python floats."""
    total = 0.0
    values = logits.flatten().tolist()
    for x in values:
        s = 1.0 / (1.0 + math.exp(-x))
        total += -(target * math.log(s) + (1 - target) * math.log(1 - s))
    return total / len(values)


def test_registry_has_the_four_modes():
    assert GAN_MODES.names() == ["hinge", "lsgan", "vanilla", "wgangp"]


def test_classic_bce_example():
    with_sigmoid = nn.BCELoss()(torch.sigmoid(LOGITS), TARGETS)
    with_logits = nn.BCEWithLogitsLoss()(LOGITS, TARGETS)
    assert round(with_sigmoid.item(), 4) == 0.8000
    assert round(with_logits.item(), 4) == 0.8000


@pytest.mark.parametrize("is_real", [True, False])
def test_vanilla_matches_hand_bce(is_real):
    loss = GANLoss("vanilla")(LOGITS, is_real)
    assert loss.item() == pytest.approx(hand_bce(LOGITS, 1.0 if is_real else 0.0), abs=1e-6)


def test_vanilla_label_smoothing():
    loss = GANLoss("vanilla", target_real_label=0.9, target_fake_label=0.1)
    assert loss(LOGITS, True).item() == pytest.approx(hand_bce(LOGITS, 0.9), abs=1e-6)
    assert loss(LOGITS, False).item() == pytest.approx(hand_bce(LOGITS, 0.1), abs=1e-6)


def test_vanilla_is_finite_on_saturated_logits():
    # sigmoid(-200) is 0 in float32, so BCELoss(sigmoid(x)) would clamp; the logit form stays exact.
    loss = GANLoss("vanilla")(torch.tensor([-200.0]), True)
    assert loss.item() == pytest.approx(200.0)


def test_lsgan_by_hand():
    loss = GANLoss("lsgan")
    # real: (0.5-1)^2 + (-1-1)^2 + (2-1)^2 + (0-1)^2 = 0.25 + 4 + 1 + 1
    assert loss(PRED, True).item() == pytest.approx(6.25 / 4)
    # fake: 0.25 + 1 + 4 + 0
    assert loss(PRED, False).item() == pytest.approx(5.25 / 4)
    smoothed = GANLoss("lsgan", target_real_label=0.9)
    # (0.5-0.9)^2 + (-1.9)^2 + 1.1^2 + 0.9^2 = 0.16 + 3.61 + 1.21 + 0.81
    assert smoothed(PRED, True).item() == pytest.approx(5.79 / 4)


def test_hinge_by_hand():
    loss = GANLoss("hinge")
    # D real: relu(1 - x) = 0.5, 2, 0, 1
    assert loss(PRED, True).item() == pytest.approx(3.5 / 4)
    # D fake: relu(1 + x) = 1.5, 0, 3, 1
    assert loss(PRED, False).item() == pytest.approx(5.5 / 4)
    # G: -mean(x), sum(x) = 1.5
    assert loss(PRED, True, for_discriminator=False).item() == pytest.approx(-1.5 / 4)
    with pytest.raises(ValueError, match="target_is_real=True"):
        loss(PRED, False, for_discriminator=False)


def test_wgangp_by_hand():
    loss = GANLoss("wgangp")
    assert loss(PRED, True).item() == pytest.approx(-0.375)
    assert loss(PRED, False).item() == pytest.approx(0.375)
    assert loss(PRED, True, for_discriminator=False).item() == pytest.approx(-0.375)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "wgangp", "hinge"])
def test_list_predictions_are_averaged(mode):
    loss = GANLoss(mode)
    small = torch.tensor([[3.0, -2.0]])
    expected = (loss(PRED, True) + loss(small, True)) / 2
    assert loss([PRED, small], True).item() == pytest.approx(expected.item())
    # multi-scale D returning (features..., output) per scale: the last entry is the output
    nested = [[torch.zeros(5), PRED], [torch.ones(3), small]]
    assert loss(nested, True).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "wgangp", "hinge"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_prediction_gives_float32_loss(mode, dtype):
    prediction = PRED.to(dtype).requires_grad_(True)
    loss = GANLoss(mode)(prediction, True)
    assert loss.dtype == torch.float32 and loss.dim() == 0
    reference = GANLoss(mode)(prediction.detach().float(), True)
    assert loss.item() == pytest.approx(reference.item(), abs=1e-6)
    loss.backward()
    assert prediction.grad.dtype == dtype


def test_float32_loss_under_cpu_autocast():
    torch.manual_seed(0)
    netD = nn.Linear(8, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prediction = netD(torch.randn(4, 8))
        assert prediction.dtype == torch.bfloat16
        losses = [GANLoss(mode)(prediction, True) for mode in GAN_MODES]
    assert all(loss.dtype == torch.float32 for loss in losses)


def test_labels_are_buffers_outside_state_dict():
    loss = GANLoss("lsgan", target_real_label=0.9, target_fake_label=0.2)
    buffers = dict(loss.named_buffers())
    assert buffers["real_label"].item() == pytest.approx(0.9)
    assert buffers["fake_label"].item() == pytest.approx(0.2)
    assert loss.state_dict() == {}  # keeps model checkpoints' keys classic
    assert "lsgan" in repr(loss)


def test_unknown_mode_lists_choices():
    with pytest.raises(UnknownNameError) as info:
        GANLoss("wgan")
    message = str(info.value)
    assert "--gan_mode" in message and "'wgan'" in message
    assert all(name in message for name in ["vanilla", "lsgan", "wgangp", "hinge"])
    assert isinstance(info.value, ValueError)


class LinearD(nn.Module):
    """D(x) = sum(w * x) per sample, so grad_x D = w for every sample."""

    def __init__(self, shape, dtype=torch.float32):
        super().__init__()
        self.w = nn.Parameter(torch.randn(shape, dtype=dtype))

    def forward(self, x):  # (N, C, H, W) -> (N,)
        return (x * self.w).flatten(1).sum(1)


class SquareD(nn.Module):
    """D(x) = 0.5 * ||x||^2 per sample, so grad_x D = x: a different gradient per sample."""

    def forward(self, x):  # (N, C, H, W) -> (N, 1)
        return 0.5 * x.pow(2).flatten(1).sum(1, keepdim=True)


@pytest.mark.parametrize("kind", ["real", "fake", "mixed"])
def test_penalty_of_linear_d_is_exact(kind):
    torch.manual_seed(0)
    netD = LinearD((3, 4, 4))
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    penalty = gradient_penalty(netD, real, fake, kind=kind, lambda_gp=10.0)
    norm = netD.w.detach().norm()
    assert penalty.dim() == 0 and penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(10.0 * (norm.item() - 1.0) ** 2, rel=1e-5)
    # create_graph=True: the penalty trains D; d/dw [10 (|w| - 1)^2] = 20 (|w| - 1) w / |w|
    penalty.backward()
    expected_grad = 20.0 * (norm - 1.0) * netD.w.detach() / norm
    assert torch.allclose(netD.w.grad, expected_grad, rtol=1e-4, atol=1e-6)


def test_penalty_constant_and_weight():
    torch.manual_seed(0)
    netD = LinearD((2, 3))
    x = torch.randn(4, 2, 3)
    norm = netD.w.detach().norm().item()
    penalty = gradient_penalty(netD, x, x, kind="real", constant=0.5, lambda_gp=2.0)
    assert penalty.item() == pytest.approx(2.0 * (norm - 0.5) ** 2, rel=1e-5)


def test_penalty_is_per_sample():
    real = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)])
    penalty = gradient_penalty(SquareD(), real, torch.zeros_like(real), kind="real", lambda_gp=1.0)
    # per-sample norms ||x_i|| = 2 * value: 0.2, 2, 6 -> mean of 0.64, 1, 25
    assert penalty.item() == pytest.approx((0.64 + 1.0 + 25.0) / 3, rel=1e-5)
    # a whole-batch norm would give (sqrt(0.04 + 4 + 36) - 1)^2 instead
    assert penalty.item() != pytest.approx((math.sqrt(40.04) - 1.0) ** 2, rel=1e-2)


def test_mixed_uses_one_alpha_per_sample():
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    torch.manual_seed(7)
    alpha = torch.rand(4, 1, 1, 1)
    points = alpha * real + (1 - alpha) * fake
    expected = ((points.flatten(1).norm(dim=1) - 1.0) ** 2).mean() * 10.0
    torch.manual_seed(7)
    penalty = gradient_penalty(SquareD(), real, fake, kind="mixed")
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)


def test_penalty_does_not_reach_the_generator():
    scale = nn.Parameter(torch.tensor(2.0))
    real = torch.randn(3, 1, 2, 2)
    fake = real * scale  # stands for G's output
    gradient_penalty(SquareD(), real, fake).backward()
    assert scale.grad is None


def test_penalty_with_multiscale_output():
    torch.manual_seed(0)
    linear = LinearD((2, 2))
    netD = lambda x: [linear(x), linear(x)]  # noqa: E731 - gradient is 2w
    x = torch.randn(3, 2, 2)
    norm = linear.w.detach().norm().item()
    assert gradient_penalty(netD, x, x).item() == pytest.approx(10.0 * (2 * norm - 1.0) ** 2, rel=1e-5)


def test_penalty_in_bfloat16_is_float32():
    torch.manual_seed(0)
    netD = LinearD((3, 2, 2), dtype=torch.bfloat16)
    real, fake = torch.randn(2, 3, 2, 2, dtype=torch.bfloat16), torch.randn(2, 3, 2, 2, dtype=torch.bfloat16)
    penalty = gradient_penalty(netD, real, fake)
    norm = netD.w.detach().float().norm().item()
    assert penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(10.0 * (norm - 1.0) ** 2, rel=1e-5)


def test_penalty_rejects_bad_arguments():
    x = torch.zeros(2, 3)
    with pytest.raises(UnknownNameError, match="real, fake, mixed"):
        gradient_penalty(SquareD(), x, x, kind="none")
    with pytest.raises(ValueError, match="one shape"):
        gradient_penalty(SquareD(), x, torch.zeros(2, 4))


def test_cycle_and_identity_by_hand():
    reconstructed = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    real = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    # |diff| = 0, 2, 3, 0 -> mean 1.25
    assert cycle_loss(reconstructed, real, 10.0).item() == pytest.approx(12.5)
    # CycleGAN: lambda_identity 0.5 * lambda_A 10
    assert identity_loss(reconstructed, real, 0.5 * 10.0).item() == pytest.approx(6.25)
    low = cycle_loss(reconstructed.bfloat16(), real.bfloat16(), 10.0)
    assert low.dtype == torch.float32 and low.item() == pytest.approx(12.5)
