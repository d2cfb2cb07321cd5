"""The catalogue of bad input (issue 9): one row per mistake, each run through the command line.

Every row builds its files, runs ``train.py`` (or ``test.py``) and checks the exit status and the one
line the user sees. Errors: status 2, the message, no traceback. Warnings (unusable files skipped,
images converted or cut): status 0 (training ran to its end) and the warning printed once, naming the
file. Rows run in-process through ``gantool.cli`` (the code behind the scripts: ``train.py`` only calls
it) for speed; the rows marked ``subprocess`` also run the real ``train.py``/``test.py`` in a fresh
interpreter, where any uncaught exception would print a traceback.
"""
import os
from typing import Callable, List, NamedTuple, Tuple

import pytest
import torch
from PIL import Image

from conftest import TINY, TINY_TRAIN, run_cli, write_images
from gantool import cli

pytestmark = pytest.mark.usefixtures("single_thread")


# ----------------------------------------------------------------- files

def unaligned(tmp, n=2, size=(32, 32), name="data") -> str:
    """A tiny unaligned dataset: ``n`` images in trainA/ and trainB/."""
    root = os.path.join(tmp, name)
    write_images(os.path.join(root, "trainA"), n, size=size, seed=1)
    write_images(os.path.join(root, "trainB"), n, size=size, seed=2)
    return root


def truncate(path: str, keep: float = 0.6) -> None:
    data = open(path, "rb").read()
    open(path, "wb").write(data[: int(len(data) * keep)])


def jpeg(path: str, size=(32, 32), mode="RGB") -> str:
    write_images(os.path.dirname(path), 1, size=size, prefix="tmp_jpeg_")
    src = os.path.join(os.path.dirname(path), "tmp_jpeg_000.png")
    Image.open(src).convert(mode).save(path, "JPEG")
    os.remove(src)
    return path


def damage_inside(path: str) -> None:
    """Overwrite the middle of a PNG's pixel data: the header and the end are intact, decoding fails."""
    data = bytearray(open(path, "rb").read())
    start = data.index(b"IDAT") + 8
    data[start:start + 40] = bytes(40)
    open(path, "wb").write(bytes(data))


def train_args(tmp, root, *extra) -> List[str]:
    return ["--dataroot", root, "--checkpoints_dir", os.path.join(tmp, "ck"), "--name", "run", *TINY_TRAIN,
            "--max_iters", "2", *extra]


def trained_run(tmp) -> Tuple[str, str]:
    """A finished tiny CycleGAN run; returns (dataroot, checkpoints_dir)."""
    root = unaligned(tmp)
    assert cli.train_main(train_args(tmp, root)) == 0
    return root, os.path.join(tmp, "ck")


def classic_checkpoint(tmp, name="x_pretrained") -> str:
    """A classic-layout generator file (no gantool side file), resnet_6blocks with 8 filters."""
    from gantool.networks import define_G

    folder = os.path.join(tmp, "ck", name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "latest_net_G.pth")
    torch.save(define_G(3, 3, 8, "resnet_6blocks", "instance", False).state_dict(), path)
    return path


def model_test_args(tmp, root, name="x_pretrained", *extra) -> List[str]:
    return ["--model", "test", "--no_dropout", "--name", name, "--dataroot", root, "--checkpoints_dir",
            os.path.join(tmp, "ck"), "--results_dir", os.path.join(tmp, "res"), *TINY[:2], *extra]


# ----------------------------------------------------------------- setups (tmp -> (script, args))

def s_dataroot_without_value(tmp):
    return "train.py", ["--dataroot"]


def s_dataroot_missing(tmp):
    return "train.py", ["--dataroot", os.path.join(tmp, "nowhere"), *TINY_TRAIN]


def s_image_folder_without_dataroot(tmp):
    return "train.py", ["--model", "gan", "--dataset_mode", "image_folder", *TINY_TRAIN[:2]]


def s_no_trainA(tmp):
    root = unaligned(tmp)
    os.rename(os.path.join(root, "trainA"), os.path.join(root, "train_A"))
    return "train.py", train_args(tmp, root)


def s_no_trainB(tmp):
    root = unaligned(tmp)
    os.rename(os.path.join(root, "trainB"), os.path.join(root, "B"))
    return "train.py", train_args(tmp, root)


def s_aligned_without_train(tmp):
    return "train.py", train_args(tmp, unaligned(tmp), "--dataset_mode", "aligned")


