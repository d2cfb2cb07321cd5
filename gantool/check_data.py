"""``gantool check-data``: what training would find in a dataset folder, before it starts.

It builds the dataset of every split exactly as ``train.py`` / ``test.py`` would (same options, same
``--dataset_mode``), so a layout that would fail fails here with the same message, and reports per
split and folder: image counts, unusable files (empty, truncated, not an image), image modes, bit
depths ("8-bit RGB: 120 files, 16-bit gray: 20 files") and sizes, and mismatches (domains of different
modes or sizes, a domain mixing bit depths, images that will be converted), and the range float values
are mapped with (``--bit_depth``, ``--value_range``).

Each file is read once, and only its header and its last bytes (``gantool.data.tools.scan``), so a
large folder is checked in about a second (``python scripts/bench_check_data.py`` measures it; figures in
the README). The exit status is 0 when training can read the data and 2 (with one line saying why) when
it would fail.
"""
import argparse
import contextlib
import io
import os
import time
from collections import Counter
from typing import Callable, List, Tuple

from .data.tools.scan import ImageInfo
from .errors import GantoolError

SPLITS = ("train", "val", "test")
MAX_LISTED = 10


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantool check-data",
        description="Check a dataset folder the way train.py would read it. Takes train.py's options too "
                    "(--model, --dataset_mode, --phase, --preprocess, --load_size, --crop_size, --input_nc, ...).")
    parser.add_argument("--full", action="store_true", help="decode every pixel of every file (slower)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes for --full")
    return parser


def _splits(root: str, phase: str) -> List[str]:
    """``phase`` first, then the other usual splits that have a folder in ``root``."""
    others = [p for p in SPLITS if p != phase and any(os.path.isdir(os.path.join(root, n)) for n in (p, p + "A", p + "B"))]
    return [phase] + others


def _top(counter: Counter, n: int = 4) -> str:
    items = [f"{k} {v}" for k, v in counter.most_common(n)]
    if len(counter) > n:
        items.append(f"{len(counter) - n} more")
    return ", ".join(items)


def _folder_lines(folder: str, root: str, infos: List[ImageInfo]) -> Tuple[List[str], List[ImageInfo]]:
    """Report lines for one folder, and its usable images."""
    good = [i for i in infos if i.ok]
    bad = [i for i in infos if not i.ok]
    name = os.path.relpath(folder, root)
    lines = [f"  {name}/: {len(good)} images" + (f", {len(bad)} unusable (skipped)" if bad else "")]
    if good:
        modes = Counter(i.mode for i in good)
        sizes = Counter(f"{i.size[0]}x{i.size[1]}" for i in good)
        widths, heights = [i.size[0] for i in good], [i.size[1] for i in good]
        lines.append(f"    modes: {_top(modes)}")
        depths = Counter(i.depth_label() for i in good)
        lines.append("    bit depths: " + ", ".join(f"{k}: {v} file{'s' if v != 1 else ''}"
                                                     for k, v in depths.most_common()))
        lines.append(f"    sizes: {_top(sizes, 3)}; width {min(widths)}..{max(widths)}, "
                     f"height {min(heights)}..{max(heights)}")
    for info in bad[:MAX_LISTED]:
        lines.append(f"    unusable: {os.path.relpath(info.path, root)}: {info.problem}")
    if len(bad) > MAX_LISTED:
        lines.append(f"    unusable: {len(bad) - MAX_LISTED} more")
    return lines, good


def _depth_notes(folders: List[Tuple[str, List[ImageInfo]]], bit_depth: str) -> List[str]:
    """Folders (domains) whose files differ in bit depth: each file is scaled by its own depth."""
    notes = []
    for folder, good in folders:
        depths = Counter("8-bit" if i.depth == "8" or i.squashed else i.depth_label().split()[0] for i in good)
        if len(depths) > 1:
            how = ("all are read at 8 bits (--bit_depth 8)" if bit_depth == "8" else
                   "each file is scaled by its own depth (8-bit v/255, 16-bit v/65535, float by the value range)")
            notes.append(f"{os.path.basename(folder)} mixes bit depths ({_top(depths)}): {how}; "
                         "convert them to one depth")
    return notes


