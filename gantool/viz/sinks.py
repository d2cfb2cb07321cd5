"""Logging sinks: places besides visdom and the HTML page that receive what the visualizer shows.

A sink gets plain values only (floats, ``HxWxC`` uint8 arrays, text), never tensors or options, so a new one is
one file with a :class:`LogSink` subclass plus one entry in ``sink_registry.SINKS``, which also opens them.
Sinks are conveniences: a sink that raises mid-run costs one line and is switched off (:class:`SinkSet`), and
training goes on. Only a sink that was asked for but is not installed stops the run, at start-up, in one line
(``sink_registry.check_installed``). The heavy packages (tensorboard, wandb) are imported only when asked for.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Sequence

import numpy as np


class LogSink:
    """Receives a training run's scalars, images and options; every method is a no-op here.

    ``step`` is the run's image counter (the trainer's ``total_iters``: images seen by all processes since the
    run began, continued by ``--continue_train``), so curves of a resumed run line up with the first part.
    """

    #: the name used in messages ("the tensorboard log failed ...")
    name = "sink"

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Record ``tag -> value`` at ``step`` (tags like ``loss/G_A``, ``lr/G``, ``val/fid``)."""

    def log_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
        """Record ``label -> image`` at ``step``; each image is an (H, W, 3) uint8 array."""

    def log_options(self, text: str, values: Mapping[str, object]) -> None:
        """Record the run's options once: ``text`` is the options printout, ``values`` the same as a flat dict
        of JSON-friendly values."""

    def close(self) -> None:
        """Flush and release; called once, at the end of training (also after an interruption)."""


class SinkSet:
    """Forwards each call to every sink; a sink that raises is reported in one line and dropped.

    Args:
        sinks: the open sinks.
        log: prints one line for the user.
    """

    def __init__(self, sinks: Sequence[LogSink] = (), log: Callable[[str], None] = print):
        self.sinks: List[LogSink] = list(sinks)
        self.log = log

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def _each(self, method: str, *args) -> None:
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as e:  # noqa: BLE001 - a logger must never stop training
                self.sinks.remove(sink)
                self.log(f"gantool: the {sink.name} log failed in {method} ({type(e).__name__}: {first_line(e)}), "
                         "so it is off for the rest of this run")
                if method != "close":
                    try:  # keep what it wrote so far; a second failure here says nothing new
                        sink.close()
                    except Exception:  # noqa: BLE001
                        pass

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """See :meth:`LogSink.log_scalars`."""
        self._each("log_scalars", step, values)

    def log_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
        """See :meth:`LogSink.log_images`."""
        self._each("log_images", step, images)

    def log_options(self, text: str, values: Mapping[str, object]) -> None:
        """See :meth:`LogSink.log_options`."""
        self._each("log_options", text, values)

    def close(self) -> None:
        """Close every sink (errors reported like any other); later calls do nothing."""
        self._each("close")
        self.sinks = []


def plain_options(values: Mapping[str, object]) -> Dict[str, object]:
    """``values`` with every value a JSON-friendly scalar: non-finite floats and other objects become text."""
    out: Dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
            out[key] = value
        elif isinstance(value, float):
            out[key] = value if np.isfinite(value) else str(value)
        else:
            out[key] = str(value)
    return out


def first_line(error: BaseException) -> str:
    """An error's message on one line (the first, shortened): what a one-line warning can carry."""
    text = str(error).strip()
    return (text.splitlines()[0][:200] if text else "no message")
