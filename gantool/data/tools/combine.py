"""Making an aligned dataset: pictures in A/ and B/ with the same names become A|B side-by-side images.

The logic behind ``datasets/combine_A_and_B.py`` (classic options ``--fold_A --fold_B --fold_AB``).
Everything is checked before anything is written, so a mismatch leaves no half-made dataset.
"""
import os
from typing import Callable, Dict, List, Tuple

from PIL import Image

from ...errors import GantoolError
from ..image_io import is_image_file


def _images(folder: str) -> List[str]:
    return sorted(n for n in os.listdir(folder) if is_image_file(n) and not n.startswith(".")
                  and os.path.isfile(os.path.join(folder, n)))


def _splits(fold_A: str) -> List[str]:
    """The classic layout has split subfolders (train/, val/, test/); a flat folder is one split ''."""
    if _images(fold_A):
        return [""]
    return sorted(d for d in os.listdir(fold_A) if not d.startswith(".") and os.path.isdir(os.path.join(fold_A, d)))


def _size(path: str) -> Tuple[int, int]:
    with Image.open(path) as img:  # reads the header only
        return img.size


def _shorten(names: List[str], limit: int = 5) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def plan_split(dir_A: str, dir_B: str, use_AB: bool = False) -> Dict[str, Tuple[str, str]]:
    """Match the images of one split: {output name: (path in A, path in B)}.

    Args:
        dir_A, dir_B: folders holding the A and B pictures of one split.
        use_AB: classic ``--use_AB``: A files are named ``x_A.ext`` and B files ``x_B.ext``; the output is ``x.ext``.
    Raises:
        GantoolError: one line naming the unmatched files (both ways) and the pairs of different sizes.
    """
    if not os.path.isdir(dir_B):
        raise GantoolError(f"{dir_B} does not exist, but {dir_A} does: A/ and B/ need the same subfolders")
    names_A, names_B = _images(dir_A), _images(dir_B)
    if use_AB:
        names_A = [n for n in names_A if "_A." in n]
        partner = {n: n.replace("_A.", "_B.") for n in names_A}
        output = {n: n.replace("_A.", ".") for n in names_A}
        names_B = [n for n in names_B if "_B." in n]
    else:
        partner = output = {n: n for n in names_A}
    if not names_A:
        raise GantoolError(f"{dir_A} has no images" + (" named *_A.* (--use_AB)" if use_AB else ""))
    present_B = set(names_B)
    only_A = [n for n in names_A if partner[n] not in present_B]
    only_B = sorted(set(names_B) - set(partner.values()))
    problems = []
    if only_A:
        problems.append(f"{len(only_A)} only in {dir_A} ({_shorten(only_A)})")
    if only_B:
        problems.append(f"{len(only_B)} only in {dir_B} ({_shorten(only_B)})")
    pairs = {output[n]: (os.path.join(dir_A, n), os.path.join(dir_B, partner[n])) for n in names_A
             if n not in only_A}
    mismatched = []
    for name, (a, b) in pairs.items():
        size_a, size_b = _size(a), _size(b)
        if size_a != size_b:
            mismatched.append(f"{name}: A {size_a[0]}x{size_a[1]}, B {size_b[0]}x{size_b[1]}")
    if mismatched:
        problems.append(f"{len(mismatched)} of different sizes ({_shorten(mismatched, 3)})")
    if problems:
        raise GantoolError("A and B images do not pair up: " + "; ".join(problems))
    return pairs


def combine_pair(path_A: str, path_B: str, path_AB: str) -> None:
    """Write A and B (same size) side by side, A on the left, as ``path_AB`` (RGB; JPEG at quality 95)."""
    with Image.open(path_A) as a, Image.open(path_B) as b:
        a, b = a.convert("RGB"), b.convert("RGB")
        both = Image.new("RGB", (a.width + b.width, a.height))
        both.paste(a, (0, 0))
        both.paste(b, (a.width, 0))
    both.save(path_AB, quality=95) if path_AB.lower().endswith((".jpg", ".jpeg")) else both.save(path_AB)


def combine_folders(fold_A: str, fold_B: str, fold_AB: str, num_imgs: float = float("inf"), use_AB: bool = False,
                    log: Callable[[str], None] = print) -> int:
    """Combine every split of ``fold_A`` with ``fold_B`` into ``fold_AB``; returns how many images were written.

    Args:
        fold_A, fold_B: folders of A and B pictures, either flat or with split subfolders (train/, test/, ...).
        fold_AB: destination; gets the same split subfolders.
        num_imgs: at most this many images per split (first names in sorted order).
        use_AB: see ``plan_split``.
        log: one line per split.
    Raises:
        GantoolError: a missing folder or pictures that do not pair up (nothing is written then).
    """
    for flag, folder in (("--fold_A", fold_A), ("--fold_B", fold_B)):
        if not os.path.isdir(folder):
            raise GantoolError(f"{flag} {folder} is not a folder")
    splits = _splits(fold_A)
    if not splits:
        raise GantoolError(f"{fold_A} has no images and no split subfolders (train/, test/, ...)")
    plans = {sp: plan_split(os.path.join(fold_A, sp), os.path.join(fold_B, sp), use_AB) for sp in splits}
    written = 0
    for sp, pairs in plans.items():
        out_dir = os.path.join(fold_AB, sp)
        os.makedirs(out_dir, exist_ok=True)
        names = sorted(pairs)[: int(min(num_imgs, len(pairs)))]
        for name in names:
            combine_pair(*pairs[name], os.path.join(out_dir, name))
        written += len(names)
        log(f"combined {len(names)} pairs into {os.path.normpath(out_dir)}")
    return written
