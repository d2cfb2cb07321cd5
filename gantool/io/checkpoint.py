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
from .files import atomic_save, clean_state_dict, load_file, unwrap


def save_network(net: nn.Module, path: str) -> None:
    """Save the unwrapped network's state dict (on the CPU) to ``path`` atomically, and its
    architecture (``net.gantool_arch``, see ``gantool.io.arch``) as a JSON side file when it has one."""
    from .arch import write_arch

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


def describe_generator(state: Dict[str, torch.Tensor]) -> Optional[str]:
    """Guess the classic generator options a state dict was saved from, e.g. ``--netG resnet_9blocks --ngf 64``."""
    keys = list(state)
    if not keys:
        return None
    batch = any(k.endswith("running_mean") for k in keys)
    norm = "batch" if batch else "instance"
    if "model.1.weight" in state and any(".conv_block." in k for k in keys):
        blocks = {k.split(".")[1] for k in keys if ".conv_block." in k}
        dropout = any(".conv_block.6." in k for k in keys)
        ngf, in_nc = state["model.1.weight"].shape[:2]
        out_nc = state[keys[-1]].shape[0]
        norm = "batch" if batch else ("instance" if state["model.1.bias"] is not None else "none")
        return (f"--netG resnet_{len(blocks)}blocks --ngf {ngf} --norm {norm} --input_nc {in_nc} --output_nc {out_nc}"
                + ("" if dropout else " --no_dropout"))
    if "model.model.0.weight" in state:
        depth = max(k.count("model.") for k in keys) - 1
        ngf, in_nc = state["model.model.0.weight"].shape[:2]
        dropout = any(k.endswith("model.5.weight") and state[k].dim() == 4 for k in keys) or depth < 0
        return f"--netG unet_{2 ** depth} --ngf {ngf} --norm {norm} --input_nc {in_nc}"
    return None


def load_network(net: nn.Module, path: str, options_hint: str = "") -> None:
    """Load ``path`` into ``net`` (strict), with a message naming the options the file needs on mismatch.

    Args:
        net: the network to fill (possibly wrapped).
        path: a ``.pth`` state dict (classic or gantool).
        options_hint: the options that built ``net``, for the error message.
    """
    state = load_file(path, "checkpoint")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GantoolError(f"{path} is not a network state dict")
    target = unwrap(net)
    state = clean_state_dict(state)
    patch_instance_norm(state, target)
    own = target.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        guess = describe_generator(state)
        detail = (f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrongly shaped keys"
                  + (f", e.g. {(wrong or missing or unexpected)[0]}" if (wrong or missing or unexpected) else ""))
        hint = f"it looks like it was saved with {guess}" if guess else "pass the options it was trained with"
        asked = f" ({options_hint})" if options_hint else ""
        raise GantoolError(f"{path} does not fit the network you asked for{asked}: {detail}; {hint}")
    target.load_state_dict(state, strict=True)
