"""pix2pix through the real command line: both directions, any image size, the built-in demo, paired quality."""
import json
import os

import numpy as np
import torch
from PIL import Image

from conftest import run_cli
from gantool import cli
from gantool.metrics.paired import paired_metrics
from gantool.networks import define_G
from gantool.metrics.paired_eval import evaluate

# Tiny networks; unet_64 on 32x32 crops also exercises the padding to the U-Net's size multiple.
TINY_P2P = ["--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--netG", "unet_64", "--load_size", "32",
            "--crop_size", "32", "--num_threads", "0"]
TRAIN = ["--display_id", "0", "--n_epochs", "1", "--n_epochs_decay", "1", "--print_freq", "2"]


def write_aligned(folder, count, size=(32, 32), seed=0):
    """``count`` A|B images: A a random picture, B a recoloured copy (so B depends on A), each ``size`` (w, h)."""
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    w, h = size
    for i in range(count):
        a = (torch.rand(h, w, 3, generator=g) * 255).to(torch.uint8).numpy()
        b = 255 - a[:, :, ::-1]
        Image.fromarray(np.concatenate([a, b], axis=1)).save(os.path.join(folder, f"p{i:03d}.png"))


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_pix2pix_train_and_test_in_both_directions(tmp_path):
    root = tmp_path / "facades"
    write_aligned(root / "train", 4, seed=1)
    write_aligned(root / "test", 2, seed=2)
    for direction, output_nc in (("AtoB", 3), ("BtoA", 1)):
        name = f"p2p_{direction}"
        common = ["--model", "pix2pix", "--dataroot", str(root), "--direction", direction, "--name", name,
                  "--output_nc", str(output_nc), "--checkpoints_dir", str(tmp_path / "ck"), *TINY_P2P]
        assert cli.train_main(common + TRAIN) == 0
        run = tmp_path / "ck" / name
        opts = (run / "train_opt.txt").read_text()
        for setting in ("gan_mode: vanilla", "lambda_L1: 100.0", "norm: batch", "pool_size: 0", "netD: basic"):
            assert setting in opts, setting
        G = torch.load(run / "latest_net_G.pth", weights_only=True)
        D = torch.load(run / "latest_net_D.pth", weights_only=True)
        assert "model.model.1.model.3.model.1.weight" in G  # the classic U-Net keys
        assert D["model.0.weight"].shape[1] == 3 + output_nc  # conditional D sees A and B concatenated
        assert "G_L1:" in (run / "loss_log.txt").read_text()

        assert cli.test_main(common + ["--results_dir", str(tmp_path / "res")]) == 0
        page = tmp_path / "res" / name / "test_latest"
        html = (page / "index.html").read_text()
        for label in ("real_A", "fake_B", "real_B"):
            assert (page / "images" / f"p000_{label}.png").is_file() and f"p000_{label}.png" in html
        metrics = json.loads((page / "metrics.json").read_text())
        assert metrics["images"] == 2 and metrics["pairs"] == [["fake_B", "real_B"]]
        assert 0 < metrics["average"]["l1"] < 1
        # The input is the left half for AtoB and the right half for BtoA (test.py: no resize, no flip).
        source = pixels(root / "test" / "p000.png")
        half = source[:, :32] if direction == "AtoB" else source[:, 32:]
        assert np.abs(pixels(page / "images" / "p000_real_A.png") - half).max() <= 1
        assert Image.open(page / "images" / "p000_fake_B.png").size == (32, 32)


def test_resume_across_the_learning_rate_decay_is_exact(tmp_path):
    """3 images, stop, --continue_train to 4 == 4 at once: with dropout, a pool, and the decay of epoch 2."""
    write_aligned(tmp_path / "d" / "train", 2)
    common = ["--model", "pix2pix", "--dataroot", str(tmp_path / "d"), "--checkpoints_dir", str(tmp_path), "--seed",
              "3", "--pool_size", "2", *TINY_P2P, *TRAIN]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "3"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    for net in ("G", "D"):
        once = torch.load(tmp_path / "once" / f"latest_net_{net}.pth", weights_only=True)
        twice = torch.load(tmp_path / "twice" / f"latest_net_{net}.pth", weights_only=True)
        assert all(torch.equal(once[k], twice[k]) for k in once), net


