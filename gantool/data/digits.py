"""--dataset_mode digits: handwritten-looking digits drawn by gantool, the built-in data of gan and dcgan.

Each digit is a few pen strokes (lines and elliptic arcs) whose shape is jittered, then slanted,
rotated, scaled and shifted at random and drawn with a random pen width, anti-aliased, as a 28x28
gray image like MNIST (white on black). Image ``i`` depends only on (split, i), so the data is the
same in every run and ``--max_dataset_size`` just takes the first images. No file is written.
"""
import math
import time
from typing import Callable, List

import numpy as np
from PIL import Image, ImageDraw

from ..errors import GantoolError
from .arrays import ArrayImageDataset
from .base import DATASETS
from .transforms import Preprocess

SIZE = 28
N_TRAIN, N_TEST = 12000, 1000
_SPLIT_SEEDS = {"train": 0, "test": 1}  # any other --phase gets its own seed from its name
_MARGIN = 3.0  # pixels kept free at every edge (the widest pen reaches 1.6 past its line)
_SUPERSAMPLE = 4  # strokes are drawn at 4x and averaged down, for smooth edges

Stroke = np.ndarray  # (K, 2) points (x, y) in the unit box, y pointing down


def _arc(rng, cx, cy, rx, ry, a0, a1, jitter=0.04) -> Stroke:
    """An elliptic arc from angle ``a0`` to ``a1`` (degrees, 90 = bottom), centre and radii jittered."""
    cx, cy = cx + rng.normal(0, jitter), cy + rng.normal(0, jitter)
    rx, ry = rx * rng.uniform(0.85, 1.15), ry * rng.uniform(0.85, 1.15)
    a0, a1 = a0 + rng.normal(0, 10), a1 + rng.normal(0, 10)
    n = max(4, int(abs(a1 - a0) / 18))
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _line(rng, *points, jitter=0.04) -> Stroke:
    """A polyline through ``points`` (x, y), each moved a little."""
    return np.asarray(points, dtype=np.float64) + rng.normal(0, jitter, (len(points), 2))


def _strokes(digit: int, rng) -> List[Stroke]:
    """The pen strokes of ``digit`` in the unit box, their shape jittered by ``rng``."""
    if digit == 0:
        return [_arc(rng, 0.5, 0.5, 0.5, 0.5, -100, 265)]
    if digit == 1:
        strokes = [_line(rng, (0.5, 0.0), (0.5, 1.0))]
        if rng.random() < 0.5:  # the flag at the top, as some people write it
            strokes.append(_line(rng, (0.25, 0.22), (0.5, 0.0)))
        return strokes
    if digit == 2:
        return [np.concatenate([_arc(rng, 0.5, 0.3, 0.45, 0.3, 200, 390), _line(rng, (0.05, 1.0), (0.95, 1.0))])]
    if digit == 3:
        return [_arc(rng, 0.5, 0.27, 0.4, 0.27, 200, 450), _arc(rng, 0.5, 0.74, 0.45, 0.26, -90, 160)]
    if digit == 4:
        return [_line(rng, (0.7, 1.0), (0.7, 0.0), (0.0, 0.68), (1.0, 0.68))]
    if digit == 5:
        top = _line(rng, (0.9, 0.0), (0.2, 0.0), (0.13, 0.47))
        return [np.concatenate([top, _arc(rng, 0.48, 0.68, 0.45, 0.32, -140, 150)])]
    if digit == 6:
        return [_arc(rng, 0.9, 0.7, 0.82, 0.68, 265, 180), _arc(rng, 0.5, 0.7, 0.42, 0.3, 180, 540)]
    if digit == 7:
        strokes = [_line(rng, (0.0, 0.0), (1.0, 0.0), (0.35, 1.0))]
        if rng.random() < 0.2:  # the crossed seven
            strokes.append(_line(rng, (0.4, 0.5), (0.9, 0.5)))
        return strokes
    if digit == 8:
        return [_arc(rng, 0.5, 0.26, 0.36, 0.26, 0, 360, 0.02), _arc(rng, 0.5, 0.74, 0.45, 0.26, 0, 360, 0.02)]
    return [_arc(rng, 0.5, 0.3, 0.42, 0.3, 0, 360), _line(rng, (0.92, 0.3), (0.85, 0.65), (0.75, 1.0))]  # 9


