"""HTTP downloads that resume, and archives unpacked atomically: the mechanics under ``gantool download``
and the weights cache (:func:`gantool.io.weights.download`).

Only the standard library and tqdm, only pathlib for paths: the same code runs on Windows, macOS and Linux
with no shell, curl or unzip.

- :func:`fetch` streams a URL into a ``.part`` file. Given a non-empty one it asks only for the rest
  (``Range: bytes=N-``); a server that ignores ``Range`` sends the whole file, which then replaces the part.
  Whatever arrived before a network error or Ctrl-C stays in the part for the next call.
- :func:`unpack` extracts a ``.zip`` or ``.tar.gz`` into a hidden folder beside the target and renames it
  into place, so an error or Ctrl-C midway leaves no half-filled target.
"""
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

from ..errors import GantoolError

_CHUNK = 1 << 20
_TIMEOUT_S = 60
PathLike = Union[str, os.PathLike]


class CorruptArchive(GantoolError):
    """The downloaded archive cannot be read to the end (not an archive, truncated, a CRC mismatch)."""


def fetch(url: str, part: PathLike, resume: bool = True, log: Callable[[str], None] = print) -> str:
    """Download ``url`` into the file ``part`` and return the SHA-256 (64 hex digits) of the whole file.

    Args:
        url: what to fetch (``http(s)://``; any scheme urllib opens).
        part: the file the bytes go to; its folder is created when the first byte arrives, so a failed
            request creates nothing.
        resume: when ``part`` already holds bytes, request only the rest. With False, ``part`` must not
            exist (it is opened exclusively).
        log: one line when a download resumes, restarts or finds ``part`` already complete.

    Raises:
        GantoolError: one line: "could not download URL: <reason>" (HTTP status, refused connection, a body
            cut short) or "could not save the download in FOLDER: <reason>". The bytes already written stay
            in ``part``; deleting it is the caller's choice.
    """
    part = Path(part)
    start = part.stat().st_size if resume and part.is_file() else 0
    try:
        response, offset = _request(url, part, start, log)
        if response is None:
            return _sha256_prefix(part, start).hexdigest()
        with response:
            return _stream(url, response, part, offset, exclusive=not resume)
    except urllib.error.HTTPError as err:
        raise GantoolError(f"could not download {url}: HTTP error {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:  # file errors are GantoolErrors
        reason = str(getattr(err, "reason", None) or err).strip() or type(err).__name__
        raise GantoolError(f"could not download {url}: {reason.splitlines()[0]}") from None


def _request(url: str, part: Path, start: int, log: Callable[[str], None]):
    """``(response, offset)``: the open response and where its first byte goes in ``part``;
    ``(None, start)`` when ``part`` already holds the whole file."""
    if not start:
        return urllib.request.urlopen(url, timeout=_TIMEOUT_S), 0
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes={start}-"}),
                                          timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code != 416:
            raise
        # Asked for bytes past the end: the part is whole (Ctrl-C came after the download) or not this file.
        total = _content_range(err.headers.get("Content-Range", ""))[1]
        err.close()
        if total == start:
            log(f"{part} is already complete")
            return None, start
        log(f"{part} does not match the file on the server; downloading it again")
        return urllib.request.urlopen(url, timeout=_TIMEOUT_S), 0
    if response.status == 206 and _content_range(response.headers.get("Content-Range", ""))[0] == start:
        log(f"resuming {part} at {start / 1e6:.1f} MB")
        return response, start
    if response.status == 206:  # a range we did not ask for: its bytes cannot be appended
        response.close()
        response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    log("the server does not support resuming; downloading from the start")
    return response, 0


def _content_range(header: str) -> Tuple[Optional[int], Optional[int]]:
    """(first byte, total size) of ``Content-Range: bytes 100-199/200`` or ``bytes */200``; None if unknown."""
    try:
        span, _, total = header.split(" ", 1)[1].partition("/")
        first = None if span == "*" else int(span.split("-")[0])
        return first, None if total in ("", "*") else int(total)
    except (IndexError, ValueError):
        return None, None


def _stream(url: str, response, part: Path, offset: int, exclusive: bool) -> str:
    """Write the body of ``response`` into ``part`` from byte ``offset`` on; the file's SHA-256."""
    from tqdm import tqdm

    digest = _sha256_prefix(part, offset)
    expected = offset + response.length if response.length is not None else None
    _saving(part, lambda: part.parent.mkdir(parents=True, exist_ok=True))
    mode = "ab" if offset else ("xb" if exclusive else "wb")
    received = offset
    # disable=None: a bar on a terminal, nothing in a log file or pipe.
    with _saving(part, lambda: open(part, mode)) as f, \
            tqdm(total=expected, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                 desc=url.rsplit("/", 1)[-1], disable=None, file=sys.stderr) as bar:
        # read1: what has arrived, so the bar moves and Ctrl-C loses little on a slow line.
        for chunk in iter(lambda: response.read1(_CHUNK), b""):
            digest.update(chunk)
            _saving(part, lambda: f.write(chunk))
            received += len(chunk)
            bar.update(len(chunk))
        if response.length:  # http.client ends a body cut short by the server quietly
            raise GantoolError(f"could not download {url}: the connection closed after {received} of "
                               f"{expected} bytes")
    return digest.hexdigest()


def _sha256_prefix(path: Path, size: int):
    """A SHA-256 object fed with the first ``size`` bytes of ``path`` (none when ``size`` is 0)."""
    digest = hashlib.sha256()
    if size:
        with open(path, "rb") as f:
            while size > 0:
                chunk = f.read(min(_CHUNK, size))
                if not chunk:
                    break
                digest.update(chunk)
                size -= len(chunk)
    return digest


def _saving(path: Path, call: Callable):
    """``call()`` with an OSError turned into "could not save ..." (told apart from network errors)."""
    try:
        return call()
    except OSError as err:
        raise GantoolError(f"could not save the download in {path.parent}: {err.strerror or err}") from None


def unpack(archive: PathLike, target: PathLike, top: str, replace: bool = False) -> None:
    """Extract ``archive`` (``.zip``, or else a gzip-compressed tar) into the folder ``target``, atomically.

    The archive's CRCs are checked first (zip) or while extracting (tar.gz), into a hidden folder beside
    ``target`` that becomes ``target`` by a rename only when everything is out: an error or Ctrl-C leaves
    no ``target`` and no hidden folder.

    Args:
        archive: the archive file.
        target: the folder to create; it must not exist unless ``replace``.
        top: when the archive holds a folder of this name at its top (the published datasets hold one
            named after the dataset), that folder becomes ``target``; otherwise all of the archive does.
        replace: swap out an existing ``target``; the old folder is deleted only after the new one is in place.

    Raises:
        CorruptArchive: the archive is unreadable; nothing was written.
        GantoolError: a file-system error, one line.
    """
    archive, target = Path(archive), Path(target)
    work = target.parent / f".{target.name}.unpacking.{uuid.uuid4().hex[:8]}"
    old = target.parent / f".{target.name}.replaced.{uuid.uuid4().hex[:8]}"
    try:
        work.mkdir(parents=True)
        _extract(archive, work)
        unpacked = work / top if (work / top).is_dir() else work
        if replace and target.exists():
            target.rename(old)
        unpacked.rename(target)
    except OSError as err:
        raise GantoolError(f"could not unpack {archive.name} into {target.parent}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if old.exists() and target.exists():  # the old folder goes only once the new one is in place
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists():  # the new one did not get there (an error, Ctrl-C): the old one comes back
            old.rename(target)


def _extract(archive: Path, into: Path) -> None:
    """Extract ``archive`` into the existing folder ``into``; CorruptArchive when it cannot be read."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()  # reads every member, checking its CRC, before anything is written
                if bad is not None:
                    raise CorruptArchive(f"{bad} fails its CRC check")
                zf.extractall(into)  # zipfile drops absolute paths and ".." parts itself
            return
        with tarfile.open(archive, "r:gz") as tf:
            if hasattr(tarfile, "data_filter"):  # refuses absolute paths, ".." and links out of the folder
                tf.extractall(into, filter="data")
            else:  # Python < 3.11.4
                tf.extractall(into, members=_safe(tf))
            # gzip checks its CRC at the end of the stream, which tar stops short of: read on to there.
            while tf.fileobj.read(_CHUNK):
                pass
    except CorruptArchive:
        raise
    # BadGzipFile is an OSError, yet the archive's fault, not the disk's.
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CorruptArchive(str(err).splitlines()[0] if str(err) else type(err).__name__) from None


def _safe(tf: tarfile.TarFile):
    """The members of ``tf`` that stay inside the folder (Python < 3.11.4 has no extraction filter)."""
    for member in tf.getmembers():
        parts = Path(member.name).parts
        if (member.isfile() or member.isdir()) and ".." not in parts and not Path(member.name).is_absolute():
            yield member
