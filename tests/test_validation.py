"""Validation during training (--val_freq), the best checkpoint (--keep_best) and test.py --metrics."""
import csv
import json
import os

import pytest
import torch

from conftest import TINY, TINY_TRAIN, run_cli, small_builtin
from gantool import Translator, cli

pytestmark = pytest.mark.usefixtures("single_thread")


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _weights(run_dir, label):
    return {n: torch.load(os.path.join(run_dir, f"{label}_net_{n}.pth"), weights_only=True)
            for n in ("G_A", "G_B", "D_A", "D_B")}


def _same(a, b):
    return all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


@pytest.fixture
def truth_root(tmp_path):
    return small_builtin(tmp_path, n_train=6, n_test=4)


def test_paired_validation_keeps_the_best_epoch_and_changes_nothing_else(truth_root, tmp_path):
    common = ["--dataroot", truth_root, "--checkpoints_dir", str(tmp_path), "--seed", "2", *TINY_TRAIN,
              "--n_epochs", "2", "--n_epochs_decay", "1", "--save_epoch_freq", "1", "--precision", "fp32"]
    assert cli.train_main(common + ["--name", "plain"]) == 0
    assert cli.train_main(common + ["--name", "val", "--val_freq", "1", "--keep_best", "psnr"]) == 0
    run = tmp_path / "val"
    # Validation forks the random state and restores normalisation buffers: the training is the same run.
    assert _same(_weights(tmp_path / "plain", "latest"), _weights(run, "latest"))
    rows = _csv(run / "val_log.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and all(r["images"] == "4" for r in rows)
    psnr = [float(r["psnr"]) for r in rows]
    assert all(0 < float(r["ssim"]) < 1 and 0 < float(r["l1"]) < 1 for r in rows)
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == "psnr" and best["epoch"] == 1 + psnr.index(max(psnr))
    assert best["value"] == pytest.approx(max(psnr), abs=1e-4)
    assert _same(_weights(run, "best"), _weights(run, str(best["epoch"])))  # that epoch's networks
    assert (run / "best_net_G_A.json").is_file()  # the architecture side file comes along
    log = (run / "loss_log.txt").read_text()
    assert "epoch 3: validation on 4 images: L1" in log and "PSNR" in log
    assert (run / "val_log.txt").read_text().count("validation on 4 images") == 3
    page = (run / "web" / "index.html").read_text()
    assert 'src="val_psnr.svg"' in page and (run / "web" / "val_psnr.svg").is_file()
    from cdp_browser import Browser, file_url

    with Browser() as b:  # as a user sees the page: the three score plots drawn, above the epochs
        b.open(file_url(run / "web" / "index.html"))
        plots = b.wait_for("""(() => {
            const imgs = Array.from(document.querySelectorAll('img.loss'));
            if (document.readyState !== 'complete' || !imgs.every(i => i.complete)) return null;
            const first = document.querySelector('h3').getBoundingClientRect().top;
            return imgs.map(i => [i.getAttribute('src'), i.naturalWidth, i.getBoundingClientRect().top < first]); })()""")
    assert [p[0] for p in plots] == ["loss.svg", "val_l1.svg", "val_psnr.svg", "val_ssim.svg"]
    assert all(width == 640 and above for _, width, above in plots)

    # test.py --epoch best and the Python API load the kept networks; the score is the validated one.
    test = run_cli("test.py", ["--dataroot", truth_root, "--checkpoints_dir", str(tmp_path), "--name", "val",
                               "--epoch", "best", "--precision", "fp32", *TINY], cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    scored = json.loads((tmp_path / "results" / "val" / "test_best" / "metrics.json").read_text())
    assert scored["average"]["psnr"] == pytest.approx(best["value"], abs=1e-3)
    translator = Translator.load(str(run), device="cpu", epoch="best")
    assert translator.net.state_dict()["model.1.weight"].equal(_weights(run, "best")["G_A"]["model.1.weight"])


def test_best_score_survives_continue_train(truth_root, tmp_path):
    common = ["--dataroot", truth_root, "--checkpoints_dir", str(tmp_path), "--seed", "4", *TINY_TRAIN,
              "--n_epochs", "2", "--n_epochs_decay", "1", "--precision", "fp32", "--keep_best", "l1"]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "9"]) == 0  # stops inside epoch 2
    state = torch.load(tmp_path / "twice" / "latest_state.pth", weights_only=True)
    assert state["best"]["metric"] == "l1" and state["best"]["epoch"] == 1
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    once, twice = (json.loads((tmp_path / n / "best.json").read_text()) for n in ("once", "twice"))
    assert once == twice
    assert _same(_weights(tmp_path / "once", "best"), _weights(tmp_path / "twice", "best"))
    # --keep_best without --val_freq validates every epoch
    assert [r["epoch"] for r in _csv(tmp_path / "once" / "val_log.csv")] == ["1", "2", "3"]


