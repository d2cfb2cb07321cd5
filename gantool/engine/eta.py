"""How long a training run will take, told once from its first steps when that is long.

A typo such as ``--n_epochs 2000`` (or a dataset far larger than meant) should not be discovered days later.
After a few warm-up batches (allocator pools, autotuning, the loader's first workers), the trainer's rate over the
next batches gives the time the remaining images need; a run that would take longer than ``LONG_RUN_SECONDS``
says so in one line, with what shortens it. Validation, checkpoints and epoch ends are not included, so the
figure is a lower bound.
"""
import time
from typing import Callable, Optional

#: runs estimated to take longer than this are told so
LONG_RUN_SECONDS = 3600.0
WARMUP_BATCHES = 3  # not timed: first steps pay for allocations, autotuning and starting the loader
TIMED_BATCHES = 10  # the rate is measured over these


def format_duration(seconds: float) -> str:
    """``95`` -> ``2 min``, ``11160`` -> ``3.1 h``, ``280000`` -> ``3.2 days``."""
    if seconds < 3600:
        return f"{max(seconds / 60, 1):.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class DurationEstimate:
    """Watches the first batches of a run and logs one line if the rest will take longer than ``long_run``.

    Args:
        remaining_images: images the run still has to train on (all epochs, less what is done; capped by
            ``--max_iters``).
        schedule: the options that set the length, for the message (e.g. ``200 epochs of 1096 images``).
        log: where the line goes.
        long_run: seconds above which the run is reported.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, remaining_images: int, schedule: str, log: Callable[[str], None],
                 long_run: Optional[float] = None, clock: Callable[[], float] = time.perf_counter):
        self.remaining, self.schedule, self.log, self.clock = remaining_images, schedule, log, clock
        self.long_run = LONG_RUN_SECONDS if long_run is None else long_run
        self.batches, self.images, self.start = 0, 0, 0.0
        self.done = remaining_images <= 0

    @classmethod
    def for_run(cls, epoch: int, last_epoch: int, epoch_images: int, skip: int, total_iters: int, max_iters: int,
                log: Callable[[str], None]) -> "DurationEstimate":
        """The estimate for a trainer about to run epochs ``epoch..last_epoch`` of ``epoch_images`` images from
        image ``skip`` of the first, stopping at ``max_iters`` images in all (0: no limit)."""
        remaining = (last_epoch - epoch + 1) * epoch_images - skip
        if max_iters:
            remaining = min(remaining, max_iters - total_iters)
        epochs = last_epoch - epoch + 1
        return cls(remaining, f"{epochs} epoch{'s' if epochs != 1 else ''} of {epoch_images} images", log)

    def observe(self, images: int) -> Optional[float]:
        """Count one finished batch of ``images``; returns the estimated seconds still to go once it is known
        (on the batch that completes the measurement), else None."""
        if self.done:
            return None
        self.batches += 1
        self.remaining -= images
        if self.batches == WARMUP_BATCHES:
            self.start = self.clock()
            return None
        if self.batches < WARMUP_BATCHES + TIMED_BATCHES:
            self.images += images if self.batches > WARMUP_BATCHES else 0
            return None
        self.images += images
        self.done = True
        elapsed = self.clock() - self.start
        per_image = elapsed / max(self.images, 1)
        seconds = per_image * max(self.remaining, 0)
        if seconds > self.long_run:
            batch = self.images / TIMED_BATCHES
            self.log(f"gantool: this run will take about {format_duration(seconds)} more at "
                     f"{per_image * batch:.2f} s per batch of {batch:g} ({self.schedule}); --n_epochs, "
                     "--n_epochs_decay, --max_dataset_size or --max_iters shorten it")
        return seconds
