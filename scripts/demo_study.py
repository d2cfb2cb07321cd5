"""Which settings make the built-in demos look best in the same few minutes: a study at equal wall-clock.

    python scripts/demo_study.py                                  # every CycleGAN lever, seeds 1 and 2 (~1 h)
    python scripts/demo_study.py --levers today,resize,ema --seeds 1,2,3 --jobs 2
    python scripts/demo_study.py --model pix2pix                  # the pix2pix demo's levers
    python scripts/demo_study.py --list                           # the levers and their options
    python scripts/demo_study.py --quick                          # seconds, for the tests (figures mean nothing)

Each lever is a set of ``train.py`` options added to the demo's command on the built-in data (``python train.py
--model cycle_gan``: day->night, 64x64, 200 images; ``--base before``: the CycleGAN demo as it was before this
study, 2 + 2 epochs of 800 steps, which the README's tables start from). Equal wall-clock is reckoned as
``equal_time.py`` says: the demo's real training step ("today") is timed against each lever's, interleaved, and
a lever that steps r times as fast gets r times the demo's steps (more epochs, or fewer images per epoch; the
demo's share of epochs at a constant learning rate, e.g. 2 + 2 or 30 + 10; ratios within 3 % of 1 count as 1,
the timing's noise). Every run is then tested (``test.py``) and scored on the 20 test images against their true translations (L1, PSNR, SSIM:
``gantool eval paired``). The table gives each lever's mean and every seed; ``--json`` keeps all figures.

``--jobs N`` trains N runs at once with ``--threads`` torch threads each (default: 1 each when N > 1); the
step counts come from the timing, not from these runs, so sharing the CPU does not bias the comparison. The
timing uses ``--precision`` (default fp32: what a CPU without bf16 instructions runs).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # equal_time, beside this file

from equal_time import cpu_description, schedule, step_seconds, train_and_score  # noqa: E402

# name -> (what it changes, train.py options, extra test.py options). "today" is the reference.
CYCLE_GAN_LEVERS: Dict[str, tuple] = {
    "today": ("the demo's defaults (resnet_6blocks_resize, DiffAugment, 2 + 1 epochs; --base before: "
              "resnet_6blocks, none, 2 + 2; both ngf/ndf 32, lr 2e-4, pool 50, identity 0.5)", [], []),
    "resize": ("resize-convolution upsampling", ["--netG", "resnet_6blocks_resize"], []),
    "narrow": ("ngf/ndf 16", ["--ngf", "16", "--ndf", "16"], []),
    "wide": ("ngf/ndf 64", ["--ngf", "64", "--ndf", "64"], []),
    "deep": ("9 residual blocks", ["--netG", "resnet_9blocks"], []),
    "mobile": ("separable residual blocks", ["--netG", "mobile_resnet_6blocks"], []),
    "lr5e-4": ("learning rate 5e-4", ["--lr", "0.0005"], []),
    "lr1e-4": ("learning rate 1e-4", ["--lr", "0.0001"], []),
    "constant_lr": ("constant learning rate (a step schedule that never steps)",
                    ["--lr_policy", "step", "--lr_decay_iters", "1000"], []),
    "cosine": ("cosine learning-rate schedule", ["--lr_policy", "cosine"], []),
    "crop48": ("random 48x48 crops of the 64x64 images (more steps)", ["--crop_size", "48"], []),
    "size32": ("trained at 32x32 (more epochs), tested at 64x64", ["--load_size", "32", "--crop_size", "32"], []),
    "no_pool": ("no image pool", ["--pool_size", "0"], []),
    "idt0": ("no identity loss", ["--lambda_identity", "0"], []),
    "idt2": ("identity weight 2", ["--lambda_identity", "2"], []),
    "ema": ("EMA of the generators (decay 0.99), tested with --ema", ["--ema_decay", "0.99"], ["--ema"]),
    "diffaug": ("DiffAugment translation,cutout", ["--diffaug", "translation,cutout"], []),
    "cycle20": ("cycle weights 20 (from 10)", ["--lambda_A", "20", "--lambda_B", "20"], []),
    "d2": ("2-layer PatchGAN (34x34 patches)", ["--netD", "n_layers", "--n_layers_D", "2"], []),
    "batch4": ("batch size 4", ["--batch_size", "4"], []),
    "cut": ("CUT instead of CycleGAN", ["--model", "cut"], ["--model", "cut"]),
    "fastcut": ("FastCUT instead of CycleGAN", ["--model", "cut", "--CUT_mode", "FastCUT"],
                ["--model", "cut", "--CUT_mode", "FastCUT"]),
}

PIX2PIX_LEVERS: Dict[str, tuple] = {
    "today": ("the demo's defaults (unet_64, ngf/ndf 32, lr 2e-4, L1 weight 100, 4 + 4 epochs, DiffAugment since "
              "the study)", [], []),
    "no_diffaug": ("without DiffAugment (the demo before the study)", ["--diffaug", ""], []),
    "resnet_resize": ("resnet_6blocks_resize generator", ["--netG", "resnet_6blocks_resize"], []),
    "lr5e-4": ("learning rate 5e-4", ["--lr", "0.0005"], []),
    "l1_50": ("L1 weight 50", ["--lambda_L1", "50"], []),
    "l1_200": ("L1 weight 200", ["--lambda_L1", "200"], []),
    "ema": ("EMA of the generator (decay 0.99), tested with --ema", ["--ema_decay", "0.99"], ["--ema"]),
    "diffaug": ("DiffAugment translation,cutout", ["--diffaug", "translation,cutout"], []),
}

# The digit samplers: the generator's moving average, the objective, the discriminator and the learning rate.
_SAMPLER_LEVERS: Dict[str, tuple] = {
    "ema": ("EMA of the generator (decay 0.999), tested with --ema", ["--ema_decay", "0.999"], ["--ema"]),
    "ema0.99": ("EMA of the generator (decay 0.99), tested with --ema", ["--ema_decay", "0.99"], ["--ema"]),
    "lsgan": ("least-squares objective", ["--gan_mode", "lsgan"], []),
    "hinge": ("hinge objective", ["--gan_mode", "hinge"], []),
    "spectral": ("spectral normalisation in D", ["--norm_D", "spectral"], []),
    "lr1e-4": ("learning rate 1e-4", ["--lr", "0.0001"], []),
    "lr2e-4": ("learning rate 2e-4 (the GAN demo's before the study)", ["--lr", "0.0002"], []),
    "lr4e-4": ("learning rate 4e-4", ["--lr", "0.0004"], []),
    "batch32": ("batch size 32", ["--batch_size", "32"], []),
}
GAN_LEVERS = {"today": ("the demo's defaults (MLP, BCE, batch 64, lr 4e-4 since the study, 2e-4 before)", [], []),
              **_SAMPLER_LEVERS}
DCGAN_LEVERS = {"today": ("the demo's defaults (32x32, ngf/ndf 32, BCE, batch 64, lr 4e-4 since the study, "
                           "2e-4 before)", [], []),
                **_SAMPLER_LEVERS, "wide": ("ngf/ndf 64", ["--ngf", "64", "--ndf", "64"], [])}


# --base: options every lever starts from, instead of the demo's current defaults.
BASES = {"cycle_gan": {"before": ["--netG", "resnet_6blocks", "--diffaug", "", "--n_epochs", "2",
                                  "--n_epochs_decay", "2"]}}


class Demo(NamedTuple):
    levers: Dict[str, tuple]
    images: int  # images in an epoch of the built-in data
    scoring: str  # "paired": L1/PSNR/SSIM against the truth; "digits": the digit classifier and FID
    test_args: Tuple[str, ...] = ()


DIGIT_SAMPLES = ("--num_test", "1000", "--seed", "1")  # as the README's GAN table: 1000 samples, seed 1
DEMOS = {"cycle_gan": Demo(CYCLE_GAN_LEVERS, 200, "paired"), "pix2pix": Demo(PIX2PIX_LEVERS, 200, "paired"),
         "gan": Demo(GAN_LEVERS, 12000, "digits", DIGIT_SAMPLES),
         "dcgan": Demo(DCGAN_LEVERS, 12000, "digits", DIGIT_SAMPLES)}
# What each scoring reports, the figure the table is sorted by (higher first), and its columns.
SCORES = {"paired": (("l1", "psnr", "ssim"), "ssim", (("PSNR (dB)", "psnr", ".2f"), ("SSIM", "ssim", ".3f"))),
          "digits": (("confident", "classes_seen", "largest_class", "fid"), "confident",
                     (("confident", "confident", ".0%"), ("classes", "classes_seen", ".1f"),
                      ("largest class", "largest_class", ".0%"), ("FID (digits)", "fid", ".1f")))}


def score_folder(scoring: str, folder: str) -> Dict[str, float]:
    """The figures of one ``test.py`` results folder."""
    if scoring == "paired":
        from gantool.metrics.paired_eval import evaluate

        rows = evaluate(folder)
        out = {k: rows[0][k] for k in SCORES["paired"][0]}
        if len(rows) > 1:
            out.update({f"identity_{k}": rows[1][k] for k in SCORES["paired"][0]})
        return out
    from gantool.metrics.digit_eval import digits_main

    scores = digits_main([folder], log=lambda line: None)
    return {k: float(scores[k]) for k in SCORES["digits"][0]}




def lever_args(model: str, spec: tuple) -> tuple:
    """(train.py options, test.py options) of a lever: the model first, so a lever's own ``--model`` wins."""
    _, train, test = spec
    return ["--model", model, *train], ["--model", model, *_test_shape(train), *test]


