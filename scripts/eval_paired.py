"""Paired quality of test results: L1, PSNR and SSIM against the ground truth, next to the identity baseline.

    python scripts/eval_paired.py results/experiment_name/test_latest [more results folders]

The same as ``gantool eval paired`` (one code path: ``gantool.metrics.eval_command.paired_main``).
Prints a table and writes it as CSV (``paired_metrics.csv`` in the first results folder, or --csv).
Which pictures are compared comes from the run's metrics.json (fake_B against truth_B for CycleGAN on
the built-in data, fake_B against real_B for pix2pix); --fake and --truth override it, and --truth
may also be a folder of true images named like the inputs (e.g. datasets/toy_day2night/testA_truth).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from gantool.errors import GantoolError  # noqa: E402
from gantool.metrics.eval_command import paired_main  # noqa: E402


def main(argv=None) -> int:
    """Evaluate every results folder given; returns the exit status (2 for a user mistake)."""
    try:
        paired_main(sys.argv[1:] if argv is None else list(argv), lambda line: print(line, flush=True))
    except GantoolError as err:
        print(f"eval_paired: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
