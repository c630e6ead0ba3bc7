"""Where ``lambda-wheels build -o OUT`` may write: OUT is replaced whole, so it must be ours.

A build writes a new folder beside OUT and renames it over OUT, deleting what was there. That
is what a user wants for a bundle lambda-wheels wrote before, and never for anything else:

* OUT that does not exist, or an empty folder: written.
* OUT that lambda-wheels wrote: it holds :data:`MARKER`, an empty file, and is replaced.
* Any other folder with files in it: refused (:class:`~lambda_wheels_cdk.errors.UsageError`,
  exit 2), unless ``force`` (``--force``) says to replace it.
* Refused even with ``force``, because replacing OUT would delete something the build needs or
  the user keeps, or because the rename cannot work: a regular file (or anything that is not a
  folder), a symbolic link, a mount point; the ``--source`` folder, a folder inside it (the next
  build would copy the bundle into itself) or one that contains it; an input file or folder
  (``-r``, ``--project``, ``--find-links``) or a folder that contains one; the bundle cache and
  uv's cache, inside or around; the working directory or any folder that contains it (``-o .``);
  the home folder and the file system's root.

:data:`MARKER` is part of the bundle: a zip made of OUT holds it (0 bytes, the same on every
build, so the zip stays byte-for-byte reproducible; Lambda ignores it). Paths are compared
after resolving symbolic links and ``..``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from ..errors import UsageError
from ..target.runtimes import DATACLASS_SLOTS
from ..tree import FILE_MODE, FIXED_MTIME, MODES

#: The file that marks a folder as written by ``lambda-wheels build`` (empty).
MARKER: Final = ".lambda-wheels-output"

#: How many of a refused folder's entries the message names.
_SHOWN: Final = 5

Relation = Literal["is", "contains", "inside"]


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Protected:
    """A path OUT must keep away from.

    Attributes:
        what: how the message names it ("the --source folder").
        path: the path as given (resolved here).
        inside_too: OUT inside it is refused too (not only OUT equal to it or around it).
        why: what replacing OUT would do to it, for the message.
        alternative: another way out, added to the message ("or ...").
    """

    what: str
    path: Path
    inside_too: bool = False
    why: str = "a build replaces its output folder whole, which would delete it"
    alternative: str = ""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _relation(out: Path, other: Path) -> Relation | None:
    if out == other:
        return "is"
    if out in other.parents:
        return "contains"
    if other in out.parents:
        return "inside"
    return None


def _describe(path: Path) -> str:
    """A few of a folder's entries, for the message."""
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(path))
    except OSError:
        return "files"
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _is_empty(path: Path) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def check_output(
    out: Path,
    *,
    protected: Sequence[Protected] = (),
    force: bool = False,
    cwd: Path | None = None,
    home: Path | None = None,
) -> None:
    """Refuse an OUT that a build must not replace (see the module docstring).

    Args:
        out: the output folder as the user gave it.
        protected: the build's source, inputs and caches.
        force: replace a non-empty folder that lambda-wheels did not write.
        cwd: the working directory (default: the process's).
        home: the user's home folder (default: ``Path.home()``, when it can be known).

    Raises:
        UsageError: the message names OUT, what it collides with and what to do instead.
    """
    shown = str(out)
    real = _real(out)
    here = _real(cwd if cwd is not None else Path.cwd())
    if home is None:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):  # no HOME / no password entry
            home = None
    choose = "choose a folder of its own for the bundle, e.g. -o build/<function>"
    if real.parent == real:
        raise UsageError(f"-o {shown} is the file system's root; {choose}")
    places = [("your home folder", _real(home))] if home is not None else []
    places.append(("the current working directory", here))
    for what, path in places:
        relation = _relation(real, path)
        if relation in ("is", "contains"):
            raise UsageError(
                f"-o {shown} {relation} {what} ({path}): a build replaces its output folder "
                f"whole, which would delete everything in it; {choose}"
            )
    for item in protected:
        other = _real(item.path)
        relation = _relation(real, other)
        if relation is None or (relation == "inside" and not item.inside_too):
            continue
        verb = {"is": "is", "contains": "contains", "inside": "is inside"}[relation]
        raise UsageError(
            f"-o {shown} {verb} {item.what} {other}: {item.why}; {choose}{item.alternative}"
        )
    if os.path.islink(out):
        raise UsageError(
            f"-o {shown} is a symbolic link (to {real}); pass the folder itself, or a new path"
        )
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise UsageError(
            f"-o {shown} is a file, not a folder; lambda-wheels writes a folder there: choose "
            "another path, or delete the file first"
        )
    if os.path.ismount(out):
        raise UsageError(
            f"-o {shown} is a mount point, which cannot be replaced; use a folder inside it"
        )
    check_replaceable(out, force=force)


def check_replaceable(out: Path, *, force: bool = False) -> None:
    """Refuse to replace an existing, non-empty folder that lambda-wheels did not write.

    Called again right before the rename, so a file put in OUT during the build is not lost.
    """
    if force or not out.is_dir() or (out / MARKER).is_file() or _is_empty(out):
        return
    raise UsageError(
        f"-o {out} is a folder lambda-wheels did not write, and it is not empty (it holds "
        f"{_describe(out)}): a build replaces its output folder whole. Choose a new or empty "
        "folder, or pass --force to replace this one (everything in it is deleted)"
    )


def mark(folder: Path) -> None:
    """Put :data:`MARKER` into a folder a build is about to publish as OUT (empty, with the
    bundle's fixed modification time: the same bytes and date in every zip made of OUT)."""
    marker = folder / MARKER
    marker.write_bytes(b"")
    if MODES:
        os.chmod(marker, FILE_MODE)  # a bundle's file mode, whatever the umask
    os.utime(marker, (FIXED_MTIME, FIXED_MTIME))


__all__ = ["MARKER", "Protected", "check_output", "check_replaceable", "mark"]
