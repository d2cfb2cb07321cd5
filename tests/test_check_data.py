"""``gantool check-data``: the report, the exit status, and the one read per file."""
import os

from PIL import Image

from conftest import write_images
from gantool import cli
from gantool.data.tools import scan


def messy_unaligned(tmp) -> str:
    root = os.path.join(tmp, "data")
    write_images(os.path.join(root, "trainA"), 4, size=(32, 32), seed=1)
    write_images(os.path.join(root, "trainB"), 3, size=(40, 32), seed=2, mode="L")
    write_images(os.path.join(root, "testA"), 2, size=(32, 32), seed=3)
    write_images(os.path.join(root, "testB"), 2, size=(32, 32), seed=4)
    open(os.path.join(root, "trainB", "empty.png"), "wb").close()
    open(os.path.join(root, "trainB", "text.jpg"), "w").write("not a picture")
    open(os.path.join(root, "trainA", "readme.txt"), "w").write("ignored: not an image name")
    data = open(os.path.join(root, "trainA", "img000.png"), "rb").read()
    open(os.path.join(root, "trainA", "cut.png"), "wb").write(data[: len(data) // 2])
    return root


def check(capsys, *args):
    status = cli.main(["check-data", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_report_lists_counts_unusable_files_modes_and_mismatches(tmp_path, capsys):
    root = messy_unaligned(str(tmp_path))
    status, out, err = check(capsys, "--dataroot", root)
    assert status == 0, err
    assert "train: 4 items per epoch" in out and "test: 2 items per epoch" in out
    assert "trainA/: 4 images, 1 unusable (skipped)" in out
    assert "trainB/: 3 images, 2 unusable (skipped)" in out
    assert "unusable: trainA/cut.png: truncated or damaged PNG file" in out
    assert "unusable: trainB/empty.png: empty file (0 bytes)" in out
    assert "unusable: trainB/text.jpg: not an image file" in out
    assert "readme.txt" not in out
    assert "modes: L 3" in out and "sizes: 40x32 3" in out
    assert "note: the folders hold different modes: trainA mostly RGB, trainB mostly L" in out
    assert "note: the folders hold different sizes: trainA mostly 32x32, trainB mostly 40x32" in out
    assert "note: converted to RGB when read: L 3 images" in out
    assert out.strip().splitlines()[-1].startswith("OK: training can read this data (14 files checked")
    assert err == ""  # the warnings training would print are part of the report, not stray lines


def test_exit_status_and_reason_when_training_would_fail(tmp_path, capsys):
    root = messy_unaligned(str(tmp_path))
    os.rename(os.path.join(root, "trainB"), os.path.join(root, "B"))
    status, out, err = check(capsys, "--dataroot", root)
    assert status == 2
    assert "gantool: error: training would fail on the train split: " in err and "has no folder trainB" in err
    assert "test: 2 items per epoch" in out  # the other splits are still reported
    status, out, err = check(capsys, "--dataroot", messy_unaligned(str(tmp_path / "b")), "--preprocess", "crop",
                             "--crop_size", "36")
    assert status == 2 and "smaller than --crop_size 36" in err
    status, _, err = check(capsys)
    assert status == 2 and "gantool check-data needs --dataroot" in err


def test_aligned_and_segmentation_modes(tmp_path, capsys):
    root = str(tmp_path / "ab")
    write_images(os.path.join(root, "train"), 2, size=(65, 32))
    status, out, _ = check(capsys, "--dataroot", root, "--model", "pix2pix")
    assert status == 0 and "(--dataset_mode aligned" in out
    assert "warning: 2 of the 2 images in" in out and "not twice as wide as high (first: img000.png, 65x32)" in out
    seg = str(tmp_path / "seg")
    write_images(os.path.join(seg, "train", "images"), 2, size=(16, 16))
    os.makedirs(os.path.join(seg, "train", "masks"))
    for name in os.listdir(os.path.join(seg, "train", "images")):
        Image.new("L", (16, 16)).save(os.path.join(seg, "train", "masks", name))
    status, out, err = check(capsys, "--dataroot", seg, "--model", "segmenter")
    assert status == 0, err
    assert "train/images/: 2 images" in out


def test_full_decodes_what_the_quick_check_cannot_see(tmp_path, capsys):
    root = messy_unaligned(str(tmp_path))
    path = os.path.join(root, "trainA", "img001.png")
    data = bytearray(open(path, "rb").read())
    start = data.index(b"IDAT") + 8
    data[start:start + 40] = bytes(40)  # damaged inside; header and end intact
    open(path, "wb").write(bytes(data))
    assert "img001.png" not in check(capsys, "--dataroot", root)[1]
    status, out, _ = check(capsys, "--dataroot", root, "--full", "--workers", "1")
    assert status == 0 and "unusable: trainA/img001.png: cannot be decoded" in out


def test_each_file_is_opened_once(tmp_path, capsys, monkeypatch):
    root = messy_unaligned(str(tmp_path))
    os.remove(os.path.join(root, "trainA", "cut.png"))  # a truncated file is decoded too, to confirm it
    opened = []

    def counting_open(path, *args, **kwargs):
        opened.append(os.path.relpath(path, root))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(scan, "open", counting_open, raising=False)
    monkeypatch.setattr(scan, "_decode_error", lambda path: opened.append(path) or "decoded")
    assert check(capsys, "--dataroot", root)[0] == 0
    files = [os.path.join(d, f) for d in ("trainA", "trainB", "testA", "testB") for f in os.listdir(os.path.join(root, d))
             if not f.endswith(".txt") and os.path.getsize(os.path.join(root, d, f))]
    assert sorted(opened) == sorted(files)  # every image once (empty files need no open); no decode
