"""What the trainer reports after each epoch: the recipe's note and the scores on its ``eval_phase`` split."""
import json
import os
from typing import Callable, Dict, Optional

import torch
from torch.utils.data import DataLoader

from ..models.base import Recipe
from ..viz.loss_log import LossLog
from . import distributed
from .step import StepRunner


class EpochReport:
    """Scores ``eval_dataset`` with ``recipe`` after every epoch and writes the epoch's lines.

    Args:
        recipe: the recipe being trained.
        steps: the run's step runner (its precision applies to the scoring too).
        eval_dataset: the recipe's ``eval_phase`` split, or None: nothing to score.
        run_dir: where ``eval_log.jsonl`` goes.
        batch_size, num_workers: the scoring loader's.
        log: prints one line for the user.
    """

    def __init__(self, recipe: Recipe, steps: StepRunner, eval_dataset, run_dir: str, batch_size: int,
                 num_workers: int, log: Callable[[str], None]):
        self.recipe, self.steps, self.eval_dataset, self.run_dir = recipe, steps, eval_dataset, run_dir
        self.batch_size, self.num_workers, self.log = batch_size, num_workers, log

    def evaluate(self) -> Dict[str, float]:
        """``test_step`` on every batch of ``eval_dataset`` in eval mode, then the recipe's ``test_summary``.
        Touches no random generator, so a resumed run stays exact."""
        self.recipe.test_summary()  # drop anything accumulated before
        loader = DataLoader(self.eval_dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                            generator=torch.Generator().manual_seed(0))
        self.recipe.eval()
        try:
            for batch in loader:
                self.steps.test_step(self.recipe, batch)
        finally:
            self.recipe.train()
        return self.recipe.test_summary()

    def write(self, epoch: int, loss_log: LossLog, note: Optional[str]) -> Dict[str, float]:
        """The recipe's end-of-epoch ``note`` and the scores: printed, appended to loss_log.txt, and (scores)
        to ``eval_log.jsonl``, one JSON object per epoch. Rank 0 alone; returns the scores (empty: none)."""
        if not distributed.is_main():
            return {}
        lines, scores = [], {}
        if note:
            lines.append(f"gantool: epoch {epoch}: {note}")
        if self.eval_dataset is not None:
            scores = self.evaluate()
            phase = self.recipe.eval_phase
            text = ", ".join(f"{k} {v:.4f}" for k, v in scores.items()) or "nothing to score"
            lines.append(f"gantool: epoch {epoch}: {phase} split ({len(self.eval_dataset)} images): {text}")
            with open(os.path.join(self.run_dir, "eval_log.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps({"epoch": epoch, "phase": phase, "images": len(self.eval_dataset), **scores}) + "\n")
        for line in lines:
            self.log(line)
            loss_log.write(line)
        return dict(scores)
