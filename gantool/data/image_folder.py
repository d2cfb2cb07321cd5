"""--dataset_mode image_folder: any folder of pictures, flat or in class subfolders, for gan and dcgan."""
import os
from typing import Dict

import torch

from ..errors import GantoolError
from .base import DATASETS, FolderDataset
from .image_io import IMG_EXTENSIONS, make_dataset


@DATASETS.register("image_folder", "class subfolders")
class ImageFolderDataset(FolderDataset):
    """Every image under ``root`` (or under ``root/<phase>`` when that folder exists), searched recursively.

    With class subfolders (torchvision ``ImageFolder`` layout: ``root/cat/x.png``) each item's
    'label' is the index of its subfolder in sorted order; images directly in the folder get -1.
    Images are read with ``input_nc`` channels and preprocessed by ``--preprocess`` (gan and dcgan
    set ``--load_size`` and ``--crop_size`` to ``--img_size``: each picture is resized to a square).

    Args:
        root: ``--dataroot``.
        Others: see ``FolderDataset`` (``direction`` and ``output_nc`` are not used).

    Items: ``{'A': (input_nc, crop_size, crop_size) in [-1, 1], 'label': int64, 'A_paths': str}``.
    """

    mode = "image_folder"

    @staticmethod
    def builtin_root(datasets_dir: str, log) -> str:
        raise GantoolError("--dataset_mode image_folder needs --dataroot: a folder of images (class subfolders allowed)")

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        return {}

    def __init__(self, root: str, **kwargs):
        super().__init__(root, **kwargs)
        split = os.path.join(self.root, self.phase)
        self.dir_in = split if os.path.isdir(split) else self.root
        self.paths = make_dataset(self.dir_in, self.max_dataset_size)
        if not self.paths:
            raise GantoolError(f"{self.dir_in} has no images (looked for {' '.join(IMG_EXTENSIONS)}, in subfolders too)")
        self.paths = self.screen(self.paths, self.dir_in)
        classes = sorted({os.path.relpath(p, self.dir_in).split(os.sep)[0] for p in self.paths
                          if os.path.dirname(p) != self.dir_in})
        self.class_to_idx = {c: i for i, c in enumerate(classes)}

    def __len__(self) -> int:
        return len(self.paths)

    def get_item(self, index: int) -> Dict:
        self.check_index(index)
        path = self.paths[index]
        top = os.path.relpath(path, self.dir_in).split(os.sep)[0]
        label = self.class_to_idx.get(top, -1) if os.path.dirname(path) != self.dir_in else -1
        return {"A": self.load(path, self.input_nc, self.rng(index, "A")), "label": torch.tensor(label),
                "A_paths": path}
