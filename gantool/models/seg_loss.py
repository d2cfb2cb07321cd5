"""The segmenter's training losses (``--seg_loss ce | dice | ce+dice``): per-pixel cross-entropy and soft Dice.

Soft Dice (Milletari et al. 2016, V-Net), on softmax probabilities p (N, C, H, W) against one-hot masks
t (N, C, H, W), with the sums over the whole batch and every pixel that is not void (mask value
``IGNORE_INDEX``, 255), per class c of all C classes (background included):

    Dice_c = (2 * sum(p_c * t_c) + s) / (sum(p_c) + sum(t_c) + s)
    loss   = 1 - (1 / C) * sum_c Dice_c

The smoothing constant s (``--dice_smooth``, 1.0 by default, positive) keeps a class that is absent from
a batch's truth from dividing 0 by 0: such a class scores s / (sum(p_c) + s), which tends to 1 as the
prediction gives it no probability either (a class absent from truth and prediction counts as a perfect
class, not as 0) and pushes its probability down otherwise. Void pixels count in neither the numerator nor the
denominator, so changing their logits changes nothing. ``ce+dice`` trains CE + Dice with equal weights.
"""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..metrics.labels import IGNORE_INDEX

#: the ``--seg_loss`` choices, in the order the help lists them
SEG_LOSSES = ("ce", "dice", "ce+dice")
#: ``--seg_loss`` -> the names of the parts that the trainer logs (their sum is what is trained)
LOSS_PARTS: Dict[str, Tuple[str, ...]] = {"ce": ("CE",), "dice": ("Dice",), "ce+dice": ("CE", "Dice")}


def dice_loss(logits: Tensor, masks: Tensor, smooth: float = 1.0, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Soft multi-class Dice loss, 1 - mean over classes of the batch's Dice coefficient (formula above).

    Computed in fp32 whatever the logits' precision, autocast off, so bf16 sums of many pixels lose nothing.
    No host reads and static shapes, so it compiles into the recipe's ``forward_loss`` graph.

    Args:
        logits: (N, C, H, W) class scores, any float dtype.
        masks: (N, H, W) int64 class indices in [0, C), or ``ignore_index`` for void pixels.
        smooth: the smoothing constant s, added to each class's numerator and denominator.
        ignore_index: the mask value of void pixels.

    Returns:
        A scalar fp32 tensor in [0, 1]; ~0 for a confident, correct prediction.
    """
    num_classes = logits.shape[1]
    with torch.autocast(device_type=logits.device.type, enabled=False):
        probs = torch.softmax(logits.float(), dim=1)  # (N, C, H, W)
        valid = (masks != ignore_index).unsqueeze(1)  # (N, 1, H, W)
        # Void pixels become class 0 for one_hot (which needs indices < C), then are masked out with the rest.
        target = F.one_hot(masks.masked_fill(masks == ignore_index, 0), num_classes)  # (N, H, W, C)
        target = target.permute(0, 3, 1, 2).float() * valid  # (N, C, H, W)
        probs = probs * valid
        dims = (0, 2, 3)  # the batch and the pixels: one coefficient per class
        intersection = (probs * target).sum(dims)  # (C,)
        total = probs.sum(dims) + target.sum(dims)  # (C,)
        dice = (2 * intersection + smooth) / (total + smooth)  # (C,)
        return 1 - dice.mean()


def segmentation_losses(logits: Tensor, masks: Tensor, seg_loss: str = "ce",
                        dice_smooth: float = 1.0) -> Dict[str, Tensor]:
    """The parts of the ``seg_loss`` objective, by the names the trainer logs (``LOSS_PARTS``): cross-entropy
    ``CE`` (void pixels ignored) and/or ``Dice`` (``dice_loss``), each fp32; the trained loss is their sum.

    Args:
        logits: (N, C, H, W) class scores.
        masks: (N, H, W) int64 class indices, ``IGNORE_INDEX`` for void pixels.
        seg_loss: one of ``SEG_LOSSES``.
        dice_smooth: the Dice smoothing constant.

    Raises:
        ValueError: for a ``seg_loss`` outside ``SEG_LOSSES``.
    """
    if seg_loss not in LOSS_PARTS:
        raise ValueError(f"unknown seg_loss '{seg_loss}'; choose one of {', '.join(SEG_LOSSES)}")
    parts = {}
    if "CE" in LOSS_PARTS[seg_loss]:
        parts["CE"] = F.cross_entropy(logits.float(), masks, ignore_index=IGNORE_INDEX)
    if "Dice" in LOSS_PARTS[seg_loss]:
        parts["Dice"] = dice_loss(logits, masks, dice_smooth)
    return parts
