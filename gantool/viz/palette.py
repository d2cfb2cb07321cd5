"""Colours for class labels: the Pascal VOC palette and label maps drawn as pictures."""
import torch
from torch import Tensor


def palette(num_classes: int) -> Tensor:
    """Distinct colours for class indices, the Pascal VOC palette (class 0 black, 1 dark red, 2 green...).

    Returns:
        uint8 (num_classes, 3).
    """
    colours = torch.zeros(num_classes, 3, dtype=torch.uint8)
    for c in range(num_classes):
        value, r, g, b = c, 0, 0, 0
        for shift in range(7, -1, -1):  # spread the bits of the index over the high bits of r, g, b
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colours[c] = torch.tensor([r, g, b], dtype=torch.uint8)
    return colours


def colorize(labels: Tensor, num_classes: int) -> Tensor:
    """Class-index maps as pictures: (N, H, W) integers -> (N, 3, H, W) in [-1, 1] (ignored pixels white)."""
    colours = torch.cat([palette(num_classes), torch.full((1, 3), 255, dtype=torch.uint8)]).to(labels.device)
    index = torch.where((labels >= 0) & (labels < num_classes), labels, num_classes)
    return colours[index].permute(0, 3, 1, 2).float() / 127.5 - 1.0
