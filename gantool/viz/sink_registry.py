"""Which logging sinks exist (``--use_tensorboard``, ``--use_wandb``), the check that they are installed, and
opening them. A new sink: a :class:`~gantool.viz.sinks.LogSink` subclass in its own file plus one entry here."""

from __future__ import annotations

import importlib
from typing import Callable, Dict, List, Sequence

from ..errors import GantoolError
from .sinks import LogSink, first_line


def _open_tensorboard(run_dir: str, name: str, project: str, log: Callable[[str], None]) -> LogSink:
    from .tensorboard_sink import TensorBoardSink

    return TensorBoardSink(run_dir, log)


def _open_wandb(run_dir: str, name: str, project: str, log: Callable[[str], None]) -> LogSink:
    from .wandb_sink import WandbSink

    return WandbSink(run_dir, project, name, log)


#: sink name -> (the option that asks for it, the modules it imports, the pip extra, the opener)
SINKS: Dict[str, tuple] = {
    "tensorboard": ("--use_tensorboard", ("tensorboard", "torch.utils.tensorboard"), "tensorboard",
                    _open_tensorboard),
    "wandb": ("--use_wandb", ("wandb",), "wandb", _open_wandb),
}


def check_installed(names: Sequence[str]) -> None:
    """Import what each asked-for sink needs; raise a one-line :class:`GantoolError` naming the install command
    for the first one that cannot be imported. Run it on every process, before anything slow."""
    for name in names:
        option, modules, extra, _ = SINKS[name]
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as e:  # noqa: BLE001 - a broken install is as unusable as a missing one
                why = "is not installed" if isinstance(e, ImportError) else f"cannot be imported ({type(e).__name__})"
                raise GantoolError(f'{option}: the {modules[0]} package {why}; pip install "gantool[{extra}]"'
                                   ) from None


def open_sinks(names: Sequence[str], run_dir: str, name: str, project: str,
               log: Callable[[str], None] = print) -> List[LogSink]:
    """Open the named sinks for the run in ``run_dir`` (``checkpoints/<name>``). A sink that cannot start
    (a full disk, an unreachable W&B) is reported in one line and left out: training goes on without it.

    Args:
        names: keys of :data:`SINKS`, e.g. ``["tensorboard", "wandb"]``.
        run_dir: the run folder; each sink writes below it.
        name: the run's name (``--name``).
        project: the W&B project (``--wandb_project_name``).
        log: prints one line for the user.
    """
    check_installed(names)
    sinks = []
    for key in names:
        try:
            sinks.append(SINKS[key][3](run_dir, name, project, log))
        except Exception as e:  # noqa: BLE001 - a logger must never stop training
            log(f"gantool: the {key} log could not start ({type(e).__name__}: {first_line(e)}); "
                "training goes on without it")
    return sinks
