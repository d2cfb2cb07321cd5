"""What the folder datasets share: constructor arguments, per-item randomness, folder checks."""
import hashlib
import os
import random
from typing import List, Optional

import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import GantoolError
from ..registry import Registry
from .image_io import IMG_EXTENSIONS, is_image_file, load_image, make_dataset
from .transforms import Preprocess, transform_image

DATASETS = Registry("--dataset_mode")

DIRECTIONS = ("AtoB", "BtoA")


def item_seed(seed: int, epoch: int, index: int, stream: str) -> int:
    """A 64-bit seed that depends only on its arguments.

    Hashing (rather than drawing from a shared generator) makes an item's crop and flip the
    same whichever DataLoader worker loads it, in whatever order, and again after a resume.
    """
    digest = hashlib.sha256(f"{seed}:{epoch}:{index}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def has_images_directly(folder: str) -> bool:
    """True when ``folder`` itself (not a subfolder) holds an image file."""
    return os.path.isdir(folder) and any(
        is_image_file(f) and not f.startswith(".") and os.path.isfile(os.path.join(folder, f))
        for f in os.listdir(folder)
    )


class FolderDataset(Dataset):
    """Base of the image-folder datasets; subclasses find files and build item dicts.

    Args:
        root: the dataset folder (``--dataroot``).
        phase: ``train``, ``test``, ... selects the subfolders (``--phase``).
        direction: ``AtoB`` or ``BtoA``; items always hold the input as 'A' and the output as 'B'.
        input_nc: channels of 'A' (1 or 3).
        output_nc: channels of 'B' and 'truth' (1 or 3).
        preprocess: resizing / cropping / flipping settings.
        max_dataset_size: at most this many files per folder.
        serial_batches: pair files by index instead of at random (unaligned mode).
        seed: base of every item's random crop, flip and pairing.

    Call ``set_epoch(epoch)`` before each epoch (before creating the loader iterator, so that
    worker processes get the new value) to get fresh crops every epoch.
    """

    mode = ""  # the --dataset_mode name, for messages

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        """Option defaults when ``--dataroot`` is omitted (the toy_day2night demo)."""
        from .builtin import builtin_option_defaults

        return builtin_option_defaults(is_train)

    @staticmethod
    def builtin_root(datasets_dir: str, log) -> str:
        """The folder used when ``--dataroot`` is omitted: the built-in dataset, generated on first use."""
        from .builtin import ensure_builtin

        return ensure_builtin(datasets_dir, log=log)

    def __init__(self, root: str, phase: str = "train", direction: str = "AtoB",
                 input_nc: int = 3, output_nc: int = 3, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), serial_batches: bool = False,
                 seed: int = 0):
        if direction not in DIRECTIONS:
            raise GantoolError(
                f"unknown --direction '{direction}'; choose from: {', '.join(DIRECTIONS)}")
        for flag, value in (("input_nc", input_nc), ("output_nc", output_nc)):
            if value not in (1, 3):
                raise GantoolError(
                    f"--{flag} {value}: the {self.mode} mode reads images with 1 or 3 channels")
        self.root = os.path.normpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise GantoolError(f"--dataroot {self.root} does not exist (or is not a folder)")
        self.phase = phase
        self.direction = direction
        self.input_nc = input_nc
        self.output_nc = output_nc
        self.preprocess = preprocess
        self.max_dataset_size = max_dataset_size
        self.serial_batches = serial_batches
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops, flips and pairings ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def rng(self, index: int, stream: str) -> random.Random:
        """Generator for item ``index`` of the current epoch; ``stream`` names the use (A, pick)."""
        return random.Random(item_seed(self.seed, self.epoch, index, stream))

    def transform(self, img: Image.Image, rng: random.Random, path: str) -> torch.Tensor:
        """Preprocess ``img`` (read from ``path``, named in errors) into a (C, H, W) tensor."""
        try:
            return transform_image(img, self.preprocess, rng)
        except GantoolError as error:
            raise GantoolError(f"{path}: {error}") from None

    def load(self, path: str, channels: int, rng: random.Random) -> torch.Tensor:
        """Read and preprocess one image file into a (channels, H, W) tensor in [-1, 1]."""
        return self.transform(load_image(path, channels), rng, path)

    def check_index(self, index: int) -> None:
        """Raise IndexError past the end, so plain iteration over the dataset stops."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")

    def list_images(self, folder: str, layout: str, hint: str = "") -> List[str]:
        """The images of ``folder``, or a GantoolError saying what is missing or empty.

        Args:
            folder: path to list.
            layout: sentence describing the expected layout, e.g. "expects trainA/ and trainB/".
            hint: optional extra advice appended to the missing-folder message.
        """
        if not os.path.isdir(folder):
            name = os.path.relpath(folder, self.root)
            raise GantoolError(
                f"{self.root} has no folder {name}; the {self.mode} mode {layout} "
                f"(see README){hint}"
            )
        paths = make_dataset(folder, self.max_dataset_size)
        if not paths:
            raise GantoolError(f"{folder} has no images (looked for {' '.join(IMG_EXTENSIONS)})")
        return paths

    def truth_for(self, folder: str, paths: List[str]) -> Optional[List[str]]:
        """Ground-truth files for ``paths`` (inside ``folder``) from the ``<folder>_truth`` sibling.

        Returns None when there is no such sibling. A sibling that lacks some of the files is
        an error rather than silently ignored, since it would make batches uneven.
        """
        truth_dir = folder + "_truth"
        if not os.path.isdir(truth_dir):
            return None
        truths = [os.path.join(truth_dir, os.path.relpath(p, folder)) for p in paths]
        missing = [t for t in truths if not os.path.isfile(t)]
        if missing:
            raise GantoolError(
                f"{truth_dir} lacks {len(missing)} of the {len(paths)} files of {folder} "
                f"(first: {os.path.basename(missing[0])}); complete it or remove it"
            )
        return truths
