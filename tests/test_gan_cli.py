"""gan and dcgan through the real command line: every gan_mode, resume, test.py samples, learning."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import run_cli
from gantool import cli
from gantool.build import build_recipe, build_tester, seed_everything
from gantool.data.digits import render_digits
from gantool.errors import GantoolError
from gantool.options import parse

TINY = ["--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8", "--img_size", "16",
        "--n_epochs", "1", "--n_epochs_decay", "0", "--print_freq", "8", "--ngf", "8", "--ndf", "8"]


def _weights(run, name, label="latest"):
    return torch.load(os.path.join(run, f"{label}_net_{name}.pth"), weights_only=True)


@pytest.mark.parametrize("model", ["gan", "dcgan"])
@pytest.mark.parametrize("gan_mode", ["vanilla", "lsgan", "wgangp", "hinge"])
def test_every_gan_mode_trains_both_models(model, gan_mode, tmp_path):
    args = ["--model", model, "--gan_mode", gan_mode, "--checkpoints_dir", str(tmp_path), "--name", "run", *TINY]
    assert cli.train_main(args) == 0
    run = tmp_path / "run"
    for f in ("latest_net_G.pth", "latest_net_D.pth", "latest_state.pth", "web/images/epoch001_samples.png",
              "web/images/epoch001_real.png"):
        assert (run / f).is_file(), f
    log = (run / "loss_log.txt").read_text()
    assert "D:" in log and "G:" in log and ("gp:" in log) == (gan_mode == "wgangp")
    values = [float(v) for v in log.split() if v.replace(".", "").replace("-", "").isdigit() and "." in v]
    assert values and all(np.isfinite(values))
    # The generator was trained: its weights left their seeded initial values.
    opt = parse(args + ["--seed", str(torch.load(run / "latest_state.pth", weights_only=True)["seed"])])
    seed_everything(opt.seed)
    initial = build_recipe(opt, torch.device("cpu")).networks["G"].state_dict()
    trained = _weights(run, "G")
    assert set(initial) == set(trained) and not all(torch.equal(initial[k], trained[k]) for k in trained)
    state = torch.load(run / "latest_state.pth", weights_only=True)
    assert state["recipe"]["fixed_z"].shape == (64, 100) and state["recipe"]["step"] == 2


def test_resume_is_exact_with_critic_steps(tmp_path):
    """wgangp trains G every 5th step: the step counter and fixed noise must survive a mid-epoch stop."""
    common = ["--model", "dcgan", "--gan_mode", "wgangp", "--checkpoints_dir", str(tmp_path), "--seed", "5", *TINY,
              "--n_epochs", "3"]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "24"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    for name in ("G", "D"):
        once, twice = _weights(tmp_path / "once", name), _weights(tmp_path / "twice", name)
        assert all(torch.equal(once[k], twice[k]) for k in once), name
    states = [torch.load(tmp_path / n / "latest_state.pth", weights_only=True)["recipe"] for n in ("once", "twice")]
    assert states[0]["step"] == states[1]["step"] == 6 and torch.equal(states[0]["fixed_z"], states[1]["fixed_z"])


def test_test_py_writes_seeded_samples_and_a_grid(tmp_path):
    train = ["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "g", *TINY]
    assert cli.train_main(train) == 0
    common = ["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "g", "--img_size", "16",
              "--gpu_ids", "-1", "--num_test", "10"]
    for results, seed in (("r1", "3"), ("r2", "3"), ("r3", "4")):
        assert cli.test_main(common + ["--results_dir", str(tmp_path / results), "--seed", seed]) == 0
    page = tmp_path / "r1" / "g" / "test_latest"
    files = sorted(os.listdir(page / "images"))
    assert files == ["grid_fake.png"] + [f"sample{i:04d}_fake.png" for i in range(10)]
    html = (page / "index.html").read_text()
    assert "grid_fake.png" in html and "sample0009_fake.png" in html
    assert json.loads((page / "metrics.json").read_text())["images"] == 10
    read = lambda r, f: (tmp_path / r / "g" / "test_latest" / "images" / f).read_bytes()  # noqa: E731
    assert read("r1", "grid_fake.png") == read("r2", "grid_fake.png")
    assert read("r1", "grid_fake.png") != read("r3", "grid_fake.png")
    # Without --img_size 16 the generator's side file (gantool.io.arch) rebuilds it at its own size; a classic file
    # (no side file) saved at another size is named in one line with the options that build it.
    default_size = ["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "g", "--gpu_ids", "-1",
                    "--results_dir", str(tmp_path / "x")]
    assert build_tester(parse(default_size, is_train=False), lambda m: None).recipe.img_size == 16
    os.remove(tmp_path / "g" / "latest_net_G.json")
    with pytest.raises(GantoolError, match=r"does not fit .*--img_size 28"):
        build_tester(parse(default_size, is_train=False))


def test_options_follow_img_size_and_sample_interval():
    opt = parse(["--model", "dcgan", "--img_size", "64", "--sample_interval", "10", "--batch_size", "8"])
    assert (opt.load_size, opt.crop_size, opt.display_freq, opt.update_html_freq) == (64, 64, 80, 80)
    assert (opt.ngf, opt.ndf) == (64, 64) and parse(["--model", "dcgan"], is_train=False).ngf == 32
    assert (opt.dataset_mode, opt.gan_mode, opt.n_critic, opt.input_nc, opt.no_flip) == ("digits", "vanilla", 1, 1, True)
    opt = parse(["--model", "gan", "--load_size", "32", "--gan_mode", "wgangp"])
    assert (opt.img_size, opt.load_size, opt.crop_size, opt.n_critic, opt.batch_size) == (28, 32, 28, 5, 64)
    assert parse(["--model", "gan", "--gan_mode", "wgangp", "--n_critic", "2"]).n_critic == 2
    with pytest.raises(GantoolError, match="--crop_size 32 differs from --img_size 28"):
        build_recipe(parse(["--model", "gan", "--crop_size", "32", "--load_size", "32"]), torch.device("cpu"))
    with pytest.raises(GantoolError, match="--img_size 48: dcgan needs a power of two"):
        build_recipe(parse(["--model", "dcgan", "--img_size", "48"]), torch.device("cpu"))
    assert parse(["--model", "gan"], is_train=False).num_test == 64


def _pixel_stats(images):
    """Per-pixel mean image and 10-bin intensity histogram of (N, 28, 28) images in [0, 1]."""
    return images.mean(0), np.histogram(images, bins=10, range=(0, 1))[0] / images.size


def test_short_default_gan_run_moves_samples_towards_the_data(tmp_path):
    """The real default command, stopped after 150 batches: samples get much closer to the digits' pixel statistics."""
    result = run_cli("train.py", ["--model", "gan", "--display_id", "0", "--seed", "0", "--max_iters", "9600"],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data_mean, data_hist = _pixel_stats(render_digits(0, 1000, seed=1)[0] / 255.0)
    opt = parse(["--model", "gan", "--seed", "0", "--display_id", "0"])
    seed_everything(0)
    recipe = build_recipe(opt, torch.device("cpu"))

    def distances():
        samples = (recipe.sample(torch.randn(1000, 100, generator=torch.Generator().manual_seed(9)))[:, 0] + 1) / 2
        mean, hist = _pixel_stats(samples.numpy())
        return np.abs(mean - data_mean).mean(), np.abs(hist - data_hist).sum() / 2

    before = distances()
    recipe.networks["G"].load_state_dict(_weights(tmp_path / "checkpoints" / "experiment_name", "G"))
    after = distances()
    # Measured: mean-image L1 0.37 -> 0.15, histogram distance 0.98 -> 0.64 (the thresholds leave room for the
    # float differences between machines and thread counts).
    assert after[0] < 0.6 * before[0] and after[1] < 0.85 * before[1], (before, after)
