"""Feature extractors that gantool trains on its own built-in data and ships in the package: ``digits``, ``toy_scenes``.

FID and KID need a network whose features describe the images. Inception-v3 is the standard one, but it
needs a 95 MB download and knows nothing of 28x28 digits. These two small CNNs work offline; gantool
trained them itself (``scripts/train_extractors.py``):

- ``digits``: classifies the built-in digits (gray, 28x28; trained on the built-in training digits);
  features = its 128-d penultimate layer. :func:`digit_scores` gives the README's GAN sample scores
  (confident share, classes seen).
- ``toy_scenes``: reads the day/night landscapes of the built-in dataset (RGB, 64x64; trained on fresh
  scenes, not those of the dataset) with several tasks at once
  (day or night, counts of houses, trees, flowers and clouds, sun position and size, sky tint),
  so its 128-d penultimate features describe both the domain and the content of a scene.

The weights are float16 state dicts in ``gantool/metrics/weights/<name>.pth``; their SHA-256 is recorded
below and checked on load, and its first 8 hex digits are part of the extractor's ``name``.
"""
import os
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..errors import GantoolError
from ..io.weights import load_weights, sha256_of
from .extractor_base import EXTRACTORS, FeatureExtractor, gray_to_rgb, rgb_to_gray

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
VERSION = 1  # bump when a network or its training changes, so old scores are not compared with new ones

#: SHA-256 of the shipped weight files, printed by scripts/train_extractors.py; other bytes are refused.
SHIPPED_SHA256 = {
    "digits": "008066e526f24b08f2776f04ba501ff36bbbb8b866c88dd28f42e66f16370e80",
    "toy_scenes": "19b18bc41159eca3241bcc616ae253bc95d3a3949c9e8850f049614ea4a53bbc",
}

DIGITS_SIZE, DIGITS_MEAN, DIGITS_STD = 28, 0.13, 0.31  # mean and std of the built-in training digits' pixels
SCENES_SIZE = 64

#: The toy_scenes network's outputs, in order: task -> number of outputs. Counts are classes
#: (0 .. max); ``sun`` is (x, y, radius) and ``sky`` the sky's colour shift (r, g, b), both standardised.
SCENE_TASKS = {"night": 1, "houses": 4, "trees": 6, "flowers": 7, "clouds": 4, "sun": 3, "sky": 3}


def _conv(c_in: int, c_out: int, stride: int = 1) -> list:
    """3x3 convolution, batch norm, ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def _batch(images: Tensor) -> Tensor:
    """(N, C, H, W) images as float32; other shapes raise."""
    if images.dim() != 4:
        raise ValueError(f"an extractor takes (N, C, H, W) images, got shape {tuple(images.shape)}")
    return images.float()


def _resize(images: Tensor, size: int) -> Tensor:
    """(N, C, H, W) -> (N, C, size, size), bilinear with antialiasing (so shrinking does not alias)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class DigitsExtractor(FeatureExtractor):
    """A small CNN that classifies gantool's built-in digits; features = its penultimate layer.

    Three 3x3 conv + BN + ReLU stages (32, 64, 128 channels; 28 -> 14 -> 7 pixels), global average
    pooling, a 128-unit layer (the features) and a 10-way classifier. Besides the digits (moved, warped,
    blurred, speckled and noisy), it was shown pictures that are no digit (noise, blanks, blobs; target:
    1/10 for each class) and blends of two digits (target: the blend), so that it is only confident about
    digits: 99.9 % of the built-in test digits, 0 % of noise and of GAN samples at initialisation.

    Shapes: ``preprocess`` (N, 1 or 3, H, W) in [0, 1] -> (N, 1, 28, 28) normalised;
    ``features`` -> (N, 128); ``logits`` -> (N, 10); ``forward`` (images) -> (N, 128).
    """

    name = f"gantool-digits-v{VERSION}"
    dim = 128

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(*_conv(1, 32), nn.MaxPool2d(2), *_conv(32, 64), nn.MaxPool2d(2), *_conv(64, 128),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(128, self.dim), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(self.dim, 10)

    def preprocess(self, images: Tensor) -> Tensor:
        x = _resize(rgb_to_gray(_batch(images)), DIGITS_SIZE)  # (N, 1, 28, 28)
        return (x - DIGITS_MEAN) / DIGITS_STD

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.trunk(x))  # (N, 1, 28, 28) -> (N, 128) -> (N, 128)

    def logits(self, images: Tensor) -> Tensor:
        """(N, C, H, W) images in [0, 1] -> (N, 10) class logits."""
        return self.classifier(self(images))


