"""One requirement and where it came from (:class:`Entry`): parsing a requirement text (PEP
508, ``name @ url-or-path``, a bare path, file or URL), the lock files' pinned and direct
reference entries, hashes, and :func:`build_spec` that turns entries into a
:class:`~.spec.DependencySpec`.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Union

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from ..target.runtimes import DATACLASS_SLOTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10 only
    import tomli as tomllib
from urllib.parse import unquote, urlsplit

from ..urls import has_drive, is_remote_url, is_url, masked, quoted
from .reading import Problem
from .spec import DependencySpec, IndexSettings, canon, dedupe, file_url_to_path, first_line

#: Hash algorithms pip's ``--hash`` accepts, with their hex digest lengths.
_HASH_HEX_LENGTH: Final[Mapping[str, int]] = MappingProxyType(
    {"sha256": 64, "sha384": 96, "sha512": 128}
)
#: Archive suffixes that make a bare requirement a file (pip's ``is_archive_file``).
_ARCHIVE_SUFFIXES: Final = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".zip")
NAMED_REFERENCE_RE: Final = re.compile(
    r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*@"
)


@dataclass(**DATACLASS_SLOTS)
class Entry:
    """One requirement or constraint with where it came from."""

    req: Requirement
    where: str
    hashes: list[str]
    local_path: str | None = None
    is_dir: bool = False

    @property
    def name(self) -> str:
        return canon(self.req.name)

    @property
    def line(self) -> str:
        return str(self.req)


class BadRequirement(Exception):
    """A requirement string that cannot be used; ``tail`` completes "<where>: '<text>' ...".

    ``reason`` says what is wrong without quoting the text (see :class:`_Unparsable`); it is
    ``None`` for text that is a requirement's syntax all the same (a URL or an existing path).
    """

    def __init__(self, tail: str, reason: str | None) -> None:
        super().__init__(tail)
        self.tail = tail
        self.reason = reason


def invalid_requirement(detail: str) -> BadRequirement:
    """``detail`` is packaging's first line of the error, which never quotes the text."""
    return BadRequirement(
        f"is not a valid requirement ({detail}): fix the line or remove it",
        f"invalid requirement: {detail}",
    )


def _normalize(req: Requirement) -> Requirement:
    for spec in req.specifier:
        if not spec.version.strip():  # packaging < 26.4 accepts a bare "==="
            raise invalid_requirement(f"nothing after {spec.operator!r}")
    req.name = canon(req.name)
    req.extras = {canon(e) for e in req.extras}
    return req


def _looks_like_path(head: str) -> bool:
    return (
        head.startswith((".", "/", "\\", "~"))
        or has_drive(head)
        or "/" in head
        or "\\" in head
        or head.lower().endswith(_ARCHIVE_SUFFIXES)
    )


def _split_extras(location: str) -> tuple[str, str]:
    match = re.match(r"^(.*?)(\[[A-Za-z0-9._,\s-]*\])$", location)
    if match:
        return match.group(1).strip(), match.group(2)
    return location.strip(), ""


def _project_name(folder: Path) -> str | None:
    """The distribution name a local project folder declares statically, if it does."""
    try:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text("utf-8"))
            for table in (data.get("project"), data.get("tool", {}).get("poetry")):
                if isinstance(table, dict) and isinstance(table.get("name"), str):
                    return str(table["name"])
        setup_cfg = folder / "setup.cfg"
        if setup_cfg.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(setup_cfg.read_text("utf-8"))
            name = parser.get("metadata", "name", fallback=None)
            if name and name.strip():
                return name.strip()
    except (OSError, ValueError, AttributeError, configparser.Error, RecursionError):
        return None
    return None


def _distribution_name(path_or_url_tail: str) -> str | None:
    """Name from a wheel or sdist file name, or ``None``."""
    filename = path_or_url_tail.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def resolve_local(location: str, base_dir: Path) -> Path:
    """A path (or file: URL) from an input, made absolute against ``base_dir``."""
    if location.lower().startswith("file:"):
        parts = urlsplit(location)
        if location.lower().startswith("file://"):
            path = file_url_to_path(location)
        else:  # file:relative/path (uv accepts it)
            from urllib.request import url2pathname

            path = Path(url2pathname(unquote(parts.path)))
    else:
        path = Path(location)
    if not path.is_absolute():
        path = base_dir / path
    return Path(os.path.abspath(path))


