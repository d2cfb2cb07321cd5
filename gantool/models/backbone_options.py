"""``--activation`` and ``--replace_stride_with_dilation``: the backbone choices that the classifier and the
segmenter recipes both offer, parsed and checked in one place."""
import argparse
from typing import Optional, Sequence, Tuple

from ..errors import GantoolError
from ..ops.activations import ACTIVATIONS

_FLAGS = {"0": False, "false": False, "1": True, "true": True}


def dilation_flags(text: str) -> Tuple[bool, bool, bool]:
    """Parse ``--replace_stride_with_dilation``: three comma-separated flags for ResNet's layer2, layer3
    and layer4, each 0/1 or false/true in any case (``0,1,1`` is ``False,True,True``: an 8x trunk)."""
    flags = [_FLAGS.get(part.strip().lower()) for part in str(text).split(",")]
    if len(flags) != 3 or None in flags:
        raise argparse.ArgumentTypeError(f"expected three flags for layer2,layer3,layer4 such as 0,1,1 or "
                                         f"False,True,True, got {text!r}")
    return flags[0], flags[1], flags[2]


def add_backbone_options(parser: argparse.ArgumentParser, net_option: str, own_default: str) -> None:
    """``--activation`` and ``--replace_stride_with_dilation``, shared by the classifier and the segmenter
    (``net_option``: ``--netC`` or ``--netS``; ``own_default``: the networks' own activations, for the help).
    Both default to None: the network as it is without them."""
    parser.add_argument("--activation", default=None, choices=ACTIVATIONS,
                        help=f"every activation of the {net_option} network; unset: the network's own ({own_default})")
    parser.add_argument("--replace_stride_with_dilation", type=dilation_flags, default=None, metavar="L2,L3,L4",
                        help="resnet18/34/50 and fcn_resnet*: dilate layer2,layer3,layer4 instead of striding, "
                             "e.g. 0,1,1 (8x trunk) or False,True,True; unset: 0,0,0")


def backbone_options(net_option: str, net: str, dilatable: Sequence[str], activation: Optional[str],
                     replace_stride_with_dilation: Optional[Sequence[bool]]) -> dict:
    """The network keyword arguments for ``--activation`` / ``--replace_stride_with_dilation`` (None: not
    given; the network's side file, ``io.arch.BackboneArch``, records them for test.py).

    Args:
        net_option, net: ``--netC`` or ``--netS`` and its value; dilatable: the names that take dilation.

    Raises:
        GantoolError: for dilation on a network without it, or not three flags.
    """
    options = {}
    if activation is not None:
        options["activation"] = activation
    if replace_stride_with_dilation is not None:
        flags = tuple(bool(f) for f in replace_stride_with_dilation)
        if net not in dilatable:
            raise GantoolError(f"--replace_stride_with_dilation applies to resnet18/34/50 and fcn_resnet18/34/50; "
                               f"{net_option} {net} has none")
        if len(flags) != 3:
            raise GantoolError(f"--replace_stride_with_dilation needs three flags (layer2,layer3,layer4), "
                               f"got {len(flags)}")
        options["replace_stride_with_dilation"] = flags
    return options
