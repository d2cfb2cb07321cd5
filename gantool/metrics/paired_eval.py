"""Paired quality of a results folder: L1, PSNR and SSIM of the outputs (and of the identity) against the truth.

``scripts/eval_paired.py`` is the command line. A results folder is what ``test.py`` writes,
``results/<name>/<phase>_<epoch>/`` with ``images/<stem>_<label>.png``; its ``metrics.json`` names
which visual is compared with which (the recipe's ``metric_pairs``, e.g. ``fake_B`` with
``truth_B`` for CycleGAN on the built-in data, ``fake_B`` with ``real_B`` for pix2pix).
The identity baseline scores the input itself (``real_A``) as if it were the output.

Runs on 16-bit or float data leave each picture at full depth beside its 8-bit preview
(``<stem>_<label>_16bit.png``, ``_float.tif``, ``.npy``): when both sides of a pair have one (or the truth
file is itself deep), those are scored, on [0, 1] = the 16-bit range or the run's value range (``metrics.json``).
"""
import csv
import io
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.depth import DepthPolicy, parse_value_range, read_image
from ..data.image_io import is_array_file, is_image_file, load_image
from ..errors import GantoolError
from ..io.files import atomic_write, ensure_folder
from .image_sets import labelled_files
from .paired import paired_metrics

# Used when metrics.json does not say (results written before it recorded its pairs).
_FALLBACK_PAIRS = [("fake_B", "truth_B"), ("fake", "truth"), ("fake_B_rgb", "real_B_rgb")]
_INPUT_LABELS = ("real_A", "real")
COLUMNS = ["results", "method", "compared", "images", "l1", "psnr", "ssim"]


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()  # (size,)


