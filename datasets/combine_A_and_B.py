"""Make an aligned (pix2pix) dataset from two folders of pictures with the same file names.

    python datasets/combine_A_and_B.py --fold_A /path/A --fold_B /path/B --fold_AB /path/AB

A and B may hold the pictures directly or in split subfolders (train/, val/, test/), as in the
classic toolkit; every A picture needs a B picture of the same name and size (with --use_AB:
x_A.jpg pairs with x_B.jpg and becomes x.jpg). Mismatches are listed and nothing is written.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from gantool.data.tools.combine import combine_folders  # noqa: E402
from gantool.errors import GantoolError  # noqa: E402


def main(argv=None) -> int:
    """Parse the classic options and combine; returns the exit status (2 for a user mistake)."""
    parser = argparse.ArgumentParser(description="combine A/ and B/ pictures into A|B images")
    parser.add_argument("--fold_A", required=True, help="input folder for image A")
    parser.add_argument("--fold_B", required=True, help="input folder for image B")
    parser.add_argument("--fold_AB", required=True, help="output folder")
    parser.add_argument("--num_imgs", type=int, default=1000000, help="at most this many images per split")
    parser.add_argument("--use_AB", action="store_true", help="A files are x_A.ext, B files x_B.ext")
    parser.add_argument("--no_multiprocessing", action="store_true", help="(accepted for compatibility)")
    opt = parser.parse_args(argv)
    try:
        combine_folders(opt.fold_A, opt.fold_B, opt.fold_AB, opt.num_imgs, opt.use_AB)
    except GantoolError as err:
        print(f"combine_A_and_B: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
