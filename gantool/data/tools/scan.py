"""Looking at image files before training: readable or not, mode and size, in one cheap read each.

``inspect_image(path)`` opens a file the way a dataset will (Pillow identifies it from its header,
which also gives the mode and size) and, for PNG and JPEG, reads the last bytes to see that the
file ends where the format says it ends. A file cut short by an interrupted download or copy,
the most common corruption, fails that test. The check reads a few kilobytes per file whatever
its size (about 30 µs per file on a warm disk cache); ``full=True`` decodes every pixel instead,
which also finds damage in the middle of a file, at the cost of a full decode.

It also tells each file's bit depth ("8", "16" or "float"): from the Pillow mode, and for RGB files from
the PNG header's bit depth or the TIFF BitsPerSample tag (Pillow decodes 16-bit RGB at 8 bits); for
``.npy`` arrays from the array header, which is all that is read of them.
"""
import contextlib
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..image_io import DEEP_MODES, array_kind, array_problem

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk every PNG ends with
_JPEG_END = b"\xff\xd9"  # EOI marker; some cameras append data after it, hence the fallback decode


@dataclass
class ImageInfo:
    """What ``inspect_image`` learned about one file.

    Attributes:
        path: the file.
        problem: why the file cannot be used ("empty file", "not an image", "truncated ..."),
            or None for a usable image.
        mode: Pillow mode ("RGB", "L", "RGBA", "P", "CMYK", "I;16", ...), "" when unreadable.
        size: (width, height), (0, 0) when unreadable.
            For ``.npy`` arrays: "L"/"RGB" for uint8, else the dtype ("uint16", "float32x3" for colour).
        size: (width, height), (0, 0) when unreadable.
        format: Pillow format name ("PNG", "JPEG", ...) or "NPY", "" when unreadable.
        depth: bits per sample as stored: "8", "16" or "float"; "" when unreadable.
        gray: one channel (gray, with or without alpha) rather than colour.
    """

    path: str
    problem: Optional[str] = None
    mode: str = ""
    size: Tuple[int, int] = (0, 0)
    format: str = ""
    depth: str = ""
    gray: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def squashed(self) -> bool:
        """A 16-bit colour PNG/TIFF, which Pillow (and so gantool) reads at 8 bits."""
        return self.depth == "16" and self.mode not in DEEP_MODES and self.format != "NPY"

    def depth_label(self) -> str:
        """"8-bit RGB", "16-bit gray", "float gray", "16-bit RGB (read at 8 bits)"..."""
        label = ("float" if self.depth == "float" else f"{self.depth}-bit") + (" gray" if self.gray else " RGB")
        return label + (" (read at 8 bits)" if self.squashed else "")


def _first_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:160]


def _decode_error(path: str) -> Optional[str]:
    """None when every pixel of ``path`` decodes, else the decoder's complaint."""
    try:
        with Image.open(path) as img:
            img.load()
        return None
    except Exception as error:  # decoders raise OSError, SyntaxError, ValueError, struct.error...
        return _first_line(error)


def _pil_depth(img: Image.Image, f) -> str:
    """"8", "16" or "float" for an open Pillow image of the open file ``f``."""
    if img.mode == "F":
        return "float"
    if img.mode in DEEP_MODES:
        return "16"
    if img.format == "PNG":
        f.seek(24)  # IHDR's bit depth: 8 signature + 4 length + 4 type + 4 width + 4 height bytes in
        return "16" if f.read(1) == b"\x10" else "8"
    if img.format == "TIFF":
        bits = getattr(img, "tag_v2", {}).get(258, 8)  # BitsPerSample
        return "16" if max(bits if isinstance(bits, tuple) else (bits,)) > 8 else "8"
    return "8"


