"""What the folder datasets share: constructor arguments, per-item randomness, folder checks."""
import hashlib
import os
import random
import sys
from typing import Dict, List, Optional, Tuple

import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import GantoolError
from ..registry import Registry
from .builtin import builtin_option_defaults, ensure_builtin
from .depth import DepthPolicy, ValueRange, check_bit_depth, parse_value_range, value_extremes
from .image_io import IMG_EXTENSIONS, UnreadableImageError, is_image_file, make_dataset
from .tools.scan import ImageInfo, scan_images
from .transforms import MAX_UPSCALE, Preprocess, transform_image, upscale_factor

DATASETS = Registry("--dataset_mode")

DIRECTIONS = ("AtoB", "BtoA")

MAX_LISTED = 10  # unusable files named one per line; beyond that, one summary line


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
        strict_data: stop with an error on an unusable image file (``--strict_data``) instead of
            skipping it with a warning.
        bit_depth: ``--bit_depth`` auto|8|16|float: the depth files are read at (``gantool.data.depth``).
        value_range: ``--value_range`` "LO,HI" of float values; None: the min/max over the dataset's
            float images (every image with ``bit_depth="float"``), found when the dataset is built.

    Every folder is screened when the dataset is built (``screen``): empty, truncated and
    non-image files are skipped with one warning each (or refused with ``strict_data``), and
    sizes that the preprocessing cannot use are reported before training starts. A file that
    passes the screen but fails to decode later is skipped when it is met, with one warning,
    and the next item takes its place. Subclasses implement ``get_item``.

    Call ``set_epoch(epoch)`` before each epoch (before creating the loader iterator, so that
    worker processes get the new value) to get fresh crops every epoch.
    """

    mode = ""  # the --dataset_mode name, for messages
    full_scan = False  # screen by decoding every pixel (gantool check-data --full), not headers and file ends
    scan_workers = 0  # processes for the screen (check-data)

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        """Option defaults when ``--dataroot`` is omitted (the toy_day2night demo)."""

        return builtin_option_defaults(is_train)

    @staticmethod
    def builtin_root(datasets_dir: str, log) -> str:
        """The folder used when ``--dataroot`` is omitted: the built-in dataset, generated on first use."""

        return ensure_builtin(datasets_dir, log=log)

    def __init__(self, root: str, phase: str = "train", direction: str = "AtoB",
                 input_nc: int = 3, output_nc: int = 3, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), serial_batches: bool = False,
                 seed: int = 0, strict_data: bool = False, bit_depth: str = "auto",
                 value_range: Optional[str] = None):
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
        self.strict_data = strict_data
        self.bit_depth = check_bit_depth(bit_depth)
        self.given_range = parse_value_range(value_range)
        self._extremes: Optional[Tuple[float, float, int]] = None  # (min, max, files) of the float images
        self.epoch = 0
        self.scans: List[Tuple[str, List[ImageInfo]]] = []  # (folder, every file's ImageInfo), for check-data
        self._skipped: set = set()
        self._upscale_told = False  # the upscaling warning comes once per dataset, for its first folder

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

    def read(self, path: str, channels: int):
        """One image file at the dataset's depth: an 8-bit PIL image or a ``HighDepthImage``."""
        return self.depth_policy.read(path, channels)

    def load(self, path: str, channels: int, rng: random.Random) -> torch.Tensor:
        """Read and preprocess one image file into a (channels, H, W) tensor in [-1, 1]."""
        return self.transform(self.read(path, channels), rng, path)

    @property
    def value_range(self) -> Optional[ValueRange]:
        """The float values' range: ``value_range`` as given, else the screened images' min/max (None when no
        image is read as float)."""
        if self.given_range is not None or self._extremes is None:
            return self.given_range
        lo, hi, count = self._extremes
        if lo == hi:
            raise GantoolError(f"every float image of {self.root} holds the one value {lo:g}; give the range their "
                               "values mean with --value_range LO,HI")
        return ValueRange(lo, hi, f"min/max of {count} image{'s' if count != 1 else ''} in {self.root}")

    @property
    def depth_policy(self) -> DepthPolicy:
        """How the files are read and outputs made from them are written (``--bit_depth``, the range)."""
        return DepthPolicy(self.bit_depth, self.value_range)

    def depth_counts(self) -> Dict[str, int]:
        """Usable images per depth read ({"8-bit RGB": 3, "16-bit gray": 2}) over the screened folders."""
        counts: Dict[str, int] = {}
        for _, infos in self.scans:
            for info in infos:
                if info.ok:
                    counts[info.depth_label()] = counts.get(info.depth_label(), 0) + 1
        return counts

    def reads_full_depth(self) -> bool:
        """True when some image is read above 8 bits (or ``--bit_depth``/``--value_range`` were set): the
        run then records its scaling (``gantool.data.depth.save_record``)."""
        if self.bit_depth == "8":
            return False
        deep = any(i.ok and i.depth != "8" and not i.squashed for _, infos in self.scans for i in infos)
        return deep or self.bit_depth != "auto" or self.given_range is not None

    def _screen_depths(self, infos: List[ImageInfo], folder: str) -> None:
        """16-bit colour PNG/TIFF (Pillow reads 8 bits of them): a warning, or an error when ``--bit_depth``
        asks for full depth; float files under ``--bit_depth 16``: an error. Then the float images' min/max."""
        if self.bit_depth == "8":
            return
        squashed = [i for i in infos if i.squashed]
        if squashed:
            message = (f"{len(squashed)} of the {len(infos)} images in {folder} are 16-bit RGB (first: "
                       f"{os.path.basename(squashed[0].path)}), which Pillow reads at 8 bits")
            if self.bit_depth != "auto":
                raise GantoolError(f"{message}: --bit_depth {self.bit_depth} needs them whole; save them as .npy "
                                   "(H x W x 3 uint16) or pass --bit_depth auto to read them at 8 bits")
            self.warn(f"{message}; save them as .npy (H x W x 3 uint16) to keep 16 bits")
        floats = [i for i in infos if i.depth == "float"]
        if floats and self.bit_depth == "16":
            raise GantoolError(f"{floats[0].path} holds float values; --bit_depth 16 reads integer images: use "
                               "--bit_depth float (or auto) with --value_range LO,HI")
        ranged = infos if self.bit_depth == "float" else floats
        if ranged and self.given_range is None:
            found = value_extremes(i.path for i in ranged)
            if found is not None:  # one range for every folder (A and B): outputs map back with it
                lo, hi, count = self._extremes or (found[0], found[1], 0)
                self._extremes = (min(lo, found[0]), max(hi, found[1]), count + found[2])

    def __getitem__(self, index: int) -> Dict:
        """Item ``index`` (see the subclass); an undecodable file is skipped once, with a warning."""
        self.check_index(index)
        for attempt in range(len(self)):
            try:
                return self.get_item((index + attempt) % len(self))
            except UnreadableImageError as error:
                if self.strict_data:
                    raise GantoolError(f"{error} (--strict_data stops here; without it the file is skipped)") from None
                if error.path not in self._skipped:
                    self._skipped.add(error.path)
                    self.warn(f"skipping {error.path}: {error.reason}; another image takes its place")
        raise GantoolError(f"none of the {len(self)} items of {self.root} can be read")

    def get_item(self, index: int) -> Dict:
        """The item dict for ``index``; subclasses implement it."""
        raise NotImplementedError

    @staticmethod
    def warn(message: str) -> None:
        """One warning line on stderr (from DataLoader workers too)."""
        print(f"gantool: warning: {message}", file=sys.stderr, flush=True)

    def screen(self, paths: List[str], folder: str) -> List[str]:
        """The usable files of ``paths`` (found in ``folder``), after one cheap read of each.

        Unusable files are skipped with one warning each (at most ``MAX_LISTED`` lines), or
        refused with ``strict_data``; ``check_images`` then checks the sizes.

        Raises:
            GantoolError: ``strict_data`` and an unusable file, no usable file at all, or sizes
                the preprocessing cannot use.
        """
        infos = scan_images(paths, full=self.full_scan, workers=self.scan_workers)
        self.scans.append((folder, infos))
        bad = [i for i in infos if not i.ok]
        good = [i for i in infos if i.ok]
        if bad and (self.strict_data or not good):
            why = "--strict_data refuses them" if good else "no usable image is left"
            raise GantoolError(f"{len(bad)} of the {len(infos)} image files in {folder} cannot be used (first: "
                               f"{bad[0].path}: {bad[0].problem}); {why}: fix or remove them (gantool check-data lists them)")
        for info in bad[:MAX_LISTED]:
            self.warn(f"skipping {info.path}: {info.problem}")
        if len(bad) > MAX_LISTED:
            self.warn(f"skipping {len(bad) - MAX_LISTED} more unusable files in {folder} "
                      "(gantool check-data lists them all)")
        self._skipped.update(i.path for i in bad)
        self.check_images(good, folder)
        self._screen_upscale(good, folder)
        self._screen_depths(good, folder)
        return [i.path for i in good]

    def usable_size(self, info: ImageInfo) -> Tuple[int, int]:
        """(width, height) of the picture(s) that ``info``'s file gives; the aligned mode halves the width."""
        return info.size

    def check_images(self, infos: List[ImageInfo], folder: str) -> None:
        """Refuse, before training, images that ``--preprocess crop`` cannot crop to ``--crop_size``.

        The other modes scale images first, so any size works there (small images are upscaled).
        """
        crop = self.preprocess.crop_size
        if self.preprocess.mode != "crop":
            return
        small = [i for i in infos if min(self.usable_size(i)) < crop]
        if small:
            w, h = self.usable_size(small[0])
            raise GantoolError(
                f"{len(small)} of the {len(infos)} images in {folder} are smaller than --crop_size {crop} "
                f"(first: {os.path.basename(small[0].path)}, {w}x{h}); --preprocess crop cuts the crop from the "
                "image as it is: use a smaller --crop_size, or --preprocess resize_and_crop to scale images first")

    def _screen_upscale(self, infos: List[ImageInfo], folder: str) -> None:
        """One warning (per dataset) when the preprocessing enlarges images more than ``MAX_UPSCALE`` times in a
        side, such as 40x40 pictures at ``--load_size 512``: the networks would see mostly interpolation."""
        if self._upscale_told:
            return
        big = [(i, upscale_factor(self.usable_size(i), self.preprocess)) for i in infos]
        big = [(i, f) for i, f in big if f > MAX_UPSCALE]
        if big:
            self._upscale_told = True
            (w, h), factor = self.usable_size(big[0][0]), big[0][1]
            pre = self.preprocess
            self.warn(f"--preprocess {pre.mode} --load_size {pre.load_size} scales {len(big)} of the {len(infos)} "
                      f"images in {folder} up more than {MAX_UPSCALE}x (first: {os.path.basename(big[0][0].path)}, "
                      f"{w}x{h}, {factor:.1f}x), so they are mostly interpolation; use a smaller --load_size and "
                      "--crop_size, or larger images")

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
        return self.screen(paths, folder)

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