def _test_shape(train: Sequence[str]) -> List[str]:
    """The network options test.py must repeat (the side files rebuild most; these keep the run's names)."""
    keep = {"--netG", "--ngf", "--ndf"}
    out = []
    for i, arg in enumerate(train[:-1]):
        if arg in keep:
            out += [arg, train[i + 1]]
    return out


def _ratio(reference: float, own: float) -> float:
    """Steps a lever gets per reference step: the time ratio, taken as 1 within 3 % (the timing's noise), so
    that a lever that only changes a weight keeps the demo's schedule exactly."""
    ratio = reference / own
    return 1.0 if abs(ratio - 1) < 0.03 else ratio


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cycle_gan", choices=sorted(DEMOS), help="which demo (default cycle_gan)")
    parser.add_argument("--levers", default=None, help="comma-separated lever names (default: all; see --list)")
    parser.add_argument("--combine", action="append", default=[],
                        help="also a lever made of others, e.g. resize+ema (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the levers and exit")
    parser.add_argument("--base", default="demo", help="what the levers change: demo (the current defaults) or, "
                                                       "for cycle_gan, before (the demo before the study)")
    parser.add_argument("--seeds", default="1,2", help="comma-separated training seeds (default 1,2)")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default CPUs // jobs)")
    parser.add_argument("--precision", default="fp32", help="precision of the timing and the runs (default fp32)")
    parser.add_argument("--step_repeats", type=int, default=5, help="interleaved rounds of the step timing")
    parser.add_argument("--steps_per_repeat", type=int, default=10, help="training steps per timed round, at least")
    parser.add_argument("--min_round_s", type=float, default=2.0,
                        help="more steps per timed round until a round of the demo lasts this long (default 2 s)")
    parser.add_argument("--work", help="folder for the runs (default: a new temporary folder)")
    parser.add_argument("--json", help="also write every figure to this JSON file (after each run)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and runs, for tests (figures mean nothing)")
    parser.add_argument("--table", metavar="JSON", help="only print the table of a study saved with --json (also "
                                                          "one that was interrupted: the runs it finished)")
    args = parser.parse_args(argv)
    if args.table:
        return print_saved(args.table, args.combine)
    demo = DEMOS[args.model]
    levers = dict(demo.levers)
    for combo in args.combine:
        parts = combo.split("+")
        unknown = [p for p in parts if p not in levers]
        if unknown:
            parser.error(f"--combine {combo}: no lever {', '.join(unknown)} for --model {args.model} (see --list)")
        levers[combo] = combined(levers, parts)
    if args.list:
        for name, (what, train, test) in levers.items():
            print(f"{name:14s} {what}: {' '.join(train) or '(no option)'}" + (f"; test {' '.join(test)}" if test else ""))
        return 0
    names = list(demo.levers) if not args.levers else args.levers.split(",") + args.combine
    unknown = [n for n in names if n not in levers]
    if unknown:
        parser.error(f"no lever {', '.join(unknown)} for --model {args.model} (see --list)")
    names = ["today"] + [n for n in dict.fromkeys(names) if n != "today"]
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = args.threads or max(1, (os.cpu_count() or 2) // max(1, args.jobs))
    bases = BASES.get(args.model, {})
    if args.base != "demo" and args.base not in bases:
        parser.error(f"--base {args.base}: for --model {args.model} choose demo" +
                     "".join(f" or {b}" for b in bases))
    base = ["--precision", args.precision, *bases.get(args.base, [])]
    images, test_extra = demo.images, list(demo.test_args)
    if args.quick:
        small = {"gan": ["--img_size", "16"], "dcgan": ["--img_size", "16", "--ngf", "8", "--ndf", "8"]}
        base += small.get(args.model, ["--ngf", "8", "--ndf", "8", "--load_size", "32", "--crop_size", "32"])
        images, test_extra = 4 if demo.scoring == "paired" else 128, ["--num_test", "2" if demo.scoring == "paired"
                                                                       else "16"]
        args.step_repeats, args.steps_per_repeat = 1, 1

    print(f"CPU: {cpu_description()}")
    settings = {}
    for n in names:
        train, test = lever_args(args.model, levers[n])
        shape = _test_shape(base)  # test.py knows the network options of the base, not its training ones
        settings[n] = (train[:2] + base + train[2:], test[:2] + base[:2] + shape + test[2:] + test_extra)
    timing = step_seconds({n: s[0] for n, s in settings.items()}, args.step_repeats, args.steps_per_repeat,
                           min_round_s=0.0 if args.quick else args.min_round_s)
    per_step, batch = timing["s_per_step"], timing["batch_size"]
    constant, decay = (1, 1) if args.quick else timing["epochs"]["today"]
    epochs, share = constant + decay, constant / (constant + decay)
    # Equal time in images: a lever stepping r times as fast sees r times the steps, each of its own batch size.
    plans = {n: schedule(epochs, images, _ratio(per_step["today"], per_step[n]) * batch[n] / batch["today"], share)
             for n in names}
    print(f"training step ({timing['precision']}), median of {args.step_repeats} interleaved rounds of "
          f"{timing['steps_per_round']} steps; each lever gets today's steps x (today's step time / its own):")
    for n in names:
        p = plans[n]
        print(f"  {n:14s} {per_step[n] * 1000:7.1f} ms/step  {p['steps'] // batch[n]:5d} steps ({p['n_epochs']} + "
              f"{p['n_epochs_decay']} epochs of {p['max_dataset_size']} images)")
    work = args.work or tempfile.mkdtemp(prefix="demo_study_")
    os.makedirs(work, exist_ok=True)
    print(f"runs in {work}, {args.jobs} at a time with {threads} thread(s) each", flush=True)
    keys, sort_key, columns = SCORES[demo.scoring]
    runs: List[dict] = []

    def one(job):
        n, seed = job
        run = train_and_score(work, f"{n}_seed{seed}", settings[n][0], settings[n][1], seed, plans[n], threads,
                              score=lambda folder: score_folder(demo.scoring, folder))
        run = {**run, "lever": n, "steps": plans[n]["steps"] // batch[n]}
        figures = "  ".join(f"{label} {format(run[key], fmt)}" for label, key, fmt in columns)
        print(f"  {n:14s} seed {seed}: {run['steps']:5d} steps, train {run['train_s']:6.1f} s, {figures}", flush=True)
        runs.append(run)
        if args.json:  # after every run, so an interrupted study keeps what it measured
            with open(args.json, "w") as f:
                json.dump({"cpu": cpu_description(), "model": args.model, "timing": timing, "plans": plans,
                           "runs": runs}, f, indent=1)
        return run

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(one, [(n, s) for s in seeds for n in names]))
    means = summarise(runs, names, levers, per_step, keys, sort_key, columns)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_description(), "model": args.model, "timing": timing, "plans": plans,
                       "runs": runs, "means": means}, f, indent=1)
    return 0


