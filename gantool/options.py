"""Command-line options: the classic pytorch-CycleGAN-and-pix2pix vocabulary, parsed in two passes.

Pass one reads ``--model``, ``--dataset_mode`` and ``--dataroot``; the chosen recipe (and dataset
mode, if it has a hook) then adds its own flags and defaults, and pass two parses everything.
Explicit command-line values always win over any default set by a hook.
"""
import argparse
import os
from typing import List, Optional

from .data.transforms import MAX_IMAGE_SIDE
from .errors import GantoolError


def _choices(kind: str) -> str:
    """The registered choices of ``--model``, ``--netG``, ``--netD``, ``--dataset_mode`` or ``--gan_mode`` for help."""
    from . import data, losses, models, networks

    registry = {"model": models.MODELS, "netG": networks.GENERATORS, "netD": networks.DISCRIMINATORS,
                "dataset_mode": data.DATASETS, "gan_mode": losses.GAN_MODES}[kind]
    return registry.describe()


def _base_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("basic")
    g.add_argument("--dataroot", default=None,
                   help="dataset folder (trainA/trainB/testA/testB, or train/test for aligned); "
                        "omitted: the built-in toy_day2night dataset, generated on first use")
    g.add_argument("--name", default="experiment_name", help="run name: files go to <checkpoints_dir>/<name>")
    g.add_argument("--gpu_ids", default="auto", help="e.g. 0 or 0,1; -1 for the CPU; auto: GPU 0 if there is one")
    g.add_argument("--checkpoints_dir", default="./checkpoints", help="where runs are saved")
    g.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same run")
    g.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    g.add_argument("--force", action="store_true",
                   help="start even when the memory estimate says the run does not fit (see README, Memory)")
    g = parser.add_argument_group("model")
    g.add_argument("--model", default="cycle_gan", help=f"recipe: {_choices('model')}")
    g.add_argument("--input_nc", type=int, default=3, help="input image channels: 3 for RGB, 1 for grayscale")
    g.add_argument("--output_nc", type=int, default=3, help="output image channels: 3 for RGB, 1 for grayscale")
    g.add_argument("--ngf", type=int, default=64, help="generator filters in the last conv layer")
    g.add_argument("--ndf", type=int, default=64, help="discriminator filters in the first conv layer")
    g.add_argument("--netD", default="basic", help=f"discriminator: {_choices('netD')}")
    g.add_argument("--netG", default="resnet_9blocks", help=f"generator: {_choices('netG')}")
    g.add_argument("--n_layers_D", type=int, default=3, help="discriminator layers when --netD n_layers")
    g.add_argument("--D_head", default="global", choices=["global", "patch"],
                   help="backbone --netD: one logit per image (global) or per trunk position (patch)")
    g.add_argument("--D_backbone", default="resnet18", help="the classifier trunk of --netD fcn")
    g.add_argument("--D_backbone_weights", default=None,
                   help="backbone --netD: initialise the trunk from this state-dict file (torchvision format)")
    g.add_argument("--freeze_D_backbone", action="store_true", help="backbone --netD: keep the trunk fixed")
    g.add_argument("--D_backbone_norm", default="auto", choices=["auto", "batch", "instance", "spectral", "none"],
                   help="backbone --netD: what becomes of the trunk's BatchNorm; auto follows --norm")
    g.add_argument("--norm", default="instance",
                   help="normalisation: instance, batch, syncbatch (batch norm synchronised under torchrun), none")
    g.add_argument("--init_type", default="normal", help="weight init: normal, xavier, kaiming, orthogonal")
    g.add_argument("--init_gain", type=float, default=0.02, help="scale for normal, xavier and orthogonal init")
    g.add_argument("--no_dropout", action="store_true", help="no dropout in the generator")
    g = parser.add_argument_group("data")
    g.add_argument("--dataset_mode", default="unaligned", help=f"how the data is laid out: {_choices('dataset_mode')}")
    g.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="translation direction")
    g.add_argument("--serial_batches", action="store_true", help="take images in order instead of shuffling")
    g.add_argument("--num_threads", type=int, default=4, help="data loading worker processes")
    g.add_argument("--batch_size", type=int, default=1, help="images per batch")
    g.add_argument("--load_size", type=int, default=286, help="scale images to this size")
    g.add_argument("--crop_size", type=int, default=256, help="then crop to this size")
    g.add_argument("--max_dataset_size", type=float, default=float("inf"), help="use at most this many images")
    g.add_argument("--preprocess", default="resize_and_crop",
                   help="resize_and_crop, crop, scale_width, scale_width_and_crop, none")
    g.add_argument("--no_flip", action="store_true", help="no random horizontal flips")
    g.add_argument("--strict_data", action="store_true",
                   help="stop before training on an unreadable image file instead of skipping it with a warning")
    g.add_argument("--bit_depth", default="auto", choices=["auto", "8", "16", "float"],
                   help="how deep images are read: auto (each file's own: 8-bit v/255, 16-bit v/65535, float by "
                        "--value_range), 8 (squash everything to 8 bits), 16, float; test.py writes outputs at the "
                        "input's depth next to 8-bit previews (see README)")
    g.add_argument("--value_range", default=None,
                   help="LO,HI: the float values mapped to [-1, 1], e.g. --value_range=-1024,3071 (with '=' when LO is "
                        "negative); default: the training images' "
                        "min/max, recorded in checkpoints/<name>/value_range.json for test.py")
    g.add_argument("--display_winsize", type=int, default=256, help="image width in the dashboard and HTML pages")
    g = parser.add_argument_group("speed")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 autocast on CPUs with bf16 instructions, else fp32 (on GPUs bf16 measured no "
                        "faster; see README)")
    g.add_argument("--channels_last", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                   help="channels-last memory layout; auto: the measured choice for the device (see README)")
    g.add_argument("--compile", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                   help="torch.compile the networks; auto: the measured choice for the device (see README)")
    g = parser.add_argument_group("loading")
    g.add_argument("--epoch", default="latest", help="which saved epoch to load: latest or a number")
    g.add_argument("--load_iter", type=int, default=0, help="if > 0, load the iter_<N> files instead of --epoch")
    g.add_argument("--verbose", action="store_true", help="print network sizes and more")
    g.add_argument("--suffix", default="", help="appended to --name, formatted with the options, e.g. {model}_{netG}")
    g.add_argument("--extractor", default="auto",
                   help="features for FID/KID: inception (the standard; weights: gantool eval --download), digits, "
                        "toy_scenes; auto: digits for digit data, toy_scenes for the built-in day->night data, "
                        "else inception")
    g.add_argument("--extractor_weights", default=None, help="a weights file for --extractor")
    # Base options, as in the classic, so that test.py commands carrying them still parse; only train.py logs.
    g.add_argument("--use_wandb", action="store_true",
                   help="train.py: also log to Weights & Biases (offline without credentials; pip install "
                        "\"gantool[wandb]\")")
    g.add_argument("--wandb_project_name", default="CycleGAN-and-pix2pix", help="train.py: the W&B project")


