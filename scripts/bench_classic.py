"""gantool against the real pytorch-CycleGAN-and-pix2pix, through both tools' real command lines.

    python scripts/bench_classic.py DIR [--device cpu|cuda] [--size 128] [--rounds 2] [--threads N] [--json]
                                        [--gantool_args "--precision fp32"] [--classic_args "..."]

DIR is a checkout of https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix (measured: commit 2a7afba).
The script never writes into DIR:

- it generates one unaligned dataset (trainA/trainB/testA/testB, smooth random RGB PNGs at ``--size``,
  default 128 on the CPU and 256 on CUDA) in a temporary folder, used by both tools;
- CycleGAN training: both ``train.py`` run with the same options (``--model cycle_gan --load_size S
  --crop_size S --n_epochs 1 --n_epochs_decay 0 --serial_batches --no_html --num_threads T``, the
  device, a fresh ``--checkpoints_dir``), each twice, with ``--max_dataset_size`` small and large
  (``--train_images``, default 4 and 14 on the CPU); seconds per iteration are
  ``(t_large - t_small) / (large - small)`` of the processes' wall times, so start-up, network
  construction, the first step's warm-up and the final save cancel;
- test: both ``test.py --model test --no_dropout`` on testA, loading the same weights: gantool's
  trained ``latest_net_G_A.pth`` from the first round, copied to ``<tmp>/test_checkpoints/<name>/
  latest_net_G.pth`` (so this also checks that the classic code loads gantool's files), images per
  second the same way (``--test_images``);
- the tools alternate, classic then gantool, in each of ``--rounds`` rounds (A B A B ...), so a machine
  whose speed drifts (other jobs) does not favour one tool; the figures are the medians over rounds,
  with each round's ratio shown as well.

``--threads N`` sets both tools' torch threads (OMP_NUM_THREADS): on a small machine shared with other
jobs, torch's default (one OpenMP thread per core) can make a step many times slower whenever another
process takes a core (the threads wait on each other at every operation), so ``--threads 1`` gives
steadier figures there.

Each run's output is checked: the classic ``The number of training images = N`` line, gantool's
``training N images per epoch`` line, and N ``*_fake.png`` files written by each test run.

The classic code at 2a7afba imports wandb at start-up and picks the device itself (CUDA if visible):
the classic runs get a temporary folder on PYTHONPATH with an empty ``wandb`` module (and a minimal
``dominate`` stand-in when dominate is not installed), and ``CUDA_VISIBLE_DEVICES=`` on the CPU. Options
that only some classic versions have (``--gpu_ids``, ``--display_id``) are passed when DIR's
``options/`` defines them. gantool runs with ``--display_id 0`` and ``--gpu_ids -1`` or ``0``.

``--json`` prints one JSON object: machine, torch, device, size, rounds, the arguments, the run order
(``order``: [tool, phase, images] per run), ``runs`` (every run's seconds), and ``train`` / ``test``
with ``classic_s_per_iter`` / ``gantool_s_per_iter`` and ``classic_iters_per_s`` / ``gantool_iters_per_s``
(``..._s_per_image`` / ``..._images_per_s`` for test), ``ratio`` (gantool/classic in iterations or
images per second), ``round_ratios`` and the start-up seconds of each tool. Exit status 2 with one line
when DIR is not a classic checkout or the device is missing; 1 when a run fails.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("classic", "gantool")
CLASSIC_FILES = ("train.py", "test.py", "options/base_options.py", "options/train_options.py",
                 "models/cycle_gan_model.py", "models/test_model.py")
CLASSIC_TRAIN_LINE = re.compile(r"The number of training images = (\d+)")
GANTOOL_TRAIN_LINE = re.compile(r"training (\d+) images per epoch")
NAME = "bench"

# A stand-in for dominate (classic util/html.py) where it is not installed: tags that nest and render nothing.
DOMINATE_STUB = '''class _Tag:
    def __init__(self, *args, **kwargs):
        self.head = self
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False
    def add(self, *children):
        return children[0] if children else None
    def render(self):
        return "<html><body>(dominate is not installed: bench_classic.py stand-in)</body></html>"
document = _Tag
'''
DOMINATE_TAGS = "from dominate import _Tag\nmeta = h3 = table = tr = td = p = a = img = br = _Tag\n"


class BenchError(Exception):
    """A one-line problem with the arguments or the environment (exit status 2)."""


class RunError(Exception):
    """A tool's run failed or did not do what was asked (exit status 1)."""


