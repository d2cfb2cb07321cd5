"""Validation during training (``--val_freq``): paired quality or FID/KID on a held-out split.

Every ``--val_freq`` epochs the trainer hands the recipe's test step the held-out images (at most
``--val_max_images``): where the split has ground truth (``metric_pairs``, e.g. CycleGAN's ``fake_B`` and
``truth_B`` on the built-in data, pix2pix's ``fake_B`` and ``real_B``) it scores L1, PSNR and SSIM;
otherwise FID and KID of the generated images against the split's real images of the target domain
(``distribution_pairs``) with the chosen extractor. A recipe that makes its own inputs (``gan``,
``dcgan``: noise) is scored against the split's real images.

Validation leaves no trace in the run: the random generators are forked (and seeded, so every
validation sees the same noise and dropout), and normalisation buffers are restored afterwards, so a
resumed run stays exact.
"""
import contextlib
import math
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..errors import GantoolError
from ..metrics.distribution_eval import (DISTRIBUTION_METRICS, DistributionScorer, PairCollector, metric_list,
                                         to_unit)
from ..metrics.paired import paired_metrics
from ..metrics.paired_eval import ssim
from ..models.base import Recipe
from .step import StepRunner

PAIRED_METRICS = ("l1", "psnr", "ssim")
#: metrics where a smaller value is better (``--keep_best``); every other score is better larger
LOWER_IS_BETTER = ("fid", "kid", "l1")


def parse_metrics(text: str) -> Optional[List[str]]:
    """``--val_metrics``: ``auto`` (None: paired where there is truth, else FID/KID) or a comma list."""
    if text.strip().lower() == "auto":
        return None
    known = PAIRED_METRICS + DISTRIBUTION_METRICS
    return metric_list(text, known, f"choose from auto or a list of {', '.join(known)}", "--val_metrics: ")


@contextlib.contextmanager
def isolated(recipe: Recipe) -> Iterator[None]:
    """Run with forked, seeded random generators and restore every network buffer (BatchNorm statistics)
    afterwards: what happens inside changes nothing the run continues with."""
    devices = [recipe.device] if recipe.device.type == "cuda" else []
    saved = {name: [b.detach().clone() for b in net.buffers()] for name, net in recipe.networks.items()}
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        try:
            with torch.no_grad():
                yield
        finally:
            for name, net in recipe.networks.items():
                for buffer, value in zip(net.buffers(), saved[name]):
                    buffer.copy_(value)


