"""``gantool download dataset|model NAME``: the classic datasets and pretrained generators, without bash.

    gantool download dataset horse2zebra               -> datasets/horse2zebra/{trainA,trainB,testA,testB}/
    gantool download dataset facades --from pix2pix    -> datasets/facades/{train,val,test}/ (A|B images)
    gantool download model horse2zebra                 -> checkpoints/horse2zebra_pretrained/latest_net_G.pth

The names, URLs and folders are those of ``scripts/download_*.sh`` (a test holds the two to the same
lists). A name published both for CycleGAN and for pix2pix (facades, maps, sat2map...) needs ``--from``.
``--url_base`` or ``$GANTOOL_DOWNLOAD_URL_BASE`` points at a mirror of the server's tree.

Checksums: the server publishes none (no digest files beside the archives; the classic scripts check
none), so integrity is checked by content instead: every zip member's CRC (``zipfile.testzip``), the gzip
CRC and tar structure of a ``.tar.gz`` while it unpacks, and for a model that the file loads as a state
dict of tensors. A failed check deletes the download, since resuming it would only repeat the fault.

A download goes to ``<dir>/<from>_<file>.part`` and resumes from there after a network error or Ctrl-C.
"""
import argparse
import os
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import GantoolError
from .files import ensure_folder
from .downloads import CorruptArchive, fetch, unpack

DEFAULT_URL_BASE = "http://efrosgans.eecs.berkeley.edu"
URL_BASE_ENV = "GANTOOL_DOWNLOAD_URL_BASE"

#: (kind, source) -> (URL path below the base, the published names), as in scripts/download_*.sh.
CATALOG: Dict[Tuple[str, str], Tuple[str, Tuple[str, ...]]] = {
    ("dataset", "cyclegan"): ("cyclegan/datasets/{name}.zip", (
        "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
        "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower", "mini", "mini_pix2pix",
        "mini_colorization", "ae_photos")),
    ("dataset", "pix2pix"): ("pix2pix/datasets/{name}.tar.gz", (
        "facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")),
    ("model", "cyclegan"): ("cyclegan/pretrained_models/{name}.pth", (
        "apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite", "horse2zebra",
        "zebra2horse", "monet2photo", "style_monet", "style_cezanne", "style_ukiyoe", "style_vangogh", "sat2map",
        "map2sat", "cityscapes_photo2label", "cityscapes_label2photo", "facades_photo2label",
        "facades_label2photo", "iphone2dslr_flower")),
    ("model", "pix2pix"): ("pix2pix/models-pytorch/{name}.pth", (
        "edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night")),
}
SOURCES = ("cyclegan", "pix2pix")
# Its license forbids redistribution, so the server does not have it.
_CITYSCAPES = ("cityscapes cannot be redistributed: register at https://www.cityscapes-dataset.com, download "
               "gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, and combine each photo with its label "
               "map into A|B images (datasets/combine_A_and_B.py) under datasets/cityscapes/{train,val}")


