"""Finding image files in folders and reading them as 8-bit RGB or grayscale PIL images.

``.npy`` arrays count as images too (H x W or H x W x C, C = 1 or 3, unsigned or signed integers or
floats); ``load_image`` squashes them to 8 bits like 16-bit and float files, and ``gantool.data.depth``
reads them, and the other deep files, at full precision (``--bit_depth``).
"""
import os
from typing import List, Optional

import numpy as np
from PIL import Image, ImageOps

from ..errors import GantoolError

# The classic list plus .webp and .npy; matched case-insensitively so ".JPG" counts too.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp", ".npy")

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
#: Pillow modes that hold more than 8 bits per pixel (one channel each); ``load_image`` squashes them
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


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


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def is_array_file(path: str) -> bool:
    """True for a ``.npy`` file name (any letter case)."""
    return path.lower().endswith(".npy")


def array_problem(shape: tuple, dtype: np.dtype) -> Optional[str]:
    """Why an array of ``shape`` and ``dtype`` is not an image gantool reads (None when it is one)."""
    if np.dtype(dtype).kind not in "uif":
        return f"unsupported array dtype {np.dtype(dtype)} (gantool reads unsigned or signed integers and floats)"
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)) or 0 in shape:
        return f"unsupported array shape {tuple(shape)}: expected H x W or H x W x C with C = 1 or 3"
    return None


def array_kind(dtype: np.dtype) -> str:
    """The depth an array is read at: "8" (uint8), "16" (uint16) or "float" (floats and other integers)."""
    return {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(np.dtype(dtype).newbyteorder("="), "float")


def read_array(path: str) -> np.ndarray:
    """A ``.npy`` image as an (H, W, C) array of its own dtype (C = 1 or 3).

    Raises:
        UnreadableImageError: missing, damaged, pickled or not image-shaped (the message says which).
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as error:  # OSError, ValueError (pickled objects, bad header), EOFError...
        raise UnreadableImageError(path, _reason(error)) from error
    if not isinstance(arr, np.ndarray):
        raise UnreadableImageError(path, "not a single array")
    problem = array_problem(arr.shape, arr.dtype)
    if problem:
        raise UnreadableImageError(path, problem)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _array_to_8bit(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) array -> uint8 with ``_to_8bit``'s rules: uint16 / 257, floats in [0, 1] * 255, wider ints
    / 257 when above 255."""
    if arr.dtype == np.uint8:
        return arr
    values = np.nan_to_num(arr.astype(np.float64))
    if arr.dtype.newbyteorder("=") == np.uint16:
        values = values / 257.0
    elif arr.dtype.kind == "f":
        if values.max(initial=0) <= 1.0:
            values = values * 255.0
    elif values.max(initial=0) > 255:
        values = values / 257.0
    return np.round(np.clip(values, 0, 255)).astype(np.uint8)


def open_image(path: str) -> Image.Image:
    """The decoded picture of an image file in its own Pillow mode, turned upright by its EXIF orientation.

    Raises:
        UnreadableImageError: the file is missing, unreadable or corrupt (the message names it).
    """
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img)  # a copy: still valid once the file is closed
    except GantoolError:
        raise
    except Exception as error:  # decoders raise many types (OSError, SyntaxError, struct.error...)
        raise UnreadableImageError(path, _reason(error)) from error


def as_8bit(img: Image.Image, channels: int, path: str) -> Image.Image:
    """A picture from ``open_image`` as ``load_image`` returns it: mode "L" (``channels`` 1) or "RGB"."""
    try:
        img = _to_8bit(img)
    except Exception as error:  # modes Pillow cannot convert raise ValueError
        raise UnreadableImageError(path, _reason(error)) from error
    return img.convert("L") if channels == 1 else img.convert("RGB")


def load_image(path: str, channels: int) -> Image.Image:
    """Read an image file as an 8-bit PIL image with ``channels`` channels.

    Grayscale, RGBA/LA (composited on white), paletted, CMYK and 16-bit/32-bit/float files are
    converted; EXIF orientation is applied so phone photos are upright. ``.npy`` arrays are squashed
    to 8 bits by the same rules (``gantool.data.depth`` reads all of these at full precision instead).

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
    if is_array_file(path):
        return array_as_8bit(read_array(path), channels)
    return as_8bit(open_image(path), channels, path)


def array_as_8bit(arr: np.ndarray, channels: int) -> Image.Image:
    """An (H, W, C) array from ``read_array`` as ``load_image`` returns it (mode "L" or "RGB", 8 bits)."""
    arr = _array_to_8bit(arr)
    img = Image.fromarray(arr[:, :, 0], "L") if arr.shape[2] == 1 else Image.fromarray(np.ascontiguousarray(arr), "RGB")
    return img.convert("L") if channels == 1 else img.convert("RGB")
