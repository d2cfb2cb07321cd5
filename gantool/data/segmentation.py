"""--dataset_mode segmentation: pictures and their class masks, ``images/`` + ``masks/`` folder pairs.

Layout: ``<dataroot>/<phase>/images/`` and ``<dataroot>/<phase>/masks/`` (or ``images/`` and ``masks/``
directly in ``<dataroot>`` when there is no split folder). A mask has the name of its picture (any
image extension, e.g. ``x.jpg`` and ``x.png``) and holds one class index per pixel: a one-channel PNG
(mode L or a palette image, as Pascal VOC's); the value 255 marks pixels that count for nothing.
An optional ``<dataroot>/classes.txt`` names the classes, one a line, and sets ``--num_classes``.
With no ``--dataroot``: the built-in ``toy_shapes`` (see ``toy_shapes``).
"""
import os
import random
from typing import Dict, List

import numpy as np
import torch
from PIL import Image

from ..errors import GantoolError
from .base import DATASETS, FolderDataset
from .image_io import IMG_EXTENSIONS, UnreadableImageError
from .toy_shapes import ensure_toy_shapes
from .transforms import Preprocess, _random_crop

_MASK_MODES = ("L", "P", "I", "I;16")


def read_class_names(root: str) -> List[str]:
    """The class names of ``<root>/classes.txt`` (empty when there is none)."""
    path = os.path.join(root, "classes.txt")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def transform_mask(mask: Image.Image, pre: Preprocess, rng: random.Random) -> torch.Tensor:
    """The geometry of ``transform_image`` applied to a class mask, with nearest-neighbour resizing.

    ``rng`` must be seeded like the picture's: it gives the same three draws (crop x, crop y, flip).

    Returns:
        (H, W) int64 class indices.
    """
    fx, fy, fflip = rng.random(), rng.random(), rng.random()
    if pre.mode in ("resize_and_crop",):
        mask = mask.resize((pre.load_size, pre.load_size), Image.NEAREST)
    elif pre.mode in ("scale_width", "scale_width_and_crop"):
        w, h = mask.size
        if not (w == pre.load_size and h >= pre.crop_size):  # as transforms._scale_width
            mask = mask.resize((pre.load_size, int(max(pre.load_size * h / w, pre.crop_size))), Image.NEAREST)
    if pre.mode in ("resize_and_crop", "crop", "scale_width_and_crop"):
        mask = _random_crop(mask, pre.crop_size, fx, fy)
    if pre.flip and fflip < 0.5:
        mask = mask.transpose(Image.FLIP_LEFT_RIGHT)
    return torch.from_numpy(np.asarray(mask).astype(np.int64))


@DATASETS.register("segmentation", "images/ masks/")
class SegmentationDataset(FolderDataset):
    """Pictures with class masks; see the module docstring for the layout.

    Args:
        root: ``--dataroot``. Others: see ``FolderDataset`` (``direction`` and ``output_nc`` are not used).

    Items: ``{'A': (input_nc, H, W) in [-1, 1], 'mask': (H, W) int64, 'A_paths': str}``; the picture and
    its mask get the same crop and flip.
    """

    mode = "segmentation"

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        """The built-in toy_shapes is 64x64: trained at that size, as is."""
        return {"load_size": 64, "crop_size": 64, "num_threads": 0}

    @staticmethod
    def builtin_root(datasets_dir: str, log) -> str:
        """The built-in toy_shapes under ``datasets_dir``, generated on first use."""
        return ensure_toy_shapes(datasets_dir, log)

    def __init__(self, root: str, **kwargs):
        super().__init__(root, **kwargs)
        split = os.path.join(self.root, self.phase)
        base = split if os.path.isdir(os.path.join(split, "images")) else self.root
        layout = f"expects {self.phase}/images/ and {self.phase}/masks/ (or images/ and masks/)"
        self.paths = self.list_images(os.path.join(base, "images"), layout)
        mask_dir = os.path.join(base, "masks")
        if not os.path.isdir(mask_dir):
            raise GantoolError(f"{base} has images/ but no masks/ folder; the segmentation mode {layout}")
        masks = {}
        for name in os.listdir(mask_dir):
            stem, ext = os.path.splitext(name)
            if ext.lower() in IMG_EXTENSIONS and ext.lower() != ".npy" and not name.startswith("."):  # masks: PNGs
                masks.setdefault(stem, os.path.join(mask_dir, name))
        self.mask_paths = []
        images_dir = os.path.join(base, "images")
        for path in self.paths:
            stem = os.path.splitext(os.path.relpath(path, images_dir))[0]
            if stem not in masks:
                missing = sum(os.path.splitext(os.path.relpath(p, images_dir))[0] not in masks for p in self.paths)
                raise GantoolError(f"{mask_dir} has no mask for {missing} of the {len(self.paths)} images "
                                   f"(first: {os.path.relpath(path, base)}); a mask has its image's name")
            self.mask_paths.append(masks[stem])

    def __len__(self) -> int:
        return len(self.paths)

    def _read_mask(self, path: str) -> Image.Image:
        try:
            mask = Image.open(path)
            mask.load()
        except OSError as err:
            raise UnreadableImageError(path, f"not a readable mask ({err})") from None
        if mask.mode not in _MASK_MODES:
            raise GantoolError(f"{path} is a {mask.mode} image; a mask holds one class index per pixel "
                               "(a one-channel or palette PNG)")
        return mask

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        path, mask_path = self.paths[index], self.mask_paths[index]
        image, mask = self.read(path, self.input_nc), self._read_mask(mask_path)  # 16-bit/float: full depth
        if image.size != mask.size:
            raise GantoolError(f"{mask_path} is {mask.size[0]}x{mask.size[1]} but its image {path} is "
                               f"{image.size[0]}x{image.size[1]}")
        seed = self.rng(index, "A").getrandbits(64)  # one seed: the same crop and flip for both
        return {"A": self.transform(image, random.Random(seed), path),
                "mask": transform_mask(mask, self.preprocess, random.Random(seed)), "A_paths": path}
