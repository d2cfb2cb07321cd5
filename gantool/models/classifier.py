"""Image classification on the shared trainer: ``--model classifier --netC lenet | resnet18 | ...``.

Trains any ``--netC`` backbone with cross-entropy on a labelled ``--dataset_mode`` (digits, mnist,
fashion_mnist, cifar10, or image_folder with class subfolders). After every epoch the trainer scores
the test split (``eval_phase``); ``test.py`` writes the accuracy and a page of predictions.
"""
import argparse
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..backbones import CLASSIFIERS, build_classifier
from ..backbones.resnet import DILATABLE
from ..io.arch import ClassifierArch
from ..metrics.labels import IGNORE_INDEX
from ..viz.images import make_grid_image
from .backbone_options import add_backbone_options, backbone_options
from .base import MODELS, LabelRecipe, Update

# The size the array datasets come in: trained at it, nothing is resampled.
NATIVE_SIZE = {"digits": 28, "mnist": 28, "fashion_mnist": 28, "cifar10": 32}
DEFAULT_SIZE = 64  # other data (image folders) is resized to this square unless --load_size/--crop_size say otherwise
# Shapes drawn by hand: a flipped 2 or 7 is another glyph, so these are never flipped.
NO_FLIP = ("digits", "mnist", "fashion_mnist")


def class_folders(root: Optional[str], phase: str) -> int:
    """Number of class subfolders of an image_folder dataset (``root/phase`` when it exists), 0 if unknown."""
    if not root or not os.path.isdir(root):
        return 0
    folder = os.path.join(root, phase) if os.path.isdir(os.path.join(root, phase)) else root
    return sum(1 for d in os.listdir(folder) if not d.startswith(".") and os.path.isdir(os.path.join(folder, d)))


