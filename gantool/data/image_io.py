"""Finding image files in folders and reading them as 8-bit RGB or grayscale PIL images."""
import os
from typing import List

import numpy as np
from PIL import Image, ImageOps

from ..errors import GantoolError

# The classic list plus .webp; matched case-insensitively so ".JPG" counts too.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


class UnreadableImageError(GantoolError):
    """An image file that cannot be decoded (empty, truncated, not an image); ``path`` names it."""

    def __init__(self, path: str, reason: str = ""):
        # One-argument form too: DataLoader workers re-raise exceptions as ``type(message)``.
        super().__init__(f"cannot read image {path}: {reason}" if reason else path)
        self.path, self.reason = path, reason


def is_image_file(filename: str) -> bool:
    """True when ``filename`` ends in one of ``IMG_EXTENSIONS`` (any letter case)."""
    return filename.lower().endswith(IMG_EXTENSIONS)


def make_dataset(dir: str, max_dataset_size: float = float("inf")) -> List[str]:
    """List the image files under ``dir``, recursively, sorted by path.

    Hidden files and folders (names starting with ".") are skipped: they are usually editor
    or macOS metadata (``._x.png``) that look like images but are not.

    Args:
        dir: folder to search.
        max_dataset_size: keep at most this many paths (the first ones in sorted order).

    Returns:
        Sorted list of paths (``str``); empty when the folder holds no images.
    """
    if not os.path.isdir(dir):
        raise GantoolError(f"{dir} is not a folder")
    images = []
    for folder, subdirs, files in os.walk(dir, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        images.extend(
            os.path.join(folder, f) for f in files if is_image_file(f) and not f.startswith(".")
        )
    images.sort()  # os.walk order depends on the file system; sorting makes runs repeatable
    if max_dataset_size is None or max_dataset_size >= len(images):
        return images
    return images[: int(max_dataset_size)]


def _to_8bit(img: Image.Image) -> Image.Image:
    """Turn any Pillow mode into "RGB" or "L" without losing the picture."""
    if img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64) / 257.0  # 65535 -> 255
        return Image.fromarray(np.round(arr).astype(np.uint8), "L")
    if img.mode == "I":
        # 32-bit mode: in practice a 16-bit file (older Pillow, PNG) or an 8-bit range stored wide.
        arr = np.asarray(img, dtype=np.float64)
        if arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.round(np.clip(arr, 0, 255)).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if arr.max(initial=0) <= 1.0:  # float images are usually in [0, 1]
            arr = arr * 255.0
        return Image.fromarray(np.round(np.clip(arr, 0, 255)).astype(np.uint8), "L")
    if img.mode in _ALPHA_MODES or img.mode == "P":
        # Paletted images go through RGBA so that a transparent palette entry becomes white.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("RGB", "L"):
        return img
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGB")  # CMYK, YCbCr, ...; modes Pillow cannot convert raise ValueError


def load_image(path: str, channels: int) -> Image.Image:
    """Read an image file as an 8-bit PIL image with ``channels`` channels.

    Grayscale, RGBA/LA (composited on white), paletted, CMYK and 16-bit/32-bit/float files are
    converted; EXIF orientation is applied so phone photos are upright.

    Args:
        path: image file.
        channels: 3 for mode "RGB" or 1 for mode "L".

    Returns:
        A loaded ``PIL.Image.Image`` in mode "RGB" or "L".

    Raises:
        UnreadableImageError: the file is missing, unreadable or corrupt (the message names it).
        GantoolError: ``channels`` is not 1 or 3.
    """
    if channels not in (1, 3):
        raise GantoolError(f"image files can be read with 1 or 3 channels, not {channels}")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_8bit(img)
    except GantoolError:
        raise
    except Exception as error:  # decoders raise many types (OSError, SyntaxError, struct.error...)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnreadableImageError(path, reason) from error
    return img.convert("L") if channels == 1 else img.convert("RGB")
