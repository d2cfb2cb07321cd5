"""``loss_log.txt``: the classic plain-text training log, one line per ``--print_freq`` iterations."""

from __future__ import annotations

import os
import time
from typing import Mapping

from ..io.files import append_line


class LossLog:
    """Append-only loss log in the classic format, so existing log-parsing scripts keep working.

    Creating it appends a header line ``================ Training Loss (<date time>) ================``
    (a resumed run adds a new header below the old lines rather than truncating them).

    Args:
        path: the log file, usually ``checkpoints/<name>/loss_log.txt``; its folder is created.
    """

    def __init__(self, path: str):
        self.path = path
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.write("================ Training Loss (%s) ================" % time.strftime("%c"))

    @staticmethod
    def format(epoch: int, iters: int, losses: Mapping[str, float], t_comp: float, t_data: float) -> str:
        """Build the classic message.

        Example: ``(epoch: 1, iters: 100, time: 0.123, data: 0.004) G_A: 0.512 D_A: 0.301``

        Args:
            epoch: current epoch.
            iters: iterations within the epoch.
            losses: name -> value (floats or 0-dim tensors), printed in insertion order with 3 decimals.
            t_comp: compute seconds per image.
            t_data: data-loading seconds per image.
        """
        message = "(epoch: %d, iters: %d, time: %.3f, data: %.3f)" % (epoch, iters, t_comp, t_data)
        # The classic message ends with a space; dropped here, parsers split on whitespace either way.
        return " ".join([message] + ["%s: %.3f" % (k, float(v)) for k, v in losses.items()])

    def write(self, message: str) -> None:
        """Append ``message`` as one line. The file is reopened each time so every line reaches the
        disk at once and a crashed run keeps its log (lines are rare: every ``--print_freq``)."""
        append_line(self.path, message + "\n")
