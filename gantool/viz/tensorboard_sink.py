"""``--use_tensorboard``: the run's losses, learning rates, validation scores, visuals and options as
TensorBoard event files in ``checkpoints/<name>/tb/`` (``tensorboard --logdir checkpoints/<name>/tb``)."""

from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np

from .sinks import LogSink

#: seconds between the writer's background flushes; a killed run loses at most this much
FLUSH_SECS = 10


class TensorBoardSink(LogSink):
    """Writes through ``torch.utils.tensorboard.SummaryWriter`` (needs the ``tensorboard`` package).

    A resumed run (``--continue_train``) adds a new event file to the same folder; TensorBoard joins them
    on the step axis (the image counter), so the curves go on where they stopped.

    Args:
        run_dir: the run folder; events go to ``run_dir/tb``.
        log: prints the one line that says where the events are.
    """

    name = "tensorboard"

    def __init__(self, run_dir: str, log: Callable[[str], None] = print):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = os.path.join(run_dir, "tb")
        self.writer = SummaryWriter(log_dir=self.log_dir, flush_secs=FLUSH_SECS)
        log(f"gantool: TensorBoard logs in {self.log_dir} (view them with `tensorboard --logdir {self.log_dir}`)")

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """One scalar series per tag."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def log_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
        """One image card per label, under ``visuals/`` (the cards sit side by side, each named)."""
        for label, image in images.items():
            self.writer.add_image(f"visuals/{label}", image, step, dataformats="HWC")

    def log_options(self, text: str, values: Mapping[str, object]) -> None:
        """The options printout in the Text tab (indented, so that its markdown shows it verbatim)."""
        self.writer.add_text("options", "\n".join("    " + line for line in text.splitlines()), 0)
        self.writer.flush()  # visible at once, not after the first FLUSH_SECS

    def close(self) -> None:
        """Flush the pending events and close the file."""
        self.writer.close()
