"""What an install put in a folder: its distributions (``*.dist-info``), as the manifest and the
audit record them."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import canonicalize_name

from ..distinfo import dist_infos, read_metadata, read_record
from ..target.runtimes import DATACLASS_SLOTS

if TYPE_CHECKING:
    from ..target.target import Target


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Distribution:
    """One installed distribution, as recorded in the manifest."""

    name: str
    version: str
    wheel: str
    tags: tuple[str, ...]
    origin: Literal["wheel", "sdist-host", "sdist-docker"]
    size: int
    files: int
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "wheel": self.wheel,
            "tags": list(self.tags),
            "origin": self.origin,
            "size": self.size,
            "files": self.files,
        }
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            wheel=str(data["wheel"]),
            tags=tuple(data["tags"]),
            origin=data["origin"],
            size=int(data["size"]),
            files=int(data["files"]),
            note=data.get("note"),
        )


def read_distributions(
    root: Path,
    target: Target,
    origins: Mapping[str, str] | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
) -> tuple[Distribution, ...]:
    """The distributions installed under ``root`` (``*.dist-info``), sorted by name.

    ``sizes`` (relative POSIX path -> bytes, e.g. from :func:`tree.tree_record`) saves a stat
    per file.
    """
    origins = origins or {}
    out: list[Distribution] = []
    for info in dist_infos(root):
        meta = read_metadata(info)
        try:
            wheel = HeaderParser().parsestr((info / "WHEEL").read_text(encoding="utf-8"))
        except OSError:
            continue
        if meta is None:
            continue
        name, version = str(meta["Name"]), str(meta["Version"])
        tags = tuple(str(t).strip() for t in wheel.get_all("Tag") or ())
        files, size = _record_size(root, info, sizes)
        canon = canonicalize_name(name)
        origin = origins.get(canon, "wheel")
        out.append(
            Distribution(
                name=name,
                version=version,
                wheel=wheel_filename(name, version, tags),
                tags=tags,
                origin=origin,  # type: ignore[arg-type]
                size=size,
                files=files,
            )
        )
    return tuple(sorted(out, key=lambda d: canonicalize_name(d.name)))


def wheel_filename(name: str, version: str, tags: Sequence[str]) -> str:
    """Rebuild a wheel's filename from its WHEEL ``Tag`` lines (compressed tag set)."""
    parts: list[list[str]] = [[], [], []]
    for tag in tags:
        for i, piece in enumerate(tag.split("-", 2)):
            if piece not in parts[i]:
                parts[i].append(piece)
    compressed = "-".join(".".join(p) for p in parts) if tags else "unknown"
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-{compressed}.whl"


def _record_size(root: Path, info: Path, sizes: Mapping[str, int] | None = None) -> tuple[int, int]:
    files = size = 0
    for rel in read_record(info) or ():
        if sizes is not None:
            known = sizes.get(posixpath.normpath(rel))
            if known is not None:
                files += 1
                size += known
            continue
        path = root / rel
        if path.is_file():
            files += 1
            size += path.stat().st_size
    return files, size


__all__ = ["Distribution", "read_distributions", "wheel_filename"]
