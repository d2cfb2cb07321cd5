"""Sizes checked for sanity (issue 22): one-line errors (status 2) for sizes and counts no run can use, and one
warning when preprocessing enlarges images more than ``MAX_UPSCALE`` times."""
import os
from typing import List, Tuple

import pytest

from conftest import TINY_TRAIN, run_cli, write_images
from gantool import cli, options
from gantool.data.transforms import MAX_IMAGE_SIDE, MAX_UPSCALE, Preprocess, upscale_factor
from gantool.inference.translate import check_tiling

pytestmark = pytest.mark.usefixtures("single_thread")


def unaligned(tmp, size=(32, 32)) -> str:
    root = os.path.join(tmp, "data")
    write_images(os.path.join(root, "trainA"), 2, size=size, seed=1)
    write_images(os.path.join(root, "trainB"), 2, size=size, seed=2)
    return root


def train_args(tmp, *extra) -> List[str]:
    return ["--dataroot", unaligned(tmp), "--checkpoints_dir", os.path.join(tmp, "ck"), "--name", "run", *TINY_TRAIN,
            "--max_iters", "2", *extra]


def gan_args(*extra) -> List[str]:
    """The built-in GAN on its generated digits (no --dataroot): --img_size is its option."""
    return ["--model", "gan", "--gpu_ids", "-1", "--display_id", "0", "--num_threads", "0", *extra]