class ToyScenesExtractor(FeatureExtractor):
    """A small CNN that reads gantool's built-in day/night landscapes; features = its penultimate layer.

    A strided 3x3 conv (64 -> 32 pixels), three conv + BN + ReLU + max-pool stages (32, 64, 64
    channels; 32 -> 16 -> 8 -> 4), a 128-unit layer on the flattened 4x4 map (so positions count:
    where the sun is, where the houses stand) and one linear head with the outputs of ``SCENE_TASKS``.

    Shapes: ``preprocess`` (N, 1 or 3, H, W) in [0, 1] -> (N, 3, 64, 64) in [-1, 1];
    ``features`` -> (N, 128); ``outputs`` -> (N, sum of ``SCENE_TASKS``); ``forward`` -> (N, 128).
    """

    name = f"gantool-toy_scenes-v{VERSION}"
    dim = 128

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(*_conv(3, 24, stride=2), *_conv(24, 32), nn.MaxPool2d(2), *_conv(32, 64),
                                   nn.MaxPool2d(2), *_conv(64, 64), nn.MaxPool2d(2), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(64 * 4 * 4, self.dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(self.dim, sum(SCENE_TASKS.values()))

    def preprocess(self, images: Tensor) -> Tensor:
        return _resize(gray_to_rgb(_batch(images)), SCENES_SIZE) * 2 - 1  # (N, 3, 64, 64)

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.trunk(x))  # (N, 3, 64, 64) -> (N, 1024) -> (N, 128)

    def outputs(self, images: Tensor) -> Dict[str, Tensor]:
        """(N, C, H, W) images in [0, 1] -> ``{task: (N, k) raw outputs}`` for the tasks of ``SCENE_TASKS``."""
        return dict(zip(SCENE_TASKS, self.head(self(images)).split(list(SCENE_TASKS.values()), 1)))

    def night_probability(self, images: Tensor) -> Tensor:
        """(N, C, H, W) images in [0, 1] -> (N,) the probability that each shows a night scene."""
        return torch.sigmoid(self.outputs(images)["night"][:, 0])


def weights_file(kind: str, weights: Optional[str] = None) -> str:
    """The checked weights file of extractor ``kind`` (``"digits"`` or ``"toy_scenes"``).

    Args:
        weights: a file to use instead of the shipped ``WEIGHTS_DIR/<kind>.pth`` (made by
            ``scripts/train_extractors.py``); it is used as it is, with no checksum to match.

    Raises:
        GantoolError: the file is missing, or the shipped file's SHA-256 is not ``SHIPPED_SHA256[kind]``.
    """
    if weights is not None:
        if not os.path.isfile(weights):
            raise GantoolError(f"--weights {weights} does not exist")
        return weights
    path = os.path.join(WEIGHTS_DIR, f"{kind}.pth")
    if not os.path.isfile(path):
        raise GantoolError(f"the shipped {kind} extractor weights {path} are missing; reinstall gantool")
    sha, expected = sha256_of(path), SHIPPED_SHA256[kind]
    if sha != expected:
        raise GantoolError(f"the shipped {kind} extractor weights {path} are corrupt (SHA-256 {sha[:16]}... != "
                           f"expected {expected[:16]}...); reinstall gantool")
    return path


def _build(cls, kind: str, device: torch.device, weights: Optional[str]):
    """A ``cls`` network with its checked weights (float16 in the file, float32 in the network), on ``device``."""
    net, path = cls(), weights_file(kind, weights)
    load_weights(net, path, f"the {kind} extractor's weights")
    net.name = f"{cls.name}-{sha256_of(path)[:8]}"
    return net.eval().requires_grad_(False).to(device)


@EXTRACTORS.register("digits", "gantool's digit CNN, shipped")
def digits(device: torch.device = torch.device("cpu"), weights: Optional[str] = None, download: bool = False,
           log: Callable[[str], None] = print) -> DigitsExtractor:
    """The shipped ``digits`` extractor (128-d); ``weights``: another file from ``scripts/train_extractors.py``.
    ``download`` does nothing: the weights ship with gantool."""
    return _build(DigitsExtractor, "digits", device, weights)


@EXTRACTORS.register("toy_scenes", "gantool's day/night scene CNN, shipped")
def toy_scenes(device: torch.device = torch.device("cpu"), weights: Optional[str] = None, download: bool = False,
               log: Callable[[str], None] = print) -> ToyScenesExtractor:
    """The shipped ``toy_scenes`` extractor (128-d); ``weights``: another file from ``scripts/train_extractors.py``.
    ``download`` does nothing: the weights ship with gantool."""
    return _build(ToyScenesExtractor, "toy_scenes", device, weights)


@torch.no_grad()
def digit_scores(extractor: DigitsExtractor, images: Tensor, batch_size: int = 500) -> Dict[str, float]:
    """How digit-like a set of images is, by the ``digits`` classifier (the README's GAN sample scores).

    Args:
        extractor: the ``digits`` extractor.
        images: (N, 1 or 3, H, W) floats in [0, 1], N >= 1.

    Returns:
        ``confident``: the share of images whose predicted class has probability > 0.9;
        ``classes_seen``: the number of distinct predicted classes (the most probable class of every image,
        confident or not, so a collapsed generator shows 1 even when nothing is confident);
        ``largest_class``: the share of all images predicted as the most frequent class
        (0.1 for a perfectly balanced set, 1.0 for a collapsed one).
    """
    if not isinstance(extractor, DigitsExtractor):
        raise ValueError(f"digit_scores needs the digits extractor, got {type(extractor).__name__}")
    if images.dim() != 4 or len(images) == 0:
        raise ValueError(f"digit_scores takes (N, C, H, W) images with N >= 1, got shape {tuple(images.shape)}")
    device = next(extractor.parameters()).device
    probs = torch.cat([extractor.logits(b.to(device)).softmax(1).cpu() for b in images.split(batch_size)])
    top, predicted = probs.max(1)
    counts = torch.bincount(predicted, minlength=10)
    return {"confident": float((top > 0.9).float().mean()), "classes_seen": int((counts > 0).sum()),
            "largest_class": float(counts.max()) / len(predicted)}