@MODELS.register("classifier", "--netC")
class Classifier(LabelRecipe):
    """A ``--netC`` classifier: (N, input_nc, H, W) images -> (N, num_classes) logits, cross-entropy.

    GoogLeNet's two auxiliary classifiers join the loss with weight 0.3 each (Szegedy et al. 2014).
    Batches hold 'A' (N, input_nc, H, W) in [-1, 1] and 'label' (N,) int64.

    Args:
        netC: a ``--netC`` name; input_nc: image channels; num_classes: classes;
        small_input: the small-input stem (see ``gantool.backbones``); lr, beta1, beta2: Adam.
        activation: a name of ``ACTIVATIONS`` for every activation of the network (None: its own).
        replace_stride_with_dilation: three flags, resnet18/34/50 only: dilate layer2-4 instead of
            striding (None: not given, the plain network).
    """

    test_verb = "classified"

    loss_names = ["CE"]
    visual_names = ["batch"]
    key = "C"
    score_names = {"accuracy": "accuracy"}

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        parser.add_argument("--netC", default="resnet18", help=f"classifier: {CLASSIFIERS.describe()}")
        parser.add_argument("--num_classes", type=int, default=None,
                            help="classes (default: 10, or the class subfolders of --dataset_mode image_folder)")
        parser.add_argument("--small_input", action="store_true",
                            help="small-input stem: 8x less downsampling, for 28-64 px images (slower, often better)")
        add_backbone_options(parser, "--netC", "relu; lenet sigmoid, lenet5_classic tanh")
        parser.set_defaults(dataset_mode="digits", batch_size=64)
        if is_train:
            # Adam at 1e-3 (not the GANs' 2e-4, beta1 0.5); counters are in images, so log every 50 batches.
            parser.set_defaults(lr=1e-3, beta1=0.9, n_epochs=5, n_epochs_decay=5, print_freq=3200,
                                display_freq=6400, update_html_freq=6400, save_epoch_freq=5)

    @staticmethod
    def demo_defaults(is_train: bool) -> dict:
        # 2 epochs of the first 5000 built-in digits (of 12000; the test split keeps its 1000): see
        # README for the measured time and accuracy.
        return {"n_epochs": 1, "n_epochs_decay": 1, "max_dataset_size": 5000} if is_train else {}

    @staticmethod
    def derived_defaults(opt: argparse.Namespace, is_train: bool) -> dict:
        CLASSIFIERS.get(opt.netC)  # a typo is reported now, before any data is read
        size = NATIVE_SIZE.get(opt.dataset_mode, DEFAULT_SIZE)
        defaults = {"load_size": size, "crop_size": size, "no_flip": opt.dataset_mode in NO_FLIP}
        if opt.num_classes is None:
            found = class_folders(opt.dataroot, "train") if opt.dataset_mode == "image_folder" else 0
            defaults["num_classes"] = found if found >= 2 else 10
        return defaults

    def __init__(self, device: torch.device, is_train: bool, netC: str = "resnet18", input_nc: int = 1,
                 num_classes: int = 10, small_input: bool = False, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, activation: Optional[str] = None,
                 replace_stride_with_dilation: Optional[Sequence[bool]] = None):
        super().__init__(device, is_train, num_classes, lr, beta1, beta2)

        options = backbone_options("--netC", netC, DILATABLE, activation, replace_stride_with_dilation)
        net = build_classifier(netC, input_nc, num_classes, small_input=small_input, **options)
        # Saved beside its checkpoints (gantool.io.arch): test.py rebuilds it with these options.
        net.gantool_arch = ClassifierArch(netC=netC, input_nc=input_nc, num_classes=num_classes,
                                          small_input=small_input, **options)
        self.add_network(net, net.gantool_arch.hint())
        self._last_batch: Optional[Tensor] = None

    def passes_to_compile(self) -> List[str]:
        return ["forward_loss"]

    def forward_loss(self, images: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Cross-entropy of (N, C, H, W) images against (N,) labels (GoogLeNet's auxiliary heads weigh 0.3):
        ``(loss, logits)``, logits (N, num_classes)."""
        out = self.networks["C"](images)
        outputs = list(out) if isinstance(out, tuple) else [out]  # GoogLeNet in training: logits, aux2, aux1
        weights = [1.0] + [0.3] * (len(outputs) - 1)
        loss = sum(w * F.cross_entropy(o.float(), labels, ignore_index=IGNORE_INDEX)
                   for w, o in zip(weights, outputs) if o is not None)
        return loss, outputs[0]

    def training_step(self, batch: Mapping[str, Tensor], update: Optional[Update] = None) -> Dict[str, Tensor]:
        update = update or self.plain_update
        images, labels = batch["A"], batch["label"]  # (N, C, H, W), (N,)
        self.check_labels(labels, "label")
        self.optimizers["C"].zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(images, labels)
        update("C", loss)
        self.train_scores.update(logits.detach().argmax(1), labels)
        self._last_batch = images.detach()
        return {"CE": loss.detach()}

    def visuals(self) -> Dict[str, object]:
        """The first 16 images of the last training batch as one grid, 8 a row, drawn only when asked."""
        return {} if self._last_batch is None else {"batch": make_grid_image(self._last_batch[:16], ncols=8)}

    def end_of_epoch(self, epoch: int) -> Optional[str]:
        scores = self.train_scores.scores()
        n = self.train_scores.count()
        self.train_scores.reset()
        return f"training accuracy {scores['accuracy']:.4f} on {n} images" if scores else None

    @torch.no_grad()
    def test_step(self, batch: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        images = batch["A"]
        predicted = self.networks["C"](images).argmax(1)  # (N,)
        visuals = {"image": images}
        if "label" in batch:  # -1: an unlabelled image, shown but not scored
            labels = batch["label"]
            self.check_labels(labels[labels >= 0], "label")
            self.test_scores.update(predicted, labels)
            visuals["label"] = labels
        visuals["predicted"] = predicted
        return visuals
