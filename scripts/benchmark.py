"""Training and test speed of gantool's fast path against fp32, measured in one run on this machine.

    python scripts/benchmark.py [--device cpu|cuda] [--repeats 3] [--only cycle_gan_256 test_256] [--json]

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
``torch.cuda.max_memory_allocated`` on a GPU. ``--json`` prints one JSON object, e.g.
``{"cycle_gan_256": {"classic_s_per_iter": ..., "fp32_s_per_iter": ..., "fast_s_per_iter": ...,
"speedup": fp32/fast, "speedup_vs_classic": classic/fast, ...}, ...}``; test cases report images per second.
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
    "pix2pix_256": ("pix2pix", 256, 1, [], True),
    "dcgan_64": ("dcgan", 64, 64, [], True),
    "test_256": ("test", 256, 1, ["--no_dropout"], False),
}
CONFIGS = ("classic", "fp32", "fast")


def _options(case: str, config: str, device: str, dataroot: str):
    from gantool.options import parse

    model, size, batch, extra, train = CASES[case]
    args = ["--model", model, "--dataroot", dataroot, "--gpu_ids", "-1" if device == "cpu" else "0",
            "--batch_size", str(batch), "--seed", "0"] + (["--display_id", "0"] if train else []) + extra
    args += ["--img_size", str(size)] if model == "dcgan" else ["--load_size", str(size), "--crop_size", str(size)]
    if config != "fast":
        args += ["--precision", "fp32", "--channels_last", "off", "--compile", "off"]
    return parse(args, is_train=train)


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


def _classic(recipe) -> None:
    """Undo gantool's training speed-ups that fp32 keeps: batched passes and the fused Adam."""
    import torch

    if hasattr(recipe, "batch_passes"):
        recipe.batch_passes = False
    for name, opt in recipe.optimizers.items():
        group = opt.param_groups[0]
        params = [p for g in opt.param_groups for p in g["params"]]
        recipe.optimizers[name] = torch.optim.Adam(params, lr=group["lr"], betas=group["betas"], foreach=False)


def measure(case: str, config: str, device: str, repeats: int) -> dict:
    """Time one case in one configuration in this process; returns seconds per step and peak memory."""
    import torch

    from gantool.build import build_recipe
    from gantool.engine.step import StepRunner

    torch.manual_seed(0)
    model, size, batch, _, train = CASES[case]
    with tempfile.TemporaryDirectory() as root:
        opt = _options(case, config, device, root)
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
    for i in range(repeats + 1):  # the first step warms up (allocations, kernel choice) and is not counted
        start = time.perf_counter()
        step()
        if i:
            times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"s_per_step": statistics.median(times), "images_per_step": batch, "peak_mb": peak / 2**20,
            "precision": runner.precision.name}


def run_case(case: str, device: str, repeats: int, log) -> dict:
    """All configurations of one case, each in its own subprocess; returns the case's figures."""
    out = {}
    for config in CONFIGS:
        cmd = [sys.executable, os.path.abspath(__file__), "--_one", case, config, "--device", device,
               "--repeats", str(repeats)]
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
        log(f"  {case:<14} {config:<8} {r['s_per_step']:8.3f} s/step  peak {r['peak_mb']:8.1f} MB  ({r['precision']})")
    key = "s_per_iter" if CASES[case][4] else "images_per_s"
    ratio = (lambda a, b: out[f"{a}_{key}"] / out[f"{b}_{key}"]) if key == "s_per_iter" else \
        (lambda a, b: out[f"{b}_{key}"] / out[f"{a}_{key}"])
    out["speedup"] = round(ratio("fp32", "fast"), 3)
    out["speedup_vs_classic"] = round(ratio("classic", "fast"), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per configuration (median)")
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="run only these cases")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        print(json.dumps(measure(args._one[0], args._one[1], args.device, args.repeats)))
        return
    import torch

    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    machine = (torch.cuda.get_device_name(0) if args.device == "cuda"
               else f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads")
    log(f"gantool benchmark on {machine}, torch {torch.__version__}, median of {args.repeats} steps")
    results = {"machine": machine}
    for case in args.only or CASES:
        results[case] = run_case(case, args.device, args.repeats, log)
        r = results[case]
        log(f"  {case:<14} fast/fp32 speed-up {r['speedup']:.2f}x, fast/classic {r['speedup_vs_classic']:.2f}x")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
