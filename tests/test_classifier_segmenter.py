"""--model classifier and --model segmenter on the shared trainer: they learn the built-in data (scores
measured on the test split after every epoch and by test.py), folder datasets, exact resume, mistakes."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli, write_images
from gantool import cli
from gantool.data import create_dataset
from gantool.data.transforms import Preprocess
from gantool.errors import GantoolError

COMMON = ["--gpu_ids", "-1", "--display_id", "0", "--seed", "1"]


pytestmark = pytest.mark.usefixtures("single_thread")


def _eval_log(run):
    return [json.loads(line) for line in (run / "eval_log.jsonl").read_text().splitlines()]


def test_classifier_learns_the_builtin_digits_and_test_py_scores_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = ["--model", "classifier", "--netC", "lenet", "--name", "digits"]
    assert cli.train_main(net + COMMON + ["--max_dataset_size", "2048", "--batch_size", "32", "--lr", "0.005",
                                          "--n_epochs", "4", "--n_epochs_decay", "0"]) == 0
    out = capsys.readouterr().out
    scores = _eval_log(tmp_path / "checkpoints" / "digits")
    assert [s["epoch"] for s in scores] == [1, 2, 3, 4] and {s["images"] for s in scores} == {1000}
    # Ten classes: chance is 0.1 (measured 0.93 after these 4 short epochs).
    assert scores[-1]["accuracy"] > 0.6, scores
    assert "epoch 4: training accuracy" in out and "epoch 4: test split (1000 images): accuracy" in out

    assert cli.test_main(net + ["--gpu_ids", "-1", "--num_test", "300"]) == 0
    assert "gantool: classified 300 images" in capsys.readouterr().out
    page = tmp_path / "results" / "digits" / "test_latest"
    metrics = json.loads((page / "metrics.json").read_text())
    assert metrics["images"] == 300 and metrics["average"]["accuracy"] > 0.6
    row = metrics["per_image"][7]
    assert row["image"] == "digits_test_00007" and row["label"] == 7 and 0 <= row["predicted"] <= 9
    right = sum(r["label"] == r["predicted"] for r in metrics["per_image"])
    assert right / 300 == pytest.approx(metrics["average"]["accuracy"])
    html = (page / "index.html").read_text()
    assert "accuracy" in html and "image (label 7, predicted" in html
    assert (page / "images" / "digits_test_00007_image.png").is_file()

    # The trained classifier's trunk can start a discriminator (--netD lenet --D_backbone_weights ...).
    from gantool.networks import define_D

    weights = tmp_path / "checkpoints" / "digits" / "latest_net_C.pth"
    D = define_D(1, 8, "lenet", backbone_weights=str(weights), image_size=28)
    assert torch.equal(D.state_dict()["backbone.3.weight"], torch.load(weights, weights_only=True)["features.3.weight"])


def test_segmenter_learns_toy_shapes_and_test_py_scores_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = ["--model", "segmenter", "--name", "shapes", "--load_size", "32", "--crop_size", "32"]
    assert cli.train_main(net + COMMON + ["--batch_size", "8", "--lr", "0.003", "--n_epochs", "4",
                                          "--n_epochs_decay", "0"]) == 0
    root = tmp_path / "datasets" / "toy_shapes"
    assert (root / "classes.txt").read_text().split() == ["background", "circle", "square", "triangle"]
    masks = [np.asarray(Image.open(p)) for p in sorted((root / "test" / "masks").iterdir())]
    background = float(np.mean([(m == 0).mean() for m in masks]))
    scores = _eval_log(tmp_path / "checkpoints" / "shapes")
    assert len(scores) == 4 and scores[-1]["images"] == 100
    # Saying "background" everywhere scores pixel accuracy `background` (0.87) and mIoU background / 4
    # (0.22); measured after these 4 short epochs: 0.92 and 0.42.
    assert scores[-1]["pixel_accuracy"] > background + 0.02 and scores[-1]["mIoU"] > 0.3, (background, scores)

    assert cli.test_main(net + ["--gpu_ids", "-1"]) == 0
    assert "gantool: segmented 100 images" in capsys.readouterr().out
    page = tmp_path / "results" / "shapes" / "test_latest"
    metrics = json.loads((page / "metrics.json").read_text())
    # The same pictures, preprocessing and eval mode as the trainer's last scoring.
    assert metrics["average"] == pytest.approx({k: scores[-1][k] for k in ("pixel_accuracy", "mIoU")})
    for label in ("image", "mask", "predicted"):
        assert (page / "images" / f"s0003_{label}.png").is_file()


def _segmentation_folder(root, count=3, size=(24, 20)):
    """images/ (JPEG-free: PNG so values are exact) with a gray level per class, masks/ with the class."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        classes = rng.integers(0, 3, (size[1], size[0])).astype(np.uint8)
        Image.fromarray(classes * 100).save(root / "images" / f"p{i}.png")
        Image.fromarray(classes).save(root / "masks" / f"p{i}.png")
    (root / "classes.txt").write_text("sky\nroad\ncar\n")