def inspect_array(path: str, full: bool = False) -> ImageInfo:
    """``inspect_image`` for a ``.npy`` file: its header (shape, dtype) and its length; ``full`` loads it."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            start = f.tell()
        problem = array_problem(shape, dtype)
        if problem is None and dtype.hasobject:
            problem = "holds Python objects, not numbers"
    except OSError as error:
        return ImageInfo(path, f"cannot be read ({error.strerror or _first_line(error)})")
    except Exception:  # ValueError: not a .npy header
        return ImageInfo(path, "not an image file (not a .npy array)")
    if problem:
        return ImageInfo(path, problem)
    channels = shape[2] if len(shape) == 3 else 1
    kind = array_kind(dtype)
    if kind == "8":
        mode = "L" if channels == 1 else "RGB"
    else:
        mode = dtype.name + ("x3" if channels == 3 else "")
    info = ImageInfo(path, None, mode, (shape[1], shape[0]), "NPY", kind, channels == 1)
    if os.path.getsize(path) < start + int(np.prod(shape)) * dtype.itemsize:
        info.problem = "truncated .npy file (shorter than its header says)"
    elif full:
        try:
            np.load(path, allow_pickle=False)
        except Exception as error:
            info.problem = f"cannot be decoded: {_first_line(error)}"
    return info


@contextlib.contextmanager
def _header_only():
    """Let ``Image.open`` read a huge image's header (it decodes nothing) so that its size can be named; Pillow's
    bomb check would otherwise refuse it without saying how large it is. Restores the limit afterwards."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def inspect_image(path: str, full: bool = False) -> ImageInfo:
    """Check that ``path`` is a usable image and read its mode and size.

    Args:
        path: the image file.
        full: decode every pixel (slower; also finds damage inside a file whose ends look right).

    Returns:
        An ``ImageInfo``; ``problem`` says what is wrong, in words fit for a one-line message.
    """
    try:
        nbytes = os.path.getsize(path)
        if nbytes == 0:
            return ImageInfo(path, "empty file (0 bytes)")
        if path.lower().endswith(".npy"):
            return inspect_array(path, full)
        with open(path, "rb") as f:
            try:
                with _header_only(), Image.open(f) as img:
                    gray = img.mode in ("1", "L", "LA", "La") or img.mode in DEEP_MODES
                    info = ImageInfo(path, None, img.mode, img.size, img.format or "", _pil_depth(img, f), gray)
            except Exception:  # UnidentifiedImageError, or a header that breaks the parser
                return ImageInfo(path, "not an image file (Pillow cannot identify it)")
            pixels, limit = info.size[0] * info.size[1], Image.MAX_IMAGE_PIXELS
            if limit and pixels > limit:
                # Pillow would decode it (into gigabytes) with a warning, or refuse it above twice the limit.
                info.problem = (f"{info.size[0]}x{info.size[1]} = {pixels / 1e6:,.0f} M pixels, more than the "
                                f"{limit / 1e6:,.0f} M Pillow decodes safely (its decompression-bomb limit)")
                return info
            if info.format in ("PNG", "JPEG") and not full:
                f.seek(max(0, nbytes - 64))
                tail = f.read()
                ends_well = tail.endswith(_PNG_END) if info.format == "PNG" else _JPEG_END in tail
                if not ends_well:
                    # Cheap test failed: decode to tell a truncated file from one with a trailer.
                    reason = _decode_error(path)
                    if reason:
                        info.problem = f"truncated or damaged {info.format} file: {reason}"
    except OSError as error:
        return ImageInfo(path, f"cannot be read ({error.strerror or _first_line(error)})")
    if full and info.ok:
        reason = _decode_error(path)
        info.problem = f"cannot be decoded: {reason}" if reason else None
    return info


def scan_images(paths: Iterable[str], full: bool = False, workers: int = 0) -> List[ImageInfo]:
    """``inspect_image`` on every path, in order; ``workers > 1`` spreads the files over processes.

    Args:
        paths: image files.
        full: decode every pixel (see ``inspect_image``).
        workers: worker processes; 0 or 1 checks in this process.
    """
    paths = list(paths)
    if workers > 1 and len(paths) > 256:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(partial(inspect_image, full=full), paths, chunksize=256))
    return [inspect_image(p, full) for p in paths]