def test_keep_best_fid_adds_fid_to_the_automatic_metrics(truth_root, tmp_path):
    """The README's `--val_freq 1 --keep_best fid` on data with ground truth: paired scores and FID."""
    assert cli.train_main(["--dataroot", truth_root, "--checkpoints_dir", str(tmp_path), "--name", "f", *TINY_TRAIN,
                           "--n_epochs", "1", "--n_epochs_decay", "0", "--keep_best", "fid", "--extractor", "toy_scenes"]) == 0
    (row,) = _csv(tmp_path / "f" / "val_log.csv")
    assert {"l1", "psnr", "ssim", "fid"} <= set(row) and "kid" not in row
    assert json.loads((tmp_path / "f" / "best.json").read_text())["metric"] == "fid"


def test_fid_validation_of_an_unconditional_gan(tmp_path):
    args = ["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "g", "--n_epochs", "2",
            "--n_epochs_decay", "0", "--max_dataset_size", "256", "--display_id", "0", "--val_freq", "1",
            "--val_max_images", "64", "--keep_best", "fid", "--seed", "1"]
    assert cli.train_main(args) == 0
    rows = _csv(tmp_path / "g" / "val_log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(float(r["fid"]) > 0 and r["extractor"].startswith("gantool-digits") for r in rows)
    assert {"kid", "kid_std"} <= set(rows[0])
    best = json.loads((tmp_path / "g" / "best.json").read_text())
    assert best["extractor"].startswith("gantool-digits") and best["value"] == pytest.approx(
        min(float(r["fid"]) for r in rows), rel=1e-5)
    assert (tmp_path / "g" / "best_net_G.pth").is_file()


def test_test_py_metrics_fid_kid_into_metrics_json_and_page(tmp_path):
    args = ["--model", "gan", "--name", "digits_gan_pretrained", "--num_test", "100", "--results_dir",
            str(tmp_path), "--metrics", "fid,kid", "--seed", "1"]
    assert cli.test_main(args) == 0
    folder = tmp_path / "digits_gan_pretrained" / "test_latest"
    saved = json.loads((folder / "metrics.json").read_text())["distribution"]
    assert saved["extractor"].startswith("gantool-digits") and saved["fake_images"] == 100
    assert saved["real_images"] == 1000 and saved["fid"] > 0 and "kid_std" in saved
    assert "FID" in (folder / "index.html").read_text()
    # gantool eval reads the same results folder against the same real digits and agrees.
    from gantool.metrics.digit_eval import builtin_test_digits
    from gantool.viz.images import save_image, tensor2im

    real = tmp_path / "real"
    real.mkdir()
    for i, image in enumerate(builtin_test_digits()):
        save_image(tensor2im(image * 2 - 1), str(real / f"{i:04d}.png"))
    out = tmp_path / "eval.json"
    assert cli.eval_main(["fid,kid", str(real), str(folder), "--extractor", "digits", "--json", str(out),
                          "--no_cache"]) == 0
    again = json.loads(out.read_text())
    assert again["fid"] == pytest.approx(saved["fid"], rel=1e-3) and again["fake_images"] == 100


@pytest.mark.parametrize("extra, message", [
    (["--keep_best", "accuracy"], "--keep_best accuracy: this run reports l1, psnr, ssim"),
    (["--val_metrics", "psnr,bogus"], "unknown metric 'bogus'"),
    (["--val_freq", "-1"], "--val_freq must not be negative"),
    (["--val_freq", "1", "--val_dataroot", "nowhere"], "--val_dataroot nowhere is not a folder"),
])
def test_validation_mistakes_are_one_line_before_training(truth_root, tmp_path, extra, message):
    result = run_cli("train.py", ["--dataroot", truth_root, "--name", "bad", *TINY_TRAIN, *extra], cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints" / "bad" / "latest_net_G_A.pth").exists()


def test_paired_metrics_need_truth_and_a_split_must_exist(unaligned_root, tmp_path):
    result = run_cli("train.py", ["--dataroot", unaligned_root, "--name", "nt", *TINY_TRAIN, "--val_freq", "1",
                                  "--val_metrics", "psnr"], cwd=tmp_path)
    assert result.returncode == 2 and "has no ground truth" in result.stderr
    for side in ("testA", "testB"):
        for f in os.listdir(os.path.join(unaligned_root, side)):
            os.remove(os.path.join(unaligned_root, side, f))
        os.rmdir(os.path.join(unaligned_root, side))
    result = run_cli("train.py", ["--dataroot", unaligned_root, "--name", "ns", *TINY_TRAIN, "--val_freq", "1"],
                     cwd=tmp_path)
    assert result.returncode == 2 and "has no val/ or test/ folder" in result.stderr


TINY_UNET = ["--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--netG", "unet_64", "--load_size", "32", "--crop_size",
             "32", "--num_threads", "0", "--display_id", "0", "--n_epochs", "1", "--n_epochs_decay", "0"]


@pytest.mark.parametrize("recipe", ["pix2pix", "colorization", "dcgan"])
def test_every_gan_recipe_validates(recipe, tmp_path):
    from test_pix2pix import write_aligned

    from conftest import write_images

    root = tmp_path / "data"
    if recipe == "pix2pix":
        write_aligned(root / "train", 3, seed=1)
        write_aligned(root / "val", 3, seed=2)  # val/ is preferred over test/
        write_aligned(root / "test", 2, seed=3)
        args = ["--dataroot", str(root), *TINY_UNET, "--val_metrics", "psnr,fid", "--extractor", "toy_scenes"]
        expected = {"psnr", "fid"}
    elif recipe == "colorization":
        write_images(root / "train", 3, size=(32, 32), seed=1)
        write_images(root / "test", 3, size=(32, 32), seed=2)
        args = ["--dataroot", str(root), *TINY_UNET]
        expected = {"l1", "psnr", "ssim"}
    else:
        args = ["--max_dataset_size", "128", "--display_id", "0", "--n_epochs", "1", "--n_epochs_decay", "0",
                "--val_max_images", "32"]
        expected = {"fid", "kid", "kid_std"}
    assert cli.train_main(["--model", recipe, "--checkpoints_dir", str(tmp_path), "--name", "r", "--val_freq", "1",
                           *args]) == 0
    (row,) = _csv(tmp_path / "r" / "val_log.csv")
    assert expected <= {k for k, v in row.items() if v}
    assert all(float(row[m]) > 0 for m in expected - {"kid_std"})  # (one subset of all 32 images: std 0)
    assert row["images"] == ("3" if recipe != "dcgan" else "32")
    assert ("extractor" in row) == bool(expected & {"fid", "kid"})


def test_validation_plots_on_the_page_and_the_dashboard(tmp_path):
    from gantool.viz.visualizer import TrainingVisualizer

    class Recorder:
        def __init__(self):
            self.calls = []

        def line(self, **kwargs):
            self.calls.append(kwargs)

        def image(self, *args, **kwargs):
            pass

        text = image

    v = TrainingVisualizer(str(tmp_path), "run", display_id=0, log=lambda m: None)
    v.vis = Recorder()  # as if a server had been reached at start
    v.display_current_results({"fake_B": torch.zeros(1, 3, 8, 8)}, 1, save_result=True)
    for epoch, fid in ((1, 40.0), (2, 31.5), (3, 35.0)):
        v.plot_validation(epoch, {"fid": fid, "kid": fid / 1000})
    page = (tmp_path / "web" / "index.html").read_text()
    assert page.index('src="loss.svg"') < page.index('src="val_fid.svg"') < page.index('src="val_kid.svg"')
    svg = (tmp_path / "web" / "val_fid.svg").read_text()
    assert "validation fid" in svg and ("<polyline" in svg or "<path" in svg)
    fid_calls = [c for c in v.vis.calls if c["win"] == "0_val_fid"]
    assert [c["update"] for c in fid_calls] == [None, "append", "append"]
    assert fid_calls[0]["X"].tolist() == [1.0] and fid_calls[2]["Y"].tolist() == [35.0]
    assert json.loads((tmp_path / "web" / "val_fid.json").read_text())["y"] == [[40.0], [31.5], [35.0]]
