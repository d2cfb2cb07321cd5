"""16-bit and float images end to end: reading at full precision, writing back in the input's units, the
train.py/test.py/translate/check-data/eval paths, and the 8-bit path left exactly as it was."""
import json
import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY, TINY_TRAIN, write_images
from gantool import cli
from gantool.data import Preprocess, create_dataset
from gantool.data.depth import DepthPolicy, HighDepthImage, parse_value_range, read_image
from gantool.data.image_io import load_image
from gantool.data.tools.scan import inspect_image
from gantool.data.transforms import transform_image
from gantool.errors import GantoolError
from gantool.viz.depth_files import save_full_depth

pytestmark = pytest.mark.usefixtures("single_thread")

NONE = Preprocess(mode="none", flip=False)
CT = (-1024.0, 3071.0)  # a CT scan's Hounsfield units: float data with its own range


def ramp16(h=256, w=256, seed=0):
    """Every 16-bit level once (256 x 256), or a gradient over the full 0..65535 range with some noise."""
    if (h, w) == (256, 256) and seed == 0:
        return np.arange(65536, dtype=np.uint16).reshape(256, 256)
    rs = np.random.RandomState(seed)
    grad = np.add.outer(np.arange(h), np.arange(w)) / (h + w - 2) * 65535
    return np.clip(grad + rs.randint(-900, 900, (h, w)), 0, 65535).astype(np.uint16)


def ramp_float(h=64, w=64, seed=0):
    rs = np.random.RandomState(seed)
    grad = CT[0] + np.add.outer(np.arange(h), np.arange(w)) / (h + w - 2) * (CT[1] - CT[0])
    return np.clip(grad + rs.uniform(-20, 20, (h, w)), *CT).astype(np.float32)


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if str(path).endswith(".npy"):
        np.save(path, array)
    else:
        Image.fromarray(array).save(path)
    return str(path)


def read_back(path):
    return np.load(path) if str(path).endswith(".npy") else np.asarray(Image.open(path))


def round_trip(path, channels, value_range=None):
    """Read ``path`` into [-1, 1] and write it back at its depth; returns the file written."""
    img = read_image(path, channels, "auto", value_range)
    assert isinstance(img, HighDepthImage)
    t = img.to_tensor()
    assert t.shape[0] == channels and t.min() >= -1 and t.max() <= 1
    spec = DepthPolicy("auto", value_range).output_for(path, channels)
    out = os.path.join(os.path.dirname(path), spec.file_name("out"))
    save_full_depth(t, out, spec)
    return out


# ---------------------------------------------------------------- reading and writing


@pytest.mark.parametrize("name,dtype", [("g.png", "<u2"), ("g.tif", "<u2"), ("big.tif", ">u2"), ("wide.tif", "<i4")])
def test_16bit_round_trip_is_exact(tmp_path, name, dtype):
    levels = ramp16()
    path = save(tmp_path / name, levels.astype(dtype))  # modes I;16, I;16, I;16B, I
    assert Image.open(path).mode == {"<u2": "I;16", ">u2": "I;16B", "<i4": "I"}[dtype]
    assert inspect_image(path).depth_label() == "16-bit gray"
    out = round_trip(path, 1)
    assert out.endswith("out_16bit" + os.path.splitext(name)[1])
    back = read_back(out)
    assert back.dtype == np.uint16 and np.abs(back.astype(np.int64) - levels).max() <= 1


def test_float_tiff_and_npy_round_trip_within_1e_6_of_the_range(tmp_path):
    values = ramp_float(128, 128)
    vr = parse_value_range(f"{CT[0]},{CT[1]}")
    for name, array in (("f.tif", values), ("f.npy", values), ("f64.npy", values.astype(np.float64)[:, :, None]),
                        ("hu.npy", np.round(values).astype(np.int16))):
        path = save(tmp_path / name, array)
        assert inspect_image(path).depth == "float"
        back = read_back(round_trip(path, 1, vr))
        assert back.dtype == np.float32 and back.shape == values.shape
        assert np.abs(back - array.reshape(values.shape)).max() <= 1e-6 * (CT[1] - CT[0])


