"""The built-in segmentation dataset ``toy_shapes``: circles, squares and triangles with their masks.

Each picture has a random two-colour gradient background with noise and one to four filled shapes
of random colour, size, position and rotation (later ones may cover earlier ones). Colours say
nothing about the class, so a network has to learn the shapes. The mask holds the class of every
pixel (0 background, 1 circle, 2 square, 3 triangle) as a palette PNG, so it also looks right in
an image viewer. Generated from code (no download), the same bytes every time::

    toy_shapes/train/images/s0000.png  train/masks/s0000.png   500 pairs
    toy_shapes/test/images/s0000.png   test/masks/s0000.png    100 pairs
    toy_shapes/classes.txt             the class names, one a line (the class index is the line number)
"""
import json
import math
import os
import random
import shutil
import time
import uuid
from typing import Callable, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..errors import GantoolError
from ..viz.palette import palette

NAME = "toy_shapes"
CLASSES = ("background", "circle", "square", "triangle")
_VERSION = 1  # bump when the pictures change, so old copies are regenerated
_MARKER = ".complete"


def _colour(rng: random.Random) -> Tuple[int, int, int]:
    return tuple(rng.randint(0, 255) for _ in range(3))


def draw_sample(rng: random.Random, size: int = 64) -> Tuple[Image.Image, Image.Image]:
    """One picture and its mask.

    Returns:
        ``(image, mask)``: an RGB ``size`` x ``size`` image and a mode-"P" mask of class indices.
    """
    top, bottom = np.array(_colour(rng), float), np.array(_colour(rng), float)
    t = np.linspace(0, 1, size)[:, None, None]
    background = top * (1 - t) + bottom * t + np.random.default_rng(rng.getrandbits(32)).normal(0, 12, (size, size, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    mask = Image.new("P", (size, size), 0)
    draw_image, draw_mask = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    for _ in range(rng.randint(1, 4)):
        cls = rng.randint(1, len(CLASSES) - 1)
        r = size * rng.uniform(0.1, 0.22)
        cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
        fill = _colour(rng)
        if CLASSES[cls] == "circle":
            box = (cx - r, cy - r, cx + r, cy + r)
            draw_image.ellipse(box, fill=fill)
            draw_mask.ellipse(box, fill=cls)
            continue
        corners = 4 if CLASSES[cls] == "square" else 3
        angle = rng.uniform(0, 2 * math.pi)
        points = [(cx + r * math.cos(angle + 2 * math.pi * k / corners),
                   cy + r * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]
        draw_image.polygon(points, fill=fill)
        draw_mask.polygon(points, fill=cls)

    mask.putpalette(palette(256).flatten().tolist())
    return image, mask


def generate(root: str, size: int = 64, n_train: int = 500, n_test: int = 100, seed: int = 0) -> None:
    """Write the dataset into ``root``: ``<split>/images/`` and ``<split>/masks/`` plus ``classes.txt``."""
    for split, count in (("train", n_train), ("test", n_test)):
        for folder in ("images", "masks"):
            os.makedirs(os.path.join(root, split, folder), exist_ok=True)
        for i in range(count):
            image, mask = draw_sample(random.Random(f"{NAME}:{seed}:{split}:{i}"), size)
            image.save(os.path.join(root, split, "images", f"s{i:04d}.png"))
            mask.save(os.path.join(root, split, "masks", f"s{i:04d}.png"))
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")


def ensure_toy_shapes(datasets_dir: str = "./datasets", log: Callable[[str], None] = print, size: int = 64,
                      n_train: int = 500, n_test: int = 100, seed: int = 0) -> str:
    """Return ``<datasets_dir>/toy_shapes``, generating it first if needed (in a hidden sibling folder
    renamed into place when complete, so an interrupted run never leaves half a dataset).

    Raises:
        GantoolError: the folder exists but was not made by gantool (no ``.complete`` marker).
    """
    root = os.path.normpath(os.path.join(datasets_dir, NAME))
    wanted = {"name": NAME, "size": size, "n_train": n_train, "n_test": n_test, "seed": seed, "version": _VERSION}
    marker = os.path.join(root, _MARKER)
    try:
        with open(marker) as f:
            found = json.load(f)
    except (OSError, ValueError):
        found = None
    if found == wanted:
        return root
    if os.path.exists(root) and found is None:
        raise GantoolError(f"{root} exists but is not a complete built-in dataset (no {_MARKER} file); "
                           "remove it to let gantool regenerate it")
    parent = os.path.dirname(root) or "."
    tmp = os.path.join(parent, f".{NAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    start = time.perf_counter()
    try:
        generate(tmp, size, n_train, n_test, seed)
        with open(os.path.join(tmp, _MARKER), "w") as f:
            json.dump(wanted, f)
        if found is not None:  # an older copy: out of the way first
            shutil.rmtree(root, ignore_errors=True)
        try:
            os.rename(tmp, root)
        except OSError:
            if not os.path.isfile(marker):  # not another process finishing first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"gantool: generated the built-in dataset {NAME} ({n_train} train, {n_test} test, {size}x{size}, "
        f"classes {', '.join(CLASSES)}) in {root} ({time.perf_counter() - start:.1f} s)")
    return root