def test_unet_translates_any_size():
    """Sizes that are no multiple of 2**num_downs are padded and cropped back (no "Sizes of tensors must match")."""
    torch.manual_seed(0)
    for name, size in (("unet_128", (37, 53)), ("unet_256", (100, 70)), ("unet_64", (1, 130))):
        net = define_G(3, 2, 8, name, "batch", use_dropout=True)
        x = torch.rand(2, 3, *size) * 2 - 1
        y = net(x)
        assert y.shape == (2, 2, *size)
        y.mean().backward()  # trains at that size too
        assert all(p.grad is not None for p in net.parameters())
    # A multiple of the size needs no padding: the result is the plain network's.
    net = define_G(3, 3, 8, "unet_64", "instance").eval()
    x = torch.rand(1, 3, 64, 128) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), net.model(x))


def test_pix2pix_on_odd_sizes_with_preprocess_none(tmp_path):
    root = tmp_path / "odd"
    write_aligned(root / "train", 2, size=(45, 39), seed=3)
    write_aligned(root / "test", 1, size=(45, 39), seed=4)
    common = ["--model", "pix2pix", "--dataroot", str(root), "--checkpoints_dir", str(tmp_path), "--name", "odd",
              *TINY_P2P, "--preprocess", "none"]
    assert cli.train_main(common + TRAIN) == 0
    assert cli.test_main(common + ["--results_dir", str(tmp_path / "res")]) == 0
    out = tmp_path / "res" / "odd" / "test_latest" / "images" / "p000_fake_B.png"
    assert Image.open(out).size == (45, 39)


def test_short_pix2pix_run_on_builtin_data_beats_the_identity_baseline(tmp_path):
    """No --dataroot: the built-in day|night pairs. A short run must beat output = input on PSNR."""
    tiny = ["--model", "pix2pix", "--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--seed", "1"]
    train = run_cli("train.py", tiny + ["--display_id", "0", "--max_iters", "150", "--print_freq", "50"],
                    cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    assert "generated the built-in dataset toy_day2night" in train.stdout
    assert "netG: unet_64" in (tmp_path / "checkpoints" / "experiment_name" / "train_opt.txt").read_text()
    test = run_cli("test.py", tiny, cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    assert "paired quality against the ground truth on 20 images" in test.stdout
    results = tmp_path / "results" / "experiment_name" / "test_latest"
    model_psnr = json.loads((results / "metrics.json").read_text())["average"]["psnr"]

    # Identity baseline measured here from the test pairs themselves: the day half as the night guess.
    scores = []
    for name in sorted(os.listdir(tmp_path / "datasets" / "toy_day2night" / "test")):
        ab = torch.from_numpy(pixels(tmp_path / "datasets" / "toy_day2night" / "test" / name)).float()
        ab = (ab / 127.5 - 1).permute(2, 0, 1)
        day, night = ab[:, :, :64], ab[:, :, 64:]
        scores.append(paired_metrics(day, night)["psnr"])
    identity_psnr = sum(scores) / len(scores)
    # Measured: identity 6.2 dB, an untrained G 8.8 dB, these 150 steps about 19.7 dB.
    assert model_psnr > identity_psnr + 6, (model_psnr, identity_psnr)

    # The paired-quality evaluation (scripts/eval_paired.py) reads the same folder and scores both rows.
    output, identity = evaluate(str(results))
    assert output["compared"] == "fake_B vs real_B" and identity["method"] == "identity"
    assert output["images"] == identity["images"] == 20
    assert abs(identity["psnr"] - identity_psnr) < 0.2  # the same figure, from the saved PNGs
    assert output["psnr"] > identity["psnr"] + 6 and output["ssim"] > identity["ssim"]
