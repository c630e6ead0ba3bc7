"""The normalized value every dependency input becomes: :class:`DependencySpec` and its
:class:`IndexSettings`, with the content fingerprints that key the bundle cache.

The fingerprint covers what affects the install and nothing else: local path requirements and
``find_links`` folders enter as content hashes (never their absolute paths), URLs without their
credentials.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import InputError
from ..target.runtimes import DATACLASS_SLOTS
from ..urls import has_drive, is_url, redact_text, redact_url, strip_credentials
from .requirement_lines import Requirements

__all__ = ["DependencySpec", "IndexSettings"]

#: Schema tag mixed into every fingerprint; bump it when the fingerprint data changes shape.
_FINGERPRINT_SCHEMA: Final = "lambda-wheels-cdk/sources/1"
#: Index URLs that mean "PyPI": recording them changes nothing, so they are dropped.
_PYPI_INDEXES: Final = frozenset(
    {"https://pypi.org/simple", "https://pypi.python.org/simple", "https://pypi.org/pypi"}
)
#: File kinds that count as distributions in a local ``--find-links`` folder.
_DIST_SUFFIXES: Final = (".whl", ".tar.gz", ".zip")
#: Folders skipped when hashing a local path requirement: caches and build outputs only.
_SKIP_DIRS: Final = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "node_modules",
        "cdk.out",
        "build",
        "dist",
    }
)


def canon(name: str) -> str:
    """PEP 503 normalized name (a plain ``str`` for typing)."""
    return canonicalize_name(name)


def canonical_set(values: Iterable[str]) -> frozenset[str]:
    """The PEP 503 normalized names of ``values``."""
    return frozenset(canon(v) for v in values)


def is_pypi(url: str) -> bool:
    return strip_credentials(url).rstrip("/") in _PYPI_INDEXES


def dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True, repr=False, **DATACLASS_SLOTS)
class IndexSettings:
    """Where the installer looks for distributions.

    Attributes:
        index_url: the primary index; ``None`` means the installer's default (PyPI).
        extra_index_urls: additional indexes, in priority order (uv prefers earlier ones).
        find_links: URLs, or absolute local paths of folders holding wheels/sdists.
        no_index: ignore every index and use ``find_links`` only.
    """

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_index_urls", tuple(self.extra_index_urls))
        object.__setattr__(self, "find_links", tuple(self.find_links))

    def __repr__(self) -> str:
        """Like the dataclass repr, with credentials masked (safe to log)."""
        r = self.redacted()
        return (
            f"IndexSettings(index_url={r.index_url!r}, extra_index_urls={r.extra_index_urls!r}, "
            f"find_links={r.find_links!r}, no_index={r.no_index!r})"
        )

    def merged(self, other: IndexSettings) -> IndexSettings:
        """Combine with explicit settings ``other`` (e.g. construct/CLI arguments).

        ``other.index_url`` replaces ours when set (and then our ``--no-index`` no longer
        applies); ``other.no_index`` forces ``no_index``. The lists are concatenated with
        ``other``'s entries first (explicit settings take priority), deduplicated, order kept.
        """
        return IndexSettings(
            index_url=other.index_url if other.index_url is not None else self.index_url,
            extra_index_urls=dedupe((*other.extra_index_urls, *self.extra_index_urls)),
            find_links=dedupe((*other.find_links, *self.find_links)),
            no_index=other.no_index or (self.no_index and other.index_url is None),
        )

    def redacted(self) -> IndexSettings:
        """A copy safe for logs and manifests: every URL's password/token replaced by ``***``."""
        return IndexSettings(
            index_url=None if self.index_url is None else redact_url(self.index_url),
            extra_index_urls=tuple(redact_url(u) for u in self.extra_index_urls),
            find_links=tuple(redact_url(u) for u in self.find_links),
            no_index=self.no_index,
        )

    def fingerprint_data(self) -> dict[str, Any]:
        """What these settings contribute to a cache key.

        URLs appear with their credentials removed (a new token gives the same key). A local
        ``find_links`` folder appears as a hash of the distributions in it (file names, sizes,
        sha256), never as its absolute path.

        Raises:
            InputError: a local ``find_links`` path does not exist or cannot be read.
        """
        return {
            "index_url": None if self.index_url is None else strip_credentials(self.index_url),
            "extra_index_urls": [strip_credentials(u) for u in self.extra_index_urls],
            "find_links": [_find_links_fingerprint(f) for f in self.find_links],
            "no_index": self.no_index,
        }