def _check_local(path: Path, shown_location: str, base_note: str) -> bool:
    """Whether ``path`` is a folder; raises when it does not exist."""
    try:
        if path.is_dir():
            return True
        if path.is_file():
            return False
    except (OSError, ValueError):
        pass
    raise BadRequirement(
        f"points to {quoted(shown_location)}, which does not exist ({base_note}): fix the path",
        "a path that does not exist",
    )


#: A parsed requirement, the absolute local path it installs (or ``None``), and whether that
#: path is a folder.
_Parsed = tuple[Requirement, Union[str, None], bool]


def parse_requirement_text(text: str, base_dir: Path, base_note: str) -> _Parsed:
    """Parse one requirement: PEP 508, ``name @ url-or-path``, a bare path, file or URL.

    Returns the normalized requirement, the absolute local path it installs (or ``None``) and
    whether that path is a folder.
    """
    text = text.strip()
    if not text:
        raise invalid_requirement("empty")
    if NAMED_REFERENCE_RE.match(text):
        return _named_reference(text, base_dir, base_note)
    head = re.split(r"\s*;", text, maxsplit=1)[0].strip()
    if not is_url(text) and not _looks_like_path(head):
        try:
            return _normalize(Requirement(text)), None, False
        except InvalidRequirement as exc:
            raise invalid_requirement(first_line(exc)) from None
    return _bare_reference(text, base_dir, base_note)


