"""How long a training run (or a test.py run) will take, told once from its first steps when that is long.

A typo such as ``--n_epochs 2000`` (or a dataset far larger than meant) should not be discovered days later.
After a few warm-up batches (allocator pools, autotuning, the loader's first workers), the trainer's rate over the
next batches gives the time the remaining images need; a run that would take longer than ``LONG_RUN_SECONDS``
says so in one line, with what shortens it. Validation, checkpoints and epoch ends are not included, so the
figure is a lower bound. The tester counts its images the same way (one "batch" per saved result).
"""
import time
from typing import Callable, Optional

#: runs estimated to take longer than this are told so
LONG_RUN_SECONDS = 3600.0
WARMUP_BATCHES = 3  # not timed: first steps pay for allocations, autotuning and starting the loader
TIMED_BATCHES = 10  # the rate is measured over these
#: the line a long training run prints (``str.format`` fields: duration, per_batch, batch, per_image, schedule)
TRAIN_MESSAGE = ("gantool: this run will take about {duration} more at {per_batch:.2f} s per batch of {batch:g} "
                 "({schedule}); --n_epochs, --n_epochs_decay, --max_dataset_size or --max_iters shorten it")
#: the line a long test.py run prints
TEST_MESSAGE = ("gantool: this test will take about {duration} more at {per_image:.2f} s per image ({schedule}); "
                "--num_test shortens it")


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
            ``--max_iters``), or to test.
        schedule: the options that set the length, for the message (e.g. ``200 epochs of 1096 images``).
        log: where the line goes.
        long_run: seconds above which the run is reported.
        clock: the time source (tests pass a fake one).
        message: the line, a ``str.format`` template (``TRAIN_MESSAGE``, ``TEST_MESSAGE``).
    """

    def __init__(self, remaining_images: int, schedule: str, log: Callable[[str], None],
                 long_run: Optional[float] = None, clock: Callable[[], float] = time.perf_counter,
                 message: str = TRAIN_MESSAGE):
        self.remaining, self.schedule, self.log, self.clock = remaining_images, schedule, log, clock
        self.message = message
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

    @classmethod
    def for_test(cls, images: int, log: Callable[[str], None],
                 clock: Callable[[], float] = time.perf_counter) -> "DurationEstimate":
        """The estimate for a tester about to save ``images`` results (``observe(1)`` after each)."""
        return cls(images, f"{images} image{'s' if images != 1 else ''}", log, clock=clock, message=TEST_MESSAGE)

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
            self.log(self.message.format(duration=format_duration(seconds), per_batch=per_image * batch, batch=batch,
                                         per_image=per_image, schedule=self.schedule))
        return seconds
