"""Where validation scores go (the log, ``val_log.txt``/``.csv``, the page and the dashboard) and the best
checkpoint they select (``--keep_best``)."""
import csv
import io
import json
import math
import os
from typing import Callable, Dict, Optional

from ..errors import GantoolError
from ..io.checkpoint import save_network
from ..io.files import atomic_write_text
from ..viz.loss_log import LossLog
from . import distributed
from .validation import LOWER_IS_BETTER, Validator

_NAMES = {"l1": "L1", "psnr": "PSNR", "ssim": "SSIM", "fid": "FID", "kid": "KID"}
BEST_FILE = "best.json"


def format_scores(scores: Dict[str, object]) -> str:
    """``L1 0.0621, PSNR 19.04 dB, SSIM 0.4512`` / ``FID 12.345, KID 0.01234 ± 0.00100 (extractor X)``."""
    parts = []
    for key, value in scores.items():
        if key in ("images", "extractor") or key.startswith("kid_std") or not isinstance(value, float):
            continue
        base, _, suffix = key.partition("_") if key.split("_")[0] in _NAMES else (key, "", "")
        label = _NAMES.get(base, base) + (f" ({suffix})" if suffix else "")
        if base == "kid":
            std = scores.get("kid_std" + (f"_{suffix}" if suffix else ""), math.nan)
            parts.append(f"{label} {value:.5f} ± {std:.5f}")
        elif base == "psnr":
            parts.append(f"{label} {value:.2f} dB")
        else:
            parts.append(f"{label} {value:.4f}" if base != "fid" else f"{label} {value:.3f}")
    text = ", ".join(parts)
    return text + (f" (extractor {scores['extractor']})" if "extractor" in scores else "")


class ValidationLog:
    """Runs the validator every ``val_freq`` epochs and after the last, and records what it says.

    Args:
        run_dir: the run folder; ``val_log.txt`` (the printed lines) and ``val_log.csv`` (one row per validation)
            go there.
        validator: the :class:`Validator` of the run.
        val_freq: epochs between validations.
        visualizer: the run's visualizer (``plot_validation``: the page's ``val.svg`` and the dashboard's plot).
        log: prints one line for the user.
    """

    def __init__(self, run_dir: str, validator: Validator, val_freq: int, visualizer, log: Callable[[str], None]):
        self.run_dir, self.validator, self.val_freq = run_dir, validator, max(1, val_freq)
        self.visualizer, self.log = visualizer, log

    def prepare(self) -> None:
        """Check the split and load the extractor before training (rank 0 alone validates)."""
        if distributed.is_main():
            metrics = self.validator.prepare()
            self.log(f"gantool: validation every {self.val_freq} epoch(s) on {self.validator.count} held-out images: "
                     f"{', '.join(metrics)}" + (f" (extractor {self.validator.scorer.name})"
                                                if self.validator.scorer else ""))

    def due(self, epoch: int, last_epoch: int) -> bool:
        """Whether this process validates after ``epoch``: every ``val_freq`` epochs and after the last, on rank 0."""
        return distributed.is_main() and (epoch % self.val_freq == 0 or epoch == last_epoch)

    def after_epoch(self, epoch: int, last_epoch: int, loss_log: LossLog) -> Dict[str, object]:
        """Validate when due; returns the scores (empty when not due, and on ranks > 0)."""
        if not self.due(epoch, last_epoch):
            return {}
        import time

        start = time.perf_counter()
        scores = self.validator.run()
        seconds = time.perf_counter() - start
        line = (f"gantool: epoch {epoch}: validation on {scores['images']} images: {format_scores(scores)} "
                f"({seconds:.1f} s)")
        self.log(line)
        loss_log.write(line)
        with open(os.path.join(self.run_dir, "val_log.txt"), "a", encoding="utf-8") as f:
            f.write(line + "\n")
        self._write_csv(epoch, scores, seconds)
        numbers = {k: v for k, v in scores.items() if isinstance(v, float) and not k.startswith("kid_std")}
        if self.visualizer is not None and hasattr(self.visualizer, "plot_validation"):
            self.visualizer.plot_validation(epoch, numbers)
        return scores

    def _write_csv(self, epoch: int, scores: Dict[str, object], seconds: float) -> None:
        path = os.path.join(self.run_dir, "val_log.csv")
        row = {"epoch": epoch, **scores, "seconds": round(seconds, 2)}
        fields = list(row)
        if os.path.isfile(path):
            with open(path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            if header == fields:
                with open(path, "a", newline="", encoding="utf-8") as f:
                    csv.DictWriter(f, fieldnames=fields).writerow(_plain(row))
                return
        # A new file, or other columns than before (another --val_metrics after a resume): rewrite it whole.
        rows = []
        if os.path.isfile(path):
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        fields = list(dict.fromkeys([k for r in rows for k in r] + fields))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for r in rows + [_plain(row)]:
            writer.writerow(r)
        atomic_write_text(path, out.getvalue())


def _plain(row: Dict[str, object]) -> Dict[str, object]:
    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}


class BestCheckpoint:
    """Keeps ``best_net_<name>.pth`` (and the architecture side files) of the epoch with the best ``metric``.

    ``best.json`` says which epoch and score they hold. Files are written atomically; the best score so far
    is part of the training state (``state_dict``), so ``--continue_train`` keeps comparing with it.

    Args:
        run_dir: the run folder.
        metric: the score to watch: ``fid``, ``kid``, ``l1`` (lower is better) or any other score the epoch
            reports (``psnr``, ``ssim``, ``accuracy``, ``mIoU``: higher is better).
        log: prints one line for the user.
    """

    def __init__(self, run_dir: str, metric: str, log: Callable[[str], None]):
        self.run_dir, self.metric, self.log = run_dir, metric, log
        self.lower = metric in LOWER_IS_BETTER
        self.value: Optional[float] = None
        self.epoch: Optional[int] = None

    def check(self, available) -> None:
        """Fail before training when the run reports no ``metric`` (``available``: the names it reports)."""
        if self.metric not in available:
            raise GantoolError(f"--keep_best {self.metric}: this run reports {', '.join(available) or 'no scores'}; "
                               "choose one of them (--val_metrics sets what validation computes)")

    def state_dict(self) -> dict:
        return {"metric": self.metric, "value": self.value, "epoch": self.epoch}

    def load_state_dict(self, state: Optional[dict]) -> None:
        """Continue from a saved best score (of the same metric; another metric starts afresh)."""
        if state and state.get("metric") == self.metric:
            self.value, self.epoch = state.get("value"), state.get("epoch")
        elif state and state.get("value") is not None:
            self.log(f"gantool: --keep_best {self.metric}: the saved best was by {state.get('metric')}; "
                     f"starting a new best")

    def consider(self, epoch: int, scores: Dict[str, object], networks: dict) -> bool:
        """Save the networks as ``best`` when ``scores[metric]`` beats the best so far; returns whether it did."""
        value = scores.get(self.metric)
        if not isinstance(value, float) or not math.isfinite(value):
            return False
        if self.value is not None and (value >= self.value if self.lower else value <= self.value):
            return False
        for name, net in networks.items():
            save_network(net, os.path.join(self.run_dir, f"best_net_{name}.pth"))
        self.value, self.epoch = value, epoch
        info = {"metric": self.metric, "value": value, "epoch": epoch,
                **({"extractor": scores["extractor"]} if "extractor" in scores else {})}
        atomic_write_text(os.path.join(self.run_dir, BEST_FILE), json.dumps(info, indent=1))
        self.log(f"gantool: epoch {epoch} is the best so far by {self.metric} ({value:.4g}): saved best_net_*.pth")
        return True
