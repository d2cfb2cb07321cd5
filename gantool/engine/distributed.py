"""Training on several processes with PyTorch's DistributedDataParallel (DDP), started by torchrun.

``torchrun --nproc_per_node=N train.py ...`` starts N processes and tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``...).
``device.select_training_device`` reads it, picks this process's device and opens the process group
here (NCCL between GPUs, gloo on the CPU). The trainer then asks this module for its rank, a data
shard per process, losses averaged over the processes, and per-process state to save.

Every helper is a no-op in a single process, so the single-process code path is unchanged.

What each process does (``rank`` r of W):

- data: a ``DistributedSampler`` over the same order as one process would use (same seed), so rank r
  takes images r, r + W, r + 2W, ... of it; a batch of B per process is the one-process batch of W * B;
- networks: each trainable network of the recipe is wrapped in DDP after the recipe built it (the
  recipe still calls ``self.networks[name](x)``), which averages gradients over the processes during
  ``backward``; its optimizers keep the same parameters;
- randomness: ``seed + r`` for noise and dropout, and each process keeps its own image pool
  (``--pool_size / W`` images, seed ``seed + r``), so the W pools hold as many fakes, of the same
  age, as the one pool of a single process;
- files: only rank 0 writes checkpoints, logs, the HTML page and visdom output; the full-state
  checkpoint holds every process's random state and pool, so all of them resume exactly.
"""
import atexit
import gc
import math
import os
import shlex
import sys
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from ..errors import GantoolError
from ..viz.loss_log import LossLog


# ----------------------------------------------------------------- where this process stands
def launched() -> bool:
    """Whether torchrun started this process as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def env_ranks() -> Dict[str, int]:
    """``rank``, ``world_size``, ``local_rank`` and ``local_world_size`` as torchrun set them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {"rank": int(os.environ.get("RANK", "0")), "world_size": world,
            "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
            "local_world_size": int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))}


def init_process_group(device: torch.device) -> None:
    """Join the process group that torchrun's environment describes: NCCL when ``device`` is a GPU
    (``torch.cuda.set_device`` must have been called), gloo on the CPU. Does nothing if already joined."""
    if dist.is_initialized():
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    atexit.register(_shutdown)


def _shutdown() -> None:
    if dist.is_initialized():
        # DDP wrappers still alive in reference cycles hold the group; freeing them after it is gone
        # aborted the process at exit ("terminate called without an active exception"), now and then.
        gc.collect()
        dist.destroy_process_group()


def exit_process(code: int) -> None:
    """End a torchrun worker process with ``code``: wait for the others when it succeeded, flush, and exit
    without the interpreter's teardown, in which the process group's C++ threads now and then aborted a
    finished run ("terminate called without an active exception", SIGABRT, and torchrun reporting failure)."""
    if code == 0 and is_active():
        barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def is_active() -> bool:
    """Whether this process trains together with others (a process group of two or more)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 in a single process)."""
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    """Number of training processes (1 in a single process)."""
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    """Whether this process writes files and talks to the user (rank 0, or the only process)."""
    return rank() == 0


def _comm_device() -> torch.device:
    # NCCL moves tensors between GPUs only; gloo takes CPU tensors.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every process gets here."""
    if is_active():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Run the block on rank 0 first, then on the others (e.g. generating the built-in dataset once)."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


