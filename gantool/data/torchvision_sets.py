"""--dataset_mode mnist | fashion_mnist | cifar10: the standard sets, read from torchvision's files.

``--dataroot`` is the folder torchvision would be given (``root``): it holds ``MNIST/raw/*-ubyte``
(or the older ``MNIST/processed/{training,test}.pt``), ``FashionMNIST/raw/...`` or
``cifar-10-batches-py/``. Nothing is downloaded unless ``--download`` is passed.
"""
import os
import pickle
from typing import Callable, List

import numpy as np

from ..errors import GantoolError
from .arrays import ArrayImageDataset
from .base import DATASETS
from .transforms import Preprocess


def _add_options(parser, is_train: bool, input_nc: int) -> None:
    parser.add_argument("--download", action="store_true",
                        help="download the dataset into --dataroot if its files are missing (needs internet)")
    # The images are in memory and cheap to prepare: loader processes would only add start-up time.
    parser.set_defaults(input_nc=input_nc, num_threads=0)


def _needs_dataroot(mode: str, layout: str):
    def builtin_root(datasets_dir: str, log) -> str:
        raise GantoolError(f"--dataset_mode {mode} needs --dataroot: the folder holding {layout} "
                           f"(add --download to fetch it there)")
    return staticmethod(builtin_root)


def _split(mode: str, phase: str) -> bool:
    if phase not in ("train", "test"):
        raise GantoolError(f"--phase {phase}: {mode} has only train and test splits")
    return phase == "train"


def _download_error(name: str, root: str, err: Exception) -> GantoolError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return GantoolError(f"could not download {name} into {root}: {reason[:200]}; without internet, copy the "
                        f"files there from a machine that has it")


class _MNISTLike(ArrayImageDataset):
    """MNIST-format data (idx files) through ``torchvision.datasets.<tv_name>``; see ``ArrayImageDataset``.

    Args:
        root: ``--dataroot``, the folder holding ``<tv_name>/`` (the ``<tv_name>`` or ``raw`` folder works too).
        download: fetch the files when missing (``--download``).
    """

    tv_name = ""

    @staticmethod
    def add_options(parser, is_train: bool) -> None:
        _add_options(parser, is_train, input_nc=1)

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        return {}

    def __init__(self, root: str, phase: str = "train", input_nc: int = 1, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), seed: int = 0, download: bool = False):
        super().__init__(phase, input_nc, preprocess, max_dataset_size, seed)
        from torchvision import datasets

        train = _split(self.mode, phase)
        root = os.path.normpath(root)
        if os.path.basename(root) == "raw":  # tolerate the raw folder itself
            root = os.path.dirname(root)
        if os.path.basename(root) == self.tv_name:
            root = os.path.dirname(root)
        raw = os.path.join(root, self.tv_name, "raw")
        prefix = "train" if train else "t10k"
        cls = getattr(datasets, self.tv_name)
        try:
            ds = cls(root, train=train, download=download)
        except RuntimeError as err:
            if download:
                raise _download_error(self.tv_name, root, err) from None
            raise GantoolError(f"no {self.tv_name} files in {raw} (expected {prefix}-images-idx3-ubyte and "
                               f"{prefix}-labels-idx1-ubyte); pass --download to fetch them there") from None
        except OSError as err:  # network errors (URLError is an OSError) and unreadable files
            if download:
                raise _download_error(self.tv_name, root, err) from None
            raise GantoolError(f"cannot read the {self.tv_name} files in {raw}: {err}") from None
        except (AssertionError, TypeError, ValueError) as err:
            raise GantoolError(f"the {self.tv_name} files in {raw} are not valid idx files ({err or 'bad header'}); "
                               f"delete them and use --download") from None
        self.set_data(ds.data.numpy(), ds.targets.numpy())


@DATASETS.register("mnist")
class MNISTDataset(_MNISTLike):
    """MNIST handwritten digits, 60000 train / 10000 test, 28x28 gray."""

    mode, tv_name = "mnist", "MNIST"
    builtin_root = _needs_dataroot("mnist", "MNIST/raw")


@DATASETS.register("fashion_mnist")
class FashionMNISTDataset(_MNISTLike):
    """Fashion-MNIST clothing pictures, 60000 train / 10000 test, 28x28 gray."""

    mode, tv_name = "fashion_mnist", "FashionMNIST"
    builtin_root = _needs_dataroot("fashion_mnist", "FashionMNIST/raw")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings and numpy arrays only: a data file cannot run code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
                ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = ["test_batch"]


def read_cifar_batches(folder: str, names: List[str]):
    """Read CIFAR-10 python batches: dicts with 'data' (N, 3072) uint8 and 'labels'.

    Returns:
        ``(images, labels)``: uint8 (N, 32, 32, 3) and int64 (N,).
    """
    images, labels = [], []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as f:
                entry = _NumpyOnlyUnpickler(f, encoding="latin1").load()
            data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            images.append(data.transpose(0, 2, 3, 1))  # (N, 32, 32, 3)
            labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        except FileNotFoundError:
            raise GantoolError(f"no CIFAR-10 file {path} (expected {', '.join(CIFAR_TRAIN + CIFAR_TEST)} in "
                               f"{folder}); pass --download to fetch them there") from None
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError) as err:
            raise GantoolError(f"{path} is not a CIFAR-10 python batch ({err}); delete it and use --download") from None
    return np.concatenate(images), np.asarray(labels, dtype=np.int64)


@DATASETS.register("cifar10")
class CIFAR10Dataset(ArrayImageDataset):
    """CIFAR-10, 50000 train / 10000 test, 32x32 colour, from ``<dataroot>/cifar-10-batches-py/``.

    Args:
        root: ``--dataroot`` (the ``cifar-10-batches-py`` folder itself works too).
        download: fetch and unpack torchvision's archive when files are missing (``--download``).
        See ``ArrayImageDataset`` for the rest.
    """

    mode = "cifar10"
    builtin_root = _needs_dataroot("cifar10", "cifar-10-batches-py/")

    @staticmethod
    def builtin_defaults(is_train: bool) -> dict:
        return {}

    @staticmethod
    def add_options(parser, is_train: bool) -> None:
        _add_options(parser, is_train, input_nc=3)

    def __init__(self, root: str, phase: str = "train", input_nc: int = 3, preprocess: Preprocess = Preprocess(),
                 max_dataset_size: float = float("inf"), seed: int = 0, download: bool = False,
                 log: Callable[[str], None] = print):
        super().__init__(phase, input_nc, preprocess, max_dataset_size, seed)
        names = CIFAR_TRAIN if _split(self.mode, phase) else CIFAR_TEST
        root = os.path.normpath(root)
        if os.path.basename(root) == CIFAR_FOLDER:
            root = os.path.dirname(root)
        folder = os.path.join(root, CIFAR_FOLDER)
        if download and not all(os.path.isfile(os.path.join(folder, n)) for n in CIFAR_TRAIN + CIFAR_TEST):
            from torchvision.datasets import CIFAR10
            from torchvision.datasets.utils import download_and_extract_archive

            log(f"gantool: downloading CIFAR-10 into {root}")
            try:
                download_and_extract_archive(CIFAR10.url, root, filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
            except (OSError, RuntimeError) as err:
                raise _download_error("CIFAR-10", root, err) from None
        self.set_data(*read_cifar_batches(folder, names))