def _parser() -> argparse.ArgumentParser:
    choices = "\n".join(textwrap.fill(f"{kind}s from {source}: {' '.join(names)}", 100, subsequent_indent="  ")
                        for (kind, source), (_, names) in CATALOG.items())
    parser = argparse.ArgumentParser(
        prog="gantool download", epilog=choices, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Download a dataset or pretrained generator published with pytorch-CycleGAN-and-pix2pix.")
    parser.add_argument("kind", choices=("dataset", "model"),
                        help="dataset: unpacked into DIR/NAME/; model: saved as DIR/NAME_pretrained/latest_net_G.pth")
    parser.add_argument("name", help="what to download (listed below)")
    parser.add_argument("--from", dest="source", choices=SOURCES,
                        help="which project's file, for a name both publish (facades, maps, sat2map...)")
    parser.add_argument("--dir", help="where to put it (default: datasets or checkpoints, in the current folder)")
    parser.add_argument("--url_base", help=f"a mirror of {DEFAULT_URL_BASE} (default: ${URL_BASE_ENV}, else that)")
    parser.add_argument("--force", action="store_true", help="replace an existing dataset folder or model file")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    return parser


def resolve(kind: str, name: str, source: Optional[str] = None) -> Tuple[str, str]:
    """``(source, URL path)`` of the published ``kind`` ("dataset" or "model") called ``name``.

    Raises:
        GantoolError: an unknown name (the line lists the choices), a name both projects publish without
            ``source``, or cityscapes (it says how to make it).
    """
    if kind == "dataset" and name == "cityscapes":
        raise GantoolError(_CITYSCAPES)
    sources = [source] if source else list(SOURCES)
    found = [s for s in sources if name in CATALOG[kind, s][1]]
    if not found:
        listed = "; ".join(f"{s}: {' '.join(CATALOG[kind, s][1])}" for s in sources)
        where = f"{source} {kind}" if source else kind
        raise GantoolError(f"unknown {where} '{name}'; choose one of ({listed})")
    if len(found) > 1:
        layouts = " (cyclegan: trainA/ trainB/ folders; pix2pix: A|B pairs)" if kind == "dataset" else ""
        raise GantoolError(f"'{name}' is published both as a CycleGAN and as a pix2pix {kind}; "
                           f"add --from cyclegan or --from pix2pix{layouts}")
    return found[0], CATALOG[kind, found[0]][0].format(name=name)


def download_main(argv: List[str], log: Callable[[str], None] = print) -> Path:
    """``gantool download dataset|model NAME [--from cyclegan|pix2pix] [--dir DIR] [--url_base URL] [--force]``.

    Returns:
        the dataset folder or the model file.
    """
    opt = _parser().parse_args(argv)
    source, url_path = resolve(opt.kind, opt.name, opt.source)
    base = (opt.url_base or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE).rstrip("/")
    url = f"{base}/{url_path}"
    folder = Path(opt.dir or ("datasets" if opt.kind == "dataset" else "checkpoints"))
    ensure_folder(str(folder), "--dir", create=False)  # before any connection; nothing is created yet
    part = folder / f"{source}_{url_path.rsplit('/', 1)[-1]}.part"
    if opt.kind == "dataset":
        return download_dataset(url, folder / opt.name, part, opt.force, log)
    return download_model(url, folder / f"{opt.name}_pretrained" / "latest_net_G.pth", part, opt.force, log)


def download_dataset(url: str, target: Path, part: Path, force: bool = False,
                     log: Callable[[str], None] = print) -> Path:
    """Download the archive at ``url`` through ``part`` and unpack it into the new folder ``target``.

    Raises:
        GantoolError: ``target`` exists (without ``force``); the download failed (``part`` kept to resume);
            the archive is corrupt (``part`` deleted); a file-system error.
    """
    _refuse_existing(target, force, "folder")
    _fetch_resumable(url, part, log)
    try:
        unpack(part, target, top=target.name, replace=force)
    except CorruptArchive as err:
        raise _discard(part, f"the archive from {url} is corrupt ({err})") from None
    part.unlink()
    log(f"saved {target}")
    return target


def download_model(url: str, target: Path, part: Path, force: bool = False,
                   log: Callable[[str], None] = print) -> Path:
    """Download the generator at ``url`` through ``part`` and move it to ``target`` once it loads.

    Raises:
        GantoolError: ``target`` exists (without ``force``); the download failed (``part`` kept to resume);
            the file is not a state dict of tensors (``part`` deleted); a file-system error.
    """
    _refuse_existing(target, force, "file")
    _fetch_resumable(url, part, log)
    _check_state_dict(part, url)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)  # same folder tree, so a rename: target is whole or absent
    except OSError as err:
        raise GantoolError(f"could not save {target}: {err.strerror or err}; the download is in {part}") from None
    log(f"saved {target}")
    return target


def _refuse_existing(target: Path, force: bool, what: str) -> None:
    if target.exists() and not force:
        raise GantoolError(f"{target} already exists; delete that {what} to download it again, or add --force")


def _fetch_resumable(url: str, part: Path, log: Callable[[str], None]) -> None:
    """:func:`fetch` into ``part``, saying on failure or Ctrl-C that what arrived is kept for a resume."""
    log(f"downloading {url}")
    kept = f"{part} keeps what arrived: run the same command again to resume"
    try:
        fetch(url, part, resume=True, log=log)
    except GantoolError as err:
        if part.is_file() and part.stat().st_size:
            raise GantoolError(f"{err}; {kept}") from None
        raise
    except KeyboardInterrupt:
        if part.is_file() and part.stat().st_size:
            log(f"interrupted: {kept}")
        raise


def _check_state_dict(part: Path, url: str) -> None:
    """Load ``part`` (weights only) and check that it is a state dict of tensors, else delete it."""
    import torch

    from .files import load_file

    try:
        state = load_file(str(part), what="download")
    except GantoolError:
        raise _discard(part, f"the file from {url} is not a readable PyTorch file") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _discard(part, f"the file from {url} holds a {type(state).__name__}, not a generator's state dict")


def _discard(part: Path, problem: str) -> GantoolError:
    """Delete ``part`` and return the one-line error that says so."""
    part.unlink(missing_ok=True)
    return GantoolError(f"{problem}; deleted {part}: run the same command again to download it afresh")
