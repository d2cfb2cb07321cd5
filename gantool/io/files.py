"""Atomic file writes and safe PyTorch file reads: the leaf of the package that anything may import.

Every write goes to a temporary file in the same folder (``.<name>.<pid>.<random>.tmp``) and is renamed
into place, so a crash or Ctrl-C mid-write leaves either the old file or the new one, never half of one.
No fsync: this guards against crashes of the process, and fsync can cost tens of milliseconds per file on
network disks. Every read of a ``.pth`` uses ``weights_only=True``.
"""
import os
import pickle
import uuid
import zipfile
from collections import OrderedDict
from typing import BinaryIO, Callable, Dict

import torch
import torch.nn as nn

from ..errors import GantoolError

_PREFIXES = ("module.", "_orig_mod.")


def atomic_write_path(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file in ``path``'s folder, then ``os.replace`` it into place.

    Args:
        path: destination file; its folder must exist.
        write: writes the file it is given (a path that does not exist yet).

    Raises:
        whatever ``write`` raises; the temporary file is removed and ``path`` is unchanged.
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """:func:`atomic_write_path` with ``write`` called on the temporary file opened for binary writing.

    A plain open (not ``tempfile.mkstemp``), so the file gets the usual umask permissions, not 0600.

    Raises:
        GantoolError: the file system refused (a full disk: ENOSPC, EFBIG); ``path`` is unchanged.
    """

    def fill(tmp: str) -> None:
        with open(tmp, "xb") as f:
            write(f)

    try:
        atomic_write_path(path, fill)
    except OSError as err:  # a full disk, a lost permission: one line, the previous file as it was
        raise GantoolError(f"could not save {path}: {err.strerror or err}; the previous file is unchanged") from None


def append_line(path: str, text: str) -> None:
    """Append ``text`` to ``path`` (a log), one line on failure: appending keeps what the file held before."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise GantoolError(f"could not write to {path}: {err.strerror or err}; what it held is kept") from None


def ensure_folder(folder: str, option: str = "", create: bool = True) -> str:
    """Create ``folder`` (and its parents) if needed and check that it can be written to.

    Args:
        folder: the folder an output goes to.
        option: the option that chose it (``--results_dir``, ``-o``...), named in the message.
        create: False only checks that it could be created (its nearest existing parent is a writable folder),
            for a command that should leave nothing behind when a later step fails.

    Returns:
        ``folder``.

    Raises:
        GantoolError: one line when a file is in the way, the place cannot be created or is not writable.
    """
    hint = f"; choose another {option}" if option else ""
    if not create:
        existing = next(p for p in reversed(list(_parents(folder))) if os.path.exists(p))
        if not os.path.isdir(existing):
            raise GantoolError(f"cannot create the folder {folder}: {existing} is a file, not a folder{hint}")
        if not os.access(existing, os.W_OK):
            raise GantoolError(f"{existing} is not writable{hint}")
        return folder
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in _parents(folder) if os.path.exists(p) and not os.path.isdir(p)), folder)
        raise GantoolError(f"cannot create the folder {folder}: {blocker} is a file, not a folder{hint}") from None
    except OSError as err:
        raise GantoolError(f"cannot create the folder {folder}: {err.strerror or err}{hint}") from None
    if not os.access(folder, os.W_OK):
        raise GantoolError(f"{folder} is not writable{hint}")
    return folder


def _parents(folder: str):
    """``folder`` and the folders above it, from the root down."""
    path = os.path.abspath(folder)
    chain = [path]
    while os.path.dirname(path) != path:
        path = os.path.dirname(path)
        chain.append(path)
    return reversed(chain)


def checked_write_path(path: str, write: Callable[[str], None], option: str = "") -> None:
    """:func:`atomic_write_path` that creates the folder and turns file-system failures (a file where the
    folder should be, no permission, a full disk) into one clear line; the previous file stays as it was.

    Args:
        path: destination file.
        write: fills the temporary file it is given; whatever it raises leaves ``path`` unchanged.
        option: the option that chose ``path``, named in the messages.
    """
    folder = ensure_folder(os.path.dirname(os.path.abspath(path)), option)
    try:
        atomic_write_path(path, write)
    except OSError as err:
        if not os.access(folder, os.W_OK):
            raise GantoolError(f"cannot write to {folder}: {err.strerror}") from None
        raise GantoolError(f"could not save {path}: {err.strerror or err}; the previous file is unchanged") from None


class _WriteErrors:
    """A file that remembers the OSError of a failed write: ``torch.save`` reports a full disk only as a
    RuntimeError about zip positions."""

    def __init__(self, f: BinaryIO):
        self.f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.f.flush()


def _torch_save(obj, tmp: str) -> None:
    with open(tmp, "xb") as f:
        out = _WriteErrors(f)
        try:
            torch.save(obj, out)
        except RuntimeError:
            if out.error is not None:
                raise out.error from None  # the disk's own reason (ENOSPC, EFBIG), handled as every OSError
            raise


def atomic_save(obj, path: str) -> None:
    """``torch.save(obj, path)`` through a temporary file and a rename; a full disk is one line
    (:func:`checked_write_path`) and leaves the previous file."""
    checked_write_path(path, lambda tmp: _torch_save(obj, tmp))


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    checked_write_path(path, write)


def remove_stale_temporaries(folder: str) -> None:
    """Delete the temporary files of atomic writes that never finished (a process killed mid-save).

    Only call this while no other process writes into ``folder``.
    """
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp"):
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass


def load_file(path: str, what: str = "checkpoint"):
    """``torch.load`` with ``weights_only=True`` on the CPU, turning every failure into one clear line."""
    if not os.path.isfile(path):
        raise GantoolError(f"{what} {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise GantoolError(
            f"{path} was refused: it contains pickled Python objects, not just weights, and loading it could "
            f"run code ({str(err).splitlines()[0][:120]}). Only load such a file if you trust it, and re-save "
            "its state_dict"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise GantoolError(f"{path} is not a readable PyTorch file (truncated or corrupt?): {str(err).splitlines()[0][:160]}") from None


def clean_state_dict(state: Dict[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Strip ``module.`` / ``_orig_mod.`` prefixes (DataParallel, DDP, torch.compile) and drop metadata."""
    out = OrderedDict()
    for key, value in state.items():
        for prefix in _PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if hasattr(net, "module") and isinstance(net.module, nn.Module):
            net = net.module
        elif hasattr(net, "_orig_mod"):
            net = net._orig_mod
        else:
            return net