def s_empty_domain(tmp):
    root = unaligned(tmp)
    for f in os.listdir(os.path.join(root, "trainB")):
        os.remove(os.path.join(root, "trainB", f))
    open(os.path.join(root, "trainB", "notes.txt"), "w").write("not an image")
    return "train.py", train_args(tmp, root)


def s_only_unusable_files(tmp):
    root = unaligned(tmp)
    for f in os.listdir(os.path.join(root, "trainB")):
        open(os.path.join(root, "trainB", f), "wb").close()
    return "train.py", train_args(tmp, root)


def s_strict_zero_byte(tmp):
    root = unaligned(tmp)
    open(os.path.join(root, "trainA", "empty.png"), "wb").close()
    return "train.py", train_args(tmp, root, "--strict_data")


def s_strict_truncated_jpeg(tmp):
    root = unaligned(tmp)
    truncate(jpeg(os.path.join(root, "trainB", "cut.jpg")))
    return "train.py", train_args(tmp, root, "--strict_data")


def s_crop_of_small_images(tmp):
    return "train.py", train_args(tmp, unaligned(tmp, size=(24, 40)), "--preprocess", "crop")


def s_aligned_too_narrow(tmp):
    root = os.path.join(tmp, "data")
    write_images(os.path.join(root, "train"), 2, size=(1, 32))
    return "train.py", train_args(tmp, root, "--model", "pix2pix", "--netG", "resnet_6blocks")


def s_crop_larger_than_load(tmp):
    return "train.py", train_args(tmp, unaligned(tmp), "--load_size", "32", "--crop_size", "64")


def s_load_size_typo(tmp):
    # The typo that once grew past 6 GiB within seconds, resizing a 32x32 image to 200000x200000.
    return "train.py", train_args(tmp, unaligned(tmp), "--load_size", "200000", "--crop_size", "32")


def s_option(*extra):
    return lambda tmp: ("train.py", train_args(tmp, unaligned(tmp), *extra))


def s_tiny_images_upscaled(tmp):
    return "train.py", train_args(tmp, unaligned(tmp, size=(6, 6)))


def s_translate(*extra):
    """gantool translate of one image with the shipped model and ``extra`` options."""
    def setup(tmp):
        write_images(os.path.join(tmp, "in"), 1)
        return "gantool", ["translate", os.path.join(tmp, "in"), "-o", os.path.join(tmp, "out"), "-c",
                           "toy_day2night_pretrained", *extra]
    return setup


def s_checkpoint_write_refused(tmp):
    # A folder where a checkpoint file goes: the write fails as on a full disk (tests/test_disk_full.py has those).
    os.makedirs(os.path.join(tmp, "ck", "run", "latest_net_G_A.pth"))
    return "train.py", train_args(tmp, unaligned(tmp))


def s_gpu_without_gpu(tmp):
    gpu = "99" if torch.cuda.is_available() else "0"
    return "train.py", train_args(tmp, unaligned(tmp), "--gpu_ids", gpu)


def s_continue_without_checkpoint(tmp):
    return "train.py", train_args(tmp, unaligned(tmp), "--continue_train")


def s_continue_other_architecture(tmp):
    root, _ = trained_run(tmp)
    return "train.py", train_args(tmp, root, "--continue_train", "--netG", "resnet_9blocks")


def s_test_other_architecture(tmp):
    classic_checkpoint(tmp)
    return "test.py", model_test_args(tmp, unaligned(tmp), "x_pretrained", "--netG", "resnet_9blocks")


def s_results_dir_under_a_file(tmp):
    classic_checkpoint(tmp, "x_pretrained")
    open(os.path.join(tmp, "a_file"), "w").write("in the way")
    args = model_test_args(tmp, unaligned(tmp), "x_pretrained", "--netG", "resnet_6blocks", "--ngf", "8")
    args[args.index("--results_dir") + 1] = os.path.join(tmp, "a_file", "res")
    return "test.py", args


def s_checkpoints_dir_under_a_file(tmp):
    open(os.path.join(tmp, "a_file"), "w").write("in the way")
    args = train_args(tmp, unaligned(tmp))
    args[args.index("--checkpoints_dir") + 1] = os.path.join(tmp, "a_file", "ck")
    return "train.py", args


def s_truncated_checkpoint(tmp):
    truncate(classic_checkpoint(tmp), 0.5)
    return "test.py", model_test_args(tmp, unaligned(tmp), "x_pretrained", "--netG", "resnet_6blocks", "--ngf", "8")


