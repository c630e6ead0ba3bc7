"""Relative paths a user passes: where they are looked up, and errors that name every try.

One rule for the CLI and the constructs. A relative path is looked up in each of ``bases`` in
turn and the first that exists wins; an absolute path is used as it is. The CLI passes the
working directory; a ``PythonWheelFunction`` passes its ``entry`` folder first, then the
working directory (``aws-lambda-python-alpha`` reads dependency files from ``entry``, and CDK
resolves asset paths against the working directory). The error names every absolute path that
was tried, so a user sees at once which folder was searched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ..errors import InputError
from .entries import resolve_local
from .spec import local_path_of

PathKind = Literal["file", "dir", "any"]


def lookup_bases(*folders: Path | None) -> tuple[Path, ...]:
    """Absolute, de-duplicated search folders, in order (``None`` entries are skipped)."""
    out: list[Path] = []
    for folder in folders:
        if folder is None:
            continue
        path = Path(os.path.abspath(folder))
        if path not in out:
            out.append(path)
    return tuple(out)


def candidates(value: str | os.PathLike[str], bases: Sequence[Path]) -> tuple[Path, ...]:
    """The absolute paths ``value`` may name, in lookup order (one for an absolute path)."""
    path = Path(value)
    if path.is_absolute():
        return (Path(os.path.abspath(path)),)
    return tuple(Path(os.path.abspath(base / path)) for base in bases)


def _is(path: Path, kind: PathKind) -> bool:
    try:
        if kind == "file":
            return path.is_file()
        if kind == "dir":
            return path.is_dir()
        return path.exists()
    except (OSError, ValueError):
        return False


def find_path(
    value: str | os.PathLike[str],
    bases: Sequence[Path],
    *,
    what: str,
    kind: PathKind = "any",
    hint: str = "",
) -> Path:
    """The first of :func:`candidates` that exists (as a ``kind``), made absolute.

    Args:
        value: the path as the user wrote it.
        bases: the folders a relative path is looked up in, in order (see :func:`lookup_bases`).
        what: how the message names the argument, e.g. ``"dependencies"``.
        kind: ``"file"``, ``"dir"`` or ``"any"``.
        hint: the next step, appended to the message.

    Raises:
        InputError: none of the candidates exists; the message lists each absolute path tried.
    """
    tried = candidates(value, bases)
    for path in tried:
        if _is(path, kind):
            return path
    noun = {"file": "file", "dir": "folder", "any": "file or folder"}[kind]
    looked = ", then ".join(str(p) for p in tried)
    raise InputError(
        f"{what} {os.fspath(value)!r}: no such {noun}; looked for {looked}"
        + (f"; {hint}" if hint else "")
    )


def absolute_find_links(
    links: Sequence[str], bases: Sequence[Path], *, what: str
) -> tuple[str, ...]:
    """``find_links`` entries with local paths (and ``file:`` URLs) made absolute.

    Remote URLs are kept as they are. A local entry must exist in one of ``bases``.

    Raises:
        InputError: a local entry exists nowhere; the message lists each absolute path tried.
    """
    out: list[str] = []
    for link in links:
        try:
            local = local_path_of(link)
        except ValueError:
            local = None
        if local is None:
            out.append(link)
            continue
        tried = tuple(dict.fromkeys(resolve_local(link, base) for base in bases))
        found = next((p for p in tried if _is(p, "any")), None)
        if found is None:
            looked = ", then ".join(str(p) for p in tried)
            raise InputError(
                f"{what} {link!r}: no such folder; looked for {looked}; create it, fix the "
                "path, or pass an http(s) URL"
            )
        out.append(str(found))
    return tuple(out)