def _train_options(parser: argparse.ArgumentParser) -> None:
    from .models.optimizers import OPTIMIZERS

    g = parser.add_argument_group("display")
    g.add_argument("--display_freq", type=int, default=400, help="iterations between visual updates")
    g.add_argument("--display_ncols", type=int, default=4, help="images per row in the dashboard")
    g.add_argument("--display_id", type=int, default=1, help="visdom window id; 0 or -1 turns the dashboard off")
    g.add_argument("--display_server", default="http://localhost", help="visdom server")
    g.add_argument("--display_env", default="main", help="visdom environment")
    g.add_argument("--display_port", type=int, default=8097, help="visdom port")
    g.add_argument("--update_html_freq", type=int, default=1000, help="iterations between saves to the HTML page")
    g.add_argument("--print_freq", type=int, default=100, help="iterations between loss printouts")
    g.add_argument("--no_html", action="store_true", help="do not write checkpoints/<name>/web/")
    g.add_argument("--use_tensorboard", action="store_true",
                   help="also log to TensorBoard in checkpoints/<name>/tb/ (pip install \"gantool[tensorboard]\")")
    g = parser.add_argument_group("saving")
    g.add_argument("--save_latest_freq", type=int, default=5000, help="iterations between saves of the latest state")
    g.add_argument("--save_epoch_freq", type=int, default=5, help="epochs between numbered checkpoints")
    g.add_argument("--save_by_iter", action="store_true", help="also keep iter_<N> checkpoints")
    g.add_argument("--continue_train", action="store_true", help="resume from the latest saved state")
    g.add_argument("--epoch_count", type=int, default=None,
                   help="first epoch number (default: 1, or where --continue_train left off)")
    g.add_argument("--phase", default="train", help="train, val, test, ...")
    g.add_argument("--max_iters", type=int, default=0, help="stop (and save) after this many iterations in all; 0: no limit")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--n_epochs", type=int, default=100, help="epochs at the initial learning rate")
    g.add_argument("--n_epochs_decay", type=int, default=100, help="epochs of linear decay to zero")
    g.add_argument("--beta1", type=float, default=0.5, help="Adam beta1")
    g.add_argument("--beta2", type=float, default=0.999, help="Adam beta2")
    g.add_argument("--lr", type=float, default=0.0002, help="initial learning rate")
    g.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                   help="adam (classic), adamw (decoupled decay), sgd or rmsprop; one kind for every network")
    g.add_argument("--momentum", type=float, default=0.0, help="momentum of --optimizer sgd or rmsprop")
    g.add_argument("--weight_decay", type=float, default=0.0,
                   help="L2 weight decay (decoupled for adamw); 0: none")
    g.add_argument("--gan_mode", default="lsgan", help=f"adversarial objective: {_choices('gan_mode')}")
    g.add_argument("--lambda_gp", type=float, default=10.0, help="gradient penalty weight for --gan_mode wgangp")
    g.add_argument("--lambda_r1", type=float, default=0.0,
                   help="R1 penalty weight gamma on real images (gamma/2 * E|grad D(x)|^2), any --gan_mode; 0: none")
    g.add_argument("--r1_every", type=int, default=16,
                   help="lazy R1: computed every this many discriminator updates, weighted by it then")
    g.add_argument("--diffaug", default="",
                   help="DiffAugment policies for every discriminator input in training, e.g. "
                        "color,translation,cutout; empty: none")
    g.add_argument("--pool_size", type=int, default=50, help="image history buffer size; 0: none")
    g.add_argument("--lr_policy", default="linear", choices=["linear", "step", "plateau", "cosine"],
                   help="learning rate schedule")
    g.add_argument("--lr_decay_iters", type=int, default=50, help="step policy: epochs between x0.1 steps")
    g.add_argument("--nan_policy", default="stop", choices=["stop", "skip"],
                   help="a NaN/inf loss: stop (keep the last good checkpoint) or skip that update")
    g = parser.add_argument_group("validation")
    g.add_argument("--val_freq", type=int, default=0,
                   help="epochs between validations on the held-out split (val/, else test/, or --val_dataroot) "
                        "and after the last epoch; 0: none (1 when --keep_best is given)")
    g.add_argument("--val_max_images", type=int, default=200, help="validate on at most this many held-out images")
    g.add_argument("--val_dataroot", default=None, help="dataset folder of the held-out split (default: --dataroot)")
    g.add_argument("--val_metrics", default="auto",
                   help="auto (L1/PSNR/SSIM where the split has ground truth, else FID/KID) or a list such as fid,kid")
    g.add_argument("--keep_best", default="",
                   help="keep best_net_*.pth of the best validated epoch by this score: fid, kid, l1, psnr, ssim "
                        "(or accuracy/mIoU for --model classifier/segmenter)")
    g = parser.add_argument_group("stabilisers (EMA, spectral norm)")
    g.add_argument("--ema_decay", type=float, default=0.0,
                   help="keep an exponential moving average of each generator with this decay (e.g. 0.999), saved "
                        "as <epoch>_net_<G>_ema.pth and scored by validation; test.py --ema uses it. 0: none")
    g.add_argument("--norm_D", default="auto",
                   help="discriminator normalisation: auto (the recipe's: --norm for PatchGANs, BatchNorm for dcgan, "
                        "none for gan) or spectral (spectral norm on every conv/linear layer, no norm layers)")