def s_pickled_checkpoint(tmp):
    path = classic_checkpoint(tmp)
    torch.save({"weights": torch.zeros(1), "code": os.getcwd}, path)  # a pickled function
    return "test.py", model_test_args(tmp, unaligned(tmp), "x_pretrained")


def s_unwritable_checkpoints_dir(tmp):
    blocker = os.path.join(tmp, "a_file")
    open(blocker, "w").write("a file where a folder should be")  # refuses writes even to root
    args = train_args(tmp, unaligned(tmp))
    args[args.index("--checkpoints_dir") + 1] = os.path.join(blocker, "ck")
    return "train.py", args


def s_worker_strict_damaged(tmp):
    root = unaligned(tmp)
    damage_inside(os.path.join(root, "trainA", "img001.png"))
    return "train.py", train_args(tmp, root, "--strict_data", "--num_threads", "1", "--serial_batches",
                                  "--max_iters", "0")


# warnings and conversions: training goes on

def s_non_image_files(tmp):
    root = unaligned(tmp)
    open(os.path.join(root, "trainA", "readme.txt"), "w").write("skipped silently: the extension says so")
    open(os.path.join(root, "trainA", "Thumbs.db"), "wb").write(b"\0" * 10)
    open(os.path.join(root, "trainB", "notes.jpg"), "w").write("named like a JPEG, but text")
    return "train.py", train_args(tmp, root)


def s_zero_byte_png(tmp):
    root = unaligned(tmp)
    open(os.path.join(root, "trainA", "empty.png"), "wb").close()
    return "train.py", train_args(tmp, root)


def _bomb(root) -> None:
    # 9500 x 9500 = 90.25 M pixels, just above Pillow's 89.5 M limit; 1-bit, so 11 MB to make and a small PNG.
    Image.new("1", (9500, 9500)).save(os.path.join(root, "trainA", "huge.png"))


def s_decompression_bomb(tmp):
    root = unaligned(tmp)
    _bomb(root)
    return "train.py", train_args(tmp, root)


def s_strict_decompression_bomb(tmp):
    root = unaligned(tmp)
    _bomb(root)
    return "train.py", train_args(tmp, root, "--strict_data")


def s_truncated_jpeg(tmp):
    root = unaligned(tmp)
    truncate(jpeg(os.path.join(root, "trainB", "cut.jpg")))
    return "train.py", train_args(tmp, root)


def s_truncated_png(tmp):
    root = unaligned(tmp)
    write_images(os.path.join(root, "trainA"), 1, prefix="cut")
    truncate(os.path.join(root, "trainA", "cut000.png"), 0.9)
    return "train.py", train_args(tmp, root)


def s_damaged_inside(tmp):
    root = unaligned(tmp)
    damage_inside(os.path.join(root, "trainA", "img001.png"))
    return "train.py", train_args(tmp, root, "--max_iters", "0")  # 2 epochs: the file is met twice


def s_other_modes(tmp):
    root = unaligned(tmp)
    folder = os.path.join(root, "trainA")
    rgb = Image.open(os.path.join(folder, "img000.png"))
    rgb.convert("L").save(os.path.join(folder, "gray.png"))
    rgb.convert("RGBA").save(os.path.join(folder, "rgba.png"))
    rgb.convert("P").save(os.path.join(folder, "palette.png"))
    rgb.convert("CMYK").save(os.path.join(folder, "cmyk.jpg"))
    Image.fromarray((torch.arange(32 * 32).reshape(32, 32) * 60).numpy().astype("uint16")).save(
        os.path.join(folder, "sixteen.png"))
    return "train.py", train_args(tmp, root, "--max_iters", "7", "--serial_batches")


def s_gray_dataset_from_colour_files(tmp):
    return "train.py", train_args(tmp, unaligned(tmp), "--input_nc", "1", "--output_nc", "1")


def s_small_images_upscaled(tmp):
    return "train.py", train_args(tmp, unaligned(tmp, size=(20, 12)))


def s_aligned_odd_width(tmp):
    root = os.path.join(tmp, "data")
    write_images(os.path.join(root, "train"), 2, size=(65, 32))
    return "train.py", train_args(tmp, root, "--model", "pix2pix", "--netG", "resnet_6blocks")


