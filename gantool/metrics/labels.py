"""Scores of predicted class labels: accuracy for classifiers, pixel accuracy and mean IoU for segmenters."""
from typing import Dict

import torch
from torch import Tensor

IGNORE_INDEX = 255  # mask value of pixels that count for nothing (the Pascal VOC convention for borders)


class ConfusionMatrix:
    """Counts of (true class, predicted class) pairs, kept on the predictions' device so that
    updating never waits for the device; only ``scores`` reads them back.

    Args:
        num_classes: number of classes C.
        ignore_index: true labels with this value (and negative ones, e.g. unlabelled images) are skipped.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, predicted: Tensor, target: Tensor) -> None:
        """Add a batch: ``predicted`` and ``target`` integer tensors of one shape, e.g. (N,) or (N, H, W).
        Targets must lie in [0, C) apart from the ignored values."""
        if self.matrix.device != predicted.device:
            self.matrix = self.matrix.to(predicted.device)
        keep = (target >= 0) & (target != self.ignore_index)
        index = target[keep] * self.num_classes + predicted[keep]
        self.matrix += torch.bincount(index, minlength=self.num_classes ** 2).view(self.num_classes, -1)

    def count(self) -> int:
        """Number of labelled items (images or pixels) seen."""
        return int(self.matrix.sum())

    def scores(self) -> Dict[str, float]:
        """``accuracy``: the share of labelled items predicted right; ``mIoU``: the mean over classes
        that occur (in the truth or the predictions) of |truth & predicted| / |truth | predicted|.
        Empty when nothing labelled was seen."""
        m = self.matrix.double().cpu()
        total = m.sum()
        if total == 0:
            return {}
        hits = m.diag()
        union = m.sum(0) + m.sum(1) - hits
        present = union > 0
        return {"accuracy": float(hits.sum() / total), "mIoU": float((hits[present] / union[present]).mean())}

    def reset(self) -> None:
        """Forget every count."""
        self.matrix.zero_()