# ----------------------------------------------------------------- exchanging values
def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` (any picklable object) on every process."""
    if not is_active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(value: Any) -> Optional[List[Any]]:
    """Every process's ``value`` as a list in rank order on rank 0 (None on the others); ``[value]`` alone."""
    if not is_active():
        return [value]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(value, out, dst=0)
    return out


def mean_over_ranks(values: Dict[str, float]) -> Dict[str, float]:
    """The mean of each value over the processes (losses: the mean over the whole global batch, since
    every process has a batch of the same size). Every process must call it with the same keys."""
    if not is_active() or not values:
        return values
    stacked = torch.tensor(list(values.values()), dtype=torch.float64, device=_comm_device())
    dist.all_reduce(stacked)
    return dict(zip(values, (stacked / world_size()).tolist()))


def max_over_ranks(value: int) -> int:
    """The largest ``value`` over the processes (e.g. a flag any process raised); ``value`` alone.
    Every process must call it at the same point."""
    if not is_active():
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


# ----------------------------------------------------------------- data
class ShardSampler(DistributedSampler):
    """``DistributedSampler`` for one epoch that can start part-way through it (exact resume).

    With ``seed`` equal to the trainer's per-run seed base, the shuffled order is the one a single
    process would use (``randperm`` seeded with ``seed + epoch``); rank r takes items r, r + W, ...
    of it (padded with the first items when W does not divide the dataset, so every process runs the
    same number of batches).

    Args:
        dataset: the training dataset.
        epoch: passed to ``set_epoch``.
        skip: images of this epoch already trained, over all processes (a multiple of W).
        shuffle, seed: as ``DistributedSampler``.
        num_replicas, rank: default: this process group's.
    """

    def __init__(self, dataset, epoch: int, skip: int, shuffle: bool, seed: int,
                 num_replicas: Optional[int] = None, rank: Optional[int] = None):
        if num_replicas is None:
            num_replicas, rank = world_size(), dist.get_rank() if is_active() else 0
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.set_epoch(epoch)
        self.skip = min(skip // self.num_replicas, self.num_samples)

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip


# ----------------------------------------------------------------- networks
class RecipeDDP(DistributedDataParallel):
    """DDP around one of a recipe's networks.

    Attributes that recipes read from their networks (``size_multiple``...) come from the network, and
    a forward pass without autograd (evaluation, sample grids: rank 0 alone may run them) calls the
    network directly, so it starts no collective operation that the other processes would never join.
    """

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_modules", {}).get("module")
            if inner is None:
                raise
            return getattr(inner, name)

    def forward(self, *args, **kwargs):
        if not torch.is_grad_enabled():
            return self.module(*args, **kwargs)
        return super().forward(*args, **kwargs)


def ddp_wrapper(device: torch.device, sync_batchnorm: bool = False) -> Callable[[str, nn.Module], nn.Module]:
    """The wrapping of each network for ``Recipe.wrap_networks`` under torchrun: DDP around every trainable one.

    Args:
        device: this process's device (``cuda:LOCAL_RANK`` or the CPU).
        sync_batchnorm: ``--norm syncbatch``: first turn every BatchNorm into ``nn.SyncBatchNorm``
            (statistics over the batches of all processes); GPUs only, as PyTorch has no CPU version.
    The networks' optimizers keep their parameters: neither conversion makes new ones.
    """
    if sync_batchnorm and device.type != "cuda":
        raise GantoolError("--norm syncbatch synchronises batch norm across GPUs, and PyTorch's SyncBatchNorm has "
                           "no CPU version: use --norm batch for distributed training on the CPU")

    def wrap(name: str, net: nn.Module) -> nn.Module:
        if sync_batchnorm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)  # same Parameter objects: optimizers unchanged
        if not any(p.requires_grad for p in net.parameters()):
            return net  # nothing to synchronise (a frozen network)
        return RecipeDDP(net, device_ids=[device.index] if device.type == "cuda" else None)

    return wrap


def recipe_overrides(params) -> Dict[str, int]:
    """Recipe constructor arguments that differ per process: ``seed + rank`` (image pools, which
    each process keeps for itself) and ``ceil(pool_size / W)`` (the W pools together hold what
    the one pool of a single process would). ``params``: the options namespace."""
    if not is_active():
        return {}
    out = {"seed": params.seed + rank()}
    if getattr(params, "pool_size", 0):
        out["pool_size"] = math.ceil(params.pool_size / world_size())
    return out


# ----------------------------------------------------------------- output only on rank 0
class Silent:
    """Stands in for the visualizer on ranks other than 0: takes any method call and does nothing.
    (The trainer still computes the visuals it passes, on every rank: they may run networks whose
    synchronised batch norm needs every process.)"""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class SilentLossLog(LossLog):
    """A ``LossLog`` that writes nothing (ranks other than 0)."""

    def __init__(self):  # no file, no header
        self.path = None

    def write(self, message: str) -> None:
        pass


def loss_log(path: str) -> LossLog:
    """The run's ``LossLog`` on rank 0, a silent one elsewhere."""
    return LossLog(path) if is_main() else SilentLossLog()


# ----------------------------------------------------------------- several GPUs from --gpu_ids
def torchrun_command(nproc: int, script_and_args: List[str]) -> List[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node N <script> <args>``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            *script_and_args]


def launch_for_gpus(gpu_ids: Optional[List[int]], log) -> None:
    """``--gpu_ids 0,1`` outside torchrun, with those GPUs present: replace this process by torchrun
    running the same command, one process per listed GPU (each then takes ``gpu_ids[LOCAL_RANK]``).

    Returns without doing anything in every other case (one GPU, the CPU, already under torchrun,
    or GPUs missing: ``select_device`` then says what is wrong).
    """
    if launched() or not gpu_ids or len(gpu_ids) < 2:
        return
    if not torch.cuda.is_available() or max(gpu_ids) >= torch.cuda.device_count():
        return
    script = sys.argv[0]
    if not os.path.isfile(script):  # called from Python, not from a script: nothing to relaunch
        return
    command = torchrun_command(len(gpu_ids), [script, *sys.argv[1:]])
    log(f"gantool: --gpu_ids {','.join(map(str, gpu_ids))}: one training process per GPU "
        f"(DistributedDataParallel): {shlex.join(command)}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