def s_strict_aligned_odd_width(tmp):
    script, args = s_aligned_odd_width(tmp)
    return script, args + ["--strict_data"]


def s_spaces_and_non_ascii(tmp):
    root = unaligned(tmp, name="my data/données ü 画像")
    args = train_args(tmp, root)
    args[args.index("--checkpoints_dir") + 1] = os.path.join(tmp, "check points é")
    return "train.py", args


class Row(NamedTuple):
    id: str
    setup: Callable
    message: str  # expected in the one error line (status 2) or the one warning line (status 0)
    status: int
    subprocess: bool = False  # also run the real script in a fresh interpreter
    before_training: bool = True  # an error row: stops before the first training step


ROWS = [
    # ---- errors: status 2, one line, no traceback
    Row("dataroot_without_value", s_dataroot_without_value, "argument --dataroot: expected one argument", 2),
    Row("dataroot_missing", s_dataroot_missing, "nowhere is not a folder", 2),
    Row("image_folder_without_dataroot", s_image_folder_without_dataroot, "image_folder needs --dataroot", 2),
    Row("no_trainA", s_no_trainA, "has no folder trainA; the unaligned mode expects trainA/ and trainB/", 2, True),
    Row("no_trainB_lists_layouts", s_no_trainB, "has no folder trainB; the unaligned mode expects trainA/ and "
        "trainB/ (see README); other layouts: train/ of A|B pairs (--dataset_mode aligned)", 2),
    Row("aligned_without_train", s_aligned_without_train, "has no folder train; the aligned mode expects train/", 2),
    Row("empty_domain", s_empty_domain, "trainB has no images (looked for .jpg", 2),
    Row("only_unusable_files", s_only_unusable_files, "2 of the 2 image files in", 2),
    Row("strict_zero_byte", s_strict_zero_byte, "empty.png: empty file (0 bytes)); --strict_data refuses them", 2,
        True),
    Row("strict_truncated_jpeg", s_strict_truncated_jpeg, "cut.jpg: truncated or damaged JPEG file", 2),
    Row("crop_of_small_images", s_crop_of_small_images, "2 of the 2 images in", 2),
    Row("aligned_too_narrow", s_aligned_too_narrow, "is 1 pixel wide: too narrow to hold A and B", 2),
    Row("strict_aligned_odd_width", s_strict_aligned_odd_width, "not twice as wide as high (first: img000.png, "
        "65x32); the aligned mode cuts each into a left (A) and a right (B) half, dropping the last column of an odd "
        "width; --strict_data stops here", 2),
    Row("crop_larger_than_load", s_crop_larger_than_load, "--crop_size 64 is larger than --load_size 32", 2),
    Row("load_size_typo", s_load_size_typo, "--load_size 200000 is larger than 16384 pixels", 2, True),
    Row("results_dir_under_a_file", s_results_dir_under_a_file, "a_file is a file, not a folder; choose another "
        "--results_dir", 2, True),
    Row("checkpoints_dir_under_a_file", s_checkpoints_dir_under_a_file, "a_file is a file, not a folder; choose "
        "another --checkpoints_dir", 2),
    Row("memory_crop_size_typo", s_option("--load_size", "8192", "--crop_size", "8192"), "GiB of memory and", 2),
    Row("memory_crop_size_typo_says_what_fits", s_option("--load_size", "8192", "--crop_size", "8192"),
        "it grows with --crop_size 8192 and --batch_size 1", 2),
    Row("memory_ngf_typo", s_option("--ngf", "6400"), "the networks alone need", 2),
    Row("img_size_0", s_option("--model", "gan", "--img_size", "0"), "--img_size must be a positive number, got 0", 2),
    Row("img_size_too_large", s_option("--model", "gan", "--img_size", "100000"),
        "--img_size 100000 is larger than 16384 pixels", 2),
    Row("batch_size_too_large", s_option("--batch_size", "100000"),
        "--batch_size 100000 is larger than 65536, the most gantool accepts", 2),
    Row("num_threads_too_many", s_option("--num_threads", "1000"),
        "--num_threads 1000 is more loader workers than this machine can use: it has", 2),
    Row("max_dataset_size_fraction", s_option("--max_dataset_size", "2.5"),
        "--max_dataset_size must be a whole number of images, 1 or more, got 2.5", 2),
    Row("max_dataset_size_below_one", s_option("--max_dataset_size", "0.5"),
        "--max_dataset_size must be a whole number of images, 1 or more, got 0.5", 2),
    Row("translate_tile_too_large", s_translate("--tile", "20000"), "--tile 20000 is larger than 16384 pixels", 2),
    Row("translate_overlap_negative", s_translate("--overlap", "-1"), "--overlap must not be negative, got -1", 2),
    Row("translate_overlap_above_half_tile", s_translate("--tile", "256", "--overlap", "200"),
        "--overlap 200 is more than half of --tile 256", 2),
    Row("translate_overlap_not_below_tile", s_translate("--tile", "256", "--overlap", "256"),
        "would not advance; use --overlap 128 or less", 2),
    Row("batch_size_0", s_option("--batch_size", "0"), "--batch_size must be a positive number, got 0", 2, True),
    Row("batch_size_negative", s_option("--batch_size", "-3"), "--batch_size must be a positive number, got -3", 2),
    Row("n_epochs_negative", s_option("--n_epochs", "-1"), "--n_epochs must not be negative, got -1", 2),
    Row("num_threads_negative", s_option("--num_threads", "-2"), "--num_threads must not be negative, got -2", 2),
    Row("lr_negative", s_option("--lr", "-0.1"), "--lr must be positive, got -0.1", 2),
    Row("load_size_negative", s_option("--load_size", "-5"), "--load_size must be a positive number, got -5", 2),
    Row("batch_size_not_a_number", s_option("--batch_size", "two"), "argument --batch_size: invalid int value", 2),
    Row("unknown_model", s_option("--model", "nope"), "unknown --model 'nope'; choose from", 2),
    Row("unknown_netG", s_option("--netG", "nope"), "unknown --netG 'nope'; choose from", 2),
    Row("unknown_netD", s_option("--netD", "nope"), "unknown --netD 'nope'; choose from", 2),
    Row("unknown_dataset_mode", s_option("--dataset_mode", "nope"), "unknown --dataset_mode 'nope'; choose from", 2),
    Row("unknown_gan_mode", s_option("--gan_mode", "nope"), "unknown --gan_mode 'nope'; choose from", 2),
    Row("unknown_norm", s_option("--norm", "nope"), "unknown --norm 'nope'; choose from", 2),
    Row("gpu_ids_without_gpu", s_gpu_without_gpu, "--gpu_ids", 2),
    Row("continue_without_checkpoint", s_continue_without_checkpoint, "--continue_train: nothing to resume", 2),
    Row("continue_other_architecture", s_continue_other_architecture, "--netG resnet_6blocks", 2),
    Row("test_other_architecture", s_test_other_architecture, "it looks like it was saved with --netG resnet_6blocks "
        "--ngf 8", 2),
    Row("truncated_checkpoint", s_truncated_checkpoint, "is not a readable PyTorch file (truncated or corrupt?)", 2),
    Row("pickled_checkpoint", s_pickled_checkpoint, "was refused: it contains pickled Python objects, not just "
        "weights, and loading it could run code", 2, True),
    Row("unwritable_checkpoints_dir", s_unwritable_checkpoints_dir, "choose another --checkpoints_dir", 2),
    # damage inside a file whose header and end are intact is found when it is decoded: in training
    Row("strict_damaged_file_in_a_worker", s_worker_strict_damaged, "img001.png", 2, before_training=False),
    Row("checkpoint_write_refused", s_checkpoint_write_refused, "latest_net_G_A.pth: Is a directory; the previous "
        "file is unchanged", 2, before_training=False),
    # ---- warnings and conversions: status 0, training finished
    Row("non_image_files", s_non_image_files, "skipping {root}/trainB/notes.jpg: not an image file", 0),
    Row("zero_byte_png", s_zero_byte_png, "skipping {root}/trainA/empty.png: empty file (0 bytes)", 0, True),
    Row("decompression_bomb", s_decompression_bomb, "skipping {root}/trainA/huge.png: 9500x9500 = 90 M pixels, more "
        "than the 89 M Pillow decodes safely", 0),
    Row("strict_decompression_bomb", s_strict_decompression_bomb, "huge.png: 9500x9500 = 90 M pixels, more than the "
        "89 M Pillow decodes safely (its decompression-bomb limit)); --strict_data refuses them", 2),
    Row("truncated_jpeg", s_truncated_jpeg, "skipping {root}/trainB/cut.jpg: truncated or damaged JPEG file", 0),
    Row("truncated_png", s_truncated_png, "skipping {root}/trainA/cut000.png: truncated or damaged PNG file", 0),
    Row("damaged_inside", s_damaged_inside, "skipping {root}/trainA/img001.png:", 0),
    Row("gray_rgba_palette_cmyk_16bit_converted", s_other_modes, "", 0),
    Row("colour_files_as_gray_dataset", s_gray_dataset_from_colour_files, "", 0),
    Row("images_smaller_than_crop_upscaled", s_small_images_upscaled, "", 0),
    Row("tiny_images_upscaled_over_4x", s_tiny_images_upscaled, "--preprocess resize_and_crop --load_size 32 scales 2 "
        "of the 2 images in {root}/trainA up more than 4x (first: img000.png, 6x6, 5.3x)", 0),
    Row("aligned_odd_width", s_aligned_odd_width, "2 of the 2 images in {root}/train are not twice as wide as high "
        "(first: img000.png, 65x32)", 0),
    Row("spaces_and_non_ascii_paths", s_spaces_and_non_ascii, "", 0),
]