def run(main, args, capsys) -> Tuple[int, str, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def error_line(main, args, capsys) -> str:
    """The one error line of ``main(args)``, run in-process (the code behind the scripts)."""
    status, _, err = run(main, args, capsys)
    return one_error(status, err)


def one_error(status: int, err: str) -> str:
    """The one error line of a status-2 run without a traceback."""
    assert status == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    return errors[0]


# ----------------------------------------------------------------- train.py options

@pytest.mark.parametrize("extra, message", [
    (["--img_size", "0"], "--img_size must be a positive number, got 0"),
    (["--img_size", "-28"], "--img_size must be a positive number, got -28"),
    (["--img_size", "20000"], f"--img_size 20000 is larger than {MAX_IMAGE_SIDE} pixels: one RGB image of that size "
                              "takes 4 GiB as floats"),
    (["--batch_size", "65537"], "--batch_size 65537 is larger than 65536, the most gantool accepts"),
], ids=["img_size_0", "img_size_negative", "img_size_too_large", "batch_size_too_large"])
def test_gan_sizes(extra, message, capsys):
    line = error_line(cli.train_main, gan_args(*extra), capsys)
    assert line.startswith(f"gantool: error: {message}"), line


@pytest.mark.parametrize("value", ["2.5", "0.5", "0", "-3", "nan"])
def test_max_dataset_size_must_be_a_whole_number(value, tmp_path, capsys):
    line = error_line(cli.train_main, train_args(str(tmp_path), "--max_dataset_size", value), capsys)
    assert line.endswith(f"--max_dataset_size must be a whole number of images, 1 or more, got {value}"), line


@pytest.mark.parametrize("value", ["1", "3", "3.0", "inf"])
def test_whole_max_dataset_sizes_pass(value, tmp_path):
    opt = options.parse(train_args(str(tmp_path), "--max_dataset_size", value))
    assert opt.max_dataset_size == float(value)


def test_num_threads_beyond_the_machine(tmp_path, capsys):
    cpus = options._usable_cpus()
    most = min(256, max(4 * cpus, 8))
    options.parse(train_args(str(tmp_path), "--num_threads", str(most)))  # the bound itself is allowed
    line = error_line(cli.train_main, train_args(str(tmp_path), "--num_threads", str(most + 1)), capsys)
    assert (f"--num_threads {most + 1} is more loader workers than this machine can use: it has {cpus} CPU" in line
            and f"so at most {most} (4 per CPU, 256 in all); each worker holds a copy of the dataset" in line), line


@pytest.mark.parametrize("cpus, most", [(1, 8), (3, 12), (1000, 256)])
def test_num_threads_bound_per_cpu_with_a_floor_and_a_cap(cpus, most, tmp_path, monkeypatch):
    monkeypatch.setattr(options, "_usable_cpus", lambda: cpus)
    assert options.parse(train_args(str(tmp_path), "--num_threads", str(most))).num_threads == most
    with pytest.raises(options.GantoolError, match=f"at most {most} "):
        options.parse(train_args(str(tmp_path), "--num_threads", str(most + 1)))


def test_the_pytorch_gan_preset_passes_on_one_cpu(monkeypatch):
    monkeypatch.setattr(options, "_usable_cpus", lambda: 1)
    assert options.parse(["--model", "gan", "--gpu_ids", "-1", "--preset", "pytorch_gan"]).num_threads == 8


def test_test_py_ignores_num_threads(tmp_path):
    # test.py loads one image at a time in the main process, as the classic test.py: any value is harmless
    opt = options.parse(["--dataroot", unaligned(str(tmp_path)), "--gpu_ids", "-1", "--num_threads", "100000"],
                        is_train=False)
    assert opt.num_threads == 0


def test_through_the_real_train_py(tmp_path):
    result = run_cli("train.py", gan_args("--img_size", "100000"), cwd=tmp_path)
    assert one_error(result.returncode, result.stderr).startswith(
        f"gantool: error: --img_size 100000 is larger than {MAX_IMAGE_SIDE} pixels")
    result = run_cli("train.py", train_args(str(tmp_path), "--max_dataset_size", "0.5"), cwd=tmp_path)
    assert "--max_dataset_size must be a whole number" in one_error(result.returncode, result.stderr)


# ----------------------------------------------------------------- gantool translate --tile --overlap

@pytest.mark.parametrize("extra, message", [
    (["--tile", "20000"], f"--tile 20000 is larger than {MAX_IMAGE_SIDE} pixels"),
    (["--tile", "0"], "--tile must be positive, got 0"),
    (["--overlap", "-1"], "--overlap must not be negative, got -1"),
    (["--tile", "256", "--overlap", "-8"], "--overlap must not be negative, got -8"),
    (["--tile", "256", "--overlap", "200"], "--overlap 200 is more than half of --tile 256: tiles would step by only "
     "56 pixels (--tile minus --overlap) while seams blend over at most half a tile (128), so the extra overlap only "
     "multiplies the tiles; use --overlap 128 or less"),
    (["--tile", "256", "--overlap", "256"], "--overlap 256 is more than half of --tile 256: tiles step by --tile minus "
     "--overlap pixels and would not advance; use --overlap 128 or less"),
], ids=["tile_too_large", "tile_0", "overlap_negative", "overlap_negative_with_tile", "overlap_above_half",
        "overlap_not_below_tile"])
def test_translate_tiling(extra, message, tmp_path, capsys):
    write_images(str(tmp_path / "in"), 1)
    missing = str(tmp_path / "no_model.pth")  # never read: the options are checked first
    status, _, err = run(cli.main, ["translate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-c", missing,
                                    *extra], capsys)
    assert message in one_error(status, err), err
    assert not (tmp_path / "out").exists()


def test_translate_overlap_defaults_to_at_most_half_a_tile():
    assert check_tiling(None, None) == 32 and check_tiling(512, None) == 32
    assert check_tiling(48, None) == 24  # --tile 48 alone works, as it did with the old default 32
    assert check_tiling(256, 128) == 128 and check_tiling(255, 127) == 127  # exactly half is the Hann-window case


def test_translate_through_the_real_command(tmp_path):
    code = "import sys; from gantool.cli import main; sys.exit(main())"
    (tmp_path / "run_gantool.py").write_text(code)
    write_images(str(tmp_path / "in"), 1)
    result = run_cli(str(tmp_path / "run_gantool.py"), ["translate", "in", "-o", "out", "-c", "x.pth", "--tile",
                                                        "64", "--overlap", "40"], cwd=tmp_path)
    assert "--overlap 40 is more than half of --tile 64" in one_error(result.returncode, result.stderr)


# ----------------------------------------------------------------- upscaling warning

@pytest.mark.parametrize("pre, size, factor", [
    (Preprocess("resize_and_crop", 512, 256), (40, 40), 12.8),
    (Preprocess("resize_and_crop", 32, 32), (20, 12), 32 / 12),
    (Preprocess("scale_width", 512, 256), (100, 10), 25.6),  # height at least --crop_size
    (Preprocess("scale_width_and_crop", 64, 64), (64, 64), 1.0),
    (Preprocess("crop", 64, 32), (40, 40), 1.0),
    (Preprocess("none", 64, 32), (4, 4), 1.0),
])
def test_upscale_factor(pre, size, factor):
    assert upscale_factor(size, pre) == pytest.approx(factor)


def test_a_large_upscale_is_told_once(tmp_path, capsys):
    # 6x6 pictures at --load_size 32: 5.3x; in both domains, over 2 epochs: one line
    args = train_args(str(tmp_path), "--max_iters", "0")
    root = args[1]
    for side, seed in (("A", 1), ("B", 2)):
        write_images(os.path.join(root, f"train{side}"), 2, size=(6, 6), seed=seed)
    status, out, err = run(cli.train_main, args, capsys)
    assert status == 0 and "gantool: training finished" in out, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [f"gantool: warning: --preprocess resize_and_crop --load_size 32 scales 2 of the 2 images in "
                        f"{root}/trainA up more than {MAX_UPSCALE}x (first: img000.png, 6x6, 5.3x), so they are mostly "
                        "interpolation; use a smaller --load_size and --crop_size, or larger images"], err


def test_up_to_the_limit_says_nothing(tmp_path, capsys):
    args = train_args(str(tmp_path), "--max_iters", "0")
    for side in "AB":
        write_images(os.path.join(args[1], f"train{side}"), 2, size=(8, 8))  # exactly 4x
    status, _, err = run(cli.train_main, args, capsys)
    assert status == 0 and "warning" not in err, err
