"""Image reading, --preprocess and the unaligned / aligned / single datasets, on generated files."""
import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import DATASETS, Preprocess, create_dataset
from gantool.data.image_io import load_image, make_dataset
from gantool.data.transforms import transform_image
from gantool.errors import GantoolError, UnknownNameError

NONE = Preprocess(mode="none", flip=False)


def noise(w, h, seed=0, mode="RGB"):
    """A random image (so that crops and flips are visible in the pixels)."""
    rs = np.random.RandomState(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rs.randint(0, 256, shape, dtype=np.uint8), mode)


def pixels(img):
    return [img.getpixel((x, 0)) for x in range(img.width)]


def write(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img.save(path)
    return str(path)


def make_unaligned(root, n_a=3, n_b=5, size=(20, 16), phase="train"):
    for i in range(n_a):
        write(os.path.join(root, phase + "A", f"a{i}.png"), noise(*size, seed=i))
    for i in range(n_b):
        write(os.path.join(root, phase + "B", f"b{i}.png"), noise(*size, seed=100 + i))
    return str(root)


# ---------------------------------------------------------------- image_io


def test_make_dataset_recursive_sorted_filtered(tmp_path):
    for rel in ["b/2.png", "a/1.JPG", "c.jpeg", ".hidden.png", ".cache/x.png", "z.tiff"]:
        write(os.path.join(tmp_path, rel), noise(4, 4))
    (tmp_path / "notes.txt").write_text("not an image")
    paths = make_dataset(str(tmp_path))
    names = [os.path.relpath(p, tmp_path) for p in paths]
    assert names == ["a/1.JPG", "b/2.png", "c.jpeg", "z.tiff"]
    assert make_dataset(str(tmp_path), max_dataset_size=2) == paths[:2]


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P", "CMYK", "I;16", "I", "1", "F"])
def test_load_image_any_mode(tmp_path, mode):
    img = noise(37, 53).convert(mode) if mode not in ("I;16", "I", "F") else None
    if mode == "I;16":
        img = Image.fromarray((np.arange(37 * 53, dtype=np.uint16) * 30).reshape(53, 37))
    elif mode == "I":
        img = Image.fromarray((np.arange(37 * 53, dtype=np.int32) * 30).reshape(53, 37))
    elif mode == "F":
        img = Image.fromarray(np.linspace(0, 1, 37 * 53, dtype=np.float32).reshape(53, 37))
    path = write(os.path.join(tmp_path, "x.tiff" if mode in ("CMYK", "I", "F") else "x.png"), img)
    for channels, want in ((3, "RGB"), (1, "L")):
        out = load_image(path, channels)
        assert out.mode == want and out.size == (37, 53)


def test_load_image_conversions_are_right(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    rgba.putpixel((1, 0), (0, 0, 0, 0))  # transparent black -> white
    assert pixels(load_image(write(tmp_path / "a.png", rgba), 3)) == [(255, 0, 0), (255, 255, 255)]
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 255, 9, 9, 9] + [0] * 762)
    pal.putpixel((1, 0), 1)
    pal.info["transparency"] = 1
    assert pixels(load_image(write(tmp_path / "p.png", pal), 3)) == [(0, 0, 255), (255, 255, 255)]
    wide = Image.fromarray(np.array([[0, 257 * 10, 65535]], dtype=np.uint16))
    assert pixels(load_image(write(tmp_path / "w.png", wide), 1)) == [0, 10, 255]
    cmyk = Image.new("CMYK", (1, 1), (0, 0, 0, 0))  # no ink = white
    assert load_image(write(tmp_path / "c.tiff", cmyk), 3).getpixel((0, 0)) == (255, 255, 255)