def _notes(folders: List[Tuple[str, List[ImageInfo]]], input_nc: int, bit_depth: str = "auto") -> List[str]:
    """Mismatches between the folders of a split, and conversions training will make."""
    notes = _depth_notes(folders, bit_depth)
    main_mode = {f: Counter(i.mode for i in g).most_common(1)[0][0] for f, g in folders if g}
    if len(set(main_mode.values())) > 1:
        notes.append("the folders hold different modes: " + ", ".join(
            f"{os.path.basename(f)} mostly {m}" for f, m in main_mode.items()))
    main_size = {f: Counter(i.size for i in g).most_common(1)[0][0] for f, g in folders if g}
    if len(set(main_size.values())) > 1:
        notes.append("the folders hold different sizes: " + ", ".join(
            f"{os.path.basename(f)} mostly {w}x{h}" for f, (w, h) in main_size.items()))
    deep = bit_depth != "8"  # 16-bit and float files keep their own values: converted only if channels differ
    converted = Counter(i.mode for _, g in folders for i in g
                        if i.mode not in (("L",) if input_nc == 1 else ("RGB",))
                        and not (deep and i.depth != "8" and not i.squashed and i.gray == (input_nc == 1)))
    if converted:
        target = "grayscale (L)" if input_nc == 1 else "RGB"
        notes.append(f"converted to {target} when read: " + _top(converted, 6) + " images")
    return notes


def check_data(opt: argparse.Namespace, log: Callable[[str], None], full: bool = False,
               workers: int = 0) -> bool:
    """Build every split's dataset as training would and print a report; True when training can run.

    Args:
        opt: parsed train.py options (``gantool.options.parse``) with a ``--dataroot``.
        log: prints one line.
        full: decode every pixel of every file instead of the cheap header-and-end check.
        workers: processes for the ``full`` check.

    Raises:
        GantoolError: training would fail (the split named by ``--phase`` cannot be built); the report
            is printed first.
    """
    from .build import build_dataset
    from .data.base import FolderDataset

    start = time.perf_counter()
    root = opt.dataroot
    log(f"gantool check-data: {root} (--dataset_mode {opt.dataset_mode}, --preprocess {opt.preprocess} "
        f"--load_size {opt.load_size} --crop_size {opt.crop_size}, --input_nc {opt.input_nc})")
    ok, files, reason = True, 0, ""
    saved = FolderDataset.full_scan, FolderDataset.scan_workers
    FolderDataset.full_scan, FolderDataset.scan_workers = full, workers
    try:
        for phase in _splits(root, opt.phase):
            split_opt = argparse.Namespace(**{**vars(opt), "phase": phase})
            captured = io.StringIO()
            try:
                with contextlib.redirect_stderr(captured):
                    dataset = build_dataset(split_opt, log=lambda _line: None)
            except GantoolError as error:
                log(f"{phase}: cannot be used: {error}")
                if phase == opt.phase:
                    ok, reason = False, f"training would fail on the {phase} split: {error}"
                continue
            scans = getattr(dataset, "scans", [])
            log(f"{phase}: {len(dataset)} items per epoch")
            usable = []
            for folder, infos in scans:
                files += len(infos)
                lines, good = _folder_lines(folder, root, infos)
                usable.append((folder, good))
                for line in lines:
                    log(line)
            for note in _notes(usable, opt.input_nc, getattr(opt, "bit_depth", "auto")):
                log(f"  note: {note}")
            try:
                value_range = getattr(dataset, "value_range", None)
            except GantoolError as error:  # float images of one single value: no range to map them with
                log(f"  cannot be used: {error}")
                if phase == opt.phase:
                    ok, reason = False, f"training would fail on the {phase} split: {error}"
                continue
            if value_range is not None:
                log(f"  float values {value_range.lo:g}..{value_range.hi:g} ({value_range.source}) map to [-1, 1]")
            for line in captured.getvalue().splitlines():
                if line.startswith("gantool: warning: ") and not line.startswith("gantool: warning: skipping"):
                    log(f"  warning: {line[len('gantool: warning: '):]}")
    finally:
        FolderDataset.full_scan, FolderDataset.scan_workers = saved
    seconds = time.perf_counter() - start
    if ok:
        log(f"OK: training can read this data ({files} files checked in {seconds:.1f} s"
            + (", every pixel decoded)" if full else ", headers and file ends)"))
    else:
        log(f"FAILED ({files} files checked in {seconds:.1f} s)")
        raise GantoolError(reason)
    return ok


def check_data_main(argv: List[str], log: Callable[[str], None]) -> None:
    """``gantool check-data [--full] [--workers N] --dataroot X [train.py options]``."""
    from .options import parse

    own, rest = _check_parser().parse_known_args(argv)
    if not any(a == "--dataroot" or a.startswith("--dataroot=") for a in rest):
        raise GantoolError("gantool check-data needs --dataroot: the dataset folder to check")
    opt = parse(rest, is_train=True)
    check_data(opt, log, full=own.full, workers=own.workers)
