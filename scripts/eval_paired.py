"""Paired quality of test results: L1, PSNR and SSIM against the ground truth, next to the identity baseline.

    python scripts/eval_paired.py results/experiment_name/test_latest [more results folders]

Prints a table and writes it as CSV (``paired_metrics.csv`` in the first results folder, or --csv).
Which pictures are compared comes from the run's metrics.json (fake_B against truth_B for CycleGAN on
the built-in data, fake_B against real_B for pix2pix); --fake and --truth override it, and --truth
may also be a folder of true images named like the inputs (e.g. datasets/toy_day2night/testA_truth).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from gantool.errors import GantoolError  # noqa: E402
from gantool.metrics.paired_eval import evaluate, format_table, write_csv  # noqa: E402


def main(argv=None) -> int:
    """Evaluate every results folder given; returns the exit status (2 for a user mistake)."""
    parser = argparse.ArgumentParser(description="L1, PSNR and SSIM of test results against their ground truth")
    parser.add_argument("results", nargs="+", help="results folders written by test.py")
    parser.add_argument("--fake", help="label of the outputs, e.g. fake_B (default: from metrics.json)")
    parser.add_argument("--truth", help="label of the ground truth in the results, or a folder of true images")
    parser.add_argument("--input", dest="input_label", help="label of the inputs for the identity baseline "
                        "(default: real_A or real)")
    parser.add_argument("--csv", help="where to write the table (default: <first results>/paired_metrics.csv)")
    opt = parser.parse_args(argv)
    try:
        rows = [row for folder in opt.results for row in evaluate(folder, opt.fake, opt.truth, opt.input_label)]
        path = opt.csv or os.path.join(opt.results[0], "paired_metrics.csv")
        write_csv(rows, path)
    except GantoolError as err:
        print(f"eval_paired: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"eval_paired: error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
