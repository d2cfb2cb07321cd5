"""``gantool eval digits SAMPLES``: how digit-like generated digits are, against gantool's built-in test digits.

Reproduces the README's GAN sample scores with networks that ship with gantool: pixel statistics
(mean-image L1, intensity-histogram distance), the ``digits`` classifier's scores (confident share,
classes seen, largest class) and FID/KID with the ``digits`` extractor, all against the 1000 built-in
test digits (or ``--real FOLDER``).
"""
import argparse
import os
from typing import Callable, Dict, List

import numpy as np
import torch

from ..errors import GantoolError
from .distribution_eval import DistributionScorer, format_scores, save_scores
from .image_sets import list_images, load_batches

_HIST_BINS = 10


def builtin_test_digits() -> torch.Tensor:
    """The 1000 built-in test digits as (1000, 1, 28, 28) floats in [0, 1]."""
    from ..data.digits import N_TEST, _SPLIT_SEEDS, render_digits

    images, _ = render_digits(0, N_TEST, _SPLIT_SEEDS["test"])
    return torch.from_numpy(images).float().div_(255).unsqueeze(1)


def pixel_statistics(fake: torch.Tensor, real: torch.Tensor) -> Dict[str, float]:
    """``pixel_l1``: mean |mean fake image - mean real image| (both gray, in [0, 1], resized to the real size);
    ``histogram``: total-variation distance between their 10-bin pixel-intensity histograms."""
    from .extractor_base import rgb_to_gray

    fake = rgb_to_gray(fake)
    if fake.shape[-2:] != real.shape[-2:]:
        fake = torch.nn.functional.interpolate(fake, size=real.shape[-2:], mode="bilinear", antialias=True,
                                               align_corners=False).clamp(0, 1)

    def hist(x: torch.Tensor) -> np.ndarray:
        return np.histogram(x.numpy(), bins=_HIST_BINS, range=(0, 1))[0] / x.numel()

    return {"pixel_l1": float((fake.mean(0) - real.mean(0)).abs().mean()),
            "histogram": float(0.5 * np.abs(hist(fake) - hist(real)).sum())}


def digits_main(argv: List[str], log: Callable[[str], None]) -> Dict[str, object]:
    """``gantool eval digits SAMPLES [--real FOLDER] [--json FILE]``; returns the scores."""
    parser = argparse.ArgumentParser(prog="gantool eval digits",
                                     description="digit-classifier scores and FID/KID of generated digits")
    parser.add_argument("samples", help="generated digits: a folder, a glob, or a test.py results folder")
    parser.add_argument("--real", help="real digits to compare with (default: the 1000 built-in test digits)")
    parser.add_argument("--weights", help="a weights file for the digits extractor")
    parser.add_argument("--json", help="also write the scores to this JSON file")
    opt = parser.parse_args(argv)
    from .builtin_extractors import digit_scores

    fake = torch.cat(list(load_batches(_same_size(list_images(opt.samples, "fake")), 256)))
    real = (torch.cat(list(load_batches(_same_size(list_images(opt.real, "real")), 256)))
            if opt.real else builtin_test_digits())
    scorer = DistributionScorer("digits", weights=opt.weights, cache=False, log=log)
    scores: Dict[str, object] = {**pixel_statistics(fake, (real if real.shape[1] == 1 else real.mean(1, keepdim=True))),
                                 **digit_scores(scorer.net, fake)}
    real_digits = digit_scores(scorer.net, real)
    scores.update(scorer.scores(scorer.features_of_tensors([real]), scorer.features_of_tensors([fake])))
    log(f"gantool: {len(fake)} samples: pixel L1 {scores['pixel_l1']:.3f}, histogram {scores['histogram']:.3f}, "
        f"confident {scores['confident']:.0%}, classes seen {scores['classes_seen']} "
        f"(largest {scores['largest_class']:.0%}); real digits: confident {real_digits['confident']:.0%}")
    log("gantool: " + format_scores(scores))
    if opt.json:
        save_scores(opt.json, scores, samples=os.path.abspath(opt.samples))
        log(f"gantool: wrote {opt.json}")
    return scores


def _same_size(paths: List[str]) -> List[str]:
    """The files, checked to share one size (pixel statistics compare images pixel by pixel)."""
    from .image_sets import image_sizes

    sizes = image_sizes(paths, limit=len(paths))
    if len(sizes) > 1:
        raise GantoolError(f"the digit images have {len(sizes)} different sizes ({sizes[0][0]}x{sizes[0][1]}, "
                           f"{sizes[1][0]}x{sizes[1][1]} ...); give one size")
    return paths
