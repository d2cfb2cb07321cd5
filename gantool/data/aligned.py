"""--dataset_mode aligned: one folder <phase>/ of A|B images side by side (pix2pix)."""
import os
from typing import Dict

from ..errors import GantoolError
from .base import DATASETS, FolderDataset
from .image_io import load_image


@DATASETS.register("aligned")
class AlignedDataset(FolderDataset):
    """Paired images stored as one picture, A on the left half and B on the right.

    Takes the ``FolderDataset`` arguments. Both halves get the same crop and flip;
    ``direction="BtoA"`` makes the right half the input. For an odd width the last column is
    dropped so that the halves have equal sizes.

    Items: ``{'A': (input_nc, H, W), 'B': (output_nc, H, W), 'A_paths': str, 'B_paths': str}``
    where both paths are the A|B file.
    """

    mode = "aligned"

    def __init__(self, root: str, **kwargs):
        super().__init__(root, **kwargs)
        self.dir_ab = os.path.join(self.root, self.phase)
        hint = ""
        if os.path.isdir(os.path.join(self.root, self.phase + "A")):
            hint = f"; it has {self.phase}A/: try --dataset_mode unaligned"
        layout = f"expects {self.phase}/ holding A|B images side by side"
        self.paths = self.list_images(self.dir_ab, layout, hint)
        self.has_truth = False

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Dict:
        self.check_index(index)
        path = self.paths[index]
        both_gray = self.input_nc == 1 and self.output_nc == 1
        ab = load_image(path, 1 if both_gray else 3)
        w, h = ab.size
        half = w // 2
        if half == 0:
            raise GantoolError(f"{path} is {w} pixel wide: too narrow to hold A and B side by side")
        left, right = ab.crop((0, 0, half, h)), ab.crop((half, 0, 2 * half, h))
        a_img, b_img = (left, right) if self.direction == "AtoB" else (right, left)
        a_img = a_img.convert("L" if self.input_nc == 1 else "RGB")
        b_img = b_img.convert("L" if self.output_nc == 1 else "RGB")
        return {
            "A": self.transform(a_img, self.rng(index, "AB"), path),
            "B": self.transform(b_img, self.rng(index, "AB"), path),  # same seed: same crop/flip
            "A_paths": path,
            "B_paths": path,
        }