def test_segmentation_folders_crop_and_flip_picture_and_mask_alike(tmp_path):
    _segmentation_folder(tmp_path / "seg")
    ds = create_dataset("segmentation", root=str(tmp_path / "seg"), input_nc=1,
                        preprocess=Preprocess("crop", load_size=16, crop_size=16, flip=True))
    flips = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert item["A"].shape == (1, 16, 16) and item["mask"].shape == (16, 16)
            assert item["mask"].dtype == torch.int64
            gray = torch.round((item["A"][0] + 1) * 127.5 / 100).long()
            assert torch.equal(gray, item["mask"])  # the same crop and the same flip
            original = np.asarray(Image.open(tmp_path / "seg" / "masks" / f"p{i}.png"))
            flips.add(not any(np.array_equal(item["mask"].numpy(), original[y:y + 16, x:x + 16])
                              for y in range(5) for x in range(9)))
    assert flips == {True, False}


def test_segmentation_folder_mistakes_are_one_line(tmp_path):
    _segmentation_folder(tmp_path / "seg")
    os.remove(tmp_path / "seg" / "masks" / "p1.png")
    with pytest.raises(GantoolError, match=r"no mask for 1 of the 3 images \(first: images/p1.png\)"):
        create_dataset("segmentation", root=str(tmp_path / "seg"))
    Image.new("RGB", (24, 20)).save(tmp_path / "seg" / "masks" / "p1.png")
    with pytest.raises(GantoolError, match="p1.png is a RGB image; a mask holds one class index per pixel"):
        create_dataset("segmentation", root=str(tmp_path / "seg"), preprocess=Preprocess("none"))[1]
    Image.new("L", (10, 10)).save(tmp_path / "seg" / "masks" / "p1.png")
    with pytest.raises(GantoolError, match=r"p1.png is 10x10 but its image .* is 24x20"):
        create_dataset("segmentation", root=str(tmp_path / "seg"), preprocess=Preprocess("none"))[1]
    # A class beyond --num_classes (from classes.txt: 3) stops training with the value and the remedy.
    Image.fromarray(np.full((20, 24), 7, np.uint8)).save(tmp_path / "seg" / "masks" / "p1.png")
    result = run_cli("train.py", ["--model", "segmenter", "--dataroot", str(tmp_path / "seg"), "--netS", "unet",
                                  "--base_channels", "4", "--unet_depth", "2", "--preprocess", "none",
                                  "--batch_size", "3", "--input_nc", "1", *COMMON], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "mask value 7 is not a class of --num_classes 3; pass --num_classes 8 or more" in result.stderr


def test_classifier_on_class_folders_and_on_unlabelled_images(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for split in ("train", "test"):
        for k, name in enumerate(("cat", "dog", "owl")):
            write_images(tmp_path / "pets" / split / name, 4, size=(20, 20), seed=k)
    args = ["--model", "classifier", "--netC", "lenet", "--dataset_mode", "image_folder", "--dataroot",
            str(tmp_path / "pets"), "--name", "pets", "--batch_size", "4", "--n_epochs", "1", "--n_epochs_decay", "0",
            "--num_threads", "0"]
    assert cli.train_main(args + COMMON) == 0
    weights = torch.load(tmp_path / "checkpoints" / "pets" / "latest_net_C.pth", weights_only=True)
    assert weights["classifier.4.weight"].shape == (3, 84)  # three classes, from the folders
    assert _eval_log(tmp_path / "checkpoints" / "pets")[0]["images"] == 12
    write_images(tmp_path / "loose", 4, size=(20, 20))
    loose = ["--model", "classifier", "--dataset_mode", "image_folder", "--dataroot", str(tmp_path / "loose"),
             "--num_threads", "0"]
    capsys.readouterr()
    assert cli.train_main(loose + COMMON + ["--netC", "lenet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "label -1 is not a class of --num_classes 10; --dataset_mode image_folder " \
                                     "gives labels only to images in class subfolders" in err
    assert cli.train_main(loose + COMMON + ["--netC", "resnet19"]) == 2
    assert "unknown --netC 'resnet19'; choose from: alexnet" in capsys.readouterr().err


def test_scoring_after_each_epoch_leaves_resume_exact(tmp_path):
    """Stopping exactly at an epoch's end (after its scoring) and resuming gives the weights of one
    straight run: the scoring draws nothing from the generators that dropout (NiN's) uses."""
    common = ["--model", "classifier", "--netC", "nin", "--checkpoints_dir", str(tmp_path), "--max_dataset_size",
              "64", "--batch_size", "16", "--n_epochs", "2", "--n_epochs_decay", "0", *COMMON]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "64"]) == 0
    assert len(_eval_log(tmp_path / "twice")) == 1
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    once, twice = (torch.load(tmp_path / n / "latest_net_C.pth", weights_only=True) for n in ("once", "twice"))
    assert all(torch.equal(once[k], twice[k]) for k in once)
    assert _eval_log(tmp_path / "once") == _eval_log(tmp_path / "twice")
