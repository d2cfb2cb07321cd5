"""train.py and test.py through the real command line on tiny generated data."""
import json
import os

import torch

from conftest import TINY, TINY_TRAIN, run_cli, write_images
from gantool import cli


def _weights(run_dir, label="latest"):
    return {n: torch.load(os.path.join(run_dir, f"{label}_net_{n}.pth"), weights_only=True)
            for n in ("G_A", "G_B", "D_A", "D_B")}


def _same(a, b):
    return all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


def test_cycle_gan_train_then_test_then_single_direction(unaligned_root, tmp_path):
    train = run_cli("train.py", ["--model", "cycle_gan", "--dataroot", unaligned_root, "--name", "tiny", *TINY_TRAIN],
                    cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    run = tmp_path / "checkpoints" / "tiny"
    for f in ("latest_net_G_A.pth", "latest_net_G_B.pth", "latest_net_D_A.pth", "latest_net_D_B.pth",
              "latest_state.pth", "loss_log.txt", "train_opt.txt", "web/index.html"):
        assert (run / f).is_file(), f
    assert "G_A:" in (run / "loss_log.txt").read_text() and "resnet_6blocks" in (run / "train_opt.txt").read_text()

    test = run_cli("test.py", ["--model", "cycle_gan", "--dataroot", unaligned_root, "--name", "tiny", *TINY],
                   cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    page = tmp_path / "results" / "tiny" / "test_latest"
    html = (page / "index.html").read_text()
    for label in ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"):
        assert (page / "images" / f"img000_{label}.png").is_file() and f"img000_{label}.png" in html

    # The single-direction test model reads G_A through --model_suffix, on a folder of images.
    single = run_cli("test.py", ["--model", "test", "--model_suffix", "_A", "--no_dropout", "--dataroot",
                                 os.path.join(unaligned_root, "testA"), "--name", "tiny", *TINY], cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert sorted(os.listdir(page / "images"))[:2] == ["img000_fake.png", "img000_fake_A.png"]


def test_classic_pretrained_layout_loads_with_model_test(tmp_path):
    from gantool.networks import define_G

    folder = tmp_path / "checkpoints" / "horse2zebra_pretrained"
    folder.mkdir(parents=True)
    torch.save(define_G(3, 3, 8, "resnet_6blocks", "instance", False).state_dict(), folder / "latest_net_G.pth")
    write_images(tmp_path / "photos", 2, size=(37, 23))  # odd sizes: padded, translated, cropped back
    status = cli.test_main(["--model", "test", "--name", "horse2zebra_pretrained", "--no_dropout", "--dataroot",
                        str(tmp_path / "photos"), "--preprocess", "none", "--checkpoints_dir",
                        str(tmp_path / "checkpoints"), "--results_dir", str(tmp_path / "results"), "--gpu_ids", "-1",
                        "--ngf", "8", "--netG", "resnet_6blocks"])
    assert status == 0
    from PIL import Image

    out = tmp_path / "results" / "horse2zebra_pretrained" / "test_latest" / "images" / "img000_fake.png"
    assert Image.open(out).size == (37, 23)


def test_wrong_architecture_at_test_time_is_one_line(unaligned_root, tmp_path):
    from gantool.networks import define_G

    folder = tmp_path / "checkpoints" / "x_pretrained"
    folder.mkdir(parents=True)
    torch.save(define_G(3, 3, 8, "resnet_6blocks", "instance", False).state_dict(), folder / "latest_net_G.pth")
    result = run_cli("test.py", ["--model", "test", "--name", "x_pretrained", "--dataroot", unaligned_root,
                                 "--gpu_ids", "-1"], cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--netG resnet_6blocks --ngf 8" in result.stderr and "--no_dropout" in result.stderr


def test_user_mistakes_exit_2_without_traceback(tmp_path):
    cases = [
        (["--model", "nope"], "unknown --model 'nope'; choose from"),
        (["--netG", "nope", "--dataroot", str(tmp_path)], "unknown --netG 'nope'"),
        (["--gpu_ids", "0"] if not torch.cuda.is_available() else ["--gpu_ids", "99"], "--gpu_ids"),
        (["--dataroot", str(tmp_path)], "has no folder trainA"),
    ]
    for args, message in cases:
        result = run_cli("train.py", args + ["--display_id", "0"], cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_continue_train_without_checkpoint_is_clear(unaligned_root, tmp_path):
    status = cli.train_main(["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "none",
                         "--continue_train", *TINY_TRAIN])
    assert status == 2


def test_resume_is_exact(unaligned_root, tmp_path):
    """8 images in one run == 6 images, stop, then --continue_train to 8 (mid-epoch resume)."""
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--seed", "3", *TINY_TRAIN,
              "--n_epochs", "2", "--n_epochs_decay", "0", "--gan_mode", "lsgan"]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "6"]) == 0
    state = torch.load(tmp_path / "twice" / "latest_state.pth", weights_only=True)
    assert (state["epoch"], state["epoch_iter"], state["total_iters"]) == (2, 2, 6)
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    assert _same(_weights(tmp_path / "once"), _weights(tmp_path / "twice"))
    once = torch.load(tmp_path / "once" / "latest_state.pth", weights_only=True)
    twice = torch.load(tmp_path / "twice" / "latest_state.pth", weights_only=True)
    assert once["total_iters"] == twice["total_iters"] == 8
    assert torch.equal(once["optimizers"]["G"]["state"][0]["exp_avg"], twice["optimizers"]["G"]["state"][0]["exp_avg"])


def test_seed_makes_runs_identical_and_differs_otherwise(unaligned_root, tmp_path):
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN, "--n_epochs", "1",
            "--n_epochs_decay", "0"]
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert cli.train_main(args + ["--name", name, "--seed", seed]) == 0
    assert _same(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert not _same(_weights(tmp_path / "a"), _weights(tmp_path / "c"))


def test_grayscale_end_to_end_and_epoch_files(unaligned_root, tmp_path):
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "gray", "--input_nc", "1",
            "--output_nc", "1", "--save_epoch_freq", "1", *TINY_TRAIN]
    assert cli.train_main(args) == 0
    assert (tmp_path / "gray" / "1_net_G_A.pth").is_file() and (tmp_path / "gray" / "2_net_G_A.pth").is_file()
    assert torch.load(tmp_path / "gray" / "latest_net_G_A.pth", weights_only=True)["model.1.weight"].shape[1] == 1
    status = cli.test_main(["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "gray",
                        "--input_nc", "1", "--output_nc", "1", "--epoch", "1", "--results_dir",
                        str(tmp_path / "res"), *TINY])
    assert status == 0
    metrics = json.loads((tmp_path / "res" / "gray" / "test_1" / "metrics.json").read_text())
    assert metrics["images"] == 2


def test_cpu_run_never_touches_torch_cuda(unaligned_root, tmp_path, monkeypatch):
    """With --gpu_ids -1 no gantool code calls torch.cuda (PyTorch's own internals may ask is_available)."""
    import sys

    package = os.path.dirname(cli.__file__)

    def guard(name, original):
        def checked(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            assert not caller.startswith(package), f"torch.cuda.{name} called from {caller} on the CPU path"
            return original(*args, **kwargs)
        return checked

    for name in ("is_available", "device_count", "set_device", "get_rng_state", "set_rng_state", "synchronize",
                 "get_device_name", "current_device", "manual_seed", "empty_cache"):
        monkeypatch.setattr(torch.cuda, name, guard(name, getattr(torch.cuda, name)))
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "cpu", *TINY_TRAIN,
            "--n_epochs_decay", "0"]
    assert cli.train_main(args) == 0
    assert cli.train_main(args + ["--continue_train", "--n_epochs", "2"]) == 0
    assert cli.test_main(["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "cpu",
                      "--results_dir", str(tmp_path / "r"), *TINY]) == 0


def test_default_run_generates_the_builtin_dataset_and_reports_paired_quality(tmp_path):
    """No --dataroot: datasets/toy_day2night is generated in the working folder and test.py scores the result."""
    tiny = ["--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "32",
            "--crop_size", "32"]
    train = run_cli("train.py", ["--model", "cycle_gan", *tiny, "--max_iters", "3", "--display_id", "0"], cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    assert "generated the built-in dataset toy_day2night" in train.stdout
    assert (tmp_path / "datasets" / "toy_day2night" / "testA_truth").is_dir()
    assert (tmp_path / "checkpoints" / "experiment_name" / "latest_net_G_A.pth").is_file()
    test = run_cli("test.py", ["--model", "cycle_gan", *tiny, "--num_test", "3"], cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    assert "paired quality against the ground truth on 3 images" in test.stdout
    page = (tmp_path / "results" / "experiment_name" / "test_latest" / "index.html").read_text()
    assert "truth_B" in page and "PSNR" in page
    metrics = json.loads((tmp_path / "results" / "experiment_name" / "test_latest" / "metrics.json").read_text())
    assert metrics["images"] == 3 and 0 < metrics["average"]["l1"] < 1


def test_images_too_small_for_the_discriminator_get_a_clear_error(tmp_path):
    root = tmp_path / "small"
    for side in ("trainA", "trainB"):
        write_images(root / side, 2, size=(16, 16))
    result = run_cli("train.py", ["--dataroot", str(root), *TINY_TRAIN, "--load_size", "16", "--crop_size", "16"],
                     cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "16x16 images are too small" in result.stderr
