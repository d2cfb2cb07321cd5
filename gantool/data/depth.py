"""``--bit_depth``: 16-bit and float images read at full precision into the networks' [-1, 1].

One scaling, used both ways so that outputs come back in their input's units (a pixel value v becomes
u in [0, 1], and the networks see 2u - 1):

- 8-bit files: u = v / 255, by the 8-bit path of old (PIL images, ``transforms.to_tensor``): unchanged;
- 16-bit files (Pillow modes I;16, I;16B, I; uint16 ``.npy``): u = v / 65535;
- float files (32-bit float TIFF, mode F; float or signed-integer ``.npy``): u = (v - LO) / (HI - LO),
  clipped to [0, 1], with one range per run: ``--value_range LO,HI``, else the min/max over the
  dataset's images (train.py: the training images).

``--bit_depth auto`` (the default) takes each file's depth from the file; ``16`` reads 8-bit files as
v / 255 too and refuses float files; ``float`` maps every file's values, 8- and 16-bit ones included,
through the range (e.g. 12-bit scans stored in 16-bit PNGs); ``8`` squashes every file to 8 bits, as
gantool always did. train.py records the choice and the range in ``checkpoints/<name>/value_range.json``
(``save_record``); test.py and ``gantool translate`` read it back (``load_record``), and write their outputs
at the same depth (``DepthPolicy.output_for``, ``gantool.viz.depth_files``).

16-bit RGB PNG/TIFF files are the exception: Pillow decodes them at 8 bits, so ``auto`` reads them so
(with a warning) and ``16``/``float`` refuse them; ``.npy`` holds 16-bit colour images.
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from ..errors import GantoolError
from ..io.files import atomic_write_text
from ..viz.depth_files import FullDepth
from .image_io import (DEEP_MODES, array_as_8bit, array_kind, as_8bit, is_array_file, load_image, open_image,
                       read_array)
from .tools.scan import inspect_image

BIT_DEPTHS = ("auto", "8", "16", "float")
#: the file name train.py records the depth and range under, in the run folder
RECORD = "value_range.json"
_LUMA = (0.299, 0.587, 0.114)  # Pillow's RGB -> L weights (ITU-R 601-2)


@dataclass(frozen=True)
class ValueRange:
    """The float values mapped to [0, 1] (and to the networks' [-1, 1]): ``lo`` -> 0, ``hi`` -> 1.

    Args:
        lo, hi: finite numbers, ``lo < hi``.
        source: where the range comes from, for messages (not compared).
    """

    lo: float
    hi: float
    source: str = field(default="--value_range", compare=False)

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise GantoolError(f"the value range {self.lo:g}..{self.hi:g} ({self.source}) is empty; "
                               "give --value_range LO,HI with LO < HI")

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Values in the file's units -> float64 in [0, 1] (outside the range: clipped; NaN: 0)."""
        unit = (values.astype(np.float64) - self.lo) / (self.hi - self.lo)
        return np.clip(np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    def text(self) -> str:
        """``LO,HI`` exactly (``repr`` keeps every bit of a float), as ``--value_range`` takes it."""
        return f"{self.lo!r},{self.hi!r}"


def parse_value_range(value: Union[None, str, Sequence[float], ValueRange]) -> Optional[ValueRange]:
    """``--value_range``: ``"LO,HI"`` (or a pair, or a ValueRange) -> ValueRange; None stays None.

    Raises:
        GantoolError: not two numbers, or ``LO >= HI`` (one line with an example).
    """
    if value is None or isinstance(value, ValueRange):
        return value
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise GantoolError(f"--value_range {value!r} must be two numbers LO,HI, e.g. --value_range=-1024,3071"
                           ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise GantoolError(f"--value_range {value!r} needs finite LO < HI, e.g. --value_range=-1024,3071")
    return ValueRange(lo, hi)


def check_bit_depth(bit_depth: str) -> str:
    """``bit_depth`` itself when it is one of ``BIT_DEPTHS``, else a GantoolError naming them."""
    if bit_depth not in BIT_DEPTHS:
        raise GantoolError(f"unknown --bit_depth '{bit_depth}'; choose from: {'|'.join(BIT_DEPTHS)}")
    return bit_depth


class HighDepthImage:
    """A picture at full precision, with the part of the PIL image API that ``transforms`` uses.

    ``size``, ``resize``, ``crop`` and ``transpose`` behave as on a PIL image, so ``--preprocess`` treats
    it like an 8-bit picture; resizing uses Pillow's own filters in 32-bit float (mode "F", one channel at a
    time) and clips to [0, 1] as 8-bit pictures saturate at 0 and 255.

    Args:
        array: (H, W, C) values in [0, 1], C = 1 or 3 (stored as float32).
        kind: "16" or "float": the depth it was read at, and the one its outputs are written at.
    """

    def __init__(self, array: np.ndarray, kind: str):
        self.array = np.ascontiguousarray(array, dtype=np.float32)  # (H, W, C)
        self.kind = kind

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height), like ``PIL.Image.size``."""
        return self.array.shape[1], self.array.shape[0]

    @property
    def channels(self) -> int:
        return self.array.shape[2]

    def resize(self, size: Tuple[int, int], resample: int = Image.BICUBIC) -> "HighDepthImage":
        """Resampled to ``size`` = (width, height) with a Pillow filter."""
        planes = [np.asarray(Image.fromarray(self.array[:, :, c]).resize(size, resample))
                  for c in range(self.channels)]
        return HighDepthImage(np.clip(np.stack(planes, 2), 0.0, 1.0), self.kind)

    def crop(self, box: Tuple[int, int, int, int]) -> "HighDepthImage":
        """The (left, upper, right, lower) box, which must lie inside the picture."""
        x0, y0, x1, y1 = box
        if not (0 <= x0 <= x1 <= self.size[0] and 0 <= y0 <= y1 <= self.size[1]):
            raise ValueError(f"crop box {box} is outside the {self.size[0]}x{self.size[1]} picture")
        return HighDepthImage(self.array[y0:y1, x0:x1], self.kind)

    def transpose(self, method: int) -> "HighDepthImage":
        """Mirrored: ``Image.FLIP_LEFT_RIGHT`` or ``Image.FLIP_TOP_BOTTOM``."""
        if method == Image.FLIP_LEFT_RIGHT:
            return HighDepthImage(self.array[:, ::-1], self.kind)
        if method == Image.FLIP_TOP_BOTTOM:
            return HighDepthImage(self.array[::-1], self.kind)
        raise ValueError(f"HighDepthImage.transpose supports the two flips, not method {method}")

    def with_channels(self, channels: int) -> "HighDepthImage":
        """1 or 3 channels: gray is repeated, colour becomes gray with Pillow's "L" weights."""
        if channels == self.channels:
            return self
        if channels == 3:
            return HighDepthImage(np.repeat(self.array, 3, axis=2), self.kind)
        luma = sum(w * self.array[:, :, c] for c, w in enumerate(_LUMA))
        return HighDepthImage(luma[:, :, None], self.kind)

    def to_tensor(self) -> torch.Tensor:
        """(C, H, W) float32 in [-1, 1]."""
        return torch.from_numpy(self.array.transpose(2, 0, 1).copy()) * 2.0 - 1.0


def to_channels(img: Union[Image.Image, HighDepthImage], channels: int):
    """A picture from ``read_image`` with ``channels`` (1 or 3) channels: mode "L"/"RGB" for 8-bit ones."""
    if isinstance(img, HighDepthImage):
        return img.with_channels(channels)
    return img.convert("L" if channels == 1 else "RGB")


def _pil_values(img: Image.Image, path: str) -> Tuple[np.ndarray, str]:
    if img.mode not in DEEP_MODES:
        arr = np.asarray(as_8bit(img, 1 if img.mode in ("1", "L", "LA", "La") else 3, path))
        return (arr[:, :, None] if arr.ndim == 2 else arr), "8"
    return np.asarray(img)[:, :, None], "float" if img.mode == "F" else "16"


def file_values(path: str) -> Tuple[np.ndarray, str]:
    """A file's pixel values in its own units as (H, W, C), and its depth: "8", "16" or "float".

    8-bit files give their 8-bit reading (palettes, alpha, CMYK converted as ``load_image`` does);
    16-bit RGB PNG/TIFF files are 8-bit here (Pillow decodes them so).
    """
    if is_array_file(path):
        arr = read_array(path)
        return arr, array_kind(arr.dtype)
    return _pil_values(open_image(path), path)


def _unit_16(values: np.ndarray, path: str) -> np.ndarray:
    if values.dtype.kind == "f" or values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        raise GantoolError(f"{path} holds values {lo:g}..{hi:g}, which are not 16-bit (0..65535); "
                           "read it with --bit_depth float (and --value_range LO,HI)")
    return values.astype(np.float64) / 65535.0


def read_image(path: str, channels: int, bit_depth: str = "auto",
               value_range: Optional[ValueRange] = None) -> Union[Image.Image, HighDepthImage]:
    """Read an image file for the networks, at the depth ``bit_depth`` asks for.

    Args:
        path: an image file or ``.npy`` array.
        channels: 1 or 3.
        bit_depth: one of ``BIT_DEPTHS`` (see the module docstring).
        value_range: the range of float values (needed for float files, and for every file with "float").

    Returns:
        An 8-bit PIL image, exactly ``load_image(path, channels)``, for 8-bit files under ``auto`` and for
        every file under ``8``; else a ``HighDepthImage`` with ``channels`` channels.

    Raises:
        UnreadableImageError: the file cannot be decoded.
        GantoolError: a depth that ``bit_depth`` cannot read (float files under ``16``, 32-bit integers
            beyond 16 bits) or float values without a ``value_range``.
    """
    if bit_depth == "8":
        return load_image(path, channels)
    if is_array_file(path):
        values = read_array(path)
        kind = array_kind(values.dtype)
        if bit_depth == "auto" and kind == "8":
            return array_as_8bit(values, channels)
    else:
        img = open_image(path)
        if bit_depth == "auto" and img.mode not in DEEP_MODES:
            return as_8bit(img, channels, path)  # the 8-bit path, byte for byte
        values, kind = _pil_values(img, path)
    if bit_depth == "float" or kind == "float":
        if bit_depth == "16":
            raise GantoolError(f"{path} holds float values; --bit_depth 16 reads integer images: use --bit_depth "
                               "float (or auto) with --value_range LO,HI")
        if value_range is None:
            raise GantoolError(f"{path} holds float values but no value range is known: give --value_range LO,HI "
                               f"(train.py records it in checkpoints/<name>/{RECORD})")
        unit, kind = value_range.to_unit(values), "float"
    elif kind == "8":  # --bit_depth 16 on an 8-bit file: the same [0, 1] value, written back at 16 bits
        unit, kind = values.astype(np.float64) / 255.0, "16"
    else:
        unit = _unit_16(values, path)
    return HighDepthImage(unit, kind).with_channels(channels)


def value_extremes(paths: Iterable[str]) -> Optional[Tuple[float, float, int]]:
    """(min, max, files) of the finite pixel values of ``paths`` in their own units; None without files.

    Every file is decoded once: this is what ``--value_range`` saves on large float datasets.
    """
    lo, hi, count = math.inf, -math.inf, 0
    for path in paths:
        values = file_values(path)[0]
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        count += 1
    return (lo, hi, count) if count and lo <= hi else None


@dataclass(frozen=True)
class DepthPolicy:
    """How a run reads its images and writes its outputs: ``--bit_depth`` and the value range.

    Args:
        bit_depth: one of ``BIT_DEPTHS``.
        value_range: the float range (None when no file needs one).
    """

    bit_depth: str = "auto"
    value_range: Optional[ValueRange] = None

    def read(self, path: str, channels: int) -> Union[Image.Image, HighDepthImage]:
        """``read_image`` with this policy."""
        return read_image(path, channels, self.bit_depth, self.value_range)

    def kind_of(self, path: str) -> str:
        """The depth ``path`` is read at: "8", "16" or "float" (a header read for ``auto``)."""
        if self.bit_depth != "auto":
            return self.bit_depth
        info = inspect_image(path)
        return info.depth if info.ok and not info.squashed else "8"

    def output_for(self, path: str, channels: int) -> Optional[FullDepth]:
        """How an output made from input file ``path`` with ``channels`` channels is saved at full depth;
        None for 8-bit inputs (their outputs are the 8-bit PNGs of old)."""
        kind = self.kind_of(path)
        if kind == "8" or channels not in (1, 3):
            return None
        if kind == "float" and self.value_range is None:
            return None  # nothing was read as float: read_image would have refused the file
        lo, hi = (0.0, 65535.0) if kind == "16" else (self.value_range.lo, self.value_range.hi)
        return FullDepth.for_input(kind, os.path.splitext(path)[1], channels, lo, hi)


def save_record(run_dir: str, bit_depth: str, value_range: Optional[ValueRange], files: Dict[str, int]) -> str:
    """Write ``<run_dir>/value_range.json``: how the run's images were scaled; returns its path.

    Args:
        run_dir: the run folder (``checkpoints/<name>``).
        bit_depth: the run's ``--bit_depth``.
        value_range: the float range, or None.
        files: images per depth read ({"8-bit RGB": 3, "16-bit gray": 5, ...}).
    """
    record = {
        "bit_depth": bit_depth,
        "value_range": None if value_range is None else [value_range.lo, value_range.hi],
        "value_range_from": None if value_range is None else value_range.source,
        "scaling": {"8-bit": "v / 255", "16-bit": "v / 65535",
                    "float": "(v - lo) / (hi - lo), clipped to [0, 1]", "networks": "2 u - 1 in [-1, 1]"},
        "files": files,
    }
    path = os.path.join(run_dir, RECORD)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    return path


def load_record(run_dir: str) -> Optional[Dict[str, Optional[str]]]:
    """``{"bit_depth": ..., "value_range": "LO,HI" or None}`` from ``<run_dir>/value_range.json``; None without one.

    Raises:
        GantoolError: the file exists but is not a record gantool wrote.
    """
    path = os.path.join(run_dir, RECORD)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        bit_depth = check_bit_depth(str(record["bit_depth"]))
        pair = record.get("value_range")
        value_range = None if pair is None else parse_value_range([float(v) for v in pair])
    except (OSError, ValueError, KeyError, TypeError, GantoolError) as error:
        raise GantoolError(f"{path} is damaged ({error}); delete it and pass --bit_depth/--value_range") from None
    return {"bit_depth": bit_depth, "value_range": None if value_range is None else value_range.text()}

