"""Datasets held in memory as one uint8 array (digits, MNIST, Fashion-MNIST, CIFAR-10).

The array is read once; every item goes through the shared ``--preprocess`` pipeline with a
per-item random generator, like the folder modes, so crops and flips replay after a resume.
"""
import random
from typing import Dict, Optional

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import GantoolError
from .base import item_seed
from .transforms import Preprocess, transform_image


def _is_identity(pre: Preprocess, height: int, width: int) -> bool:
    """True when ``pre`` would return an image of this size unchanged (no resampling, no flip)."""
    if pre.flip:
        return False
    if pre.mode == "none":
        return True
    return height == width == pre.crop_size == pre.load_size or (pre.mode == "crop" and height == width == pre.crop_size)


class ArrayImageDataset(Dataset):
    """Images from an in-memory uint8 array, for unconditional GANs.

    Subclasses call ``set_data`` in their constructor.

    Args:
        phase: ``train`` or ``test`` (``--phase``); subclasses pick their split from it.
        input_nc: channels of the items (1 or 3); colour data is converted to gray and back as needed.
        preprocess: the ``--preprocess`` settings (gan/dcgan set ``--load_size`` and ``--crop_size``
            to ``--img_size``, so items arrive at the networks' size).
        max_dataset_size: use at most this many images (the first ones).
        seed: base of the per-item random crops and flips.

    Items: ``{'A': (input_nc, crop_size, crop_size) in [-1, 1], 'label': int64, 'A_paths': str}``,
    where ``A_paths`` names the image (``<mode>_<phase>_<index>``) since there is no file.
    """

    mode = ""

    def __init__(self, phase: str = "train", input_nc: int = 1, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), seed: int = 0):
        if input_nc not in (1, 3):
            raise GantoolError(f"--input_nc {input_nc}: the {self.mode} mode gives images with 1 or 3 channels")
        self.phase, self.input_nc, self.preprocess = phase, input_nc, preprocess
        self.max_dataset_size, self.seed, self.epoch = max_dataset_size, seed, 0
        self.images: np.ndarray = np.zeros((0, 1, 1), np.uint8)
        self.labels: Optional[np.ndarray] = None

    def set_data(self, images: np.ndarray, labels: Optional[np.ndarray] = None) -> None:
        """Keep (N, H, W) gray or (N, H, W, 3) colour uint8 ``images`` (cut to ``max_dataset_size``)."""
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
            raise GantoolError(f"the {self.mode} data is not (N, H, W) or (N, H, W, 3) bytes: "
                               f"{images.dtype} {tuple(images.shape)}")
        keep = len(images) if self.max_dataset_size >= len(images) else int(self.max_dataset_size)
        self.images = images[:keep]
        self.labels = None if labels is None else np.asarray(labels[:keep], dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops and flips ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images)

    def _to_tensor(self, array: np.ndarray, index: int) -> torch.Tensor:
        gray = array.ndim == 2
        if (gray == (self.input_nc == 1)) and _is_identity(self.preprocess, *array.shape[:2]):
            # The common case (digits at 28, CIFAR at 32): skip PIL, same values as the slow path.
            chw = torch.from_numpy(np.ascontiguousarray(array if not gray else array[:, :, None])).permute(2, 0, 1)
            return chw.float() / 127.5 - 1.0
        img = Image.fromarray(array, "L" if gray else "RGB").convert("L" if self.input_nc == 1 else "RGB")
        rng = random.Random(item_seed(self.seed, self.epoch, index, "A"))
        try:
            return transform_image(img, self.preprocess, rng)
        except GantoolError as error:
            raise GantoolError(f"{self.mode} image {index}: {error}") from None

    def __getitem__(self, index: int) -> Dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        label = -1 if self.labels is None else int(self.labels[index])
        return {"A": self._to_tensor(self.images[index], index), "label": torch.tensor(label),
                "A_paths": f"{self.mode}_{self.phase}_{index:05d}"}
