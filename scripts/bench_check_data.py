"""Time ``gantool check-data`` (and the screen ``train.py`` runs when it builds a dataset) on a big folder.

    python scripts/bench_check_data.py --images 20000 --size 64

writes ``--images`` small pictures (half PNG, half JPEG, with a few broken ones) into an unaligned
dataset in a temporary folder, then times the default check (headers and file ends) and ``--full``
(every pixel decoded). The files were just written, so they come from the disk cache.
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_dataset(root: str, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    base = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    for i in range(count):
        folder = os.path.join(root, "trainA" if i % 2 == 0 else "trainB")
        os.makedirs(folder, exist_ok=True)
        img = Image.fromarray(np.roll(base, i, axis=1))
        img.save(os.path.join(folder, f"{i:06d}" + (".png" if i % 4 < 2 else ".jpg")))
    for name in ("broken_empty.png", "broken_text.jpg"):
        open(os.path.join(root, "trainA", name), "w").write("" if name.endswith("png") else "text")


def timed(argv) -> float:
    from gantool.cli import check_data_main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = check_data_main(argv)
    seconds = time.perf_counter() - start
    assert status == 0, f"check-data failed on the generated data (exit status {status})"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="processes for --full")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import gantool.build  # noqa: F401  (imports torch and every recipe before the clock starts)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        make_dataset(tmp, args.images, args.size)
        print(f"wrote {args.images} images of {args.size}x{args.size} in {time.perf_counter() - start:.1f} s")
        base = ["--dataroot", tmp, "--gpu_ids", "-1"]
        for label, extra in (("check-data (headers and file ends)", []),
                             (f"check-data --full --workers {args.workers}", ["--full", "--workers", str(args.workers)])):
            times = []
            for _ in range(args.repeat):
                times.append(timed(base + extra))
            print(f"{label}: best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s "
                  f"({1e6 * min(times) / args.images:.0f} us per image)")
        from gantool.data.image_io import make_dataset as list_images
        from gantool.data.tools.scan import scan_images

        paths = list_images(os.path.join(tmp, "trainA")) + list_images(os.path.join(tmp, "trainB"))
        start = time.perf_counter()
        scan_images(paths)
        print(f"the screen train.py runs when it builds the dataset: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
