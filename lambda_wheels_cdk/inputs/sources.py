"""Dependency inputs -> one normalized :class:`DependencySpec` with a content fingerprint.

Every supported input (``requirements.txt``, ``pyproject.toml``, ``uv.lock``, ``poetry.lock``,
``Pipfile.lock``, PEP 751 ``pylock.toml``, an inline list) becomes the same value: the
requirement lines to install (PEP 508, normalized by :mod:`packaging`), constraints, pinned
hashes, index settings and the absolute paths of local path requirements. The bundle builder
feeds :meth:`DependencySpec.requirements_txt` to ``uv pip install -r`` / ``pip install -r``
and passes the index settings as command-line flags, so credentials never reach the disk.

Auto-detection in an entry folder (:func:`detect`), first match wins:

1. ``pylock.toml`` (PEP 751)
2. ``uv.lock`` -- only with ``pyproject.toml`` next to it (``uv export`` reads both)
3. ``poetry.lock``
4. ``Pipfile.lock``
5. ``requirements.txt``
6. ``pyproject.toml`` that has ``[project].dependencies``

A folder with none of these has no dependencies (that is fine). A ``Pipfile`` without its
``Pipfile.lock``, a Poetry ``pyproject.toml`` without ``poetry.lock``, or a ``uv.lock`` without
``pyproject.toml`` is an :class:`~lambda_wheels_cdk.errors.InputError`: the bundle would
otherwise silently ship without dependencies.

Decisions worth knowing:

* **Paths.** ``-r``/``-c`` includes, ``--find-links`` folders and path requirements
  (``./pkg``, ``pkg-1.0-py3-none-any.whl``, ``name @ file:///...``) are resolved against the
  folder of the file that names them (pip uses the current folder; a bundler run from
  ``cdk synth`` must not depend on it). Path requirements are installed *non-editable*
  (``name @ file:///abs/path``); their name comes from the wheel/sdist file name or the
  folder's ``pyproject.toml``/``setup.cfg``. Local folders recorded by lock files (uv workspace
  members, Poetry ``directory`` sources, Pipfile ``path`` entries, pylock ``directory``) are
  installed the same way. The fingerprint covers their *content*, never their absolute path.
* **Environment variables.** ``${NAME}`` (upper case, digits, ``_``) in requirements files is
  expanded as pip does (unset or empty variables are left as written). Messages quote the line
  as written, so an expanded secret never appears in them.
* **Credentials.** A URL's password or token is masked as ``***`` in every message
  (:func:`redact_url`), :meth:`IndexSettings.redacted` / :meth:`DependencySpec.redacted` give
  log-safe copies (their ``repr`` is already masked), and the fingerprint drops credentials
  entirely so changing only a token does not change it. A credential written *inside a direct
  URL requirement* (``pkg @ https://user:tok@host/pkg.whl``) is part of that requirement and
  so of :meth:`DependencySpec.requirements_txt`; put such credentials in netrc instead.
* **Indexes.** ``--index-url``/``--extra-index-url``/``--find-links``/``--no-index`` lines,
  Pipfile sources, Poetry ``legacy`` sources, pylock ``index`` URLs and the registries a
  ``uv.lock`` records become :class:`IndexSettings` (PyPI itself is dropped: it is the
  default). :meth:`IndexSettings.merged` gives explicit settings priority over these.
* **Hashes.** In a requirements file either every requirement has ``--hash`` or none has
  (pip's hash-checking mode); hashed requirements must be pinned with ``==``. Lock files record
  hashes for what they can; when some locked requirement has none (a local folder),
  :meth:`DependencySpec.requirements_txt` writes no hashes at all (see
  :attr:`DependencySpec.hash_checking`).
* **Poetry.** ``poetry.lock`` is read directly. Poetry >= 2 (``lock-version`` 2.1) records each
  package's groups and markers; older locks do not, so their membership and markers are
  computed by walking the lock's dependency graph from the ``pyproject.toml`` next to it.
* **Markers** are passed through to the installer, which evaluates them for the *target*. Only
  ``extra`` / ``extras`` / ``dependency_groups`` conditions are decided here, from the extras
  and groups that were asked for, because an installer reading a flat requirements file cannot.
* **Not supported** (each an ``InputError`` saying what to do): editable requirements
  (``-e``), VCS sources in lock files, includes by URL, pip options that change resolution
  (``--pre``, ``--only-binary``, ...).

Everything here is pure apart from reading the input files (and hashing local paths for the
fingerprint) and the single ``uv export`` subprocess of :func:`load_uv_lock`.
"""

from __future__ import annotations

import configparser
import functools
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NoReturn, Union
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import InputError
from ..target.runtimes import _SLOTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10 only
    import tomli as tomllib

__all__ = [
    "DependencySpec",
    "IndexSettings",
    "detect",
    "from_list",
    "load",
    "load_pipfile_lock",
    "load_poetry_lock",
    "load_pylock",
    "load_pyproject",
    "load_requirements_file",
    "load_uv_lock",
    "redact_url",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Schema tag mixed into every fingerprint; bump it when the fingerprint data changes shape.
_FINGERPRINT_SCHEMA: Final = "lambda-wheels-cdk/sources/1"
#: How many problems one error message lists before "... and N more".
_MAX_SHOWN: Final = 20
#: Hash algorithms pip's ``--hash`` accepts, with their hex digest lengths.
_HASH_HEX_LENGTH: Final[Mapping[str, int]] = MappingProxyType(
    {"sha256": 64, "sha384": 96, "sha512": 128}
)
#: Index URLs that mean "PyPI": recording them changes nothing, so they are dropped.
_PYPI_INDEXES: Final = frozenset(
    {"https://pypi.org/simple", "https://pypi.python.org/simple", "https://pypi.org/pypi"}
)
#: File kinds that count as distributions in a local ``--find-links`` folder.
_DIST_SUFFIXES: Final = (".whl", ".tar.gz", ".zip")
#: Archive suffixes that make a bare requirement a file (pip's ``is_archive_file``).
_ARCHIVE_SUFFIXES: Final = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".zip")
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
#: Timeouts for ``uv export``: --frozen only reads files; --locked may re-resolve online.
_UV_TIMEOUT_FROZEN: Final = 120
_UV_TIMEOUT_LOCKED: Final = 600
#: Variables ``uv export`` may see; every other variable (UV_*, PIP_*, ...) is dropped.
_UV_ENV_KEEP: Final = frozenset(
    {
        "PATH",
        "HOME",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "COMSPEC",
        "PATHEXT",
        "TEMP",
        "TMP",
        "TMPDIR",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "NETRC",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "UV_CACHE_DIR",
    }
)
#: Index credentials uv reads for ``[[tool.uv.index]]`` entries (needed by ``--locked``).
_UV_INDEX_CREDENTIALS_RE: Final = re.compile(r"UV_INDEX_[A-Z0-9_]+_(?:USERNAME|PASSWORD)")

_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_IN_TEXT_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_NETLOC_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s]*)")
_NAMED_REFERENCE_RE: Final = re.compile(
    r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*@"
)
_WINDOWS_DRIVE_RE: Final = re.compile(r"^[A-Za-z]:[\\/]")
#: pip's comment rule: ``#`` at the start of a line or after whitespace.
_COMMENT_RE: Final = re.compile(r"(^|\s+)#.*$")
#: pip's environment variable rule: only ``${NAME}`` with upper case, digits and ``_``.
_ENV_VAR_RE: Final = re.compile(r"\$\{([A-Z0-9_]+)\}")
_TOML_LINE_RE: Final = re.compile(r"at line (\d+)")


def _canon(name: str) -> str:
    """PEP 503 normalized name (a plain ``str`` for typing)."""
    return canonicalize_name(name)


# -- credentials ---------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """Mask the password or token in a URL's userinfo, keeping the user name.

    ``https://user:tok@host/simple`` -> ``https://user:***@host/simple``;
    ``https://tok@host/simple`` -> ``https://***@host/simple`` (a lone userinfo is treated as a
    token). Anything without userinfo, or that is not a URL, is returned unchanged. Never
    raises.
    """
    match = _NETLOC_RE.match(url)
    if match is None:
        return url
    userinfo, at, host = match.group(2).rpartition("@")
    if not at:
        return url
    user, colon, _secret = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{match.group(1)}{masked}@{host}{url[match.end() :]}"


def redact_text(text: str) -> str:
    """Apply :func:`redact_url` to every URL inside a free-form text (a line, a message)."""
    return _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)), text)


#: ``password = x``, ``api_key: x``, ``--token x``: a secret-looking key and its value.
_SECRET_VALUE_RE: Final = re.compile(
    r"(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|credentials?|auth)"
    r"[\w.-]*[\"']?(?:\s*[=:]\s*|\s+))(?![=<>!~@;\[(])[^\s\"',;]+"
)
#: ``?token=x``, ``&X-Amz-Signature=x``: a URL query parameter named like a secret.
_SECRET_QUERY_RE: Final = re.compile(
    r"(?i)([?&][^=&#]*(?:pass|secret|token|key|auth|sig|credential)[^=&#]*=)[^&#\s]+"
)
#: AWS access key ids (``AKIA...``, ``ASIA...``).
_AWS_KEY_ID_RE: Final = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
#: How much of a line an error message quotes.
_QUOTE_LIMIT: Final = 80


def _masked(text: str) -> str:
    """A line (or part of one) as an error message shows it: URL credentials and secret-looking
    query parameters, ``key=value`` pairs outside URLs and AWS key ids masked, cut at
    :data:`_QUOTE_LIMIT` characters."""
    parts: list[str] = []
    start = 0
    for match in _URL_IN_TEXT_RE.finditer(text):
        parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start : match.start()]))
        parts.append(_SECRET_QUERY_RE.sub(r"\1***", redact_url(match.group(0))))
        start = match.end()
    parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start:]))
    text = _AWS_KEY_ID_RE.sub("***", "".join(parts))
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 3] + "..."
    return text


def _quoted(text: str) -> str:
    """:func:`_masked`, in quotes."""
    return repr(_masked(text))


def _strip_credentials(url: str) -> str:
    """Drop a URL's userinfo entirely (what the fingerprint sees)."""
    match = _NETLOC_RE.match(url)
    if match is None:
        return url
    _userinfo, at, host = match.group(2).rpartition("@")
    if not at:
        return url
    return f"{match.group(1)}{host}{url[match.end() :]}"


def _is_pypi(url: str) -> bool:
    return _strip_credentials(url).rstrip("/") in _PYPI_INDEXES


# -- index settings ------------------------------------------------------------------------


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True, repr=False, **_SLOTS)
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
            extra_index_urls=_dedupe((*other.extra_index_urls, *self.extra_index_urls)),
            find_links=_dedupe((*other.find_links, *self.find_links)),
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
            "index_url": None if self.index_url is None else _strip_credentials(self.index_url),
            "extra_index_urls": [_strip_credentials(u) for u in self.extra_index_urls],
            "find_links": [_find_links_fingerprint(f) for f in self.find_links],
            "no_index": self.no_index,
        }


def _local_path_of(location: str) -> Path | None:
    """The local path a find-links entry or URL names, or ``None`` for a remote URL."""
    if location.lower().startswith("file:"):
        return _file_url_to_path(location)
    if _SCHEME_RE.match(location) and not _WINDOWS_DRIVE_RE.match(location):
        return None
    return Path(location)


def _file_url_to_path(url: str) -> Path:
    parts = urlsplit(url)
    from urllib.request import url2pathname  # imports http/ssl: only for file: URLs

    path = url2pathname(unquote(parts.path))
    if parts.netloc and parts.netloc != "localhost":
        path = f"//{parts.netloc}{path}"
    return Path(path)


def _find_links_fingerprint(location: str) -> dict[str, str]:
    try:
        path = _local_path_of(location)
    except ValueError:
        path = None
    if path is None:
        return {"url": _strip_credentials(location)}
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


# -- content hashes --------------------------------------------------------------------------


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


