"""``gantool translate IN -o OUT --checkpoint C``: one image, a folder or a glob, with a progress bar.

8-bit images come out as 8-bit images, as always. 16-bit and float inputs (``--bit_depth``, read as the
run was trained: its ``value_range.json``) come out at their depth, under the output name when its format
can hold them (else with the extension that can, such as ``.npy``), next to an 8-bit ``<name>_preview.png``.
"""
import argparse
import glob
import os
from dataclasses import replace
from typing import Callable, List, Optional

import numpy as np
from PIL import Image

from ..data.depth import BIT_DEPTHS, RECORD, DepthPolicy, HighDepthImage, load_record, parse_value_range
from ..data.image_io import IMG_EXTENSIONS, is_image_file
from ..data.tools.scan import inspect_image
from ..data.transforms import MAX_IMAGE_SIDE
from ..errors import GantoolError
from ..io.files import atomic_write, ensure_folder
from ..viz.depth_files import save_full_depth
from ..viz.images import save_image, tensor2im
from .export import _arch_arguments, arch_kwargs
from .memory_check import check_translation_memory
from .translator import Translator, resolve_checkpoint


def input_files(source: str) -> List[str]:
    """The images named by ``source``: a file, a folder (its images, sorted, not recursive) or a glob."""

    if os.path.isfile(source):
        return [source]
    if os.path.isdir(source):
        files = sorted(os.path.join(source, f) for f in os.listdir(source) if is_image_file(f))
        if not files:
            raise GantoolError(f"{source} holds no images ({', '.join(_extensions())})")
        return files
    files = sorted(f for f in glob.glob(source) if os.path.isfile(f) and is_image_file(f))
    if not files:
        raise GantoolError(f"{source} is not an image, a folder or a pattern that matches images")
    return files


def _extensions() -> List[str]:
    return list(IMG_EXTENSIONS)


def output_paths(files: List[str], output: str, single: bool) -> List[str]:
    """Where each translation goes: ``output`` itself for one image named like an image file, else
    ``output/<input name>`` (an existing name with another extension keeps its extension)."""

    if single and is_image_file(output) and not os.path.isdir(output):
        return [output]
    names = [os.path.basename(f) for f in files]
    if len(set(names)) != len(names):
        raise GantoolError("the inputs have repeated file names; translate each folder separately")
    return [os.path.join(output, n) for n in names]


def depth_policy(checkpoint: str, bit_depth: Optional[str], value_range: Optional[str]) -> DepthPolicy:
    """How inputs are read: ``bit_depth``/``value_range`` as given, else as the checkpoint's run recorded them
    (``value_range.json`` beside the ``.pth``), else ``auto`` with no range."""
    record = load_record(os.path.dirname(os.path.abspath(resolve_checkpoint(checkpoint)))) or {}
    recorded_range = parse_value_range(record.get("value_range"))
    if recorded_range is not None:
        recorded_range = replace(recorded_range, source=f"recorded in the run's {RECORD}")
    return DepthPolicy(bit_depth or record.get("bit_depth") or "auto",
                       parse_value_range(value_range) or recorded_range)


def _save_deep(translator: Translator, image: HighDepthImage, src: str, dst: str, policy: DepthPolicy) -> str:
    """Translate a 16-bit or float picture; write it at its depth and an 8-bit preview; returns the file written."""
    out = translator.translate_tensor(image.to_tensor()[None])  # (1, output_nc, H, W) in [-1, 1]
    spec = policy.output_for(src, out.shape[1])
    base, ext = os.path.splitext(dst)
    if spec is None:
        raise GantoolError(f"the generator makes {out.shape[1]} channels, which is not an image; translate "
                           "tensors from Python to get them")
    if not spec.can_write(ext, out.shape[1]):
        dst = base + spec.ext  # e.g. a 16-bit colour output of a 16-bit gray PNG: only .npy holds it
    save_full_depth(out, dst, spec)
    save_image(tensor2im(out), base + "_preview.png")
    return dst


#: --overlap when not given (or half of a smaller --tile)
DEFAULT_OVERLAP = 32


