"""How much memory a run will need, worked out before anything large is allocated.

The recipe is built and its step is run on fake tensors (``FakeTensorMode``): shapes, dtypes and autocast
behave as in the real run, but no storage is allocated, so a typo such as ``--ngf 6400`` or ``--crop_size
8192`` costs a fraction of a second instead of the machine. A dispatch mode adds up the bytes of every storage
the step creates while it is alive; its peak is the step's activations and gradients. Weights, optimizer
state, the image pools when full and the loader's images are added from their sizes, and on the CPU a fixed
allowance for the runtime itself (oneDNN's kernels and scratch space, allocator slack), measured with
``scripts/bench_memory.py`` (figures in the README).
"""
import contextlib
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

GIB = float(1 << 30)
#: bytes the CPU runtime takes beyond the tensors counted, training and inference (measured with
#: scripts/bench_memory.py: the backward pass loads more oneDNN kernels and scratch space)
CPU_RUNTIME_BYTES = {"training": 125 << 20, "inference": 40 << 20}
#: the measured CPU peak of a step over its counted activations (allocator blocks kept between steps, oneDNN
#: scratch growing with the images)
CPU_TENSOR_FACTOR = 1.13
#: optimizer class name -> copies of the parameters it keeps as state
OPTIMIZER_COPIES = {"Adam": 2, "AdamW": 2, "RMSprop": 1, "SGD": 0, "Adagrad": 1}


def gib(n: float) -> str:
    """``3328599654`` -> ``"3.1 GiB"``; below 1 GiB in MiB (``"290 MiB"``)."""
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / (1 << 20):.0f} MiB"


@dataclass
class MemoryEstimate:
    """The peak memory of a run on its device, in parts.

    Attributes:
        parts: part name (``weights``, ``optimizer``, ``activations``...) -> bytes.
        scaling: the bytes among ``parts`` that grow with the pixels of a batch (activations, pools, images).
    """

    parts: Dict[str, int] = field(default_factory=dict)
    scaling: int = 0

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def summary(self) -> str:
        """``"weights 44 MiB, optimizer 88 MiB, activations 2.5 GiB"``: the parts of 1 MiB or more."""
        shown = [f"{name} {gib(value)}" for name, value in self.parts.items() if value >= 1 << 20]
        return ", ".join(shown) if shown else "every part under 1 MiB"

    def largest(self) -> Tuple[str, int]:
        """The biggest part and its bytes."""
        return max(self.parts.items(), key=lambda kv: kv[1])


class StorageTracker(TorchDispatchMode):
    """Counts the bytes of the storages that operators create, while they are alive, and keeps the peak.

    Inputs made before the mode was entered (weights, the batch) are not counted; views share their base's
    storage and count once.
    """

    def __init__(self):
        super().__init__()
        self.live: Dict[StorageWeakRef, int] = {}
        self.current = self.peak = 0

    def _sweep(self) -> None:
        for key in [key for key in self.live if key.expired()]:
            self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        try:
            out = func(*args, **(kwargs or {}))
        except Exception as err:  # an output whose size depends on values, which fake tensors do not have
            out = _value_dependent(func, args, kwargs or {}, err)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                key = StorageWeakRef(storage)
                if key not in self.live:
                    self.live[key] = storage.nbytes()
                    self.current += storage.nbytes()
        if self.current > self.peak:  # counting what died since the last sweep may take it back below
            self._sweep()
            self.peak = max(self.peak, self.current)
        return out


def _value_dependent(func, args, kwargs, err: Exception):
    """A stand-in result for the operators whose result depends on values, which fake tensors do not have:
    ``x[mask]`` and ``nonzero`` are empty, ``bincount`` is ``minlength`` long and ``.item()`` is 0 (False).
    In a step these are checks and scores (a bad label, an accuracy): small, and finding nothing wrong.
    Re-raises ``err`` for any other operator."""
    from torch._subclasses.fake_tensor import DynamicOutputShapeException

    x = args[0] if args else None
    if func is torch.ops.aten._local_scalar_dense.default:
        return False if x.dtype == torch.bool else (0.0 if x.dtype.is_floating_point else 0)
    if not isinstance(err, DynamicOutputShapeException) or not isinstance(x, torch.Tensor):
        raise err
    if func is torch.ops.aten.index.Tensor:
        indices = []
        for index in args[1]:
            if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
                indices += [torch.zeros(0, dtype=torch.long, device=index.device)] * index.dim()
            else:
                indices.append(index)
        return func(x, indices)
    if func is torch.ops.aten.nonzero.default:
        return torch.zeros((0, x.dim()), dtype=torch.long, device=x.device)
    if func is torch.ops.aten.bincount.default:
        length = kwargs.get("minlength", args[2] if len(args) > 2 else 0)
        return torch.zeros((max(int(length), 1),), dtype=torch.long, device=x.device)
    raise err


class EstimateError(RuntimeError):
    """The step could not run on fake tensors; the run goes on without an estimate."""


