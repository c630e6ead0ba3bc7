"""A small, dependency-free client for the package index "simple" API.

Speaks PEP 503 (HTML) and PEP 691 (JSON, preferred through the ``Accept`` header), reads
``--find-links`` locations (a local folder, a local HTML file, or an HTML page on the web), and
downloads files with their published hash verified. Only the standard library is used
(``http.client`` with keep-alive connections for pages, ``urllib`` for files and proxies), so
the core stays installable anywhere.

Credentials
    An index URL may carry credentials (``https://user:token@host/simple``); otherwise the
    netrc file (``$NETRC``, else ``~/.netrc``, else ``~/_netrc``) is consulted for the exact host.
    Credentials are sent as HTTP Basic auth, only to the origin (scheme, host, port) they were
    given for — on the index's own path when several credentials share a host — and never across
    a redirect to another origin. They are never logged, never put in an exception, and never
    returned: every :attr:`IndexFile.url` is credential-free; the client keeps the association
    internally. The netrc ``default`` entry is not used: it would send a secret to every host,
    PyPI included.

Page cache
    Given ``page_cache=FOLDER``, the client keeps project pages on disk across processes and
    reuses them as HTTP caching allows (RFC 9111, as a private cache): fresh for
    ``Cache-Control: max-age`` (else ``s-maxage``) minus ``Age``, then revalidated with
    ``If-None-Match``/``If-Modified-Since`` (a 304 reuses the stored body); ``no-cache`` means
    revalidate on every use, ``no-store`` is never written. Only credential-free http(s) pages
    are cached: a page fetched with credentials (URL userinfo, netrc, on any redirect hop) is
    never read from or written to disk, and local pages are read directly. Writes are atomic
    (temporary file + ``os.replace``), and a damaged entry is a miss. The full rules are above
    ``_CachedPage`` in the source.

Errors
    Anything that stops a page or file from being read raises
    :class:`~lambda_wheels_cdk.errors.IndexUnavailableError`, whose message names the location
    with credentials masked (``https://user:***@host/simple``) and says what to do. A project the
    index does not have (HTTP 404/410) is not an error: it has no files there.

Analysis of the files (which release fits a target, why newer ones were skipped) lives in
:mod:`.resolution`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import email.message
import functools
import gzip
import hashlib
import http.client
import json
import logging
import netrc
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.client import HTTPException
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, Literal, Protocol, TypeVar, Union, cast

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from ..errors import DownloadHashMismatchError, IndexUnavailableError
from ..inputs.redaction import redact_url
from ..target.runtimes import _SLOTS

_log = logging.getLogger(__name__)

#: The default index when none is configured.
PYPI_SIMPLE_URL: Final = "https://pypi.org/simple/"

#: What we ask an index for: PEP 691 JSON, HTML as a fallback (PEP 691 "Version + Format
#: Selection").
ACCEPT_SIMPLE: Final = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"

_JSON_TYPES: Final = frozenset(
    {"application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json"}
)
_HTML_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/vnd.pypi.simple.v1+html",
        "application/vnd.pypi.simple.latest+html",
    }
)

#: Source distribution suffixes that installers accept (uv and pip), longest first.
SDIST_SUFFIXES: Final[tuple[str, ...]] = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tar.zst",
    ".zip",
    ".tgz",
    ".tbz",
    ".txz",
    ".tar",
)

_USER_AGENT: Final = (
    "lambda-wheels-cdk (simple-api client; +https://pypi.org/project/lambda-wheels-cdk)"
)
_CHUNK: Final = 1 << 16

FileKind = Literal["wheel", "sdist"]


class IndexSettingsLike(Protocol):
    """The index settings shape the client reads (``core.sources.IndexSettings`` has it).

    URLs may carry credentials; ``find_links`` entries are URLs or local paths.
    """

    @property
    def index_url(self) -> str | None: ...

    @property
    def extra_index_urls(self) -> tuple[str, ...]: ...

    @property
    def find_links(self) -> tuple[str, ...]: ...

    @property
    def no_index(self) -> bool: ...


# -- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class IndexFile:
    """One file an index or find-links location offers for a project.

    Attributes:
        filename: the file name (a wheel or an sdist), safe to use as a path component.
        url: absolute, credential-free URL without the hash fragment (``file:`` for local files).
        hashes: published digests, ``{"sha256": "..."}`` (may be empty).
        requires_python: the ``Requires-Python`` specifier the index published, if any.
        yanked: PEP 592 yanked flag.
        upload_time: ISO 8601 upload time (PEP 700), when the index says.
        yanked_reason: the reason given for yanking, if any.
        size: size in bytes (PEP 700), when known.
        core_metadata: PEP 658/714: ``False`` (none), ``True`` (available at
            :attr:`metadata_url`), or the metadata file's hashes.
        source: where the file was listed, credentials masked (for messages).
    """

    filename: str
    url: str
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False)
    requires_python: str | None = None
    yanked: bool = False
    upload_time: str | None = None
    yanked_reason: str | None = None
    size: int | None = None
    core_metadata: Union[bool, Mapping[str, str]] = field(default=False, hash=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", MappingProxyType(dict(self.hashes)))
        if not isinstance(self.core_metadata, bool):
            object.__setattr__(self, "core_metadata", MappingProxyType(dict(self.core_metadata)))

    @property
    def kind(self) -> FileKind | None:
        """``"wheel"``, ``"sdist"``, or ``None`` for a name no installer would use."""
        parsed = parse_filename(self.filename)
        return parsed[2] if parsed else None

    @property
    def is_wheel(self) -> bool:
        return self.kind == "wheel"

    @property
    def is_sdist(self) -> bool:
        return self.kind == "sdist"

    @property
    def project(self) -> NormalizedName | None:
        parsed = parse_filename(self.filename)
        return parsed[0] if parsed else None

    @property
    def version(self) -> Version | None:
        parsed = parse_filename(self.filename)
        return parsed[1] if parsed else None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def metadata_url(self) -> str | None:
        """Where the PEP 658 core metadata lives (``<url>.metadata``), if the index serves it."""
        return self.url + ".metadata" if self.core_metadata else None


@functools.lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> tuple[NormalizedName, Version, FileKind] | None:
    """``(project, version, kind)`` of a wheel or sdist file name; ``None`` if it is neither.

    Only the name and version are read (tags are :class:`~.target.Target`'s business), so a
    page of thousands of files parses quickly.
    """
    kind: FileKind
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not all(parts):
            return None
        raw_name, version_text, kind = parts[0], parts[1], "wheel"
    else:
        lower = filename.lower()
        suffix = next((s for s in SDIST_SUFFIXES if lower.endswith(s)), None)
        if suffix is None:
            return None
        raw_name, sep, version_text = filename[: -len(suffix)].rpartition("-")
        if not sep or not raw_name:
            return None
        kind = "sdist"
    version = _version(version_text)
    if version is None:
        return None
    return _canonical(raw_name), version, kind


@functools.lru_cache(maxsize=1 << 14)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@functools.lru_cache(maxsize=1 << 14)
def _canonical(name: str) -> NormalizedName:
    return canonicalize_name(name)


def _safe_filename(name: str) -> bool:
    return (
        bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and "\x00" not in name
        and ":" not in name
    )


# -- URLs and credentials ------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class _Credentials:
    username: str = field(repr=False)
    password: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


_Origin = tuple[str, str, int]
_DEFAULT_PORTS: Final[Mapping[str, int]] = MappingProxyType({"http": 80, "https": 443})


def _origin(url: str) -> _Origin | None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def strip_credentials(url: str) -> str:
    """``url`` without its userinfo (``https://user:tok@host/x`` -> ``https://host/x``)."""
    return _split_credentials(url)[0]


def _split_credentials(url: str) -> tuple[str, _Credentials | None]:
    """``(url without userinfo, credentials or None)``. The user and password are unquoted."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    creds = _Credentials(urllib.parse.unquote(user), urllib.parse.unquote(password))
    return clean, creds


def _scope_prefix(path: str) -> str:
    """The path credentials for an index apply to: the index URL's parent folder.

    ``/api/v4/projects/1/packages/pypi/simple`` -> ``/api/v4/projects/1/packages/pypi/`` (so the
    files under ``.../pypi/files/`` are covered too, but not another project's index).
    """
    trimmed = path.rstrip("/")
    parent = trimmed.rpartition("/")[0]
    return parent + "/"


class _CredentialStore:
    """Which credentials go with which URL. Thread-safe; never exposes a secret."""

    def __init__(self, netrc_path: Path | None) -> None:
        self._entries: list[tuple[_Origin, str, _Credentials]] = []
        self._netrc_path = netrc_path
        self._netrc: dict[str, _Credentials] | None = None
        self._lock = threading.Lock()

    def add(self, url: str, creds: _Credentials, *, exact: bool = False) -> None:
        origin = _origin(url)
        if origin is None:
            return
        path = urllib.parse.urlsplit(url).path or "/"
        prefix = path if exact else _scope_prefix(path)
        with self._lock:
            entry = (origin, prefix, creds)
            if entry not in self._entries:
                self._entries.append(entry)

    def for_url(self, url: str) -> _Credentials | None:
        origin = _origin(url)
        if origin is None:
            return None
        path = urllib.parse.urlsplit(url).path or "/"
        with self._lock:
            same = [(prefix, creds) for o, prefix, creds in self._entries if o == origin]
        matching = [(len(prefix), creds) for prefix, creds in same if path.startswith(prefix)]
        if matching:
            return max(matching, key=lambda item: item[0])[1]
        distinct = {creds for _, creds in same}
        if len(distinct) == 1:  # one secret for this host: pip and uv send it host-wide too
            return next(iter(distinct))
        if distinct:  # several, none for this path: sending a guess would leak one
            return None
        return self._from_netrc(origin[1])

    def has_any(self, url: str) -> bool:
        return self.for_url(url) is not None

    def _from_netrc(self, host: str) -> _Credentials | None:
        with self._lock:
            if self._netrc is None:
                self._netrc = _read_netrc(self._netrc_path)
            return self._netrc.get(host)


def _netrc_path(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get("NETRC")
    if explicit:
        return Path(explicit).expanduser()
    home = Path(os.path.expanduser("~"))
    for name in (".netrc", "_netrc"):
        candidate = home / name
        if candidate.is_file():
            return candidate
    return None


def _read_netrc(path: Path | None) -> dict[str, _Credentials]:
    if path is None or not path.is_file():
        return {}
    try:
        parsed = netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        # The parser's message may quote a token from the file: report the place only.
        _log.warning("ignoring the netrc file %s: it is malformed near line %s", path, exc.lineno)
        return {}
    except OSError as exc:
        _log.warning("ignoring the netrc file %s: %s", path, exc.strerror or type(exc).__name__)
        return {}
    found: dict[str, _Credentials] = {}
    for host, (login, _account, password) in parsed.hosts.items():
        found[host.lower()] = _Credentials(login or "", password or "")
    return found


class _AuthHandler(urllib.request.BaseHandler):
    """Adds Basic auth to every request (redirects included) whose URL has credentials.

    ``add_unredirected_header`` keeps urllib from copying the header to a redirect target; the
    redirected request passes through here again and gets the target's own credentials, if any.
    """

    handler_order = 450

    def __init__(self, store: _CredentialStore) -> None:
        self._store = store

    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        creds = self._store.for_url(req.full_url)
        if creds is not None and not req.has_header("Authorization"):
            req.add_unredirected_header("Authorization", creds.header())
        return req

    https_request = http_request


_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)


#: The response headers the page cache reads (lower-case names).
_CACHING_HEADERS: Final[tuple[str, ...]] = ("cache-control", "etag", "last-modified", "age", "vary")


@dataclass(frozen=True, **_SLOTS)
class _Page:
    status: int
    reason: str
    content_type: str
    encoding: str
    body: bytes
    url: str  # after redirects
    headers: Mapping[str, str] = field(default_factory=dict)  # _CACHING_HEADERS present
    credentialed: bool = False  # credentials were (or may have been) sent on some hop


def _caching_headers(message: email.message.Message) -> dict[str, str]:
    """The :data:`_CACHING_HEADERS` of a response (repeated fields joined with ``", "``)."""
    found: dict[str, str] = {}
    for name in _CACHING_HEADERS:
        values = message.get_all(name)
        if values:
            found[name] = ", ".join(str(value) for value in values)
    return found


class _ConnectionPool:
    """Keep-alive connections for page requests, per origin (thread-safe).

    A new TLS connection per page costs a handshake, and several at once are slow; uv keeps its
    connections open, and so do we. Credentials are added per request from the store (so they
    follow the same origin rules as every other request); redirects are followed here (at most
    five), each hop getting its own origin's credentials only. Requests that must go through an
    HTTP proxy use urllib instead (see :meth:`handles`).
    """

    _IDLE_PER_ORIGIN: Final = 8

    def __init__(self, store: _CredentialStore, timeout: float) -> None:
        self._store = store
        self._timeout = timeout
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._proxies = urllib.request.getproxies()
        self._tls: ssl.SSLContext | None = None
        self._closed = 0  # bumped by close(): a connection made before must not be pooled

    def prewarm(self, url: str, count: int) -> None:
        """Open up to ``count`` connections to ``url``'s origin in the background, so that the
        first burst of page requests does not wait for TCP and TLS handshakes. Best effort:
        failures are left for the real requests to report."""
        origin = _origin(url)
        if origin is None or not self.handles(url):
            return
        with self._lock:
            missing = count - len(self._idle.get(origin, ()))
            generation = self._closed
        for _ in range(max(0, missing)):
            threading.Thread(target=self._open_idle, args=(origin, generation), daemon=True).start()

    def _open_idle(self, origin: _Origin, generation: int) -> None:
        connection = self._connect(origin)
        try:
            connection.connect()
        except (OSError, HTTPException, ValueError):
            connection.close()
            return
        with self._lock:
            if generation == self._closed:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < self._IDLE_PER_ORIGIN:
                    idle.append(connection)
                    return
        connection.close()

    def handles(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        return origin[0] not in self._proxies or bool(urllib.request.proxy_bypass(origin[1]))

    def _connect(self, origin: _Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            context = self._tls
        return http.client.HTTPSConnection(host, port, timeout=self._timeout, context=context)

    def _acquire(self, origin: _Origin) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(origin)
            if idle:
                return idle.pop(), True
        return self._connect(origin), False

    def _release(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def get(self, url: str, headers: Mapping[str, str]) -> _Page:
        """GET ``url`` (following redirects); raises ``OSError``/``HTTPException`` when the
        server cannot be reached or does not speak HTTP."""
        credentialed = False
        for _ in range(6):
            origin = _origin(url)
            if origin is None:
                raise ValueError("not an http(s) URL")
            parts = urllib.parse.urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sent = dict(headers)
            creds = self._store.for_url(url)
            if creds is not None:
                sent["Authorization"] = creds.header()
                credentialed = True
            response, body = self._exchange(origin, target, sent)
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                url = urllib.parse.urljoin(url, location)
                continue
            return _Page(
                response.status,
                response.reason,
                response.getheader("Content-Type") or "",
                (response.getheader("Content-Encoding") or "").lower(),
                body,
                url,
                _caching_headers(response.headers),
                credentialed,
            )
        raise http.client.HTTPException("too many redirects")

    def _exchange(
        self, origin: _Origin, target: str, headers: Mapping[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        while True:
            connection, reused = self._acquire(origin)
            try:
                connection.request("GET", target, headers=dict(headers))
                response = connection.getresponse()
                body = response.read()
            except _STALE_CONNECTION:
                connection.close()
                if reused:  # the server closed an idle connection: try a fresh one
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._release(origin, connection)
            return response, body

    def close(self) -> None:
        """Close idle connections (the pool stays usable)."""
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
            self._closed += 1
        for connection in idle:
            connection.close()


def _is_url(location: str) -> bool:
    scheme = urllib.parse.urlsplit(location).scheme
    return len(scheme) > 1  # "C:\wheels" has the one-letter "scheme" c


def _file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    path = urllib.request.url2pathname(parts.path)
    if parts.netloc and parts.netloc.lower() != "localhost":
        path = "//" + parts.netloc + path  # UNC share
    return Path(path)


# -- the page cache ------------------------------------------------------------------------------
#
# Project pages kept on disk across processes, reused as HTTP caching allows (RFC 9111, for a
# private cache). The rules, in the order they are applied:
#
# * Only credential-free http(s) pages: a URL with credentials (userinfo, netrc, one host-wide
#   secret) is neither read from nor written to the cache, nor is a page fetched with credentials
#   on any redirect hop, nor a page whose links carry their own userinfo. Local pages (``file:``
#   indexes, find-links folders and HTML files) are read directly and never cached.
# * Key: sha256 of the format version, the ``Accept`` header sent and the credential-free URL.
# * ``Cache-Control: no-store`` or ``Vary: *``: not stored (an older entry is removed).
# * Fresh for ``max-age`` (else ``s-maxage``) seconds after it was received, minus ``Age``.
#   ``no-cache``, ``max-age=0``, an invalid ``max-age`` or no lifetime at all: stale at once.
#   ``Expires`` and heuristic freshness are not used (stale is the safe side).
# * Stored only when it can be reused: fresh for a while, or with a validator (``ETag``,
#   ``Last-Modified``). A stale entry with a validator is revalidated (``If-None-Match``,
#   ``If-Modified-Since``); a 304 reuses the stored body and its headers refresh the entry. A
#   stale entry without one is fetched again. A stale entry is never served, even on errors.
# * ``private`` and ``public`` change nothing: this is a private cache and credentialed pages
#   are never stored. 404/410 is not cached (and removes an entry); errors leave it in place.
# * Files are written whole under a temporary name in the same folder and renamed
#   (``os.replace``): readers in other processes see the old entry or the new one. An entry that
#   does not check out (format, URL, size, sha256 of the body, parse) is a miss and is removed.
#   Failing to write is logged and ignored. Nothing is evicted: delete the folder at any time.

_PAGE_CACHE_FORMAT: Final = 1
_LIST_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')  # commas inside quotes kept
_STORED_HEADERS: Final[tuple[str, ...]] = ("cache-control", "etag", "last-modified", "vary")


def _cache_directives(value: str) -> dict[str, str]:
    """``Cache-Control`` directives: lower-case name -> value (unquoted; ``""`` if none).

    A directive given twice keeps its first value (RFC 9111 section 4.2.1). In a malformed
    element the first word counts (``no-store junk`` is ``no-store``): the safe reading.
    """
    directives: dict[str, str] = {}
    for element in _LIST_ELEMENT.findall(value):
        name, _, raw = element.partition("=")
        words = name.split()
        if not words:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        directives.setdefault(words[0].lower(), raw)
    return directives


def _delta_seconds(value: str) -> int:
    """An RFC 9111 delta-seconds value (at most 2**31); ``0`` when it is not one."""
    value = value.strip()
    return min(int(value), 2**31) if value.isascii() and value.isdigit() else 0


def _freshness(headers: Mapping[str, str]) -> float | None:
    """How long a response with these :data:`_CACHING_HEADERS` stays fresh, in seconds from
    its receipt (``0``: revalidate on every use), or ``None`` when it must not be stored."""
    directives = _cache_directives(headers.get("cache-control", ""))
    vary = {item.strip() for item in headers.get("vary", "").split(",")}
    if "no-store" in directives or "*" in vary:
        return None
    if "no-cache" in directives:
        lifetime = 0
    elif "max-age" in directives:
        lifetime = _delta_seconds(directives["max-age"])
    elif "s-maxage" in directives:
        lifetime = _delta_seconds(directives["s-maxage"])
    else:
        lifetime = 0
    age = _delta_seconds(headers.get("age", "0").split(",", 1)[0])  # invalid: ignored
    remaining = max(0, lifetime - age)
    if remaining == 0 and not (headers.get("etag") or headers.get("last-modified")):
        return None  # it could never be reused
    return remaining


@dataclass(frozen=True, **_SLOTS)
class _CachedPage:
    """A stored page: the decoded body and what is needed to parse and revalidate it."""

    url: str  # the URL requested (credential-free)
    final_url: str  # after redirects: relative links resolve against it
    content_type: str
    headers: Mapping[str, str]  # the _STORED_HEADERS the response had
    stored_at: float  # wall clock, seconds
    fresh_until: float
    body: bytes = field(repr=False)

    @classmethod
    def received(cls, url: str, page: _Page, now: float) -> _CachedPage | None:
        """The entry for a 200 response to ``url`` at ``now``; ``None`` if it is not storable."""
        lifetime = _freshness(page.headers)
        if lifetime is None:
            return None
        kept = {name: page.headers[name] for name in _STORED_HEADERS if name in page.headers}
        return cls(url, page.url, page.content_type, kept, now, now + lifetime, page.body)

    def is_fresh(self, now: float) -> bool:
        """Usable without a request (a clock that went backwards makes it stale)."""
        return self.stored_at <= now < self.fresh_until

    def validators(self) -> dict[str, str]:
        """The conditional request headers for this entry (empty if it has no validator)."""
        conditions: dict[str, str] = {}
        if "etag" in self.headers:
            conditions["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            conditions["If-Modified-Since"] = self.headers["last-modified"]
        return conditions

    def revalidated(self, not_modified: _Page, now: float) -> _CachedPage | None:
        """This entry updated by a 304 answer (its headers replace the stored ones, RFC 9111
        section 4.3.4); ``None`` if the merged headers forbid storing it."""
        merged = {**self.headers, **not_modified.headers}
        lifetime = _freshness(merged)
        if lifetime is None:
            return None
        kept = {name: merged[name] for name in _STORED_HEADERS if name in merged}
        return _CachedPage(
            self.url, self.final_url, self.content_type, kept, now, now + lifetime, self.body
        )


class _PageCache:
    """:class:`_CachedPage` entries as files in one folder; safe across threads and processes.

    Each file is one JSON line (the entry's fields, the body's size and sha256) followed by the
    body. See the rules above.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, url: str) -> Path:
        key = f"{_PAGE_CACHE_FORMAT}\0{ACCEPT_SIMPLE}\0{url}"
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".page")

    def load(self, url: str) -> _CachedPage | None:
        """The entry for ``url``, or ``None`` (missing, or removed because it is damaged)."""
        path = self._path(url)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return self._decode(url, data)
        except (ValueError, TypeError, KeyError):
            _log.debug("page cache: discarding the damaged entry for %s", url)
            self._remove(path)
            return None

    @staticmethod
    def _decode(url: str, data: bytes) -> _CachedPage:
        head, newline, body = data.partition(b"\n")
        meta = json.loads(head)
        if not newline or not isinstance(meta, dict):
            raise ValueError("no header line")
        strings = ("url", "final_url", "content_type", "sha256")
        numbers = ("stored_at", "fresh_until")
        headers = meta["headers"]
        if (
            meta["format"] != _PAGE_CACHE_FORMAT
            or meta["url"] != url
            or not all(isinstance(meta[name], str) for name in strings)
            or not all(
                isinstance(meta[name], (int, float)) and not isinstance(meta[name], bool)
                for name in numbers
            )
            or not isinstance(headers, dict)
            or not all(
                name in _STORED_HEADERS and isinstance(value, str)
                for name, value in headers.items()
            )
            or meta["size"] != len(body)
            or meta["sha256"] != hashlib.sha256(body).hexdigest()
        ):
            raise ValueError("the entry does not check out")
        return _CachedPage(
            url,
            meta["final_url"],
            meta["content_type"],
            dict(headers),
            float(meta["stored_at"]),
            float(meta["fresh_until"]),
            body,
        )

    def save(self, entry: _CachedPage) -> None:
        """Write ``entry`` atomically; failures are logged and ignored."""
        path = self._path(entry.url)
        meta = {
            "format": _PAGE_CACHE_FORMAT,
            "url": entry.url,
            "final_url": entry.final_url,
            "content_type": entry.content_type,
            "headers": dict(entry.headers),
            "stored_at": entry.stored_at,
            "fresh_until": entry.fresh_until,
            "size": len(entry.body),
            "sha256": hashlib.sha256(entry.body).hexdigest(),
        }
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                out.write(json.dumps(meta).encode() + b"\n")
                out.write(entry.body)
            os.replace(partial, path)  # Windows: fails if a reader holds the file; skipped
        except OSError as exc:
            _log.debug(
                "page cache: not storing %s: %s", entry.url, exc.strerror or type(exc).__name__
            )
            self._remove(partial)

    def discard(self, url: str) -> None:
        """Remove the entry for ``url``, if any."""
        self._remove(self._path(url))

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()


# -- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class _Location:
    kind: Literal["index", "links"]
    url: str  # credential-free URL, or an absolute local path for find-links
    shown: str  # for messages: the location as configured, credentials masked


_T = TypeVar("_T")


class _Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class RemoteFile:
    """An open file from an index (streamed). Use as a context manager; always closed.

    Attributes:
        status: 200, or 206 when a ``Range`` request was honoured.
        length: the body's length (``Content-Length``), when known.
        headers: the response headers that matter to a proxy (``Content-Type``,
            ``Content-Range``, ``Accept-Ranges``), when present.
    """

    def __init__(
        self,
        stream: _Stream,
        length: int | None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._stream = stream
        self.length = length
        self.status = status
        self.headers: Mapping[str, str] = MappingProxyType(dict(headers or {}))

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> RemoteFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SimpleIndexClient:
    """Read project pages and files from the configured indexes and find-links locations.

    Args:
        settings: index settings (URLs may carry credentials). ``index_url=None`` means PyPI
            unless ``no_index`` is set, which leaves only the find-links locations.
        timeout: seconds to wait for a connection or a read.
        environ: environment for ``NETRC`` (default ``os.environ``).
        page_cache: a folder where project pages from credential-free http(s) URLs are kept
            across processes and reused as their HTTP caching headers allow: without a request
            while fresh (``Cache-Control: max-age`` minus ``Age``), after a conditional request
            (``ETag``/``Last-Modified``, answered 304) once stale. Pages fetched with
            credentials, ``no-store`` pages and local pages are never written. The folder is
            created on first use, may be shared by concurrent processes, and may be deleted at
            any time. Default: ``None``, no disk cache.
        clock: the wall clock for the page cache's freshness (seconds since the epoch; entries
            are shared across processes). Default: :func:`time.time`.

    Pages are also cached in memory for the client's lifetime (fresh or not), and concurrent
    requests for the same page wait for one fetch, so one client can back a server that many
    threads use.
    """

    def __init__(
        self,
        settings: IndexSettingsLike,
        *,
        timeout: float = 30,
        environ: Mapping[str, str] | None = None,
        page_cache: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        self.timeout = timeout
        self._page_cache = None if page_cache is None else _PageCache(Path(page_cache))
        self._clock = clock
        self._store = _CredentialStore(_netrc_path(env))
        self._opener = urllib.request.build_opener(_AuthHandler(self._store))
        self._opener.addheaders = [("User-Agent", _USER_AGENT)]
        self._pool = _ConnectionPool(self._store, timeout)
        # Idle keep-alive connections are closed by close(), or when the client is collected.
        self._finalizer = weakref.finalize(self, self._pool.close)
        self._lock = threading.Lock()
        self._pages: dict[tuple[str, str], Future[Any]] = {}

        indexes: list[_Location] = []
        if not settings.no_index:
            configured = [settings.index_url or PYPI_SIMPLE_URL, *settings.extra_index_urls]
            for url in configured:
                location = self._register("index", url)
                if all(location.url != known.url for known in indexes):
                    indexes.append(location)
        links: list[_Location] = []
        for entry in settings.find_links:
            location = self._register("links", entry)
            if all(location.url != known.url for known in links):
                links.append(location)
        self._indexes = tuple(indexes)
        self._links = tuple(links)

    def _register(self, kind: Literal["index", "links"], raw: str) -> _Location:
        raw = raw.strip()
        if kind == "links" and not _is_url(raw):
            return _Location(kind, str(Path(raw).expanduser().absolute()), raw)
        clean, creds = _split_credentials(raw)
        if creds is not None:
            self._store.add(clean, creds)
        return _Location(kind, clean, redact_url(raw))

    # -- configuration ----------------------------------------------------------------------

    @property
    def index_urls(self) -> tuple[str, ...]:
        """Credential-free index URLs: the default index first, then the extra ones."""
        return tuple(loc.url for loc in self._indexes)

    @property
    def find_links(self) -> tuple[str, ...]:
        """Credential-free find-links URLs and absolute local paths, in order."""
        return tuple(loc.url for loc in self._links)

    def shown(self, location: str) -> str:
        """How a configured location appears in messages (credentials masked)."""
        for loc in (*self._indexes, *self._links):
            if loc.url == location:
                return loc.shown
        return redact_url(location)

    def needs_credentials(self, url: str) -> bool:
        """Whether requests to ``url`` would carry credentials (URL userinfo or netrc)."""
        return self._store.has_any(url)

    def credential_fingerprint(self, url: str) -> str | None:
        """A stable, one-way digest of the credentials sent to ``url`` (``None`` if none).

        PBKDF2-SHA256 (100,000 rounds, salted with the URL): it changes when the secret
        changes and does not reveal it. The filtering view puts it in the local URLs of a
        credentialed index, so that other local users cannot browse the private index through
        the view while uv's cache (keyed by URL) stays warm from one build to the next.
        """
        creds = self._store.for_url(url)
        if creds is None:
            return None
        secret = f"{creds.username}\0{creds.password}".encode()
        return hashlib.pbkdf2_hmac("sha256", secret, url.encode(), 100_000).hex()[:32]

    # -- pages ------------------------------------------------------------------------------

    def project_files(self, name: str) -> list[IndexFile]:
        """Every file for project ``name`` on every configured index and find-links location.

        Raises:
            IndexUnavailableError: an index or location could not be read.
        """
        project = canonicalize_name(name)
        seen: set[tuple[str, str]] = set()
        merged: list[IndexFile] = []
        for index in self._indexes:
            for file in self.index_project_files(index.url, project) or ():
                if (file.filename, file.url) not in seen:
                    seen.add((file.filename, file.url))
                    merged.append(file)
        for links in self._links:
            for file in self.find_links_files(links.url):
                if file.project == project and (file.filename, file.url) not in seen:
                    seen.add((file.filename, file.url))
                    merged.append(file)
        return merged

    def index_project_files(self, index_url: str, name: str) -> list[IndexFile] | None:
        """The files of ``name`` on one index (``None``: the index does not have the project).

        Args:
            index_url: a configured index URL (credential-free, as in :attr:`index_urls`).
            name: the project name (normalized here).

        Raises:
            IndexUnavailableError: the index could not be read, or the page is not a simple-API
                page.
        """
        page = self.index_project_page(index_url, name)
        return None if page is None else page.files()

    def index_project_page(self, index_url: str, name: str) -> ProjectPage | None:
        """Like :meth:`index_project_files`, as a :class:`ProjectPage` (files built on demand)."""
        project = canonicalize_name(name)
        clean, creds = _split_credentials(index_url)
        if creds is not None:
            self._store.add(clean, creds)
        page_url = clean.rstrip("/") + "/" + project + "/"
        return self._once(
            ("index:" + clean, project), lambda: self._read_index(clean, page_url, project)
        )

    def find_links_files(self, location: str) -> list[IndexFile]:
        """Every wheel and sdist at one find-links location (all projects).

        Args:
            location: a configured find-links entry (as in :attr:`find_links`), a URL of an
                HTML page, a local folder or a local HTML file.

        Raises:
            IndexUnavailableError: the location does not exist or could not be read.
        """
        return self.find_links_page(location).files()

    def find_links_page(self, location: str) -> ProjectPage:
        """Like :meth:`find_links_files`, as a :class:`ProjectPage` (files built on demand)."""
        if not _is_url(location):
            location = str(Path(location).expanduser().absolute())
        else:
            clean, creds = _split_credentials(location)
            if creds is not None:
                self._store.add(clean, creds)
            location = clean
        return self._once(("links:" + location, ""), lambda: self._read_links(location))

    def _once(self, key: tuple[str, str], fetch: Callable[[], _T]) -> _T:
        with self._lock:
            future = self._pages.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._pages[key] = future
        if owner:
            try:
                future.set_result(fetch())
            except BaseException as exc:
                with self._lock:
                    self._pages.pop(key, None)  # errors are not cached: a retry may succeed
                future.set_exception(exc)
                raise
        return cast("_T", future.result())

    def _read_index(self, index_url: str, page_url: str, project: str) -> ProjectPage | None:
        shown = self.shown(index_url)
        what = f"the page of {project!r}"
        if page_url.lower().startswith("file:"):
            folder = _file_url_path(page_url)
            page = folder / "index.html"
            if not page.is_file():
                if _file_url_path(index_url).is_dir():
                    return None
                raise IndexUnavailableError(
                    f"the package index {shown} is not a folder; pass the path of a PEP 503 "
                    "simple-index folder (or an http(s) index URL)",
                    url=shown,
                )
            body = _read_local(page, shown)
            parsed: ProjectPage | None = self._parse(body, "text/html", page.as_uri(), shown, what)
        else:
            parsed = self._read_page(page_url, shown=shown, what=what, missing_ok=True)
        return None if parsed is None else parsed._only(project)

    def _read_links(self, location: str) -> ProjectPage:
        shown = self.shown(location)
        what = "the find-links page"
        if _is_url(location) and not location.lower().startswith("file:"):
            page = self._read_page(location, shown=shown, what=what, missing_ok=False)
            assert page is not None  # missing_ok=False: a 404 raised
            return page
        path = _file_url_path(location) if _is_url(location) else Path(location)
        if path.is_dir():
            entries: list[tuple[str, str, Any]] = []
            for entry in sorted(path.iterdir(), key=lambda p: p.name):
                if entry.is_file() and parse_filename(entry.name) is not None:
                    uri = entry.resolve().as_uri()
                    file = IndexFile(entry.name, uri, size=entry.stat().st_size, source=shown)
                    entries.append((entry.name, uri, file))
            return ProjectPage(entries, "file", shown)
        if path.is_file():
            body = _read_local(path, shown)
            return self._parse(body, "text/html", path.resolve().as_uri(), shown, what)
        raise IndexUnavailableError(
            f"the find-links location {shown} does not exist; pass an existing folder of "
            "wheels, an HTML file, or an http(s) URL of a links page",
            url=shown,
        )

    def _read_page(
        self, url: str, *, shown: str, what: str, missing_ok: bool
    ) -> ProjectPage | None:
        """An http(s) page, through the page cache when there is one (rules above
        :class:`_CachedPage`); ``None`` for a 404/410 when ``missing_ok``."""
        cache = self._page_cache
        if cache is not None and self._store.has_any(url):
            cache = None  # a credentialed page is never read from or written to disk
        stored = cache.load(url) if cache is not None else None
        if stored is not None and stored.is_fresh(self._clock()):
            page = self._parse_stored(stored, shown)
            if page is not None:
                return page
            stored = None  # unparseable (another version of this library wrote it?): refetch
        validators = stored.validators() if stored is not None else {}
        response = self._get(url, shown=shown, what=what, missing_ok=missing_ok, extra=validators)
        if response is not None and response.status == 304 and stored is not None:
            page = self._parse_stored(stored, shown)
            if page is not None:
                assert cache is not None  # stored comes from it
                entry = stored.revalidated(response, self._clock())
                if entry is None or response.credentialed:
                    cache.discard(url)
                else:
                    cache.save(entry)
                return page
            response = self._get(url, shown=shown, what=what, missing_ok=missing_ok)
        if response is None:
            if cache is not None:
                cache.discard(url)
            return None
        page, link_secrets = self._parse_checked(
            response.body, response.content_type, response.url, shown, what
        )
        if cache is not None:
            entry = None
            if not (response.credentialed or link_secrets):
                entry = _CachedPage.received(url, response, self._clock())
            if entry is None:
                cache.discard(url)
            else:
                cache.save(entry)
        return page

    def _parse_stored(self, stored: _CachedPage, shown: str) -> ProjectPage | None:
        try:
            page = _parse_page(stored.body, stored.content_type, stored.final_url, shown)
        except _PageFormatError:
            return None
        page._strip_credentials(self._store)  # none: such pages are not stored
        return page

    def _parse(
        self, body: bytes, content_type: str, page_url: str, shown: str, what: str
    ) -> ProjectPage:
        return self._parse_checked(body, content_type, page_url, shown, what)[0]

    def _parse_checked(
        self, body: bytes, content_type: str, page_url: str, shown: str, what: str
    ) -> tuple[ProjectPage, bool]:
        """The page, and whether any of its links carried credentials (now stripped)."""
        try:
            page = _parse_page(body, content_type, page_url, shown)
        except _PageFormatError as exc:
            raise IndexUnavailableError(
                f"{what} at {shown} is not a PEP 503/691 simple-API page ({exc}); check that "
                "the URL points at the index's simple API (e.g. https://pypi.org/simple/) or at "
                "a page of links to wheels",
                url=shown,
            ) from None
        return page, page._strip_credentials(self._store)

    # -- HTTP -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close idle connections. The client stays usable (it reconnects on demand)."""
        self._pool.close()

    def prewarm(self, connections: int = 4) -> None:
        """Start opening ``connections`` keep-alive connections to each configured index in the
        background (for a server about to receive a burst of page requests)."""
        for index in self._indexes:
            self._pool.prewarm(index.url, connections)

    def __enter__(self) -> SimpleIndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch(self, url: str, extra: Mapping[str, str]) -> _Page:
        headers = {"Accept": ACCEPT_SIMPLE, "Accept-Encoding": "gzip", "User-Agent": _USER_AGENT}
        headers.update(extra)
        if self._pool.handles(url):
            return self._pool.get(url, headers)
        # Through a proxy, urllib follows redirects and adds credentials per hop unseen: a
        # redirected page counts as credentialed (never cached).
        request = urllib.request.Request(url, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                final = response.geturl()
                return _Page(
                    response.status,
                    str(response.reason),
                    response.headers.get("Content-Type") or "",
                    (response.headers.get("Content-Encoding") or "").lower(),
                    response.read(),
                    final,
                    _caching_headers(response.headers),
                    final != url or self._store.has_any(url),
                )
        except urllib.error.HTTPError as exc:
            page = _Page(
                exc.code,
                str(exc.reason),
                "",
                "",
                b"",
                url,
                _caching_headers(exc.headers),
                exc.geturl() != url or self._store.has_any(url),
            )
            exc.close()
            return page

    def _get(
        self,
        url: str,
        *,
        shown: str,
        what: str,
        missing_ok: bool,
        extra: Mapping[str, str] | None = None,
    ) -> _Page | None:
        """GET a page: the response with its body decoded and its URL credential-free, or
        ``None`` for a 404/410 when ``missing_ok``. A 304 is returned as is when ``extra``
        held conditional headers.

        Raises:
            IndexUnavailableError: unreachable, another HTTP error, or an undecodable body.
        """
        try:
            page = self._fetch(url, extra or {})
        except (urllib.error.URLError, OSError, HTTPException, ValueError) as exc:
            reason = _describe_network_error(exc)
            raise IndexUnavailableError(
                f"cannot reach {shown} (while fetching {what}): {reason}. Check the URL, your "
                "network and proxy settings (HTTPS_PROXY, NO_PROXY), or configure a reachable "
                "index",
                url=shown,
            ) from None
        if page.status == 304 and extra:
            return page
        if page.status >= 300:
            if missing_ok and page.status in (404, 410):
                _log.debug("%s: not on %s (HTTP %s)", what, shown, page.status)
                return None
            raise IndexUnavailableError(
                _status_message(page.status, page.reason, what, shown, url),
                url=shown,
                status=page.status,
            )
        try:
            body = _decode_body(page.body, page.encoding)
        except (OSError, EOFError, zlib.error):
            raise IndexUnavailableError(
                f"{what} at {shown} could not be decompressed ({page.encoding}); the index or a "
                "proxy in between is sending a corrupt response: retry, or use another index",
                url=shown,
            ) from None
        return dataclasses.replace(page, body=body, url=_split_credentials(page.url)[0])

    def open(
        self, url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None
    ) -> RemoteFile:
        """Open a file URL (as in :attr:`IndexFile.url`) for streaming, with its credentials.

        Args:
            url: an ``http(s)``/``file`` URL or a local path.
            method: ``GET`` or ``HEAD``.
            headers: extra request headers (a proxy passes ``Range`` through); ignored for
                local files, which are always returned whole.

        Raises:
            IndexUnavailableError: the file could not be opened (``status`` holds the HTTP
                status, if any).
        """
        shown = redact_url(url)
        if not _is_url(url) or url.lower().startswith("file:"):
            path = _file_url_path(url) if _is_url(url) else Path(url)
            try:
                stream = path.open("rb")
            except OSError as exc:
                raise IndexUnavailableError(
                    f"cannot read {path}: {exc.strerror or type(exc).__name__}; check that the "
                    "find-links folder still holds it",
                    url=shown,
                    status=404 if isinstance(exc, FileNotFoundError) else None,
                ) from None
            size = os.fstat(stream.fileno()).st_size
            span = _byte_range((headers or {}).get("Range"), size)
            if span is None:
                return RemoteFile(stream, size, headers={"Accept-Ranges": "bytes"})
            start, end = span
            stream.seek(start)
            return RemoteFile(
                _Limited(stream, end - start + 1),
                end - start + 1,
                status=206,
                headers={"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"},
            )
        request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
        status: int | None = None
        reason = ""
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            status, reason = exc.code, str(exc.reason)
            exc.close()
        except (urllib.error.URLError, OSError, HTTPException, ValueError) as exc:
            reason = _describe_network_error(exc)
        else:
            length = response.headers.get("Content-Length")
            kept = {
                key: value
                for key in ("Content-Type", "Content-Range", "Accept-Ranges")
                if (value := response.headers.get(key))
            }
            return RemoteFile(
                response,
                int(length) if length and length.isdigit() else None,
                status=response.status,
                headers=kept,
            )
        if status is not None:
            raise IndexUnavailableError(
                _status_message(status, reason, "the file", shown, url), url=shown, status=status
            )
        raise IndexUnavailableError(
            f"cannot download {shown}: {reason}. Check your network and proxy settings, then retry",
            url=shown,
        )

    def download(self, file: IndexFile, dest_dir: str | os.PathLike[str]) -> Path:
        """Download ``file`` into ``dest_dir`` and return its path.

        The file is written under a temporary name and renamed once complete, so ``dest_dir``
        never holds a partial file. Its sha256 (or another published hash that ``hashlib``
        knows) is verified when the index published one.

        Raises:
            IndexUnavailableError: the download failed.
            DownloadHashMismatchError: the bytes do not match the published hash.
        """
        where = file.source or redact_url(file.url)
        if not _safe_filename(file.filename):
            raise IndexUnavailableError(
                f"refusing to download {file.filename!r} from {where}: the name is not a plain "
                "file name",
                url=where,
            )
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        algorithm, expected = _verifiable_hash(file.hashes)
        digest = hashlib.new(algorithm) if algorithm else None
        final = dest / file.filename
        partial = dest / f".{file.filename}.{uuid.uuid4().hex}.part"
        try:
            with self.open(file.url) as remote, partial.open("wb") as out:
                while True:
                    try:
                        chunk = remote.read(_CHUNK)
                    except (OSError, HTTPException) as exc:
                        raise IndexUnavailableError(
                            f"the download of {file.filename} from {where} was interrupted "
                            f"({_describe_network_error(exc)}); retry",
                            url=where,
                        ) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
            if digest is not None and digest.hexdigest() != expected.lower():
                raise DownloadHashMismatchError(
                    f"{file.filename} from {where} does not match the "
                    f"{algorithm} the index published (expected {expected}, got "
                    f"{digest.hexdigest()}); the file or the index is corrupt or was tampered "
                    "with: do not use it; retry, and report it to the index owner if it persists"
                )
            os.replace(partial, final)
        finally:
            if partial.exists():
                partial.unlink()
        return final


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of a single ``Range: bytes=...`` within ``size``; else ``None``."""
    if not header or size == 0:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last N bytes
        return max(0, size - int(match[2])), size - 1
    first = int(match[1])
    last = min(int(match[2]), size - 1) if match[2] else size - 1
    return (first, last) if first <= last else None


class _Limited:
    """The next ``remaining`` bytes of a file (the body of a ranged answer)."""

    def __init__(self, stream: IO[bytes], remaining: int) -> None:
        self._stream = stream
        self._remaining = remaining

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._remaining:
            size = self._remaining
        data = self._stream.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def _read_local(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IndexUnavailableError(
            f"cannot read {shown} ({path}): {exc.strerror or type(exc).__name__}", url=shown
        ) from None


def _decode_body(raw: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    return raw


def _verifiable_hash(hashes: Mapping[str, str]) -> tuple[str | None, str]:
    if "sha256" in hashes:
        return "sha256", hashes["sha256"]
    for algorithm in ("sha512", "sha384", "sha3_256", "blake2b"):
        if algorithm in hashes:
            return algorithm, hashes[algorithm]
    return None, ""


def _describe_network_error(exc: BaseException) -> str:
    reason: object = exc
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing is listening there)"
    if isinstance(reason, TimeoutError):
        return "the connection timed out"
    if isinstance(reason, ConnectionResetError):
        return "the server closed the connection"
    if isinstance(reason, HTTPException):
        return f"the server did not answer with valid HTTP ({type(reason).__name__})"
    if isinstance(reason, OSError):
        detail = reason.strerror or str(reason) or type(reason).__name__
        return f"{type(reason).__name__}: {detail}"
    if isinstance(reason, ValueError):
        return "the URL is not valid"
    return str(reason) or type(reason).__name__


def _status_message(status: int, reason: str, what: str, shown: str, url: str) -> str:
    head = f"{shown} answered HTTP {status} {reason}".rstrip() + f" for {what}"
    if status in (401, 403):
        host = urllib.parse.urlsplit(url).hostname or "the index host"
        return (
            f"{head}: access was refused. Put valid credentials in the index URL "
            f"(https://USER:TOKEN@{host}/...) or in your netrc file (machine {host}), "
            "and check that the token may read this repository"
        )
    if status in (404, 410):
        return f"{head}: not found. Check the URL (a simple API usually ends in /simple/)"
    if status == 429:
        return f"{head}: the index is rate-limiting us. Wait and retry, or use a mirror"
    if 500 <= status < 600:
        return f"{head}: the index is failing. Retry later, or use another index or a mirror"
    return f"{head}. Check the index URL and the index's status"


# -- page parsing --------------------------------------------------------------------------------


class _PageFormatError(ValueError):
    """A page is neither PEP 503 HTML nor PEP 691 JSON (message says how; never a secret)."""


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_Format = Literal["json", "html", "file"]


class ProjectPage:
    """The files one page lists, turned into :class:`IndexFile` on demand.

    A big project's page lists thousands of files of which a target can use a few; parsing
    keeps each entry as the page gave it (name, URL, attributes) and :meth:`files` builds only
    the ones asked for.
    """

    __slots__ = ("_entries", "_format", "source")

    def __init__(
        self, entries: list[tuple[str, str, Any]], page_format: _Format, source: str
    ) -> None:
        self._entries = entries
        self._format = page_format
        self.source = source

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def filenames(self) -> list[str]:
        return [entry[0] for entry in self._entries]

    def files(self, keep: Callable[[str], bool] | None = None) -> list[IndexFile]:
        """The files (all, or those whose file name ``keep`` accepts), in page order."""
        make = _MAKERS[self._format]
        return [
            make(filename, url, payload, self.source)
            for filename, url, payload in self._entries
            if keep is None or keep(filename)
        ]

    def _only(self, project: str) -> ProjectPage:
        entries = [e for e in self._entries if (parse_filename(e[0]) or ("",))[0] == project]
        return ProjectPage(entries, self._format, self.source)

    def _strip_credentials(self, store: _CredentialStore) -> bool:
        """Move the credentials of links into ``store``; whether there were any."""
        found = False
        for position, (filename, url, payload) in enumerate(self._entries):
            if "@" in url:
                clean, creds = _split_credentials(url)
                if creds is not None:  # a link that carries its own secret: that file only
                    store.add(clean.partition("#")[0], creds, exact=True)
                    self._entries[position] = (filename, clean, payload)
                    found = True
        return found


def parse_page(
    body: bytes, content_type: str, page_url: str, *, source: str = ""
) -> list[IndexFile]:
    """Parse a simple-API project page or a find-links page into its files.

    JSON (PEP 691) when ``content_type`` says so, HTML (PEP 503) for the HTML types. Relative
    links are resolved against ``page_url`` (or the page's ``<base href>``); hash fragments
    become :attr:`IndexFile.hashes`. Links that are not wheels or sdists are skipped. A link
    that itself carries userinfo keeps it here (:class:`SimpleIndexClient` strips it).

    Raises:
        ValueError: (``_PageFormatError``) the page is not a simple-API page.
    """
    return _parse_page(body, content_type, page_url, source).files()


def _parse_page(body: bytes, content_type: str, page_url: str, source: str) -> ProjectPage:
    media = _media_type(content_type)
    if media in _JSON_TYPES:
        return ProjectPage(_parse_json(body, page_url), "json", source)
    if media in _HTML_TYPES or media == "":
        return ProjectPage(_parse_html(body, content_type, page_url), "html", source)
    raise _PageFormatError(f"Content-Type {media!r}")


def _absolute(base: str, href: str) -> str:
    if href.startswith(("https://", "http://")):
        return href  # the common case (PyPI): urljoin is the slowest step of a big page
    return urllib.parse.urljoin(base, href)


def _split_fragment(url: str) -> tuple[str, dict[str, str]]:
    if "#" not in url:
        return url, {}
    base, _, fragment = url.partition("#")
    hashes: dict[str, str] = {}
    if fragment:
        algorithm, sep, value = fragment.partition("=")
        if sep and algorithm and value and re.fullmatch(r"[0-9A-Fa-f]+", value):
            hashes[algorithm.lower()] = value.lower()
    return base, hashes


def _filename_of(url: str) -> str | None:
    path = url.split("?", 1)[0]
    name = path.rsplit("/", 1)[-1]
    if "%" in name:
        name = urllib.parse.unquote(name)
    if not _safe_filename(name) or parse_filename(name) is None:
        return None
    return name


def _metadata_flag(value: object) -> Union[bool, Mapping[str, str]]:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        hashes = {str(k).lower(): str(v) for k, v in value.items() if isinstance(v, str)}
        return hashes or True
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "false":
            return False
        if text.lower() == "true":
            return True
        algorithm, sep, digest = text.partition("=")
        return {algorithm.lower(): digest} if sep else True
    return False


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.version: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = dict(attrs)
            if values.get("href"):
                self.anchors.append(values)
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href") or None
        elif tag == "meta":
            values = dict(attrs)
            if values.get("name") == "pypi:repository-version":
                self.version = values.get("content")


def _check_api_version(version: str, where: str) -> None:
    major = version.split(".", 1)[0]
    if major != "1":
        raise _PageFormatError(f"{where} {version!r} is not supported (only 1.x)")


def _parse_html(body: bytes, content_type: str, page_url: str) -> list[tuple[str, str, Any]]:
    match = re.search(r"charset=([\w.:-]+)", content_type, re.IGNORECASE)
    charset = match.group(1) if match else "utf-8"
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    if "<" not in text:
        raise _PageFormatError("the body is not HTML")
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    if parser.version:
        _check_api_version(parser.version, "pypi:repository-version")
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    entries: list[tuple[str, str, Any]] = []
    for values in parser.anchors:
        url = _absolute(base, (values.get("href") or "").strip())
        filename = _filename_of(url.partition("#")[0])
        if filename is not None:
            entries.append((filename, url, values))
    return entries


def _html_file(filename: str, url: str, values: Any, source: str) -> IndexFile:
    clean, hashes = _split_fragment(url)
    yanked = "data-yanked" in values
    metadata = values.get("data-core-metadata")
    if metadata is None:
        metadata = values.get("data-dist-info-metadata")
    return IndexFile(
        filename,
        clean,
        hashes,
        requires_python=(values.get("data-requires-python") or "").strip() or None,
        yanked=yanked,
        yanked_reason=(values.get("data-yanked") or None) if yanked else None,
        core_metadata=_metadata_flag(metadata),
        source=source,
    )


def _parse_json(body: bytes, page_url: str) -> list[tuple[str, str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _PageFormatError("the body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise _PageFormatError("the JSON has no 'files' list")
    meta = data.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("api-version"), str):
        _check_api_version(meta["api-version"], "api-version")
    entries: list[tuple[str, str, Any]] = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise _PageFormatError("a file entry has no 'url'")
        filename = entry.get("filename")
        if isinstance(filename, str) and _safe_filename(filename) and parse_filename(filename):
            entries.append((filename, _absolute(page_url, entry["url"]), entry))
    return entries


def _json_file(filename: str, url: str, entry: Any, source: str) -> IndexFile:
    clean, hashes = _split_fragment(url)
    raw_hashes = entry.get("hashes")
    if isinstance(raw_hashes, dict):
        hashes.update(
            {str(k).lower(): v.lower() for k, v in raw_hashes.items() if isinstance(v, str)}
        )
    requires_python = entry.get("requires-python")
    yanked = entry.get("yanked", False)
    metadata = entry.get("core-metadata")
    if metadata is None:
        metadata = entry.get("data-dist-info-metadata", entry.get("dist-info-metadata"))
    size = entry.get("size")
    upload_time = entry.get("upload-time")
    return IndexFile(
        filename,
        clean,
        hashes,
        requires_python=(
            requires_python.strip() or None if isinstance(requires_python, str) else None
        ),
        yanked=bool(yanked),
        upload_time=upload_time if isinstance(upload_time, str) else None,
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        core_metadata=_metadata_flag(metadata),
        source=source,
    )


def _ready_file(filename: str, url: str, file: Any, source: str) -> IndexFile:
    return cast("IndexFile", file)


_MAKERS: Final[Mapping[_Format, Callable[[str, str, Any, str], IndexFile]]] = MappingProxyType(
    {"json": _json_file, "html": _html_file, "file": _ready_file}
)


__all__ = [
    "ACCEPT_SIMPLE",
    "PYPI_SIMPLE_URL",
    "IndexFile",
    "IndexSettingsLike",
    "ProjectPage",
    "RemoteFile",
    "SimpleIndexClient",
    "parse_filename",
    "parse_page",
    "strip_credentials",
]