def ssim(pred: torch.Tensor, target: torch.Tensor, window_size: int = 11, sigma: float = 1.5,
         data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with a Gaussian window, per image.

    Computed per channel over the valid window positions and averaged, in float64, with the usual
    constants ``K1 = 0.01``, ``K2 = 0.03``. Images smaller than the window use a window of their size.

    Args:
        pred: (N, C, H, W) images in [0, ``data_range``].
        target: same shape.
    Returns:
        (N,) SSIM values, 1 for identical images.
    """
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) batches of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    x, y = pred.double(), target.double()
    channels = x.shape[1]
    size = min(window_size, x.shape[-2], x.shape[-1])
    g = _gaussian_window(size, sigma, x.dtype)
    window = (g[:, None] * g[None, :]).expand(channels, 1, size, size)  # (C, 1, k, k), one per channel

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)  # (N, C, H-k+1, W-k+1)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)


_FULL_DEPTH = [suffix + ext for suffix in ("_16bit", "_float") for ext in (".png", ".tif", ".tiff", ".npy")]


def _is_deep(path: str) -> bool:
    return DepthPolicy().kind_of(path) != "8"


def _full_depth(path: str) -> Optional[str]:
    """The full-depth file test.py wrote beside the preview ``path``, or ``path`` itself when it is deep."""
    base = os.path.splitext(path)[0]
    twin = next((base + end for end in _FULL_DEPTH if os.path.isfile(base + end)), None)
    return twin or (path if _is_deep(path) else None)


def _load(path: str, value_range=None) -> torch.Tensor:
    """An image file as a (1, 3, H, W) float tensor in [0, 1] (16-bit and float files at full depth)."""
    if _is_deep(path):
        arr = read_image(path, 3, "auto", value_range).array  # (H, W, 3) in [0, 1]
    elif is_array_file(path):
        arr = np.asarray(load_image(path, 3), dtype=np.float32) / 255.0
    else:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0)


def score(pred_path: str, truth_path: str, value_range=None) -> Dict[str, float]:
    """L1 (on [0, 1]), PSNR (dB, peak 1) and SSIM of one saved output against its truth file.

    Full-depth files replace the previews when both sides have one (``value_range``: of the float ones).
    """
    full = _full_depth(pred_path), _full_depth(truth_path)
    if all(full):
        pred_path, truth_path = full
    pred, truth = _load(pred_path, value_range), _load(truth_path, value_range)
    if pred.shape != truth.shape:
        raise GantoolError(f"{os.path.basename(pred_path)} is {pred.shape[-1]}x{pred.shape[-2]} but its truth "
                           f"{truth_path} is {truth.shape[-1]}x{truth.shape[-2]}")
    values = paired_metrics(pred * 2 - 1, truth * 2 - 1)  # the same L1/PSNR as test.py's page
    values["ssim"] = ssim(pred, truth).item()
    return values


def _by_label(images_dir: str, label: str) -> Dict[str, str]:
    """{stem: path} of the files ``<stem>_<label>.<ext>`` in ``images_dir`` (not the tiled ``grid_<label>``)."""
    return {os.path.splitext(os.path.basename(p))[0][: -len(label) - 1]: p for p in labelled_files(images_dir, label)}


def _by_stem(folder: str) -> Dict[str, str]:
    """{stem: path} of the image files directly in ``folder`` (a ground-truth folder)."""
    return {os.path.splitext(n)[0]: os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if is_image_file(n) and not n.startswith(".")}


def _images_dir(results: str) -> str:
    images = os.path.join(results, "images")
    if os.path.isdir(images):
        return images
    if os.path.isdir(results):
        return results
    raise GantoolError(f"{results} is not a folder; give a results folder such as results/<name>/test_latest")


def _recorded_value_range(results: str):
    """The value range test.py read float inputs with (``metrics.json``), or None."""
    try:
        with open(os.path.join(results, "metrics.json")) as f:
            pair = (json.load(f).get("full_depth") or {}).get("value_range")
        return parse_value_range(pair)
    except (OSError, ValueError, GantoolError):
        return None


def _recorded_pairs(results: str) -> List[Tuple[str, str]]:
    try:
        with open(os.path.join(results, "metrics.json")) as f:
            return [tuple(p) for p in json.load(f).get("pairs", [])]
    except (OSError, ValueError):
        return []


def _average(rows: List[Dict[str, float]]) -> Dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in ("l1", "psnr", "ssim")}


def evaluate(results: str, fake: Optional[str] = None, truth: Optional[str] = None,
             input_label: Optional[str] = None) -> List[dict]:
    """Score one results folder: the outputs, and the inputs as the identity baseline.

    Args:
        results: a ``test.py`` results folder (or its ``images/``).
        fake: label of the outputs (default: from ``metrics.json``, else fake_B / fake / fake_B_rgb).
        truth: label of the ground truth in the results, or a folder of truth files named ``<stem>.<ext>``
            (default: the label paired with ``fake`` in ``metrics.json``, else truth_B / truth / real_B_rgb).
        input_label: label of the inputs for the identity row (default real_A, else real; skipped if absent).
    Returns:
        Rows with the keys of ``COLUMNS`` (``images`` the count, metrics averaged over the images).
    Raises:
        GantoolError: nothing to compare, a missing truth file, or sizes that differ.
    """
    images_dir = _images_dir(results)
    truth_dir = truth if truth and os.path.isdir(truth) else None
    pairs = _recorded_pairs(results) or _FALLBACK_PAIRS
    if fake or (truth and not truth_dir):
        pairs = [(fake or p[0], truth if truth and not truth_dir else p[1]) for p in pairs[:1]]
    chosen = None
    for out_label, truth_label in pairs:
        outputs = _by_label(images_dir, out_label)
        truths = _by_stem(truth_dir) if truth_dir else _by_label(images_dir, truth_label)
        if outputs and truths:
            chosen = (out_label, truth_dir or truth_label, outputs, truths)
            break
    if chosen is None:
        wanted = ", ".join(f"{o} with {truth_dir or t}" for o, t in pairs)
        raise GantoolError(f"{images_dir} has nothing to compare (looked for {wanted}); "
                           "name the pictures with --fake and --truth")
    out_label, truth_name, outputs, truths = chosen
    missing = sorted(set(outputs) - set(truths))
    if missing:
        raise GantoolError(f"{len(missing)} of the {len(outputs)} '{out_label}' images have no truth in "
                           f"{truth_name} (first: {missing[0]})")
    name = os.path.normpath(results)
    value_range = _recorded_value_range(results)
    rows = [{"results": name, "method": "output", "compared": f"{out_label} vs {os.path.basename(truth_name)}",
             "images": len(outputs), **_average([score(p, truths[s], value_range) for s, p in outputs.items()])}]
    labels = [input_label] if input_label else list(_INPUT_LABELS)
    for label in labels:
        inputs = {s: p for s, p in _by_label(images_dir, label).items() if s in outputs}
        if len(inputs) == len(outputs):
            rows.append({"results": name, "method": "identity", "compared": f"{label} vs "
                         f"{os.path.basename(truth_name)}", "images": len(inputs),
                         **_average([score(p, truths[s], value_range) for s, p in inputs.items()])})
            break
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """The rows as an aligned text table (L1 on [0, 1], PSNR in dB)."""
    header = ["results", "method", "compared", "images", "L1", "PSNR (dB)", "SSIM"]
    body = [[r["results"], r["method"], r["compared"], str(r["images"]), f"{r['l1']:.4f}",
             f"{r['psnr']:.2f}", f"{r['ssim']:.4f}"] for r in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: str) -> None:
    """Write the rows to ``path`` as CSV with the ``COLUMNS`` header (full precision)."""
    ensure_folder(os.path.dirname(os.path.abspath(path)), "--csv")
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()})
    atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")))  # all rows or the previous file
