"""The shared adversarial training loop: every recipe runs through ``Trainer.fit``.

The trainer owns the epochs, data order, learning-rate schedules, logging cadence, checkpoints
and exact resume, and (through its :class:`StepRunner`) how a step runs: precision, gradient scaling,
the NaN policy, compiled and distributed networks. The recipe owns what one training step computes.
It never looks at which model it runs.
"""
import contextlib
import math
import os
import random
import signal
import time
from typing import Callable, Dict, Optional

import torch
from torch.utils.data import DataLoader

from ..data.transforms import FIXED_SIZE_MODES
from ..errors import GantoolError, Interrupted
from ..io.checkpoint import fit_state, load_network, save_network
from ..io.files import atomic_save, load_file, remove_stale_temporaries, unwrap
from ..models.base import Recipe
from ..models.optimizers import check_optimizer_kinds
from ..viz.loss_log import LossLog
from . import distributed
from .ema import make_ema
from .epoch_report import EpochReport
from .eta import DurationEstimate
from .interrupts import stop_signals
from .nan_guard import NonFiniteLoss
from .run_loader import RunLoader
from .schedulers import make_scheduler, step_scheduler
from .step import StepRunner
from .validation_log import BestCheckpoint, ValidationLog

STATE_FILE = "latest_state.pth"
STATE_FORMAT = "gantool-train-state-v1"


def _crossed(total: int, step: int, freq: int) -> bool:
    # True when the counter passed a multiple of freq during the last step (any batch size).
    return total // freq > (total - step) // freq


