"""Training throughput (images per second) of one process against two, under torchrun.

    python scripts/bench_distributed.py [--images 48] [--rounds 3] [--cpu_only] [-- extra train.py options]

On the CPU it trains the CycleGAN demo (built-in toy_day2night, 64x64, resnet_6blocks, ngf/ndf 32) four
ways: one process with a batch of 1 on one thread, the same on all cores, one process with a batch of 2
on all cores (the global batch of two processes), and two processes with a batch of 1 each (torchrun,
gloo, one thread each as torchrun sets). Where CUDA is present it also trains on 1 GPU and, with several
GPUs, on 1 GPU with the global batch and on every GPU at once (NCCL, one process each).

Each setting trains ``--images`` images after two warm-up steps, in a fresh temporary run folder, and
counts the images of all processes. The settings take turns for ``--rounds`` rounds and each keeps its
best round, since other jobs on a shared machine slow single runs down by several times. Prints one
markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = ["--model", "cycle_gan", "--display_id", "0", "--no_html", "--num_threads", "0", "--n_epochs", "100",
        "--n_epochs_decay", "0", "--print_freq", "1000000", "--save_latest_freq", "1000000", "--seed", "1"]


def worker(args) -> None:
    """Under torchrun (or alone): train ``--images`` images after two warm-up steps; rank 0 prints the figures."""
    sys.path.insert(0, REPO)
    from gantool.build import build_trainer
    from gantool.engine import distributed
    from gantool.options import parse

    trainer = build_trainer(parse(args.train_args, is_train=True), log=lambda message: None)
    for i, batch in enumerate(trainer._loader(1, 0)):  # warm-up: first-call allocations, DDP buckets
        trainer._step(batch)
        if i == 1:
            break
    distributed.barrier()
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    if distributed.is_main():
        print("RESULT " + json.dumps({"images": trainer.total_iters, "seconds": seconds}), flush=True)


def run(nproc: int, extra: list, images: int, threads: int = 0) -> dict:
    """One setting in a fresh process group (``threads`` > 0: that many per process); returns
    ``{"images", "seconds"}``."""
    with tempfile.TemporaryDirectory() as tmp:
        train_args = [*DEMO, "--checkpoints_dir", tmp, "--name", "bench", "--max_iters", str(images), *extra]
        me = [os.path.abspath(__file__), "--worker", "--", *train_args]
        command = ([sys.executable, *me] if nproc == 1 else
                   [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *me])
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        if result.returncode != 0 or not lines:
            sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="images to train per setting (all processes)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per setting, taking turns; the best counts")
    parser.add_argument("--cpu_only", action="store_true", help="skip the GPU settings even when CUDA is present")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("train_args", nargs="*", help="extra train.py options (after --)")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    import torch

    threads = torch.get_num_threads()
    settings = [("CPU", "1 process (1 thread), batch 1", 1, ["--gpu_ids", "-1", "--batch_size", "1"]),
                ("CPU", f"1 process ({threads} threads), batch 1", 1, ["--gpu_ids", "-1", "--batch_size", "1"]),
                ("CPU", f"1 process ({threads} threads), batch 2", 1, ["--gpu_ids", "-1", "--batch_size", "2"]),
                ("CPU", "2 processes (1 thread each), batch 1 each", 2, ["--gpu_ids", "-1", "--batch_size", "1"])]
    if torch.cuda.is_available() and not args.cpu_only:
        n = torch.cuda.device_count()
        name = torch.cuda.get_device_name(0)
        settings.append((name, "1 GPU, batch 1", 1, ["--gpu_ids", "0", "--batch_size", "1"]))
        if n > 1:
            ids = ",".join(map(str, range(n)))
            settings += [(name, f"1 GPU, batch {n}", 1, ["--gpu_ids", "0", "--batch_size", str(n)]),
                         (name, f"{n} GPUs, batch 1 each", n, ["--gpu_ids", ids, "--batch_size", "1"])]
    rates = [[] for _ in settings]
    for _ in range(args.rounds):
        for i, (device, label, nproc, options) in enumerate(settings):
            figures = run(nproc, options + args.train_args, args.images, threads=1 if "(1 thread)" in label else 0)
            rates[i].append(figures["images"] / figures["seconds"])
    print(f"| device | setting | images/s (best of {args.rounds}) | all rounds | vs the first on the device |\n"
          "|---|---|---:|---|---:|")
    first = {}
    for (device, label, _, _), runs in zip(settings, rates):
        first.setdefault(device, max(runs))
        print(f"| {device} | {label} | {max(runs):.2f} | {', '.join(f'{r:.2f}' for r in runs)} | "
              f"{max(runs) / first[device]:.2f}x |")


if __name__ == "__main__":
    main()