def check_tiling(tile: Optional[int], overlap: Optional[int]) -> int:
    """The overlap to use (``overlap``, or the default for ``tile`` when None); one line for a ``--tile`` or
    ``--overlap`` no translation can use, before anything is read.

    Tiles step by ``tile - overlap`` pixels (``tiling.tile_starts``) and blend over at most half a tile at each
    edge (``tiling.blend_window``): an overlap above ``tile // 2`` gives no smoother seams, only more tiles, and
    one of ``tile`` or more would not advance at all.
    """
    if overlap is not None and overlap < 0:
        raise GantoolError(f"--overlap must not be negative, got {overlap}")
    if tile is None:
        return DEFAULT_OVERLAP if overlap is None else overlap
    if tile <= 0:
        raise GantoolError(f"--tile must be positive, got {tile}")
    if tile > MAX_IMAGE_SIDE:
        raise GantoolError(f"--tile {tile} is larger than {MAX_IMAGE_SIDE} pixels: one RGB tile of that size takes "
                           f"{tile * tile * 3 * 4 / 2**30:,.0f} GiB as floats; tiles of 256 to 1024 pixels are usual")
    if overlap is None:
        return min(DEFAULT_OVERLAP, tile // 2)
    if overlap > tile // 2:
        step = (f"tiles would step by only {tile - overlap} pixels (--tile minus --overlap) while seams blend over at "
                f"most half a tile ({tile // 2}), so the extra overlap only multiplies the tiles" if overlap < tile
                else "tiles step by --tile minus --overlap pixels and would not advance")
        raise GantoolError(f"--overlap {overlap} is more than half of --tile {tile}: {step}; use --overlap "
                           f"{tile // 2} or less")
    return overlap


def translate_main(argv: List[str], log: Callable[[str], None] = print) -> None:
    """Parse ``argv`` and translate the images."""
    from tqdm import tqdm


    parser = argparse.ArgumentParser(prog="gantool translate",
                                     description="Translate images with a trained generator (see README).")
    parser.add_argument("input", help="an image, a folder of images, or a glob such as 'photos/*.jpg' (quoted)")
    parser.add_argument("-o", "--output", required=True,
                        help="output image (for one input) or folder (created); files keep their names")
    parser.add_argument("-c", "--checkpoint", required=True,
                        help="a generator .pth, a checkpoint folder, or a shipped model name (toy_day2night_pretrained)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tile", type=int, default=None,
                        help="translate in overlapping tiles of this size (large images); default: whole images")
    parser.add_argument("--overlap", type=int, default=None,
                        help=f"pixels shared by neighbouring tiles, at most half of --tile (default: "
                             f"{DEFAULT_OVERLAP}, or half of a smaller --tile)")
    parser.add_argument("--eval", action="store_true",
                        help="test.py --eval semantics: BatchNorm running statistics, no dropout")
    parser.add_argument("--bit_depth", default=None, choices=BIT_DEPTHS,
                        help="how deep inputs are read (default: as the checkpoint's run recorded, else auto: "
                             "16-bit and float files at full depth, written back at it)")
    parser.add_argument("--value_range", default=None,
                        help="LO,HI of float inputs (default: the run's value_range.json)")
    _arch_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="start even when the memory estimate says it does not fit (see README, Memory)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    args = parser.parse_args(argv)
    overlap = check_tiling(args.tile, args.overlap)
    files = input_files(args.input)
    outputs = output_paths(files, args.output, single=os.path.isfile(args.input))
    for folder in sorted({os.path.dirname(os.path.abspath(dst)) for dst in outputs}):
        ensure_folder(folder, "-o")  # before the model loads: a bad -o costs nothing
    translator = Translator.load(args.checkpoint, args.device, eval_mode=args.eval, tile=args.tile,
                                 overlap=overlap, **arch_kwargs(args))
    check_translation_memory(translator, files, args.force, log)  # before an image is decoded
    policy = depth_policy(args.checkpoint, args.bit_depth, args.value_range)
    for k, (src, dst) in enumerate(zip(tqdm(files, desc="translating", unit="image", disable=None), outputs)):
        if policy.bit_depth in ("16", "float") and inspect_image(src).squashed:
            raise GantoolError(f"{src} is a 16-bit RGB file, which Pillow reads at 8 bits: save it as .npy (H x W x 3 "
                               "uint16), or pass --bit_depth auto to translate it at 8 bits")
        image = policy.read(src, translator.input_nc)
        try:
            if isinstance(image, HighDepthImage):
                outputs[k] = _save_deep(translator, image, src, dst, policy)
            elif dst.lower().endswith(".npy"):  # a uint8 array in, a uint8 array out
                result = np.asarray(translator(image))
                atomic_write(dst, lambda f: np.save(f, result))
            else:
                result, fmt = translator(image), Image.registered_extensions()[os.path.splitext(dst)[1].lower()]
                atomic_write(dst, lambda f: result.save(f, format=fmt))  # a full disk leaves no half image
        except OSError as err:
            raise GantoolError(f"cannot write {dst}: {err.strerror or err}") from None
        except (KeyError, ValueError) as err:  # PIL: unknown extension
            raise GantoolError(f"cannot write {dst}: {err}") from None
    log(f"gantool: translated {len(files)} image{'s' if len(files) != 1 else ''} into "
        f"{outputs[0] if len(outputs) == 1 else args.output}")