def _pose(rng, strokes: List[Stroke], size: int) -> List[Stroke]:
    """Slant, rotate, scale and shift unit-box strokes into pixel coordinates of a ``size`` image."""
    width = rng.uniform(0.5, 0.8)  # digits are taller than wide
    slant = rng.uniform(-0.1, 0.45)  # mostly leaning right, as people write
    angle = math.radians(rng.uniform(-8, 8))
    height = size * rng.uniform(0.55, 0.78)  # MNIST digits fill a 20-pixel box in 28
    shift = rng.uniform(-0.08, 0.08, 2) * size
    c, s = math.cos(angle), math.sin(angle)
    shaped = []
    for pts in strokes:
        x, y = (pts[:, 0] - 0.5) * width, pts[:, 1] - 0.5
        x = x - slant * y  # y points down: the top moves right
        x, y = c * x - s * y, s * x + c * y
        shaped.append(np.stack([x, y], 1) * height)
    # Keep the whole digit (and the pen around it) inside the picture, like MNIST's empty border.
    points = np.concatenate(shaped)
    lo, hi = points.min(0), points.max(0)
    room = size - 2 * _MARGIN
    fit = min(1.0, room / max((hi - lo).max(), 1e-6))
    lo, hi = lo * fit, hi * fit
    centre = np.clip(size / 2 + shift, _MARGIN - lo, size - _MARGIN - hi)  # where (0, 0) of the shape goes
    return [pts * fit + centre for pts in shaped]


def _draw(strokes: List[Stroke], pen: float, size: int) -> np.ndarray:
    """Draw pixel-coordinate strokes with round ends at 4x resolution, then average 4x4 blocks (anti-aliasing)."""
    scale = _SUPERSAMPLE
    canvas = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1, int(round(pen * scale)))
    r = width / 2
    for pts in strokes:
        xy = [(float(x) * scale, float(y) * scale) for x, y in pts]
        draw.line(xy, fill=255, width=width)
        for x, y in xy:  # a round pen: discs at the joints and ends (faster than joint="curve")
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(canvas.reduce(scale))


def render_digits(start: int, count: int, seed: int = 0, size: int = SIZE):
    """Draw digits ``start .. start+count-1`` of the set selected by ``seed``.

    Returns:
        ``(images, labels)``: uint8 (count, size, size) white-on-black pictures and int64 (count,)
        digit classes (image ``i`` shows digit ``i % 10``).
    """
    images = np.zeros((count, size, size), np.uint8)
    for k in range(count):
        i = start + k
        rng = np.random.default_rng([seed, i])
        strokes = _pose(rng, _strokes(i % 10, rng), size)
        images[k] = _draw(strokes, rng.uniform(1.3, 3.2), size)
    labels = np.arange(start, start + count, dtype=np.int64) % 10
    return images, labels


@DATASETS.register("digits", "built-in digits")
class DigitsDataset(ArrayImageDataset):
    """The built-in digits: 12000 training and 1000 test images, 28x28 gray, drawn in memory.

    Args:
        root: must be the built-in marker (the mode takes no ``--dataroot``).
        See ``ArrayImageDataset`` for the rest; ``--max_dataset_size`` draws fewer images (faster).

    Items: ``{'A': (input_nc, crop_size, crop_size), 'label': digit, 'A_paths': 'digits_<phase>_<i>'}``.
    """

    mode = "digits"
    ROOT = "<built-in digits>"

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        """Nothing beyond ``add_options``: the recipe's ``demo_defaults`` set the demo schedule."""
        return {}

    @staticmethod
    def builtin_root(datasets_dir: str, log) -> str:
        """Nothing to fetch: the images are drawn when the dataset is built."""
        return DigitsDataset.ROOT

    @staticmethod
    def add_options(parser, is_train: bool) -> None:
        # Gray digits; in memory and cheap to prepare, so loader processes would only add start-up time.
        parser.set_defaults(input_nc=1, num_threads=0)

    def __init__(self, root: str = ROOT, phase: str = "train", input_nc: int = 1, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), seed: int = 0, log: Callable[[str], None] = print):
        super().__init__(phase, input_nc, preprocess, max_dataset_size, seed)
        if root != self.ROOT:
            raise GantoolError("--dataset_mode digits is drawn by gantool and takes no --dataroot; "
                               "for files use --dataset_mode mnist or image_folder")
        total = N_TRAIN if phase == "train" else N_TEST
        count = int(min(total, max_dataset_size))
        split_seed = _SPLIT_SEEDS.get(phase, sum(map(ord, phase)) + 2)
        start = time.perf_counter()
        self.set_data(*render_digits(0, count, split_seed))
        log(f"gantool: drew {count} built-in {phase} digits ({SIZE}x{SIZE}) in {time.perf_counter() - start:.1f} s")