def test_npy_colour_16bit_and_uint8(tmp_path):
    rgb = np.stack([ramp16(40, 50, seed=s) for s in (1, 2, 3)], axis=2)
    path = save(tmp_path / "c.npy", rgb)
    back = read_back(round_trip(path, 3))
    assert back.shape == (40, 50, 3) and np.abs(back.astype(np.int64) - rgb).max() <= 1
    # a uint8 array takes the 8-bit path: a PIL picture, as any 8-bit file
    small = save(tmp_path / "u8.npy", (rgb >> 8).astype(np.uint8))
    assert read_image(small, 3).mode == "RGB" and np.array_equal(np.asarray(load_image(small, 3)), rgb >> 8)


def test_transforms_keep_the_precision(tmp_path):
    path = save(tmp_path / "g.png", ramp16(40, 40, seed=4))
    pre = Preprocess(mode="resize_and_crop", load_size=48, crop_size=32, flip=True)
    t = transform_image(read_image(path, 1), pre, random.Random(0))
    assert t.shape == (1, 32, 32) and -1 <= t.min() and t.max() <= 1
    levels = np.round((t.numpy() + 1) / 2 * 65535)
    assert len(np.unique(levels)) > 600  # far more than the 256 levels an 8-bit resize would leave
    flat = save(tmp_path / "flat.png", np.full((20, 30), 12345, np.uint16))  # resampling keeps a flat value
    t = transform_image(read_image(flat, 3), Preprocess("scale_width", 64, 16, flip=True), random.Random(1))
    assert t.shape == (3, 42, 64) and torch.allclose((t + 1) / 2 * 65535, torch.tensor(12345.0), atol=0.02)


def test_8bit_items_are_exactly_todays(tmp_path):
    write_images(tmp_path / "trainA", 3, size=(20, 16), seed=1)
    write_images(tmp_path / "trainB", 3, size=(20, 16), seed=2, mode="L")
    pre = Preprocess(mode="resize_and_crop", load_size=24, crop_size=16)
    auto = create_dataset("unaligned", root=str(tmp_path), preprocess=pre, seed=3)
    eight = create_dataset("unaligned", root=str(tmp_path), preprocess=pre, seed=3, bit_depth="8")
    for i in range(len(auto)):
        a, e = auto[i], eight[i]
        assert torch.equal(a["A"], e["A"]) and torch.equal(a["B"], e["B"])
        rng = auto.rng(i, "A")
        assert torch.equal(a["A"], transform_image(load_image(a["A_paths"], 3), pre, rng))
    assert not auto.reads_full_depth() and auto.value_range is None


def test_dataset_range_is_min_max_and_bit_depth_8_squashes(tmp_path):
    for i, side in enumerate("AB"):
        save(tmp_path / f"train{side}" / "x.tif", ramp_float(16, 16, seed=i))
    ds = create_dataset("unaligned", root=str(tmp_path), preprocess=NONE, input_nc=1, output_nc=1)
    lo = min(ramp_float(16, 16, seed=i).min() for i in (0, 1))
    assert ds.value_range.lo == pytest.approx(lo) and ds.value_range.hi == pytest.approx(CT[1])
    assert ds.reads_full_depth() and ds.depth_counts() == {"float gray": 2}
    a, b = ds[0]["A"], ds[0]["B"]
    assert min(a.min(), b.min()) == -1 and max(a.max(), b.max()) == pytest.approx(1)
    squashed = create_dataset("unaligned", root=str(tmp_path), preprocess=NONE, input_nc=1, output_nc=1,
                              bit_depth="8")
    assert squashed.value_range is None and len(torch.unique(squashed[0]["A"])) <= 256


def test_bad_value_range_and_unreadable_depths_are_one_line(tmp_path, capsys):
    write_images(tmp_path / "d" / "trainA", 2, size=(32, 32))
    write_images(tmp_path / "d" / "trainB", 2, size=(32, 32))
    base = ["--dataroot", str(tmp_path / "d"), "--checkpoints_dir", str(tmp_path / "c"), *TINY_TRAIN]
    for value, why in (("5", "must be two numbers LO,HI"), ("3,1", "needs finite LO < HI"), ("a,b", "two numbers")):
        assert cli.train_main(base + ["--value_range", value]) == 2
        err = capsys.readouterr().err
        assert why in err and len(err.strip().splitlines()) == 1
    save(tmp_path / "d" / "trainA" / "scan.tif", ramp_float(32, 32))
    assert cli.train_main(base + ["--bit_depth", "16"]) == 2
    err = capsys.readouterr().err
    assert "scan.tif holds float values; --bit_depth 16 reads integer images" in err and len(err.splitlines()) == 1
    os.remove(tmp_path / "d" / "trainA" / "scan.tif")
    Image.fromarray(np.full((4, 4), 70000, np.int32)).save(tmp_path / "wide.tif")  # 32-bit: beyond 16 bits
    with pytest.raises(GantoolError, match="not 16-bit"):
        read_image(str(tmp_path / "wide.tif"), 1)
    with pytest.raises(GantoolError, match="no value range is known"):
        read_image(save(tmp_path / "f.tif", ramp_float(8, 8)), 1)
    np.save(tmp_path / "d" / "trainA" / "mask.npy", np.zeros((32, 32), bool))
    assert cli.train_main(base + ["--strict_data"]) == 2
    err = capsys.readouterr().err
    assert "mask.npy: unsupported array dtype bool" in err and len(err.splitlines()) == 1


