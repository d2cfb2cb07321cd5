"""The memory check of ``gantool translate`` and ``gantool export``: the generator's pass over the largest
input traced on fake tensors (``engine/memory.py``), before any image is decoded."""
from typing import Callable, List, Optional

import torch

from ..data.tools.scan import inspect_image
from ..engine import memory
from .translator import Translator


def _where(device: torch.device) -> str:
    return "on the CPU" if device.type == "cpu" else f"on {device}"


def translation_estimate(translator: Translator, height: int, width: int, tile: Optional[int],
                         copies: int = 0) -> memory.MemoryEstimate:
    """Peak memory of translating one ``height`` x ``width`` image with ``tile`` (None: whole), plus ``copies``
    further copies of the weights (an exporter's)."""
    weights = memory.network_bytes({"G": translator.net})
    pixels = height * width
    data = pixels * (4 + 4 + 4 * translator.input_nc)  # the decoded file, the result image, the input tensor
    kept = translator.tile
    translator.tile = tile
    try:
        estimate = memory.inference_estimate(
            lambda: {}, lambda: translator.translate_tensor(torch.zeros(1, translator.input_nc, height, width)),
            translator.device, None, data, real_weights=weights)
    finally:
        translator.tile = kept
    if copies:
        estimate.parts["export copies"] = copies * weights
    return estimate


def largest_input(files: List[str]) -> tuple:
    """(height, width) of the largest of ``files`` by pixels, from their headers."""
    sizes = [inspect_image(f).size for f in files]
    w, h = max(sizes, key=lambda s: s[0] * s[1])
    return max(h, 1), max(w, 1)


def check_translation_memory(translator: Translator, files: List[str], force: bool,
                             log: Callable[[str], None]) -> None:
    """``gantool translate``: print the estimate for the largest input, or refuse it, naming the largest
    ``--tile`` that fits."""
    height, width = largest_input(files)
    try:
        estimate = translation_estimate(translator, height, width, translator.tile)
    except Exception as err:  # an operation fake tensors cannot run
        log(f"gantool: memory: no estimate ({type(err).__name__}); starting without one")
        return
    free = memory.free_memory(translator.device)
    m = translator.size_multiple
    tile = translator.tile or max(height, width)

    def fitting() -> str:
        smallest = max(m, m * -(-(2 * translator.overlap + 1) // m))
        best = memory.largest_fitting(lambda t: translation_estimate(translator, height, width, t).total,
                                      min(tile, m * -(-max(height, width) // m)), free, step=m, power=2,
                                      smallest=smallest)
        return f"--tile {best} fits" if best else "not even small tiles fit: free memory or use a smaller image"

    drivers = (f"the largest input ({width}x{height}"
               + (f", in tiles of {translator.tile}" if translator.tile else ", whole: no --tile") + ")")
    memory.check_fits(estimate, free, _where(translator.device), drivers, fitting, force, log)


def check_export_memory(translator: Translator, height: int, width: int, force: bool,
                        log: Callable[[str], None]) -> None:
    """``gantool export``: the check inputs' pass plus two more copies of the weights (the exported model and
    its serialised bytes)."""
    try:
        estimate = translation_estimate(translator, height, width, None, copies=2)
    except Exception as err:
        log(f"gantool: memory: no estimate ({type(err).__name__}); starting without one")
        return
    memory.check_fits(estimate, memory.free_memory(translator.device), _where(translator.device),
                      f"the generator's size ({memory.gib(estimate.parts['weights'])} of weights)",
                      lambda: "export on a machine with more memory", force, log)
