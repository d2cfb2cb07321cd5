"""Semantic segmentation on the shared trainer: ``--model segmenter --netS unet | fcn_resnet18 | ...``.

Trains any ``--netS`` segmenter with per-pixel cross-entropy, soft Dice or both (``--seg_loss``, see
``seg_loss.py``) on ``--dataset_mode segmentation`` (``images/`` + ``masks/``; with no ``--dataroot``
the built-in ``toy_shapes``). After every epoch the trainer scores the test split (pixel accuracy and
mean IoU); so does ``test.py``, with a page of pictures, true masks and predicted masks.
"""
import argparse
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..backbones import SEGMENTERS, build_segmenter
from ..backbones.fcn import DILATABLE
from ..data.segmentation import read_class_names
from ..data.toy_shapes import CLASSES
from ..errors import GantoolError
from ..io.arch import SegmenterArch
from ..viz.palette import colorize
from .backbone_options import add_backbone_options, backbone_options
from .base import MODELS, LabelRecipe, Update
from .seg_loss import LOSS_PARTS, SEG_LOSSES, segmentation_losses


def _class_count(opt: argparse.Namespace) -> Optional[int]:
    """Classes named by the data's ``classes.txt`` (the built-in toy_shapes has four), else None."""
    if opt.dataset_mode != "segmentation":
        return None
    if opt.dataroot is None:
        return len(CLASSES)

    return len(read_class_names(opt.dataroot)) or None


