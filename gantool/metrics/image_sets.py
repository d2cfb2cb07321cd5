"""The image sets that distribution metrics compare: a folder, a glob, or a ``test.py`` results folder.

A results folder (``results/<name>/test_latest``, with ``images/<stem>_<label>.png`` and ``metrics.json``)
holds several pictures per input; one label is taken from it: the generated one (``fake_B`` for a
CycleGAN, ``fake`` for a GAN or ``--model test``) or, for the real side, the label the run compared
its outputs with (``real_B``, ``truth_B``...). ``--label`` names another.
"""
import glob
import json
import os
from typing import Iterator, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.image_io import is_image_file, load_image, make_dataset
from ..errors import GantoolError

#: labels tried, in order, for the generated side of a results folder
FAKE_LABELS = ("fake_B", "fake", "fake_B_rgb", "fake_A")
#: labels tried for the real side of a results folder
REAL_LABELS = ("real_B", "truth_B", "truth", "real_B_rgb", "real")


def _is_results_folder(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "images")) and os.path.isfile(os.path.join(path, "metrics.json"))


def labelled_files(images_dir: str, label: str) -> List[str]:
    """The files ``<stem>_<label>.<ext>`` of a results folder's ``images/``, sorted (not the tiled
    ``grid_<label>.png``)."""
    return sorted(os.path.join(images_dir, n) for n in os.listdir(images_dir)
                  if is_image_file(n) and os.path.splitext(n)[0].endswith("_" + label)
                  and not os.path.splitext(n)[0].startswith("grid_"))


def _recorded_labels(results: str, side: str) -> List[str]:
    """Labels that ``metrics.json`` names for ``side`` ("fake": outputs, "real": what they were compared with)."""
    try:
        with open(os.path.join(results, "metrics.json"), encoding="utf-8") as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return []
    pairs = recorded.get("distribution_pairs", []) + recorded.get("pairs", [])
    return [p[0 if side == "fake" else 1] for p in pairs if len(p) == 2]


def list_images(spec: str, side: str = "fake", label: Optional[str] = None) -> List[str]:
    """The image files of ``spec``, sorted.

    Args:
        spec: a folder (searched recursively), a glob pattern (``"out/*.png"``), or a ``test.py`` results folder.
        side: ``"fake"`` or ``"real"``: which label a results folder gives when ``label`` is None.
        label: the results folder's label to take (e.g. ``fake_A``).
    Raises:
        GantoolError: nothing matches, or a results folder has no picture of the label.
    """
    if any(c in spec for c in "*?[") and not os.path.exists(spec):
        files = sorted(p for p in glob.glob(spec, recursive=True) if is_image_file(p) and os.path.isfile(p))
        if not files:
            raise GantoolError(f"no image file matches {spec}")
        return files
    if not os.path.exists(spec):
        raise GantoolError(f"{spec} does not exist")
    if os.path.isfile(spec):
        raise GantoolError(f"{spec} is one file; give a folder or a glob of images")
    if _is_results_folder(spec):
        images_dir = os.path.join(spec, "images")
        candidates = [label] if label else list(dict.fromkeys(_recorded_labels(spec, side) +
                                                              list(FAKE_LABELS if side == "fake" else REAL_LABELS)))
        for candidate in candidates:
            files = labelled_files(images_dir, candidate)
            if files:
                return files
        raise GantoolError(f"{spec} is a results folder with no {' or '.join(candidates)} images; "
                           "name the pictures to take with --fake_label/--real_label")
    files = make_dataset(spec)
    if not files:
        raise GantoolError(f"{spec} holds no images ({', '.join(sorted({'.png', '.jpg', '.jpeg'}))} ...)")
    return files


def load_batches(paths: Sequence[str], batch_size: int) -> Iterator[Tensor]:
    """The images of ``paths`` as (N, 3, H, W) float batches in [0, 1] (gray files become RGB copies).

    Consecutive images of one size share a batch; a size change starts a new one, so sets of mixed sizes
    work (the extractor resizes each batch to its own input size).
    """
    batch: List[np.ndarray] = []
    for path in paths:
        array = np.asarray(load_image(path, 3), dtype=np.uint8)  # (H, W, 3)
        if batch and (array.shape != batch[0].shape or len(batch) == batch_size):
            yield _stack(batch)
            batch = []
        batch.append(array)
    if batch:
        yield _stack(batch)


def _stack(arrays: List[np.ndarray]) -> Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)  # (N, 3, H, W)


def image_sizes(paths: Sequence[str], limit: int = 64) -> List[tuple]:
    """The distinct (width, height) of the first ``limit`` files (read from headers only)."""
    from PIL import Image

    sizes = []
    for path in paths[:limit]:
        try:
            with Image.open(path) as img:
                size = img.size
        except OSError:
            continue  # load_batches names an unreadable file
        if size not in sizes:
            sizes.append(size)
    return sizes
