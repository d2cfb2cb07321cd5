"""The one place where parsed options become constructor arguments.

Constructors (recipes, datasets, the trainer) take explicit arguments named like the options;
``_matching`` passes each the options whose names appear in its signature, and the functions here pass
the rest themselves (the ``PASSED_TO_*`` names). ``tests/test_constructor_options.py`` checks that every
constructor parameter is one or the other, so a parameter spelled unlike its option cannot silently keep
its default.
"""
import argparse
import inspect
import os
import random
from typing import Callable, List, Optional

import torch

from . import data
from .data.transforms import FIXED_SIZE_MODES
from .engine import distributed
from .engine.device import select_device, select_training_device
from .engine.memory import fake_tensors
from .errors import GantoolError
from .io.arch import arch_options, format_arch_options, read_arch
from .io.checkpoint import load_network
from .io.files import ensure_folder
from .io.pretrained import checkpoint_folder, shipped_folder, shipped_names
from .models import MODELS
from .models.optimizers import OptimizerSpec
from .networks import DiscriminatorSpec
from .options import format_options, save_options
from .preflight import check_test_memory, check_training_memory

#: constructor arguments that build.py passes itself (not matched by option name)
PASSED_TO_RECIPES = ("device", "is_train", "discriminator")
PASSED_TO_DATASETS = ("root", "phase", "direction", "input_nc", "output_nc", "preprocess", "max_dataset_size",
                      "serial_batches", "seed", "strict_data", "log")
PASSED_TO_TRAINER = ("recipe", "dataset", "run_dir", "visualizer", "log", "eval_dataset", "sync_batchnorm",
                     "validator")


def _matching(fn: Callable, opt: argparse.Namespace, **given) -> dict:
    params = inspect.signature(fn).parameters
    kwargs = {name: getattr(opt, name) for name in params if hasattr(opt, name)}
    kwargs.update({k: v for k, v in given.items() if k in params})
    return kwargs


