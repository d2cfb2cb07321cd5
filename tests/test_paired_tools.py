"""Data and evaluation tools of paired translation: combine_A_and_B, eval_paired (SSIM), pix2pix downloads."""
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, write_images
from gantool.metrics.paired_eval import evaluate, ssim
from test_scripts import BASH, fake_curl, run

COMBINE = os.path.join(REPO, "datasets", "combine_A_and_B.py")
EVAL = os.path.join(REPO, "scripts", "eval_paired.py")
MODEL = Path(REPO) / "scripts" / "download_pix2pix_model.sh"
DATASET = Path(REPO) / "scripts" / "download_pix2pix_dataset.sh"


def python(script, *args, cwd):
    """Run a script as users do (a fresh interpreter, no PYTHONPATH: it must find gantool from a checkout)."""
    return subprocess.run([sys.executable, script, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def in_process(script, *args, capsys):
    """The script's ``main(argv)`` in this interpreter (fast); returns (status, stdout, stderr)."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


# ------------------------------------------------------------------ combine_A_and_B
def test_combine_splits_into_side_by_side_images(tmp_path, capsys):
    for split, n in (("train", 3), ("test", 1)):
        write_images(tmp_path / "A" / split, n, size=(20, 12), seed=1)
        write_images(tmp_path / "B" / split, n, size=(20, 12), seed=2)
    status, out, err = in_process(COMBINE, "--fold_A", tmp_path / "A", "--fold_B", tmp_path / "B", "--fold_AB",
                                  tmp_path / "AB", capsys=capsys)
    assert status == 0, err
    assert "combined 3 pairs into" in out
    assert sorted(os.listdir(tmp_path / "AB" / "train")) == ["img000.png", "img001.png", "img002.png"]
    ab = pixels(tmp_path / "AB" / "test" / "img000.png")
    assert ab.shape == (12, 40, 3)
    assert (ab[:, :20] == pixels(tmp_path / "A" / "test" / "img000.png")).all()
    assert (ab[:, 20:] == pixels(tmp_path / "B" / "test" / "img000.png")).all()


def test_combine_flat_folders_with_use_AB(tmp_path, capsys):
    for side in "AB":
        write_images(tmp_path / side, 2, size=(8, 8), prefix=f"x_{side}_")
        for name in os.listdir(tmp_path / side):  # x_A_000.png -> x000_A.png
            os.rename(tmp_path / side / name, tmp_path / side / name.replace(f"x_{side}_", "x").replace(
                ".png", f"_{side}.png"))
    status, _, err = in_process(COMBINE, "--fold_A", tmp_path / "A", "--fold_B", tmp_path / "B", "--fold_AB",
                                tmp_path / "AB", "--use_AB", capsys=capsys)
    assert status == 0, err
    assert sorted(os.listdir(tmp_path / "AB")) == ["x000.png", "x001.png"]


def test_combine_lists_unmatched_names_and_sizes_and_writes_nothing(tmp_path):
    write_images(tmp_path / "A" / "train", 3, size=(16, 16))
    write_images(tmp_path / "B" / "train", 2, size=(16, 16))
    write_images(tmp_path / "B" / "train", 1, size=(16, 16), prefix="extra")
    write_images(tmp_path / "B" / "train", 1, size=(16, 10), prefix="img")  # img000 now 16x10 in B
    result = python(COMBINE, "--fold_A", tmp_path / "A", "--fold_B", tmp_path / "B", "--fold_AB", tmp_path / "AB",
                    cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0  # one line
    assert "1 only in" in message and "img002.png" in message and "extra000.png" in message
    assert "img000.png: A 16x16, B 16x10" in message
    assert not (tmp_path / "AB").exists()


# ------------------------------------------------------------------ eval_paired
def test_ssim_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g)
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64))
    noisy = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert (ssim(noisy, x) < 0.9).all() and torch.allclose(ssim(noisy, x), ssim(x, noisy))
    # Constant images: SSIM reduces to the luminance term (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.2, 0.6, 0.01**2
    value = ssim(torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)).item()
    assert value == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-6)
    assert ssim(torch.rand(1, 3, 5, 7), torch.rand(1, 3, 5, 7)).shape == (1,)  # smaller than the window


def _fake_results(folder, pairs):
    """A results folder like test.py's: truth = a gradient, output = truth + small error, input far off."""
    images = folder / "images"
    images.mkdir(parents=True)
    ramp = np.tile(np.linspace(0, 240, 16, dtype=np.uint8), (16, 1))
    for i in range(2):
        truth = np.stack([ramp, ramp.T, np.full_like(ramp, 100 + i)], -1)
        Image.fromarray(truth).save(images / f"s{i}_real_B.png")
        Image.fromarray(np.clip(truth.astype(int) + 6, 0, 255).astype(np.uint8)).save(images / f"s{i}_fake_B.png")
        Image.fromarray(255 - truth).save(images / f"s{i}_real_A.png")
    (folder / "metrics.json").write_text(json.dumps({"pairs": pairs}))


def test_eval_paired_table_csv_and_identity(tmp_path, capsys):
    results = tmp_path / "results" / "run" / "test_latest"
    _fake_results(results, [["fake_B", "real_B"]])
    status, out, err = in_process(EVAL, results, capsys=capsys)
    assert status == 0, err
    assert "fake_B vs real_B" in out and "real_A vs real_B" in out
    lines = (results / "paired_metrics.csv").read_text().splitlines()
    assert lines[0] == "results,method,compared,images,l1,psnr,ssim"
    output, identity = (dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:])
    assert output["method"] == "output" and identity["method"] == "identity" and output["images"] == "2"
    assert float(output["l1"]) == pytest.approx(6 / 255, abs=1e-3)  # every pixel off by 6 (none clipped here)
    assert float(output["psnr"]) == pytest.approx(20 * np.log10(255 / 6), abs=0.1)
    assert float(output["ssim"]) > 0.9 > float(identity["ssim"])

    # A folder of true images, named like the inputs, works as --truth too.
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    for i in range(2):
        os.link(results / "images" / f"s{i}_real_B.png", truth_dir / f"s{i}.png")
    rows = evaluate(str(results), fake="fake_B", truth=str(truth_dir))
    assert rows[0]["psnr"] == pytest.approx(float(output["psnr"]), abs=1e-4)


def test_eval_paired_user_mistakes(tmp_path, capsys):
    results = tmp_path / "r"
    _fake_results(results, [["fake_B", "truth_B"]])  # as CycleGAN on data without ground truth
    result = python(EVAL, results, cwd=tmp_path)
    assert result.returncode == 2 and "nothing to compare" in result.stderr and "Traceback" not in result.stderr
    os.remove(results / "images" / "s1_real_B.png")
    status, _, err = in_process(EVAL, results, "--truth", "real_B", capsys=capsys)
    assert status == 2 and "1 of the 2 'fake_B' images have no truth" in err
    assert in_process(EVAL, tmp_path / "missing", capsys=capsys)[0] == 2


# ------------------------------------------------------------------ download scripts (never the network)
@pytest.mark.parametrize("script", [MODEL, DATASET])
def test_pix2pix_scripts_syntax_and_usage(tmp_path, script):
    assert subprocess.run([BASH, "-n", str(script)]).returncode == 0
    assert os.access(script, os.X_OK)
    names = (["edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night"] if script == MODEL else
             ["facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day"])
    for args in ((), ("horse2zebra",)):
        result = run(script, *args, cwd=tmp_path)
        assert result.returncode == 2 and "usage:" in result.stderr
        assert all(name in result.stderr for name in names)
    assert list(tmp_path.iterdir()) == []


def _recording_curl(bin_dir, payload):
    """A fake curl that copies ``payload`` and logs the URL it was asked for."""
    path = fake_curl(bin_dir, payload)
    script = bin_dir / "curl"
    script.write_text(script.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$@" >> "{bin_dir}/urls"\n'))
    return path


def test_pix2pix_model_download(tmp_path):
    payload = tmp_path / "weights.pth"
    payload.write_bytes(b"weights")
    work = tmp_path / "work"
    work.mkdir()
    result = run(MODEL, "facades_label2photo", cwd=work, path=_recording_curl(tmp_path / "bin", payload))
    assert result.returncode == 0, result.stderr
    folder = work / "checkpoints" / "facades_label2photo_pretrained"
    assert sorted(p.name for p in folder.iterdir()) == ["latest_net_G.pth"]
    assert (folder / "latest_net_G.pth").read_bytes() == b"weights"
    assert ("http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth"
            in (tmp_path / "bin" / "urls").read_text())


def test_pix2pix_dataset_download_and_cityscapes(tmp_path):
    payload = tmp_path / "facades.tar.gz"
    member = tmp_path / "pair.jpg"
    member.write_bytes(b"ab")
    with tarfile.open(payload, "w:gz") as archive:
        archive.add(member, arcname="facades/train/1.jpg")
    work = tmp_path / "work"
    work.mkdir()
    result = run(DATASET, "facades", cwd=work, path=_recording_curl(tmp_path / "bin", payload))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (work / "datasets").iterdir()) == ["facades"]  # no temp folder or archive left
    assert (work / "datasets" / "facades" / "train" / "1.jpg").read_bytes() == b"ab"
    assert "pix2pix/datasets/facades.tar.gz" in (tmp_path / "bin" / "urls").read_text()
    failed = run(DATASET, "maps", cwd=work, path=fake_curl(tmp_path / "bin404"))
    assert failed.returncode != 0 and sorted(p.name for p in (work / "datasets").iterdir()) == ["facades"]
    city = run(DATASET, "cityscapes", cwd=work)
    assert city.returncode == 1 and "cityscapes-dataset.com" in city.stderr
    assert sorted(p.name for p in (work / "datasets").iterdir()) == ["facades"]
