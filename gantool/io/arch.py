"""Self-describing generators: the constructor options saved next to a checkpoint.

gantool's generator builders (``define_G``, ``MLPGenerator``, ``DCGANGenerator``) attach a small
dict to the module they return, ``net.gantool_arch = {"builder": ..., "kwargs": {...}}``, and
``checkpoint.save_network`` writes it as a JSON side file beside the state dict
(``latest_net_G_A.pth`` -> ``latest_net_G_A.json``). The ``.pth`` itself stays a plain classic state
dict, so it still moves both ways with pytorch-CycleGAN-and-pix2pix; a classic file without a side
file loads with explicit options as before.

``test.py`` and the Python API read the side file, so ``--netG/--ngf/--norm/--no_dropout`` are not
needed for gantool's own checkpoints.
"""
import argparse
import json
import os
from typing import Callable, Dict, List, Optional

import torch.nn as nn

from ..errors import GantoolError

ARCH_VERSION = 1

# builder name -> (required kwargs, how each kwarg maps to a command-line option)
_BUILDERS: Dict[str, Dict[str, str]] = {
    "define_G": {"input_nc": "input_nc", "output_nc": "output_nc", "ngf": "ngf", "netG": "netG", "norm": "norm",
                 "use_dropout": "no_dropout"},
    "mlp_gan": {"latent_dim": "latent_dim", "channels": "input_nc", "img_size": "img_size"},
    "dcgan": {"latent_dim": "latent_dim", "channels": "input_nc", "img_size": "img_size", "ngf": "ngf"},
}


def make_arch(builder: str, **kwargs) -> dict:
    """The metadata dict a builder attaches to its network (plain JSON types only)."""
    return {"builder": builder, "kwargs": dict(kwargs)}


def arch_path(pth_path: str) -> str:
    """The side file of a checkpoint: ``x/latest_net_G.pth`` -> ``x/latest_net_G.json``."""
    return os.path.splitext(pth_path)[0] + ".json"


def write_arch(net: nn.Module, pth_path: str) -> None:
    """Write ``net.gantool_arch`` (when it has one) beside ``pth_path``, atomically."""
    from .files import atomic_write_text

    arch = getattr(net, "gantool_arch", None)
    if arch:
        atomic_write_text(arch_path(pth_path), json.dumps({"gantool_arch": ARCH_VERSION, **arch}, indent=1) + "\n")


def read_arch(pth_path: str) -> Optional[dict]:
    """The architecture saved beside ``pth_path``, or None for a classic file without a side file.

    Raises:
        GantoolError: the side file exists but is not gantool metadata.
    """
    path = arch_path(pth_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            arch = json.load(f)
    except (OSError, ValueError) as err:
        raise GantoolError(f"{path} is not readable architecture metadata ({err}); delete it to pass the "
                           "options explicitly") from None
    if not isinstance(arch, dict) or arch.get("builder") not in _BUILDERS or not isinstance(arch.get("kwargs"), dict):
        raise GantoolError(f"{path} is not gantool architecture metadata (builders: {', '.join(_BUILDERS)}); "
                           "delete it to pass the options explicitly")
    missing = [k for k in _BUILDERS[arch["builder"]] if k not in arch["kwargs"]]
    if missing:
        raise GantoolError(f"{path} lacks {', '.join(missing)}; delete it to pass the options explicitly")
    return {"builder": arch["builder"], "kwargs": {k: arch["kwargs"][k] for k in _BUILDERS[arch["builder"]]}}


def build_from_arch(arch: dict) -> nn.Module:
    """Rebuild the (untrained) network that ``arch`` describes, on the CPU."""
    kwargs = arch["kwargs"]
    if arch["builder"] == "define_G":
        from ..networks import define_G

        return define_G(**kwargs)
    if arch["builder"] == "mlp_gan":
        from ..networks.mlp_gan import MLPGenerator

        return MLPGenerator(**kwargs)
    from ..networks.dcgan import DCGANGenerator

    return DCGANGenerator(**kwargs)


def arch_options(arch: dict) -> Dict[str, object]:
    """The command-line option values that rebuild ``arch`` (``use_dropout`` -> ``no_dropout``...)."""
    options = {}
    for key, option in _BUILDERS[arch["builder"]].items():
        value = arch["kwargs"][key]
        options[option] = (not value) if key == "use_dropout" else value
    return options


def format_options(options: Dict[str, object]) -> str:
    """``{"netG": "unet_64", "no_dropout": False}`` -> ``--netG unet_64 dropout``."""
    parts = []
    for key, value in options.items():
        if key == "no_dropout":
            parts.append("--no_dropout" if value else "dropout")
        elif isinstance(value, bool):
            parts.append(f"--{key}" if value else f"no --{key}")
        else:
            parts.append(f"--{key} {value}")
    return " ".join(parts)


def options_from_checkpoints(opt: argparse.Namespace, paths: List[str],
                             log: Callable[[str], None] = print) -> argparse.Namespace:
    """A copy of ``opt`` whose architecture options come from the first of ``paths`` with a side file.

    Options the user gave explicitly that contradict the file are replaced too, with one line saying so
    (the file can only be loaded into the network it was saved from). ``opt`` itself is not changed.

    Args:
        opt: the parsed options (``option_defaults`` tells explicit values from defaults).
        paths: the checkpoint files test.py will load, in order (e.g. G_A first for a CycleGAN).
        log: where the notice goes.

    Returns:
        ``opt`` itself when no file has metadata, else a new namespace.
    """
    for path in paths:
        arch = read_arch(path)
        if arch is None:
            continue
        wanted = {k: v for k, v in arch_options(arch).items() if hasattr(opt, k)}
        defaults = getattr(opt, "option_defaults", {})
        changed = {k: v for k, v in wanted.items() if getattr(opt, k) != v}
        if not changed:
            return opt
        explicit = {k: getattr(opt, k) for k in changed if k in defaults and getattr(opt, k) != defaults[k]}
        if explicit:
            log(f"gantool: {path} was saved with {format_options({k: wanted[k] for k in explicit})}; using that "
                f"instead of {format_options(explicit)}")
        new = argparse.Namespace(**{**vars(opt), **changed})
        if "img_size" in changed:
            # --load_size/--crop_size follow --img_size unless given (the unconditional recipes require it).
            for size in ("load_size", "crop_size"):
                if getattr(opt, size, None) == opt.img_size:
                    setattr(new, size, changed["img_size"])
        return new
    return opt
