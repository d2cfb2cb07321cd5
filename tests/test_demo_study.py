"""scripts/demo_study.py, the equal-wall-clock study of the demos' levers: a quick run of each scoring (paired
translation, digit samples) end to end, its equal-time plans, and its errors."""
import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

STUDY = str(Path(REPO) / "scripts" / "demo_study.py")


def _study(tmp_path, *args):
    out = tmp_path / "study.json"
    done = subprocess.run([sys.executable, STUDY, "--quick", "--seeds", "1", "--jobs", "2", "--work",
                           str(tmp_path / "w"), "--json", str(out), *args],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


def test_translation_study_quick(tmp_path):
    stdout, figures = _study(tmp_path, "--levers", "resize,idt0", "--combine", "resize+idt0")
    assert set(figures["means"]) == {"today", "resize", "idt0", "resize+idt0"}
    for run in figures["runs"]:
        assert 0 <= run["ssim"] <= 1 and run["psnr"] > 0 and run["steps"] >= 1
    assert "| resize+idt0 | `--netG resnet_6blocks_resize --lambda_identity 0` |" in stdout
    # Equal time: the step counts follow the measured step times (within the 3 % snap).
    step = figures["timing"]["s_per_step"]
    for name, plan in figures["plans"].items():
        ratio = step["today"] / step[name]
        if abs(ratio - 1) >= 0.03 and ratio > 1:
            assert plan["steps"] > figures["plans"]["today"]["steps"]
    assert "| identity (input as output) |" in stdout


def test_digit_sampler_study_quick(tmp_path):
    stdout, figures = _study(tmp_path, "--model", "gan", "--levers", "batch32")
    assert [r["lever"] for r in sorted(figures["runs"], key=lambda r: r["lever"])] == ["batch32", "today"]
    for run in figures["runs"]:
        assert 0 <= run["confident"] <= 1 and 1 <= run["classes_seen"] <= 10 and run["fid"] > 0
    # Equal time counts images: half the batch at about the same step time is about half the images.
    plans, step = figures["plans"], figures["timing"]["s_per_step"]
    expected = plans["today"]["steps"] * step["today"] / step["batch32"] / 2
    assert abs(plans["batch32"]["steps"] - expected) <= max(0.25 * expected, 32)
    assert "| confident | classes | largest class | FID (digits) |" in stdout


def test_base_before_reproduces_the_pre_study_demo(tmp_path):
    stdout, figures = _study(tmp_path, "--base", "before", "--levers", "resize")
    def used(run, option):
        text = (tmp_path / "w" / "checkpoints" / run / "train_opt.txt").read_text()
        return re.search(rf"^\s*{option}: (\S*)", text, re.M).group(1)

    assert (used("today_seed1", "netG"), used("today_seed1", "diffaug")) == ("resnet_6blocks", "")
    assert (used("resize_seed1", "netG"), used("resize_seed1", "diffaug")) == ("resnet_6blocks_resize", "")
    assert figures["plans"]["today"]["n_epochs"] == figures["plans"]["today"]["n_epochs_decay"]


def test_schedule_keeps_the_demos_share_of_constant_epochs():
    import importlib.util

    spec = importlib.util.spec_from_file_location("equal_time", Path(REPO) / "scripts" / "equal_time.py")
    equal_time = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(equal_time)
    assert equal_time.schedule(40, 12000, 1.0, 0.75) == {"n_epochs": 30, "n_epochs_decay": 10,
                                                          "max_dataset_size": 12000, "steps": 480000}
    assert equal_time.schedule(6, 12000, 1.0, 4 / 6)["n_epochs"] == 4
    slower = equal_time.schedule(3, 200, 0.5, 2 / 3)  # fewer images per epoch, the same 2 + 1 epochs
    assert (slower["n_epochs"], slower["n_epochs_decay"], slower["max_dataset_size"]) == (2, 1, 100)


def test_unknown_levers_are_refused():
    for args, message in ((["--levers", "nope"], "no lever nope for --model cycle_gan"),
                          (["--model", "gan", "--combine", "ema+resize"], "--combine ema+resize: no lever resize"),
                          (["--model", "gan", "--base", "before"], "--base before: for --model gan choose demo")):
        bad = subprocess.run([sys.executable, STUDY, *args], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_demo_pictures_rows_and_errors(tmp_path):
    from PIL import Image

    images = tmp_path / "res" / "images"
    images.mkdir(parents=True)
    colours = {"real_A": (200, 0, 0), "fake_B": (0, 200, 0), "truth_B": (0, 0, 200)}
    for stem in ("a0000", "a0001", "a0002"):
        for label, colour in colours.items():
            Image.new("RGB", (8, 8), colour).save(images / f"{stem}_{label}.png")
    (tmp_path / "res" / "metrics.json").write_text(json.dumps({"pairs": [["fake_B", "truth_B"]]}))
    script = str(Path(REPO) / "scripts" / "demo_pictures.py")
    out = tmp_path / "pic.png"
    done = subprocess.run([sys.executable, script, str(tmp_path / "res"), "-o", str(out), "--images", "2",
                           "--scale", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as pic:
        assert pic.size == (3 * 24 + 2 * 2, 14 + 2 * 24 + 2)  # 3 columns, 2 rows of 8x8 enlarged 3x, 2-px gaps
        # Column order input, output, truth; second row too.
        for row in range(2):
            y = 14 + row * 26 + 12
            assert [pic.getpixel((x, y)) for x in (12, 26 + 12, 52 + 12)] == list(colours.values())
    before = out.read_bytes()
    bad = subprocess.run([sys.executable, script, str(tmp_path / "res"), "-o", str(out), "--labels", "real_A,nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no a0000_nope.png" in bad.stderr and out.read_bytes() == before
    grid = subprocess.run([sys.executable, script, str(tmp_path / "res"), "-o", str(out), "--grid"],
                          capture_output=True, text=True, timeout=60)
    assert grid.returncode == 2 and "grid_fake.png" in grid.stderr
