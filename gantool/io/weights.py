"""Downloadable weights: the cache folder, SHA-256 checks, atomic downloads, strict state-dict loading.

Weights that are too big to ship (the FID Inception network) live in ``<cache_dir()>/weights/<file>``.
They are only downloaded when the user asks (``--download``); otherwise a missing file raises a one-line
``GantoolError`` that says where to put it. Every file is checked against the SHA-256 it was published
with before it is used, and a download lands at its place only once its digest is right, so the cache
never holds half a file.
"""
import hashlib
import os
from typing import Callable, Optional

import torch
import torch.nn as nn

from ..errors import GantoolError
from .downloads import fetch
from .files import atomic_write_path, load_file

_CHUNK = 1 << 20


def cache_dir() -> str:
    """gantool's cache folder: ``$GANTOOL_CACHE``, else ``$XDG_CACHE_HOME/gantool``, else ``~/.cache/gantool``.

    Nothing is created here; writers create the sub-folder they need.
    """
    if os.environ.get("GANTOOL_CACHE"):
        return os.path.abspath(os.path.expanduser(os.environ["GANTOOL_CACHE"]))
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore a relative path
        return os.path.join(xdg, "gantool")
    return os.path.join(os.path.expanduser("~"), ".cache", "gantool")


def cached_weights_path(filename: str) -> str:
    """Where the weights file ``filename`` is kept: ``<cache_dir()>/weights/<filename>``."""
    return os.path.join(cache_dir(), "weights", filename)


def sha256_of(path: str) -> str:
    """The SHA-256 of the file ``path`` as 64 lowercase hex digits (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected(sha256: str) -> str:
    """The expected digest in lowercase; a programming error (ValueError) unless 8 to 64 hex digits."""
    if not 8 <= len(sha256) <= 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ValueError(f"expected SHA-256 {sha256!r} is not a hex digest or a prefix of 8 or more digits")
    return sha256.lower()


def _matches(actual: str, expected: str) -> bool:
    return actual.startswith(_expected(expected))


def _mismatch(what: str, actual: str, expected: str, advice: str) -> GantoolError:
    shown = expected.lower() if len(expected) <= 16 else expected.lower()[:16] + "..."
    return GantoolError(f"{what} (SHA-256 {actual[:16]}... != expected {shown}); {advice}")


def verify(path: str, sha256: str) -> None:
    """Check that the file ``path`` has the digest ``sha256``.

    Args:
        sha256: the full 64-hex digest, or a prefix of it (at least 8 digits: torch.hub names its files
            ``<name>-<first 8 hex digits of the SHA-256>.pth``, and some files are only known by that).

    Raises:
        GantoolError: the digest differs ("... is corrupt or not the expected file ...; delete it and
            download again").
    """
    actual = sha256_of(path)
    if not _matches(actual, sha256):
        raise _mismatch(f"{path} is corrupt or not the expected file", actual, sha256,
                        "delete it and download again")


def download(url: str, path: str, sha256: str, log: Callable[[str], None] = print) -> None:
    """Stream ``url`` into ``path``, checking its SHA-256 before it is put in place.

    The bytes go to a temporary file next to ``path`` (through :func:`gantool.io.downloads.fetch`), which is
    renamed to ``path`` only when the digest matches: an interrupted download, a network error or wrong
    bytes leave ``path`` as it was (absent, or the previous file) and no temporary file behind. Weights are
    small enough that starting again beats keeping a partial file to resume.

    Args:
        url: where to fetch from (``https://``; any scheme urllib opens).
        path: the destination file; its folder is created.
        sha256: the expected digest, full or a prefix (see :func:`verify`).
        log: receives one line before and one after the download.

    Raises:
        GantoolError: one line naming the URL on a network error; the checksum error of :func:`verify`
            on wrong bytes; a file-system error naming the folder or file.
    """
    _expected(sha256)  # a bad digest fails now, not after the download
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise GantoolError(f"cannot write to {folder}: {err.strerror}") from None
    log(f"downloading {url} to {path}")

    def fill(tmp: str) -> None:
        digest = fetch(url, tmp, resume=False, log=log)
        if not _matches(digest, sha256):
            raise _mismatch(f"{url} sent a file that is not the expected one", digest, sha256,
                            f"nothing was saved to {path}")

    try:
        atomic_write_path(path, fill)
    except OSError as err:  # the final rename
        raise GantoolError(f"could not save {path}: {err.strerror or err}") from None
    log(f"downloaded {os.path.getsize(path) / 1e6:.1f} MB, SHA-256 checked")


_download = download  # find_weights' ``download`` flag hides the function's name there


def find_weights(filename: str, url: str, sha256: str, weights: Optional[str] = None, download: bool = False,
                 log: Callable[[str], None] = print, what: str = "the weights",
                 how: str = "rerun with --download once with internet") -> str:
    """The path of a checked weights file: ``weights`` if given, else the cached copy, else a download.

    Args:
        filename: the file's name in the cache (``pt_inception-2015-12-05-6726825d.pth``).
        url: where it is published.
        sha256: its digest, full or a prefix (see :func:`verify`).
        weights: a file the user named (``--weights``); it must exist and have the digest.
        download: fetch the file into the cache when it is missing (or corrupt) there; never done unless
            asked.
        what: the weights as the user knows them, for messages ("the FID Inception weights").
        how: how to download with gantool, for the message when the file is missing.

    Raises:
        GantoolError: a missing file, saying how to get it; a wrong digest; a failed download.
    """
    if weights is not None:
        if not os.path.isfile(weights):
            raise GantoolError(f"--weights {weights} does not exist")
        verify(weights, sha256)
        return weights
    path = cached_weights_path(filename)
    if os.path.isfile(path):
        if not download:
            verify(path, sha256)
            return path
        try:
            verify(path, sha256)
            return path
        except GantoolError:
            log(f"{path} has the wrong SHA-256; downloading it again")
    elif not download:
        raise GantoolError(f"{what} are not in {path}: {how}, or download {url} yourself and put it there "
                           "(or pass --weights FILE)")
    _download(url, path, sha256, log)
    return path


def load_weights(net: nn.Module, path: str, what: str = "the weights") -> None:
    """Load the state dict in ``path`` into ``net``, refusing anything that is not exactly ``net``'s.

    The file is read with ``torch.load(map_location="cpu", weights_only=True)``. Its keys and shapes must
    equal ``net.state_dict()``'s (BatchNorm's ``num_batches_tracked`` counters may be absent).

    Raises:
        GantoolError: one line: an unreadable file, not a state dict, missing or unexpected keys, a shape.
    """
    state = load_file(path, what="weights file")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GantoolError(f"{path} is not {what}: it holds a {type(state).__name__}, not a state dict of tensors")
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        detail = [f"{len(missing)} keys missing ({missing[0]!r} ...)"] if missing else []
        detail += [f"{len(unexpected)} unexpected ({unexpected[0]!r} ...)"] if unexpected else []
        raise GantoolError(f"{path} is not {what}: {', '.join(detail)}")
    for key, value in expected.items():
        if key in state and state[key].shape != value.shape:
            raise GantoolError(f"{path} is not {what}: {key} is {tuple(state[key].shape)}, "
                               f"expected {tuple(value.shape)}")
    net.load_state_dict(state, strict=False)  # checked above; strict would refuse absent batch counters