def rgb16_png(path, h=8, w=8):
    """A 16-bit RGB PNG written by hand (Pillow can read only 8 bits of one, and write none)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + np.full((w, 3), 40000, ">u2").tobytes() for _ in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return str(path)


# ---------------------------------------------------------------- check-data


def test_check_data_reports_depths_and_flags_mixed_domains(tmp_path, capsys):
    root = tmp_path / "d"
    write_images(root / "trainA", 3, size=(32, 32))
    for i in range(2):
        save(root / "trainA" / f"deep{i}.png", ramp16(32, 32, seed=i))
    for i in range(2):
        save(root / "trainB" / f"ct{i}.tif", ramp_float(32, 32, seed=i))
    rgb16_png(root / "trainB" / "colour16.png", 32, 32)
    assert cli.main(["check-data", "--dataroot", str(root)]) == 0
    out = capsys.readouterr().out
    assert "bit depths: 8-bit RGB: 3 files, 16-bit gray: 2 files" in out
    assert "bit depths: float gray: 2 files, 16-bit RGB (read at 8 bits): 1 file" in out
    assert "note: trainA mixes bit depths (8-bit 3, 16-bit 2)" in out
    assert "note: trainB mixes bit depths" in out
    assert "warning: 1 of the 3 images in" in out and "16-bit RGB (first: colour16.png), which Pillow reads" in out
    assert "float values -1024..3071 (min/max of 2 images in" in out and "map to [-1, 1]" in out
    assert cli.main(["check-data", "--dataroot", str(root), "--bit_depth", "16"]) == 2
    assert "--bit_depth 16 needs them whole" in capsys.readouterr().err


# ---------------------------------------------------------------- train.py, test.py, translate, eval


def gray16_data(root):
    for k, (side, n) in enumerate((("trainA", 4), ("trainB", 4), ("testA", 2), ("testB", 2))):
        for i in range(n):
            save(root / side / f"img{i:03d}.png", ramp16(32, 32, seed=10 * k + i))
    return str(root)


@pytest.fixture(scope="module")
def gray16_run(tmp_path_factory):
    """A tiny CycleGAN trained and tested on 16-bit gray PNGs; (tmp folder, checkpoints, results page)."""
    tmp = tmp_path_factory.mktemp("gray16")
    root = gray16_data(tmp / "data")
    common = ["--dataroot", root, "--checkpoints_dir", str(tmp / "checkpoints"), "--name", "g16", "--input_nc", "1",
              "--output_nc", "1"]
    assert cli.train_main(["--model", "cycle_gan", *common, *TINY_TRAIN]) == 0
    assert cli.test_main(["--model", "cycle_gan", *common, "--results_dir", str(tmp / "results"), *TINY]) == 0
    return tmp, tmp / "checkpoints" / "g16", tmp / "results" / "g16" / "test_latest"


def test_train_and_test_on_16bit_gray_write_16bit_outputs_and_previews(gray16_run):
    tmp, run, page = gray16_run
    record = json.loads((run / "value_range.json").read_text())
    assert record["bit_depth"] == "auto" and record["value_range"] is None
    assert record["files"] == {"16-bit gray": 8} and record["scaling"]["16-bit"] == "v / 65535"
    html = (page / "index.html").read_text()
    for label in ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"):
        preview, full = page / "images" / f"img000_{label}.png", page / "images" / f"img000_{label}_16bit.png"
        assert f"img000_{label}.png" in html and Image.open(preview).mode in ("RGB", "L")
        assert Image.open(full).mode == "I;16" and Image.open(full).size == (32, 32)
    assert "_16bit.png" in html  # the page says where the full-depth files are
    # real_A is the input itself (no crop, no flip at test time): back at 16 bits, level for level
    real = read_back(page / "images" / "img000_real_A_16bit.png").astype(np.int64)
    source = read_back(tmp / "data" / "testA" / "img000.png").astype(np.int64)
    assert np.abs(real - source).max() <= 1
    fake = read_back(page / "images" / "img000_fake_B_16bit.png")
    assert len(np.unique(fake)) > 256  # really 16-bit, not an 8-bit picture stored wide
    metrics = json.loads((page / "metrics.json").read_text())
    assert metrics["full_depth"]["files"] == {"_16bit.png": 12}


def test_translate_16bit_file_writes_16bit_and_8bit_stays_todays(gray16_run, tmp_path, capsys):
    tmp, run, _ = gray16_run
    src = tmp / "data" / "testA" / "img001.png"
    assert cli.main(["translate", str(src), "-o", str(tmp_path / "out"), "-c", str(run), "--device", "cpu"]) == 0
    out = Image.open(tmp_path / "out" / "img001.png")
    assert out.mode == "I;16" and out.size == (32, 32) and len(np.unique(np.asarray(out))) > 256
    assert Image.open(tmp_path / "out" / "img001_preview.png").size == (32, 32)
    # an 8-bit file: the same bytes as before high-depth support (Translator on load_image), no preview
    from gantool.inference.translator import Translator

    write_images(tmp_path / "eight", 1, size=(32, 32), mode="L")
    eight = tmp_path / "eight" / "img000.png"
    assert cli.main(["translate", str(eight), "-o", str(tmp_path / "o8.png"), "-c", str(run), "--device", "cpu"]) == 0
    expected = Translator.load(str(run), "cpu")(load_image(str(eight), 1))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o8.png")), np.asarray(expected))
    assert not (tmp_path / "o8_preview.png").exists()
    # float input: this run recorded no range, so one line asks for it; --value_range gives a float TIFF back
    scan = save(tmp_path / "scan.tif", ramp_float(32, 32))
    capsys.readouterr()
    assert cli.main(["translate", scan, "-o", str(tmp_path / "f"), "-c", str(run), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "no value range is known: give --value_range" in err and len(err.splitlines()) == 1
    assert cli.main(["translate", scan, "-o", str(tmp_path / "f"), "-c", str(run), "--device", "cpu",
                     f"--value_range={CT[0]},{CT[1]}"]) == 0
    back = read_back(tmp_path / "f" / "scan.tif")
    assert back.dtype == np.float32 and CT[0] <= back.min() and back.max() <= CT[1]


def test_float_pix2pix_records_the_range_and_test_maps_back(tmp_path):
    for i in range(3):  # A|B pairs side by side, as --dataset_mode aligned reads them
        save(tmp_path / "ab" / "train" / f"p{i}.tif", np.concatenate([ramp_float(32, 32, i), ramp_float(32, 32, 9)], 1))
    narrow = ((ramp_float(32, 32, 0) - CT[0]) / (CT[1] - CT[0]) * 1000).astype(np.float32)  # 0..1000 only
    save(tmp_path / "ab" / "test" / "p0.tif", np.concatenate([narrow, narrow], 1))
    common = ["--model", "pix2pix", "--dataroot", str(tmp_path / "ab"), "--checkpoints_dir", str(tmp_path / "c"),
              "--name", "ct", "--input_nc", "1", "--output_nc", "1"]
    assert cli.train_main([*common, *TINY_TRAIN, "--val_freq", "1"]) == 0  # validation on test/ too
    record = json.loads((tmp_path / "c" / "ct" / "value_range.json").read_text())
    lo = min(ramp_float(32, 32, i).min() for i in (0, 1, 2, 9))
    assert record["value_range"] == [pytest.approx(lo), pytest.approx(CT[1])]
    # the test images alone span a smaller range: test.py must use the recorded one, not theirs
    assert cli.test_main([*common, "--results_dir", str(tmp_path / "r"), *TINY]) == 0
    images = tmp_path / "r" / "ct" / "test_latest" / "images"
    real = read_back(images / "p0_real_A_float.tif")
    assert real.dtype == np.float32
    assert np.abs(real - narrow).max() <= 1e-6 * (CT[1] - lo)
    # 0..1000 of -1024..3071 is u in 0.25..0.49: the preview shows it darker, as the network saw it
    preview = np.asarray(Image.open(images / "p0_real_A.png"))
    assert 60 <= preview.min() and preview.max() <= 130
    fake = read_back(images / "p0_fake_B_float.tif")
    assert fake.dtype == np.float32 and lo <= fake.min() and fake.max() <= CT[1]


def test_eval_paired_reads_the_full_depth_files(tmp_path):
    from gantool.metrics.paired_eval import evaluate

    images = tmp_path / "res" / "images"
    truth = ramp16(32, 32, seed=5)
    fake = np.clip(truth.astype(np.int64) + 40, 0, 65535).astype(np.uint16)  # 40 levels off: invisible at 8 bits
    for label, array in (("fake_B", fake), ("truth_B", truth)):
        preview = (truth >> 8).astype(np.uint8)  # both previews identical
        save(images / f"x_{label}.png", preview)
        save(images / f"x_{label}_16bit.png", array)
    (tmp_path / "res" / "metrics.json").write_text(json.dumps({"pairs": [["fake_B", "truth_B"]]}))
    row = evaluate(str(tmp_path / "res"))[0]
    l1 = np.abs(fake.astype(np.float64) - truth).mean() / 65535
    assert row["l1"] == pytest.approx(l1, rel=1e-4) and row["l1"] > 0


def test_auto_precision_is_fp32_for_full_depth_data():
    from gantool.engine.precision import resolve_precision

    # bf16 keeps 8 significant bits: a 16-bit output computed in it would be an 8-bit one stored wide
    assert resolve_precision("auto", torch.device("cpu"), full_depth=True)[0] == "fp32"
    assert resolve_precision("bf16", torch.device("cpu"), full_depth=True)[0] == "bf16"  # asked for: kept


def test_8bit_runs_write_what_they_always_wrote(unaligned_root, tmp_path):
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path / "c"), "--name", "rgb"]
    assert cli.train_main([*common, *TINY_TRAIN]) == 0
    assert not (tmp_path / "c" / "rgb" / "value_range.json").exists()
    pages = {}
    for depth in ("auto", "8"):
        results = tmp_path / depth
        assert cli.test_main([*common, "--results_dir", str(results), "--bit_depth", depth, *TINY]) == 0
        images = results / "rgb" / "test_latest" / "images"
        pages[depth] = {name: (images / name).read_bytes() for name in sorted(os.listdir(images))}
    assert pages["auto"] == pages["8"] and not any("_16bit" in n or "_float" in n for n in pages["auto"])


def test_held_out_splits_use_the_training_range_and_npy_headers_are_checked(tmp_path):
    import argparse

    from gantool.build import training_range

    save(tmp_path / "trainA" / "x.npy", ramp_float(8, 8))
    save(tmp_path / "trainB" / "y.npy", ramp_float(8, 8, seed=1))
    ds = create_dataset("unaligned", root=str(tmp_path), preprocess=NONE, input_nc=1, output_nc=1)
    opt = training_range(argparse.Namespace(value_range=None), ds)
    assert parse_value_range(opt.value_range) == ds.value_range  # exact: repr keeps every bit
    given = argparse.Namespace(value_range="0,1")
    assert training_range(given, ds) is given
    data = open(tmp_path / "trainA" / "x.npy", "rb").read()
    open(tmp_path / "cut.npy", "wb").write(data[:-10])
    assert inspect_image(str(tmp_path / "cut.npy")).problem.startswith("truncated .npy file")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4, 5), np.float32))
    assert "unsupported array shape" in inspect_image(str(tmp_path / "cube.npy")).problem


def test_translate_refuses_16bit_rgb_png_when_asked_for_16_bits(gray16_run, tmp_path, capsys):
    _, run, _ = gray16_run
    src = rgb16_png(tmp_path / "c.png", 32, 32)
    args = ["translate", src, "-o", str(tmp_path / "o"), "-c", str(run), "--device", "cpu"]
    assert cli.main(args + ["--bit_depth", "16"]) == 2
    err = capsys.readouterr().err
    assert "c.png is a 16-bit RGB file, which Pillow reads at 8 bits" in err and len(err.splitlines()) == 1
    assert cli.main(args) == 0 and Image.open(tmp_path / "o" / "c.png").mode == "L"  # auto: 8 bits, as always
