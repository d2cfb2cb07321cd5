"""--preprocess: resizing, cropping and flipping images, then turning them into [-1, 1] tensors."""
import random
from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch
from PIL import Image

from ..errors import GantoolError
from .depth import HighDepthImage

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
#: the modes after which every image of a dataset has one size (``crop_size`` squared)
FIXED_SIZE_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")
#: the largest --load_size/--crop_size (and ``gantool translate --tile``) accepted: 16384^2 RGB floats are 3 GiB
#: per image, before any network
MAX_IMAGE_SIDE = 16384
#: an image enlarged more than this in either side is mostly interpolation: the dataset warns once
MAX_UPSCALE = 4


@dataclass(frozen=True)
class Preprocess:
    """How every image is prepared, with the classic ``--preprocess`` meanings.

    Args:
        mode: one of ``PREPROCESS_MODES``:
            ``resize_and_crop`` resize to ``load_size`` square, then random ``crop_size`` crop;
            ``crop`` random ``crop_size`` crop of the image as it is;
            ``scale_width`` width to ``load_size`` keeping the aspect ratio, height at least
            ``crop_size``;
            ``scale_width_and_crop`` ``scale_width``, then random ``crop_size`` crop;
            ``none`` no size change at all.
        load_size: size images are scaled to (``--load_size``).
        crop_size: size of the random crop (``--crop_size``).
        flip: random horizontal flip with probability 1/2 (``--no_flip`` turns it off).
    """

    mode: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def __post_init__(self):
        if self.mode not in PREPROCESS_MODES:
            raise GantoolError(
                f"unknown --preprocess '{self.mode}'; choose from: {'|'.join(PREPROCESS_MODES)}"
            )
        for flag in ("load_size", "crop_size"):
            value = getattr(self, flag)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GantoolError(f"--{flag} must be a positive whole number, not {value!r}")
        crops_loaded = self.mode in ("resize_and_crop", "scale_width_and_crop")
        if crops_loaded and self.crop_size > self.load_size:
            raise GantoolError(
                f"--crop_size {self.crop_size} is larger than --load_size {self.load_size}; "
                f"with --preprocess {self.mode} the crop is cut from the loaded image"
            )


def _scale_width_size(size: Tuple[int, int], width: int, min_height: int) -> Tuple[int, int]:
    """The (width, height) classic ``__scale_width`` gives a ``size`` image (see ``_scale_width``)."""
    w, h = size
    if w == width and h >= min_height:
        return size
    return width, int(max(width * h / w, min_height))


def _scale_width(img: Image.Image, width: int, min_height: int) -> Image.Image:
    """Classic ``__scale_width``: width -> ``width``, height by aspect ratio, >= ``min_height``."""
    size = _scale_width_size(img.size, width, min_height)
    return img if size == img.size else img.resize(size, Image.BICUBIC)


def upscale_factor(size: Tuple[int, int], pre: Preprocess) -> float:
    """The most that ``pre`` enlarges either side of a ``size`` (width, height) image before cropping
    (1.0 for ``crop`` and ``none``, below 1 for a shrink); compare with ``MAX_UPSCALE``."""
    w, h = size
    if pre.mode == "resize_and_crop":
        new_w, new_h = pre.load_size, pre.load_size
    elif pre.mode in ("scale_width", "scale_width_and_crop"):
        new_w, new_h = _scale_width_size(size, pre.load_size, pre.crop_size)
    else:
        return 1.0
    return max(new_w / max(w, 1), new_h / max(h, 1))


def _random_crop(img: Image.Image, size: int, fx: float, fy: float) -> Image.Image:
    """Crop a ``size`` square with its corner at fractions ``fx``, ``fy`` of the free range."""
    w, h = img.size
    if w < size or h < size:
        raise GantoolError(
            f"the image is {w}x{h}, smaller than --crop_size {size}; use a smaller --crop_size "
            f"or --preprocess resize_and_crop"
        )
    x = min(int(fx * (w - size + 1)), w - size)
    y = min(int(fy * (h - size + 1)), h - size)
    return img.crop((x, y, x + size, y + size))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image (any channel count, 8 bit) or ``HighDepthImage`` -> float tensor (C, H, W) in [-1, 1]."""
    if isinstance(img, HighDepthImage):
        return img.to_tensor()  # 2u - 1 of its [0, 1] values, at full precision
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    return tensor / 127.5 - 1.0  # same as ToTensor then Normalize(mean 0.5, std 0.5) per channel


def transform_image(img: Image.Image, pre: Preprocess, rng: random.Random) -> torch.Tensor:
    """Apply ``pre`` to ``img`` and return a normalised tensor.

    All randomness comes from ``rng``, which always gives exactly three draws (crop x, crop y,
    flip) whatever the mode and image size: two ``random.Random`` objects with the same seed
    therefore give the same crop and flip to two images of the same size (A|B halves, an input
    and its ground truth).

    Args:
        img: PIL image in mode "RGB" or "L" (any 8-bit mode works), or a ``HighDepthImage`` (16-bit and float
            files: the same operations, resampled in float).
        pre: the preprocessing settings.
        rng: source of the random crop position and flip.

    Returns:
        Float tensor (C, H, W) in [-1, 1]; (C, crop_size, crop_size) for the cropping modes.

    Raises:
        GantoolError: ``crop`` mode on an image smaller than ``crop_size``.
    """
    fx, fy, fflip = rng.random(), rng.random(), rng.random()
    if pre.mode == "resize_and_crop":
        img = img.resize((pre.load_size, pre.load_size), Image.BICUBIC)
        img = _random_crop(img, pre.crop_size, fx, fy)
    elif pre.mode == "crop":
        img = _random_crop(img, pre.crop_size, fx, fy)
    elif pre.mode == "scale_width":
        img = _scale_width(img, pre.load_size, pre.crop_size)
    elif pre.mode == "scale_width_and_crop":
        img = _scale_width(img, pre.load_size, pre.crop_size)
        img = _random_crop(img, pre.crop_size, fx, fy)
    if pre.flip and fflip < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(img)