@contextlib.contextmanager
def _step_failures() -> Iterator[None]:
    """Any error of a step on fake tensors is the estimate's, not the user's: a check on the data (bad labels)
    saw stand-in values; the real step makes the real check."""
    try:
        yield
    except Exception as err:
        raise EstimateError(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err


def _module_to_in_place(self: nn.Module, *args, **kwargs) -> nn.Module:
    return self  # everything made under fake_tensors() is already on its device


@contextlib.contextmanager
def fake_tensors(device: torch.device) -> Iterator[None]:
    """Inside, new tensors are fake tensors on ``device`` (nothing allocated) and ``nn.Module.to`` keeps modules
    where they are (fake parameters cannot be swapped for copies). The random generators are left as they were,
    so that estimating changes no later result."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    states = random.getstate(), torch.random.get_rng_state()
    to = nn.Module.to
    nn.Module.to = _module_to_in_place
    try:
        with FakeTensorMode(allow_non_fake_inputs=True), torch.device(device):
            yield
    finally:
        nn.Module.to = to
        random.setstate(states[0])
        torch.random.set_rng_state(states[1])


def fake_batch(sample: Mapping[str, object], batch_size: int) -> Dict[str, object]:
    """A batch of ``batch_size`` shaped like the collated one-item batch ``sample``, as fake tensors (call inside
    :func:`fake_tensors`); other values (paths) are repeated."""
    def grow(v):
        if isinstance(v, torch.Tensor):
            return torch.zeros((batch_size,) + tuple(v.shape[1:]), dtype=v.dtype)
        return list(v) * batch_size if isinstance(v, (list, tuple)) else v

    return {k: grow(v) for k, v in sample.items()}


def _unique_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        key = StorageWeakRef(t.untyped_storage())
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def network_bytes(networks: Mapping[str, nn.Module]) -> int:
    """Bytes of the parameters and buffers of ``networks`` (shared tensors once)."""
    return _unique_bytes([t for net in networks.values() for t in list(net.parameters()) + list(net.buffers())])


def optimizer_bytes(optimizers: Mapping[str, torch.optim.Optimizer]) -> int:
    """Bytes of the state the optimizers will keep (Adam: two copies of its parameters), from their classes."""
    total = 0
    for opt in optimizers.values():
        name = type(opt).__name__
        copies = OPTIMIZER_COPIES.get(name, 2)
        if name == "SGD" and any(group.get("momentum", 0) for group in opt.param_groups):
            copies = 1
        total += copies * sum(p.numel() * p.element_size() for g in opt.param_groups for p in g["params"])
    return total


def _pools(recipe) -> List[object]:
    from ..models.pool import ImagePool

    return [v for v in vars(recipe).values() if isinstance(v, ImagePool)]


def _image_bytes(batch: Mapping[str, object]) -> int:
    """Bytes of the largest image tensor of one item of ``batch``, as fp32."""
    sizes = [v[0].numel() * 4 for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() == 4]
    return max(sizes, default=0)


def _autocast(device: torch.device, dtype: Optional[torch.dtype]):
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None, cache_enabled=False)


def _runtime(device: torch.device, kind: str) -> int:
    return CPU_RUNTIME_BYTES[kind] if device.type == "cpu" else 0


def training_estimate(make_recipe: Callable[[], object], sample: Mapping[str, object], batch_size: int,
                      device: torch.device, dtype: Optional[torch.dtype] = None, data_bytes: int = 0) -> MemoryEstimate:
    """The peak memory of training: one step of the recipe on a fake batch, starting with the gradients a previous
    step leaves (as every step but the first does), plus weights, optimizer state, full image pools and
    ``data_bytes``.

    Args:
        make_recipe: builds the recipe on ``device`` (called under :func:`fake_tensors`).
        sample: one item of the dataset, collated (a batch of 1), whose shapes and dtypes the batch takes.
        batch_size: images per batch.
        device: the run's device.
        dtype: the autocast dtype (None: fp32).
        data_bytes: host memory of the data loader (decoded images, prefetched batches); counted on the CPU only.

    Raises:
        whatever building or stepping the recipe raises (the caller decides what an estimate failure means).
    """
    with fake_tensors(device):
        recipe = make_recipe()
        batch = fake_batch(sample, batch_size)
        weights = network_bytes(recipe.networks)
        optimizer = optimizer_bytes(recipe.optimizers)
        pool_bytes = sum(pool.pool_size for pool in _pools(recipe)) * _image_bytes(batch)
        trainable = [p for net in recipe.networks.values() for p in net.parameters() if p.requires_grad]
        tracker = StorageTracker()

        def update(name: str, loss: torch.Tensor) -> None:
            with torch.autocast(device.type, enabled=False):
                loss.backward()

        with _step_failures(), tracker, _autocast(device, dtype):
            for p in trainable:  # as a previous step left them: the step frees and remakes some while others live
                p.grad = torch.zeros_like(p)
            recipe.training_step(batch, update)
        grads = _unique_bytes([p.grad for net in recipe.networks.values() for p in net.parameters()
                               if p.grad is not None])
    factor = CPU_TENSOR_FACTOR if device.type == "cpu" else 1.0
    activations = int(max(tracker.peak - grads, 0) * factor)
    parts = {"weights": weights, "gradients": grads, "optimizer": optimizer, "activations": activations,
             "image pools": pool_bytes, "data": data_bytes if device.type == "cpu" else 0,
             "runtime": _runtime(device, "training")}
    return MemoryEstimate(parts, scaling=activations + pool_bytes + parts["data"])


def inference_estimate(networks: Callable[[], Mapping[str, nn.Module]], run: Callable[[], object],
                       device: torch.device, dtype: Optional[torch.dtype] = None, data_bytes: int = 0,
                       real_weights: int = 0) -> MemoryEstimate:
    """The peak memory of inference: ``run()`` (a test step, a translation) traced without gradients.

    Args:
        networks: builds (or returns) the networks, under :func:`fake_tensors`; their bytes are the weights.
        run: the work, called after ``networks()`` under the same fake tensors.
        device, dtype: as for :func:`training_estimate`.
        data_bytes: host memory of the images read and written (CPU only).
        real_weights: bytes of weights that already exist for real (loaded before), added as they are.
    """
    with fake_tensors(device):
        nets = networks()
        weights = network_bytes(nets) if nets else real_weights
        tracker = StorageTracker()
        with _step_failures(), tracker, torch.no_grad(), _autocast(device, dtype):
            run()
    activations = int(tracker.peak * (CPU_TENSOR_FACTOR if device.type == "cpu" else 1.0))
    parts = {"weights": weights, "activations": activations, "data": data_bytes if device.type == "cpu" else 0,
             "runtime": _runtime(device, "inference")}
    return MemoryEstimate(parts, scaling=activations + parts["data"])


def free_memory(device: torch.device) -> int:
    """Bytes the run can still take: on a GPU what the driver reports free; on the CPU the smaller of the
    kernel's ``MemAvailable`` and what the control group (a container's memory limit) leaves."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    free = _meminfo_available()
    limit = _cgroup_room()
    return min(free, limit) if limit is not None else free


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _cgroup_room() -> Optional[int]:
    pairs = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    for limit_path, usage_path in pairs:
        try:
            limit, usage = open(limit_path).read().strip(), open(usage_path).read().strip()
        except OSError:
            continue
        if limit == "max" or int(limit) >= 1 << 60:
            return None
        return max(int(limit) - int(usage), 0)
    return None