class Validator:
    """Scores a recipe on a held-out split.

    Args:
        recipe: the recipe being trained.
        steps: the run's step runner (its precision applies here too).
        dataset: the held-out split (no flips, no random crop, in order).
        metrics: the metrics to compute, or None for the automatic choice.
        max_images: at most this many images (generated samples for a recipe that makes its own inputs).
        batch_size: images per test step.
        make_scorer: builds the FID/KID scorer when those are needed.
        keep_best: ``--keep_best``; with the automatic choice, that metric is computed too (``--keep_best fid`` on
            data with ground truth scores L1/PSNR/SSIM and FID).
    """

    def __init__(self, recipe: Recipe, steps: StepRunner, dataset, metrics: Optional[Sequence[str]], max_images: int,
                 batch_size: int, make_scorer: Callable[[], DistributionScorer], keep_best: str = ""):
        self.recipe, self.steps, self.dataset = recipe, steps, dataset
        self.max_images, self.batch_size, self.make_scorer = max_images, batch_size, make_scorer
        self.requested = list(metrics) if metrics else None
        self.keep_best = keep_best
        self.metrics: List[str] = []
        self.scorer: Optional[DistributionScorer] = None
        self._real: Dict[Tuple[str, str], object] = {}  # real features per pair: the split does not change

    @property
    def count(self) -> int:
        """How many held-out images are scored."""
        return int(min(len(self.dataset), self.max_images))

    def prepare(self) -> List[str]:
        """Decide the metrics from one test step on the first held-out batch and load the extractor, so that
        a split without truth or an extractor without weights fails before training starts. Returns them."""
        if len(self.dataset) == 0:
            raise GantoolError("the validation split is empty")
        batches = self._visuals()
        visuals = next(batches, None) or {}
        batches.close()  # leaves the isolation: random state and buffers restored
        paired = [p for p in self.recipe.metric_pairs if p[0] in visuals and p[1] in visuals]
        if self.requested is None:
            self.metrics = list(PAIRED_METRICS) if paired else list(DISTRIBUTION_METRICS)
            if self.keep_best in DISTRIBUTION_METRICS and self.keep_best not in self.metrics:
                self.metrics.append(self.keep_best)
        else:
            self.metrics = self.requested
            if any(m in PAIRED_METRICS for m in self.metrics) and not paired:
                raise GantoolError(f"--val_metrics {','.join(self.metrics)}: the validation split has no ground truth "
                                   f"for {self.recipe.metric_pairs[0][0] if self.recipe.metric_pairs else 'the output'}; "
                                   "use --val_metrics fid,kid")
        if any(m in DISTRIBUTION_METRICS for m in self.metrics):
            if not self._distribution_pairs(visuals):
                raise GantoolError("FID/KID during training need real images of the target domain in the "
                                   "validation split; this model's test step shows none")
            if self.count < 2:
                raise GantoolError(f"FID/KID need at least 2 validation images; --val_max_images is {self.max_images}")
            self.scorer = self.make_scorer()
        return self.metrics

    def _own_inputs(self) -> bool:
        return self.recipe.test_batches(2) is not None

    def _visuals(self) -> Iterator[Dict[str, Tensor]]:
        """The test step's visuals for the held-out images, batch by batch (``real``: the split's images
        for a recipe that makes its own inputs)."""
        with isolated(self.recipe):
            if self._own_inputs():
                reals = self._loader()
                for batch in self.recipe.test_batches(max(self.count, 2)):
                    visuals = dict(self.steps.test_step(self.recipe, batch))
                    real = next(reals, None)
                    if real is not None:
                        visuals["real"] = real["A"][: visuals["fake"].shape[0]]
                    yield visuals
                return
            seen = 0
            for batch in self._loader():
                if seen >= self.count:
                    return
                visuals = self.steps.test_step(self.recipe, batch)
                n = min(next(iter(visuals.values())).shape[0], self.count - seen)
                seen += n
                yield {k: v[:n] for k, v in visuals.items()}

    def _loader(self) -> Iterator[dict]:
        return iter(DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=0))

    def _distribution_pairs(self, visuals: Dict[str, Tensor]) -> List[Tuple[str, str]]:
        return [p for p in self.recipe.distribution_pairs if p[0] in visuals and p[1] in visuals]

    def run(self) -> Dict[str, object]:
        """Score the split; returns ``{metric: value}`` plus ``images`` and, for FID/KID, ``extractor``."""
        if not self.metrics:
            self.prepare()
        # As test.py runs the networks by default (the classic habit), except that synchronised batch norm
        # would wait for the other processes, which do not validate: it uses its running statistics.
        synced = any(isinstance(m, torch.nn.SyncBatchNorm) for net in self.recipe.networks.values()
                     for m in net.modules())
        self.recipe.eval() if synced else self.recipe.train()
        paired: Dict[str, List[float]] = {m: [] for m in self.metrics if m in PAIRED_METRICS}
        collector = None
        if self.scorer is not None:
            collector = PairCollector(self.scorer, self.recipe.distribution_pairs,
                                      [m for m in self.metrics if m in DISTRIBUTION_METRICS], self._real)
        images = 0
        try:
            for visuals in self._visuals():
                images += next(iter(visuals.values())).shape[0]
                self._add_paired(visuals, paired)
                if collector is not None:
                    collector.add(visuals)
        finally:
            self.recipe.train()
        scores: Dict[str, object] = {"images": images}
        for name, values in paired.items():
            scores[name] = sum(values) / len(values) if values else math.nan
        if collector is not None:
            found = collector.scores()
            self._real = collector.real  # the split's real images give the same features next time
            scores.update({k: v for k, v in found.items() if k not in ("real_images", "fake_images")})
        return scores

    def _add_paired(self, visuals: Dict[str, Tensor], paired: Dict[str, List[float]]) -> None:
        for out, truth in self.recipe.metric_pairs[:1]:
            if out not in visuals or truth not in visuals:
                continue
            pred, target = visuals[out].float(), visuals[truth].float()
            for i in range(pred.shape[0]):
                values = paired_metrics(pred[i:i + 1], target[i:i + 1])
                if "ssim" in paired:
                    values["ssim"] = ssim(to_unit(pred[i:i + 1]), to_unit(target[i:i + 1])).item()
                for name in paired:
                    paired[name].append(values[name])