def combined(levers: Dict[str, tuple], parts: Sequence[str]) -> tuple:
    """The lever made of ``parts``: their descriptions joined, their train.py and test.py options in order."""
    return (" + ".join(levers[p][0] for p in parts), sum((levers[p][1] for p in parts), []),
            sum((levers[p][2] for p in parts), []))


def print_saved(path: str, combine: Sequence[str]) -> int:
    """The table of a saved study (``--json``), from the runs it holds."""
    with open(path) as f:
        saved = json.load(f)
    demo = DEMOS[saved["model"]]
    levers = dict(demo.levers)
    for combo in {*combine, *(r["lever"] for r in saved["runs"] if "+" in r["lever"])}:
        levers[combo] = combined(levers, combo.split("+"))
    names = list(dict.fromkeys(r["lever"] for r in saved["runs"]))
    keys, sort_key, columns = SCORES[demo.scoring]
    print(f"CPU: {saved['cpu']}; {len(saved['runs'])} runs")
    summarise(saved["runs"], names, levers, saved["timing"]["s_per_step"], keys, sort_key, columns)
    return 0


def summarise(runs: List[dict], names: Sequence[str], levers: Dict[str, tuple], per_step: Dict[str, float],
              keys: Sequence[str], sort_key: str, columns: Sequence[tuple]) -> dict:
    """Print the markdown table (best ``sort_key`` first) and return the means by lever."""
    means = {}
    for n in names:
        mine = [r for r in runs if r["lever"] == n]
        means[n] = {k: statistics.mean(r[k] for r in mine) for k in (*keys, "train_s", "steps")}
        means[n]["by_seed"] = [round(r[sort_key], 3) for r in mine]
    heads = " | ".join(label for label, _, _ in columns)
    print(f"\n| lever | options | ms/step | steps | {heads} | {sort_key} by seed |")
    print("|---|---|---:|---:|" + "---:|" * len(columns) + "---|")
    for n in sorted(names, key=lambda n: -means[n][sort_key]):
        m = means[n]
        cells = " | ".join(format(m[key], fmt) for _, key, fmt in columns)
        print(f"| {n} | `{' '.join(levers[n][1]) or 'demo defaults'}` | {per_step[n] * 1000:.0f} | "
              f"{m['steps']:.0f} | {cells} | {', '.join(map(str, m['by_seed']))} |")
    if "identity_ssim" in runs[0]:
        r = runs[0]
        print(f"| identity (input as output) | | | | {r['identity_psnr']:.2f} | {r['identity_ssim']:.3f} | |")
    return means


if __name__ == "__main__":
    sys.exit(main())
