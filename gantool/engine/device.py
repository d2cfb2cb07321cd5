"""Deciding the device once, from ``--gpu_ids``; under torchrun, distributed init too."""
from typing import List, Optional, Tuple

import torch

from ..errors import GantoolError
from . import distributed


def parse_gpu_ids(text: Optional[str]) -> Optional[List[int]]:
    """Parse ``--gpu_ids``: ``None``/``"auto"`` -> None (decide later), ``"-1"`` -> [] (CPU), ``"0,1"`` -> [0, 1]."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GantoolError(f"--gpu_ids '{text}' is not a comma list of integers (e.g. 0 or 0,1; -1 for the CPU)") from None
    if any(i < 0 for i in ids):
        return []
    return ids


def select_device(gpu_ids: Optional[List[int]]) -> Tuple[torch.device, List[int], str]:
    """Turn parsed ``--gpu_ids`` into ``(device, gpu_ids, message)``.

    ``None`` means GPU 0 when CUDA is available, else the CPU. ``[]`` is the CPU and touches no
    ``torch.cuda`` function at all. Asking for a GPU that is not there raises ``GantoolError``.
    """
    if gpu_ids == []:
        return torch.device("cpu"), [], "gantool: running on the CPU (--gpu_ids -1)"
    if gpu_ids is None:
        if torch.cuda.is_available():
            return torch.device("cuda", 0), [0], f"gantool: running on GPU 0 ({torch.cuda.get_device_name(0)})"
        return torch.device("cpu"), [], "gantool: no GPU found, running on the CPU"
    if not torch.cuda.is_available():
        raise GantoolError(
            f"--gpu_ids {','.join(map(str, gpu_ids))} asks for a GPU, but this machine has none that PyTorch "
            "can use; pass --gpu_ids -1 to run on the CPU"
        )
    count = torch.cuda.device_count()
    missing = [i for i in gpu_ids if i >= count]
    if missing:
        raise GantoolError(f"--gpu_ids asks for GPU {missing[0]}, but this machine has {count} (ids 0..{count - 1})")
    torch.cuda.set_device(gpu_ids[0])
    message = f"gantool: running on GPU {gpu_ids[0]} ({torch.cuda.get_device_name(gpu_ids[0])})"
    if len(gpu_ids) > 1:
        message += f"; only GPU {gpu_ids[0]} of --gpu_ids {','.join(map(str, gpu_ids))} is used (one GPU per process)"
    return torch.device("cuda", gpu_ids[0]), gpu_ids, message


def select_training_device(gpu_ids: Optional[List[int]]) -> Tuple[torch.device, List[int], str]:
    """``select_device`` for training; under torchrun with several processes, this process's device
    and the process group (distributed init: NCCL between GPUs, gloo on the CPU).

    Under torchrun, ``--gpu_ids -1`` (or no GPU with the default ``auto``) trains on the CPU; ``auto``
    gives process ``LOCAL_RANK`` GPU ``LOCAL_RANK``; a list gives it ``gpu_ids[LOCAL_RANK]``, so it
    must name one GPU per process of the machine.
    """

    if not distributed.launched():
        return select_device(gpu_ids)
    env = distributed.env_ranks()
    where = f"process {env['rank']} of {env['world_size']}"
    if gpu_ids == [] or (gpu_ids is None and not torch.cuda.is_available()):
        device, ids, message = torch.device("cpu"), [], f"gantool: {where} on the CPU (gloo)"
    else:
        if not torch.cuda.is_available():
            select_device(gpu_ids)  # raises: no GPU
        count = torch.cuda.device_count()
        ids = list(range(count)) if gpu_ids is None else gpu_ids
        if len(ids) < env["local_world_size"]:
            raise GantoolError(f"--gpu_ids {','.join(map(str, ids))} names {len(ids)} GPU(s) for "
                               f"{env['local_world_size']} processes on this machine: name one per process "
                               f"(--nproc_per_node {len(ids)}, or more GPUs)")
        gpu = ids[env["local_rank"]]
        if gpu >= count:
            raise GantoolError(f"--gpu_ids asks for GPU {gpu}, but this machine has {count} (ids 0..{count - 1})")
        torch.cuda.set_device(gpu)
        device = torch.device("cuda", gpu)
        message = f"gantool: {where} on GPU {gpu} ({torch.cuda.get_device_name(gpu)}, NCCL)"
    distributed.init_process_group(device)
    return device, ids, message


def device_from_name(device: str) -> torch.device:
    """The Python API's device names as a ``torch.device``: ``"auto"`` (GPU 0 when there is one, as with
    ``--gpu_ids`` left out), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if device == "auto":
        return select_device(None)[0]
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GantoolError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use 'cpu' or 'auto'")
    try:
        return torch.device(device)
    except RuntimeError:
        raise GantoolError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
