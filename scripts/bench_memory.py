"""The memory estimate against the measured peak, for train.py and test.py at several image sizes.

Each run goes in a fresh interpreter: it estimates as train.py (or test.py) does at start-up, resets the
process's peak-RSS counter (``/proc/self/clear_refs``), trains a few steps (or tests a few images), and
reports the peak above the resident memory it started from. On a GPU, ``torch.cuda.max_memory_allocated`` is
the measure. The images are random PNGs of the size asked for; networks are the defaults of ``--model``.

    python scripts/bench_memory.py                      # cycle_gan, 64 128 256, CPU, train and test
    python scripts/bench_memory.py --sizes 32,64,96 --json
    python scripts/bench_memory.py --device cuda --sizes 128,256,512

The pools are kept to ``--pool_size`` images (the estimate counts them full; they fill in that many steps),
so that a few steps reach the steady state.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _images(folder: str, count: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i}.png"))


def child(args: argparse.Namespace) -> dict:
    """One measured run; returns the estimate's parts and the measured peak (bytes)."""
    sys.path.insert(0, ROOT)
    import torch

    from gantool import build, options, preflight
    from gantool.engine.device import select_device

    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp(prefix="bench_memory_")
    data = os.path.join(tmp, "data")
    for split in ("trainA", "trainB", "testA", "testB"):
        _images(os.path.join(data, split), 4, args.size)
    gpu = "0" if args.device == "cuda" else "-1"
    common = ["--dataroot", data, "--model", args.model, "--load_size", str(args.size), "--crop_size", str(args.size),
              "--num_threads", "0", "--gpu_ids", gpu, "--checkpoints_dir", os.path.join(tmp, "ck"), "--name", "run",
              "--precision", args.precision]
    train_args = common + ["--display_id", "0", "--no_html", "--pool_size", str(args.pool_size), "--n_epochs", "1",
                           "--n_epochs_decay", "0", "--save_epoch_freq", "1000"]
    train = options.parse(train_args + ["--max_iters", str(args.steps)], is_train=True)
    silent = lambda *a: None  # noqa: E731
    device = select_device(train.gpu_list)[0]
    dataset = build.build_dataset(train, silent)
    if args.phase == "train":
        estimate = preflight.training_estimate(train, device, dataset, build.build_recipe)[0]
    start = _reset(device)
    if args.phase == "train":
        build.build_trainer(train, silent).fit()
    else:
        # The weights test.py loads, trained in another process: this one's memory must start untouched.
        subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *train_args, "--max_iters", "1"],
                       check=True, capture_output=True)
        test = options.parse(common + ["--results_dir", os.path.join(tmp, "results"), "--num_test", str(args.steps)],
                             is_train=False)
        test_data = build.build_dataset(test, silent)
        estimate = preflight.test_estimate(test, device, test_data, build.build_recipe)[0]
        start = _reset(device)
        build.build_tester(test, silent).run()
    peak = _peak(device) - start
    return {"size": args.size, "phase": args.phase, "estimate": estimate.total, "parts": estimate.parts,
            "measured": peak, "ratio": estimate.total / peak}


def _reset(device) -> int:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size
    return _status("VmRSS")


def _peak(device) -> int:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(device)
    return _status("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cycle_gan")
    parser.add_argument("--sizes", default="64,128,256", help="image sides, comma-separated")
    parser.add_argument("--phases", default="train,test")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--steps", type=int, default=6, help="training steps (test: images) measured")
    parser.add_argument("--pool_size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="train", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)))
        return
    rows = []
    for phase in args.phases.split(","):
        for size in [int(s) for s in args.sizes.split(",")]:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--size", str(size), "--phase", phase]
            for key in ("model", "device", "precision", "steps", "pool_size", "threads"):
                cmd += [f"--{key}", str(getattr(args, key))]
            out = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode or not lines:
                sys.exit(f"{phase} at {size}: failed:\n{out.stderr[-2000:]}")
            rows.append(json.loads(lines[-1][len("RESULT "):]))
    if args.json:
        print(json.dumps(rows))
        return
    mib = 1 << 20
    print(f"{args.model} on {args.device}, precision {args.precision}, {args.steps} steps, pools of {args.pool_size}")
    print(f"{'phase':6} {'size':>5} {'estimate MiB':>13} {'measured MiB':>13} {'ratio':>6}")
    for r in rows:
        print(f"{r['phase']:6} {r['size']:5d} {r['estimate'] / mib:13.0f} {r['measured'] / mib:13.0f} {r['ratio']:6.2f}")


if __name__ == "__main__":
    main()
