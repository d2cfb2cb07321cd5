"""--dataset_mode colorization: colour images split into L (input) and ab (target) in Lab space."""
import argparse
import os
from typing import Dict

from ..color import lab_to_model, rgb_to_lab
from ..errors import GantoolError
from .base import DATASETS, FolderDataset, has_images_directly
from .builtin import BUILTIN_NAME
from .image_io import make_dataset


@DATASETS.register("colorization", "RGB images as L -> ab")
class ColorizationDataset(FolderDataset):
    """Any folder of colour images, for learning to colour their grayscale version.

    Images come from ``<root>/<phase>/`` (the classic layout, e.g. ``datasets/colorization/train``)
    or, when there is no such folder, from ``root`` itself; for the built-in toy_day2night dataset
    they are its day pictures ``<phase>A/``. Takes the ``FolderDataset`` arguments, with
    ``input_nc=1`` and ``output_nc=2`` (the only values that mean L and ab).

    Items: ``{'A': (1, H, W) L/50 - 1, 'B': (2, H, W) ab/110, 'A_paths': str, 'B_paths': str}``,
    both in [-1, 1] (ab in about [-1, 1]).
    """

    mode = "colorization"

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, is_train: bool) -> None:
        """L in, ab out: the channel counts follow from the mode."""
        parser.set_defaults(input_nc=1, output_nc=2, direction="AtoB")

    def __init__(self, root: str, input_nc: int = 1, output_nc: int = 2, **kwargs):
        if (input_nc, output_nc) != (1, 2):
            raise GantoolError(f"--dataset_mode colorization maps L (1 channel) to ab (2 channels); "
                               f"got --input_nc {input_nc} --output_nc {output_nc}: drop them")
        super().__init__(root, **kwargs)  # the base checks images of 1 or 3 channels: ours are RGB
        self.input_nc, self.output_nc = input_nc, output_nc
        folder = os.path.join(self.root, self.phase)
        if os.path.basename(self.root) == BUILTIN_NAME and os.path.isdir(folder + "A"):
            folder += "A"  # the built-in <phase>/ holds day|night pairs; <phase>A/ the plain day pictures
        elif not os.path.isdir(folder):
            if not has_images_directly(self.root):
                raise GantoolError(f"{self.root} has no folder {self.phase}/ and no images; the colorization "
                                   f"mode takes a folder of colour images (or one with {self.phase}/ inside)")
            folder = self.root
        self.dir = folder
        self.paths = make_dataset(folder, self.max_dataset_size)
        if not self.paths:
            raise GantoolError(f"{folder} has no images")
        self.paths = self.screen(self.paths, folder)
        self.has_truth = False

    def __len__(self) -> int:
        return len(self.paths)

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        path = self.paths[index]
        rgb = self.load(path, 3, self.rng(index, "A"))  # (3, H, W) in [-1, 1]
        L, ab = lab_to_model(rgb_to_lab((rgb + 1) / 2))  # (1, H, W), (2, H, W)
        return {"A": L, "B": ab, "A_paths": path, "B_paths": path}