def check_classic(directory: Path) -> None:
    """Raise :class:`BenchError` unless ``directory`` looks like a pytorch-CycleGAN-and-pix2pix checkout."""
    if not directory.is_dir():
        raise BenchError(f"{directory} is not a directory; give a pytorch-CycleGAN-and-pix2pix checkout")
    missing = [f for f in CLASSIC_FILES if not (directory / f).is_file()]
    if missing:
        raise BenchError(f"{directory} is not a pytorch-CycleGAN-and-pix2pix checkout (no {missing[0]})")


def classic_defines(directory: Path, option: str) -> bool:
    """Whether the classic checkout's ``options/`` defines ``option`` (e.g. ``--gpu_ids``)."""
    pattern = re.compile(r"""add_argument\(\s*['"]%s['"]""" % re.escape(option))
    return any(pattern.search(f.read_text(errors="replace")) for f in (directory / "options").glob("*.py"))


def classic_commit(directory: Path) -> str:
    """DIR's git commit (short), or ``unknown`` for a plain copy."""
    try:
        out = subprocess.run(["git", "-C", str(directory), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def make_dataset(root: Path, size: int, n_train: int, n_test: int, seed: int = 0) -> None:
    """trainA/trainB (``n_train`` each) and testA/testB (``n_test`` each) of smooth random RGB PNGs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for folder, count in (("trainA", n_train), ("trainB", n_train), ("testA", n_test), ("testB", n_test)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(root / folder / f"{i:04d}.png")


def machine_info(python: str, device: str, threads: int = 0) -> dict:
    """CPU or GPU name, core count and torch version, read by a subprocess (which also warms the page cache
    with torch's files, so that the first timed run does not pay for a cold start)."""
    code = ("import json, os, platform, torch, torchvision\n"
            "cpu = platform.processor() or platform.machine()\n"
            "try:\n"
            "    names = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]\n"
            "    cpu = names[0] if names else cpu\n"
            "except OSError:\n"
            "    pass\n"
            "gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None\n"
            "print(json.dumps({'cpu': cpu, 'cores': os.cpu_count(), 'torch_threads': torch.get_num_threads(),\n"
            "                  'gpu': gpu, 'torch': torch.__version__, 'torchvision': torchvision.__version__}))\n")
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BenchError(f"{python} cannot import torch and torchvision: {proc.stderr.strip().splitlines()[-1:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if device == "cuda" and not info["gpu"]:
        raise BenchError("--device cuda: torch sees no CUDA device here")
    info["description"] = (f"{info['gpu']} (CPU {info['cpu']}, {info['cores']} cores)" if device == "cuda"
                           else f"CPU {info['cpu']}, {info['cores']} cores, {info['torch_threads']} torch threads")
    return info


class Bench:
    """Runs the two tools' command lines on one dataset and collects the timings."""

    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.a, self.tmp = args, tmp
        self.classic = Path(args.classic_dir).resolve()
        self.gantool = Path(args.gantool_dir).resolve()
        self.data = tmp / "data"
        self.test_ckpt = tmp / "test_checkpoints"
        self.runs = []  # {"round", "tool", "phase", "images", "seconds"} in the order they ran
        self.stub = tmp / "classic_stubs"
        self.stub.mkdir()
        (self.stub / "wandb.py").write_text('"""Empty stand-in: the classic code imports wandb at start-up."""\n')
        if subprocess.run([args.python, "-c", "import dominate"], capture_output=True).returncode != 0:
            (self.stub / "dominate").mkdir()
            (self.stub / "dominate" / "__init__.py").write_text(DOMINATE_STUB)
            (self.stub / "dominate" / "tags.py").write_text(DOMINATE_TAGS)
        self.has_gpu_ids = classic_defines(self.classic, "--gpu_ids")
        self.has_display_id = classic_defines(self.classic, "--display_id")

    def _device_args(self, tool: str) -> list:
        gpu = "-1" if self.a.device == "cpu" else "0"
        return ["--gpu_ids", gpu] if tool == "gantool" or self.has_gpu_ids else []

    def command(self, tool: str, phase: str, images: int, out: Path) -> list:
        """The command line of one run (``out``: its own checkpoints/results folder)."""
        s = str(self.a.size)
        if phase == "train":
            args = ["--model", "cycle_gan", "--dataroot", str(self.data), "--name", NAME,
                    "--checkpoints_dir", str(out / "checkpoints"), "--load_size", s, "--crop_size", s,
                    "--n_epochs", "1", "--n_epochs_decay", "0", "--serial_batches", "--no_html",
                    "--num_threads", str(self.a.num_threads), "--max_dataset_size", str(images)]
            if tool == "gantool":
                args += ["--display_id", "0"]
            elif self.has_display_id:
                args += ["--display_id", "-1"]
        else:
            args = ["--model", "test", "--no_dropout", "--dataroot", str(self.data / "testA"), "--name", NAME,
                    "--checkpoints_dir", str(self.test_ckpt), "--results_dir", str(out / "results"),
                    "--load_size", s, "--crop_size", s, "--max_dataset_size", str(images), "--num_test", "1000000"]
        extra = shlex.split(self.a.gantool_args if tool == "gantool" else self.a.classic_args)
        folder = self.gantool if tool == "gantool" else self.classic
        return [self.a.python, str(folder / f"{phase}.py")] + args + self._device_args(tool) + extra

    def _env(self, tool: str) -> dict:
        env = dict(os.environ)
        if self.a.threads:  # torch's intra-op threads (OpenMP, MKL) in both tools
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.a.threads)
        if self.a.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""  # the classic code at 2a7afba takes CUDA whenever it sees it
        if tool == "classic":
            env["PYTHONPATH"] = os.pathsep.join([str(self.stub)] + [p for p in [env.get("PYTHONPATH")] if p])
        return env

    def run(self, rnd: int, tool: str, phase: str, images: int) -> float:
        """One run, timed from start to exit; checks that it processed ``images`` images."""
        out = self.tmp / "runs" / f"{phase}_{tool}_{images}_round{rnd}"
        out.mkdir(parents=True)
        cmd = self.command(tool, phase, images, out)
        cwd = self.classic if tool == "classic" else out  # classic: its own folder (it imports its packages)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=self._env(tool), capture_output=True, text=True)
        seconds = time.perf_counter() - start
        (out / "stdout.txt").write_text(proc.stdout)
        (out / "stderr.txt").write_text(proc.stderr)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise RunError(f"{tool} {phase}.py failed (exit {proc.returncode}): {shlex.join(cmd)}\n{tail}")
        done = self._count(tool, phase, proc.stdout + proc.stderr, out)
        if done != images:
            raise RunError(f"{tool} {phase}.py processed {done} images, not {images}: {shlex.join(cmd)}")
        if phase == "train" and tool == "gantool" and not self.test_ckpt.exists():
            self._keep_generator(out)
        self.runs.append({"round": rnd, "tool": tool, "phase": phase, "images": images, "seconds": seconds})
        self.a.log(f"  round {rnd}  {tool:<8} {phase}.py  {images:4d} images  {seconds:8.2f} s")
        return seconds

    @staticmethod
    def _count(tool: str, phase: str, output: str, out: Path) -> int:
        if phase == "test":
            return len(list((out / "results" / NAME).glob("*/images/*_fake.png")))
        found = (CLASSIC_TRAIN_LINE if tool == "classic" else GANTOOL_TRAIN_LINE).search(output)
        return int(found.group(1)) if found else -1

    def _keep_generator(self, out: Path) -> None:
        """gantool's trained G_A becomes the test weights of both tools (classic name: latest_net_G.pth)."""
        trained = out / "checkpoints" / NAME / "latest_net_G_A.pth"
        if not trained.is_file():
            raise RunError(f"gantool train.py wrote no {trained}")
        (self.test_ckpt / NAME).mkdir(parents=True)
        shutil.copyfile(trained, self.test_ckpt / NAME / "latest_net_G.pth")

    def phase(self, phase: str, small: int, large: int) -> dict:
        """All rounds of one phase, tools alternating; per-image seconds, their medians and the ratio."""
        per = {tool: [] for tool in TOOLS}
        startup = {tool: [] for tool in TOOLS}
        for rnd in range(1, self.a.rounds + 1):
            for tool in TOOLS:
                t_small = self.run(rnd, tool, phase, small)
                t_large = self.run(rnd, tool, phase, large)
                each = (t_large - t_small) / (large - small)
                per[tool].append(each)
                startup[tool].append(t_small - small * each)
        unit = "iter" if phase == "train" else "image"
        rate = "iters_per_s" if phase == "train" else "images_per_s"
        result = {"images": [small, large]}
        for tool in TOOLS:
            med = statistics.median(per[tool])
            result[f"{tool}_s_per_{unit}"] = round(med, 5)
            result[f"{tool}_{rate}"] = round(1 / med, 4) if med > 0 else None
            result[f"{tool}_s_per_{unit}_rounds"] = [round(x, 5) for x in per[tool]]
            result[f"{tool}_startup_s"] = round(statistics.median(startup[tool]), 3)
        c, g = result[f"classic_s_per_{unit}"], result[f"gantool_s_per_{unit}"]
        # gantool/classic in iterations (images) per second
        result["ratio"] = round(c / g, 4) if g > 0 and c > 0 else None
        result["round_ratios"] = [round(a / b, 4) if a > 0 and b > 0 else None
                                  for a, b in zip(per["classic"], per["gantool"])]
        return result


def _num(x, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def table(res: dict) -> str:
    """The human-readable summary."""
    lines = [f"bench_classic on {res['machine']}, torch {res['torch']}, device {res['device']}",
             f"classic {res['classic_dir']} (commit {res['classic_commit']}) vs gantool {res['gantool_dir']}; "
             f"CycleGAN {res['size']}x{res['size']}, {res['rounds']} rounds (classic, gantool alternating)",
             f"gantool_args: {res['gantool_args'] or '(none)'}; classic_args: {res['classic_args'] or '(none)'}",
             "",
             f"{'':<10} {'classic':>24} {'gantool':>24} {'gantool/classic':>16}  per round"]
    for phase, unit, rate, label in (("train", "iter", "iters_per_s", "it/s"),
                                     ("test", "image", "images_per_s", "img/s")):
        r = res[phase]
        cells = [f"{_num(r[f'{t}_{rate}'], '.3f')} {label} ({r[f'{t}_s_per_{unit}']:.3f} s)" for t in TOOLS]
        rounds = " ".join(_num(x, ".2f") + "x" for x in r["round_ratios"])
        lines.append(f"{phase + '.py':<10} {cells[0]:>24} {cells[1]:>24} {_num(r['ratio'], '.2f'):>15}x  {rounds}")
        if any(x <= 0 for t in TOOLS for x in r[f"{t}_s_per_{unit}_rounds"]):
            lines.append(f"  ({phase}: in some round a larger run was not slower than the smaller one: the machine's "
                         "noise exceeded the difference; use more images, rounds or --threads 1)")
    tr, te = res["train"]["images"], res["test"]["images"]
    lines.append(f"(seconds per iteration or image = (t_large - t_small) / (large - small) of whole runs with "
                 f"--max_dataset_size {tr[0]} and {tr[1]} (train), {te[0]} and {te[1]} (test); median over rounds)")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("classic_dir", metavar="DIR", help="a pytorch-CycleGAN-and-pix2pix checkout (read only)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--size", type=int, help="image size (load and crop); default 128 on the CPU, 256 on CUDA")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of classic-then-gantool runs (median)")
    parser.add_argument("--train_images", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                        help="--max_dataset_size of the two training runs (default 4 14 on the CPU, 10 110 on CUDA)")
    parser.add_argument("--test_images", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                        help="--max_dataset_size of the two test runs (default 4 24 on the CPU, 10 210 on CUDA)")
    parser.add_argument("--num_threads", type=int, default=1, help="data loader workers of both tools' train.py")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of both tools (OMP_NUM_THREADS); default: torch's own choice. On a "
                             "machine shared with other jobs, 1 avoids OpenMP threads waiting on each other")
    parser.add_argument("--gantool_args", default="", help='extra gantool flags, e.g. "--precision fp32"')
    parser.add_argument("--classic_args", default="", help="extra classic flags")
    parser.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    parser.add_argument("--gantool_dir", default=str(REPO),
                        help="folder of gantool's train.py/test.py (default: this repository)")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs both tools")
    parser.add_argument("--keep", metavar="FOLDER", help="work in FOLDER and keep it (data, outputs, logs)")
    args = parser.parse_args(argv)
    cuda = args.device == "cuda"
    args.size = args.size or (256 if cuda else 128)
    args.train_images = args.train_images or ([10, 110] if cuda else [4, 14])
    args.test_images = args.test_images or ([10, 210] if cuda else [4, 24])
    for name in ("train_images", "test_images"):
        small, large = getattr(args, name)
        if not 0 < small < large:
            parser.error(f"--{name} {small} {large}: give two counts, 0 < SMALL < LARGE")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def bench(args: argparse.Namespace) -> dict:
    """Everything: checks, dataset, all runs; returns the result object."""
    classic = Path(args.classic_dir).resolve()
    check_classic(classic)
    for f in ("train.py", "test.py"):
        if not (Path(args.gantool_dir) / f).is_file():
            raise BenchError(f"--gantool_dir {args.gantool_dir} has no {f}")
    info = machine_info(args.python, args.device, args.threads)
    args.log(f"bench_classic on {info['description']}, torch {info['torch']}")
    with tempfile.TemporaryDirectory(prefix="bench_classic_") as scratch:
        tmp = Path(args.keep).resolve() if args.keep else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        b = Bench(args, tmp)
        make_dataset(b.data, args.size, max(args.train_images), max(args.test_images))
        train = b.phase("train", *args.train_images)
        test = b.phase("test", *args.test_images)
    return {"machine": info["description"], "cpu": info["cpu"], "gpu": info["gpu"] if args.device == "cuda" else None,
            "torch": info["torch"], "torchvision": info["torchvision"], "device": args.device, "size": args.size,
            "rounds": args.rounds, "classic_dir": str(classic), "classic_commit": classic_commit(classic),
            "gantool_dir": str(Path(args.gantool_dir).resolve()), "gantool_args": args.gantool_args,
            "classic_args": args.classic_args, "num_threads": args.num_threads, "torch_threads": info["torch_threads"],
            "order": [[r["tool"], r["phase"], r["images"]] for r in b.runs],
            "runs": [dict(r, seconds=round(r["seconds"], 4)) for r in b.runs], "train": train, "test": test}


def main(argv=None) -> int:
    args = parse_args(argv)
    args.log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    try:
        res = bench(args)
    except BenchError as err:
        print(f"bench_classic.py: error: {err}", file=sys.stderr)
        return 2
    except RunError as err:
        print(f"bench_classic.py: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(res) if args.json else "\n" + table(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
