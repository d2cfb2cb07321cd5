"""The separable-convolution generator against the classic one: size, CPU speed, and quality at equal time.

    python scripts/bench_mobile.py [--repeats 7] [--threads N] [--json FILE]            # size and speed (~1 min)
    python scripts/bench_mobile.py --quality [--seeds 1,2] [--work DIR]                 # + quality (~15-20 min)
    python scripts/bench_mobile.py --quick [--quality]                                  # seconds: what the tests run

Compares ``--netG mobile_resnet_9blocks`` (``gantool/networks/mobile_resnet.py``) with ``resnet_9blocks``:

1. **Size**: parameters and multiply-adds (MACs) of one forward pass at batch 1, 3 x 256 x 256, ``--ngf 64``,
   instance norm (CycleGAN's defaults). MACs are counted by forward hooks on the convolutions: a (grouped)
   convolution costs Cout * Hout * Wout * (Cin / groups) * k * k, a transposed one Cin * Hin * Win *
   (Cout / groups) * k * k (every input pixel meets every weight once); norms, activations and additions
   are not counted. Where ``gantool.metrics.summary`` reports ``total_macs`` too, its figure is printed beside.
2. **CPU speed**: one generator forward+backward (train mode, as inside a CycleGAN step) and one inference
   forward (eval mode, no gradients) at 256 x 256, batch 1, fp32; classic and mobile alternate (A B A B),
   ``--repeats`` rounds after a warm-up; medians and the ratio classic / mobile (> 1: mobile is faster), and
   the same for the fastest rounds. Other jobs on a shared CPU hurt the mobile generator more (about twice as
   many, smaller operations, each ending at a barrier of torch's threads): one run here measured 0.50x for
   forward+backward while other work loaded both cores, 2.04x on the quiet machine minutes later. Compare runs
   on an idle machine, or with ``--threads 1``.
3. **Quality at equal wall-clock** (``--quality``): the built-in day->night CycleGAN demo (``train.py --model
   cycle_gan`` without ``--dataroot``: 64 x 64, ``--ngf 32 --ndf 32``, 2 + 2 epochs of 200 images) trained
   with each generator, then ``test.py`` and paired L1/PSNR/SSIM of ``fake_B`` against the true night images
   (``gantool.metrics.paired_eval``, the code of ``gantool eval paired``). The classic generator gets the
   demo's 800 steps. "Equal wall-clock" is made robust to a shared, noisy CPU by not timing the runs: an
   interleaved micro-benchmark of the real CycleGAN training step (the recipe and step runner ``train.py``
   builds, same options, same ``--precision``) gives the per-step time ratio r = classic / mobile, and the
   mobile run gets round(800 r) steps (more epochs, or fewer images per epoch if r < 1; the learning-rate
   schedule keeps the demo's half constant, half decaying). The runs' own wall times are printed as a check.
   Each generator is trained once per ``--seeds`` value; the table has every run and the means.

``--quick`` shrinks everything (64 x 64 speed figures, 2 rounds; quality on 8 images at 32 x 32 with
``--ngf 8``) so that a test runs the whole script in seconds; its figures mean nothing.
``--json FILE`` also writes every figure as one JSON object. ``--threads N`` sets torch's intra-op threads
here and ``OMP_NUM_THREADS`` for the training subprocesses (default: torch's own choice, printed).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Callable, Dict, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # equal_time, beside this file

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from equal_time import cpu_description, interleaved, schedule, step_seconds, train_and_score  # noqa: E402

from gantool.networks import define_G  # noqa: E402

CLASSIC, MOBILE = "resnet_9blocks", "mobile_resnet_9blocks"


def count_macs(net: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of the convolutions in one forward pass of ``net`` on zeros of ``input_shape`` (N, C, H, W)."""
    total = [0]

    def conv(m: nn.Conv2d, inputs, out: torch.Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += out.numel() * (m.in_channels // m.groups) * k

    def transposed(m: nn.ConvTranspose2d, inputs, out: torch.Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += inputs[0].numel() * (m.out_channels // m.groups) * k

    hooks = [m.register_forward_hook(transposed if isinstance(m, nn.ConvTranspose2d) else conv)
             for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    was_training = net.training
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(*input_shape))
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return total[0]


def summary_macs(net: nn.Module, input_shape: Sequence[int]) -> Optional[int]:
    """``gantool.metrics.summary``'s ``total_macs`` where that module reports it, else None."""
    from gantool.metrics import summary

    result = summary.summarize(net, input_shape)
    return getattr(result, "total_macs", None)


def size_figures(size: int, ngf: int) -> Dict[str, dict]:
    """Parameters and MACs of both generators at batch 1, 3 x ``size`` x ``size``."""
    out = {}
    for name in (CLASSIC, MOBILE):
        net = define_G(3, 3, ngf, name, "instance")
        shape = (1, 3, size, size)
        out[name] = {"params": sum(p.numel() for p in net.parameters()), "macs": count_macs(net, shape),
                     "summary_macs": summary_macs(net, shape)}
    return out


def generator_timings(size: int, ngf: int, repeats: int) -> Dict[str, Dict[str, object]]:
    """Median seconds of a forward+backward (train mode) and of an inference forward, fp32, batch 1; ``best``:
    the fastest rounds (other jobs only ever add time, so the minimum is the steadier figure on a busy CPU)."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, size, size) * 2 - 1
    nets = {name: define_G(3, 3, ngf, name, "instance") for name in (CLASSIC, MOBILE)}

    def train_step(net: nn.Module) -> Callable[[], None]:
        def run() -> None:
            net.train().zero_grad(set_to_none=True)
            net(x).abs().mean().backward()
        return run

    def inference(net: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                net.eval()(x)
        return run

    out = {}
    for kind, make in (("forward_backward", train_step), ("inference", inference)):
        times = interleaved({name: make(net) for name, net in nets.items()}, repeats)
        out[kind] = {name: statistics.median(t) for name, t in times.items()}
        out[kind]["ratio"] = out[kind][CLASSIC] / out[kind][MOBILE]
        out[kind]["best"] = {name: min(t) for name, t in times.items()}
        out[kind]["best_ratio"] = min(times[CLASSIC]) / min(times[MOBILE])
    return out


def print_size(figures: Dict[str, dict], size: int, ngf: int) -> None:
    print(f"\n== size: batch 1, 3x{size}x{size}, --ngf {ngf}, instance norm ==")
    for name, f in figures.items():
        also = f"  (summary: {f['summary_macs'] / 1e9:.2f} G)" if f["summary_macs"] else ""
        print(f"{name:24s} {f['params']:>12,d} parameters  {f['macs'] / 1e9:7.2f} GMACs{also}")
    c, m = figures[CLASSIC], figures[MOBILE]
    print(f"{'classic / mobile':24s} {c['params'] / m['params']:>11.2f}x  parameters  "
          f"{c['macs'] / m['macs']:6.2f}x  MACs")


def print_speed(timings: Dict[str, Dict[str, object]], size: int, repeats: int) -> None:
    print(f"\n== CPU time, fp32, batch 1, 3x{size}x{size}, median of {repeats} interleaved rounds ==")
    for kind, label in (("forward_backward", "forward+backward"), ("inference", "inference forward")):
        t = timings[kind]
        print(f"{label:18s} {CLASSIC} {t[CLASSIC] * 1000:8.1f} ms   {MOBILE} {t[MOBILE] * 1000:8.1f} ms   "
              f"classic/mobile {t['ratio']:.2f}x   (best rounds: {t['best'][CLASSIC] * 1000:.1f} / "
              f"{t['best'][MOBILE] * 1000:.1f} ms, {t['best_ratio']:.2f}x)")


def quality(args: argparse.Namespace, extra: Sequence[str], test_extra: Sequence[str], base_epochs: int,
            images: int) -> Dict[str, object]:
    """Part 3 of the module docstring: the step-time ratio, the runs, and the table."""
    settings = {name: ["--model", "cycle_gan", "--netG", name, *extra] for name in (CLASSIC, MOBILE)}
    micro = step_seconds(settings, repeats=args.step_repeats, steps=args.steps_per_repeat)
    micro["ratio"] = ratio = micro["s_per_step"][CLASSIC] / micro["s_per_step"][MOBILE]
    plans = {CLASSIC: schedule(base_epochs, images, 1.0), MOBILE: schedule(base_epochs, images, ratio)}
    print(f"\n== quality at equal wall-clock: built-in CycleGAN demo ({' '.join(extra) or 'demo defaults'}) ==")
    print(f"training step ({micro['precision']}), median of {args.step_repeats} interleaved rounds of "
          f"{args.steps_per_repeat} steps: {CLASSIC} {micro['s_per_step'][CLASSIC] * 1000:.1f} ms, "
          f"{MOBILE} {micro['s_per_step'][MOBILE] * 1000:.1f} ms, ratio {ratio:.2f}")
    for name, plan in plans.items():
        print(f"{name:24s} {plan['steps']:5d} steps: --n_epochs {plan['n_epochs']} --n_epochs_decay "
              f"{plan['n_epochs_decay']} --max_dataset_size {plan['max_dataset_size']}")
    work = args.work or tempfile.mkdtemp(prefix="bench_mobile_")
    os.makedirs(work, exist_ok=True)
    print(f"runs in {work}")
    runs = []
    for seed in args.seeds:
        for name in (CLASSIC, MOBILE):  # alternate, so a drifting machine favours neither
            run = train_and_score(work, f"{name}_seed{seed}", settings[name], [*settings[name], *test_extra],
                                  seed, plans[name], args.threads)
            runs.append({**run, "netG": name})
            r = runs[-1]
            print(f"{name:24s} seed {seed}: {r['steps']:5d} steps, train {r['train_s']:6.1f} s, "
                  f"L1 {r['l1']:.4f}  PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}", flush=True)
    means = {}
    for name in (CLASSIC, MOBILE):
        mine = [r for r in runs if r["netG"] == name]
        means[name] = {k: statistics.mean(r[k] for r in mine) for k in ("l1", "psnr", "ssim", "train_s")}
        m = means[name]
        print(f"{name:24s} mean of {len(mine)}: train {m['train_s']:6.1f} s, L1 {m['l1']:.4f}  "
              f"PSNR {m['psnr']:6.2f} dB  SSIM {m['ssim']:.4f}")
    if runs[0]["identity"]:
        i = runs[0]["identity"]
        print(f"{'identity (input as output)':24s} L1 {i['l1']:.4f}  PSNR {i['psnr']:6.2f} dB  SSIM {i['ssim']:.4f}")
    return {"step": micro, "plans": plans, "runs": runs, "means": means, "work": work}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and runs, for tests (figures mean nothing)")
    parser.add_argument("--quality", action="store_true", help="also train both on the built-in data and score them")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds for the speed figures (default 7)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--seeds", default=None, help="comma-separated training seeds for --quality (default 1,2)")
    parser.add_argument("--step_repeats", type=int, default=None, help="rounds of the step micro-benchmark (7)")
    parser.add_argument("--steps_per_repeat", type=int, default=None, help="training steps per round (10)")
    parser.add_argument("--work", help="folder for the --quality runs (default: a new temporary folder)")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeats = args.repeats or (2 if quick else 7)
    args.step_repeats = args.step_repeats or (2 if quick else 7)
    args.steps_per_repeat = args.steps_per_repeat or (2 if quick else 10)
    args.seeds = [int(s) for s in (args.seeds or ("1" if quick else "1,2")).split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)
    size, ngf = (64, 16) if quick else (256, 64)

    print(f"CPU: {cpu_description()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads")
    results: Dict[str, object] = {"cpu": cpu_description(), "torch": torch.__version__,
                                  "threads": torch.get_num_threads(), "size": size, "ngf": ngf}
    results["figures"] = size_figures(size, ngf)
    print_size(results["figures"], size, ngf)
    results["timings"] = generator_timings(size, ngf, args.repeats)
    print_speed(results["timings"], size, args.repeats)
    if args.quality:
        if quick:
            extra = ["--ngf", "8", "--ndf", "8", "--load_size", "32", "--crop_size", "32"]
            results["quality"] = quality(args, extra, ["--num_test", "2"], base_epochs=2, images=4)
        else:
            results["quality"] = quality(args, [], [], base_epochs=4, images=200)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
