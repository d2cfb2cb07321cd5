"""The standard FID feature extractor: Inception-v3 with the TensorFlow FID weights (``--extractor inception``).

FID is defined on the pool features of the Inception-v3 graph of 2015-12-05 that TensorFlow's FID code
(bioinf-jku/TTUR) loads. Its weights, ported to PyTorch by pytorch-fid, are published as
``pt_inception-2015-12-05-6726825d.pth``; the state dict has the keys and shapes of torchvision's
``inception_v3(num_classes=1008, aux_logits=False)``. The TF graph differs from torchvision's network in
three places, all in the pool branch of the Inception blocks, and this module reproduces them:

- the 3x3 average pools of the A, C and first E blocks (Mixed_5b-5d, Mixed_6b-6e, Mixed_7b) average over
  the pixels inside the image only (TF's SAME padding; ``count_include_pad=False``);
- the last E block (Mixed_7c) takes a 3x3 max pool (stride 1, padding 1) there, not an average;
- the classifier has 1008 classes (unused here: the features are taken before it).

The weights are downloaded only when asked (``gantool eval --download``) into ``gantool.io.weights``'s
cache, and checked against their SHA-256 every time they are loaded.
"""
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.inception import (BasicConv2d, Inception3, InceptionA, InceptionAux, InceptionB,
                                          InceptionC, InceptionD, InceptionE)

from ..io.weights import find_weights, load_weights
from .extractor_base import EXTRACTORS, FeatureExtractor, gray_to_rgb

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FID_WEIGHTS_FILE
#: The file's full SHA-256 (95,628,359 bytes); the name's ``6726825d`` is its first 8 digits (torch.hub's
#: naming). Not published by pytorch-fid itself: taken from code that pins this URL to it (genforce's
#: ``models/inception_model.py``, e.g. in snap-research/discoscene), which several users' records of the
#: file (with its size) and of torch-fidelity's identical copy agree with.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INPUT_SIZE = 299


def _tf_avg_pool() -> nn.Module:
    # TF divides by the number of pixels inside the image; torchvision's pools count the zero padding too.
    return nn.AvgPool2d(kernel_size=3, stride=1, padding=1, count_include_pad=False)


class TFInceptionA(InceptionA):
    """torchvision's InceptionA (same parameters and keys) with TF's average pool in ``branch_pool``.

    (N, C, H, W) -> (N, 224 + pool_features, H, W).
    """

    def __init__(self, in_channels: int, pool_features: int, conv_block: Optional[Callable] = None):
        super().__init__(in_channels, pool_features, conv_block)
        self.pool = _tf_avg_pool()

    def _forward(self, x: Tensor) -> list:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(self.pool(x))]


class TFInceptionC(InceptionC):
    """torchvision's InceptionC with TF's average pool in ``branch_pool``. (N, 768, H, W) -> (N, 768, H, W)."""

    def __init__(self, in_channels: int, channels_7x7: int, conv_block: Optional[Callable] = None):
        super().__init__(in_channels, channels_7x7, conv_block)
        self.pool = _tf_avg_pool()

    def _forward(self, x: Tensor) -> list:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = layer(branch7x7dbl)
        return [self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(self.pool(x))]


class TFInceptionE(InceptionE):
    """torchvision's InceptionE with TF's pool in ``branch_pool``. (N, C, H, W) -> (N, 2048, H, W).

    Args:
        max_pool: a 3x3 max pool (stride 1, padding 1), as in the TF graph's last block (Mixed_7c), instead
            of the padding-excluding average pool of the first (Mixed_7b).
    """

    def __init__(self, in_channels: int, conv_block: Optional[Callable] = None, max_pool: bool = False):
        super().__init__(in_channels, conv_block)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1) if max_pool else _tf_avg_pool()

    def _forward(self, x: Tensor) -> list:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        return [self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(self.pool(x))]


class FIDInceptionV3(FeatureExtractor, Inception3):
    """The FID Inception-v3: torchvision's ``Inception3`` (1008 classes, no auxiliary head) with TF's pools.

    Its ``state_dict()`` keys and shapes are exactly those of
    ``torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)``,
    which is what ``pt_inception-2015-12-05-6726825d.pth`` holds. Built with random weights; the
    ``inception`` registry entry loads the real ones.

    ``forward(images)``: (N, 1 or 3, H, W) in [0, 1] -> (N, 2048) float32, the global average pool of
    Mixed_7c (before dropout and the classifier), the features FID is computed on.
    """

    name = "inception-v3-pt_inception-2015-12-05"
    dim = 2048

    def __init__(self):
        blocks = [BasicConv2d, TFInceptionA, InceptionB, TFInceptionC, InceptionD, TFInceptionE, InceptionAux]
        super().__init__(num_classes=1008, aux_logits=False, init_weights=False, inception_blocks=blocks)
        self.Mixed_7c = TFInceptionE(2048, max_pool=True)

    def preprocess(self, images: Tensor) -> Tensor:
        """(N, 1 or 3, H, W) in [0, 1] -> (N, 3, 299, 299) in [-1, 1].

        Gray is repeated to RGB; the resize is bilinear with ``align_corners=False`` and no antialiasing.
        That is pytorch-fid's convention, which most published PyTorch FID figures use; TF's original code
        resized differently, and clean-fid's antialiased resize gives other numbers, so scores are only
        comparable with figures computed the same way.
        """
        if images.dim() != 4:
            raise ValueError(f"the extractor takes (N, C, H, W) images, got shape {tuple(images.shape)}")
        x = gray_to_rgb(images).to(self.fc.weight.dtype)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=False)
        return x * 2 - 1  # (N, 3, 299, 299)

    def features(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1], H and W at least 75 (299 for the figures FID means) -> (N, 2048)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = self.maxpool1(x)  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = self.maxpool2(x)  # (N, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)  # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (N, 768, 17, 17)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # (N, 2048, 8, 8)
        return torch.flatten(self.avgpool(x), 1)  # (N, 2048)


@EXTRACTORS.register("inception", "the standard FID Inception-v3, TF weights; --download once")
def inception(device: torch.device, weights: Optional[str] = None, download: bool = False,
              log: Callable[[str], None] = print) -> FIDInceptionV3:
    """The FID Inception-v3 with the checked weights from ``weights``, the cache, or a download if asked.

    ``device`` is unused: the weights load on the CPU and ``load_extractor`` moves the network.
    """
    path = find_weights(FID_WEIGHTS_FILE, FID_WEIGHTS_URL, FID_WEIGHTS_SHA256, weights=weights, download=download,
                        log=log, what="the FID Inception weights",
                        how="run `gantool eval --download` once with internet")
    net = FIDInceptionV3()
    load_weights(net, path, what="the FID Inception-v3 weights (pt_inception-2015-12-05)")
    return net