def _named_reference(text: str, base_dir: Path, base_note: str) -> _Parsed:
    """``name @ url-or-path``: a local path becomes an absolute ``file:`` URL."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise invalid_requirement(first_line(exc)) from None
    if req.url is None:  # pragma: no cover - the regex guarantees "name @ ..."
        return _normalize(req), None, False
    if is_remote_url(req.url):
        return _normalize(req), None, False
    path = resolve_local(req.url, base_dir)
    is_dir = _check_local(path, req.url, base_note)
    req.url = path.as_uri()
    return _normalize(req), str(path), is_dir


def _bare_reference(text: str, base_dir: Path, base_note: str) -> _Parsed:
    """A bare URL or path, named by its egg fragment, file name or project folder."""
    url_given = is_url(text)
    # pip splits the marker at "; " (URLs) or ";" (paths).
    separator = r"\s*;\s+" if url_given else r"\s*;"
    parts = re.split(separator, text, maxsplit=1)
    location = parts[0]
    marker_text = parts[1].strip() if len(parts) > 1 else ""
    marker = ""
    if marker_text:
        try:
            marker = str(Marker(marker_text))
        except InvalidMarker as exc:
            raise invalid_requirement(f"bad marker: {first_line(exc)}") from None
    location, extras = _split_extras(location)
    local: str | None = None
    is_dir = False
    if url_given and not location.lower().startswith("file:"):
        url = location
        fragment = urlsplit(url).fragment
        egg = re.search(r"(?:^|&)egg=([^&]+)", fragment)
        name = egg.group(1) if egg else _distribution_name(urlsplit(url).path)
        if name is None:
            raise BadRequirement(
                "does not say which package it installs: write it as 'name @ URL'", None
            )
    else:
        path = resolve_local(location, base_dir)
        is_dir = _check_local(path, location, base_note)
        url = path.as_uri()
        local = str(path)
        name = _project_name(path) if is_dir else _distribution_name(path.name)
        if name is None:
            what = "the folder declares no static name" if is_dir else "not a wheel/sdist name"
            raise BadRequirement(
                f"does not say which package it installs ({what}): write it as "
                f"'name @ {masked(location)}'",
                None,
            )
    line = f"{name}{extras} @ {url}" + (f" ; {marker}" if marker else "")
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        raise invalid_requirement(first_line(exc)) from None
    return _normalize(req), local, is_dir


def check_hash(value: str) -> str:
    algo, sep, digest = value.partition(":")
    algo = algo.lower()
    digest = digest.lower()
    length = _HASH_HEX_LENGTH.get(algo)
    if not sep or length is None or len(digest) != length or not _is_hex(digest):
        raise ValueError(value)
    return f"{algo}:{digest}"


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def is_exact_pin(entry: Entry) -> bool:
    if entry.req.url:
        return True
    specs = list(entry.req.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version


def build_spec(
    requirements: Sequence[Entry],
    constraints: Sequence[Entry],
    index: IndexSettings,
    *,
    origin: str,
    locked: bool,
) -> DependencySpec:
    hashes: dict[str, list[str]] = {}
    local_paths: dict[str, str] = {}
    for entry in requirements:
        if entry.hashes:
            hashes.setdefault(entry.name, [])
            hashes[entry.name] = list(dedupe([*hashes[entry.name], *entry.hashes]))
        if entry.local_path is not None:
            local_paths[entry.name] = entry.local_path
    return DependencySpec(
        requirements=dedupe(e.line for e in requirements),
        constraints=dedupe(e.line for e in constraints),
        hashes={name: tuple(values) for name, values in hashes.items()},
        index=index,
        origin=origin,
        locked=locked,
        local_paths=local_paths,
    )


def check_marker(text: str, where: str, what: str) -> str:
    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        raise Problem(
            f"{where}: {what} {text!r} is not a valid marker ({first_line(exc)}): fix it or "
            "regenerate the lock file"
        ) from None


def pinned_entry(
    name: str,
    version: str,
    marker: bool | str,
    where: str,
    hashes: list[str],
    extras: Sequence[str] = (),
) -> Entry:
    extras_text = f"[{','.join(extras)}]" if extras else ""
    text = f"{name}{extras_text}=={version}"
    req = _lock_requirement(
        text, marker, where, f"{name!r} version {version!r} does not make a valid pin"
    )
    return Entry(req, where, hashes)


def _lock_requirement(text: str, marker: bool | str, where: str, problem: str) -> Requirement:
    """A lock entry's requirement ``text`` with its marker; ``problem`` starts the error."""
    if isinstance(marker, str):
        text += f" ; {marker}"
    try:
        return _normalize(Requirement(text))
    except (InvalidRequirement, BadRequirement) as exc:
        raise Problem(f"{where}: {problem} ({first_line(exc)}): regenerate the lock file") from None


def reference_entry(
    name: str,
    location: str,
    marker: bool | str,
    where: str,
    hashes: list[str],
    base_dir: Path,
    extras: Sequence[str] = (),
) -> Entry:
    """``name @ URL`` for a remote URL, or an absolute ``file:`` URL for a local path."""
    extras_text = f"[{','.join(extras)}]" if extras else ""
    local: str | None = None
    is_dir = False
    if is_remote_url(location):
        url = location
    else:
        try:
            path = resolve_local(location, base_dir)
            is_dir = _check_local(path, location, "paths are relative to the lock file's folder")
        except BadRequirement as exc:
            raise Problem(f"{where}: {name!r} {exc.tail}") from None
        except ValueError as exc:
            raise Problem(
                f"{where}: {name!r} has a source path that cannot be used ({first_line(exc)}): "
                "regenerate the lock file"
            ) from None
        url = path.as_uri()
        local = str(path)
    req = _lock_requirement(
        f"{name}{extras_text} @ {url}",
        marker,
        where,
        f"{name!r} has a source that does not make a valid requirement",
    )
    return Entry(req, where, [] if is_dir else hashes, local, is_dir)


def parse_hashes(values: Iterable[str], where: str, what: str) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(check_hash(value))
        except ValueError:
            if value.partition(":")[0].lower() in _HASH_HEX_LENGTH:
                raise Problem(
                    f"{where}: {what} has a malformed hash {value!r}: regenerate the lock file"
                ) from None
            # other algorithms (md5, blake2b, ...) cannot be checked by pip: skip them
    return list(dedupe(out))
