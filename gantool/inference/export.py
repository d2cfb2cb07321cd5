"""``gantool export``: a generator as TorchScript or ONNX, with dynamic height and width, checked.

The exported model takes (N, input_nc, H, W) in [-1, 1] and returns (N, output_nc, H, W). The
TorchScript file pads any H, W to the generator's ``size_multiple`` and crops back, as test.py does.
The ONNX file takes H and W that are multiples of ``size_multiple`` (printed, and stored in the file's
metadata). After writing, the file is loaded again and compared with the eager model on random
inputs of several sizes; the export fails when the largest difference exceeds ``--tolerance``.

Test-time semantics are explicit: by default the export does what ``test.py`` does (BatchNorm
normalises each batch by its own statistics, dropout stays on: random outputs); ``--eval`` exports
what ``test.py --eval`` does (BatchNorm running statistics, no dropout).
"""
import argparse
import os
import warnings
from typing import Callable, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..errors import GantoolError
from ..io.files import checked_write_path
from ..io.pretrained import shipped_folder
from .memory_check import check_export_memory
from .translator import CLASSIC_ARCH, Translator, resolve_checkpoint

FORMATS = ("torchscript", "onnx")


class PaddedGenerator(nn.Module):
    """Pad (N, C, H, W) to multiples of ``multiple`` (reflect, or replicate when too small), run ``core``, crop back."""

    def __init__(self, core: nn.Module, multiple: int):
        super().__init__()
        self.core = core
        self.multiple = multiple

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        ph = (self.multiple - h % self.multiple) % self.multiple
        pw = (self.multiple - w % self.multiple) % self.multiple
        if ph > 0 or pw > 0:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, [0, pw, 0, ph], mode=mode)
        return self.core(x)[:, :, :h, :w]  # (N, output_nc, H, W)