# -- the normalized spec ---------------------------------------------------------------------


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, repr=False, **_SLOTS)
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
                    f"({_first_line(exc)}): fix it"
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
        return _dedupe(_line_name(line) for line in self.requirements)

    @property
    def hash_checking(self) -> bool:
        """True when every requirement has hashes: the install runs in hash-checking mode."""
        return bool(self.requirements) and all(
            self.hashes.get(_line_name(line)) for line in self.requirements
        )

    def requirements_txt(self) -> str:
        """The requirements as one text that ``uv pip install -r`` and ``pip install -r`` read.

        Each requirement is on its own line, followed by its ``--hash`` options when
        :attr:`hash_checking` holds (all or nothing: pip's hash-checking mode needs every
        requirement hashed). There are no index lines: the installer passes index settings as
        flags, so credentials are never written to disk.
        """
        out = []
        hashed = self.hash_checking
        for line in self.requirements:
            if hashed:
                options = [f"--hash={h}" for h in self.hashes[_line_name(line)]]
                out.append(" \\\n    ".join([line, *options]))
            else:
                out.append(line)
        return "".join(f"{line}\n" for line in out)

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
        name = _canon(req.name)
        url: Any = None
        if req.url:
            local = self.local_paths.get(name)
            try:
                path = Path(local) if local else _local_path_of(req.url)
            except ValueError:
                path = None
            url = (
                {"content": _path_digest(path)} if path is not None else _strip_credentials(req.url)
            )
        return [
            name,
            sorted(_canon(e) for e in req.extras),
            str(req.specifier),
            url,
            str(req.marker) if req.marker else None,
        ]


@functools.lru_cache(maxsize=4096)
def _line_name(line: str) -> str:
    return _canon(Requirement(line).name)


# -- problems and files ------------------------------------------------------------------------


class _Problem(InputError):
    """One problem in an input, already phrased for the user.

    Loaders collect these and raise one :class:`InputError` listing them all; one that escapes
    is still an ``InputError`` with a complete message.
    """


class _Unparsable(_Problem):
    """A line that is not a requirement, an option or a comment at all.

    ``reason`` says why without quoting the line: it is what the user sees when the whole file
    does not look like a requirements file (it may be a credentials file named by ``-r``).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Problems:
    """Collects every problem in an input so the user sees them all at once."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise InputError(self.items[0])
        shown = "\n".join(f"  {item}" for item in self.items[:_MAX_SHOWN])
        more = len(self.items) - _MAX_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise InputError(f"{self.subject} has {len(self.items)} problems:\n{shown}{tail}")


def _fail(message: str) -> NoReturn:
    raise InputError(message)


