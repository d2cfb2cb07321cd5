"""Comparing training settings at equal wall-clock on a shared, noisy CPU (used by ``bench_mobile.py`` and
``demo_study.py``; not a command of its own).

Timing whole training runs would compare the machine's load more than the settings. Instead an interleaved
micro-benchmark of the real training step (the recipe and step runner ``train.py`` builds, same options, same
``--precision``) gives each setting's seconds per step; a setting that is r times as fast as the reference gets
r times its steps (:func:`schedule`). The runs themselves may then share the CPU (``--jobs``) without biasing
the comparison; their wall times are printed only as a check.
"""
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout


def cpu_description() -> str:
    """The CPU model (``/proc/cpuinfo``), its family/model numbers and its vector extensions that matter here."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    fields = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in fields.get("flags", "").split()]
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model "
            f"{fields.get('model', '?')}; {os.cpu_count()} logical CPUs; {' '.join(flags) or 'no AVX2'})")


def interleaved(runs: Dict[str, Callable[[], None]], repeats: int, warmup: int = 1) -> Dict[str, List[float]]:
    """Seconds of each callable, alternating A B A B ... over ``repeats`` rounds after ``warmup`` untimed ones."""
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def step_seconds(settings: Mapping[str, Sequence[str]], repeats: int, steps: int,
                 min_round_s: float = 0.0) -> Dict[str, object]:
    """Median seconds per training step of each setting (``train.py`` arguments, the built-in data unless they
    name ``--dataroot``), on random images of the run's size, interleaved. A round runs ``steps`` steps, or more
    so that the first setting's round lasts at least ``min_round_s`` (short rounds measure the machine's
    hiccups more than the step). Returns ``precision``, ``steps_per_round``, and by setting name ``s_per_step``,
    ``batch_size`` and ``epochs`` (``(--n_epochs, --n_epochs_decay)``, as parsed)."""
    from gantool import options
    from gantool.build import build_recipe
    from gantool.engine.step import StepRunner

    runners, precision, batch_size, epochs = {}, "", {}, {}
    for name, argv in settings.items():
        opt = options.parse(["--gpu_ids", "-1", "--display_id", "0", *argv], is_train=True)
        batch_size[name], epochs[name] = opt.batch_size, (opt.n_epochs, opt.n_epochs_decay)
        torch.manual_seed(0)
        recipe = build_recipe(opt, torch.device("cpu"))
        runner = StepRunner(torch.device("cpu"), opt.precision, opt.channels_last, opt.compile, log=lambda line: None)
        runner.prepare(recipe)
        precision = runner.precision.name
        shape = (opt.batch_size, opt.input_nc, opt.crop_size, opt.crop_size)
        out_shape = (opt.batch_size, opt.output_nc, opt.crop_size, opt.crop_size)
        batch = {"A": torch.rand(shape) * 2 - 1, "B": torch.rand(out_shape) * 2 - 1,
                 "A_paths": ["a.png"] * opt.batch_size, "B_paths": ["b.png"] * opt.batch_size}

        def run(recipe=recipe, runner=runner, batch=batch, count=None) -> None:
            for _ in range(count or steps):
                runner.train_step(recipe, batch)
        runners[name] = run
    first = next(iter(runners.values()))
    first(count=2)  # warm-up, then the time of one step
    start = time.perf_counter()
    first(count=1)
    steps = max(steps, math.ceil(min_round_s / max(time.perf_counter() - start, 1e-6)))
    times = interleaved(runners, repeats)
    return {"precision": precision, "s_per_step": {name: statistics.median(t) / steps for name, t in times.items()},
            "steps_per_round": steps, "batch_size": batch_size, "epochs": epochs}


def schedule(base_epochs: int, images: int, ratio: float, constant_share: float = 0.5) -> Dict[str, int]:
    """Epochs and images per epoch giving about ``ratio`` times the ``base_epochs * images`` steps, the share
    ``constant_share`` of the epochs (rounded up) at a constant learning rate and the rest decaying, as the
    demo's (2 + 2 for CycleGAN: 0.5; 30 + 10 for the MLP GAN: 0.75)."""
    target = base_epochs * images * ratio
    epochs = max(base_epochs, math.ceil(target / images))
    per_epoch = max(1, min(images, round(target / epochs)))
    constant = min(epochs, math.ceil(epochs * constant_share - 1e-9))
    return {"n_epochs": constant, "n_epochs_decay": epochs - constant, "max_dataset_size": per_epoch,
            "steps": epochs * per_epoch}


def run_script(script: str, args: Sequence[str], cwd: str, threads: Optional[int]) -> float:
    """Run ``python <repo>/<script> args`` in ``cwd``; its wall seconds. Raises with its output when it fails."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return time.perf_counter() - start


def train_and_score(work: str, name: str, train_args: Sequence[str], test_args: Sequence[str], seed: int,
                    plan: Mapping[str, int], threads: Optional[int],
                    score: Optional[Callable[[str], Dict[str, float]]] = None) -> Dict[str, object]:
    """Train ``train.py train_args`` on ``plan``'s schedule as run ``name`` (a new name in ``work``), run ``test.py
    test_args`` on it, and score its results folder with ``score`` (default: L1/PSNR/SSIM against the truth, as
    ``gantool eval paired``, and ``identity`` the same of the inputs). ``train_args`` name the model; the plan's
    epochs and images per epoch come last, so they win."""
    common = ["--gpu_ids", "-1", "--name", name]
    train = ["--seed", str(seed), "--display_id", "0", "--no_html", *train_args, "--n_epochs", str(plan["n_epochs"]),
             "--n_epochs_decay", str(plan["n_epochs_decay"]), "--max_dataset_size", str(plan["max_dataset_size"])]
    train_s = run_script("train.py", common + train, work, threads)
    test_s = run_script("test.py", [*common, *test_args], work, threads)
    tested = sorted(Path(work, "results", name).glob("test_*"))  # test_latest, or test_latest_ema with --ema
    out = {"name": name, "seed": seed, "steps": plan["steps"], "train_s": train_s, "test_s": test_s}
    if score:
        return {**out, **score(str(tested[-1]))}
    from gantool.metrics.paired_eval import evaluate

    rows = evaluate(str(tested[-1]))
    out.update({k: rows[0][k] for k in ("l1", "psnr", "ssim")})
    out["identity"] = {k: rows[1][k] for k in ("l1", "psnr", "ssim")} if len(rows) > 1 else None
    return out