@MODELS.register("segmenter", "--netS")
class Segmenter(LabelRecipe):
    """A ``--netS`` segmenter: (N, input_nc, H, W) -> (N, num_classes, H, W) logits, trained with per-pixel
    cross-entropy, soft Dice or their sum (mask value 255 is ignored by both). Batches hold 'A'
    (N, input_nc, H, W) in [-1, 1] and 'mask' (N, H, W) int64.

    Args:
        netS: a ``--netS`` name; input_nc: image channels; num_classes: classes (background included);
        small_input: the fcn_* small-input trunk (stride 8 instead of 32);
        base_channels, unet_depth: width and depth of ``unet``; lr, beta1, beta2: Adam.
        activation: a name of ``gantool.ops.activations.ACTIVATIONS`` for every activation of the
            network (None: its own, relu); replace_stride_with_dilation: three flags, fcn_resnet* only:
            dilate the trunk's layer2-4 instead of striding (None: not given, the plain network).
        seg_loss: ``ce``, ``dice`` or ``ce+dice`` (CE + Dice, equal weights); dice_smooth: the Dice
            smoothing constant (positive); see ``seg_loss.py`` for the formula.
    """

    test_verb = "segmented"

    loss_names = ["CE"]  # the default --seg_loss ce; an instance sets its own (LOSS_PARTS)
    visual_names = ["image", "mask", "predicted"]
    key = "S"
    score_names = {"accuracy": "pixel_accuracy", "mIoU": "mIoU"}

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.add_argument("--netS", default="unet", help=f"segmenter: {SEGMENTERS.describe()}")
        parser.add_argument("--num_classes", type=int, default=None,
                            help="classes, background included (default: the lines of <dataroot>/classes.txt)")
        parser.add_argument("--small_input", action="store_true", help="fcn_*: trunk with 8x, not 32x, downsampling")
        parser.add_argument("--base_channels", type=int, default=64, help="unet: channels of the first level")
        parser.add_argument("--unet_depth", type=int, default=4, help="unet: number of 2x downsamplings")
        add_backbone_options(parser, "--netS", "relu")
        parser.set_defaults(dataset_mode="segmentation", batch_size=16, no_flip=False)
        if is_train:
            parser.add_argument("--seg_loss", default="ce", choices=SEG_LOSSES,
                                help="ce: per-pixel cross-entropy; dice: soft Dice over all classes; "
                                     "ce+dice: their sum")
            parser.add_argument("--dice_smooth", type=float, default=1.0,
                                help="Dice smoothing constant s in (2|P*T| + s) / (|P| + |T| + s), per class")
            parser.set_defaults(lr=1e-3, beta1=0.9, n_epochs=10, n_epochs_decay=10, print_freq=800,
                                display_freq=1600, update_html_freq=1600, save_epoch_freq=5)

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # The built-in toy_shapes (500 training pictures at 64x64): see README for the measured time and scores.
        demo = {"base_channels": 16, "unet_depth": 3}
        return {**demo, "n_epochs": 6, "n_epochs_decay": 6} if is_train else demo

    @staticmethod
    def derived_defaults(opt: argparse.Namespace, is_train: bool) -> dict:
        SEGMENTERS.get(opt.netS)  # a typo is reported now, before any data is read
        count = _class_count(opt) if opt.num_classes is None else None
        return {"num_classes": count} if count else {}

    def __init__(self, device: torch.device, is_train: bool, netS: str = "unet", input_nc: int = 3,
                 num_classes: Optional[int] = None, small_input: bool = False, base_channels: int = 64,
                 unet_depth: int = 4, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 activation: Optional[str] = None, replace_stride_with_dilation: Optional[Sequence[bool]] = None,
                 seg_loss: str = "ce", dice_smooth: float = 1.0):
        if num_classes is None:
            raise GantoolError("--num_classes is needed (the data has no classes.txt): the number of classes, "
                               "background included")
        if seg_loss not in LOSS_PARTS:
            raise GantoolError(f"--seg_loss {seg_loss} is not one of {', '.join(SEG_LOSSES)}")
        if not dice_smooth > 0:
            raise GantoolError(f"--dice_smooth must be positive (it keeps a class absent from a batch from "
                               f"dividing 0 by 0), got {dice_smooth}")
        super().__init__(device, is_train, num_classes, lr, beta1, beta2)
        self.seg_loss, self.dice_smooth = seg_loss, dice_smooth
        self.loss_names = list(LOSS_PARTS[seg_loss])  # what the trainer logs; the sum is what is trained

        unet = netS == "unet"
        options = {"base_channels": base_channels, "depth": unet_depth} if unet else {"small_input": small_input}
        if min(base_channels, unet_depth) < 1:
            raise GantoolError(f"--base_channels and --unet_depth must be positive, got {base_channels} and {unet_depth}")
        if small_input and not netS.startswith("fcn_"):
            raise GantoolError(f"--small_input applies to the fcn_* segmenters, not --netS {netS}")
        more = backbone_options("--netS", netS, DILATABLE, activation, replace_stride_with_dilation)
        net = build_segmenter(netS, input_nc, num_classes, **options, **more)
        # Saved beside its checkpoints (gantool.io.arch): test.py rebuilds it with these options.
        net.gantool_arch = SegmenterArch(netS=netS, input_nc=input_nc, num_classes=num_classes,
                                         small_input=small_input, base_channels=base_channels,
                                         unet_depth=unet_depth, **more)
        self.add_network(net, net.gantool_arch.hint())

    def passes_to_compile(self) -> List[str]:
        return ["forward_loss"]

    def forward_loss(self, images: Tensor, masks: Tensor) -> Tuple[Tensor, Dict[str, Tensor], Tensor]:
        """The ``--seg_loss`` of (N, C, H, W) images against (N, H, W) masks, in fp32: ``(loss, parts,
        logits)``, the trained loss (the sum of the parts), its parts by logged name (``CE``, ``Dice``)
        and the logits (N, num_classes, H, W)."""
        logits = self.networks["S"](images)
        parts = segmentation_losses(logits, masks, self.seg_loss, self.dice_smooth)
        return sum(parts.values()), parts, logits

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        images, masks = batch["A"], batch["mask"]  # (N, C, H, W), (N, H, W)
        self.check_labels(masks, "mask value")
        self.optimizers["S"].zero_grad(set_to_none=True)
        loss, parts, logits = self.forward_loss(images, masks)
        update("S", loss)
        predicted = logits.detach().argmax(1)
        self.train_scores.update(predicted, masks)
        self.last_visuals = {"image": images[:1].detach(), "mask": colorize(masks[:1], self.num_classes),
                             "predicted": colorize(predicted[:1], self.num_classes)}
        return {name: part.detach() for name, part in parts.items()}

    def end_of_epoch(self, epoch: int) -> Optional[str]:
        scores = self.train_scores.scores()
        self.train_scores.reset()
        return f"training pixel accuracy {scores['accuracy']:.4f}, mIoU {scores['mIoU']:.4f}" if scores else None

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        images = batch["A"]
        predicted = self.networks["S"](images).argmax(1)  # (N, H, W)
        visuals = {"image": images}
        if "mask" in batch:
            self.check_labels(batch["mask"], "mask value")
            self.test_scores.update(predicted, batch["mask"])
            visuals["mask"] = colorize(batch["mask"], self.num_classes)
        visuals["predicted"] = colorize(predicted, self.num_classes)
        return visuals