def _in_process(script: str, args: List[str], capsys) -> Tuple[int, str, str]:
    main = {"train.py": cli.train_main, "test.py": cli.test_main, "gantool": cli.main}[script]
    try:
        status = main(args)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def _root(args: List[str]) -> str:
    return args[args.index("--dataroot") + 1] if "--dataroot" in args[:-1] else ""


def _check(row: Row, status: int, out: str, err: str, root: str) -> None:
    message = row.message.format(root=root)
    assert status == row.status, (row.id, out, err)
    assert "Traceback" not in err and "Traceback" not in out, (row.id, err)
    if row.status == 2:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1 and message in errors[0], (row.id, err)
        assert ("gantool: training" not in out) == row.before_training, (row.id, out)
    else:
        assert "gantool: end of epoch 1/" in out, (row.id, out)  # a whole epoch trained
        warnings = [line for line in err.splitlines() if "warning" in line]
        if message:
            assert sum(message in line for line in warnings) == 1, (row.id, err)
            assert len(warnings) == 1, (row.id, err)  # nothing else, and nothing twice
        else:
            assert warnings == [], (row.id, err)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_catalogue_row(row, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script, args = row.setup(str(tmp_path))
    capsys.readouterr()  # drop what the setup printed (a training run for some rows)
    status, out, err = _in_process(script, args, capsys)
    _check(row, status, out, err, _root(args))


SUBPROCESS_ROWS = [r for r in ROWS if r.subprocess]


@pytest.mark.parametrize("row", SUBPROCESS_ROWS, ids=[r.id for r in SUBPROCESS_ROWS])
def test_catalogue_row_through_the_real_script(row, tmp_path):
    script, args = row.setup(str(tmp_path))
    result = run_cli(script, args, cwd=tmp_path)
    _check(row, result.returncode, result.stdout, result.stderr, _root(args))


def test_debug_shows_the_traceback(tmp_path):
    script, args = s_strict_zero_byte(str(tmp_path))
    result = run_cli(script, args + ["--debug"], cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "--strict_data refuses them" in result.stderr.splitlines()[-1]


def test_converted_images_really_are_used(tmp_path):
    """The conversion row trains on every file: each mode is read as RGB, none is skipped."""
    from gantool.data import Preprocess, create_dataset

    s_other_modes(str(tmp_path))
    ds = create_dataset("unaligned", root=str(tmp_path / "data"), preprocess=Preprocess("none", flip=False),
                        serial_batches=True)
    names = sorted(os.path.basename(p) for p in ds.in_paths)
    assert names == ["cmyk.jpg", "gray.png", "img000.png", "img001.png", "palette.png", "rgba.png", "sixteen.png"]
    for i in range(len(ds)):
        assert ds[i]["A"].shape == (3, 32, 32)


def test_translate_output_under_a_file_is_refused_before_the_model_loads(tmp_path, capsys):
    write_images(str(tmp_path / "in"), 1)
    (tmp_path / "a_file").write_text("in the way")
    missing_model = str(tmp_path / "no_such_model.pth")  # never read: the output is checked first
    assert cli.main(["translate", str(tmp_path / "in"), "-o", str(tmp_path / "a_file" / "out"), "-c",
                     missing_model]) == 2
    err = capsys.readouterr().err
    assert "a_file is a file, not a folder; choose another -o" in err and "Traceback" not in err
    assert (tmp_path / "a_file").read_text() == "in the way"