def _read_text(path: Path, display: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        _fail(f"{display}: file not found: check the path")
    except IsADirectoryError:
        _fail(f"{display}: is a folder, not a file: name the file inside it")
    except (OSError, ValueError) as exc:
        _fail(f"{display}: cannot be read ({exc}): check the path and its permissions")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail(f"{display}: is not UTF-8 text (bad byte at offset {exc.start}): save it as UTF-8")


def _read_toml(path: Path, display: str) -> tuple[dict[str, Any], str]:
    text = _read_text(path, display)
    return _parse_toml(text, display), text


def _parse_toml(text: str, display: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        match = _TOML_LINE_RE.search(detail)
        where = f"{display}:{match.group(1)}" if match else display
        _fail(f"{where}: not valid TOML ({detail}): fix the syntax or regenerate the file")


def _line_of(text: str, *needles: str) -> int | None:
    """1-based number of the first line containing every needle (for messages), if any."""
    for number, line in enumerate(text.splitlines(), 1):
        if all(n in line for n in needles):
            return number
    return None


def _where(display: str, text: str, *needles: str) -> str:
    line = _line_of(text, *needles) if needles else None
    return f"{display}:{line}" if line else display


def _names(values: Sequence[str], what: str) -> tuple[str, ...]:
    """Check an extras/groups argument: a sequence of names, never one bare string."""
    if isinstance(values, str):
        _fail(f"{what} must be a list of names, not the string {values!r}: wrap it in [...]")
    items = tuple(values)
    for item in items:
        if not isinstance(item, str):
            _fail(f"{what} must be names (strings), not {_type_name(item)}")
    return items


def _existing_file(path: PathLike, kind: str) -> Path:
    p = Path(path)
    try:
        if p.is_file():
            return Path(os.path.abspath(p))
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if exists:
        _fail(f"{os.fspath(path)}: is not a file: pass the {kind} file itself")
    _fail(
        f"{os.fspath(path)}: {kind} not found: check the path (relative paths are relative to "
        "the current folder) or create the file"
    )


def _type_name(value: object) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _expect(value: object, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise _Problem(
            f"{where}: {what} must be {_kind_name(kind)}, not {_type_name(value)}: fix the file "
            "or regenerate it"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", list: "an array", dict: "a table", bool: "true/false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _str_list(value: object, where: str, what: str) -> list[str]:
    items = _expect(value, list, where, what)
    for item in items:
        _expect(item, str, where, f"each entry of {what}")
    return list(items)


# -- one requirement ---------------------------------------------------------------------------


@dataclass(**_SLOTS)
class _Entry:
    """One requirement or constraint with where it came from."""

    req: Requirement
    where: str
    hashes: list[str]
    local_path: str | None = None
    is_dir: bool = False

    @property
    def name(self) -> str:
        return _canon(self.req.name)

    @property
    def line(self) -> str:
        return str(self.req)


class _BadRequirement(Exception):
    """A requirement string that cannot be used; ``tail`` completes "<where>: '<text>' ...".

    ``reason`` says what is wrong without quoting the text (see :class:`_Unparsable`); it is
    ``None`` for text that is a requirement's syntax all the same (a URL or an existing path).
    """

    def __init__(self, tail: str, reason: str | None) -> None:
        super().__init__(tail)
        self.tail = tail
        self.reason = reason


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _invalid(detail: str) -> _BadRequirement:
    """``detail`` is packaging's first line of the error, which never quotes the text."""
    return _BadRequirement(
        f"is not a valid requirement ({detail}): fix the line or remove it",
        f"invalid requirement: {detail}",
    )


def _normalize(req: Requirement) -> Requirement:
    for spec in req.specifier:
        if not spec.version.strip():  # packaging < 26.4 accepts a bare "==="
            raise _invalid(f"nothing after {spec.operator!r}")
    req.name = _canon(req.name)
    req.extras = {_canon(e) for e in req.extras}
    return req


def _looks_like_path(head: str) -> bool:
    return (
        head.startswith((".", "/", "\\", "~"))
        or bool(_WINDOWS_DRIVE_RE.match(head))
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


def _resolve_local(location: str, base_dir: Path) -> Path:
    """A path (or file: URL) from an input, made absolute against ``base_dir``."""
    if location.lower().startswith("file:"):
        parts = urlsplit(location)
        if location.lower().startswith("file://"):
            path = _file_url_to_path(location)
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
    raise _BadRequirement(
        f"points to {_quoted(shown_location)}, which does not exist ({base_note}): fix the path",
        "a path that does not exist",
    )


def _parse_requirement_text(
    text: str, base_dir: Path, base_note: str
) -> tuple[Requirement, str | None, bool]:
    """Parse one requirement: PEP 508, ``name @ url-or-path``, a bare path, file or URL.

    Returns the normalized requirement, the absolute local path it installs (or ``None``) and
    whether that path is a folder.
    """
    text = text.strip()
    if not text:
        raise _invalid("empty")
    if _NAMED_REFERENCE_RE.match(text):
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise _invalid(_first_line(exc)) from None
        if req.url is None:  # pragma: no cover - the regex guarantees "name @ ..."
            return _normalize(req), None, False
        if _SCHEME_RE.match(req.url) and not req.url.lower().startswith("file:"):
            return _normalize(req), None, False
        path = _resolve_local(req.url, base_dir)
        is_dir = _check_local(path, req.url, base_note)
        req.url = path.as_uri()
        return _normalize(req), str(path), is_dir

    is_url = bool(_SCHEME_RE.match(text))
    head = re.split(r"\s*;", text, maxsplit=1)[0].strip()
    if not is_url and not _looks_like_path(head):
        try:
            return _normalize(Requirement(text)), None, False
        except InvalidRequirement as exc:
            raise _invalid(_first_line(exc)) from None

    # A bare URL or path: pip splits its marker at "; " (URLs) or ";" (paths).
    separator = r"\s*;\s+" if is_url else r"\s*;"
    parts = re.split(separator, text, maxsplit=1)
    location = parts[0]
    marker_text = parts[1].strip() if len(parts) > 1 else ""
    marker = ""
    if marker_text:
        try:
            marker = str(Marker(marker_text))
        except InvalidMarker as exc:
            raise _invalid(f"bad marker: {_first_line(exc)}") from None
    location, extras = _split_extras(location)
    local: str | None = None
    is_dir = False
    if is_url and not location.lower().startswith("file:"):
        url = location
        fragment = urlsplit(url).fragment
        egg = re.search(r"(?:^|&)egg=([^&]+)", fragment)
        name = egg.group(1) if egg else _distribution_name(urlsplit(url).path)
        if name is None:
            raise _BadRequirement(
                "does not say which package it installs: write it as 'name @ URL'", None
            )
    else:
        path = _resolve_local(location, base_dir)
        is_dir = _check_local(path, location, base_note)
        url = path.as_uri()
        local = str(path)
        name = _project_name(path) if is_dir else _distribution_name(path.name)
        if name is None:
            what = "the folder declares no static name" if is_dir else "not a wheel/sdist name"
            raise _BadRequirement(
                f"does not say which package it installs ({what}): write it as "
                f"'name @ {_masked(location)}'",
                None,
            )
    line = f"{name}{extras} @ {url}" + (f" ; {marker}" if marker else "")
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        raise _invalid(_first_line(exc)) from None
    return _normalize(req), local, is_dir


def _check_hash(value: str) -> str:
    algo, sep, digest = value.partition(":")
    algo = algo.lower()
    digest = digest.lower()
    length = _HASH_HEX_LENGTH.get(algo)
    if not sep or length is None or len(digest) != length or not _is_hex(digest):
        raise ValueError(value)
    return f"{algo}:{digest}"


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _is_exact_pin(entry: _Entry) -> bool:
    if entry.req.url:
        return True
    specs = list(entry.req.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version


# -- requirements files ------------------------------------------------------------------------

#: Options that take a value, by every spelling pip accepts -> our canonical spelling.
_VALUE_OPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "-r": "-r",
        "--requirement": "-r",
        "-c": "-c",
        "--constraint": "-c",
        "-i": "--index-url",
        "--index-url": "--index-url",
        "--extra-index-url": "--extra-index-url",
        "-f": "--find-links",
        "--find-links": "--find-links",
        "-e": "-e",
        "--editable": "-e",
        "--hash": "--hash",
    }
)
_FLAG_OPTIONS: Final = frozenset({"--no-index", "--require-hashes"})
#: pip options we understand but refuse, with what to do instead.
_UNSUPPORTED_OPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "--pre": "pin the pre-release you want (name==1.0rc1) instead",
        "--trusted-host": "serve the index over https instead",
        "--only-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--no-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--prefer-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--config-settings": "build the wheel yourself and add its folder with --find-links",
        "-C": "build the wheel yourself and add its folder with --find-links",
        "--global-option": "build the wheel yourself and add its folder with --find-links",
        "--install-option": "build the wheel yourself and add its folder with --find-links",
        "--use-feature": "remove it",
    }
)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's ``join_lines``: ``\\`` continues a line; comment lines end a continuation."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        is_comment = bool(_COMMENT_RE.match(line))
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line
            if pending:
                pending.append(line)
                yield start, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                start = number
            pending.append(line.strip("\\"))
    if pending:
        yield start, "".join(pending)


def _expand_env(line: str, expanded: dict[str, str] | None = None) -> str:
    """pip's ``${NAME}`` expansion; unset or empty variables stay as written.

    ``expanded`` (if given) collects value -> ``${NAME}`` so messages can be un-expanded.
    """

    def replace(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if not value:
            return match.group(0)
        if expanded is not None:
            expanded[value] = match.group(0)
        return value

    return _ENV_VAR_RE.sub(replace, line)


def _unexpand(message: str, expanded: Mapping[str, str]) -> str:
    """Put ``${NAME}`` back where an expanded value (maybe a secret) reached a message."""
    for value in sorted(expanded, key=len, reverse=True):
        if len(value) >= 3:
            message = message.replace(value, expanded[value])
    return message


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the requirement ends at the first token starting "-"."""
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return " ".join(tokens), ""


class _RequirementsReader:
    """Reads requirements files (with includes) or exported text into one spec."""

    def __init__(
        self, root_dir: Path, subject: str, *, strict_hashes: bool = True, inline: bool = False
    ) -> None:
        self.root_dir = root_dir
        self.strict_hashes = strict_hashes
        self.inline = inline
        self.problems = _Problems(subject)
        self.requirements: list[_Entry] = []
        self.constraints: list[_Entry] = []
        self.index_url: tuple[str, str] | None = None
        self.extra_index_urls: list[str] = []
        self.find_links: list[str] = []
        self.no_index = False
        self.require_hashes: str | None = None

    def display(self, path: Path) -> str:
        try:
            rel = os.path.relpath(path, self.root_dir)
        except ValueError:  # another drive on Windows
            return path.name
        return Path(rel).as_posix()

    # -- files -------------------------------------------------------------------------------

    def read_file(
        self, path: Path, *, constraint: bool, chain: tuple[Path, ...], where: str, flag: str
    ) -> None:
        display = self.display(path)
        try:
            key = path.resolve()
        except (OSError, RuntimeError, ValueError):
            key = Path(os.path.abspath(path))
        if key in chain:
            loop = " -> ".join([*(self.display(p) for p in chain), display])
            self.problems.add(
                f"{where}: {flag} {display} includes a file that is already being read "
                f"({loop}): remove the line that closes the loop"
            )
            return
        try:
            is_file = path.is_file()
        except (OSError, ValueError):
            is_file = False
        if not is_file:
            self.problems.add(
                f"{where}: {flag} {display}: file not found (include paths are relative to the "
                "including file's folder): fix the path"
            )
            return
        try:
            text = _read_text(path, display)
        except InputError as exc:
            self.problems.add(str(exc))
            return
        self.read_text(
            text,
            display=display,
            base_dir=path.parent,
            constraint=constraint,
            chain=(*chain, key),
            included_by=f"{flag} on {where}",
        )

    def read_text(
        self,
        text: str,
        *,
        display: str,
        base_dir: Path,
        constraint: bool = False,
        chain: tuple[Path, ...] = (),
        included_by: str | None = None,
    ) -> None:
        """Read every line; problems are added once the whole text was seen.

        A text with more lines that are not requirements, options or comments at all than
        lines that are does not look like a requirements file (``-r ~/.aws/credentials``): it
        gets one problem that quotes none of its lines.
        """
        understood = 0
        found: list[tuple[int, str, str | None]] = []  # (line, message, _Unparsable.reason)
        for number, raw in _logical_lines(text):
            written = _COMMENT_RE.sub("", raw).strip()
            if not written:
                continue
            where = f"{display}:{number}"
            expanded: dict[str, str] = {}
            line = _expand_env(written, expanded)
            first_new = len(self.problems.items)
            try:
                self.read_line(
                    line,
                    written=written,
                    where=where,
                    display=display,
                    base_dir=base_dir,
                    constraint=constraint,
                    chain=chain,
                )
                understood += 1
            except _Unparsable as problem:
                found.append((number, _unexpand(str(problem), expanded), problem.reason))
            except _Problem as problem:
                understood += 1
                found.append((number, _unexpand(str(problem), expanded), None))
            if expanded:  # problems found through this line (includes too) lose the values
                items = self.problems.items
                items[first_new:] = [_unexpand(item, expanded) for item in items[first_new:]]
        unparsable = [(number, reason) for number, _, reason in found if reason is not None]
        if not self.inline and len(unparsable) > understood:
            number, reason = unparsable[0]
            check = (
                f"check the path of the {included_by}"
                if included_by
                else "check that this is the file you meant"
            )
            others = understood + len(unparsable) - 1
            what = f"line {number} is no requirement, option or comment ({reason})"
            if others:
                what += f", and neither are {len(unparsable) - 1} of its {others} other lines"
            self.problems.add(
                f"{display}:{number}: {display} does not look like a requirements file: {what} "
                f"(no line is shown: such a file may hold secrets); {check}, or fix line {number}"
            )
            return
        for _, message, _ in found:
            self.problems.add(message)

    # -- one line ----------------------------------------------------------------------------

    def read_line(
        self,
        line: str,
        *,
        written: str,
        where: str,
        display: str,
        base_dir: Path,
        constraint: bool,
        chain: tuple[Path, ...],
    ) -> None:
        """Handle one logical line; ``written`` (before ${VAR} expansion) is what messages show."""
        shown = _quoted(written)
        args, option_text = _split_args_options(line)
        try:
            tokens = shlex.split(option_text) if option_text else []
        except ValueError as exc:
            raise _Unparsable(
                f"{where}: cannot read the options in {shown} ({exc}): fix the quoting",
                f"options that cannot be read: {exc}",
            ) from None
        options = self.parse_options(tokens, where=where, shown=shown)
        base_note = (
            f"paths are relative to {base_dir}"
            if self.inline
            else f"paths are relative to the folder of {display}"
        )
        if args:
            misplaced = [name for name, _ in options if name != "--hash"]
            if misplaced:
                raise _Problem(
                    f"{where}: {misplaced[0]} cannot follow a requirement ({shown}); only --hash "
                    f"can: put {misplaced[0]} on a line of its own"
                )
            hashes = []
            for _, value in options:
                try:
                    hashes.append(_check_hash(value or ""))
                except ValueError:
                    raise _Problem(
                        f"{where}: --hash={value} in {shown} is not 'sha256:<64 hex digits>' "
                        "(or sha384/sha512): copy the hash again"
                    ) from None
            try:
                req, local, is_dir = _parse_requirement_text(args, base_dir, base_note)
            except _BadRequirement as exc:
                if exc.reason is None:
                    raise _Problem(f"{where}: {shown} {exc.tail}") from None
                raise _Unparsable(f"{where}: {shown} {exc.tail}", exc.reason) from None
            except ValueError as exc:  # urllib on a malformed URL
                detail = _first_line(exc)
                raise _Unparsable(
                    f"{where}: {shown} {_invalid(detail).tail}", f"invalid URL: {detail}"
                ) from None
            entry = _Entry(req, where, _dedupe_list(hashes), local, is_dir)
            if constraint:
                self.add_constraint(entry, shown, named=bool(_NAMED_REFERENCE_RE.match(args)))
            else:
                self.requirements.append(entry)
            return
        if self.inline:
            raise _Problem(
                f"{where}: {shown} is not a requirement: only requirements (optionally with "
                "--hash) can be listed inline; put options in a requirements file"
            )
        for name, value in options:
            self.apply_option(
                name,
                value or "",
                where=where,
                shown=shown,
                base_dir=base_dir,
                base_note=base_note,
                constraint=constraint,
                chain=chain,
            )

    def parse_options(
        self, tokens: list[str], *, where: str, shown: str
    ) -> list[tuple[str, str | None]]:
        options: list[tuple[str, str | None]] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if token.startswith("--"):
                name, eq, value = token.partition("=")
                attached = bool(eq)
            elif token.startswith("-") and len(token) > 1:
                name, value = token[:2], token[2:]
                attached = bool(value)
            else:
                raise _Unparsable(
                    f"{where}: unexpected {_quoted(token)} in {shown}: an option takes one "
                    "value; put each requirement on a line of its own",
                    "a value where an option should be",
                )
            if name in _VALUE_OPTIONS:
                if not attached:
                    if index >= len(tokens):
                        raise _Problem(f"{where}: {name} needs a value ({shown}): add it")
                    value = tokens[index]
                    index += 1
                options.append((_VALUE_OPTIONS[name], value))
            elif name in _FLAG_OPTIONS:
                if attached:
                    raise _Problem(f"{where}: {name} takes no value ({shown}): remove it")
                options.append((name, None))
            elif name in _UNSUPPORTED_OPTIONS:
                raise _Problem(
                    f"{where}: {name} is not supported in a Lambda bundle's requirements "
                    f"({shown}): {_UNSUPPORTED_OPTIONS[name]}"
                )
            else:
                raise _Unparsable(
                    f"{where}: unknown option {_quoted(name)} ({shown}): remove it or fix "
                    "its spelling (supported: -r, -c, --hash, -i/--index-url, --extra-index-url, "
                    "-f/--find-links, --no-index, --require-hashes)",
                    "an unknown option",
                )
        return options

    def apply_option(
        self,
        name: str,
        value: str,
        *,
        where: str,
        shown: str,
        base_dir: Path,
        base_note: str,
        constraint: bool,
        chain: tuple[Path, ...],
    ) -> None:
        if name in ("-r", "-c"):
            if _SCHEME_RE.match(value):
                raise _Problem(
                    f"{where}: {name} by URL is not supported ({shown}): download the file, "
                    "check it in next to this one and include it by path"
                )
            if not value.strip():
                raise _Problem(f"{where}: {name} needs a file name ({shown}): add it")
            self.read_file(
                base_dir / value,
                constraint=constraint or name == "-c",
                chain=chain,
                where=where,
                flag=name,
            )
        elif name == "--index-url":
            url = self.index_location(value, where=where, shown=shown, option=name)
            if self.index_url is not None and self.index_url[0] != url:
                raise _Problem(
                    f"{where}: a second, different --index-url ({shown}; the first is at "
                    f"{self.index_url[1]}): keep one and list the other with --extra-index-url"
                )
            self.index_url = (url, where)
        elif name == "--extra-index-url":
            url = self.index_location(value, where=where, shown=shown, option=name)
            if url not in self.extra_index_urls:
                self.extra_index_urls.append(url)
        elif name == "--find-links":
            location = self.find_links_location(value, where=where, shown=shown, base_dir=base_dir)
            if location not in self.find_links:
                self.find_links.append(location)
        elif name == "--no-index":
            self.no_index = True
        elif name == "--require-hashes":
            self.require_hashes = where
        elif name == "-e":
            raise _Problem(
                f"{where}: editable requirement {shown} is not supported: an editable install "
                "links to a source folder that does not exist inside a Lambda bundle; write "
                f"{_quoted(value)} (without -e) to have the project built into a wheel and "
                "installed (pure-Python projects only)"
            )
        elif name == "--hash":
            raise _Problem(
                f"{where}: --hash must follow its requirement on the same line ({shown}): join "
                "the lines with a trailing backslash"
            )

    @staticmethod
    def index_location(value: str, *, where: str, shown: str, option: str) -> str:
        try:
            parts = urlsplit(value) if _SCHEME_RE.match(value) else None
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https", "file"):
            raise _Problem(
                f"{where}: {option} needs an http(s) URL ({shown}): write it as https://host/simple"
            )
        return value

    @staticmethod
    def find_links_location(value: str, *, where: str, shown: str, base_dir: Path) -> str:
        if _SCHEME_RE.match(value) and not value.lower().startswith("file:"):
            if value.split(":", 1)[0].lower() not in ("http", "https"):
                raise _Problem(
                    f"{where}: --find-links needs an http(s) URL or a local folder ({shown})"
                )
            return value
        try:
            path = _resolve_local(value, base_dir)
            exists = path.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            raise _Problem(
                f"{where}: --find-links {_quoted(value)} does not exist (paths are relative "
                "to the file's folder): create it or fix the path"
            )
        return str(path)

    def add_constraint(self, entry: _Entry, shown: str, *, named: bool) -> None:
        if entry.hashes:
            raise _Problem(
                f"{entry.where}: --hash in a constraints file ({shown}) is not supported: put "
                "the hashes on the requirement line in the requirements file"
            )
        if entry.req.url and not named:
            raise _Problem(
                f"{entry.where}: a constraint must name a package ({shown}): write "
                "'name==version' (or 'name @ URL')"
            )
        if entry.req.extras:
            raise _Problem(
                f"{entry.where}: constraints cannot have extras ({shown}): remove the [...]"
            )
        self.constraints.append(entry)

    # -- result ------------------------------------------------------------------------------

    def check_hashes(self) -> None:
        hashed = [e for e in self.requirements if e.hashes]
        for entry in hashed:
            if entry.is_dir:
                self.problems.add(
                    f"{entry.where}: {entry.name!r} is a local folder, which cannot be "
                    "hash-checked: build it into a wheel and hash that, or remove its --hash"
                )
            elif not _is_exact_pin(entry):
                self.problems.add(
                    f"{entry.where}: {entry.name!r} has --hash but is not pinned with '==' "
                    "(hash-checking mode needs exact versions): pin the version the hashes "
                    "belong to"
                )
        if not self.strict_hashes or not (hashed or self.require_hashes):
            return
        reason = (
            f"--require-hashes is set ({self.require_hashes})"
            if self.require_hashes and not hashed
            else "other requirements have one"
        )
        for entry in self.requirements:
            if not entry.hashes:
                self.problems.add(
                    f"{entry.where}: {entry.name!r} has no --hash, but {reason} (pip's "
                    "hash-checking mode needs a hash on every requirement): add its "
                    "--hash=sha256:... (`uv pip compile --generate-hashes` writes them) or "
                    "remove every --hash"
                )

    def result(self, origin: str, *, locked: bool) -> DependencySpec:
        self.check_hashes()
        self.problems.raise_if_any()
        return _build_spec(
            self.requirements,
            self.constraints,
            IndexSettings(
                index_url=self.index_url[0] if self.index_url else None,
                extra_index_urls=tuple(self.extra_index_urls),
                find_links=tuple(self.find_links),
                no_index=self.no_index,
            ),
            origin=origin,
            locked=locked,
        )


def _dedupe_list(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _build_spec(
    requirements: Sequence[_Entry],
    constraints: Sequence[_Entry],
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
            hashes[entry.name] = _dedupe_list([*hashes[entry.name], *entry.hashes])
        if entry.local_path is not None:
            local_paths[entry.name] = entry.local_path
    return DependencySpec(
        requirements=_dedupe(e.line for e in requirements),
        constraints=_dedupe(e.line for e in constraints),
        hashes={name: tuple(values) for name, values in hashes.items()},
        index=index,
        origin=origin,
        locked=locked,
        local_paths=local_paths,
    )


def load_requirements_file(path: PathLike, *, _seen: tuple[Path, ...] = ()) -> DependencySpec:
    """Read a pip requirements file, following its ``-r`` / ``-c`` includes.

    Understands what pip does in a requirements file that matters for a bundle: comments,
    blank lines, ``\\`` continuations, ``${VAR}`` expansion, ``-r``/``-c`` includes (relative to
    the including file), ``--hash`` (all requirements or none), ``-i/--index-url``,
    ``--extra-index-url``, ``-f/--find-links`` (relative paths against the file's folder),
    ``--no-index``, ``--require-hashes`` and path/URL requirements.

    Args:
        path: the requirements file.
        _seen: files already being read (include-cycle detection; internal).

    Raises:
        InputError: the file is missing or unreadable, or has problems; every problem is
            listed as ``file:line: what is wrong: what to do``. Editable (``-e``) lines,
            unknown options and partially hashed files are problems.
    """
    file = _existing_file(path, "requirements file")
    reader = _RequirementsReader(file.parent, file.name)
    text = _read_text(file, file.name)
    try:
        key = file.resolve()
    except (OSError, RuntimeError, ValueError):
        key = Path(os.path.abspath(file))
    reader.read_text(text, display=file.name, base_dir=file.parent, chain=(*_seen, key))
    return reader.result(file.name, locked=False)


def from_list(
    requirements: Sequence[str], *, origin: str = "inline list", base_dir: PathLike | None = None
) -> DependencySpec:
    """Build a spec from requirement strings (``["requests>=2", "numpy==2.2.6"]``).

    Each item is one requirement as it would appear on a requirements-file line, optionally
    with ``--hash`` options; nothing is expanded.

    Args:
        requirements: the requirement strings.
        origin: how messages name the list.
        base_dir: folder that relative path requirements are resolved against (default: the
            current folder).

    Raises:
        InputError: an item is not a string, not a valid requirement, or an option.
    """
    if isinstance(requirements, str):
        _fail(f"{origin}: expected a list of requirement strings, not one string: wrap it in [...]")
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    reader = _RequirementsReader(folder, origin, inline=True)
    for number, item in enumerate(requirements, 1):
        where = f"{origin} item {number}"
        if not isinstance(item, str):
            reader.problems.add(f"{where}: expected a requirement string, not {_type_name(item)}")
            continue
        written = item.strip()
        if not written or "\n" in written or "\r" in written:
            reader.problems.add(
                f"{where}: {redact_text(item)!r} is not one requirement: give one per item"
            )
            continue
        try:
            reader.read_line(
                written,
                written=written,
                where=where,
                display=origin,
                base_dir=folder,
                constraint=False,
                chain=(),
            )
        except _Problem as problem:
            reader.problems.add(str(problem))
    return reader.result(origin, locked=False)


# -- markers: decide extra / extras / dependency_groups, keep the rest ------------------------

_MARKER_TOKEN_RE: Final = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) |
        (?P<str>'[^']*'|"[^"]*") |
        (?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b) |
        (?P<bool>and\b|or\b) |
        (?P<var>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, **_SLOTS)
class _MAtom:
    lhs: tuple[bool, str]  # (is_variable, text)
    op: str
    rhs: tuple[bool, str]


@dataclass(frozen=True, **_SLOTS)
class _MJoin:
    kind: str  # "and" | "or"
    items: tuple[_MNode, ...]


_MNode = Union[_MAtom, _MJoin]
_MResult = Union[bool, _MAtom, _MJoin]


def _marker_tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _MARKER_TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read marker near {text[position:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, " ".join(value.split()) if kind == "op" else value))
        position = match.end()
    return tokens


class _MarkerParser:
    def __init__(self, text: str) -> None:
        self.tokens = _marker_tokens(text)
        self.position = 0

    def parse(self) -> _MNode:
        node = self.parse_join("or")
        if self.position != len(self.tokens):
            raise ValueError("trailing tokens in marker")
        return node

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("marker ends early")
        self.position += 1
        return token

    def parse_join(self, kind: str) -> _MNode:
        inner = "and" if kind == "or" else None
        items = [self.parse_join(inner) if inner else self.parse_atom()]
        while self.peek() == ("bool", kind):
            self.take()
            items.append(self.parse_join(inner) if inner else self.parse_atom())
        return items[0] if len(items) == 1 else _MJoin(kind, tuple(items))

    def parse_atom(self) -> _MNode:
        kind, value = self.take()
        if kind == "lp":
            node = self.parse_join("or")
            if self.take()[0] != "rp":
                raise ValueError("unbalanced parentheses in marker")
            return node
        lhs = self.value(kind, value)
        op_kind, op = self.take()
        if op_kind != "op":
            raise ValueError("expected an operator in marker")
        rhs = self.value(*self.take())
        return _MAtom(lhs, op, rhs)

    @staticmethod
    def value(kind: str, value: str) -> tuple[bool, str]:
        if kind == "var":
            return True, value
        if kind == "str":
            return False, value[1:-1]
        raise ValueError("expected a variable or a string in marker")


def _decide_atom(
    atom: _MAtom, extras: frozenset[str] | None, groups: frozenset[str] | None
) -> bool | None:
    """Truth of an ``extra``/``extras``/``dependency_groups`` atom; ``None`` for other atoms."""
    for var, val in ((atom.lhs, atom.rhs), (atom.rhs, atom.lhs)):
        if not var[0] or val[0]:
            continue
        name = var[1]
        if name == "extra" and extras is not None:
            if atom.op in ("==", "!="):
                hit = _canon(val[1]) in extras
                return hit if atom.op == "==" else not hit
            return False
        if name in ("extras", "dependency_groups") and var is atom.rhs:
            chosen = extras if name == "extras" else groups
            if chosen is not None and atom.op in ("in", "not in"):
                hit = _canon(val[1]) in chosen
                return hit if atom.op == "in" else not hit
    return None


def _fold(
    node: _MNode, extras: frozenset[str] | None, groups: frozenset[str] | None, seen: list[bool]
) -> _MResult:
    if isinstance(node, _MAtom):
        decided = _decide_atom(node, extras, groups)
        if decided is None:
            return node
        seen.append(True)
        return decided
    absorbing = node.kind == "or"  # True absorbs "or", False absorbs "and"
    kept: list[_MNode] = []
    for item in node.items:
        value = _fold(item, extras, groups, seen)
        if isinstance(value, bool):
            if value is absorbing:
                return absorbing
            continue
        kept.append(value)
    if not kept:
        return not absorbing
    return kept[0] if len(kept) == 1 else _MJoin(node.kind, tuple(kept))


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


def _render(node: _MNode) -> str:
    if isinstance(node, _MAtom):
        lhs = node.lhs[1] if node.lhs[0] else _quote(node.lhs[1])
        rhs = node.rhs[1] if node.rhs[0] else _quote(node.rhs[1])
        return f"{lhs} {node.op} {rhs}"
    parts = []
    for item in node.items:
        text = _render(item)
        if node.kind == "and" and isinstance(item, _MJoin) and item.kind == "or":
            text = f"({text})"
        parts.append(text)
    return f" {node.kind} ".join(parts)


def _resolve_marker(
    marker: str,
    *,
    extras: frozenset[str] | None = None,
    groups: frozenset[str] | None = None,
) -> tuple[bool | str, bool]:
    """Decide the extra/group conditions of a (valid) marker.

    Returns ``(result, touched)``: ``result`` is ``True`` (always), ``False`` (never) or the
    remaining marker text; ``touched`` says whether any extra/group condition was present.
    """
    try:
        node = _MarkerParser(marker).parse()
    except ValueError:  # pragma: no cover - every marker packaging accepts parses here
        return str(Marker(marker)), False
    seen: list[bool] = []
    value = _fold(node, extras, groups, seen)
    if isinstance(value, bool):
        return value, bool(seen)
    return str(Marker(_render(value))), bool(seen)


# -- TOML-based inputs: shared helpers ---------------------------------------------------------


def _canonical_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_canon(v) for v in values)


def _check_marker(text: str, where: str, what: str) -> str:
    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        raise _Problem(
            f"{where}: {what} {text!r} is not a valid marker ({_first_line(exc)}): fix it or "
            "regenerate the lock file"
        ) from None


def _pinned_entry(
    name: str,
    version: str,
    marker: bool | str,
    where: str,
    hashes: list[str],
    extras: Sequence[str] = (),
) -> _Entry:
    extras_text = f"[{','.join(extras)}]" if extras else ""
    text = f"{name}{extras_text}=={version}"
    req = _lock_requirement(
        text, marker, where, f"{name!r} version {version!r} does not make a valid pin"
    )
    return _Entry(req, where, hashes)


def _lock_requirement(text: str, marker: bool | str, where: str, problem: str) -> Requirement:
    """A lock entry's requirement ``text`` with its marker; ``problem`` starts the error."""
    if isinstance(marker, str):
        text += f" ; {marker}"
    try:
        return _normalize(Requirement(text))
    except (InvalidRequirement, _BadRequirement) as exc:
        raise _Problem(
            f"{where}: {problem} ({_first_line(exc)}): regenerate the lock file"
        ) from None


def _reference_entry(
    name: str,
    location: str,
    marker: bool | str,
    where: str,
    hashes: list[str],
    base_dir: Path,
    extras: Sequence[str] = (),
) -> _Entry:
    """``name @ URL`` for a remote URL, or an absolute ``file:`` URL for a local path."""
    extras_text = f"[{','.join(extras)}]" if extras else ""
    local: str | None = None
    is_dir = False
    if _SCHEME_RE.match(location) and not location.lower().startswith("file:"):
        url = location
    else:
        try:
            path = _resolve_local(location, base_dir)
            is_dir = _check_local(path, location, "paths are relative to the lock file's folder")
        except _BadRequirement as exc:
            raise _Problem(f"{where}: {name!r} {exc.tail}") from None
        except ValueError as exc:
            raise _Problem(
                f"{where}: {name!r} has a source path that cannot be used ({_first_line(exc)}): "
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
    return _Entry(req, where, [] if is_dir else hashes, local, is_dir)


def _parse_hashes(values: Iterable[str], where: str, what: str) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(_check_hash(value))
        except ValueError:
            if value.partition(":")[0].lower() in _HASH_HEX_LENGTH:
                raise _Problem(
                    f"{where}: {what} has a malformed hash {value!r}: regenerate the lock file"
                ) from None
            # other algorithms (md5, blake2b, ...) cannot be checked by pip: skip them
    return _dedupe_list(out)


def _resolve_groups(
    table: Mapping[str, Any], wanted: Sequence[str], where: str
) -> list[tuple[str, str]]:
    """PEP 735: the requirement strings of ``wanted`` groups, with ``include-group``.

    Returns ``(requirement, group)`` pairs.
    """
    by_name: dict[str, str] = {}
    for key in table:
        by_name.setdefault(_canon(key), key)
    out: list[tuple[str, str]] = []

    def visit(group: str, stack: tuple[str, ...]) -> None:
        norm = _canon(group)
        if norm in stack:
            loop = " -> ".join([*stack, norm])
            raise _Problem(f"{where}: [dependency-groups] include a loop ({loop}): break it")
        key = by_name.get(norm)
        if key is None:
            known = ", ".join(sorted(table)) or "none"
            raise _Problem(
                f"{where}: dependency group {group!r} is not defined (groups: {known}): add it "
                "to [dependency-groups] or ask for an existing one"
            )
        items = _expect(table[key], list, where, f"[dependency-groups].{key}")
        for item in items:
            if isinstance(item, str):
                out.append((item, key))
            elif isinstance(item, dict) and set(item) == {"include-group"}:
                included = _expect(item["include-group"], str, where, "include-group")
                visit(included, (*stack, norm))
            else:
                raise _Problem(
                    f"{where}: [dependency-groups].{key} entries must be requirement strings or "
                    '{include-group = "name"} tables: fix the entry'
                )

    for group in wanted:
        visit(group, ())
    return out


# -- pyproject.toml ----------------------------------------------------------------------------


def load_pyproject(
    path: PathLike, *, extras: Sequence[str] = (), groups: Sequence[str] = ()
) -> DependencySpec:
    """Read ``[project].dependencies`` (plus extras and PEP 735 dependency groups if asked).

    ``[project.optional-dependencies]`` entries that name the project itself
    (``myapp[aws]``) are expanded; the project itself is not installed (its code is the
    function's source). Tool-specific sources such as ``[tool.uv.sources]`` are not read: use
    the tool's lock file for those.

    Raises:
        InputError: missing file, invalid TOML, dynamic or Poetry-only dependencies, an unknown
            extra or group, or invalid requirements (each with file:line where known).
    """
    extras, groups = _names(extras, "extras"), _names(groups, "groups")
    file = _existing_file(path, "pyproject.toml")
    display = file.name
    data, text = _read_toml(file, display)
    problems = _Problems(display)
    entries: list[_Entry] = []
    try:
        project = _expect(data.get("project", {}), dict, display, "[project]")
        has_deps = "dependencies" in project
        if not has_deps and "dependencies" in project.get("dynamic", []):
            raise _Problem(
                f"{_where(display, text, 'dynamic')}: [project].dependencies is dynamic, so it "
                "cannot be read without building the project: list the dependencies statically "
                "or use a requirements or lock file"
            )
        poetry = (
            data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
        )
        poetry_deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
        if not has_deps and isinstance(poetry_deps, dict) and set(poetry_deps) - {"python"}:
            raise _Problem(
                f"{display}: the dependencies are in [tool.poetry.dependencies], which only "
                "Poetry resolves: run `poetry lock` and use poetry.lock"
            )
        project_name = project.get("name") if isinstance(project.get("name"), str) else None
        base_note = f"paths are relative to the folder of {display}"
        pending: list[tuple[str, str, str | None]] = [
            (item, "[project].dependencies", None)
            for item in _str_list(project.get("dependencies", []), display, "dependencies")
        ]
        optional = _expect(
            project.get("optional-dependencies", {}),
            dict,
            display,
            "[project.optional-dependencies]",
        )
        by_extra = {_canon(k): k for k in optional}
        wanted_extras = list(extras)
        seen_extras: set[str] = set()
        while wanted_extras:
            extra = wanted_extras.pop(0)
            norm = _canon(extra)
            if norm in seen_extras:
                continue
            seen_extras.add(norm)
            key = by_extra.get(norm)
            if key is None:
                known = ", ".join(sorted(optional)) or "none"
                problems.add(
                    f"{display}: extra {extra!r} is not in [project.optional-dependencies] "
                    f"(extras: {known}): ask for an existing one"
                )
                continue
            what = f"[project.optional-dependencies].{key}"
            pending += [(item, what, None) for item in _str_list(optional[key], display, what)]
        dependency_groups = _expect(
            data.get("dependency-groups", {}), dict, display, "[dependency-groups]"
        )
        if groups:
            pending += [
                (item, f"[dependency-groups].{group}", None)
                for item, group in _resolve_groups(dependency_groups, groups, display)
            ]
        while pending:
            item, what, outer_marker = pending.pop(0)
            where = _where(display, text, item) if item.strip() else display
            try:
                req, local, is_dir = _parse_requirement_text(item, file.parent, base_note)
            except _BadRequirement as exc:
                problems.add(f"{where}: {redact_text(item)!r} in {what} {exc.tail}")
                continue
            if outer_marker:
                combined = f"({outer_marker})" + (f" and ({req.marker})" if req.marker else "")
                req.marker = Marker(combined)
            if project_name and req.name == _canon(project_name):
                # a self-reference: install the extras it names, not the project itself
                for extra in sorted(req.extras):
                    key = by_extra.get(extra)
                    if key is None:
                        problems.add(
                            f"{where}: {item!r} names extra {extra!r} of this project, which "
                            "is not defined: fix the name"
                        )
                        continue
                    if extra in seen_extras:
                        continue
                    seen_extras.add(extra)
                    what2 = f"[project.optional-dependencies].{key}"
                    marker = str(req.marker) if req.marker else None
                    pending += [
                        (i, what2, marker) for i in _str_list(optional[key], display, what2)
                    ]
                continue
            entries.append(_Entry(req, where, [], local, is_dir))
    except _Problem as problem:
        problems.add(str(problem))
    problems.raise_if_any()
    return _build_spec(entries, [], IndexSettings(), origin=display, locked=False)


# -- uv.lock -----------------------------------------------------------------------------------


def _uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return os.fsdecode(find_uv_bin())
    except (ImportError, FileNotFoundError) as exc:
        _fail(
            f"uv.lock: cannot find the uv binary ({exc}): reinstall lambda-wheels-cdk, which "
            "depends on the 'uv' package"
        )


def _uv_environment(*, offline: bool) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _UV_ENV_KEEP or _UV_INDEX_CREDENTIALS_RE.fullmatch(key)
    }
    env.update({"UV_NO_CONFIG": "1", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"})
    if offline:
        env["UV_OFFLINE"] = "1"
    return env


def load_uv_lock(
    path: PathLike,
    *,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    frozen: bool = True,
) -> DependencySpec:
    """Read a ``uv.lock`` through ``uv export`` (the lock format is uv's to interpret).

    Runs ``uv export --frozen|--locked --no-default-groups --no-emit-project --no-editable
    --no-header --format requirements-txt`` (plus ``--extra``/``--group`` per request) in the
    lock's folder, with ``UV_NO_CONFIG=1`` and an environment stripped of ``UV_*``/``PIP_*``
    settings (only proxies, certificates, the cache folder and ``UV_INDEX_*`` credentials pass),
    then parses that text like a requirements file. ``--no-default-groups`` leaves out ``dev``
    and any other default group: only the groups asked for are installed. Workspace members
    and path dependencies become non-editable path requirements. The registries the lock
    recorded for the exported packages (other than PyPI) become extra index URLs (or
    find-links for local folders), because ``UV_NO_CONFIG`` hides ``[[tool.uv.index]]``;
    credentials for them come from the installer's environment or netrc, as for any index.

    ``frozen=True`` (``--frozen``, the default) installs exactly what ``uv.lock`` says, without
    checking it against ``pyproject.toml`` and without network access. ``frozen=False``
    (``--locked``) first checks that the lock is up to date with ``pyproject.toml`` (uv may
    need the index for that) and fails if it is not.

    Raises:
        InputError: the lock or its ``pyproject.toml`` is missing, the lock is out of date
            (``--locked``: "uv.lock is out of date with pyproject.toml: run `uv lock`"), an
            extra/group is unknown, or uv fails otherwise (its message, credentials masked).
    """
    extras, groups = _names(extras, "extras"), _names(groups, "groups")
    file = _existing_file(path, "uv.lock")
    display = file.name
    if not (file.parent / "pyproject.toml").is_file():
        _fail(
            f"{display}: needs the pyproject.toml it was locked from next to it (uv export reads "
            "both): put them in the same folder"
        )
    command = [
        _uv_binary(),
        "export",
        "--frozen" if frozen else "--locked",
        "--no-default-groups",
        "--no-emit-project",
        "--no-editable",
        "--no-header",
        "--format",
        "requirements-txt",
    ]
    for extra in extras:
        command += ["--extra", extra]
    for group in groups:
        command += ["--group", group]
    if not frozen:
        command += _project_index_args(file.parent / "pyproject.toml")
    try:
        completed = subprocess.run(
            command,
            cwd=file.parent,
            env=_uv_environment(offline=frozen),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_UV_TIMEOUT_FROZEN if frozen else _UV_TIMEOUT_LOCKED,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _fail(f"{display}: `uv export` did not finish in time: check the network and retry")
    except OSError as exc:
        _fail(f"{display}: cannot run uv ({exc}): reinstall lambda-wheels-cdk")
    if completed.returncode != 0:
        stderr = redact_text(completed.stderr)
        if "needs to be updated" in stderr:
            _fail(f"{display} is out of date with pyproject.toml: run `uv lock`")
        errors = [
            line.strip()
            for line in stderr.splitlines()
            if line.strip() and not line.startswith(("Using ", "Resolved "))
        ]
        detail = " ".join(errors[:6]) or f"exit status {completed.returncode}"
        _fail(
            f"{display}: `uv export` failed: {detail}: fix the lock (`uv lock`) or the extras and "
            "groups asked for"
        )
    reader = _RequirementsReader(file.parent, display, strict_hashes=False)
    reader.read_text(completed.stdout, display=f"{display} (uv export)", base_dir=file.parent)
    spec = reader.result(display, locked=True)
    registries = _uv_lock_registries(file, display, frozenset(spec.names))
    return replace(spec, index=spec.index.merged(registries))


def _project_index_args(pyproject: Path) -> list[str]:
    """The project's own ``[[tool.uv.index]]`` entries as ``uv export`` flags.

    ``UV_NO_CONFIG`` hides them, so ``--locked`` would check the lock against PyPI alone: a
    private package is then "not found" (and its name is sent to PyPI). They are the project's
    inputs, not host configuration. Credentials come from ``UV_INDEX_<NAME>_*`` or netrc.
    """
    data, _ = _read_toml(pyproject, pyproject.name)
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    entries = uv.get("index") if isinstance(uv, dict) else None
    args: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        name = entry.get("name")
        value = f"{name}={entry['url']}" if isinstance(name, str) and name else entry["url"]
        args += ["--default-index" if entry.get("default") is True else "--index", value]
    return args


def _project_index_names(pyproject: Path) -> dict[str, str]:
    """``[[tool.uv.index]]`` of a project: URL (no trailing slash) -> index name."""
    try:
        data, _ = _read_toml(pyproject, pyproject.name)
    except InputError:
        return {}
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    entries = uv.get("index") if isinstance(uv, dict) else None
    return {
        e["url"].rstrip("/"): e["name"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("url"), str) and isinstance(e.get("name"), str)
    }


def _with_index_credentials(url: str, name: str | None, environ: Mapping[str, str]) -> str:
    """``url`` with the credentials uv would use for the named index
    (``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD``), in memory only: every message masks URL
    credentials and every fingerprint drops them."""
    parts = urlsplit(url)
    if name is None or "@" in parts.netloc:
        return url
    key = re.sub(r"[^A-Z0-9]", "_", name.upper())
    user = environ.get(f"UV_INDEX_{key}_USERNAME", "")
    password = environ.get(f"UV_INDEX_{key}_PASSWORD", "")
    if not (user or password):
        return url
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def _uv_lock_registries(file: Path, display: str, names: frozenset[str]) -> IndexSettings:
    """The indexes ``uv.lock`` recorded for the exported packages (other than PyPI).

    ``UV_NO_CONFIG`` also hides ``[[tool.uv.index]]`` from ``uv export``, so the lock's own
    ``source = { registry = ... }`` entries say where each package must come from: remote
    registries become extra index URLs, local ones (flat folders) find-links.
    """
    data, _ = _read_toml(file, display)
    named = _project_index_names(file.parent / "pyproject.toml")
    remote: list[str] = []
    local: list[str] = []
    packages = data.get("package", [])
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        source = package.get("source")
        registry = source.get("registry") if isinstance(source, dict) else None
        if not isinstance(registry, str) or _canon(package["name"]) not in names:
            continue
        if _SCHEME_RE.match(registry) and not registry.lower().startswith("file:"):
            url = _with_index_credentials(registry, named.get(registry.rstrip("/")), os.environ)
            if not _is_pypi(registry) and url not in remote:
                remote.append(url)
            continue
        try:
            path = _resolve_local(registry, file.parent)
        except ValueError:
            continue
        if path.is_dir() and str(path) not in local:
            local.append(str(path))
    return IndexSettings(extra_index_urls=tuple(remote), find_links=tuple(local))


# -- poetry.lock -------------------------------------------------------------------------------


@dataclass(**_SLOTS)
class _PoetryDep:
    name: str  # canonical
    constraint: str | None
    marker: str | None
    optional: bool
    extras: tuple[str, ...]


@dataclass(**_SLOTS)
class _PoetryPackage:
    name: str  # canonical
    raw_name: str
    version: str
    where: str
    optional: bool
    groups: tuple[str, ...] | None
    markers: str | dict[str, str] | None
    dependencies: list[_PoetryDep]
    extras: dict[str, frozenset[str]]  # canonical extra -> canonical names it enables
    source: dict[str, Any] | None
    hashes: list[str]


def _poetry_version_part(text: str) -> list[int] | None:
    if not re.fullmatch(r"\d+(?:\.\d+)*", text):
        return None
    return [int(p) for p in text.split(".")]


def _poetry_single(constraint: str) -> list[str] | None:
    """One Poetry constraint (``^1.2``, ``~1.2``, ``1.2.*``, ``>=1,<2`` part) as PEP 440."""
    c = constraint.strip()
    if c in ("", "*"):
        return []
    if c.startswith("^"):
        parts = _poetry_version_part(c[1:].strip())
        if not parts:
            return None
        first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        upper = [*parts[: first + 1]]
        upper[-1] += 1
        return [f">={'.'.join(map(str, parts))}", f"<{'.'.join(map(str, upper))}"]
    if c.startswith("~") and not c.startswith("~="):
        parts = _poetry_version_part(c[1:].strip())
        if not parts:
            return None
        upper = [parts[0], parts[1] + 1] if len(parts) >= 2 else [parts[0] + 1]
        return [f">={'.'.join(map(str, parts))}", f"<{'.'.join(map(str, upper))}"]
    match = re.fullmatch(r"(===|==|!=|<=|>=|~=|<|>|=)?\s*(\S+)", c)
    if not match:
        return None
    op = match.group(1) or "=="
    return [f"{'==' if op == '=' else op}{match.group(2)}"]


def _poetry_specifiers(constraint: str) -> list[SpecifierSet] | None:
    """A Poetry version constraint as alternatives (``||``) of PEP 440 specifier sets."""
    out = []
    for alternative in re.split(r"\s*\|\|?\s*", constraint.strip()):
        specs: list[str] = []
        for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", alternative.strip()):
            converted = _poetry_single(part)
            if converted is None:
                return None
            specs += converted
        try:
            out.append(SpecifierSet(",".join(specs)))
        except InvalidSpecifier:
            return None
    return out


def _python_marker(constraint: str) -> str | None:
    """A Poetry ``python = "..."`` constraint as a marker; ``None`` if it allows everything.

    A constraint that cannot be read is treated as allowing everything (the package is then
    offered to the installer, which skips it if it does not fit the target).
    """
    alternatives = _poetry_specifiers(constraint)
    if not alternatives:
        return None
    rendered = []
    for spec_set in alternatives:
        atoms = []
        for spec in sorted(spec_set, key=str):
            variable = "python_version" if spec.version.count(".") <= 1 else "python_full_version"
            if "*" in spec.version:
                variable = "python_full_version"
            atoms.append(f"{variable} {spec.operator} {_quote(spec.version)}")
        if not atoms:
            return None
        rendered.append(" and ".join(atoms))
    text = " or ".join(f"({r})" for r in rendered) if len(rendered) > 1 else rendered[0]
    try:
        return str(Marker(text))
    except InvalidMarker:
        return None


def _and_markers(*markers: str | None) -> str | None:
    present = [m for m in markers if m]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({m})" for m in present)


def _poetry_dependencies(value: object, name: str, where: str) -> list[_PoetryDep]:
    """One entry of a Poetry dependency table (string, table, or list of tables)."""
    canonical = _canon(name)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_PoetryDep(canonical, item, None, False, ()))
            continue
        spec = _expect(item, dict, where, f"dependency {name!r}")
        markers = spec.get("markers")
        if markers is not None:
            markers = _check_marker(_expect(markers, str, where, "markers"), where, "marker")
        python = spec.get("python")
        python_marker = (
            _python_marker(_expect(python, str, where, "python")) if python is not None else None
        )
        platform = spec.get("platform")
        platform_marker = (
            f"sys_platform == {_quote(_expect(platform, str, where, 'platform'))}"
            if platform is not None
            else None
        )
        version = spec.get("version")
        if version is not None:
            _expect(version, str, where, "version")
        extras = tuple(_str_list(spec.get("extras", []), where, "extras"))
        out.append(
            _PoetryDep(
                canonical,
                version,
                _and_markers(markers, python_marker, platform_marker),
                bool(spec.get("optional", False)),
                tuple(_canon(e) for e in extras),
            )
        )
    return out


def _poetry_extra_names(values: object, where: str) -> frozenset[str]:
    """Names in a Poetry extras list (``["PySocks (>=1.5.6,!=1.5.7)", "pyyaml"]``)."""
    names = set()
    for item in _str_list(values, where, "extras"):
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", item)
        if match:
            names.add(_canon(match.group(1)))
    return frozenset(names)


def _poetry_packages(
    data: dict[str, Any], text: str, display: str, problems: _Problems
) -> list[_PoetryPackage]:
    metadata = data.get("metadata", {})
    legacy_files = metadata.get("files", {}) if isinstance(metadata, dict) else {}
    legacy_hashes: dict[str, list[str]] = {}
    if isinstance(legacy_files, dict):  # lock-version 1.x keeps hashes in [metadata.files]
        for raw, files in legacy_files.items():
            where = _where(display, text, f"{raw} = [")
            try:
                for entry in _expect(files, list, where, f"[metadata.files].{raw}"):
                    value = _expect(entry, dict, where, "a file entry").get("hash")
                    if isinstance(value, str):
                        legacy_hashes.setdefault(_canon(raw), []).append(value)
            except _Problem as problem:
                problems.add(str(problem))
    packages = []
    for table in _expect(data.get("package", []), list, display, "[[package]]"):
        try:
            table = _expect(table, dict, display, "each [[package]]")
            raw_name = _expect(table.get("name"), str, display, "[[package]] name")
            where = _where(display, text, "name = ", f'"{raw_name}"')
            version = _expect(table.get("version"), str, where, f"{raw_name!r} version")
            groups = table.get("groups")
            if groups is not None:
                groups = tuple(_str_list(groups, where, "groups"))
            markers = table.get("markers")
            if isinstance(markers, str):
                markers = _check_marker(markers, where, "marker")
            elif isinstance(markers, dict):
                markers = {
                    g: _check_marker(_expect(m, str, where, "markers"), where, "marker")
                    for g, m in markers.items()
                }
            elif markers is not None:
                raise _Problem(f"{where}: markers must be a string or a table: regenerate the lock")
            dependencies = []
            for dep, spec in _expect(
                table.get("dependencies", {}), dict, where, "dependencies"
            ).items():
                dependencies += _poetry_dependencies(spec, dep, where)
            extras = {
                _canon(extra): _poetry_extra_names(values, where)
                for extra, values in _expect(table.get("extras", {}), dict, where, "extras").items()
            }
            source = table.get("source")
            if source is not None:
                source = _expect(source, dict, where, "source")
            hash_values = [
                _expect(f, dict, where, "a files entry").get("hash")
                for f in _expect(table.get("files", []), list, where, "files")
            ]
            hash_values += legacy_hashes.get(_canon(raw_name), [])
            hashes = _parse_hashes(
                [h for h in hash_values if isinstance(h, str)], where, repr(raw_name)
            )
            packages.append(
                _PoetryPackage(
                    name=_canon(raw_name),
                    raw_name=raw_name,
                    version=version,
                    where=where,
                    optional=bool(table.get("optional", False)),
                    groups=groups,
                    markers=markers,
                    dependencies=dependencies,
                    extras=extras,
                    source=source,
                    hashes=hashes,
                )
            )
        except _Problem as problem:
            problems.add(str(problem))
    return packages


def _poetry_pyproject(folder: Path) -> tuple[dict[str, Any], str] | None:
    path = folder / "pyproject.toml"
    if not path.is_file():
        return None
    return _read_toml(path, "pyproject.toml")


def _poetry_roots(
    pyproject: dict[str, Any], text: str, groups: Sequence[str], extras: frozenset[str]
) -> tuple[list[_PoetryDep], set[str], set[str]]:
    """Top-level dependencies of the requested groups, plus the known groups and extras."""
    display = "pyproject.toml"
    tool = pyproject.get("tool", {})
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    poetry = _expect(poetry, dict, display, "[tool.poetry]")
    project = _expect(pyproject.get("project", {}), dict, display, "[project]")
    known_groups = {"main"}
    group_tables = _expect(poetry.get("group", {}), dict, display, "[tool.poetry.group]")
    known_groups |= set(group_tables)
    if "dev-dependencies" in poetry:
        known_groups.add("dev")
    pep735 = _expect(pyproject.get("dependency-groups", {}), dict, display, "[dependency-groups]")
    known_groups |= set(pep735)
    poetry_extras = _expect(poetry.get("extras", {}), dict, display, "[tool.poetry.extras]")
    optional = _expect(
        project.get("optional-dependencies", {}), dict, display, "[project.optional-dependencies]"
    )
    known_extras = {_canon(e) for e in (*poetry_extras, *optional)}
    enabled: set[str] = set()
    for extra, names in poetry_extras.items():
        if _canon(extra) in extras:
            enabled |= _poetry_extra_names(names, display)

    roots: list[_PoetryDep] = []

    def poetry_table(table: object, what: str) -> None:
        for name, spec in _expect(table, dict, display, what).items():
            if name.lower() == "python":
                continue
            for dep in _poetry_dependencies(spec, name, _where(display, text, name)):
                if dep.optional and dep.name not in enabled:
                    continue
                roots.append(dep)

    def pep508(items: Iterable[str], what: str) -> None:
        for item in items:
            try:
                req = Requirement(item)
            except InvalidRequirement as exc:
                raise _Problem(
                    f"{_where(display, text, item)}: {item!r} in {what} is not a valid "
                    f"requirement ({_first_line(exc)}): fix it"
                ) from None
            roots.append(
                _PoetryDep(
                    _canon(req.name),
                    str(req.specifier) or None,
                    str(req.marker) if req.marker else None,
                    False,
                    tuple(sorted(_canon(e) for e in req.extras)),
                )
            )

    for group in groups:
        if group == "main":
            poetry_table(poetry.get("dependencies", {}), "[tool.poetry.dependencies]")
            pep508(
                _str_list(project.get("dependencies", []), display, "dependencies"), "dependencies"
            )
            for extra, items in optional.items():
                if _canon(extra) in extras:
                    pep508(_str_list(items, display, extra), f"optional-dependencies.{extra}")
            continue
        if group in group_tables:
            table = _expect(group_tables[group], dict, display, f"[tool.poetry.group.{group}]")
            poetry_table(table.get("dependencies", {}), f"[tool.poetry.group.{group}.dependencies]")
        if group == "dev" and "dev-dependencies" in poetry:
            poetry_table(poetry["dev-dependencies"], "[tool.poetry.dev-dependencies]")
        if group in pep735:
            pep508((r for r, _ in _resolve_groups(pep735, [group], display)), "dependency-groups")
    return roots, known_groups, known_extras


_Clause = frozenset[str]
_Dnf = frozenset[_Clause]
_ALWAYS: Final[_Dnf] = frozenset({frozenset()})
_MAX_CLAUSES: Final = 32
_MAX_STEPS: Final = 200_000


def _dnf_and(dnf: _Dnf, marker: str | None) -> _Dnf:
    if marker is None:
        return dnf
    return frozenset(clause | {marker} for clause in dnf)


def _dnf_or(a: _Dnf, b: _Dnf) -> _Dnf:
    union = a | b
    kept = frozenset(c for c in union if not any(o < c for o in union))
    return _ALWAYS if len(kept) > _MAX_CLAUSES else kept


def _dnf_marker(dnf: _Dnf) -> bool | str:
    if frozenset() in dnf:
        return True

    def clause_text(atoms: list[str]) -> str:
        if len(atoms) == 1:
            return atoms[0]
        return " and ".join(f"({a})" if " or " in a else a for a in atoms)

    return str(Marker(" or ".join(clause_text(sorted(c)) for c in sorted(dnf, key=sorted))))


def _poetry_walk(
    packages: list[_PoetryPackage],
    roots: list[_PoetryDep],
    display: str,
    problems: _Problems,
) -> dict[int, bool | str]:
    """Old locks: which packages the roots reach, and under which marker (index -> marker)."""
    by_name: dict[str, list[int]] = {}
    for index, package in enumerate(packages):
        by_name.setdefault(package.name, []).append(index)

    def targets(dep: _PoetryDep, parent: str) -> list[int]:
        candidates = by_name.get(dep.name, [])
        if len(candidates) <= 1:
            if not candidates and parent == "pyproject.toml":
                problems.add(
                    f"{display}: {dep.name!r} from pyproject.toml is not in the lock: run "
                    "`poetry lock`"
                )
            return candidates  # a missing transitive dependency was excluded by poetry
        specifiers = _poetry_specifiers(dep.constraint or "*") or []
        matching = [
            i for i in candidates if any(_version_in(packages[i].version, s) for s in specifiers)
        ]
        if len(matching) == 1:
            return matching
        versions = ", ".join(packages[i].version for i in candidates)
        problems.add(
            f"{display}: lists several versions of {dep.name!r} ({versions}) without saying "
            "which one applies where (lock-version < 2.1): re-lock with Poetry >= 2 "
            "(`poetry lock`), which records it"
        )
        return []

    state: dict[int, tuple[_Dnf, frozenset[str]]] = {}
    queue: deque[tuple[int, _Dnf, frozenset[str]]] = deque()
    for dep in roots:
        for index in targets(dep, "pyproject.toml"):
            queue.append((index, _dnf_and(_ALWAYS, dep.marker), frozenset(dep.extras)))
    steps = 0
    while queue:
        steps += 1
        if steps > _MAX_STEPS:  # pragma: no cover - a safety net, not a reachable state
            problems.add(f"{display}: the dependency graph is too large to walk: re-lock it")
            break
        index, dnf, extras = queue.popleft()
        old = state.get(index)
        if old is not None:
            dnf, extras = _dnf_or(old[0], dnf), old[1] | extras
            if (dnf, extras) == old:
                continue
        state[index] = (dnf, extras)
        package = packages[index]
        enabled = frozenset().union(*(package.extras.get(e, frozenset()) for e in extras))
        for dep in package.dependencies:
            if dep.optional and dep.name not in enabled:
                continue
            marker = dep.marker
            if marker is not None:
                decided, _ = _resolve_marker(marker, extras=extras)
                if decided is False:
                    continue
                marker = None if decided is True else decided
            for target in targets(dep, package.raw_name):
                queue.append((target, _dnf_and(dnf, marker), frozenset(dep.extras)))
    return {index: _dnf_marker(dnf) for index, (dnf, _) in state.items()}


def _version_in(version: str, specifiers: SpecifierSet) -> bool:
    try:
        return specifiers.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _poetry_selection(
    packages: list[_PoetryPackage],
    data: dict[str, Any],
    pyproject: tuple[dict[str, Any], str] | None,
    groups: Sequence[str],
    extras: frozenset[str],
    display: str,
    problems: _Problems,
) -> dict[int, bool | str]:
    """Lock 2.1: groups and markers recorded per package (index -> marker)."""
    known_groups = {"main"}
    for package in packages:
        known_groups |= set(package.groups or ())
    lock_extras = _expect(data.get("extras", {}), dict, display, "[extras]")
    known_extras = {_canon(e) for e in lock_extras}
    if pyproject is not None:
        try:
            _, pyproject_groups, pyproject_extras = _poetry_roots(
                pyproject[0], pyproject[1], (), extras
            )
            known_groups |= pyproject_groups
            known_extras |= pyproject_extras
        except _Problem as problem:
            problems.add(str(problem))
    _check_known("group", groups, known_groups, display, problems)
    _check_known("extra", extras, known_extras, display, problems, canonical=True)
    extra_members = frozenset().union(
        *(_poetry_extra_names(v, display) for k, v in lock_extras.items() if _canon(k) in extras)
    )
    wanted = set(groups)
    chosen: dict[int, bool | str] = {}
    for index, package in enumerate(packages):
        package_groups = package.groups if package.groups is not None else ("main",)
        in_groups = [g for g in package_groups if g in wanted]
        if not in_groups:
            continue
        if isinstance(package.markers, str):
            parts: list[str | None] = [package.markers]
        elif isinstance(package.markers, dict):
            parts = [package.markers.get(g) for g in in_groups]
        else:
            parts = [None]
        if any(p is None for p in parts):
            combined: str | None = None
        else:
            present = _dedupe_list(p for p in parts if p)
            combined = present[0] if len(present) == 1 else " or ".join(f"({p})" for p in present)
        decided: bool | str = True
        touched = False
        if combined is not None:
            decided, touched = _resolve_marker(combined, extras=extras)
        if decided is False:
            continue
        if package.optional and not touched and package.name not in extra_members:
            continue
        chosen[index] = decided
    return chosen


def _check_known(
    kind: str,
    asked: Iterable[str],
    known: set[str],
    display: str,
    problems: _Problems,
    *,
    canonical: bool = False,
) -> None:
    for item in asked:
        if (_canon(item) if canonical else item) not in known:
            listing = ", ".join(sorted(known)) or "none"
            problems.add(
                f"{display}: {kind} {item!r} is not defined ({kind}s: {listing}): ask for an "
                "existing one"
            )


def load_poetry_lock(
    path: PathLike, *, groups: Sequence[str] = ("main",), extras: Sequence[str] = ()
) -> DependencySpec:
    """Read ``poetry.lock`` directly (no Poetry needed); install every package of ``groups``.

    * ``lock-version`` 2.1 (Poetry >= 2) records each package's ``groups`` and ``markers``
      (per group): a package is installed when one of its groups is requested, under the
      ``or`` of those groups' markers; ``extra == "..."`` conditions are decided from
      ``extras``.
    * Older locks (1.x with ``category``, 2.0) do not: the ``pyproject.toml`` next to the lock
      gives the top-level dependencies of each group (``[tool.poetry.dependencies]`` = "main",
      ``[tool.poetry.group.<g>]``, legacy ``dev-dependencies``), and the lock's dependency graph
      is walked from them, combining the markers (and ``python``/``platform`` constraints)
      along the way.

    Every package is pinned ``name==version`` with the hashes of its ``files`` (or
    ``[metadata.files]`` in 1.x). Sources: ``legacy`` indexes become extra index URLs,
    ``url``/``file`` sources become direct references with their hashes, ``directory``
    sources become non-editable path requirements; ``git`` sources are refused.

    Raises:
        InputError: missing/invalid lock, an unknown group or extra, a git source, an old lock
            without its pyproject.toml, or an ambiguous old lock (named with file:line).
    """
    extras, groups = _names(extras, "extras"), _names(groups, "groups")
    file = _existing_file(path, "poetry.lock")
    display = file.name
    data, text = _read_toml(file, display)
    problems = _Problems(display)
    metadata = data.get("metadata")
    lock_version = metadata.get("lock-version") if isinstance(metadata, dict) else None
    if not isinstance(lock_version, str) or not re.fullmatch(r"\d+(\.\d+)*", lock_version):
        _fail(
            f"{display}: has no [metadata] lock-version, so it is not a poetry.lock: regenerate it"
        )
    version = tuple(int(p) for p in lock_version.split("."))
    if version[0] > 2:
        _fail(
            f"{display}: lock-version {lock_version} is newer than this reader knows (1.x, 2.x): "
            "upgrade lambda-wheels-cdk or export a requirements file with Poetry"
        )
    wanted_extras = _canonical_set(extras)
    packages = _poetry_packages(data, text, display, problems)
    pyproject = _poetry_pyproject(file.parent)
    if version >= (2, 1):
        chosen = _poetry_selection(
            packages, data, pyproject, groups, wanted_extras, display, problems
        )
    elif pyproject is None:
        _fail(
            f"{display}: lock-version {lock_version} does not record which group each package "
            "belongs to: put its pyproject.toml next to it, or re-lock with Poetry >= 2 "
            "(`poetry lock`)"
        )
    else:
        roots: list[_PoetryDep] = []
        try:
            roots, known_groups, known_extras = _poetry_roots(
                pyproject[0], pyproject[1], groups, wanted_extras
            )
            _check_known("group", groups, known_groups, display, problems)
            lock_extras = data.get("extras", {})
            if isinstance(lock_extras, dict):
                known_extras |= {_canon(e) for e in lock_extras}
            _check_known("extra", extras, known_extras, display, problems, canonical=True)
        except _Problem as problem:
            problems.add(str(problem))
        chosen = _poetry_walk(packages, roots, display, problems)
    entries: list[_Entry] = []
    extra_indexes: list[str] = []
    for index, package in enumerate(packages):
        if index not in chosen:
            continue
        try:
            entries.append(_poetry_entry(package, chosen[index], file.parent, extra_indexes))
        except _Problem as problem:
            problems.add(str(problem))
    problems.raise_if_any()
    return _build_spec(
        entries,
        [],
        IndexSettings(extra_index_urls=tuple(extra_indexes)),
        origin=display,
        locked=True,
    )


def _poetry_entry(
    package: _PoetryPackage, marker: bool | str, folder: Path, extra_indexes: list[str]
) -> _Entry:
    source = package.source or {}
    kind = source.get("type")
    url = source.get("url")
    if kind in (None, "", "pypi"):
        return _pinned_entry(
            package.raw_name, package.version, marker, package.where, package.hashes
        )
    if not isinstance(url, str):
        raise _Problem(
            f"{package.where}: {package.raw_name!r} has a source without url: regenerate the lock"
        )
    if kind == "legacy":
        if not _is_pypi(url) and url not in extra_indexes:
            extra_indexes.append(url)
        return _pinned_entry(
            package.raw_name, package.version, marker, package.where, package.hashes
        )
    if kind in ("url", "file", "directory"):
        entry = _reference_entry(
            package.raw_name, url, marker, package.where, package.hashes, folder
        )
        if kind == "directory" and not entry.is_dir:
            raise _Problem(
                f"{package.where}: {package.raw_name!r} directory source {url!r} is not a folder"
            )
        return entry
    if kind == "git":
        raise _Problem(
            f"{package.where}: {package.raw_name!r} comes from git ({redact_url(url)}), which a "
            "Lambda bundle cannot pin by hash: publish a wheel to your index (or reference a "
            "built wheel as a file source) and re-lock"
        )
    raise _Problem(
        f"{package.where}: {package.raw_name!r} has an unknown source type {kind!r}: regenerate "
        "the lock with a current Poetry"
    )


# -- Pipfile.lock ------------------------------------------------------------------------------


def load_pipfile_lock(
    path: PathLike, *, categories: Sequence[str] = ("default",)
) -> DependencySpec:
    """Read a pipenv ``Pipfile.lock`` (JSON) without pipenv.

    Each package of the requested ``categories`` (``default``; ``develop``, alias ``dev``;
    pipenv's custom categories) is pinned from its ``version`` with its ``hashes``,
    ``markers`` and ``extras``. ``_meta.sources`` become the index settings (the first source
    is the index unless it is PyPI, the rest extra indexes; ``${VAR}`` is expanded). ``path``
    entries (editable or not) become non-editable path requirements; ``file`` URLs direct
    references; ``git`` entries are refused.

    Raises:
        InputError: missing or invalid file, an unknown category, a git/unpinned entry.
    """
    categories = _names(categories, "categories")
    file = _existing_file(path, "Pipfile.lock")
    display = file.name
    text = _read_text(file, display)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{display}:{line}" if line else display
        _fail(f"{where}: not valid JSON ({_first_line(exc)}): regenerate it with `pipenv lock`")
    problems = _Problems(display)
    if not isinstance(data, dict) or not isinstance(data.get("_meta"), dict):
        _fail(f"{display}: has no _meta section, so it is not a Pipfile.lock: run `pipenv lock`")
    meta = data["_meta"]
    index_url: str | None = None
    extra_indexes: list[str] = []
    entries: list[_Entry] = []
    try:
        for number, source in enumerate(_expect(meta.get("sources", []), list, display, "sources")):
            source = _expect(source, dict, display, "each source")
            url = _expand_env(_expect(source.get("url"), str, display, "source url"))
            if number == 0:
                index_url = None if _is_pypi(url) else url
            elif not _is_pypi(url) and url not in extra_indexes:
                extra_indexes.append(url)
    except _Problem as problem:
        problems.add(str(problem))
    available = [k for k in data if k != "_meta"]
    for category in categories:
        key = "develop" if category == "dev" else category
        section = data.get(key)
        if key not in data:
            problems.add(
                f"{display}: category {category!r} is not in the lock (categories: "
                f"{', '.join(available) or 'none'}): ask for an existing one"
            )
            continue
        if not isinstance(section, dict):
            problems.add(f"{display}: section {key!r} must be an object: run `pipenv lock`")
            continue
        for name, spec in section.items():
            where = _where(display, text, f'"{name}": {{') if isinstance(name, str) else display
            try:
                entries.append(_pipfile_entry(name, spec, where, file.parent))
            except _Problem as problem:
                problems.add(str(problem))
    problems.raise_if_any()
    return _build_spec(
        entries,
        [],
        IndexSettings(index_url=index_url, extra_index_urls=tuple(extra_indexes)),
        origin=display,
        locked=True,
    )


def _pipfile_entry(name: str, value: object, where: str, folder: Path) -> _Entry:
    spec: dict[str, Any] = _expect(value, dict, where, f"{name!r}")
    marker: bool | str = True
    if spec.get("markers"):
        marker = _check_marker(_expect(spec["markers"], str, where, "markers"), where, "marker")
    hashes = _parse_hashes(_str_list(spec.get("hashes", []), where, "hashes"), where, repr(name))
    extras = _str_list(spec.get("extras", []), where, "extras")
    if "git" in spec or any(k in spec for k in ("hg", "svn", "bzr")):
        raise _Problem(
            f"{where}: {name!r} comes from a version control repository, which a Lambda bundle "
            "cannot pin by hash: publish a wheel to your index and re-lock"
        )
    for key in ("path", "file"):
        if key in spec:
            location = _expect(spec[key], str, where, key)
            return _reference_entry(name, location, marker, where, hashes, folder, extras)
    version = spec.get("version")
    if not isinstance(version, str) or not version.startswith("=="):
        raise _Problem(f"{where}: {name!r} is not pinned (version {version!r}): run `pipenv lock`")
    return _pinned_entry(name, version[2:], marker, where, hashes, extras)


# -- pylock.toml (PEP 751) ---------------------------------------------------------------------


def load_pylock(
    path: PathLike, *, extras: Sequence[str] = (), groups: Sequence[str] = ()
) -> DependencySpec:
    """Read a PEP 751 lock file (``pylock.toml`` / ``pylock.<name>.toml``, lock-version 1.x).

    Every ``[[packages]]`` entry is pinned ``name==version`` with the sha256/384/512 hashes of
    its wheels and sdist, and its ``marker`` passed through to the installer. Only the
    ``extras`` / ``dependency_groups`` conditions PEP 751 allows in markers are decided here
    (from ``extras`` and ``groups``; ``groups`` defaults to the lock's ``default-groups``).
    ``directory`` and local ``archive`` entries become path requirements, remote ``archive``
    entries direct references; ``vcs`` entries are refused. Package ``index`` URLs other than
    PyPI become extra index URLs.

    Raises:
        InputError: missing/invalid file, unsupported lock-version, unknown extra or group,
            a vcs package, or malformed entries (with file:line where known).
    """
    extras, groups = _names(extras, "extras"), _names(groups, "groups")
    file = _existing_file(path, "pylock.toml")
    display = file.name
    data, text = _read_toml(file, display)
    problems = _Problems(display)
    lock_version = data.get("lock-version")
    if not isinstance(lock_version, str) or lock_version.split(".")[0] != "1":
        _fail(
            f"{_where(display, text, 'lock-version')}: lock-version {lock_version!r} is not a "
            "PEP 751 version this reader knows (1.x): regenerate the lock"
        )
    entries: list[_Entry] = []
    extra_indexes: list[str] = []
    try:
        lock_extras = _canonical_set(_str_list(data.get("extras", []), display, "extras"))
        lock_groups = _canonical_set(
            _str_list(data.get("dependency-groups", []), display, "dependency-groups")
        )
        default_groups = _str_list(data.get("default-groups", []), display, "default-groups")
        _check_known("extra", extras, set(lock_extras), display, problems, canonical=True)
        _check_known(
            "dependency group", groups, set(lock_groups), display, problems, canonical=True
        )
        wanted_extras = _canonical_set(extras)
        wanted_groups = _canonical_set(groups or default_groups)
        for table in _expect(data.get("packages", []), list, display, "[[packages]]"):
            try:
                entry = _pylock_entry(
                    table, text, display, file.parent, wanted_extras, wanted_groups, extra_indexes
                )
                if entry is not None:
                    entries.append(entry)
            except _Problem as problem:
                problems.add(str(problem))
    except _Problem as problem:
        problems.add(str(problem))
    problems.raise_if_any()
    return _build_spec(
        entries,
        [],
        IndexSettings(extra_index_urls=tuple(extra_indexes)),
        origin=display,
        locked=True,
    )


def _pylock_hashes(value: object, where: str, what: str) -> list[str]:
    table = _expect(value, dict, where, f"{what} hashes")
    values = []
    for algo, digest in table.items():
        values.append(f"{algo}:{_expect(digest, str, where, f'{what} hash')}")
    return _parse_hashes(values, where, what)


def _pylock_entry(
    value: object,
    text: str,
    display: str,
    folder: Path,
    extras: frozenset[str],
    groups: frozenset[str],
    extra_indexes: list[str],
) -> _Entry | None:
    table: dict[str, Any] = _expect(value, dict, display, "each [[packages]]")
    name = _expect(table.get("name"), str, display, "[[packages]] name")
    where = _where(display, text, "name = ", f'"{name}"')
    marker: bool | str = True
    if "marker" in table:
        checked = _check_marker(_expect(table["marker"], str, where, "marker"), where, "marker")
        marker, _ = _resolve_marker(checked, extras=extras, groups=groups)
        if marker is False:
            return None
    if "vcs" in table:
        raise _Problem(
            f"{where}: {name!r} comes from a version control repository, which a Lambda bundle "
            "cannot pin by hash: publish a wheel to your index and re-lock"
        )
    index = table.get("index")
    if index is not None:
        index = _expect(index, str, where, "index")
        if not _is_pypi(index) and index not in extra_indexes:
            extra_indexes.append(index)
    if "directory" in table:
        directory = _expect(table["directory"], dict, where, "directory")
        location = _expect(directory.get("path"), str, where, "directory path")
        return _reference_entry(name, location, marker, where, [], folder)
    if "archive" in table:
        archive = _expect(table["archive"], dict, where, "archive")
        hashes = _pylock_hashes(archive.get("hashes", {}), where, "archive")
        location = archive.get("url", archive.get("path"))
        location = _expect(location, str, where, "archive url/path")
        return _reference_entry(name, location, marker, where, hashes, folder)
    version = _expect(table.get("version"), str, where, f"{name!r} version")
    hashes = []
    files = []
    if "sdist" in table:
        files.append(_expect(table["sdist"], dict, where, "sdist"))
    files += [
        _expect(w, dict, where, "wheel")
        for w in _expect(table.get("wheels", []), list, where, "wheels")
    ]
    for entry in files:
        if "hashes" in entry:
            hashes += _pylock_hashes(entry["hashes"], where, repr(name))
    return _pinned_entry(name, version, marker, where, _dedupe_list(hashes))


# -- detection and dispatch --------------------------------------------------------------------


def _pyproject_kind(path: Path) -> str | None:
    """``"project"`` if it has [project].dependencies, ``"poetry"`` for Poetry-only deps."""
    data, _ = _read_toml(path, "pyproject.toml")
    project = data.get("project")
    if isinstance(project, dict) and "dependencies" in project:
        return "project"
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(deps, dict) and set(deps) - {"python"}:
        return "poetry"
    return None


def detect(entry_dir: PathLike) -> Path | None:
    """The dependency input of an entry folder, by the order in the module docstring.

    Returns ``None`` when the folder has no dependency input (a function without
    dependencies).

    Raises:
        InputError: ``entry_dir`` is not a folder, or it holds an input that cannot be used
            as is (``Pipfile`` without ``Pipfile.lock``, Poetry dependencies without
            ``poetry.lock``, ``uv.lock`` without ``pyproject.toml``), or an invalid
            ``pyproject.toml``.
    """
    folder = Path(entry_dir)
    if not folder.is_dir():
        _fail(f"{os.fspath(entry_dir)}: not a folder: pass the function's entry folder")

    def has(name: str) -> bool:
        return (folder / name).is_file()

    pyproject = has("pyproject.toml")
    if has("pylock.toml"):
        return folder / "pylock.toml"
    if has("uv.lock") and pyproject:
        return folder / "uv.lock"
    if has("poetry.lock"):
        return folder / "poetry.lock"
    if has("Pipfile.lock"):
        return folder / "Pipfile.lock"
    if has("requirements.txt"):
        return folder / "requirements.txt"
    kind = _pyproject_kind(folder / "pyproject.toml") if pyproject else None
    if kind == "project":
        return folder / "pyproject.toml"
    if kind == "poetry":
        _fail(
            f"{folder.name or os.fspath(entry_dir)}: pyproject.toml has Poetry dependencies but "
            "there is no poetry.lock: run `poetry lock`"
        )
    if has("Pipfile"):
        _fail(
            f"{folder.name or os.fspath(entry_dir)}: Pipfile has no Pipfile.lock: run `pipenv lock`"
        )
    if has("uv.lock"):
        _fail(
            f"{folder.name or os.fspath(entry_dir)}: uv.lock has no pyproject.toml next to it: "
            "add the pyproject.toml it was locked from"
        )
    return None


def _kind_of(name: str) -> str | None:
    lower = name.lower()
    if name == "pyproject.toml":
        return "pyproject"
    if name == "uv.lock":
        return "uv"
    if name == "poetry.lock":
        return "poetry"
    if name == "Pipfile.lock":
        return "pipfile"
    if name == "pylock.toml" or re.fullmatch(r"pylock\.[^.]+\.toml", name):
        return "pylock"
    if lower.endswith(".txt"):
        return "requirements"
    return None


def load(
    path_or_dir: PathLike,
    *,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    frozen: bool = True,
) -> DependencySpec:
    """Load any supported input, by file name; a folder is searched with :func:`detect`.

    ``requirements*.txt`` / ``*.txt``, ``pyproject.toml``, ``uv.lock``, ``poetry.lock``,
    ``Pipfile.lock``, ``pylock.toml`` / ``pylock.<name>.toml``. ``groups`` are *added* to the
    main dependencies (Poetry's "main" group, Pipfile's "default" category). ``frozen`` only
    matters for ``uv.lock`` (see :func:`load_uv_lock`). A folder without any input gives an
    empty spec.

    Raises:
        InputError: the path does not exist, its name is not a known input, extras/groups were
            asked of a requirements file (or extras of a Pipfile.lock), or loading failed.
    """
    extras, groups = _names(extras, "extras"), _names(groups, "groups")
    path = Path(path_or_dir)
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists()
    except (OSError, ValueError):
        is_dir = exists = False
    if is_dir:
        found = detect(path)
        if found is None:
            return DependencySpec(requirements=(), origin="no dependency input")
        path = found
    elif not exists:
        _fail(
            f"{os.fspath(path_or_dir)}: no such file or folder: check the path (relative paths "
            "are relative to the current folder)"
        )
    kind = _kind_of(path.name)
    if kind is None:
        _fail(
            f"{path.name}: not a dependency input lambda-wheels reads: use requirements.txt "
            "(or any *.txt requirements file), pyproject.toml, uv.lock, poetry.lock, "
            "Pipfile.lock or pylock.toml"
        )
    if kind == "requirements":
        if extras or groups:
            _fail(
                f"{path.name}: extras and groups apply to pyproject.toml and lock files, not "
                "requirements files: list what you need in the file instead"
            )
        return load_requirements_file(path)
    if kind == "pyproject":
        return load_pyproject(path, extras=extras, groups=groups)
    if kind == "uv":
        return load_uv_lock(path, extras=extras, groups=groups, frozen=frozen)
    if kind == "poetry":
        return load_poetry_lock(path, groups=_dedupe(("main", *groups)), extras=extras)
    if kind == "pipfile":
        if extras:
            _fail(
                f"{path.name}: Pipfile.lock has no extras to choose: ask for categories with "
                "groups instead"
            )
        return load_pipfile_lock(path, categories=_dedupe(("default", *groups)))
    return load_pylock(path, extras=extras, groups=groups)
