"""The README's demo pictures: rows of (input, translation, truth) from test.py results folders, or a sample grid.

    python scripts/demo_pictures.py results/experiment_name/test_latest -o docs/images/cycle_gan_demo.png
    python scripts/demo_pictures.py RESULTS --labels real_A,fake_B,truth_B --images 4 --scale 2 -o FILE
    python scripts/demo_pictures.py results/gan/test_latest --grid -o docs/images/gan_demo.png

Translation results: for each of the first ``--images`` test images (sorted by name, or ``--stems a0003,a0007``),
one row of the pictures named ``<stem>_<label>.png`` for each label in ``--labels`` (default: the input, the
output and the truth the run's ``metrics.json`` compares, e.g. real_A, fake_B, truth_B), separated by a 2-pixel
gap, each enlarged ``--scale`` times with nearest-neighbour pixels so that noise stays visible. A header names
the columns. ``--grid``: the sampler's ``grid_fake.png`` enlarged (digit samples). The picture is written
atomically.
"""
import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from gantool.errors import GantoolError  # noqa: E402
from gantool.io.files import checked_write_path  # noqa: E402

GAP, HEADER = 2, 14
NAMES = {"real_A": "input", "real": "input", "truth_B": "truth", "real_B": "truth", "truth": "truth"}


def _labels(results: Path) -> List[str]:
    """input, output, truth labels: the first pair the run's metrics.json compares, else CycleGAN's."""
    try:
        pairs = json.loads((results / "metrics.json").read_text()).get("pairs") or []
    except (OSError, ValueError):
        pairs = []
    if pairs and len(pairs[0]) == 2:
        return ["real_A", *pairs[0]]
    return ["real_A", "fake_B", "truth_B"]


def rows_picture(results: Path, labels: Sequence[str], stems: Sequence[str], scale: int) -> Image.Image:
    images = results / "images"
    rows = []
    for stem in stems:
        row = []
        for label in labels:
            path = images / f"{stem}_{label}.png"
            if not path.is_file():
                raise GantoolError(f"no {path.name} in {images}; choose --labels among those the run saved")
            with Image.open(path) as im:
                row.append(im.convert("RGB").resize((im.width * scale, im.height * scale), Image.NEAREST))
        rows.append(row)
    w, h = rows[0][0].size
    canvas = Image.new("RGB", (len(labels) * (w + GAP) - GAP, HEADER + len(rows) * (h + GAP) - GAP), "white")
    draw = ImageDraw.Draw(canvas)
    for j, label in enumerate(labels):
        draw.text((j * (w + GAP) + 2, 1), NAMES.get(label, "output") + f" ({label})", fill="black")
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            canvas.paste(im, (j * (w + GAP), HEADER + i * (h + GAP)))
    return canvas


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a test.py results folder, e.g. results/experiment_name/test_latest")
    parser.add_argument("-o", "--output", required=True, help="the PNG to write")
    parser.add_argument("--labels", help="comma-separated picture labels of a row (default: input, output, truth)")
    parser.add_argument("--images", type=int, default=4, help="rows: the first N test images (default 4)")
    parser.add_argument("--stems", help="comma-separated image names to show instead of the first N")
    parser.add_argument("--scale", type=int, default=2, help="enlargement, nearest-neighbour (default 2)")
    parser.add_argument("--grid", action="store_true", help="the sampler's grid_fake.png instead of rows")
    args = parser.parse_args(argv)
    try:
        results = Path(args.results)
        if not (results / "images").is_dir():
            raise GantoolError(f"{results} has no images/ folder; give a test.py results folder")
        if not 1 <= args.scale <= 16 or args.images < 1:
            raise GantoolError("--scale must be 1..16 and --images at least 1")
        if args.grid:
            grid = results / "images" / "grid_fake.png"
            if not grid.is_file():
                raise GantoolError(f"no {grid}; --grid needs a gan or dcgan results folder")
            with Image.open(grid) as im:
                picture = im.convert("RGB").resize((im.width * args.scale, im.height * args.scale), Image.NEAREST)
        else:
            labels = args.labels.split(",") if args.labels else _labels(results)
            stems = args.stems.split(",") if args.stems else sorted(
                {p.name[:-len(f"_{labels[0]}.png")] for p in (results / "images").glob(f"*_{labels[0]}.png")})
            if not stems:
                raise GantoolError(f"no *_{labels[0]}.png in {results / 'images'}")
            picture = rows_picture(results, labels, stems[:args.images], args.scale)
        checked_write_path(args.output, lambda tmp: picture.save(tmp, format="PNG", optimize=True), "-o")
    except GantoolError as e:
        print(f"demo_pictures: {e}", file=sys.stderr)
        return 2
    print(f"wrote {os.path.abspath(args.output)} ({picture.width}x{picture.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
