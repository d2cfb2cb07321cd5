"""``gantool eval``: score results from the command line.

    gantool eval fid REAL FAKE          Fréchet Inception Distance of two image sets
    gantool eval kid REAL FAKE          Kernel Inception Distance (mean ± std over subsets)
    gantool eval fid,kid REAL FAKE      both, one feature pass
    gantool eval paired RESULTS ...     L1, PSNR, SSIM against the ground truth (as scripts/eval_paired.py)
    gantool eval digits SAMPLES         digit-classifier scores and FID/KID of digit samples
    gantool eval --download             fetch the Inception weights for FID once (needs internet)

REAL and FAKE are folders, globs or test.py results folders.
"""
import argparse
import os
import time
from typing import Callable, List

import torch

from ..errors import GantoolError
from .distribution_eval import DISTRIBUTION_METRICS, DistributionScorer, format_scores, metric_list, save_scores
from .image_sets import image_sizes, list_images

_USAGE = "gantool eval fid|kid|fid,kid|paired|digits ... , or gantool eval --download (gantool eval fid --help)"


def _device(gpu_ids: str) -> torch.device:
    """``--gpu_ids``: -1 the CPU; empty (default) the first GPU when there is one; N that GPU."""
    first = (gpu_ids or "").split(",")[0].strip()
    if first == "-1" or (not first and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GantoolError(f"--gpu_ids {gpu_ids}: no CUDA GPU is available here; use --gpu_ids -1")
    return torch.device(f"cuda:{int(first) if first else 0}")


def _extractor_options(parser: argparse.ArgumentParser, default: str = "inception") -> None:
    parser.add_argument("--extractor", default=default,
                        help="feature extractor: inception (the standard FID; weights downloaded once with "
                             "--download), digits or toy_scenes (shipped, for gantool's built-in data)")
    parser.add_argument("--weights", help="the extractor's weights file, instead of its cached/shipped one")
    parser.add_argument("--download", action="store_true", help="download missing extractor weights (internet)")
    parser.add_argument("--batch_size", type=int, default=50, help="images per extractor call")
    parser.add_argument("--gpu_ids", default="", help="-1: CPU; default: the first GPU if there is one")
    parser.add_argument("--no_cache", action="store_true", help="do not read or write cached features")
    parser.add_argument("--json", help="also write the scores to this JSON file")


def _distribution_parser(metrics: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"gantool eval {metrics}",
                                     description="FID/KID between a real and a generated image set")
    parser.add_argument("real", help="real images: a folder, a glob, or a test.py results folder")
    parser.add_argument("fake", help="generated images: a folder, a glob, or a test.py results folder")
    parser.add_argument("--real_label", help="label of the real pictures in a results folder (e.g. real_B)")
    parser.add_argument("--fake_label", help="label of the generated pictures in a results folder (e.g. fake_B)")
    parser.add_argument("--max_images", type=int, default=0, help="use at most this many images of each set")
    parser.add_argument("--kid_subsets", type=int, default=100, help="KID: number of random subsets")
    parser.add_argument("--kid_subset_size", type=int, default=1000, help="KID: images per subset")
    _extractor_options(parser)
    return parser


def distribution_main(metrics: List[str], argv: List[str], log: Callable[[str], None]) -> dict:
    """``gantool eval fid|kid|fid,kid REAL FAKE [options]``; returns the scores."""
    opt = _distribution_parser(",".join(metrics)).parse_args(argv)
    if opt.max_images < 0 or opt.batch_size < 1 or opt.kid_subsets < 1 or opt.kid_subset_size < 2:
        raise GantoolError("--max_images must be >= 0, --batch_size and --kid_subsets >= 1, --kid_subset_size >= 2")
    real = list_images(opt.real, "real", opt.real_label)
    fake = list_images(opt.fake, "fake", opt.fake_label)
    if opt.max_images:
        real, fake = real[: opt.max_images], fake[: opt.max_images]
    real_sizes, fake_sizes = image_sizes(real), image_sizes(fake)
    if real_sizes[:1] != fake_sizes[:1] and real_sizes and fake_sizes:
        log(f"gantool: note: the real images are {'x'.join(map(str, real_sizes[0]))} and the generated ones "
            f"{'x'.join(map(str, fake_sizes[0]))}; the extractor resizes both to its own input size")
    scorer = DistributionScorer(opt.extractor, _device(opt.gpu_ids), weights=opt.weights, download=opt.download,
                                batch_size=opt.batch_size, cache=not opt.no_cache, log=log)
    start = time.perf_counter()
    real_features = scorer.features_of_files(real)
    fake_features = scorer.features_of_files(fake)
    scores = scorer.scores(real_features, fake_features, metrics, opt.kid_subsets, opt.kid_subset_size)
    log(format_scores(scores))
    log(f"gantool: {time.perf_counter() - start:.1f} s ({scorer.seconds:.1f} s in the extractor; "
        f"cached sets cost nothing)")
    if opt.json:
        save_scores(opt.json, scores, real=os.path.abspath(opt.real), fake=os.path.abspath(opt.fake))
        log(f"gantool: wrote {opt.json}")
    return scores


def download_main(argv: List[str], log: Callable[[str], None]) -> None:
    """``gantool eval --download [--extractor inception]``: fetch an extractor's weights into the cache."""
    parser = argparse.ArgumentParser(prog="gantool eval --download")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--extractor", default="inception")
    opt = parser.parse_args(argv)
    from .extractors import load_extractor

    net = load_extractor(opt.extractor, torch.device("cpu"), download=True, log=log)
    log(f"gantool: extractor {net.name} is ready")


def paired_main(argv: List[str], log: Callable[[str], None]) -> list:
    """``gantool eval paired RESULTS ... [--fake L] [--truth L|FOLDER] [--input L] [--csv FILE]``."""
    from .paired_eval import evaluate, format_table, write_csv

    parser = argparse.ArgumentParser(prog="gantool eval paired",
                                     description="L1, PSNR and SSIM of test results against their ground truth")
    parser.add_argument("results", nargs="+", help="results folders written by test.py")
    parser.add_argument("--fake", help="label of the outputs, e.g. fake_B (default: from metrics.json)")
    parser.add_argument("--truth", help="label of the ground truth in the results, or a folder of true images")
    parser.add_argument("--input", dest="input_label", help="label of the inputs for the identity baseline "
                        "(default: real_A or real)")
    parser.add_argument("--csv", help="where to write the table (default: <first results>/paired_metrics.csv)")
    opt = parser.parse_args(argv)
    rows = [row for folder in opt.results for row in evaluate(folder, opt.fake, opt.truth, opt.input_label)]
    path = opt.csv or os.path.join(opt.results[0], "paired_metrics.csv")
    try:
        write_csv(rows, path)
    except OSError as err:
        raise GantoolError(f"cannot write {path}: {err.strerror}") from None
    log(format_table(rows))
    log(f"wrote {path}")
    return rows


def eval_main(argv: List[str], log: Callable[[str], None] = print) -> None:
    """``gantool eval ...`` (see the module docstring)."""
    if not argv or argv[0] in ("-h", "--help"):
        log(__doc__.strip())
        if not argv:
            raise GantoolError(f"say what to evaluate: {_USAGE}")
        return
    if argv[0] == "--download" or (argv[0].startswith("--") and "--download" in argv):
        return download_main(argv, log)
    if argv[0] == "paired":
        paired_main(argv[1:], log)
    elif argv[0] == "digits":
        from .digit_eval import digits_main

        digits_main(argv[1:], log)
    else:
        distribution_main(metric_list(argv[0], DISTRIBUTION_METRICS, _USAGE), argv[1:], log)
