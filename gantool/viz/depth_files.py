"""Outputs written at their input's depth (16-bit PNG/TIFF, float TIFF, ``.npy``), next to the 8-bit previews.

The inverse of ``gantool.data.depth``'s scaling: an output t in [-1, 1] becomes u = (t + 1) / 2 in [0, 1],
then the input's units: 16-bit files round(u * 65535) as uint16, float files lo + u * (hi - lo) as float32
(lo, hi: the run's value range). Pillow writes gray 16-bit PNG/TIFF and gray float TIFF; colour outputs at
these depths, and outputs of ``.npy`` inputs, are ``.npy`` arrays ((H, W) gray, (H, W, 3) colour).
"""
import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import GantoolError
from ..io.files import atomic_write

_GRAY_EXTS = {"16": (".png", ".tif", ".tiff"), "float": (".tif", ".tiff")}
_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass(frozen=True)
class FullDepth:
    """How one output is stored at full depth.

    Args:
        kind: "16" (uint16 values) or "float" (float32 values).
        ext: ".png", ".tif", ".tiff" (gray only) or ".npy".
        lo, hi: the units of u = 0 and u = 1 (0 and 65535 for "16").
    """

    kind: str
    ext: str
    lo: float = 0.0
    hi: float = 65535.0

    @staticmethod
    def for_input(kind: str, input_ext: str, channels: int, lo: float, hi: float) -> "FullDepth":
        """The format matching an input file with extension ``input_ext``, for an output of ``channels``."""
        ext = input_ext.lower()
        if ext != ".npy" and channels == 1:
            ext = ext if ext in _GRAY_EXTS[kind] else _GRAY_EXTS[kind][0]
        else:
            ext = ".npy"  # Pillow holds no 16-bit or float colour picture
        return FullDepth(kind, ext, lo, hi)

    @property
    def suffix(self) -> str:
        """What full-depth files add to their preview's name: ``_16bit`` or ``_float``."""
        return "_16bit" if self.kind == "16" else "_float"

    def file_name(self, base: str) -> str:
        """``<base>_16bit.png`` ...: the full-depth file beside the preview ``<base>.png``."""
        return base + self.suffix + self.ext

    def can_write(self, ext: str, channels: int) -> bool:
        """True when a file named ``*<ext>`` can hold this output at full depth."""
        return ext.lower() == ".npy" or (channels == 1 and ext.lower() in _GRAY_EXTS[self.kind])

    def values(self, image: torch.Tensor) -> np.ndarray:
        """A (C, H, W) or (1, C, H, W) output in [-1, 1] -> the input's units, (H, W) gray or (H, W, 3)."""
        t = image[0] if image.dim() == 4 else image
        if t.dim() != 3 or t.shape[0] not in (1, 3):
            raise GantoolError(f"a full-depth image must be (C, H, W) with C = 1 or 3, got {tuple(image.shape)}")
        t = torch.nan_to_num(t.detach().to("cpu", torch.float64), nan=0.0).clamp(-1.0, 1.0)
        unit = ((t + 1.0) / 2.0).permute(1, 2, 0).numpy()  # (H, W, C)
        if self.kind == "16":
            arr = np.round(unit * 65535.0).astype(np.uint16)
        else:
            arr = (self.lo + unit * (self.hi - self.lo)).astype(np.float32)
        return arr[:, :, 0] if arr.shape[2] == 1 else arr


def save_full_depth(image: torch.Tensor, path: str, spec: FullDepth) -> None:
    """Write ``image`` ((C, H, W) or (1, C, H, W) in [-1, 1]) to ``path`` at ``spec``'s depth, atomically.

    Raises:
        GantoolError: ``path``'s extension cannot hold the image at this depth.
    """
    arr = spec.values(image)
    ext = os.path.splitext(path)[1].lower()
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if not spec.can_write(ext, channels):
        raise GantoolError(f"{path}: a {'16-bit' if spec.kind == '16' else 'float'} "
                           f"{'gray' if channels == 1 else 'colour'} image cannot be saved as {ext or 'that'}; "
                           f"use {' or '.join(_GRAY_EXTS[spec.kind] + ('.npy',) if channels == 1 else ('.npy',))}")
    if ext == ".npy":
        atomic_write(path, lambda f: np.save(f, arr))
    else:
        picture = Image.fromarray(arr)  # uint16 -> mode I;16, float32 -> mode F
        atomic_write(path, lambda f: picture.save(f, format=_FORMATS[ext]))
