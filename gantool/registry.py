"""Explicit name -> class registries (torchvision ``models/_api.py`` style)."""
from typing import Callable, Dict, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry:
    """A named table of constructors filled by the ``@registry.register(name)`` decorator.

    Args:
        kind: what the entries are, as the user names it in errors (for example ``"--netG"``).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Callable] = {}
        self._summaries: Dict[str, str] = {}

    def register(self, name: str, summary: str = "") -> Callable[[T], T]:
        """Decorator adding ``obj`` under ``name`` (``summary``: a few words for ``--help``); a second
        entry with the same name raises."""

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            if summary:
                self._summaries[name] = summary
            return obj

        return decorator

    def get(self, name: str) -> Callable:
        """Return the entry for ``name``; unknown names raise ``UnknownNameError`` listing the choices."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'; choose from: {', '.join(self.names())}"
            ) from None

    def names(self) -> list:
        """The registered names, sorted."""
        return sorted(self._entries)

    def describe(self) -> str:
        """The choices for ``--help``, in registration order: ``basic (70x70 PatchGAN), n_layers, ...``."""
        return ", ".join(f"{n} ({self._summaries[n]})" if n in self._summaries else n for n in self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
