"""One input file being read (:class:`InputFile`): what every reader of ``pyproject.toml`` and
the lock files shares -- the file read once, its problems gathered, its entries and indexes
collected -- and the :class:`~.spec.DependencySpec` it becomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .entries import Entry, build_spec
from .reading import PathLike, Problem, Problems, existing_file, place, read_toml
from .spec import DependencySpec, IndexSettings, canon, is_pypi

__all__ = ["InputFile"]


class InputFile:
    """An input file as read (its absolute ``path``, ``text`` and parsed ``data``) and what its
    reader gathers from it: ``entries``, ``extra_indexes`` and ``problems``.

    The reader collects every problem (:meth:`gathering`) and :meth:`spec` raises them all at
    once, naming the file as ``display`` (its file name).
    """

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.data = data
        self.display = path.name
        self.problems = Problems(self.display)
        self.entries: list[Entry] = []
        self.extra_indexes: list[str] = []

    @classmethod
    def toml(cls, path: PathLike, kind: str) -> InputFile:
        """Read a TOML input; ``kind`` names it in the message when it does not exist.

        Raises:
            InputError: the file is missing, unreadable or not valid TOML.
        """
        file = existing_file(path, kind)
        data, text = read_toml(file, file.name)
        return cls(file, text, data)

    @property
    def folder(self) -> Path:
        """Where relative paths in the file start."""
        return self.path.parent

    def place(self, *needles: str) -> str:
        """``file:line`` of the first line holding every needle, else the file name."""
        return place(self.display, self.text, *needles)

    @contextmanager
    def gathering(self) -> Iterator[None]:
        """Record a :class:`~.reading.Problem` raised inside the block and go on reading."""
        try:
            yield
        except Problem as problem:
            self.problems.add(str(problem))

    def check_known(
        self, kind: str, asked: Iterable[str], known: set[str], *, canonical: bool = False
    ) -> None:
        """A problem for each name asked for (an extra, a group) that the file does not define;
        ``canonical``: compare PEP 503 normalized names."""
        for item in asked:
            if (canon(item) if canonical else item) not in known:
                listing = ", ".join(sorted(known)) or "none"
                self.problems.add(
                    f"{self.display}: {kind} {item!r} is not defined ({kind}s: {listing}): ask "
                    "for an existing one"
                )

    def add_index(self, url: str) -> None:
        """Install from this index too (PyPI, the default, is left out)."""
        if not is_pypi(url) and url not in self.extra_indexes:
            self.extra_indexes.append(url)

    def spec(self, *, index_url: str | None = None, locked: bool = True) -> DependencySpec:
        """The spec of the gathered entries and indexes.

        Raises:
            InputError: every problem gathered, in one message.
        """
        self.problems.raise_if_any()
        index = IndexSettings(index_url=index_url, extra_index_urls=tuple(self.extra_indexes))
        return build_spec(self.entries, [], index, origin=self.display, locked=locked)
