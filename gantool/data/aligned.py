"""--dataset_mode aligned: one folder <phase>/ of A|B images side by side (pix2pix)."""
import os
from typing import Dict, List, Tuple

from ..errors import GantoolError
from .base import DATASETS, FolderDataset
from .depth import to_channels
from .tools.scan import ImageInfo


@DATASETS.register("aligned", "A|B side by side")
class AlignedDataset(FolderDataset):
    """Paired images stored as one picture, A on the left half and B on the right.

    Takes the ``FolderDataset`` arguments. Both halves get the same crop and flip;
    ``direction="BtoA"`` makes the right half the input. For an odd width the last column is
    dropped so that the halves have equal sizes. Files whose width is odd or not twice their
    height get one warning when the dataset is built (an error with ``strict_data``); files
    narrower than 2 pixels are an error.

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

    def usable_size(self, info: ImageInfo) -> Tuple[int, int]:
        return info.size[0] // 2, info.size[1]

    def check_images(self, infos: List[ImageInfo], folder: str) -> None:
        """Besides the crop check: A|B files should be twice as wide as high, with an even width."""
        narrow = [i for i in infos if i.size[0] < 2]
        if narrow:
            raise GantoolError(f"{narrow[0].path} is {narrow[0].size[0]} pixel wide: too narrow to hold A and B "
                               "side by side")
        odd = [i for i in infos if i.size[0] != 2 * i.size[1]]
        if odd:
            w, h = odd[0].size
            message = (f"{len(odd)} of the {len(infos)} images in {folder} are not twice as wide as high (first: "
                       f"{os.path.basename(odd[0].path)}, {w}x{h}); the aligned mode cuts each into a left (A) and "
                       "a right (B) half" + (", dropping the last column of an odd width" if any(
                           i.size[0] % 2 for i in odd) else ""))
            if self.strict_data:
                raise GantoolError(message + "; --strict_data stops here")
            self.warn(message)
        super().check_images(infos, folder)

    def __len__(self) -> int:
        return len(self.paths)

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        path = self.paths[index]
        both_gray = self.input_nc == 1 and self.output_nc == 1
        ab = self.read(path, 1 if both_gray else 3)
        w, h = ab.size
        half = w // 2
        if half == 0:
            raise GantoolError(f"{path} is {w} pixel wide: too narrow to hold A and B side by side")
        left, right = ab.crop((0, 0, half, h)), ab.crop((half, 0, 2 * half, h))
        a_img, b_img = (left, right) if self.direction == "AtoB" else (right, left)
        a_img, b_img = to_channels(a_img, self.input_nc), to_channels(b_img, self.output_nc)
        return {
            "A": self.transform(a_img, self.rng(index, "AB"), path),
            "B": self.transform(b_img, self.rng(index, "AB"), path),  # same seed: same crop/flip
            "A_paths": path,
            "B_paths": path,
        }
