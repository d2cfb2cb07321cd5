"""GAN objectives (``--gan_mode``), the WGAN-GP gradient penalty, the R1 penalty, and CycleGAN's L1 terms.

Every loss here is computed in float32, whatever the dtype of its inputs: under bf16/fp16
autocast a discriminator returns low-precision logits, and a mean over a large PatchGAN map
(or a sigmoid near saturation) loses too much in 8-bit mantissas.
"""
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import GantoolError, UnknownNameError
from .registry import Registry

Prediction = Union[Tensor, Sequence[Tensor], Sequence[Sequence[Tensor]]]

#: ``--gan_mode`` name -> :class:`Objective`: its loss and the facts recipes follow around it.
GAN_MODES = Registry("--gan_mode")

LossFn = Callable[[Tensor, bool, bool, Tensor, Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A ``--gan_mode``: its loss function and what the recipes must do around it.

    Calling it calls ``loss(prediction, target_is_real, for_discriminator, real_label, fake_label)``:
    ``prediction`` is a float32 tensor of raw discriminator outputs (logits, never probabilities), the
    labels are 0-dim float32 tensors, and the result is a 0-dim float32 loss.
    """

    loss: LossFn
    #: the critic's loss adds ``lambda_gp * gradient_penalty`` (WGAN-GP)
    gradient_penalty: bool = False
    #: batch norm may sit in the discriminator; False where a per-sample penalty would be coupled by it
    #: (Gulrajani et al., sec. 4), so recipes that choose D's norm themselves leave it out
    batchnorm_in_critic: bool = True
    #: D's output is compared with real/fake labels (the reference scripts average its real and fake terms)
    label_loss: bool = True
    #: default discriminator steps per generator step (``--n_critic``)
    critic_steps: int = 1

    def __call__(self, prediction: Tensor, target_is_real: bool, for_discriminator: bool,
                 real_label: Tensor, fake_label: Tensor) -> Tensor:
        return self.loss(prediction, target_is_real, for_discriminator, real_label, fake_label)

    def critic_norm(self, norm: str) -> str:
        """``norm`` for a discriminator of this objective, ``"none"`` where batch norm is not allowed."""
        return norm if self.batchnorm_in_critic or norm not in ("batch", "syncbatch") else "none"


def objective(name: str, summary: str = "", **facts) -> Callable[[LossFn], LossFn]:
    """Register the decorated loss function as the ``--gan_mode`` ``name`` (``summary``: a few words for
    ``--help``), with :class:`Objective` ``facts``."""

    def decorator(fn: LossFn) -> LossFn:
        GAN_MODES.register(name, summary)(Objective(fn, **facts))
        return fn

    return decorator


def _target(prediction: Tensor, target_is_real: bool, real_label: Tensor, fake_label: Tensor) -> Tensor:
    """A target the shape of ``prediction`` filled with the real or fake label (no copy: expand)."""
    label = real_label if target_is_real else fake_label
    return label.type_as(prediction).expand_as(prediction)


@objective("vanilla", summary="BCE on logits")
def vanilla_loss(prediction: Tensor, target_is_real: bool, for_discriminator: bool,
                 real_label: Tensor, fake_label: Tensor) -> Tensor:
    """Original GAN: binary cross-entropy on logits.

    ``BCEWithLogits`` folds the sigmoid into the log (log-sum-exp), so saturated logits give
    finite losses and gradients where ``BCELoss(sigmoid(x))`` would clamp at log(0).
    The generator uses the same form with real targets (the non-saturating loss).
    """
    target = _target(prediction, target_is_real, real_label, fake_label)
    return F.binary_cross_entropy_with_logits(prediction, target)


@objective("lsgan", summary="least squares")
def lsgan_loss(prediction: Tensor, target_is_real: bool, for_discriminator: bool,
               real_label: Tensor, fake_label: Tensor) -> Tensor:
    """Least-squares GAN: mean squared error between the raw output and the label."""
    target = _target(prediction, target_is_real, real_label, fake_label)
    return F.mse_loss(prediction, target)


@objective("wgangp", summary="Wasserstein with gradient penalty", gradient_penalty=True,
           batchnorm_in_critic=False, label_loss=False, critic_steps=5)
def wgangp_loss(prediction: Tensor, target_is_real: bool, for_discriminator: bool,
                real_label: Tensor, fake_label: Tensor) -> Tensor:
    """Wasserstein critic loss: ``-mean(x)`` for real, ``mean(x)`` for fake (labels unused).

    Pair it with :func:`gradient_penalty` on the discriminator side.
    """
    return -prediction.mean() if target_is_real else prediction.mean()


@objective("hinge", summary="margin losses", label_loss=False)
def hinge_loss(prediction: Tensor, target_is_real: bool, for_discriminator: bool,
               real_label: Tensor, fake_label: Tensor) -> Tensor:
    """Hinge loss (SAGAN / SPADE): D gets ``mean(relu(1 - x))`` for real and
    ``mean(relu(1 + x))`` for fake; G gets ``-mean(x)`` and must ask for ``target_is_real=True``.
    """
    if for_discriminator:
        margin = 1.0 - prediction if target_is_real else 1.0 + prediction
        return F.relu(margin).mean()
    if not target_is_real:
        # A generator wants its fakes judged real; a "fake" target here is a caller bug.
        raise ValueError("hinge generator loss needs target_is_real=True")
    return -prediction.mean()


def _flatten_predictions(prediction: Prediction) -> List[Tensor]:
    """One tensor per discriminator scale.

    A nested list (pix2pixHD / SPADE multi-scale D returning intermediate features per scale)
    contributes its last element, which is that scale's final output.
    """
    if isinstance(prediction, Tensor):
        return [prediction]
    outputs = [p[-1] if isinstance(p, (list, tuple)) else p for p in prediction]
    if not outputs:
        raise ValueError("GANLoss got an empty list of predictions")
    return outputs


class GANLoss(nn.Module):
    """Adversarial loss selected by ``--gan_mode`` (``vanilla``, ``lsgan``, ``wgangp``, ``hinge``).

    Args:
        gan_mode: a name in :data:`GAN_MODES`; an unknown name raises ``UnknownNameError``
            listing the choices.
        target_real_label: target for real images in ``vanilla`` / ``lsgan`` (for example 0.9
            for one-sided label smoothing). Ignored by ``wgangp`` and ``hinge``.
        target_fake_label: target for fake images in ``vanilla`` / ``lsgan``.
        lambda_r1: the R1 weight gamma (``--lambda_r1``): :meth:`penalty` adds :func:`r1_penalty` on the real
            images, with any ``gan_mode``; 0 (the default): none.
        r1_every: R1 is lazy (StyleGAN2): computed on every ``r1_every``-th update of each discriminator and
            multiplied by ``r1_every`` then (``--r1_every``).

    The labels are non-persistent buffers: they follow ``.to(device)`` but stay out of
    ``state_dict()``, so checkpoints keep the classic key names. R1's lazy schedule (each discriminator's update
    count) is :meth:`r1_state`, which recipes keep in their ``extra_state`` for an exact resume.
    """

    real_label: Tensor
    fake_label: Tensor

    def __init__(self, gan_mode: str, target_real_label: float = 1.0, target_fake_label: float = 0.0,
                 lambda_r1: float = 0.0, r1_every: int = 16):
        super().__init__()
        if lambda_r1 < 0:
            raise GantoolError(f"--lambda_r1 must not be negative, got {lambda_r1}")
        if r1_every < 1:
            raise GantoolError(f"--r1_every must be 1 or more, got {r1_every}")
        self.gan_mode = gan_mode
        self.objective: Objective = GAN_MODES.get(gan_mode)
        self.lambda_r1, self.r1_every = float(lambda_r1), int(r1_every)
        #: discriminator -> penalty calls so far (R1's lazy schedule), in the order the discriminators were first seen
        self._r1_counts: Dict[nn.Module, int] = {}
        #: counts restored from a saved state, handed to the discriminators in the order they are first seen again
        self._r1_restored: List[int] = []
        self.register_buffer("real_label", torch.tensor(float(target_real_label)), persistent=False)
        self.register_buffer("fake_label", torch.tensor(float(target_fake_label)), persistent=False)

    @property
    def needs_double_backward(self) -> bool:
        """Whether :meth:`penalty` differentiates D's input gradient (WGAN-GP, R1): a pass that calls it cannot be
        compiled (compiled graphs do not support double backward), and it cannot run without autograd."""
        return self.objective.gradient_penalty or self.lambda_r1 > 0

    def forward(self, prediction: Prediction, target_is_real: bool, for_discriminator: bool = True) -> Tensor:
        """Loss of discriminator output(s) against the real or fake target.

        Args:
            prediction: raw discriminator output of any shape (``(N, 1)`` for an MLP/DCGAN D,
                ``(N, 1, H', W')`` for a PatchGAN), any float dtype; or a list of such tensors,
                one per scale of a multi-scale D, whose losses are averaged.
            target_is_real: whether ``prediction`` should be judged real.
            for_discriminator: ``True`` when training D; ``False`` for the generator's loss
                (only ``hinge`` uses a different form for G).

        Returns:
            a 0-dim float32 tensor.
        """
        losses = [
            self.objective(p.float(), target_is_real, for_discriminator, self.real_label, self.fake_label)
            for p in _flatten_predictions(prediction)
        ]
        return losses[0] if len(losses) == 1 else torch.stack(losses).mean()

    def penalty(self, netD: nn.Module, real: Tensor, fake: Tensor, lambda_gp: float) -> Optional[Tensor]:
        """What regularises the discriminator's loss: the critic's gradient penalty (:func:`gradient_penalty`,
        mixed points) where the objective has one, plus R1 where ``lambda_r1 > 0`` (:func:`r1_penalty` on
        ``real`` times ``r1_every`` on every ``r1_every``-th call for ``netD``, starting with the first; a 0-dim
        zero on the calls between). None where there is neither.

        Call it once per update of ``netD``; ``real`` and ``fake`` ``(N, ...)`` are what ``netD`` judged.
        Returns a 0-dim float32 tensor that trains ``netD`` (``create_graph=True``), or None.
        """
        terms = []
        if self.objective.gradient_penalty:
            terms.append(gradient_penalty(netD, real, fake, lambda_gp=lambda_gp))
        if self.lambda_r1 > 0:
            terms.append(self._lazy_r1(netD, real))
        return sum(terms[1:], terms[0]) if terms else None

    def _lazy_r1(self, netD: nn.Module, real: Tensor) -> Tensor:
        if netD not in self._r1_counts:
            self._r1_counts[netD] = self._r1_restored.pop(0) if self._r1_restored else 0
        count = self._r1_counts[netD]
        self._r1_counts[netD] = count + 1
        if count % self.r1_every:
            return real.new_zeros((), dtype=torch.float32)
        return r1_penalty(netD, real, self.lambda_r1) * self.r1_every

    def r1_state(self) -> dict:
        """R1's lazy schedule: each discriminator's count of penalty calls, in the order first seen."""
        return {"r1_counts": list(self._r1_counts.values()) + list(self._r1_restored)}

    def load_r1_state(self, state: dict) -> None:
        """Continue the schedule of :meth:`r1_state` (the discriminators take their counts in the same order)."""
        self._r1_counts, self._r1_restored = {}, [int(c) for c in state["r1_counts"]]

    def extra_repr(self) -> str:
        r1 = f", lambda_r1={self.lambda_r1}, r1_every={self.r1_every}" if self.lambda_r1 > 0 else ""
        return f"gan_mode={self.gan_mode!r}{r1}"


_PENALTY_KINDS = ("real", "fake", "mixed")


def gradient_penalty(netD: nn.Module, real: Tensor, fake: Tensor, kind: str = "mixed",
                     constant: float = 1.0, lambda_gp: float = 10.0) -> Tensor:
    """WGAN-GP penalty ``lambda_gp * mean_i((||grad_x D(x_i)|| - constant)^2)``.

    Args:
        netD: the critic; its output may be a tensor of any shape or a list of tensors
            (multi-scale), all summed per sample before differentiating.
        real: real batch, ``(N, ...)`` (for example ``(N, C, H, W)``).
        fake: generated batch with the same shape; it is detached here, since the penalty
            trains only the critic.
        kind: where to evaluate the gradient: ``"real"``, ``"fake"``, or ``"mixed"``
            (``alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U(0, 1)`` per sample,
            shape ``(N, 1, ..., 1)``, drawn from torch's global RNG).
        constant: the target gradient norm.
        lambda_gp: the penalty weight.

    Returns:
        a 0-dim float32 tensor, differentiable w.r.t. ``netD``'s parameters
        (``create_graph=True``), to add to the critic's loss.
    """
    if kind not in _PENALTY_KINDS:
        raise UnknownNameError(f"unknown gradient penalty kind '{kind}'; choose from: {', '.join(_PENALTY_KINDS)}")
    if real.shape != fake.shape:
        raise ValueError(
            f"gradient_penalty needs real and fake of one shape; got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if kind == "real":
        points = real.detach()
    elif kind == "fake":
        points = fake.detach()
    else:
        alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
        # Mix in float32, then hand D its usual input dtype (a bf16 D cannot take float32 input).
        points = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).to(real.dtype)
    points.requires_grad_(True)
    outputs = netD(points)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    # Summing the outputs equals grad_outputs=ones: each sample's gradient depends only on its own outputs.
    total = torch.stack([o.float().sum() for o in outputs]).sum()
    (grad,) = torch.autograd.grad(total, points, create_graph=True)
    grad = grad.float().reshape(real.shape[0], -1)
    # The tiny offset keeps the norm's backward finite where a gradient is exactly zero (as in the classic code).
    norms = (grad + 1e-16).norm(2, dim=1)
    return ((norms - constant) ** 2).mean() * lambda_gp


def r1_penalty(netD: nn.Module, real: Tensor, gamma: float) -> Tensor:
    """R1 (Mescheder et al. 2018): ``gamma / 2 * mean_i ||grad_x D(x_i)||^2`` at the real images.

    Args:
        netD: the discriminator; its output may be a tensor of any shape (a PatchGAN's map) or a list of them
            (multi-scale), all summed per sample before differentiating, as in :func:`gradient_penalty`.
        real: real batch ``(N, ...)``; detached here (the penalty trains only the discriminator).
        gamma: the weight.

    Returns:
        a 0-dim float32 tensor, differentiable w.r.t. ``netD``'s parameters (``create_graph=True``).
    """
    points = real.detach().requires_grad_(True)
    total = torch.stack([o.float().sum() for o in _flatten_predictions(netD(points))]).sum()
    (grad,) = torch.autograd.grad(total, points, create_graph=True)
    return grad.float().reshape(real.shape[0], -1).square().sum(1).mean() * (gamma / 2)


def cycle_loss(reconstructed: Tensor, real: Tensor, weight: float) -> Tensor:
    """Cycle-consistency loss ``weight * mean|reconstructed - real|`` (float32, 0-dim).

    Args:
        reconstructed: ``G_B(G_A(real_A))`` (or the B->A->B cycle), ``(N, C, H, W)``.
        real: the original batch, same shape.
        weight: ``lambda_A`` or ``lambda_B`` in CycleGAN.
    """
    return F.l1_loss(reconstructed.float(), real.float()) * weight


def identity_loss(same: Tensor, real: Tensor, weight: float) -> Tensor:
    """Identity loss ``weight * mean|same - real|`` (float32, 0-dim).

    Args:
        same: a generator applied to an image already in its output domain, e.g. ``G_A(real_B)``,
            ``(N, C, H, W)``.
        real: that input image (``real_B``), same shape.
        weight: in CycleGAN this is ``lambda_identity * lambda_B`` for ``G_A(real_B)`` and
            ``lambda_identity * lambda_A`` for ``G_B(real_A)``: ``--lambda_identity`` is relative
            to the cycle weights.
    """
    return F.l1_loss(same.float(), real.float()) * weight


def patch_nce_loss(feat_q: Tensor, feat_k: Tensor, batch_size: int, nce_T: float = 0.07,
                   negatives_from_minibatch: bool = False) -> Tensor:
    """PatchNCE (Park et al. 2020): each query patch must pick its own key patch among the other patches.

    A query (a patch of the translated image) and the key at the same position of the input form the
    positive pair; the keys at the other sampled positions of the same image are the negatives (of every
    image of the batch with ``negatives_from_minibatch``). The loss is the cross-entropy of choosing the
    positive among ``1 + P - 1`` candidates by dot product over temperature ``nce_T``; a query's own
    position among the negatives is masked out (its logit set to -10 / T, as in the reference).

    Args:
        feat_q: (N * P, C) query vectors, unit length (``PatchSampleF`` output for the translation).
        feat_k: (N * P, C) key vectors at the same positions (detached here: keys get no gradient).
        batch_size: N, the number of images the N * P rows come from.
    Returns:
        (N * P,) the loss of every query patch (float32).
    """
    feat_q, feat_k = feat_q.float(), feat_k.detach().float()
    rows, dim = feat_q.shape
    l_pos = (feat_q * feat_k).sum(1, keepdim=True)  # (N*P, 1)
    groups = 1 if negatives_from_minibatch else batch_size
    q = feat_q.view(groups, -1, dim)  # (G, P', C)
    k = feat_k.view(groups, -1, dim)
    patches = q.shape[1]
    l_neg = torch.bmm(q, k.transpose(1, 2))  # (G, P', P'): query i against every key j
    diagonal = torch.eye(patches, dtype=torch.bool, device=q.device)[None]
    l_neg = l_neg.masked_fill(diagonal, -10.0).view(-1, patches)  # (N*P, P')
    logits = torch.cat([l_pos, l_neg], 1) / nce_T  # (N*P, 1 + P'): the positive is class 0
    target = torch.zeros(rows, dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target, reduction="none")
