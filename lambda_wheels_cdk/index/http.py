"""HTTP for the index client: keep-alive connections for pages, streamed files, and the
helpers that turn what a server answered into a message.

Standard library only (``http.client``; ``urllib`` when a proxy is configured). urllib3 would
do the pooling and proxies, but switching the stack is a change of its own.
"""

from __future__ import annotations

import email.message
import gzip
import http.client
import re
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from types import MappingProxyType
from typing import IO, Final, Protocol

from ..target.runtimes import DATACLASS_SLOTS
from .auth import CredentialStore, Origin, origin_of

USER_AGENT: Final = (
    "lambda-wheels-cdk (simple-api client; +https://pypi.org/project/lambda-wheels-cdk)"
)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)


#: The response headers the page cache reads (lower-case names).
CACHING_HEADERS: Final[tuple[str, ...]] = ("cache-control", "etag", "last-modified", "age", "vary")


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Page:
    """An answer to a page request (the body as sent: :func:`decode_body` undoes gzip)."""

    status: int
    reason: str
    content_type: str
    encoding: str
    body: bytes
    url: str  # after redirects
    headers: Mapping[str, str] = field(default_factory=dict)  # CACHING_HEADERS present
    credentialed: bool = False  # credentials were (or may have been) sent on some hop


def caching_headers(message: email.message.Message) -> dict[str, str]:
    """The :data:`CACHING_HEADERS` of a response (repeated fields joined with ``", "``)."""
    found: dict[str, str] = {}
    for name in CACHING_HEADERS:
        values = message.get_all(name)
        if values:
            found[name] = ", ".join(str(value) for value in values)
    return found


class ConnectionPool:
    """Keep-alive connections for page requests, per origin (thread-safe).

    A new TLS connection per page costs a handshake, and several at once are slow; uv keeps its
    connections open, and so do we. Credentials are added per request from the store (so they
    follow the same origin rules as every other request); redirects are followed here (at most
    five), each hop getting its own origin's credentials only. Requests that must go through an
    HTTP proxy use urllib instead (see :meth:`handles`).
    """

    _IDLE_PER_ORIGIN: Final = 8

    def __init__(self, store: CredentialStore, timeout: float) -> None:
        self._store = store
        self._timeout = timeout
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._proxies = urllib.request.getproxies()
        self._tls: ssl.SSLContext | None = None
        self._closed = 0  # bumped by close(): a connection made before must not be pooled

    def prewarm(self, url: str, count: int) -> None:
        """Open up to ``count`` connections to ``url``'s origin in the background, so that the
        first burst of page requests does not wait for TCP and TLS handshakes. Best effort:
        failures are left for the real requests to report."""
        origin = origin_of(url)
        if origin is None or not self.handles(url):
            return
        with self._lock:
            missing = count - len(self._idle.get(origin, ()))
            generation = self._closed
        for _ in range(max(0, missing)):
            threading.Thread(target=self._open_idle, args=(origin, generation), daemon=True).start()

    def _open_idle(self, origin: Origin, generation: int) -> None:
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
        origin = origin_of(url)
        if origin is None:
            return False
        return origin[0] not in self._proxies or bool(urllib.request.proxy_bypass(origin[1]))

    def _connect(self, origin: Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            context = self._tls
        return http.client.HTTPSConnection(host, port, timeout=self._timeout, context=context)

    def _acquire(self, origin: Origin) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(origin)
            if idle:
                return idle.pop(), True
        return self._connect(origin), False

    def _release(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def get(self, url: str, headers: Mapping[str, str]) -> Page:
        """GET ``url`` (following redirects); raises ``OSError``/``HTTPException`` when the
        server cannot be reached or does not speak HTTP."""
        credentialed = False
        for _ in range(6):
            origin = origin_of(url)
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
            return Page(
                response.status,
                response.reason,
                response.getheader("Content-Type") or "",
                (response.getheader("Content-Encoding") or "").lower(),
                body,
                url,
                caching_headers(response.headers),
                credentialed,
            )
        raise http.client.HTTPException("too many redirects")

    def _exchange(
        self, origin: Origin, target: str, headers: Mapping[str, str]
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


def is_url(location: str) -> bool:
    scheme = urllib.parse.urlsplit(location).scheme
    return len(scheme) > 1  # "C:\wheels" has the one-letter "scheme" c


def file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    path = urllib.request.url2pathname(parts.path)
    if parts.netloc and parts.netloc.lower() != "localhost":
        path = "//" + parts.netloc + path  # UNC share
    return Path(path)


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


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
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


class Limited:
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


def decode_body(raw: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    return raw


def describe_network_error(exc: BaseException) -> str:
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


def status_message(status: int, reason: str, what: str, shown: str, url: str) -> str:
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


__all__ = [
    "CACHING_HEADERS",
    "USER_AGENT",
    "ConnectionPool",
    "Limited",
    "Page",
    "RemoteFile",
    "byte_range",
    "caching_headers",
    "decode_body",
    "describe_network_error",
    "file_url_path",
    "is_url",
    "status_message",
]
