"""Lab conversion in torch, the colorization dataset mode, and --model colorization end to end."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_images
from gantool import cli
from gantool.color import lab_to_model, lab_to_rgb, model_to_rgb, rgb_to_lab
from gantool.data import Preprocess, create_dataset
from gantool.data.builtin import generate
from gantool.errors import GantoolError


def test_lab_of_known_colours():
    # Reference values of scikit-image's rgb2lab (D65).
    rgb = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0], [0.5, 0.5, 0.5]]).T[:, :, None]
    expected = torch.tensor([[53.2408, 80.0925, 67.2032], [87.7347, -86.1827, 83.1793],
                             [32.2970, 79.1875, -107.8602], [100.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                             [53.3890, 0.0, 0.0]]).T[:, :, None]
    assert torch.allclose(rgb_to_lab(rgb), expected, atol=0.02)


def test_lab_round_trip_and_shapes():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(4, 3, 8, 5, generator=g, dtype=torch.float64)
    lab = rgb_to_lab(rgb)
    assert lab.shape == rgb.shape and lab[:, 0].min() >= 0 and lab[:, 0].max() <= 100
    assert torch.allclose(lab_to_rgb(lab), rgb, atol=1e-6)
    assert torch.allclose(rgb_to_lab(rgb[0]), lab[0])  # one (3, H, W) image
    L, ab = lab_to_model(lab.float())
    assert L.shape == (4, 1, 8, 5) and ab.shape == (4, 2, 8, 5)
    assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() <= 1
    assert torch.allclose(model_to_rgb(L, ab), rgb.float() * 2 - 1, atol=1e-4)
    # Out-of-gamut Lab still gives valid RGB.
    assert lab_to_rgb(torch.tensor([[[50.0]], [[127.0]], [[-128.0]]])).clamp(0, 1).shape == (3, 1, 1)
    with pytest.raises(ValueError):
        rgb_to_lab(torch.zeros(2, 4, 4))


def test_colorization_dataset_folders(tmp_path):
    flat = tmp_path / "photos"
    write_images(flat, 3, size=(16, 12))
    ds = create_dataset("colorization", root=str(flat), phase="train", input_nc=1, output_nc=2,
                        preprocess=Preprocess("none", 16, 16, flip=False))
    item = ds[0]
    assert len(ds) == 3 and item["A"].shape == (1, 12, 16) and item["B"].shape == (2, 12, 16)
    original = np.asarray(Image.open(flat / "img000.png"), dtype=np.float32) / 255
    back = (model_to_rgb(item["A"][None], item["B"][None])[0].permute(1, 2, 0).numpy() + 1) / 2
    assert np.abs(back - original).max() < 1e-3

    # The classic layout <phase>/, and the built-in dataset's plain day pictures <phase>A/.
    write_images(tmp_path / "classic" / "test", 2)
    assert len(create_dataset("colorization", root=str(tmp_path / "classic"), phase="test")) == 2
    toy = tmp_path / "datasets" / "toy_day2night"
    generate(str(toy), size=16, n_train=3, n_test=2)
    ds = create_dataset("colorization", root=str(toy), phase="test")
    assert len(ds) == 2 and ds.dir.endswith("testA")
    with pytest.raises(GantoolError, match="L \\(1 channel\\) to ab"):
        create_dataset("colorization", root=str(flat), input_nc=3, output_nc=3)
    with pytest.raises(GantoolError, match="no folder val/ and no images"):
        create_dataset("colorization", root=str(tmp_path / "classic"), phase="val")


def test_colorization_end_to_end(tmp_path):
    photos = tmp_path / "photos"
    write_images(photos, 3, size=(32, 32), seed=5)
    common = ["--model", "colorization", "--dataroot", str(photos), "--checkpoints_dir", str(tmp_path),
              "--name", "color", "--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--netG", "unet_64",
              "--load_size", "32", "--crop_size", "32", "--num_threads", "0"]
    assert cli.train_main(common + ["--display_id", "0", "--n_epochs", "1", "--n_epochs_decay", "1"]) == 0
    G = torch.load(tmp_path / "color" / "latest_net_G.pth", weights_only=True)
    D = torch.load(tmp_path / "color" / "latest_net_D.pth", weights_only=True)
    assert G["model.model.0.weight"].shape[1] == 1 and D["model.0.weight"].shape[1] == 3  # L in; L + ab judged
    assert cli.test_main(common + ["--results_dir", str(tmp_path / "res")]) == 0
    page = tmp_path / "res" / "color" / "test_latest"
    gray = np.asarray(Image.open(page / "images" / "img000_real_A.png"), dtype=np.int16)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    truth = np.asarray(Image.open(page / "images" / "img000_real_B_rgb.png"), dtype=np.int16)
    original = np.asarray(Image.open(photos / "img000.png"), dtype=np.int16)
    assert np.abs(truth - original).max() <= 2  # Lab and back: the original colours, shown in RGB
    assert Image.open(page / "images" / "img000_fake_B_rgb.png").mode == "RGB"
    metrics = json.loads((page / "metrics.json").read_text())
    assert metrics["images"] == 3 and metrics["pairs"] == [["fake_B_rgb", "real_B_rgb"]]
    assert metrics["average"]["psnr"] > 0


def test_colorization_rejects_other_channel_counts(tmp_path):
    write_images(tmp_path / "photos", 1)
    status = cli.train_main(["--model", "colorization", "--dataroot", str(tmp_path / "photos"), "--output_nc", "3",
                             "--gpu_ids", "-1", "--display_id", "0", "--checkpoints_dir", str(tmp_path)])
    assert status == 2
