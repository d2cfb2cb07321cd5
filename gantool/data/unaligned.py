"""--dataset_mode unaligned: two unpaired folders, <phase>A/ and <phase>B/ (CycleGAN)."""
import os
from typing import Dict

from .base import DATASETS, FolderDataset


@DATASETS.register("unaligned", "trainA/ trainB/")
class UnalignedDataset(FolderDataset):
    """Unpaired images from ``root/<phase>A`` and ``root/<phase>B``.

    Takes the ``FolderDataset`` arguments. With ``direction="BtoA"`` the inputs come from
    ``<phase>B``. Length is the larger folder's size; input ``i`` is file ``i % len(inputs)``;
    its partner is file ``i % len(outputs)`` with ``serial_batches``, otherwise a random one
    chosen afresh every epoch.

    Items: ``{'A': (input_nc, H, W), 'B': (output_nc, H, W), 'A_paths': str, 'B_paths': str}``,
    plus ``'truth'`` (output_nc, H, W) and ``'truth_paths'`` when ``<input folder>_truth/`` holds
    the true output of every input under the same file name (cropped and flipped like 'A').
    """

    mode = "unaligned"

    def __init__(self, root: str, **kwargs):
        super().__init__(root, **kwargs)
        sides = ("A", "B") if self.direction == "AtoB" else ("B", "A")
        self.dir_in, self.dir_out = (os.path.join(self.root, self.phase + s) for s in sides)
        layout = f"expects {self.phase}A/ and {self.phase}B/"
        hint = (f"; other layouts: {self.phase}/ of A|B pairs (--dataset_mode aligned), a folder of images "
                "(--dataset_mode single)")
        if os.path.isdir(os.path.join(self.root, self.phase)):
            hint = f"; it has {self.phase}/: try --dataset_mode aligned"
        self.in_paths = self.list_images(self.dir_in, layout, hint)
        self.out_paths = self.list_images(self.dir_out, layout, hint)
        self.truth_paths = self.truth_for(self.dir_in, self.in_paths)
        self.has_truth = self.truth_paths is not None

    def __len__(self) -> int:
        return max(len(self.in_paths), len(self.out_paths))

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        i_in = index % len(self.in_paths)
        if self.serial_batches:
            i_out = index % len(self.out_paths)
        else:
            i_out = self.rng(index, "pick").randrange(len(self.out_paths))
        a_path, b_path = self.in_paths[i_in], self.out_paths[i_out]
        item = {
            "A": self.load(a_path, self.input_nc, self.rng(index, "A")),
            "B": self.load(b_path, self.output_nc, self.rng(index, "B")),
            "A_paths": a_path,
            "B_paths": b_path,
        }
        if self.has_truth:
            truth_path = self.truth_paths[i_in]
            # Same seed as 'A': the same crop and flip, so truth lines up pixel for pixel.
            item["truth"] = self.load(truth_path, self.output_nc, self.rng(index, "A"))
            item["truth_paths"] = truth_path
        return item