def _test_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("test")
    g.add_argument("--metrics", default="",
                   help="also score the outputs' distribution against the target domain: fid, kid or fid,kid "
                        "(paired L1/PSNR come whenever there is ground truth)")
    g.add_argument("--metrics_real", default=None,
                   help="--metrics: a folder (or glob) of real target-domain images (default: the test split's)")
    g.add_argument("--results_dir", default="./results/", help="where results go")
    g.add_argument("--aspect_ratio", type=float, default=1.0, help="aspect ratio of saved result images")
    g.add_argument("--phase", default="test", help="train, val, test, ...")
    g.add_argument("--eval", action="store_true", help="networks in eval mode (dropout off, batch-norm running stats)")
    g.add_argument("--num_test", type=float, default=float("inf"), help="how many test images (default: all)")
    g.add_argument("--ema", action="store_true",
                   help="load the generators' moving average, <epoch>_net_<G>_ema.pth (trained with --ema_decay)")
    # Test images keep one size: load_size follows crop_size unless given.
    parser.set_defaults(load_size=256)


def make_parser(is_train: bool) -> argparse.ArgumentParser:
    """The full parser before any recipe hook: base options plus the train or test set."""
    prog = "train.py" if is_train else "test.py"
    parser = argparse.ArgumentParser(prog=prog, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _base_options(parser)
    (_train_options if is_train else _test_options)(parser)
    return parser


def _given(argv: List[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in argv)


def parse(argv: Optional[List[str]] = None, is_train: bool = True) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``) into the options namespace used by ``build.py``.

    Adds ``is_train``, ``gpu_list`` (parsed ``--gpu_ids``), ``builtin_dataset`` and the final ``name``.
    Raises ``GantoolError`` (or ``UnknownNameError``) for impossible values.
    """
    import sys

    from . import data, models

    argv = list(sys.argv[1:] if argv is None else argv)
    # The early passes skip --help, so that the help lists the recipe's and dataset's own flags too.
    early = [a for a in argv if a not in ("-h", "--help")]
    parser = make_parser(is_train)
    first, _ = parser.parse_known_args(early)
    recipe = models.MODELS.get(first.model)
    recipe.add_options(parser, is_train)
    first, _ = parser.parse_known_args(early)
    dataset = data.DATASETS.get(first.dataset_mode)
    if hasattr(dataset, "add_options"):
        dataset.add_options(parser, is_train)
    builtin = first.dataroot is None
    if builtin:
        # The dataset mode's built-in data sets short demo defaults; the recipe may refine them.
        parser.set_defaults(**dataset.builtin_defaults(is_train))
        parser.set_defaults(**recipe.demo_defaults(is_train))
    preset = getattr(parser.parse_known_args(early)[0], "preset", None)
    if preset:
        known = {a.dest for a in parser._actions}  # a preset's training options mean nothing to test.py
        parser.set_defaults(**{k: v for k, v in recipe.presets[preset].items() if k in known})
    # Defaults that follow other options' final values (e.g. --load_size from --img_size); explicit values win.
    first, _ = parser.parse_known_args(early)
    parser.set_defaults(**recipe.derived_defaults(first, is_train))
    if not is_train and not _given(argv, "--load_size"):
        # Classic test behaviour: no random crop at test time.
        first, _ = parser.parse_known_args(early)
        parser.set_defaults(load_size=first.crop_size)
    opt = parser.parse_args(argv)
    opt.is_train = is_train
    opt.builtin_dataset = builtin
    if not is_train:
        # Classic test.py settings: one image at a time, in order, no augmentation.
        opt.num_threads, opt.batch_size, opt.serial_batches, opt.no_flip = 0, 1, True, True
        opt.display_id = -1
    _check(opt)
    if opt.seed is None:
        # A fresh seed per run, recorded in train_opt.txt and the training state so it can be replayed.
        import random

        opt.seed = random.SystemRandom().randrange(2**31)
    from .engine.device import parse_gpu_ids

    opt.gpu_list = parse_gpu_ids(opt.gpu_ids)
    if opt.suffix:
        try:
            opt.name = opt.name + "_" + opt.suffix.format(**vars(opt))
        except (KeyError, IndexError, ValueError) as err:
            raise GantoolError(f"--suffix '{opt.suffix}' names an unknown option: {err}") from None
    opt.option_defaults = {a.dest: a.default for a in parser._actions if a.dest != "help"}
    return opt


def _check_names(opt: argparse.Namespace) -> None:
    """Look every registry name up now, so a typo is reported before any work starts."""
    from .losses import GAN_MODES
    from .networks import DISCRIMINATORS, GENERATORS, get_norm_layer
    from .networks.builders import check_norm_D
    from .networks.norm import INITS

    GENERATORS.get(opt.netG)
    DISCRIMINATORS.get(opt.netD)
    INITS.get(opt.init_type)
    get_norm_layer(opt.norm)
    if opt.is_train:
        GAN_MODES.get(opt.gan_mode)
        check_norm_D(opt.norm_D)


# MAX_IMAGE_SIDE (the largest --load_size/--crop_size/--img_size) lives in data/transforms.py: translate uses it too.
#: --batch_size above this is a typo; the memory estimate bounds it further
MAX_BATCH_SIZE = 65536
#: --num_threads: at most this many loader workers per CPU (8 on any machine), and this many in all; each worker
#: holds a copy of the dataset and prefetches batches
MAX_THREADS_PER_CPU, MIN_THREADS_LIMIT, MAX_THREADS = 4, 8, 256


def _usable_cpus() -> int:
    """The CPUs this process may run on (a container or job may get fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _image_sizes(opt: argparse.Namespace) -> List[str]:
    """The options that are an image side in pixels; ``--img_size`` (gan, dcgan) first: it sets ``--load_size``
    and ``--crop_size``, whose messages would hide it."""
    return (["img_size"] if hasattr(opt, "img_size") else []) + ["load_size", "crop_size", "display_winsize"]


def _check_bounds(opt: argparse.Namespace) -> None:
    """Upper bounds where a typo's extra zeros would take all memory: image sides, batch size, loader workers."""
    for name in _image_sizes(opt):
        size = getattr(opt, name)
        if size > MAX_IMAGE_SIDE:  # a typo's extra zeros would decode one image into many gigabytes
            gib = size * size * 3 * 4 / 2**30
            raise GantoolError(f"--{name} {size} is larger than {MAX_IMAGE_SIDE} pixels: one RGB image of that size "
                               f"takes {gib:,.0f} GiB as floats"
                               + ("" if name == "img_size" else "; for large images use gantool translate --tile"))
    if opt.batch_size > MAX_BATCH_SIZE:
        raise GantoolError(f"--batch_size {opt.batch_size} is larger than {MAX_BATCH_SIZE}, the most gantool accepts: "
                           "a batch holds all its images and their activations in memory at once")
    cpus = _usable_cpus()
    most_threads = min(MAX_THREADS, max(MAX_THREADS_PER_CPU * cpus, MIN_THREADS_LIMIT))
    if opt.num_threads > most_threads:
        raise GantoolError(f"--num_threads {opt.num_threads} is more loader workers than this machine can use: it has "
                           f"{cpus} CPU{'s' if cpus != 1 else ''}, so at most {most_threads} ({MAX_THREADS_PER_CPU} "
                           f"per CPU, {MAX_THREADS} in all); each worker holds a copy of the dataset and prefetches "
                           "batches")


def _check(opt: argparse.Namespace) -> None:
    """Reject values no run can use, with the option's name in the message."""
    _check_names(opt)
    positive = _image_sizes(opt) + ["batch_size", "input_nc", "output_nc", "ngf", "ndf"]
    if opt.is_train:
        positive += ["print_freq", "display_freq", "save_latest_freq", "save_epoch_freq", "update_html_freq"]
    for name in positive:
        if getattr(opt, name) <= 0:
            raise GantoolError(f"--{name} must be a positive number, got {getattr(opt, name)}")
    _check_bounds(opt)
    for name in ["num_threads", "load_iter"] + (["n_epochs", "n_epochs_decay", "max_iters", "pool_size"] if opt.is_train else []):
        if getattr(opt, name) < 0:
            raise GantoolError(f"--{name} must not be negative, got {getattr(opt, name)}")
    if opt.is_train and opt.n_epochs + opt.n_epochs_decay == 0:
        raise GantoolError("--n_epochs and --n_epochs_decay are both 0: there is nothing to train")
    if opt.is_train and opt.epoch_count is not None and opt.epoch_count < 1:
        raise GantoolError(f"--epoch_count must be 1 or more, got {opt.epoch_count}")
    if opt.is_train and (opt.val_freq < 0 or opt.val_max_images < 1):
        raise GantoolError(f"--val_freq must not be negative and --val_max_images must be positive, got "
                           f"{opt.val_freq} and {opt.val_max_images}")
    if opt.is_train and opt.val_dataroot is not None and not os.path.isdir(opt.val_dataroot):
        raise GantoolError(f"--val_dataroot {opt.val_dataroot} is not a folder")
    if opt.is_train and not 0 <= opt.ema_decay < 1:
        raise GantoolError(f"--ema_decay must be at least 0 and below 1 (e.g. 0.999; 0: no average), got {opt.ema_decay}")
    if opt.is_train and opt.lr <= 0:
        raise GantoolError(f"--lr must be positive, got {opt.lr}")
    if opt.is_train:
        from .models.optimizers import OptimizerSpec

        OptimizerSpec(opt.optimizer, opt.momentum, opt.weight_decay)  # out-of-range settings: one line
    if opt.is_train:
        from .ops.diffaug import parse_policy

        parse_policy(opt.diffaug)  # an unknown policy: one line naming the valid ones
        if opt.lambda_r1 < 0 or opt.r1_every < 1:
            raise GantoolError(f"--lambda_r1 must not be negative and --r1_every must be 1 or more, got "
                               f"{opt.lambda_r1} and {opt.r1_every}")
    if not opt.is_train and opt.num_test <= 0:
        raise GantoolError(f"--num_test must be positive, got {opt.num_test}")
    most = opt.max_dataset_size
    if not (most >= 1 and (most == float("inf") or most == int(most))):  # 0.5 would keep no image; nan compares False
        raise GantoolError(f"--max_dataset_size must be a whole number of images, 1 or more, got {most:g}")
    from .data.depth import parse_value_range

    parse_value_range(opt.value_range)  # "--value_range 5": one line with an example
    # A dataset mode that downloads (--download, where the mode has it) creates its folder.
    if opt.dataroot is not None and not os.path.isdir(opt.dataroot) and not getattr(opt, "download", False):
        raise GantoolError(f"--dataroot {opt.dataroot} is not a folder")


def format_options(opt: argparse.Namespace) -> str:
    """The classic options printout: one ``name: value`` line each, noting defaults that were changed."""
    defaults = getattr(opt, "option_defaults", {})
    lines = ["----------------- Options ---------------"]
    for key, value in sorted(vars(opt).items()):
        if key == "option_defaults":
            continue
        note = f"\t[default: {defaults[key]}]" if key in defaults and value != defaults[key] else ""
        lines.append(f"{key:>25}: {str(value):<30}{note}")
    lines.append("----------------- End -------------------")
    return "\n".join(lines)


def save_options(opt: argparse.Namespace, run_dir: str) -> str:
    """Write ``train_opt.txt`` or ``test_opt.txt`` into ``run_dir``; returns the path."""
    from .io.files import atomic_write_text

    path = os.path.join(run_dir, ("train" if opt.is_train else "test") + "_opt.txt")
    atomic_write_text(path, format_options(opt) + "\n")
    return path