def local_path_of(location: str) -> Path | None:
    """The local path a find-links entry or URL names, or ``None`` for a remote URL."""
    if location.lower().startswith("file:"):
        return file_url_to_path(location)
    if is_url(location) and not has_drive(location):
        return None
    return Path(location)


def file_url_to_path(url: str) -> Path:
    parts = urlsplit(url)
    from urllib.request import url2pathname  # imports http/ssl: only for file: URLs

    path = url2pathname(unquote(parts.path))
    if parts.netloc and parts.netloc != "localhost":
        path = f"//{parts.netloc}{path}"
    return Path(path)


def _find_links_fingerprint(location: str) -> dict[str, str]:
    try:
        path = local_path_of(location)
    except ValueError:
        path = None
    if path is None:
        return {"url": strip_credentials(location)}
    try:
        if path.is_dir():
            entries = []
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if entry.name.endswith(_DIST_SUFFIXES) and entry.is_file():
                    entries.append([entry.name, entry.stat().st_size, _file_sha256(entry.path)])
            blob = json.dumps(entries, separators=(",", ":")).encode()
            return {"local": "dir:" + hashlib.sha256(blob).hexdigest()}
        if path.is_file():
            return {"local": "file:" + _file_sha256(str(path))}
    except (OSError, ValueError) as exc:
        raise InputError(
            f"find-links location {location!r} cannot be read ({exc}): check its permissions"
        ) from None
    raise InputError(
        f"find-links location {location!r} does not exist: create it or remove the "
        "--find-links option"
    )


@functools.lru_cache(maxsize=4096)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_sha256(path: str) -> str:
    stat = os.stat(path)
    return _sha256_cached(path, stat.st_size, stat.st_mtime_ns)


