"""Print a network's layer table: output shapes, parameters, MACs, receptive fields and totals.

    python scripts/summarize.py --netD basic                        # the 70x70 PatchGAN
    python scripts/summarize.py --netD n_layers --n_layers_D 2      # 34x34
    python scripts/summarize.py --netG resnet_9blocks
    python scripts/summarize.py --netC lenet --input_nc 1 --input_size 28
    python scripts/summarize.py --netC lenet5_classic --input_nc 1 --input_size 32   # the notes' table
    python scripts/summarize.py --netS unet --num_classes 21 --input_size 96

MACs (multiply-accumulates) and connections are per image; the Connections column (the classic
LeNet-5 notes' count: MACs plus one per biased output element) appears when it differs from MACs.
See ``gantool.metrics.layer_cost`` for what counts.

Generators and discriminators are built as training builds them (``gantool.networks.define_G`` /
``define_D``, default ``--norm instance`` as the classic command line); classifiers and segmenters
come from ``gantool.backbones``. Nothing is downloaded or written.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

# Let ``python scripts/summarize.py`` work from a checkout that is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch.nn as nn  # noqa: E402

from gantool.errors import GantoolError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (classic names where the classic project has them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--netG", help="a generator name (resnet_9blocks, unet_256, ...)")
    which.add_argument("--netD", help="a discriminator name (basic, n_layers, pixel; a backbone: resnet18, "
                                      "vgg16, ..., fcn, unet_seg)")
    which.add_argument("--netC", help="a classifier name (lenet, lenet5_classic, alexnet, vgg16, resnet18, ...)")
    which.add_argument("--netS", help="a segmenter name (fcn_resnet18, fcn_vgg16, unet, ...)")
    parser.add_argument("--input_size", type=int, default=None,
                        help="height and width of the input (default 256 for --netG/--netD, 224 otherwise)")
    parser.add_argument("--input_nc", type=int, default=3, help="input channels")
    parser.add_argument("--output_nc", type=int, default=3, help="output channels (--netG)")
    parser.add_argument("--ngf", type=int, default=64, help="generator filters in the first conv layer")
    parser.add_argument("--ndf", type=int, default=64, help="discriminator filters in the first conv layer")
    parser.add_argument("--n_layers_D", type=int, default=3, help="layers of --netD n_layers")
    parser.add_argument("--norm", default="instance", help="instance, batch or none (--netG/--netD)")
    parser.add_argument("--num_classes", type=int, default=10, help="classes (--netC/--netS)")
    parser.add_argument("--small_input", action="store_true", help="small-input stem (--netC, fcn_* --netS)")
    return parser


def build(args: argparse.Namespace) -> Tuple[nn.Module, Tuple[int, int, int], str]:
    """The network the options name, its input shape (C, H, W) and a title line."""
    if args.netG or args.netD:
        from gantool.networks import define_D, define_G

        size = args.input_size or 256
        if args.netG:
            net = define_G(args.input_nc, args.output_nc, args.ngf, args.netG, args.norm)
            title = f"--netG {args.netG} (--ngf {args.ngf} --norm {args.norm})"
        else:
            # image_size: a backbone --netD picks its stem from the image size, as in training.
            net = define_D(args.input_nc, args.ndf, args.netD, args.n_layers_D, args.norm, image_size=size)
            title = f"--netD {args.netD} (--ndf {args.ndf} --n_layers_D {args.n_layers_D} --norm {args.norm})"
    else:
        from gantool.backbones import build_classifier, build_segmenter

        size = args.input_size or 224
        options = {"small_input": True} if args.small_input else {}
        if args.netC:
            net = build_classifier(args.netC, args.input_nc, args.num_classes, **options)
            title = f"--netC {args.netC} (--num_classes {args.num_classes})"
        else:
            if args.small_input and not args.netS.startswith("fcn_"):
                raise GantoolError(f"--small_input applies to the fcn_* segmenters, not --netS {args.netS}")
            net = build_segmenter(args.netS, args.input_nc, args.num_classes, **options)
            title = f"--netS {args.netS} (--num_classes {args.num_classes})"
    # Generators need sizes they can reproduce; discriminators, classifiers and segmenters take any.
    multiple = getattr(net, "size_multiple", 1) if args.netG else 1
    if size % multiple:
        raise GantoolError(f"--input_size {size} is not a multiple of {multiple}, which this network needs; "
                           f"try --input_size {size + multiple - size % multiple}")
    return net, (args.input_nc, size, size), title


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table for the options in ``argv``; returns the exit status (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        from gantool.metrics.summary import summarize

        net, shape, title = build(args)
        result = summarize(net, shape)
    except GantoolError as err:
        print(f"summarize: error: {err}", file=sys.stderr)
        return 2
    result.title = title
    print(result.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
