"""Command-line entry points: ``train.py``, ``test.py`` and the ``gantool`` command."""
import sys
import traceback
from typing import Callable, List, Optional

from .errors import GantoolError


def log(message: str) -> None:
    """Print one line for the user at once (stdout may be a file or a pipe)."""
    print(message, flush=True)


def _run(main: Callable[[List[str]], None], argv: Optional[List[str]]) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        main(argv)
        return 0
    except GantoolError as err:
        if "--debug" in argv:
            traceback.print_exc()
        print(f"gantool: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gantool: interrupted", file=sys.stderr)
        return 130


def _train(argv: List[str]) -> None:
    from .build import build_trainer
    from .options import parse

    build_trainer(parse(argv, is_train=True), log).fit()


def _test(argv: List[str]) -> None:
    from .build import build_tester
    from .options import parse

    build_tester(parse(argv, is_train=False), log).run()


def train_main(argv: Optional[List[str]] = None) -> int:
    """``python train.py [options]``; returns the exit status (2 for a user error)."""
    return _run(_train, argv)


def test_main(argv: Optional[List[str]] = None) -> int:
    """``python test.py [options]``; returns the exit status (2 for a user error)."""
    return _run(_test, argv)


def dashboard_main(argv: Optional[List[str]] = None) -> int:
    """``gantool dashboard [options]``: the visdom server, offline, on 127.0.0.1:8097 by default."""
    from .viz.dashboard import dashboard_main as serve

    return _run(lambda args: serve(args, log), argv)


def dashboard_assets_main(argv: Optional[List[str]] = None) -> int:
    """``gantool dashboard-assets``: fetch the dashboard's JavaScript/CSS/fonts from npm, once."""
    from .viz.dashboard import assets_main

    return _run(lambda args: assets_main(args, log), argv)


def main(argv: Optional[List[str]] = None) -> int:
    """``gantool train|test|dashboard|dashboard-assets [options]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_main, "test": test_main, "dashboard": dashboard_main,
                "dashboard-assets": dashboard_assets_main}
    if not argv or argv[0] not in commands:
        print("usage: gantool {train,test,dashboard,dashboard-assets} [options]   "
              "(gantool train --help for the options)", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return commands[argv[0]](argv[1:])