def test_load_image_corrupt_or_missing(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(GantoolError, match="cannot read image .*broken.png"):
        load_image(str(bad), 3)
    with pytest.raises(GantoolError, match="missing.png"):
        load_image(str(tmp_path / "missing.png"), 3)


# ---------------------------------------------------------------- transforms


def test_preprocess_validation_messages():
    with pytest.raises(GantoolError, match=r"--crop_size 256 is larger than --load_size 128"):
        Preprocess(load_size=128, crop_size=256)
    with pytest.raises(GantoolError, match=r"--crop_size 64 is larger than --load_size 32"):
        Preprocess(mode="scale_width_and_crop", load_size=32, crop_size=64)
    choices = r"resize_and_crop\|crop\|scale_width\|scale_width_and_crop\|none"
    with pytest.raises(GantoolError, match=r"unknown --preprocess 'zoom'; choose from: " + choices):
        Preprocess(mode="zoom")
    with pytest.raises(GantoolError, match="--load_size must be a positive"):
        Preprocess(load_size=0)
    with pytest.raises(GantoolError, match="--crop_size must be a positive"):
        Preprocess(mode="crop", crop_size=-3)
    Preprocess(mode="crop", load_size=16, crop_size=32)  # load_size unused: fine
    Preprocess(mode="scale_width", load_size=16, crop_size=32)


@pytest.mark.parametrize("mode,want_hw", [
    ("resize_and_crop", (32, 32)), ("crop", (32, 32)), ("scale_width", (57, 40)),
    ("scale_width_and_crop", (32, 32)), ("none", (53, 37)),
])
@pytest.mark.parametrize("img_mode", ["RGB", "L"])
def test_transform_sizes(mode, want_hw, img_mode):
    img = noise(37, 53, mode=img_mode)
    out = transform_image(img, Preprocess(mode=mode, load_size=40, crop_size=32), random.Random(1))
    assert out.shape == (3 if img_mode == "RGB" else 1, *want_hw)
    assert out.dtype == torch.float32 and out.min() >= -1 and out.max() <= 1
    assert out.min() < -0.9 and out.max() > 0.9  # the full range is used, not [0, 1]


def test_scale_width_keeps_min_height():
    pre = Preprocess(mode="scale_width", load_size=50, crop_size=20)
    out = transform_image(noise(100, 10), pre, random.Random())
    assert out.shape == (3, 20, 50)


def test_none_is_exact_and_values_normalised():
    img = noise(7, 5)
    out = transform_image(img, NONE, random.Random(0))
    want = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert torch.allclose(out, want)


def test_crop_smaller_than_image_size_is_an_error():
    with pytest.raises(GantoolError, match="37x53, smaller than --crop_size 64"):
        transform_image(noise(37, 53), Preprocess(mode="crop", crop_size=64), random.Random())


def test_crop_and_flip_come_from_rng_only():
    img, pre = noise(37, 53), Preprocess(mode="crop", crop_size=16)
    state = random.getstate()
    outs = [transform_image(img, pre, random.Random(s)) for s in range(12)]
    assert random.getstate() == state  # the global generator is never used
    assert torch.equal(outs[3], transform_image(img, pre, random.Random(3)))
    assert len({o.sum().item() for o in outs}) > 6  # different seeds, different crops


def test_flip():
    img = noise(9, 6)
    plain = transform_image(img, NONE, random.Random(0))
    pre = Preprocess(mode="none", flip=True)
    outs = [transform_image(img, pre, random.Random(s)) for s in range(20)]
    flipped = [torch.equal(o, plain.flip(-1)) for o in outs]
    assert any(flipped) and not all(flipped)
    assert all(f or torch.equal(o, plain) for f, o in zip(flipped, outs))


# ---------------------------------------------------------------- datasets

PRE = Preprocess(mode="resize_and_crop", load_size=24, crop_size=16)


def test_registry_and_unknown_mode(tmp_path):
    assert {"unaligned", "aligned", "single"} <= set(DATASETS.names())
    with pytest.raises(UnknownNameError, match="choose from: aligned, .*single, unaligned"):
        create_dataset("nope", root=str(tmp_path))


def test_unaligned_basic(tmp_path):
    root = make_unaligned(tmp_path)
    ds = create_dataset("unaligned", root=root, preprocess=PRE)
    assert len(ds) == 5 and not ds.has_truth
    item = ds[4]
    assert set(item) == {"A", "B", "A_paths", "B_paths"}
    assert item["A"].shape == (3, 16, 16) and item["B"].shape == (3, 16, 16)
    assert item["A_paths"].endswith("trainA/a1.png")  # 4 % 3
    assert [d["A_paths"] for d in ds] == [ds[i]["A_paths"] for i in range(5)]  # iteration stops
    with pytest.raises(IndexError):
        ds[5]


def test_unaligned_serial_random_and_epochs(tmp_path):
    root = make_unaligned(tmp_path, n_a=2, n_b=7)
    serial = create_dataset("unaligned", root=root, preprocess=PRE, serial_batches=True)
    names = [os.path.basename(serial[i]["B_paths"]) for i in range(7)]
    assert names == [f"b{i}.png" for i in range(7)]
    ds = create_dataset("unaligned", root=root, preprocess=PRE, seed=5)
    picks = lambda d: [d[i]["B_paths"] for i in range(7)]  # noqa: E731
    first = picks(ds)
    assert first != picks(serial)
    again = create_dataset("unaligned", root=root, preprocess=PRE, seed=5)  # as after a resume
    assert picks(again) == first and torch.equal(again[3]["A"], ds[3]["A"])
    ds.set_epoch(1)
    assert picks(ds) != first or not torch.equal(ds[3]["A"], again[3]["A"])
    ds.set_epoch(0)
    assert picks(ds) == first


def test_unaligned_direction_channels_and_max_size(tmp_path):
    root = make_unaligned(tmp_path, n_a=3, n_b=5)
    ds = create_dataset("unaligned", root=root, direction="BtoA", input_nc=1, output_nc=3,
                        preprocess=PRE, max_dataset_size=4)
    assert len(ds) == 4
    item = ds[0]
    assert "trainB" in item["A_paths"] and "trainA" in item["B_paths"]
    assert item["A"].shape == (1, 16, 16) and item["B"].shape == (3, 16, 16)


def test_unaligned_truth_pairs_with_the_same_crop(tmp_path):
    root = make_unaligned(tmp_path, phase="test")
    for i in range(3):  # truth = the input itself, so matching crops give equal tensors
        write(os.path.join(root, "testA_truth", f"a{i}.png"), noise(20, 16, seed=i))
    pre = Preprocess(mode="crop", crop_size=8, flip=True)
    ds = create_dataset("unaligned", root=root, phase="test", preprocess=pre)
    assert ds.has_truth
    for i in range(len(ds)):
        item = ds[i]
        name = os.path.basename(item["A_paths"])
        assert item["truth_paths"] == os.path.join(root, "testA_truth", name)
        assert torch.equal(item["truth"], item["A"])
    gray = create_dataset("unaligned", root=root, phase="test", preprocess=pre, output_nc=1)
    assert gray[0]["truth"].shape == (1, 8, 8)
    assert not create_dataset("unaligned", root=root, phase="test", direction="BtoA").has_truth
    os.remove(os.path.join(root, "testA_truth", "a1.png"))
    with pytest.raises(GantoolError, match="testA_truth lacks 1 of the 3 files .*a1.png"):
        create_dataset("unaligned", root=root, phase="test")


def test_unaligned_missing_and_empty_folders(tmp_path):
    with pytest.raises(GantoolError, match="--dataroot .*nowhere does not exist"):
        create_dataset("unaligned", root=str(tmp_path / "nowhere"))
    os.makedirs(tmp_path / "trainB")
    layout = r"has no folder trainA; the unaligned mode expects trainA/ and trainB/ \(see README\)"
    with pytest.raises(GantoolError, match=layout):
        create_dataset("unaligned", root=str(tmp_path))
    os.makedirs(tmp_path / "trainA")
    with pytest.raises(GantoolError, match=r"trainA has no images"):
        create_dataset("unaligned", root=str(tmp_path))
    os.rmdir(tmp_path / "trainA")
    write(os.path.join(tmp_path, "train", "x.png"), noise(4, 2))
    with pytest.raises(GantoolError, match="; it has train/: try --dataset_mode aligned"):
        create_dataset("unaligned", root=str(tmp_path))


def test_bad_arguments(tmp_path):
    root = make_unaligned(tmp_path)
    with pytest.raises(GantoolError, match="unknown --direction 'AB'"):
        create_dataset("unaligned", root=root, direction="AB")
    with pytest.raises(GantoolError, match="--input_nc 4"):
        create_dataset("unaligned", root=root, input_nc=4)


def make_aligned(root, w=37, h=23, same=True):
    left = noise(w, h, seed=1)
    right = left if same else Image.new("RGB", (w, h), (0, 0, 255))
    ab = Image.new("RGB", (2 * w + 1, h))  # odd width: the last column is dropped
    ab.paste(left, (0, 0))
    ab.paste(right, (w, 0))
    return write(os.path.join(root, "train", "p0.png"), ab)


def test_aligned_halves_share_crop_and_flip(tmp_path):
    path = make_aligned(tmp_path)
    for seed in range(4):
        pre = Preprocess(mode="crop", crop_size=9)
        ds = create_dataset("aligned", root=str(tmp_path), preprocess=pre, seed=seed)
        item = ds[0]
        assert item["A"].shape == (3, 9, 9) and torch.equal(item["A"], item["B"])
        assert item["A_paths"] == item["B_paths"] == path
    ds = create_dataset("aligned", root=str(tmp_path), preprocess=NONE, output_nc=1)
    assert ds[0]["A"].shape == (3, 23, 37) and ds[0]["B"].shape == (1, 23, 37)


def test_aligned_direction(tmp_path):
    make_aligned(tmp_path, same=False)
    ab = create_dataset("aligned", root=str(tmp_path), preprocess=NONE)[0]
    ba = create_dataset("aligned", root=str(tmp_path), preprocess=NONE, direction="BtoA")[0]
    blue = torch.tensor([-1.0, -1.0, 1.0]).view(3, 1, 1).expand(3, 23, 37)
    assert torch.equal(ab["B"], blue) and torch.equal(ba["A"], blue)
    assert torch.equal(ab["A"], ba["B"])


def test_aligned_missing_folder_hint(tmp_path):
    make_unaligned(tmp_path)
    message = r"has no folder train; the aligned mode expects train/ .*try --dataset_mode unaligned"
    with pytest.raises(GantoolError, match=message):
        create_dataset("aligned", root=str(tmp_path))


def test_single_modes_of_dataroot(tmp_path):
    root = make_unaligned(tmp_path, n_a=3, n_b=2, phase="test")
    direct = create_dataset("single", root=os.path.join(root, "testA") + "/", preprocess=PRE,
                            input_nc=1)
    assert len(direct) == 3 and direct[0]["A"].shape == (1, 16, 16)
    assert set(direct[0]) == {"A", "A_paths"}
    via_root = create_dataset("single", root=root, phase="test", preprocess=PRE)
    assert [d["A_paths"] for d in via_root] == [d["A_paths"] for d in direct]
    backwards = create_dataset("single", root=root, phase="test", direction="BtoA", preprocess=PRE)
    assert len(backwards) == 2 and "testB" in backwards[0]["A_paths"]
    assert len(create_dataset("single", root=root, phase="test", max_dataset_size=1)) == 1


def test_single_truth_and_errors(tmp_path):
    root = make_unaligned(tmp_path, n_a=2, n_b=1, phase="test")
    for i in range(2):
        write(os.path.join(root, "testA_truth", f"a{i}.png"), noise(20, 16, seed=i))
    pre = Preprocess(mode="crop", crop_size=8)
    for r in (root, os.path.join(root, "testA")):
        ds = create_dataset("single", root=r, phase="test", preprocess=pre, seed=3)
        assert ds.has_truth and all(torch.equal(d["A"], d["truth"]) for d in ds)
    os.makedirs(tmp_path / "empty")
    message = r"empty has no images and no folder trainA; the single mode expects"
    with pytest.raises(GantoolError, match=message):
        create_dataset("single", root=str(tmp_path / "empty"))


def test_dataloader_workers_give_the_same_items(tmp_path):
    root = make_unaligned(tmp_path, n_a=4, n_b=4)
    ds = create_dataset("unaligned", root=root, preprocess=PRE, seed=7)
    ds.set_epoch(2)
    loader = lambda w: torch.utils.data.DataLoader(ds, batch_size=2, num_workers=w)  # noqa: E731
    single_process = [b["A"] for b in loader(0)]
    two_workers = [b["A"] for b in loader(2)]
    assert all(torch.equal(x, y) for x, y in zip(single_process, two_workers))