def largest_fitting(estimate_at: Callable[[int], int], current: int, free: int, step: int = 1, power: int = 1,
                    smallest: int = 1) -> Optional[int]:
    """The largest value below ``current`` (a multiple of ``step``) whose estimate fits in ``free`` bytes.

    Memory is taken as ``fixed + k * value ** power`` (power 2 for an image side, 1 for a batch size) through
    the estimates at ``current`` and at half of it; the value found is estimated again and moved down a
    ``step`` at a time until it fits (a few tries).

    Args:
        estimate_at: value -> estimated bytes (a new fake trace: a fraction of a second).
        current: the value asked for (it does not fit).
        free: bytes available.
        step: the value must be a multiple of this (a generator's size multiple; 1 for a batch size).
        power: how memory grows with the value.
        smallest: nothing below this is suggested.

    Returns:
        the value, or None when not even ``smallest`` fits.
    """
    low = max(step * (current // 2 // step), smallest)
    if low >= current:
        return None
    at_low = estimate_at(low)
    if at_low > free:
        return largest_fitting(estimate_at, low, free, step, power, smallest) if low > smallest else None
    at_current = estimate_at(current)
    k = (at_current - at_low) / (current ** power - low ** power)
    fixed = at_low - k * low ** power
    guess = ((free - fixed) / k) ** (1 / power) if k > 0 else current - step
    value = step * (int(min(guess, current - step)) // step)
    for _ in range(4):
        if value <= low:
            return low
        if estimate_at(value) <= free:
            return value
        value -= step
    return low


def check_fits(estimate: MemoryEstimate, free: int, where: str, drivers: str, fitting: Callable[[], str],
               force: bool, log: Callable[[str], None]) -> None:
    """Print the estimate as one start-up line, or refuse the run in one line when it does not fit.

    Args:
        estimate: what the run needs.
        free: bytes available (:func:`free_memory`).
        where: ``"on the CPU"``, ``"on cuda:0"``.
        drivers: the options the need grows with, as the user wrote them (``--crop_size 1024 --batch_size 4``).
        fitting: says what would fit (``"--crop_size 640 fits"``), called only when the run does not.
        force: ``--force``: warn and run anyway.
        log: where the lines go.

    Raises:
        GantoolError: the run does not fit and ``force`` is off.
    """
    from ..errors import GantoolError

    need = estimate.total
    if need <= free:
        log(f"gantool: memory: this run needs about {gib(need)} of the {gib(free)} free {where} ({estimate.summary()})")
        return
    line = (f"this run needs about {gib(need)} of memory and {gib(free)} are free {where} ({estimate.summary()}); "
            f"it grows with {drivers}")
    if force:
        log(f"gantool: warning: {line}; --force: starting anyway")
        return
    raise GantoolError(f"{line}; {fitting()}; --force runs anyway")