def _walk_files(root: Path) -> Iterator[tuple[str, str]]:
    """(posix relative path, absolute path) of every file that can affect a build, sorted."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        rel_folder = Path(folder).relative_to(root)
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                yield (rel_folder / name).as_posix(), full


def _path_digest(path: Path) -> str:
    """A content hash of a local path requirement (a file, or a folder's build inputs)."""
    try:
        if path.is_file():
            return "file:" + _file_sha256(str(path))
        if path.is_dir():
            digest = hashlib.sha256()
            for rel, full in _walk_files(path):
                digest.update(f"{rel}\0{_file_sha256(full)}\0".encode())
            return "dir:" + digest.hexdigest()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"local requirement {path} cannot be read ({exc}): check its permissions"
        ) from None
    raise InputError(
        f"local requirement {path} no longer exists: restore it or remove the requirement"
    )


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, repr=False, **DATACLASS_SLOTS)
class DependencySpec:
    """One normalized dependency input: what to install, how strictly, from where.

    Attributes:
        requirements: PEP 508 lines normalized by :mod:`packaging` (canonical names, markers
            kept); lock files give exact pins ``name==version; marker``.
        constraints: lines from ``-c`` files.
        hashes: canonical name -> allowed ``algo:hex`` digests, when the input pins them.
        index: index settings found in the input itself.
        origin: what the input was, for messages (``requirements.txt``, ``uv.lock``,
            ``inline list``); never an absolute path.
        locked: the input is a lock file listing the complete set of distributions, each an
            exact pin or a direct reference (a URL or a local path).
        local_paths: canonical name -> absolute path for local path requirements.
    """

    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    hashes: Mapping[str, tuple[str, ...]] = field(default_factory=_empty_mapping, hash=False)
    index: IndexSettings = field(default_factory=IndexSettings)
    origin: str = "inline list"
    locked: bool = False
    local_paths: Mapping[str, str] = field(default_factory=_empty_mapping, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(self.requirements))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        for line in (*self.requirements, *self.constraints):
            try:
                _line_name(line)
            except InvalidRequirement as exc:
                raise InputError(
                    f"{self.origin}: {redact_text(line)!r} is not a valid requirement "
                    f"({first_line(exc)}): fix it"
                ) from None
        object.__setattr__(
            self,
            "hashes",
            MappingProxyType({k: tuple(v) for k, v in self.hashes.items()}),
        )
        object.__setattr__(self, "local_paths", MappingProxyType(dict(self.local_paths)))

    def __repr__(self) -> str:
        """Like the dataclass repr, with credentials masked (safe to log)."""
        r = self.redacted()
        return (
            f"DependencySpec(requirements={r.requirements!r}, constraints={r.constraints!r}, "
            f"hashes={dict(r.hashes)!r}, index={r.index!r}, origin={r.origin!r}, "
            f"locked={r.locked!r}, local_paths={dict(r.local_paths)!r})"
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical names of the requirements, in order, without repeats."""
        return dedupe(_line_name(line) for line in self.requirements)

    @property
    def hash_checking(self) -> bool:
        """True when every requirement has hashes: the install runs in hash-checking mode."""
        return self.install_requirements().hash_checking

    def install_requirements(self) -> Requirements:
        """The requirements as an install runs them: each line with its ``--hash`` values when
        :attr:`hash_checking` holds (all or nothing: pip's hash-checking mode needs every
        requirement hashed)."""
        return Requirements.of(self.requirements, self.hashes)

    def requirements_txt(self) -> str:
        """The requirements as one text that ``uv pip install -r`` and ``pip install -r`` read
        (:meth:`Requirements.text`). There are no index lines: the installer passes index
        settings another way, so credentials are never written to disk.
        """
        return self.install_requirements().text()

    def constraints_txt(self) -> str:
        """The constraints as a text for ``-c`` (empty when there are none)."""
        return "".join(f"{line}\n" for line in self.constraints)

    def fingerprint(self) -> str:
        """sha256 hex digest of everything that affects the install.

        Independent of absolute paths (local path requirements and ``find_links`` folders enter
        as content hashes), of credentials (removed from every URL) and of :attr:`origin`.

        Raises:
            InputError: a local path requirement or find-links folder is gone or unreadable.
        """
        data = {
            "schema": _FINGERPRINT_SCHEMA,
            "requirements": [self._line_fingerprint(line) for line in self.requirements],
            "constraints": [self._line_fingerprint(line) for line in self.constraints],
            "hashes": {name: sorted(values) for name, values in sorted(self.hashes.items())},
            "index": self.index.fingerprint_data(),
        }
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def redacted(self) -> DependencySpec:
        """A copy safe for logs and manifests: credentials in every URL masked as ``***``."""
        return DependencySpec(
            requirements=tuple(redact_text(line) for line in self.requirements),
            constraints=tuple(redact_text(line) for line in self.constraints),
            hashes=self.hashes,
            index=self.index.redacted(),
            origin=self.origin,
            locked=self.locked,
            local_paths=self.local_paths,
        )

    def _line_fingerprint(self, line: str) -> list[Any]:
        req = Requirement(line)
        name = canon(req.name)
        url: Any = None
        if req.url:
            local = self.local_paths.get(name)
            try:
                path = Path(local) if local else local_path_of(req.url)
            except ValueError:
                path = None
            url = (
                {"content": _path_digest(path)} if path is not None else strip_credentials(req.url)
            )
        return [
            name,
            sorted(canon(e) for e in req.extras),
            str(req.specifier),
            url,
            str(req.marker) if req.marker else None,
        ]


@functools.lru_cache(maxsize=4096)
def _line_name(line: str) -> str:
    return canon(Requirement(line).name)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