def _silent(message: str) -> None:
    pass


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (weight init, dropout, the image pools' seeds derive from it)."""
    random.seed(seed)
    torch.manual_seed(seed)


def dataroot(opt: argparse.Namespace, log: Callable[[str], None] = print) -> str:
    """``--dataroot``, or the built-in dataset (generated on first use) when it was omitted."""
    if opt.dataroot is not None:
        return opt.dataroot
    return data.DATASETS.get(opt.dataset_mode).builtin_root("./datasets", log)


def build_dataset(opt: argparse.Namespace, log: Callable[[str], None] = print):
    """The dataset of ``--dataset_mode`` for ``--phase``, with the preprocessing options.

    The shared arguments below go to every mode that names them (all of them when its constructor
    takes ``**kwargs``); other constructor arguments named like an option (``download``...) or
    ``log`` are matched by name, as for recipes.
    """
    preprocess = data.Preprocess(mode=opt.preprocess, load_size=opt.load_size, crop_size=opt.crop_size,
                                 flip=not opt.no_flip)
    cls = data.DATASETS.get(opt.dataset_mode)
    shared = dict(root=dataroot(opt, log), phase=opt.phase, direction=opt.direction, input_nc=opt.input_nc,
                  output_nc=opt.output_nc, preprocess=preprocess, max_dataset_size=opt.max_dataset_size,
                  serial_batches=opt.serial_batches, seed=opt.seed,
                  strict_data=getattr(opt, "strict_data", False), bit_depth=getattr(opt, "bit_depth", "auto"),
                  value_range=getattr(opt, "value_range", None))
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        shared = {k: v for k, v in shared.items() if k in params}
    return cls(**{**_matching(cls.__init__, opt, log=log), **shared})


def discriminator_spec(opt: argparse.Namespace) -> DiscriminatorSpec:
    """The discriminator the options ask for, as the one value recipes take (``networks.spec``)."""
    return DiscriminatorSpec(netD=opt.netD, ndf=opt.ndf, n_layers_D=opt.n_layers_D, head=opt.D_head,
                             backbone=opt.D_backbone, backbone_weights=opt.D_backbone_weights,
                             freeze_backbone=opt.freeze_D_backbone, backbone_norm=opt.D_backbone_norm,
                             image_size=opt.crop_size, norm_D=getattr(opt, "norm_D", "auto"))  # train.py only


def build_recipe(opt: argparse.Namespace, device: torch.device):
    """The ``--model`` recipe on ``device``, its networks freshly initialised."""
    cls = MODELS.get(opt.model)
    # Under torchrun, each process's image pools get their own seed and share of --pool_size.
    recipe = cls(**_matching(cls.__init__, opt, device=device, is_train=opt.is_train,
                             discriminator=discriminator_spec(opt), **distributed.recipe_overrides(opt)))
    if opt.is_train:
        recipe.use_optimizer(OptimizerSpec(opt.optimizer, opt.momentum, opt.weight_decay))
    return recipe


def run_dir(opt: argparse.Namespace) -> str:
    """``<checkpoints_dir>/<name>``, created; an unwritable place is a clear error."""
    return ensure_folder(os.path.join(opt.checkpoints_dir, opt.name), "--checkpoints_dir")


def build_trainer(opt: argparse.Namespace, log: Callable[[str], None] = print):
    """Device, seed, recipe, dataset, visualizer and trainer for ``train.py``."""
    from .engine.trainer import Trainer
    from .viz.sink_registry import check_installed, open_sinks
    from .viz.visualizer import TrainingVisualizer

    sinks = [name for name, on in (("tensorboard", opt.use_tensorboard), ("wandb", opt.use_wandb)) if on]
    check_installed(sinks)  # on every process, before anything slow: a missing package is a one-line error
    device, _, message = select_training_device(opt.gpu_list)  # under torchrun: joins the process group
    if not distributed.is_main():
        log = _silent  # rank 0 alone talks to the user and writes files
    log(message)
    if distributed.is_active():
        # Without --seed each process drew its own: rank 0's is the run's (data order, weights).
        opt = argparse.Namespace(**{**vars(opt), "seed": distributed.broadcast(opt.seed)})
        log(f"gantool: {distributed.world_size()} processes (DistributedDataParallel), batch size "
            f"{opt.batch_size} each, {opt.batch_size * distributed.world_size()} in all")
    elif opt.norm == "syncbatch":
        log("gantool: --norm syncbatch in a single process is plain batch norm (it synchronises under torchrun)")
    folder = run_dir(opt)
    if opt.verbose:
        log(format_options(opt))
    if distributed.is_main():
        save_options(opt, folder)
    seed_everything(opt.seed)
    with distributed.main_first():  # the built-in dataset is generated once
        dataset = build_dataset(opt, log)
    if distributed.is_main():
        record_depth(dataset, folder, log)
    opt = training_range(opt, dataset)  # validation reads float images with the training images' range
    check_training_memory(opt, device, dataset, build_recipe, log)  # on fake tensors: nothing allocated yet
    recipe = build_recipe(opt, device)
    if opt.lambda_r1 > 0 and "lambda_r1" not in inspect.signature(type(recipe).__init__).parameters:
        raise GantoolError(f"--model {opt.model} has no R1 penalty; drop --lambda_r1")
    if opt.verbose:
        for name, net in recipe.networks.items():
            log(f"[{name}] {sum(p.numel() for p in net.parameters()) / 1e6:.3f} M parameters")
    eval_dataset = None
    if recipe.eval_phase is not None:
        # Scored as test.py reads a split: no flips, and no random crop (load_size = crop_size).
        eval_opt = argparse.Namespace(**{**vars(opt), "phase": recipe.eval_phase, "no_flip": True,
                                         "load_size": opt.crop_size, "serial_batches": True})
        eval_dataset = build_dataset(eval_opt, log)
    validator = build_validator(opt, recipe, device, log)
    visualizer = distributed.Silent()  # built last: the sinks' runs should not open for a build that fails
    if distributed.is_main():
        visualizer = TrainingVisualizer(folder, opt.name, display_id=opt.display_id,
                                        display_server=opt.display_server, display_port=opt.display_port,
                                        display_env=opt.display_env, display_ncols=opt.display_ncols,
                                        display_winsize=opt.display_winsize, use_html=not opt.no_html,
                                        resume=opt.continue_train, log=log,
                                        sinks=open_sinks(sinks, folder, opt.name, opt.wandb_project_name, log))
        visualizer.log_options(format_options(opt), {k: v for k, v in vars(opt).items() if k != "option_defaults"})
    settings = {**_matching(Trainer.__init__, opt), "val_freq": opt.val_freq or (1 if opt.keep_best else 0)}
    trainer = Trainer(recipe, dataset, folder, **settings, visualizer=visualizer, log=log,
                      eval_dataset=eval_dataset, sync_batchnorm=opt.norm == "syncbatch", validator=validator)
    visualizer.follow(lambda: trainer.total_iters, lambda: learning_rates(recipe))  # the sinks' step and lr/*
    if distributed.is_active():
        seed_everything(opt.seed + distributed.rank())  # noise and dropout differ per process
    return trainer


def learning_rates(recipe) -> dict:
    """``optimizer name -> current lr`` (``G``, ``D``...; a further parameter group of one is ``<name>_<i>``)."""
    return {(name if i == 0 else f"{name}_{i}"): group["lr"] for name, opt in recipe.optimizers.items()
            for i, group in enumerate(opt.param_groups)}


def resolve_extractor(opt: argparse.Namespace) -> str:
    """``--extractor``; ``auto``: the shipped ``digits`` extractor for digit data, ``toy_scenes`` for the built-in
    day->night data (both offline), else the standard ``inception``."""
    if opt.extractor != "auto":
        return opt.extractor
    if opt.dataset_mode in ("digits", "mnist"):
        return "digits"
    return "toy_scenes" if opt.dataroot is None else "inception"


def scorer_factory(opt: argparse.Namespace, device: torch.device, log: Callable[[str], None]):
    """A function making the FID/KID scorer the options ask for (the extractor is loaded only when needed)."""
    from .metrics.distribution_eval import DistributionScorer

    return lambda: DistributionScorer(resolve_extractor(opt), device, weights=opt.extractor_weights, cache=False,
                                      log=log)


def _held_out_phase(root: Optional[str], opt: argparse.Namespace) -> str:
    """``val`` when the dataset has that split (``val/`` or ``valA/``), else ``test``."""
    if root is None:  # built-in data: its test split
        return "test"
    for phase in ("val", "test"):
        if any(os.path.isdir(os.path.join(root, phase + side)) for side in ("", "A", "B")):
            return phase
    raise GantoolError(f"validation needs a held-out split: {root} has no val/ or test/ folder (valA/testA for "
                       "unpaired data); add one or pass --val_dataroot")


def build_validator(opt: argparse.Namespace, recipe, device: torch.device, log: Callable[[str], None]):
    """The held-out scoring of ``--val_freq``/``--keep_best`` (None when neither is asked for, and for recipes
    that score their own split every epoch: the classifier and the segmenter)."""
    from .engine.validation import Validator, parse_metrics

    metrics = parse_metrics(opt.val_metrics)
    if not (opt.val_freq or opt.keep_best) or recipe.eval_phase is not None:
        return None
    root = opt.val_dataroot or opt.dataroot
    val_opt = argparse.Namespace(**{**vars(opt), "dataroot": root, "phase": _held_out_phase(root, opt),
                                    "no_flip": True, "load_size": opt.crop_size, "serial_batches": True,
                                    "max_dataset_size": opt.val_max_images})
    dataset = build_dataset(val_opt, _silent)
    return Validator(recipe, None, dataset, metrics, opt.val_max_images, opt.batch_size,
                     scorer_factory(opt, device, log), keep_best=opt.keep_best)


def build_tester(opt: argparse.Namespace, log: Callable[[str], None] = print):
    """Device, recipe with loaded weights, dataset and tester for ``test.py``."""
    from .engine.tester import Tester

    device, _, message = select_device(opt.gpu_list)
    log(message)
    with fake_tensors(device):  # which networks to load: known without allocating them
        recipe = build_recipe(opt, device)
    # checkpoints/<name>, else a model shipped inside the package (gantool/pretrained/<name>).
    folder = checkpoint_folder(opt.checkpoints_dir, opt.name)
    if not os.path.isdir(folder):
        shipped = ", ".join(shipped_names())
        raise GantoolError(f"no trained model {folder}: train one with train.py --name {opt.name}, "
                           f"or check --name and --checkpoints_dir" + (f" (shipped models: {shipped})" if shipped else ""))
    if shipped_folder(opt.name) == folder:
        log(f"gantool: using the pretrained model shipped with gantool ({folder})")
    label = f"iter_{opt.load_iter}" if opt.load_iter > 0 else opt.epoch
    web_dir = os.path.join(opt.results_dir, opt.name, f"{opt.phase}_{label}" + ("_ema" if opt.ema else ""))
    ensure_folder(web_dir, "--results_dir")  # before any weights or data are read
    paths = _test_checkpoints(recipe, folder, label, opt.ema)
    # gantool's own checkpoints carry their architecture (gantool.io.arch): rebuild from it, no --netG needed.
    opt = options_from_checkpoints(opt, list(paths.values()), log)
    opt = recorded_depth(opt, folder, log)  # images read as in training, outputs back in its units
    with fake_tensors(device):
        own_inputs = build_recipe(opt, device).test_batches(opt.num_test) is not None  # noise: no dataset
    dataset = None if own_inputs else build_dataset(opt, log)
    check_test_memory(opt, device, dataset, build_recipe, log)
    seed_everything(opt.seed)
    recipe = build_recipe(opt, device)
    for name, path in paths.items():
        load_network(recipe.networks[name], path, recipe.options_hint(name))
    if folder != shipped_folder(opt.name):  # the package folder may be read-only
        save_options(opt, folder)
    batches = recipe.test_batches(opt.num_test)
    title = f"Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {label}" + (" (EMA)" if opt.ema else "")
    return Tester(recipe, dataset, web_dir, title, num_test=opt.num_test, aspect_ratio=opt.aspect_ratio,
                  width=opt.display_winsize, eval_mode=opt.eval, log=log, batches=batches,
                  precision=opt.precision, channels_last=opt.channels_last, compile=opt.compile,
                  fixed_size=opt.preprocess in FIXED_SIZE_MODES and batches is None,
                  distribution=_test_distribution(opt, recipe, device, batches is not None, log),
                  depth=getattr(dataset, "depth_policy", None))


def record_depth(dataset, folder: str, log: Callable[[str], None]) -> None:
    """Write ``<folder>/value_range.json`` when the dataset reads images above 8 bits (test.py and translate
    read it back); 8-bit runs write nothing."""
    from .data.depth import save_record

    if not getattr(dataset, "reads_full_depth", lambda: False)():
        return
    value_range = dataset.value_range
    path = save_record(folder, dataset.bit_depth, value_range, dataset.depth_counts())
    if value_range is not None:
        log(f"gantool: float values {value_range.lo:g}..{value_range.hi:g} ({value_range.source}) map to [-1, 1]; "
            f"recorded in {path}")


def training_range(opt: argparse.Namespace, dataset) -> argparse.Namespace:
    """A copy of ``opt`` whose ``--value_range`` is the range the training dataset found (``opt`` when there is
    none, or the user gave one), so that held-out splits are scaled as the training images were."""
    value_range = getattr(dataset, "value_range", None)
    if value_range is None or getattr(opt, "value_range", None) is not None:
        return opt
    return argparse.Namespace(**{**vars(opt), "value_range": value_range.text()})


def recorded_depth(opt: argparse.Namespace, folder: str, log: Callable[[str], None]) -> argparse.Namespace:
    """``opt`` with the ``--bit_depth`` and ``--value_range`` its run recorded (``value_range.json``), where the
    user gave none; explicit values win, with one line when they differ. ``opt`` itself is not changed."""
    from .data.depth import RECORD, load_record
    from .data.depth import parse_value_range as parse

    record = load_record(folder)
    if record is None:
        return opt
    defaults = getattr(opt, "option_defaults", {})
    changes = {}
    for key, recorded in record.items():
        current = getattr(opt, key, None)
        if key in defaults and current == defaults[key]:
            changes[key] = recorded
        elif recorded is not None and (parse(current) != parse(recorded) if key == "value_range"
                                       else current != recorded):
            log(f"gantool: the run was trained with --{key} {recorded} ({os.path.join(folder, RECORD)}); "
                f"using --{key} {current} as given")
    changes = {k: v for k, v in changes.items() if v != getattr(opt, k)}
    if changes:
        log("gantool: reading images as the run was trained: " + " ".join(f"--{k}={v}" for k, v in changes.items())
            + f" (from {os.path.join(folder, RECORD)})")
    return argparse.Namespace(**{**vars(opt), **changes}) if changes else opt


def _test_checkpoints(recipe, folder: str, label: str, ema: bool) -> dict:
    """Network name -> the file test.py loads: ``<label>_net_<name>.pth``, or with ``--ema`` the generators'
    averages ``<label>_net_<name>_ema.pth`` (one line when the run kept none)."""
    names = recipe.networks_to_load()
    averaged = [n for n in names if n in recipe.generator_names()] if ema else []
    if ema and not averaged:
        raise GantoolError("--ema loads the generators' averages, and this model has no generator; drop --ema")
    paths = {n: os.path.join(folder, f"{label}_net_{n}{'_ema' if n in averaged else ''}.pth") for n in names}
    missing = [paths[n] for n in averaged if not os.path.isfile(paths[n])]
    if missing:
        raise GantoolError(f"--ema: there is no {missing[0]}: the run was trained without --ema_decay (or saved no "
                           f"average for --epoch {label}); drop --ema")
    return paths


def _test_distribution(opt: argparse.Namespace, recipe, device: torch.device, own_inputs: bool,
                       log: Callable[[str], None]):
    """``test.py --metrics fid,kid``: the collector of outputs and real target images (None without --metrics).

    The real images are ``--metrics_real`` when given, else the dataset's own: the test split's target images
    as the test step shows them (``real_B`` of a CycleGAN), or for a recipe that makes its own inputs
    (``gan``, ``dcgan``) the split's images."""
    from .metrics.distribution_eval import DISTRIBUTION_METRICS, PairCollector, metric_list
    from .metrics.image_sets import list_images

    if not opt.metrics.strip():
        if opt.metrics_real:
            raise GantoolError("--metrics_real is for --metrics fid,kid; add --metrics")
        return None
    metrics = metric_list(opt.metrics, DISTRIBUTION_METRICS, f"choose from {', '.join(DISTRIBUTION_METRICS)} "
                          "(paired L1/PSNR are reported whenever there is ground truth)", "--metrics: ")
    pairs = [tuple(p) for p in recipe.distribution_pairs] or [("fake", "")]
    scorer = scorer_factory(opt, device, log)()
    real = {}
    if opt.metrics_real:
        real[pairs[0]] = scorer.features_of_files(list_images(opt.metrics_real, "real"))
    elif own_inputs:
        split = build_dataset(opt, _silent)  # the whole split (--max_dataset_size bounds it)
        real[pairs[0]] = scorer.features_of_tensors(
            (batch["A"].float() + 1) / 2 for batch in torch.utils.data.DataLoader(split, batch_size=64))
    elif not pairs[0][1]:
        raise GantoolError(f"--metrics {opt.metrics}: --model {opt.model} sees no real target images; "
                           "name a folder of them with --metrics_real")
    return PairCollector(scorer, pairs, metrics, real)


def options_from_checkpoints(opt: argparse.Namespace, paths: List[str],
                             log: Callable[[str], None] = print) -> argparse.Namespace:
    """A copy of ``opt`` whose architecture options come from the first of ``paths`` with a side file.

    Options the user gave explicitly that contradict the file are replaced too, with one line saying so
    (the file can only be loaded into the network it was saved from). ``opt`` itself is not changed.

    Args:
        opt: the parsed options (``option_defaults`` tells explicit values from defaults).
        paths: the checkpoint files test.py will load, in order (e.g. G_A first for a CycleGAN).
        log: where the notice goes.

    Returns:
        ``opt`` itself when no file has metadata, else a new namespace.
    """
    for path in paths:
        arch = read_arch(path)
        if arch is None:
            continue
        wanted = {k: v for k, v in arch_options(arch).items() if hasattr(opt, k)}
        defaults = getattr(opt, "option_defaults", {})
        changed = {k: v for k, v in wanted.items() if getattr(opt, k) != v}
        if not changed:
            return opt
        explicit = {k: getattr(opt, k) for k in changed if k in defaults and getattr(opt, k) != defaults[k]}
        if explicit:
            log(f"gantool: {path} was saved with {format_arch_options({k: wanted[k] for k in explicit})}; using that "
                f"instead of {format_arch_options(explicit)}")
        new = argparse.Namespace(**{**vars(opt), **changed})
        if "img_size" in changed:
            # --load_size/--crop_size follow --img_size unless given (the unconditional recipes require it).
            for size in ("load_size", "crop_size"):
                if getattr(opt, size, None) == opt.img_size:
                    setattr(new, size, changed["img_size"])
        return new
    return opt
