"""Command-line entry points: ``train.py``, ``test.py`` and the ``gantool`` command."""
import sys
import traceback
from typing import Callable, List, Optional

from .errors import GantoolError, Interrupted


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
        print(f"gantool: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Interrupted as err:  # SIGINT/SIGTERM: training saved its state and stopped
        print(str(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("gantool: interrupted", file=sys.stderr)
        return 130


def _one_line(err: GantoolError) -> str:
    """The user's message; an error re-raised from a DataLoader worker carries the worker's traceback
    in its text ("Caught ... in DataLoader worker process 0. Original Traceback ..."): keep its last line."""
    text = str(err)
    if "\nOriginal Traceback" in text:
        text = text.rstrip().splitlines()[-1].split(": ", 1)[-1]
    return text


def _train(argv: List[str]) -> None:
    from .build import build_trainer
    from .engine.distributed import launch_for_gpus
    from .options import parse

    opt = parse(argv, is_train=True)
    launch_for_gpus(opt.gpu_list, log)  # --gpu_ids 0,1 with both GPUs present: becomes torchrun, one process each
    build_trainer(opt, log).fit()


def _test(argv: List[str]) -> None:
    from .build import build_tester
    from .options import parse

    build_tester(parse(argv, is_train=False), log).run()


def train_main(argv: Optional[List[str]] = None) -> int:
    """``python train.py [options]``; returns the exit status (2 for a user error). A process that torchrun
    started exits here instead (see ``distributed.exit_process``)."""
    code = _run(_train, argv)
    from .engine import distributed

    if distributed.launched():
        distributed.exit_process(code)
    return code


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


def check_data_main(argv: Optional[List[str]] = None) -> int:
    """``gantool check-data --dataroot X [train.py options]``: exit 0 when training can read the data, else 2."""
    from .check_data import check_data_main as check

    return _run(lambda args: check(args, log), argv)


def translate_main(argv: Optional[List[str]] = None) -> int:
    """``gantool translate IN -o OUT -c CHECKPOINT``: translate an image, a folder or a glob."""
    from .inference.translate import translate_main as translate

    return _run(lambda args: translate(args, log), argv)


def export_main(argv: Optional[List[str]] = None) -> int:
    """``gantool export CHECKPOINT --format torchscript|onnx``: a checked, dynamic-size export."""
    from .inference.export import export_main as export

    return _run(lambda args: export(args, log), argv)


def eval_main(argv: Optional[List[str]] = None) -> int:
    """``gantool eval fid|kid|paired|digits ...``: score results (FID/KID, paired quality, digit samples)."""
    from .metrics.eval_command import eval_main as evaluate

    return _run(lambda args: evaluate(args, log), argv)


def download_main(argv: Optional[List[str]] = None) -> int:
    """``gantool download dataset|model NAME``: a classic dataset or pretrained generator, no bash needed."""
    from .io.download_command import download_main as download

    return _run(lambda args: download(args, log), argv)


def main(argv: Optional[List[str]] = None) -> int:
    """``gantool train|test|eval|translate|export|download|check-data|dashboard|dashboard-assets [options]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_main, "test": test_main, "eval": eval_main, "translate": translate_main, "export": export_main,
                "download": download_main, "check-data": check_data_main, "dashboard": dashboard_main,
                "dashboard-assets": dashboard_assets_main}
    if not argv or argv[0] not in commands:
        print("usage: gantool {train,test,eval,translate,export,download,check-data,dashboard,dashboard-assets} "
              "[options]   (gantool train --help for the options)", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return commands[argv[0]](argv[1:])
