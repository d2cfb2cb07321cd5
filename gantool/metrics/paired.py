"""Paired image metrics (L1, PSNR) for comparing generated images with ground truth."""
import math
from typing import Dict, Mapping

import torch

PSNR_CAP = 100.0  # dB for identical images, so averages stay finite


def paired_metrics(pred: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
    """L1 and PSNR between images in [-1, 1], averaged over the batch.

    Both images are mapped to [0, 1] (``pred`` clamped there) before measuring, so L1 is the
    mean absolute error on the [0, 1] scale and PSNR uses peak 1.0:
    ``10 * log10(1 / MSE)`` per image, capped at ``PSNR_CAP``; then the per-image values are
    averaged (the mean of PSNRs, not the PSNR of the mean error).

    Args:
        pred: generated images, (C, H, W) or (N, C, H, W).
        target: true images, same shape.

    Returns:
        ``{"l1": float, "psnr": float}``.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if pred.dim() == 3:
        pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    if pred.dim() != 4:
        raise ValueError(
            f"expected (C, H, W) or (N, C, H, W) images, got shape {tuple(pred.shape)}")
    p = ((pred.detach().double() + 1) / 2).clamp(0, 1)
    t = ((target.detach().double() + 1) / 2).clamp(0, 1)
    diff = (p - t).flatten(1)  # (N, C*H*W)
    l1 = diff.abs().mean(dim=1)
    mse = diff.pow(2).mean(dim=1)
    psnr = (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-PSNR_CAP / 10)))).clamp_max(PSNR_CAP)
    return {"l1": l1.mean().item(), "psnr": psnr.mean().item()}


class MetricMeter:
    """Running, count-weighted averages of named metrics (for example over a test set).

    ``update(paired_metrics(pred, target), n=batch_size)`` per batch, then ``average()``.
    """

    def __init__(self):
        self.sums: Dict[str, float] = {}
        self.counts: Dict[str, int] = {}

    def update(self, values: Mapping[str, float], n: int = 1) -> None:
        """Add ``values`` (each already an average over ``n`` items)."""
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * n
            self.counts[key] = self.counts.get(key, 0) + n

    def average(self) -> Dict[str, float]:
        """The average of every metric seen so far (``nan`` for none seen)."""
        return {k: self.sums[k] / self.counts[k] if self.counts[k] else math.nan for k in self.sums}

    def count(self, key: str = "") -> int:
        """How many items were added (for ``key``, or the most for any metric)."""
        if key:
            return self.counts.get(key, 0)
        return max(self.counts.values(), default=0)

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.4f}" for k, v in self.average().items())
