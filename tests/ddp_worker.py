"""Run by tests/test_distributed.py under torchrun: trains several models in one process group.

Usage: ``torchrun --nproc_per_node 2 ddp_worker.py runs.json report.json``, where ``runs.json`` maps a
run name to its train.py arguments. For each run every process trains; rank 0 then writes, per run,
every process's parameter checksums (they must agree: DDP keeps the processes in step), the type of
each network, or the one-line error a run stopped with.
"""
import json
import sys

import torch

from gantool.engine import distributed
from gantool.build import build_trainer
from gantool.io.files import unwrap
from gantool.errors import GantoolError
from gantool.options import parse


def checksums(recipe) -> dict:
    """Per network, the float64 sum of every parameter (buffers such as running means stay per process)."""
    return {name: [float(p.detach().double().sum()) for p in unwrap(net).parameters()]
            for name, net in recipe.networks.items()}


def main(runs_path: str, report_path: str) -> None:
    with open(runs_path, encoding="utf-8") as f:
        runs = json.load(f)
    report = {}
    for name, argv in runs.items():
        try:
            trainer = build_trainer(parse(argv, is_train=True), log=print)
            trainer.fit()
        except GantoolError as err:
            report[name] = {"error": str(err)}
            continue
        gathered = distributed.gather_to_main(checksums(trainer.recipe))
        report[name] = {"ranks": gathered, "world_size": distributed.world_size(),
                        "types": {k: type(v).__name__ for k, v in trainer.recipe.networks.items()},
                        "sync_bn": any(isinstance(m, torch.nn.SyncBatchNorm)
                                       for net in trainer.recipe.networks.values() for m in net.modules())}
    if distributed.is_main():
        with open(report_path, "w", encoding="utf-8") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    distributed.exit_process(0)  # as train.py's processes do under torchrun
