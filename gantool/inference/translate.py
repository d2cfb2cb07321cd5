"""``gantool translate IN -o OUT --checkpoint C``: one image, a folder or a glob, with a progress bar."""
import argparse
import glob
import os
from typing import Callable, List

from ..data.image_io import IMG_EXTENSIONS, is_image_file, load_image
from ..errors import GantoolError
from .export import _arch_arguments, arch_kwargs
from .translator import Translator


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
    parser.add_argument("--overlap", type=int, default=32, help="pixels shared by neighbouring tiles")
    parser.add_argument("--eval", action="store_true",
                        help="test.py --eval semantics: BatchNorm running statistics, no dropout")
    _arch_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    args = parser.parse_args(argv)
    if args.tile is not None and args.tile <= 0:
        raise GantoolError(f"--tile must be positive, got {args.tile}")
    files = input_files(args.input)
    outputs = output_paths(files, args.output, single=os.path.isfile(args.input))
    translator = Translator.load(args.checkpoint, args.device, eval_mode=args.eval, tile=args.tile,
                                 overlap=args.overlap, **arch_kwargs(args))
    for src, dst in zip(tqdm(files, desc="translating", unit="image", disable=None), outputs):
        image = load_image(src, translator.input_nc)
        folder = os.path.dirname(os.path.abspath(dst))
        try:
            os.makedirs(folder, exist_ok=True)
            translator(image).save(dst)
        except OSError as err:
            raise GantoolError(f"cannot write {dst}: {err.strerror or err}") from None
        except (KeyError, ValueError) as err:  # PIL: unknown extension
            raise GantoolError(f"cannot write {dst}: {err}") from None
    log(f"gantool: translated {len(files)} image{'s' if len(files) != 1 else ''} into "
        f"{outputs[0] if len(outputs) == 1 else args.output}")
