"""Where a symbolic link in a bundle leads, worked out from the bundle's listing alone.

The audit never follows a link on disk (it would read outside the audited folder, hang on a
pipe, or loop). It resolves links here instead, as a path lookup would: component by
component from the link's folder, following the other links of the same bundle, with at most
:data:`MAX_LINKS` links per lookup (Linux's ``MAXSYMLINKS``, fs/namei.c). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ..target.runtimes import DATACLASS_SLOTS

#: Links one lookup may follow before the kernel gives up with ELOOP (Linux: 40).
MAX_LINKS: Final = 40

_ABSOLUTE = re.compile(r"^(?:/|[A-Za-z]:)")


@dataclass(frozen=True, **DATACLASS_SLOTS)
class LinkEnd:
    """Where a link leads: a path inside the bundle, outside it, or round in a loop."""

    kind: Literal["inside", "outside", "loop"]
    #: ``inside``: the tree-relative path it reaches (``""`` for the root); ``outside``: the
    #: absolute target that left the bundle, or ``".."`` for a relative one.
    path: str


def is_absolute(target: str) -> bool:
    """An absolute link target: ``/...``, or a Windows drive (``C:...``)."""
    return _ABSOLUTE.match(target) is not None


def follow(path: str, links: Mapping[str, str]) -> LinkEnd:
    """Where the link at tree path ``path`` leads; ``links`` maps every link of the tree (its
    path) to its target text."""
    parts = [p for p in path.split("/")[:-1] if p]
    pending = [path]  # a stack of link paths whose targets still need walking, one at a time
    hops = 0
    walk: list[str] = []
    while pending or walk:
        if pending:
            link = pending.pop()
            hops += 1
            if hops > MAX_LINKS:
                return LinkEnd("loop", path)
            target = links[link]
            if is_absolute(target):
                return LinkEnd("outside", target)
            walk = [p for p in target.split("/") if p not in ("", ".")] + walk
            continue
        part = walk.pop(0)
        if part == "..":
            if not parts:
                return LinkEnd("outside", "..")
            parts.pop()
            continue
        parts.append(part)
        current = "/".join(parts)
        if current in links:
            parts.pop()
            pending.append(current)
    return LinkEnd("inside", "/".join(parts))


def link_above(path: str, links: Mapping[str, str]) -> str | None:
    """The outermost folder above ``path`` that the tree holds as a link (a zip member written
    through a linked folder), or ``None``."""
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        folder = "/".join(parts[:i])
        if folder in links:
            return folder
    return None
