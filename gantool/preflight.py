"""The memory check of train.py and test.py, before weights are allocated or images decoded.

``engine/memory.py`` estimates from fake tensors; this module turns the options into what it needs (the recipe
to build, one item of the dataset, the loader's images) and into the advice of a refusal (the largest
``--crop_size`` or ``--batch_size`` that fits). ``--force`` runs anyway.
"""
import argparse
from dataclasses import replace
from typing import Callable, Optional, Tuple

import torch
from torch.utils.data import default_collate

from .engine import memory
from .data.transforms import Preprocess
from .engine.precision import resolve_precision
from .errors import GantoolError
from .io.files import unwrap

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: memory of one DataLoader worker process beyond the images it holds (a forked interpreter's own pages)
WORKER_BYTES = 80 << 20
#: the side at which the shape-giving item is read when the preprocessing sets the size
SAMPLE_SIDE = 16


def _where(device: torch.device) -> str:
    return "on the CPU" if device.type == "cpu" else f"on {device}"


def _dtype(opt: argparse.Namespace, device: torch.device, dataset) -> Optional[torch.dtype]:
    full_depth = bool(getattr(dataset, "reads_full_depth", lambda: False)())
    return _DTYPES.get(resolve_precision(opt.precision, device, full_depth)[0])


def loader_bytes(opt: argparse.Namespace, dataset, item_bytes: int) -> int:
    """Host memory of reading images: each loading process holds the largest decoded file, its ``--load_size``
    copy and a few tensors of one item; the workers' prefetched batches wait in shared memory."""
    largest = 0
    for _, infos in getattr(dataset, "scans", []):
        for info in infos:
            if info.ok:
                largest = max(largest, info.size[0] * info.size[1] * (12 if info.depth == "float" else 4))
    resized = 4 * opt.load_size ** 2 if "resize" in opt.preprocess or "scale" in opt.preprocess else 0
    workers = opt.num_threads
    per_process = largest + resized + 3 * item_bytes
    prefetched = item_bytes * opt.batch_size * (2 * workers if workers else 1)
    return max(1, workers) * per_process + prefetched + workers * WORKER_BYTES


def _sample(dataset):
    """One item of ``dataset`` as a batch of 1, with the image sides it will have. Where the preprocessing sets
    the size, the item is read at ``SAMPLE_SIDE`` and its shapes scaled up, so that a huge ``--crop_size`` is
    never decoded for real."""
    pre = getattr(dataset, "preprocess", None)
    if not isinstance(pre, Preprocess) or pre.mode == "none" or pre.crop_size <= SAMPLE_SIDE:
        return default_collate([dataset[0]])
    scale = SAMPLE_SIDE / pre.crop_size
    dataset.preprocess = replace(pre, load_size=max(SAMPLE_SIDE, round(pre.load_size * scale)), crop_size=SAMPLE_SIDE)
    try:
        item = dataset[0]
    finally:
        dataset.preprocess = pre
    return _scaled(default_collate([item]), 1 / scale)


def _tensor_bytes(sample) -> int:
    return sum(v.numel() * v.element_size() for v in sample.values() if isinstance(v, torch.Tensor))


def _size_multiple(networks) -> int:
    return max([int(getattr(unwrap(n), "size_multiple", 1)) for n in networks.values()] + [4])


def _scaled(sample, factor: float):
    """``sample`` with the image sides (the last two of every tensor of 3 or more dimensions) times ``factor``,
    on the meta device: only the shapes matter."""
    def grow(v):
        if not isinstance(v, torch.Tensor) or v.dim() < 3 or factor == 1:
            return v
        shape = list(v.shape[:-2]) + [max(1, round(s * factor)) for s in v.shape[-2:]]
        return torch.empty(shape, dtype=v.dtype, device="meta")  # a shape, nothing allocated

    return {k: grow(v) for k, v in sample.items()}


def _drivers(opt: argparse.Namespace, estimate: memory.MemoryEstimate, precision: str) -> str:
    networks = sum(estimate.parts.get(k, 0) for k in ("weights", "gradients", "optimizer"))
    parts = []
    if networks * 2 > estimate.total:
        parts.append(f"the networks (--netG {opt.netG} --ngf {opt.ngf}"
                     + (f", --netD {opt.netD} --ndf {opt.ndf}" if opt.is_train else "") + f": {memory.gib(networks)})")
    parts.append(f"--crop_size {opt.crop_size} and --batch_size {opt.batch_size}"
                 + (f" (--load_size {opt.load_size})" if opt.load_size != opt.crop_size else "")
                 + f" in {precision}")
    if estimate.parts.get("data", 0) * 4 > estimate.total:
        parts.append(f"the images read (--load_size {opt.load_size}, --num_threads {opt.num_threads}: "
                     f"{memory.gib(estimate.parts['data'])})")
    return " and ".join(parts)


Estimator = Callable[[int, int], memory.MemoryEstimate]


def _sized(opt: argparse.Namespace, crop: int, batch: int) -> argparse.Namespace:
    """A copy of ``opt`` at ``--crop_size crop --batch_size batch`` (``--load_size`` at least ``crop``)."""
    return argparse.Namespace(**{**vars(opt), "crop_size": crop, "load_size": max(opt.load_size, crop),
                                 "batch_size": batch})


def training_estimate(opt: argparse.Namespace, device: torch.device, dataset,
                      build_recipe: Callable) -> Tuple[memory.MemoryEstimate, Estimator]:
    """train.py's estimate, and the function giving it at another ``(crop_size, batch_size)``.

    Args:
        build_recipe: ``(opt, device) -> recipe`` (``build.build_recipe``), called on fake tensors.
    """
    sample = _sample(dataset)
    dtype = _dtype(opt, device, dataset)

    def estimate_at(crop: int, batch: int) -> memory.MemoryEstimate:
        o = _sized(opt, crop, batch)
        item = _scaled(sample, crop / opt.crop_size)
        return memory.training_estimate(lambda: build_recipe(o, device), item, batch, device, dtype,
                                        loader_bytes(o, dataset, _tensor_bytes(item)))

    return estimate_at(opt.crop_size, opt.batch_size), estimate_at


def test_estimate(opt: argparse.Namespace, device: torch.device, dataset,
                  build_recipe: Callable) -> Tuple[memory.MemoryEstimate, Estimator]:
    """test.py's estimate (``dataset`` None: the recipe makes its own inputs), as :func:`training_estimate`."""
    sample = _sample(dataset) if dataset is not None else None
    dtype = _dtype(opt, device, dataset)

    def estimate_at(crop: int, batch: int) -> memory.MemoryEstimate:
        o = _sized(opt, crop, batch)
        item = _scaled(sample, crop / opt.crop_size) if sample is not None else None
        data = loader_bytes(o, dataset, _tensor_bytes(item)) if item is not None else 0
        held = {}

        def networks():
            held["recipe"] = build_recipe(o, device)
            return held["recipe"].networks

        def run():
            recipe = held["recipe"]
            if sample is None:
                recipe.test_step(next(iter(recipe.test_batches(1))))
            else:
                recipe.test_step(memory.fake_batch(item, batch))

        return memory.inference_estimate(networks, run, device, dtype, data)

    return estimate_at(opt.crop_size, opt.batch_size), estimate_at


def check_training_memory(opt: argparse.Namespace, device: torch.device, dataset, build_recipe: Callable,
                          log: Callable[[str], None]) -> None:
    """train.py: estimate the run's peak memory on ``device``, print it, refuse (or with ``--force`` warn) when
    it does not fit. A recipe whose step cannot run on fake tensors gets one line and no estimate."""
    _check(opt, device, dataset, build_recipe, log, training_estimate)


def check_test_memory(opt: argparse.Namespace, device: torch.device, dataset, build_recipe: Callable,
                      log: Callable[[str], None]) -> None:
    """test.py: the same check for the test step (``dataset`` None: the recipe makes its own inputs)."""
    _check(opt, device, dataset, build_recipe, log, test_estimate)


def _check(opt, device, dataset, build_recipe, log, estimator) -> None:
    free = memory.free_memory(device)
    loading = loader_bytes(opt, dataset, 0) if dataset is not None else 0
    if loading > free and not opt.force:  # before one image is decoded for the sample
        raise GantoolError(f"reading the images alone needs about {memory.gib(loading)} and {memory.gib(free)} are "
                           f"free {_where(device)} (the largest file decoded, --load_size {opt.load_size}, "
                           f"--num_threads {opt.num_threads}); lower them; --force runs anyway")
    try:
        estimate, estimate_at = estimator(opt, device, dataset, build_recipe)
    except GantoolError:
        raise
    except Exception as err:  # an operation fake tensors cannot run (a host read in the step...)
        why = str(err) if isinstance(err, memory.EstimateError) else f"{type(err).__name__}: {err}"
        log(f"gantool: memory: no estimate for --model {opt.model} ({why.splitlines()[0]}); starting without one")
        return

    def fitting() -> str:
        if dataset is None:
            return "choose a smaller --netG or --ngf"
        with memory.fake_tensors(device):
            multiple = _size_multiple(build_recipe(opt, device).networks)
        return _advice(opt, free, multiple, estimate, lambda c, b: estimate_at(c, b).total)

    dtype = _dtype(opt, device, dataset)
    memory.check_fits(estimate, free, _where(device), _drivers(opt, estimate, _precision(dtype)), fitting,
                      opt.force, log)


def _precision(dtype: Optional[torch.dtype]) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


#: the smallest --crop_size suggested (a PatchGAN of 3 layers needs more than 16 pixels)
SMALLEST_CROP = 32
NETWORK_PARTS = ("weights", "gradients", "optimizer", "runtime")


def _advice(opt: argparse.Namespace, free: int, multiple: int, estimate: memory.MemoryEstimate,
            total_at: Callable[[int, int], int]) -> str:
    """What fits: the largest --batch_size at this crop (when above 1), the largest --crop_size at batch 1;
    when the networks alone do not fit, a smaller --ngf/--netG."""
    networks = sum(estimate.parts.get(k, 0) for k in NETWORK_PARTS)
    if networks > free:
        return f"the networks alone need {memory.gib(networks)}: choose a smaller --ngf/--ndf or --netG"
    tips = []
    try:
        if opt.batch_size > 1:
            batch = memory.largest_fitting(lambda b: total_at(opt.crop_size, b), opt.batch_size, free)
            if batch:
                tips.append(f"--batch_size {batch}")
        crop = memory.largest_fitting(lambda c: total_at(c, 1), opt.crop_size, free, step=multiple, power=2,
                                      smallest=multiple * -(-SMALLEST_CROP // multiple))
        if crop:
            tips.append(f"--crop_size {crop}" + (" --batch_size 1" if opt.batch_size > 1 else ""))
    except memory.EstimateError:  # a size the networks cannot take
        pass
    if not tips:
        return "even small images do not fit: choose a smaller --netG or --ngf"
    return " or ".join(tips) + " fits"
