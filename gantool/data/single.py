"""--dataset_mode single: one folder of inputs, for applying a generator (test model)."""
import os
from typing import Dict

from ..errors import GantoolError
from .base import DATASETS, FolderDataset, has_images_directly
from .image_io import make_dataset


@DATASETS.register("single", "one folder")
class SingleDataset(FolderDataset):
    """Input images only, from ``root`` itself (classic ``--dataroot datasets/x/testA``).

    Takes the ``FolderDataset`` arguments. When ``root`` holds no images directly but has a
    ``<phase>A/`` folder (``<phase>B/`` for ``direction="BtoA"``), that folder is used, so
    ``--dataroot datasets/x`` works too; otherwise images in subfolders of ``root`` are used.

    Items: ``{'A': (input_nc, H, W), 'A_paths': str}``, plus ``'truth'`` (output_nc, H, W) and
    ``'truth_paths'`` when a ``<folder>_truth`` sibling holds a same-named file for every input.
    """

    mode = "single"

    def __init__(self, root: str, **kwargs):
        super().__init__(root, **kwargs)
        side = self.phase + ("A" if self.direction == "AtoB" else "B")
        folder = self.root
        if not has_images_directly(self.root) and os.path.isdir(os.path.join(self.root, side)):
            folder = os.path.join(self.root, side)
        self.dir_in = folder
        self.paths = make_dataset(folder, self.max_dataset_size)
        if not self.paths:
            raise GantoolError(
                f"{self.root} has no images and no folder {side}; the single mode expects "
                f"images directly in --dataroot or in {side}/ (see README)"
            )
        self.paths = self.screen(self.paths, folder)
        self.truth_paths = self.truth_for(folder, self.paths)
        self.has_truth = self.truth_paths is not None

    def __len__(self) -> int:
        return len(self.paths)

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        path = self.paths[index]
        item = {"A": self.load(path, self.input_nc, self.rng(index, "A")), "A_paths": path}
        if self.has_truth:
            # Same seed as 'A': the same crop and flip, so truth lines up pixel for pixel.
            item["truth"] = self.load(self.truth_paths[index], self.output_nc, self.rng(index, "A"))
            item["truth_paths"] = self.truth_paths[index]
        return item
