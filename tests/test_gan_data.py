"""Dataset modes of the unconditional GANs: built-in digits, torchvision's file formats, image folders."""
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from conftest import write_images
from gantool.build import build_dataset
from gantool.data import DATASETS, Preprocess
from gantool.data.digits import DigitsDataset, render_digits
from gantool.errors import GantoolError
from gantool.options import parse

SAME = Preprocess(mode="resize_and_crop", load_size=28, crop_size=28, flip=False)


def write_idx(path, array):
    """An MNIST idx file (big-endian header: 0, 0, type 0x08 = ubyte, ndim; then dims; then bytes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(root, folder="MNIST", n_train=6, n_test=3):
    """torchvision's raw layout: <root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(os.path.join(root, folder, "raw", f"{split}-images-idx3-ubyte"), images)
        write_idx(os.path.join(root, folder, "raw", f"{split}-labels-idx1-ubyte"), labels)
        arrays[split] = images, labels
    return arrays


def write_cifar(root, per_batch=2):
    """torchvision's cifar-10-batches-py: pickled dicts with 'data' (N, 3072) uint8 rows (R, G, B planes)."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        entry = {"batch_label": name, "labels": list(range(per_batch)), "data": data,
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(entry, f, protocol=2)
        batches[name] = data
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile"], "num_vis": 3072}, f, protocol=2)
    return batches


def test_digits_are_deterministic_mnist_like_and_prefix_stable():
    images, labels = render_digits(0, 30, seed=0)
    again, _ = render_digits(0, 30, seed=0)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and np.array_equal(images, again)
    assert labels.tolist() == [i % 10 for i in range(30)]
    assert np.array_equal(render_digits(10, 5, seed=0)[0], images[10:15])  # image i depends on i only
    assert not np.array_equal(render_digits(0, 30, seed=1)[0], images)  # the test split differs
    ink = images.astype(float) / 255
    # White strokes on black, about MNIST's ink coverage (13 %), with soft edges and blank borders.
    assert 0.06 < ink.mean() < 0.25 and ((ink > 0) & (ink < 1)).mean() > 0.03
    assert ink[:, 0, :].max() < 0.5 and ink[:, :, 0].max() < 0.5
    assert len({img.tobytes() for img in images}) == 30


def test_digits_dataset_items_and_errors():
    ds = DigitsDataset(phase="train", input_nc=3, preprocess=SAME, max_dataset_size=12, log=lambda m: None)
    item = ds[11]
    assert len(ds) == 12 and item["A"].shape == (3, 28, 28) and int(item["label"]) == 1
    assert item["A"].min() >= -1 and item["A"].max() <= 1 and torch.equal(item["A"][0], item["A"][2])
    bigger = DigitsDataset(preprocess=Preprocess(load_size=32, crop_size=32, flip=False), max_dataset_size=2,
                           log=lambda m: None)
    assert bigger[0]["A"].shape == (1, 32, 32)
    with pytest.raises(GantoolError, match="takes no --dataroot"):
        DigitsDataset(root="/somewhere", log=lambda m: None)


def test_mnist_and_fashion_mnist_read_torchvision_raw_files(tmp_path):
    for mode, folder in (("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")):
        arrays = write_mnist(tmp_path, folder)
        cls = DATASETS.get(mode)
        train = cls(str(tmp_path), phase="train", preprocess=SAME)
        assert len(train) == 6 and train[2]["A"].shape == (1, 28, 28) and int(train[2]["label"]) == 2
        expected = torch.from_numpy(arrays["train"][0][2]).float() / 127.5 - 1
        assert torch.allclose(train[2]["A"][0], expected)
        test = cls(os.path.join(tmp_path, folder, "raw"), phase="test", preprocess=SAME, max_dataset_size=2)
        assert len(test) == 2 and torch.allclose(test[1]["A"][0], torch.from_numpy(arrays["t10k"][0][1]).float() / 127.5 - 1)


def test_mnist_legacy_processed_layout(tmp_path):
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    data = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    torch.save((data, torch.arange(4)), processed / "training.pt")
    torch.save((data[:1], torch.arange(1)), processed / "test.pt")
    ds = DATASETS.get("mnist")(str(tmp_path), preprocess=SAME, input_nc=3)
    assert len(ds) == 4 and ds[3]["A"].shape == (3, 28, 28)
    assert torch.allclose(ds[3]["A"][1], data[3].float() / 127.5 - 1)


def test_cifar10_reads_python_batches_in_rgb(tmp_path):
    batches = write_cifar(tmp_path)
    pre = Preprocess(mode="resize_and_crop", load_size=32, crop_size=32, flip=False)
    ds = DATASETS.get("cifar10")(str(tmp_path), preprocess=pre)
    assert len(ds) == 10 and ds[0]["A"].shape == (3, 32, 32)
    first = batches["data_batch_1"][0].reshape(3, 32, 32)  # channel planes R, G, B
    assert torch.allclose(ds[0]["A"], torch.from_numpy(first).float() / 127.5 - 1)
    test = DATASETS.get("cifar10")(str(tmp_path / "cifar-10-batches-py"), phase="test", preprocess=pre, input_nc=1)
    assert len(test) == 2 and test[1]["A"].shape == (1, 32, 32)


def test_missing_or_unsafe_files_are_one_clear_line(tmp_path):
    with pytest.raises(GantoolError, match=r"no MNIST files in .*MNIST/raw \(expected train-images-idx3-ubyte.*"
                                           r"pass --download"):
        DATASETS.get("mnist")(str(tmp_path))
    with pytest.raises(GantoolError, match=r"no CIFAR-10 file .*data_batch_1 .*pass --download"):
        DATASETS.get("cifar10")(str(tmp_path))
    with pytest.raises(GantoolError, match="only train and test splits"):
        DATASETS.get("mnist")(str(tmp_path), phase="val")
    write_cifar(tmp_path)

    class Evil:  # a pickle that would run a command when loaded
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": [0]}, f)
    with pytest.raises(GantoolError, match="is not a CIFAR-10 python batch .*not allowed"):
        DATASETS.get("cifar10")(str(tmp_path), phase="test")


def test_options_need_a_dataroot_for_file_modes_and_read_it_at_img_size(tmp_path):
    write_mnist(tmp_path)
    for mode in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
        with pytest.raises(GantoolError, match=f"--dataset_mode {mode} needs --dataroot"):
            build_dataset(parse(["--model", "gan", "--dataset_mode", mode], is_train=True))
    opt = parse(["--model", "dcgan", "--dataset_mode", "mnist", "--dataroot", str(tmp_path)], is_train=True)
    assert (opt.img_size, opt.load_size, opt.crop_size, opt.input_nc, opt.download) == (32, 32, 32, 1, False)
    assert build_dataset(opt, log=lambda m: None)[0]["A"].shape == (1, 32, 32)
    opt = parse(["--model", "gan", "--dataset_mode", "cifar10", "--dataroot", str(tmp_path)], is_train=True)
    assert opt.input_nc == 3  # colour data: three channels unless --input_nc says otherwise
    # --download lets --dataroot be a folder that does not exist yet (it is created there).
    assert parse(["--model", "gan", "--dataset_mode", "mnist", "--download", "--dataroot",
                  str(tmp_path / "new")], is_train=True).download


def test_image_folder_flat_and_class_subfolders(tmp_path):
    write_images(tmp_path / "flat", 3, size=(40, 30))
    write_images(tmp_path / "classes" / "cat", 2, size=(50, 50), seed=1)
    write_images(tmp_path / "classes" / "dog", 2, size=(20, 36), mode="L", seed=2)
    flat = build_dataset(parse(["--model", "dcgan", "--dataset_mode", "image_folder", "--dataroot",
                                str(tmp_path / "flat"), "--img_size", "16"], is_train=True))
    assert len(flat) == 3 and flat[0]["A"].shape == (3, 16, 16) and int(flat[0]["label"]) == -1
    classes = build_dataset(parse(["--model", "gan", "--dataset_mode", "image_folder", "--dataroot",
                                   str(tmp_path / "classes"), "--input_nc", "1"], is_train=True))
    assert [int(item["label"]) for item in classes] == [0, 0, 1, 1]
    assert classes[3]["A"].shape == (1, 28, 28) and classes[3]["A_paths"].endswith("dog/img001.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GantoolError, match="empty has no images"):
        DATASETS.get("image_folder")(str(tmp_path / "empty"))
