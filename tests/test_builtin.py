"""The built-in toy_day2night dataset: deterministic, both layouts, ground truth, ensure_builtin."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import BUILTIN_NAME, Preprocess, create_dataset, ensure_builtin
from gantool.data.builtin import generate
from gantool.errors import GantoolError

FOLDERS = ["test", "testA", "testA_truth", "testB", "testB_truth", "train", "trainA", "trainB"]


def files(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("builtin") / "toy")
    generate(root, size=32, n_train=5, n_test=3)
    return root


def test_generate_is_deterministic(small, tmp_path):
    generate(str(tmp_path / "again"), size=32, n_train=5, n_test=3)
    assert files(small) == files(tmp_path / "again")
    generate(str(tmp_path / "other"), size=32, n_train=5, n_test=3, seed=1)
    assert files(small)["trainA/a0000.png"] != files(tmp_path / "other")["trainA/a0000.png"]


def test_layout_counts_and_sizes(small):
    assert sorted(d for d in os.listdir(small) if os.path.isdir(os.path.join(small, d))) == FOLDERS
    counts = {d: len(os.listdir(os.path.join(small, d))) for d in FOLDERS}
    assert counts == {"train": 5, "trainA": 5, "trainB": 5, "test": 3, "testA": 3, "testA_truth": 3,
                      "testB": 3, "testB_truth": 3}
    assert os.path.isfile(os.path.join(small, "README.txt"))
    assert Image.open(os.path.join(small, "trainA", "a0000.png")).size == (32, 32)
    assert Image.open(os.path.join(small, "train", "a0000.png")).size == (64, 32)


def test_truth_and_aligned_pairs_match(small):
    listing = lambda folder: sorted(os.listdir(os.path.join(small, folder)))  # noqa: E731
    assert listing("testA_truth") == listing("testA") and listing("testB_truth") == listing("testB")
    for name in sorted(os.listdir(os.path.join(small, "testA"))):
        pair = pixels(os.path.join(small, "test", name))
        assert np.array_equal(pair[:, :32], pixels(os.path.join(small, "testA", name)))
        assert np.array_equal(pair[:, 32:], pixels(os.path.join(small, "testA_truth", name)))
    for name in sorted(os.listdir(os.path.join(small, "trainA"))):
        assert np.array_equal(pixels(os.path.join(small, "train", name))[:, :32],
                              pixels(os.path.join(small, "trainA", name)))


def test_day_is_brighter_than_night_and_sides_are_unpaired(small):
    for name in os.listdir(os.path.join(small, "test")):
        pair = pixels(os.path.join(small, "test", name))
        assert pair[:, :32].mean() > pair[:, 32:].mean() + 60
    for name in os.listdir(os.path.join(small, "testB")):
        day = pixels(os.path.join(small, "testB_truth", name))
        assert day.mean() > pixels(os.path.join(small, "testB", name)).mean() + 60
    a_names = set(os.listdir(os.path.join(small, "trainA")))
    assert not a_names & set(os.listdir(os.path.join(small, "trainB")))  # other scenes, other names


@pytest.mark.parametrize("size", [16, 256])
def test_other_sizes(tmp_path, size):
    generate(str(tmp_path), size=size, n_train=1, n_test=1)
    assert Image.open(os.path.join(tmp_path, "testB", "b0000.png")).size == (size, size)


def test_datasets_read_it(small):
    pre = Preprocess(mode="none", flip=False)
    ds = create_dataset("unaligned", root=small, phase="test", preprocess=pre)
    assert ds.has_truth and len(ds) == 3
    item = ds[0]
    pair = create_dataset("aligned", root=small, phase="test", preprocess=pre)[0]
    assert torch.equal(pair["A"], item["A"]) and torch.equal(pair["B"], item["truth"])
    assert create_dataset("unaligned", root=small, phase="test", direction="BtoA").has_truth
    assert len(create_dataset("single", root=small, phase="test")) == 3


def test_ensure_builtin_generates_once(tmp_path):
    logs = []
    root = ensure_builtin(str(tmp_path / "datasets"), size=16, log=logs.append, n_train=2, n_test=1)
    assert root == os.path.join(str(tmp_path), "datasets", BUILTIN_NAME)
    assert len(logs) == 1
    assert logs[0].startswith(
        f"gantool: generated the built-in dataset {BUILTIN_NAME} (2+2 train, 1+1 test, 16x16) in ")
    assert os.path.isfile(os.path.join(root, ".complete"))
    assert os.listdir(tmp_path / "datasets") == [BUILTIN_NAME]  # no temporary folder left
    before = {p: os.stat(os.path.join(root, p)).st_mtime_ns for p in files(root)}
    again = ensure_builtin(str(tmp_path / "datasets"), size=16, log=logs.append,
                           n_train=2, n_test=1)
    assert again == root
    assert len(logs) == 1
    assert {p: os.stat(os.path.join(root, p)).st_mtime_ns for p in files(root)} == before
    ensure_builtin(str(tmp_path / "datasets"), size=24, log=logs.append, n_train=2, n_test=1)
    assert len(logs) == 2 and Image.open(os.path.join(root, "trainA", "a0000.png")).size == (24, 24)
    assert os.listdir(tmp_path / "datasets") == [BUILTIN_NAME]


def test_ensure_builtin_leaves_foreign_folders_alone(tmp_path):
    os.makedirs(tmp_path / BUILTIN_NAME / "trainA")
    with pytest.raises(GantoolError, match="is not a complete built-in dataset .*remove it"):
        ensure_builtin(str(tmp_path), log=lambda line: None, n_train=1, n_test=1)
    assert os.listdir(tmp_path / BUILTIN_NAME) == ["trainA"]
