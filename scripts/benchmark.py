"""Training and test speed of gantool's fast path against fp32, measured in one run on this machine.

    python scripts/benchmark.py [--device cpu|cuda] [--repeats 3] [--threads N] [--only cycle_gan_256 test_256] [--json]
    python scripts/benchmark.py --classic DIR [bench_classic.py options]

For each case it builds the real recipe from the real options (classic default networks: CycleGAN
resnet_9blocks/basic D at 256 and 128, pix2pix unet_256 at 256, DCGAN 64x64 batch 64, and test.py's
single resnet_9blocks generator at 256) and times full training steps (forwards, losses, backwards,
optimizer steps) on random images, in three configurations, each in a fresh subprocess (so peak
memory is its own):

- ``classic``: what pytorch-CycleGAN-and-pix2pix does: fp32, one generator call per pass, Adam's
  per-tensor loop;
- ``fp32``: gantool in fp32 (batched passes, fused Adam);
- ``fast``: gantool's defaults for the device (``--precision auto`` etc.: bf16 autocast here).

One warm-up step is excluded; the figure is the median of ``--repeats`` timed steps. Data loading is
not timed (the trainer's loader workers overlap it). Peak memory: the subprocess's peak RSS on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU.

How close to the hardware: after the timed steps (and after reading the peak memory), each subprocess
runs one more, untimed step under ``torch.utils.flop_counter.FlopCounterMode`` to count the step's
floating-point operations (a training step's backward included; the counter counts matrix multiplies
and convolutions, 2 FLOP per multiply-add, not element-wise work such as norms, activations or Adam),
and times matrix products in the step's precision (fp32, or bf16/fp16 under autocast): the best of
``torch.mm`` of 2048x2048 matrices (8192 on a GPU), the same product as a 1x1 convolution and one
256-channel 3x3 convolution (see :func:`matmul_peak`) is the device's measured peak. Each line then
reads e.g. ``0.153 s/step  12.3 GFLOP/step  80 GFLOP/s = 35 % of the measured bf16 matmul peak (229
GFLOP/s)``. A measured peak is what this torch reaches on these shapes, not the hardware's data sheet.

``--json`` prints one JSON object, e.g.
``{"cycle_gan_256": {"classic_s_per_iter": ..., "fp32_s_per_iter": ..., "fast_s_per_iter": ...,
"speedup": fp32/fast, "speedup_vs_classic": classic/fast, "fast_flop_per_step": ..., "fast_achieved_flops":
FLOP/s, "fast_peak_flops": FLOP/s, "fast_peak_dtype": "bf16", "fast_fraction_of_peak": 0.35, ...}, ...}``
(the FLOP keys for each configuration); test cases report images per second.

``--classic DIR`` runs ``scripts/bench_classic.py DIR`` instead (the real pytorch-CycleGAN-and-pix2pix
command lines side by side with gantool's); the other arguments are passed on to it.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

#: name -> (model, size, batch size, extra options, train?)
CASES = {
    "cycle_gan_256": ("cycle_gan", 256, 1, [], True),
    "cycle_gan_128": ("cycle_gan", 128, 1, [], True),
    "cut_256": ("cut", 256, 1, [], True),  # CUT's step against CycleGAN's (the README's comparison)
    "cut_128": ("cut", 128, 1, [], True),
    "fastcut_256": ("cut", 256, 1, ["--CUT_mode", "FastCUT"], True),
    "pix2pix_256": ("pix2pix", 256, 1, [], True),
    "dcgan_64": ("dcgan", 64, 64, [], True),
    "test_256": ("test", 256, 1, ["--no_dropout"], False),
}
CONFIGS = ("classic", "fp32", "fast")
#: every configuration (``--configs``) -> its options; ``classic`` also undoes batched passes and fused Adam
CONFIG_OPTIONS = {
    "classic": ["--precision", "fp32", "--channels_last", "off", "--compile", "off"],
    "fp32": ["--precision", "fp32", "--channels_last", "off", "--compile", "off"],
    "fast": [],  # the device's defaults
    "bf16": ["--precision", "bf16", "--channels_last", "off", "--compile", "off"],
    "compiled": ["--precision", "fp32", "--channels_last", "off", "--compile", "on"],
    "compiled_bf16": ["--precision", "bf16", "--channels_last", "off", "--compile", "on"],
}


def _options(case: str, config: str, device: str, dataroot: str, batch: int = 0):
    from gantool.options import parse

    model, size, default_batch, extra, train = CASES[case]
    args = ["--model", model, "--dataroot", dataroot, "--gpu_ids", "-1" if device == "cpu" else "0",
            "--batch_size", str(batch or default_batch), "--seed", "0"] + (["--display_id", "0"] if train else []) + extra
    args += ["--img_size", str(size)] if model == "dcgan" else ["--load_size", str(size), "--crop_size", str(size)]
    return parse(args + CONFIG_OPTIONS[config], is_train=train)


def _batch(recipe, opt, size: int, batch: int, train: bool):
    import torch

    g = torch.Generator().manual_seed(0)
    shape = (batch, opt.input_nc, size, size)
    images = {"A": torch.rand(shape, generator=g) * 2 - 1,
              "B": torch.rand((batch, opt.output_nc, size, size), generator=g) * 2 - 1}
    if opt.model == "dcgan":
        return {"A": images["A"]}
    if not train:
        return {"A": images["A"], "A_paths": ["x"]}
    return images


def count_flops(fn) -> int:
    """Floating-point operations of one call of ``fn()``, counted by ``FlopCounterMode``.

    Counts matrix multiplies and convolutions (forward and, if ``fn`` runs it, backward) at 2 FLOP per
    multiply-add; element-wise work is not counted. ``fn`` runs once, untimed.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak(device: str, precision: str = "fp32", n: int = 0, repeats: int = 5) -> float:
    """The device's measured matrix-multiply throughput in FLOP/s for ``precision`` (fp32, bf16 or fp16).

    The best timing, after one warm-up each, of three products: ``torch.mm`` of two ``n x n`` matrices
    (default 2048 on the CPU, 8192 on a GPU; BLAS: MKL or cuBLAS), the same product as a 1x1 convolution,
    and a 256-channel 3x3 convolution (oneDNN or cuDNN, the library and the layer that dominate a
    ResnetGenerator). Why not ``mm`` alone: on the AMD EPYC used for the README, MKL's fp32 ``mm`` reached
    111 GFLOP/s on one thread while the generators' 3x3 convolutions ran at 177, which read as "160 %";
    on a GPU cuDNN computes fp32 convolutions in TF32 by default, cuBLAS fp32 products not. On a GPU each
    timing runs several products between ``torch.cuda.synchronize()`` calls so that launches do not count.
    """
    import torch
    import torch.nn.functional as F

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    n = n or (8192 if cuda else 2048)
    inner = 5 if cuda else 1
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dev, dtype)
    b = torch.randn(n, n, generator=g).to(dev, dtype)
    side = 1 << ((n.bit_length() - 1) // 2)  # the n "pixels" of the 1x1 convolution: side x (n / side)
    image = a.t().reshape(1, n, side, n // side)  # (1, C=n, H, W), H * W = n: image @ weight is a @ b
    weight = b.t().reshape(n, n, 1, 1)  # (C_out, C_in, 1, 1)
    batch, hw = (16, 64) if cuda else (1, 64)
    x3 = torch.randn(batch, 256, hw + 2, hw + 2, generator=g).to(dev, dtype)  # padded as in a resnet block
    w3 = (torch.randn(256, 256, 3, 3, generator=g) * 0.02).to(dev, dtype)
    products = ((lambda: torch.mm(a, b), 2.0 * n ** 3), (lambda: F.conv2d(image, weight), 2.0 * n ** 3),
                (lambda: F.conv2d(x3, w3), 2.0 * batch * hw * hw * 256 * 256 * 9))
    best = 0.0
    for product, flop in products:
        for i in range(repeats + 1):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(inner):
                product()
            if cuda:
                torch.cuda.synchronize()
            if i:  # the first product warms up (kernel choice, thread pool)
                best = max(best, flop * inner / (time.perf_counter() - start))
    return best


def flops_text(seconds: float, flop: int, peak: float, dtype: str) -> str:
    """``12.3 GFLOP/step  80 GFLOP/s = 35 % of the measured bf16 matmul peak (229 GFLOP/s)``."""
    achieved = flop / seconds
    return (f"{flop / 1e9:.1f} GFLOP/step  {achieved / 1e9:.0f} GFLOP/s = {100 * achieved / peak:.0f} % "
            f"of the measured {dtype} matmul peak ({peak / 1e9:.0f} GFLOP/s)")


def _classic(recipe) -> None:
    """Undo gantool's training speed-ups that fp32 keeps: batched passes and the fused Adam."""
    import torch

    if hasattr(recipe, "batch_passes"):
        recipe.batch_passes = False
    for name, opt in recipe.optimizers.items():
        group = opt.param_groups[0]
        params = [p for g in opt.param_groups for p in g["params"]]
        recipe.optimizers[name] = torch.optim.Adam(params, lr=group["lr"], betas=group["betas"], foreach=False)


def measure(case: str, config: str, device: str, repeats: int, threads: int = 0, batch_size: int = 0) -> dict:
    """Time one case in one configuration in this process; returns seconds per step, peak memory, the
    FLOP of one step and the measured matmul peak in the step's precision."""
    import torch

    from gantool.build import build_recipe
    from gantool.engine.step import StepRunner

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, size, batch, _, train = CASES[case]
    batch = batch_size or batch
    with tempfile.TemporaryDirectory() as root:
        opt = _options(case, config, device, root, batch)
    dev = torch.device(device)
    recipe = build_recipe(opt, dev)
    runner = StepRunner(dev, opt.precision, opt.channels_last, opt.compile, log=lambda m: None)
    runner.prepare(recipe)
    if config == "classic":
        _classic(recipe)
    data = runner.to_device(_batch(recipe, opt, size, batch, train))
    recipe.train(True)

    def step():
        if train:
            runner.train_step(recipe, data)
        else:
            runner.test_step(recipe, data)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    # The first step warms up (allocations, kernel choice) and is not counted; compiled steps get three:
    # compiling, and the CUDA graphs' recording, take the first ones.
    warm = 3 if opt.compile == "on" else 1
    for i in range(repeats + warm):
        start = time.perf_counter()
        step()
        if i >= warm:
            times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    with torch.compiler.set_stance("force_eager"):  # the FLOP counter cannot look into compiled graphs
        flop = count_flops(step)  # after the memory reading: the counter and the matmuls below are not the step's
    dtype = runner.precision.name
    return {"s_per_step": statistics.median(times), "images_per_step": batch, "peak_mb": peak / 2**20,
            "precision": dtype, "flop_per_step": flop, "peak_flops": matmul_peak(device, dtype),
            "peak_dtype": dtype}


def run_case(case: str, device: str, repeats: int, log, threads: int = 0, configs=CONFIGS, batch: int = 0) -> dict:
    """All ``configs`` of one case, each in its own subprocess; returns the case's figures."""
    out = {}
    for config in configs:
        cmd = [sys.executable, os.path.abspath(__file__), "--_one", case, config, "--device", device,
               "--repeats", str(repeats)] + (["--threads", str(threads)] if threads else []) \
            + (["--batch", str(batch)] if batch else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark {case} {config} failed:\n{proc.stderr[-2000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        train = CASES[case][4]
        if train:
            out[f"{config}_s_per_iter"] = round(r["s_per_step"], 4)
        else:
            out[f"{config}_images_per_s"] = round(r["images_per_step"] / r["s_per_step"], 3)
        out[f"{config}_peak_mb"] = round(r["peak_mb"], 1)
        if config == "fast":
            out["fast_precision"] = r["precision"]
        achieved = r["flop_per_step"] / r["s_per_step"]
        out[f"{config}_flop_per_step"] = r["flop_per_step"]
        out[f"{config}_achieved_flops"] = round(achieved)
        out[f"{config}_peak_flops"] = round(r["peak_flops"])
        out[f"{config}_peak_dtype"] = r["peak_dtype"]
        out[f"{config}_fraction_of_peak"] = round(achieved / r["peak_flops"], 4)
        log(f"  {case:<14} {config:<13} {r['s_per_step']:8.3f} s/step  peak {r['peak_mb']:8.1f} MB  ({r['precision']})  "
            + flops_text(r["s_per_step"], r["flop_per_step"], r["peak_flops"], r["peak_dtype"]))
    key = "s_per_iter" if CASES[case][4] else "images_per_s"
    ratio = (lambda a, b: out[f"{a}_{key}"] / out[f"{b}_{key}"]) if key == "s_per_iter" else \
        (lambda a, b: out[f"{b}_{key}"] / out[f"{a}_{key}"])
    if {"fp32", "fast"} <= set(configs):
        out["speedup"] = round(ratio("fp32", "fast"), 3)
    for config in configs:
        if config != "classic" and "classic" in configs:
            out["speedup_vs_classic" if config == "fast" else f"{config}_vs_classic"] = round(ratio("classic", config), 3)
    return out


def _cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's word for it."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or platform.machine())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per configuration (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice); on a "
                        "machine shared with other jobs, 1 avoids OpenMP threads waiting on each other")
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="run only these cases")
    parser.add_argument("--configs", nargs="*", choices=list(CONFIG_OPTIONS), default=list(CONFIGS),
                        help="configurations to run (default: classic fp32 fast); also bf16, compiled (--compile on, "
                             "fp32) and compiled_bf16")
    parser.add_argument("--batch", type=int, default=0, help="batch size for every case (default: each case's own)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--classic", metavar="DIR", help="run scripts/bench_classic.py DIR instead: the real "
                        "pytorch-CycleGAN-and-pix2pix command lines against gantool's; other arguments go to it")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.classic:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_classic.py")
        cmd = [sys.executable, script, args.classic, "--device", args.device] + (["--json"] if args.json else []) \
            + (["--threads", str(args.threads)] if args.threads else [])
        sys.exit(subprocess.call(cmd + rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args._one:
        print(json.dumps(measure(args._one[0], args._one[1], args.device, args.repeats, args.threads, args.batch)))
        return
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    machine = (torch.cuda.get_device_name(0) if args.device == "cuda"
               else f"CPU {_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads")
    log(f"gantool benchmark on {machine}, torch {torch.__version__}, median of {args.repeats} steps")
    results = {"machine": machine}
    for case in args.only or CASES:
        results[case] = run_case(case, args.device, args.repeats, log, args.threads, args.configs, args.batch)
        ratios = {k: v for k, v in results[case].items() if k == "speedup" or k.endswith("vs_classic")}
        log(f"  {case:<14} " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