class Trainer:
    """Runs a recipe over a dataset for ``n_epochs + n_epochs_decay`` epochs.

    Counters are in images, as in the classic toolkit (``total_iters`` grows by the batch size).

    Args:
        recipe: the model recipe (networks, optimizers, ``training_step``).
        dataset: a map-style dataset with ``set_epoch`` and a ``seed`` attribute.
        run_dir: ``<checkpoints_dir>/<name>``; everything the run writes goes here.
        visualizer: a ``TrainingVisualizer`` (HTML page, optional visdom).
        log: prints one line for the user.
        eval_dataset: the recipe's ``eval_phase`` split, scored after every epoch (``evaluate``); or None.
        precision, channels_last, compile, nan_policy: how steps run (see ``engine/step.py``).
        sync_batchnorm: under torchrun, turn batch norm into ``SyncBatchNorm`` (``--norm syncbatch``).
        preprocess: ``--preprocess``; whether images keep one size decides ``cudnn.benchmark`` on a GPU.
        validator: scores a held-out split (``engine/validation.py``) every ``val_freq`` epochs and after the
            last one; None: no validation.
        keep_best: a score (``fid``, ``kid``, ``psnr``, ``ssim``, ``l1``, or the recipe's own ``accuracy``...)
            whose best epoch is kept as ``best_net_<name>.pth``; empty: none.
        ema_decay: > 0 keeps a moving average of every generator (``engine/ema.py``), updated after every
            step, saved as ``<label>_net_<name>_ema.pth`` and in the state; validation scores the averages.
        diffaug: DiffAugment policies (``"color,translation,cutout"``) on every discriminator's input; empty: none.
        Other arguments are the classic options of the same name; ``epoch_count=None`` means 1,
        or where ``--continue_train`` left off; ``max_iters > 0`` stops after that many images.
    """

    def __init__(self, recipe: Recipe, dataset, run_dir: str, *, batch_size: int = 1, num_threads: int = 0,
                 serial_batches: bool = False, seed: int = 0, n_epochs: int = 100, n_epochs_decay: int = 100,
                 epoch_count: Optional[int] = None, lr_policy: str = "linear", lr_decay_iters: int = 50,
                 print_freq: int = 100, display_freq: int = 400, update_html_freq: int = 1000,
                 save_latest_freq: int = 5000, save_epoch_freq: int = 5, save_by_iter: bool = False,
                 max_iters: int = 0, continue_train: bool = False, epoch: str = "latest",
                 visualizer=None, log: Callable[[str], None] = print, eval_dataset=None, nan_policy: str = "stop",
                 precision: str = "auto", channels_last: str = "auto", compile: str = "auto",
                 sync_batchnorm: bool = False, preprocess: str = "resize_and_crop", validator=None,
                 val_freq: int = 0, keep_best: str = "", ema_decay: float = 0.0, diffaug: str = ""):
        self.recipe, self.dataset, self.run_dir = recipe, dataset, run_dir
        self.batch_size, self.num_workers, self.shuffle = batch_size, num_threads, not serial_batches
        self.seed = seed
        self.n_epochs, self.n_epochs_decay, self.epoch_count = n_epochs, n_epochs_decay, epoch_count
        self.lr_policy, self.lr_decay_iters = lr_policy, lr_decay_iters
        self.print_freq, self.display_freq, self.update_html_freq = print_freq, display_freq, update_html_freq
        self.save_latest_freq, self.save_epoch_freq, self.save_by_iter = save_latest_freq, save_epoch_freq, save_by_iter
        self.max_iters, self.continue_train, self.load_epoch = max_iters, continue_train, epoch
        self.visualizer, self.log, self.eval_dataset = visualizer, log, eval_dataset
        self.schedulers: Dict[str, object] = {}
        self.scheduler_epoch_count = 1
        self.epoch, self.epoch_iter, self.total_iters = 1, 0, 0
        self.loss_sum, self.loss_count = 0.0, 0
        self.steps = StepRunner(recipe.device, precision, channels_last, compile, nan_policy, log,
                                fixed_size=preprocess in FIXED_SIZE_MODES,
                                full_depth=getattr(dataset, "reads_full_depth", lambda: False)())
        # The generators' averages copy the plain networks; wrapping (DDP, compile) keeps their parameters.
        self.ema = make_ema(recipe, ema_decay, self.steps.memory_format)
        # Under torchrun each trainable network is wrapped in DDP (gradients averaged over the processes).
        self.steps.prepare(recipe, distributed.ddp_wrapper(recipe.device, sync_batchnorm)
                           if distributed.is_active() else None)
        # --diffaug: hooks on the discriminators, before the first step (compiled passes trace them too)
        self.steps.augment_discriminators(recipe, diffaug)
        self.nan_guard = self.steps.nan_guard
        # On the CPU a host check costs nothing: look at every step; on a GPU only before printing or saving.
        self.check_every_step = recipe.device.type != "cuda"
        self.last_saved: Optional[str] = None  # the last good full state, named in a NaN report
        self.stop_signal: Optional[int] = None
        self.data = RunLoader(dataset, batch_size, num_threads, self.shuffle, pin_memory=recipe.device.type == "cuda")
        self.report = EpochReport(recipe, self.steps, eval_dataset, run_dir, batch_size, num_threads, log)
        self.best = BestCheckpoint(run_dir, keep_best, log) if keep_best else None
        self.validation = None
        if validator is not None:
            validator.steps = self.steps  # the run's precision and memory layout apply to validation too
            self.validation = ValidationLog(run_dir, validator, val_freq, visualizer, log)

    # ----------------------------------------------------------------- data
    def _loader(self, epoch: int, skip: int) -> DataLoader:
        """The run's loader, set to ``epoch`` from image ``skip`` (see ``run_loader``)."""
        return self.data.epoch(epoch, skip, self.seed)

    # ----------------------------------------------------------------- state
    def _make_schedulers(self, epoch_count: int) -> None:
        self.scheduler_epoch_count = epoch_count
        self.schedulers = {name: make_scheduler(opt, self.lr_policy, self.n_epochs, self.n_epochs_decay,
                                                epoch_count, self.lr_decay_iters)
                           for name, opt in self.recipe.optimizers.items()}

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, optimizers, schedules, pools, counters, RNGs."""
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if self.recipe.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.recipe.device)
        extra = self.recipe.extra_state()
        # Under torchrun every process has its own random streams and image pools: rank 0 keeps them all.
        ranks = distributed.gather_to_main({"rng": rng, "recipe": extra}) if distributed.is_active() else None
        return {
            "format": STATE_FORMAT, "epoch": self.epoch, "epoch_iter": self.epoch_iter,
            "total_iters": self.total_iters, "seed": self.seed, "dataset_size": len(self.dataset),
            "scheduler_epoch_count": self.scheduler_epoch_count, "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "networks": {k: {n: t.detach().cpu() for n, t in unwrap(v).state_dict().items()}
                         for k, v in self.recipe.networks.items()},
            "optimizers": {k: v.state_dict() for k, v in self.recipe.optimizers.items()},
            "optimizer_kinds": {k: type(v).__name__ for k, v in self.recipe.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "recipe": extra, "rng": rng, "precision": self.steps.state_dict(),
            **({"best": self.best.state_dict()} if self.best else {}),
            **({"ema": self.ema.state_dict()} if self.ema else {}),
            **({"ranks": ranks} if ranks else {}),
        }

    def load_state_dict(self, state: dict, path: str) -> None:
        """Restore a ``state_dict``; a file from another run layout gets one clear error."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise GantoolError(f"{path} is not a gantool training state")
        if set(state["networks"]) != set(self.recipe.networks):
            raise GantoolError(f"{path} holds networks {sorted(state['networks'])}, but this model has "
                               f"{sorted(self.recipe.networks)}; is --model right?")
        for name, net in self.recipe.networks.items():
            label = os.path.join(self.run_dir, STATE_FILE) + f" [{name}]"
            fit_state(net, state["networks"][name], label, self.recipe.options_hint(name))
        if self.ema is not None:
            self.ema.load_state_dict(state.get("ema"), path, self.log)
        elif state.get("ema"):
            self.log(f"gantool: {path} holds generator averages; without --ema_decay they are dropped")
        # Schedulers first: creating one resets its optimizer's lr to the initial value, so the
        # optimizers' saved (decayed) lr must be loaded after them.
        self._make_schedulers(state["scheduler_epoch_count"])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        check_optimizer_kinds(state.get("optimizer_kinds"), self.recipe.optimizers, path)
        for name, opt in self.recipe.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            self.recipe.optimizer_spec.reapply(opt)  # this run's --momentum/--weight_decay, not the saved ones
        own = _own_part(state, path)  # this process's random state and pools ({"rng", "recipe"})
        self.recipe.load_extra_state(own["recipe"])
        self.steps.load_state_dict(state.get("precision", {}))
        self.epoch, self.epoch_iter, self.total_iters = state["epoch"], state["epoch_iter"], state["total_iters"]
        self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
        if self.best is not None:
            self.best.load_state_dict(state.get("best"))
        self.seed = self.dataset.seed = state["seed"]
        torch.set_rng_state(own["rng"]["torch"])
        random.setstate(own["rng"]["python"])
        if "cuda" in own["rng"] and self.recipe.device.type == "cuda":
            torch.cuda.set_rng_state(own["rng"]["cuda"], self.recipe.device)

    def save(self, label: str, with_state: bool) -> None:
        """Write ``<label>_net_<name>.pth`` for every network, and the training state if asked."""
        self._check_finite()  # never overwrite a good checkpoint with a broken state
        if with_state:
            state = self.state_dict()  # on every process: it gathers their random states
            if distributed.is_main():
                atomic_save(state, os.path.join(self.run_dir, STATE_FILE))
            self.last_saved = f"{STATE_FILE} at epoch {self.epoch}, image {self.epoch_iter}"
        if not distributed.is_main():
            return  # rank 0 alone writes files
        for name, net in self._saved_networks().items():
            save_network(net, os.path.join(self.run_dir, f"{label}_net_{name}.pth"))

    def _saved_networks(self) -> Dict[str, torch.nn.Module]:
        """What a checkpoint holds: the recipe's networks and the generators' averages (``G_A_ema``...)."""
        return {**self.recipe.networks, **(self.ema.networks() if self.ema else {})}

    def _resume(self) -> int:
        """Load what ``--continue_train`` asks for; returns the number of images of this epoch to skip."""
        path = os.path.join(self.run_dir, STATE_FILE)
        if self.load_epoch == "latest" and os.path.isfile(path):
            self.load_state_dict(load_file(path, "training state"), path)
            self.log(f"gantool: resuming {path} at epoch {self.epoch}, image {self.epoch_iter} "
                     f"({self.total_iters} images done)")
            if self.epoch_count is not None:  # an explicit --epoch_count still wins
                self.epoch, self.epoch_iter = self.epoch_count, 0
            elif self.epoch_iter >= len(self.dataset):
                self.epoch, self.epoch_iter = self.epoch + 1, 0
            return self.epoch_iter
        # No state file: the classic way, network weights of --epoch and --epoch_count arithmetic.
        files = {n: os.path.join(self.run_dir, f"{self.load_epoch}_net_{n}.pth") for n in self.recipe.networks}
        if not any(os.path.isfile(f) for f in files.values()):
            raise GantoolError(f"--continue_train: nothing to resume in {self.run_dir} (no {STATE_FILE} and no "
                               f"{self.load_epoch}_net_*.pth); drop --continue_train to start afresh")
        for name, net in self.recipe.networks.items():
            load_network(net, files[name], self.recipe.options_hint(name))
        if self.ema is not None:
            self.ema.load_files(self.run_dir, self.load_epoch, self.log)
        self.epoch = self.epoch_count or 1
        self._make_schedulers(self.epoch)
        self.log(f"gantool: loaded {self.load_epoch}_net_*.pth from {self.run_dir}; starting at epoch {self.epoch}")
        return 0

    # ----------------------------------------------------------------- loop
    def _step(self, batch: dict) -> dict:
        try:
            losses = self.steps.train_step(self.recipe, batch)
        except ValueError as err:
            # Normalisation layers cannot work on a 1x1 map: the images are too small for the networks.
            if "spatial element" not in str(err):
                raise
            size = "x".join(str(s) for s in next(v for v in batch.values() if torch.is_tensor(v)).shape[-2:])
            raise GantoolError(f"{size} images are too small for these networks (a layer's output shrank to 1x1); "
                               "use a larger --crop_size (32 or more for --netD basic) or --netD pixel") from None
        if self.ema is not None:
            self.ema.update()  # on the device, no host sync
        return losses

    def fit(self) -> None:
        """Train until the last epoch (or ``max_iters``), saving and logging on the way."""
        if len(self.dataset) == 0:
            raise GantoolError("the dataset is empty")
        skip = 0
        if self.continue_train:
            skip = self._resume()
        else:
            self.epoch = self.epoch_count or 1
            self._make_schedulers(self.epoch)
        self.recipe.train()
        loss_log = distributed.loss_log(os.path.join(self.run_dir, "loss_log.txt"))  # silent on ranks > 0
        last_epoch = self.n_epochs + self.n_epochs_decay
        if self.epoch > last_epoch:
            self.log(f"gantool: epoch {self.epoch} is past the last epoch ({last_epoch}); nothing to train")
            return
        self.log(f"gantool: training {len(self.dataset)} images per epoch, epochs {self.epoch}..{last_epoch}, "
                 f"batch size {self.batch_size}; writing to {self.run_dir}")
        remove_stale_temporaries(self.run_dir)  # left by a run killed while saving
        self._prepare_scores()
        self.eta = DurationEstimate.for_run(self.epoch, last_epoch, len(self.dataset), skip, self.total_iters,
                                            self.max_iters, self.log)
        with stop_signals(self._on_signal), contextlib.closing(self.visualizer or distributed.Silent()):
            while self.epoch <= last_epoch:
                if self._run_epoch(skip, last_epoch, loss_log):
                    return
                skip = 0
                self.epoch += 1
                self.epoch_iter = 0
        self.log(f"gantool: training finished; weights in {self.run_dir}/latest_net_*.pth")

    def _on_signal(self, signum: int) -> None:
        self.stop_signal = signum  # read between steps (``_batches``)

    def _stop_on_signal(self) -> None:
        """Save the full state at the current step and leave with :class:`Interrupted`."""
        self.save("latest", with_state=True)
        name = signal.Signals(self.stop_signal).name
        raise Interrupted(f"gantool: {name}: saved the training state at epoch {self.epoch}, image {self.epoch_iter} "
                          f"({self.total_iters} images in all) to {os.path.join(self.run_dir, STATE_FILE)}; "
                          "--continue_train resumes here", 128 + self.stop_signal)

    def _batches(self, loader: DataLoader):
        """The loader's batches; stops with a save when a signal came (also when the same Ctrl-C
        killed a loader worker, which the loader reports as an error)."""
        it = iter(loader)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except RuntimeError:
                if self.stop_signal is None:
                    raise
                self._stop_on_signal()
            if self._should_stop():
                self._stop_on_signal()
            yield batch

    def _should_stop(self) -> bool:
        """Whether a signal asks to stop; under torchrun all processes agree (each may have got it a step
        apart), so that they save the same step together. One tiny all-reduce per step there."""
        if distributed.is_active():
            self.stop_signal = distributed.max_over_ranks(self.stop_signal or 0) or None
        return self.stop_signal is not None

    def _check_finite(self) -> None:
        """The NaN guard's check; under torchrun a bad loss on any process stops them all at the same step."""
        try:
            self.nan_guard.check(self.last_saved)
            error = None
        except NonFiniteLoss as err:
            error = err
        if distributed.is_active() and distributed.max_over_ranks(int(error is not None)) and error is None:
            error = NonFiniteLoss(f"another training process met a non-finite loss by image {self.total_iters}; "
                                  "its log has the details. Training stopped without saving this state")
        if error is not None:
            raise error

    def _run_epoch(self, skip: int, last_epoch: int, loss_log: LossLog) -> bool:
        """One epoch from image ``skip``; returns True when ``max_iters`` stopped training."""
        from tqdm import tqdm

        epoch_start = time.time()
        self.epoch_iter = skip
        if skip == 0:
            self.loss_sum, self.loss_count = 0.0, 0
        bar = tqdm(total=len(self.dataset), initial=skip, unit="img", leave=False, dynamic_ncols=True,
                   desc=f"epoch {self.epoch}/{last_epoch}", disable=None if distributed.is_main() else True)
        t_data_start = time.time()
        for batch in self._batches(self._loader(self.epoch, skip)):
            t_data, step_start = time.time() - t_data_start, time.time()
            n = batch[next(iter(batch))].shape[0] if batch else self.batch_size
            n *= distributed.world_size()  # counters are in images of all processes
            losses = self._step(batch)
            self.eta.observe(n)  # a run that will take hours says so after its first batches
            self.total_iters += n
            self.epoch_iter += n
            bar.update(n)
            self._watch_losses(losses, n, bar, loss_log, step_start, t_data)
            self._show_and_save(n)
            if self.max_iters and self.total_iters >= self.max_iters and self.epoch_iter < len(self.dataset):
                bar.close()
                self.save("latest", with_state=True)
                self.log(f"gantool: stopped after {self.total_iters} images (--max_iters); "
                         "--continue_train resumes here")
                return True
            t_data_start = time.time()
        bar.close()
        self._end_epoch(last_epoch, loss_log, epoch_start)
        return bool(self.max_iters and self.total_iters >= self.max_iters)

    def _watch_losses(self, losses: Dict[str, torch.Tensor], n: int, bar, loss_log: LossLog, step_start: float,
                      t_data: float) -> None:
        """Hand the step's losses to the NaN guard; at print time (and at the epoch's end) read them on the
        host, the only sync: the epoch's running sum (``--lr_policy plateau``), the printout and the plot."""
        self.nan_guard.observe((self.epoch, self.epoch_iter, self.total_iters), losses)
        if self.check_every_step:
            self._check_finite()
        printing = _crossed(self.total_iters, n, self.print_freq)
        if not printing and self.epoch_iter < len(self.dataset):
            return
        self._check_finite()
        values = {k: float(v) for k, v in losses.items()}
        values = distributed.mean_over_ranks(values)  # the global batch's losses, as one process logs
        if all(math.isfinite(v) for v in values.values()):  # (a step skipped under --nan_policy skip)
            self.loss_sum += sum(values.values())
            self.loss_count += 1
        skipped = self.nan_guard.take_report()
        if skipped:
            self.log(f"gantool: {skipped}")
        if printing:
            message = loss_log.format(self.epoch, self.epoch_iter, values, (time.time() - step_start) / n, t_data)
            loss_log.write(message)
            bar.write(message) if bar.disable is False else self.log(message)
            if self.visualizer is not None:
                self.visualizer.plot_current_losses(self.epoch, self.epoch_iter / len(self.dataset), values)

    def _show_and_save(self, n: int) -> None:
        """The visuals every ``display_freq`` images (saved to the page every ``update_html_freq``), the
        latest state every ``save_latest_freq``."""
        if self.visualizer is not None and _crossed(self.total_iters, n, self.display_freq):
            self.visualizer.display_current_results(self.recipe.visuals(), self.epoch,
                                                    _crossed(self.total_iters, n, self.update_html_freq))
        if _crossed(self.total_iters, n, self.save_latest_freq):
            self.save("latest", with_state=True)
            if self.save_by_iter:
                self.save(f"iter_{self.total_iters}", with_state=False)

    def _end_epoch(self, last_epoch: int, loss_log: LossLog, epoch_start: float) -> None:
        """Learning-rate schedules, the epoch's visuals, checkpoints and report."""
        lrs = [g["lr"] for opt in self.recipe.optimizers.values() for g in opt.param_groups]
        for sched in self.schedulers.values():
            step_scheduler(sched, self.loss_sum / max(self.loss_count, 1))
        new_lrs = [g["lr"] for opt in self.recipe.optimizers.values() for g in opt.param_groups]
        if self.visualizer is not None:
            self.visualizer.display_current_results(self.recipe.visuals(), self.epoch, True)
        note = self.recipe.end_of_epoch(self.epoch)  # before saving: it may reset per-epoch counters
        lr_note = f"learning rate {lrs[0]:.7f}" + (f" -> {new_lrs[0]:.7f}" if new_lrs[0] != lrs[0] else "")
        self.log(f"gantool: end of epoch {self.epoch}/{last_epoch} ({time.time() - epoch_start:.0f} s, "
                 f"{self.total_iters} images in all); {lr_note}")
        # Scores before saving the state: the best score so far is part of it.
        scores = self.report.write(self.epoch, loss_log, note)
        if self.validation is not None and self.validation.due(self.epoch, last_epoch):
            # With --ema_decay the averages are scored: they are what test.py --ema translates with.
            with self.ema.swapped_in() if self.ema else contextlib.nullcontext():
                scores.update(self.validation.after_epoch(self.epoch, last_epoch, loss_log))
        if self.best is not None and distributed.is_main():
            self.best.consider(self.epoch, scores, self._saved_networks())
        self.save("latest", with_state=True)
        if self.epoch % self.save_epoch_freq == 0:
            self.save(str(self.epoch), with_state=False)

    # ----------------------------------------------------------------- scores
    def _prepare_scores(self) -> None:
        """Check the validation split, the extractor and ``--keep_best`` before the first step."""
        available = []
        if self.validation is not None:
            self.validation.prepare()
            available += self.validation.validator.metrics
            if self.ema is not None:
                self.log("gantool: validation scores the generators' moving averages (--ema_decay)")
        if self.eval_dataset is not None:
            available += list(getattr(self.recipe, "score_names", {}).values())
        if self.best is not None and distributed.is_main():
            self.best.check(available)

    def evaluate(self) -> Dict[str, float]:
        """Score the recipe on ``eval_dataset`` (see :meth:`EpochReport.evaluate`)."""
        return self.report.evaluate()


def _own_part(state: dict, path: str) -> dict:
    """This process's ``{"rng", "recipe"}`` of a training state (the state itself when one process saved it)."""
    saved = len(state.get("ranks") or [None])
    if saved != distributed.world_size():
        raise GantoolError(f"{path} was saved by {saved} training process(es) and this run has "
                           f"{distributed.world_size()}: resume with the same number (torchrun --nproc_per_node), "
                           "so that every process's random state and image pool continue exactly")
    return state["ranks"][distributed.rank()] if "ranks" in state else state