def has_dropout(net: nn.Module) -> bool:
    """True when ``net`` has a dropout layer in train mode (random outputs)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.training for m in net.modules())


def _core(net: nn.Module) -> nn.Module:
    # The classic generators keep their layers in ``model``; gantool's U-Net pads in its own forward,
    # with Python shape arithmetic that a trace would freeze, so the padding moves to PaddedGenerator.
    core = getattr(net, "model", None)
    return core if isinstance(core, nn.Module) else net


def _seeded(fn: Callable[[Tensor], Tensor], x: Tensor, seed: int = 0) -> Tensor:
    torch.manual_seed(seed)  # the same dropout masks for the eager and the exported model
    with torch.no_grad():
        return fn(x)


def export_torchscript(net: nn.Module, multiple: int, input_nc: int, path: str) -> Callable[[Tensor], Tensor]:
    """Trace the generator's layers at one size, script the padding around them, save; returns the loaded file."""
    example = torch.rand(1, input_nc, 2 * multiple, 2 * multiple) * 2 - 1
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about the dropout/shape code it records as is
        traced = torch.jit.trace(_core(net), example, check_trace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 marks TorchScript deprecated; it still works
        scripted = torch.jit.script(PaddedGenerator(traced, multiple))
        scripted.save(path)
        return torch.jit.load(path, map_location="cpu")


def export_onnx(net: nn.Module, multiple: int, input_nc: int, path: str) -> Callable[[Tensor], Tensor]:
    """Export the generator's layers with dynamic H and W (multiples of ``multiple``); returns a runner."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise GantoolError("ONNX export needs the onnx package: pip install onnx onnxscript "
                           "(or pip install 'gantool[onnx]'); TorchScript needs nothing: --format torchscript") from None
    example = torch.rand(1, input_nc, 2 * multiple, 2 * multiple) * 2 - 1
    core = _core(net)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript-based exporter takes dynamic_axes and is deprecated in favour of one that
            # needs onnxscript; its notes (deprecation, constant folding) say nothing about this model.
            warnings.simplefilter("ignore")
            torch.onnx.export(core, (example,), path, input_names=["image"], output_names=["translated"],
                              dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "translated": {0: "N", 2: "H", 3: "W"}},
                              dynamo=False)
    except ImportError as err:  # e.g. onnxscript for torch's newer exporter
        raise GantoolError(f"ONNX export needs another package: {err}; pip install onnx onnxscript") from None
    model = onnx.load(path)
    entry = model.metadata_props.add()
    entry.key, entry.value = "size_multiple", str(multiple)
    onnx.save(model, path)
    return _onnx_runner(path)


def _onnx_runner(path: str) -> Callable[[Tensor], Tensor]:
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
    except ImportError:  # onnx's own (slow, exact) reference evaluator
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(path)
        return lambda x: torch.from_numpy(evaluator.run(None, {"image": x.numpy()})[0])


def check_sizes(multiple: int, fmt: str) -> List[Tuple[int, int, int]]:
    """(N, H, W) of the random test inputs: several sizes, odd ones for TorchScript (it pads)."""
    m = multiple
    b = m * max(1, -(-32 // m))  # at least 32 pixels
    sizes = [(1, b, b), (2, b + m, b)]
    if fmt == "torchscript":
        sizes.append((1, b + 3, b + m + 1))
    return sizes


def export(translator: Translator, fmt: str, path: str, tolerance: float = 1e-4,
           log: Callable[[str], None] = print) -> float:
    """Write ``translator``'s generator to ``path`` in ``fmt``, reload it and compare it with the eager model.

    Returns:
        The largest absolute difference seen.
    Raises:
        GantoolError: unknown format, missing package, or a difference above ``tolerance``.
    """
    if fmt not in FORMATS:
        raise GantoolError(f"unknown --format {fmt}; choose {' or '.join(FORMATS)}")
    net = translator.net.cpu()
    if fmt == "onnx" and has_dropout(net):
        raise GantoolError("this generator keeps dropout on at test time (test.py without --eval), which is random "
                           "and cannot be checked in ONNX; pass --eval to export test.py --eval's network")
    multiple, input_nc = translator.size_multiple, translator.input_nc
    exporter = export_torchscript if fmt == "torchscript" else export_onnx
    worst: List[float] = []

    def write_and_check(tmp: str) -> None:
        # The file replaces an earlier one only once it matches the eager model: a failed check keeps the old.
        worst.append(_compare(translator, exporter(net, multiple, input_nc, tmp), path, fmt, tolerance, log))

    checked_write_path(path, write_and_check, "-o")
    return worst[0]


def _compare(translator: Translator, exported: Callable[[Tensor], Tensor], path: str, fmt: str, tolerance: float,
             log: Callable[[str], None]) -> float:
    """The largest difference between ``exported`` and the eager generator on random inputs; raises above
    ``tolerance``."""
    net, multiple, input_nc = translator.net, translator.size_multiple, translator.input_nc
    eager = PaddedGenerator(_core(net), multiple)
    worst = 0.0
    for n, h, w in check_sizes(multiple, fmt):
        x = torch.rand(n, input_nc, h, w, generator=torch.Generator().manual_seed(h * 1000 + w)) * 2 - 1
        if translator.per_image:  # BatchNorm with batch statistics: compare one image at a time
            x = x[:1]
        want, got = _seeded(eager, x), _seeded(exported, x)
        if got.shape != want.shape:
            raise GantoolError(f"the exported model gives shape {tuple(got.shape)} for input {tuple(x.shape)}, "
                               f"the eager model {tuple(want.shape)}")
        worst = max(worst, (got - want).abs().max().item())
    sizes = ", ".join(f"{h}x{w}" for _, h, w in check_sizes(multiple, fmt))
    log(f"gantool: checked {path} against the eager model on random inputs ({sizes}): max difference {worst:.2e}"
        f" (tolerance {tolerance:g})")
    if not worst <= tolerance:
        raise GantoolError(f"{path} differs from the eager model by {worst:.2e} > --tolerance {tolerance:g}")
    return worst


def export_main(argv: List[str], log: Callable[[str], None] = print) -> None:
    """``gantool export CHECKPOINT --format torchscript|onnx [-o FILE] [--eval]``."""
    parser = argparse.ArgumentParser(prog="gantool export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a generator .pth, a checkpoint folder, or a shipped model name")
    parser.add_argument("--format", default="torchscript", choices=FORMATS)
    parser.add_argument("-o", "--output", default=None,
                        help="output file (default: beside the checkpoint, .pt for torchscript, .onnx for onnx)")
    parser.add_argument("--eval", action="store_true",
                        help="test.py --eval semantics: BatchNorm running statistics, no dropout")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed difference to the eager model")
    _arch_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="start even when the memory estimate says it does not fit (see README, Memory)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    args = parser.parse_args(argv)
    translator = Translator.load(args.checkpoint, device="cpu", eval_mode=args.eval, **arch_kwargs(args))
    _, h, w = max(check_sizes(translator.size_multiple, args.format), key=lambda s: s[1] * s[2])
    check_export_memory(translator, h, w, args.force, log)
    output = args.output
    if output is None:
        source = resolve_checkpoint(args.checkpoint)
        folder = os.path.dirname(source)
        if not os.access(folder, os.W_OK) or shipped_folder(args.checkpoint):
            folder = "."  # never write into the installed package
        stem = os.path.splitext(os.path.basename(source))[0]
        if shipped_folder(args.checkpoint):
            stem = args.checkpoint  # toy_day2night_pretrained.pt rather than latest_net_G.pt
        output = os.path.join(folder, stem + (".pt" if args.format == "torchscript" else ".onnx"))
    export(translator, args.format, output, args.tolerance, log)
    note = "any H, W" if args.format == "torchscript" else f"H and W multiples of {translator.size_multiple}"
    log(f"gantool: wrote {output} ({args.format}, (N, {translator.input_nc}, H, W) in [-1, 1], {note}"
        f"{', eval semantics' if args.eval else ', test.py semantics'})")


def _arch_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("for classic files without architecture metadata")
    g.add_argument("--netG", default=None, help=f"default {CLASSIC_ARCH['netG']}")
    g.add_argument("--ngf", type=int, default=None, help=f"default {CLASSIC_ARCH['ngf']}")
    g.add_argument("--norm", default=None, help=f"default {CLASSIC_ARCH['norm']}")
    g.add_argument("--dropout", action="store_true", help="the generator has dropout (classic --no_dropout not given)")
    g.add_argument("--no_dropout", action="store_true", help="accepted for the classic command line (the default)")
    g.add_argument("--input_nc", type=int, default=None)
    g.add_argument("--output_nc", type=int, default=None)


def arch_kwargs(args: argparse.Namespace) -> dict:
    """The explicit generator options of ``_arch_arguments`` as ``Translator.load`` keywords."""
    kwargs = {k: getattr(args, k) for k in ("netG", "ngf", "norm", "input_nc", "output_nc")
              if getattr(args, k) is not None}
    if args.dropout:
        kwargs["use_dropout"] = True
    return kwargs
