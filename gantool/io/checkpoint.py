"""Checkpoints: classic per-network files plus one full training-state file.

Network files (``latest_net_G_A.pth``, ``5_net_D_B.pth``, ...) are plain state dicts of the
unwrapped networks, with the classic key names, so they move both ways between gantool and
pytorch-CycleGAN-and-pix2pix. ``latest_state.pth`` holds everything needed to resume exactly.
Writes and reads go through :mod:`gantool.io.files` (atomic, weights only).
"""
from collections import OrderedDict
from typing import Dict, Optional

import torch
import torch.nn as nn

from ..errors import GantoolError
from .arch import GeneratorArch, write_arch
from .files import atomic_save, clean_state_dict, load_file, unwrap


def save_network(net: nn.Module, path: str) -> None:
    """Save the unwrapped network's state dict (on the CPU) to ``path`` atomically, and its
    architecture (``net.gantool_arch``, see ``gantool.io.arch``) as a JSON side file when it has one."""
    net = unwrap(net)
    state = OrderedDict((k, v.detach().cpu()) for k, v in net.state_dict().items())
    atomic_save(state, path)
    write_arch(net, path)


def patch_instance_norm(state: Dict[str, torch.Tensor], net: nn.Module) -> None:
    """Drop InstanceNorm running stats saved by PyTorch < 0.4 (the classic ``__patch_instance_norm_state_dict``)."""
    modules = dict(net.named_modules())
    for key in list(state):
        module_name, _, attr = key.rpartition(".")
        module = modules.get(module_name)
        if (isinstance(module, nn.modules.instancenorm._InstanceNorm) and not module.track_running_stats
                and attr in ("running_mean", "running_var", "num_batches_tracked")):
            del state[key]


def guess_generator(state: Dict[str, torch.Tensor]) -> Optional[GeneratorArch]:
    """Guess the classic generator a state dict was saved from, from its keys and shapes (None: not a
    ResNet or U-Net generator)."""
    keys = list(state)
    if not keys:
        return None
    batch = any(k.endswith("running_mean") for k in keys)
    if "model.1.weight" in state and any(".conv_block." in k for k in keys):
        blocks = {k.split(".")[1] for k in keys if ".conv_block." in k}
        ngf, in_nc = state["model.1.weight"].shape[:2]
        norm = "batch" if batch else ("instance" if state["model.1.bias"] is not None else "none")
        return GeneratorArch(input_nc=in_nc, output_nc=state[keys[-1]].shape[0], ngf=ngf,
                             netG=f"resnet_{len(blocks)}blocks", norm=norm,
                             use_dropout=any(".conv_block.6." in k for k in keys))
    if "model.model.0.weight" in state:
        depth = max(k.count("model.") for k in keys) - 1
        ngf, in_nc = state["model.model.0.weight"].shape[:2]
        out = state.get("model.model.3.weight")  # the outermost ConvTranspose2d: (in, output_nc, 4, 4)
        # Dropout has no weights, so a U-Net file cannot tell; pix2pix's default (dropout on) is the guess.
        return GeneratorArch(input_nc=in_nc, output_nc=out.shape[1] if out is not None else in_nc, ngf=ngf,
                             netG=f"unet_{2 ** depth}", norm="batch" if batch else "instance", use_dropout=True)
    return None


def describe_generator(state: Dict[str, torch.Tensor]) -> Optional[str]:
    """The options of :func:`guess_generator`'s guess, e.g. ``--netG resnet_9blocks --ngf 64 ...``, or None."""
    guess = guess_generator(state)
    return guess.hint() if guess is not None else None


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """A network's state dict from ``path`` (classic or gantool; a ``{"state_dict": ...}`` wrapper is opened),
    with the ``module.`` / ``_orig_mod.`` prefixes stripped."""
    state = load_file(path, "checkpoint")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GantoolError(f"{path} is not a network state dict")
    return clean_state_dict(state)


def fit_state(net: nn.Module, state: Dict[str, torch.Tensor], label: str, options_hint: str = "") -> None:
    """Load ``state`` into ``net`` (strict), or raise one line naming the options the weights need.

    Args:
        net: the network to fill (possibly wrapped).
        state: its weights, keys without wrapper prefixes.
        label: what the weights are, for the message (a file name).
        options_hint: the options that built ``net``, for the message.
    """
    target = unwrap(net)
    state = OrderedDict(state)
    patch_instance_norm(state, target)
    own = target.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        guess = describe_generator(state)
        detail = (f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrongly shaped keys"
                  + f", e.g. {(wrong or missing or unexpected)[0]}")
        hint = f"it looks like it was saved with {guess}" if guess else "pass the options it was trained with"
        asked = f" ({options_hint})" if options_hint else ""
        raise GantoolError(f"{label} does not fit the network you asked for{asked}: {detail}; {hint}")
    target.load_state_dict(state, strict=True)


def load_network(net: nn.Module, path: str, options_hint: str = "") -> None:
    """Load the ``.pth`` state dict ``path`` into ``net`` (strict; see :func:`fit_state`)."""
    fit_state(net, read_state_dict(path), path, options_hint)
