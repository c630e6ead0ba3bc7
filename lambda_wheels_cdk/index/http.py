"""HTTP for the index client: one urllib3 pool manager per proxy (keep-alive connections,
TLS, proxies), our rules on top of it, streamed files, and the helpers that turn what a server
answered into a message.

urllib3 moves the bytes; these rules stay ours:

* **Credentials per hop.** urllib3 never follows a redirect here (``redirect=False``):
  :class:`Transport` does (at most ten hops), asking the :class:`~.auth.CredentialStore` for each
  hop's own origin, so a secret never travels to another origin, and a response knows whether
  credentials were sent on any hop (the page cache never stores such pages).
* **Proxies** as :func:`urllib.request.getproxies` and :func:`urllib.request.proxy_bypass` read
  them: ``https_proxy``/``HTTPS_PROXY`` for https URLs, ``http_proxy``/``HTTP_PROXY`` for http
  URLs, ``all_proxy``/``ALL_PROXY`` for either when the scheme's own is unset (used only when it
  is an ``http://`` or ``https://`` proxy: a ``socks5://`` one is ignored), ``no_proxy``/
  ``NO_PROXY`` for hosts reached directly; on macOS and Windows the system settings when no
  variable is set. Userinfo in a proxy URL becomes ``Proxy-Authorization``. The variables are
  read when the client is created.
* **TLS** verifies with :func:`ssl.create_default_context` (the system trust store, or
  ``SSL_CERT_FILE``/``SSL_CERT_DIR``), for an ``https://`` proxy too; never without verification.
* **Retries**: none, except once when the connection was closed or reset before the answer
  came (a server dropping a kept-alive connection); timeouts and other failures are not retried.
* Bodies arrive as sent (``decode_content=False``): :func:`decode_body` undoes gzip, files are
  never decoded. Every request carries :data:`USER_AGENT`; ``timeout`` bounds each connect and
  each read.
"""

from __future__ import annotations

import gzip
import re
import socket
import ssl
import threading
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from types import MappingProxyType
from typing import IO, Final, Protocol

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from ..target.runtimes import DATACLASS_SLOTS
from ..urls import credentials, redact_url, strip_credentials
from .auth import CredentialStore, Origin, origin_of

USER_AGENT: Final = (
    "lambda-wheels-cdk (simple-api client; +https://pypi.org/project/lambda-wheels-cdk)"
)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 10
#: A kept-alive connection the server closed or reset: retried once on a new connection.
_DROPPED: Final = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_IDLE_PER_ORIGIN: Final = 8  # idle keep-alive connections kept per origin
_ORIGINS: Final = 16  # origins with a connection pool at once (least recently used dropped)

#: What a request or a read may raise when the network or the server fails.
NETWORK_ERRORS: Final = (OSError, HTTPException, ValueError, Urllib3Error)

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
    credentialed: bool = False  # credentials were sent on some hop


class ProxySettingError(ValueError):
    """A proxy variable that cannot be used (its message says which and why)."""


class BodyReadError(OSError):
    """A body could not be read to its end (the message says why)."""


class TooManyRedirectsError(HTTPException):
    """More than :data:`_MAX_REDIRECTS` redirects."""


def caching_headers(headers: urllib3.HTTPHeaderDict) -> dict[str, str]:
    """The :data:`CACHING_HEADERS` of a response (repeated fields joined with ``", "``)."""
    found: dict[str, str] = {}
    for name in CACHING_HEADERS:
        values = headers.getlist(name)
        if values:
            found[name] = ", ".join(values)
    return found


class Transport:
    """GET and HEAD over keep-alive connections, with our rules (module docstring).

    Thread-safe. :meth:`close` closes idle connections; the transport stays usable.
    """

    def __init__(self, store: CredentialStore, timeout: float) -> None:
        self._store = store
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._proxies = urllib.request.getproxies()
        self._managers: dict[tuple[str, str | None], urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    # -- requests ---------------------------------------------------------------------------

    def get(self, url: str, headers: Mapping[str, str]) -> Page:
        """GET a page (following redirects), its body read whole."""
        response, final, credentialed = self._send("GET", url, headers, preload=True)
        return Page(
            response.status,
            response.reason or "",
            response.headers.get("Content-Type") or "",
            (response.headers.get("Content-Encoding") or "").lower(),
            response.data,
            final,
            caching_headers(response.headers),
            credentialed,
        )

    def open(self, url: str, method: str, headers: Mapping[str, str]) -> RemoteFile:
        """``method`` (GET or HEAD) ``url`` (following redirects), the body streamed."""
        response, _, _ = self._send(method, url, {"User-Agent": USER_AGENT, **headers})
        length = response.headers.get("Content-Length")
        kept = {
            key: value
            for key in ("Content-Type", "Content-Range", "Accept-Ranges")
            if (value := response.headers.get(key))
        }
        return RemoteFile(
            _Body(response),
            int(length) if length and length.isdigit() else None,
            status=response.status,
            reason=response.reason or "",
            headers=kept,
        )

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], *, preload: bool = False
    ) -> tuple[urllib3.BaseHTTPResponse, str, bool]:
        """The final response, its URL, and whether credentials were sent on some hop. Each
        hop gets its own origin's credentials only (never the previous hop's)."""
        credentialed = False
        for _ in range(_MAX_REDIRECTS + 1):
            origin = origin_of(url)
            if origin is None:
                raise ValueError("not an http(s) URL")
            sent = dict(headers)
            creds = self._store.for_url(url)
            if creds is not None:
                sent["Authorization"] = creds.header()
                credentialed = True
            response = self._exchange(origin, method, url, sent, preload)
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                response.drain_conn()
                response.release_conn()
                url = urllib.parse.urljoin(url, location)
                continue
            return response, url, credentialed
        raise TooManyRedirectsError(f"more than {_MAX_REDIRECTS} redirects")

    def _exchange(
        self, origin: Origin, method: str, url: str, headers: Mapping[str, str], preload: bool
    ) -> urllib3.BaseHTTPResponse:
        manager = self._manager(origin)
        retried = False
        while True:
            try:
                return manager.urlopen(
                    method,
                    url,
                    headers=dict(headers),
                    redirect=False,
                    retries=False,
                    preload_content=preload,
                    decode_content=False,
                    timeout=self._timeout,
                )
            except ProtocolError as exc:
                if retried or not isinstance(_cause(exc), _DROPPED):
                    raise
                retried = True  # the server dropped a kept-alive connection: a new one

    # -- connections ------------------------------------------------------------------------

    def _proxy_for(self, origin: Origin) -> str | None:
        scheme, host, _ = origin
        proxy = self._proxies.get(scheme)
        if not proxy:
            fallback = self._proxies.get("all", "")
            if "://" in fallback and not fallback.lower().startswith(("http://", "https://")):
                return None  # a SOCKS proxy for other tools: not ours to use
            proxy = fallback
        if not proxy or urllib.request.proxy_bypass(host):
            return None
        if "://" not in proxy:
            proxy = "http://" + proxy  # "proxy:3128", as urllib and curl read it
        if not proxy.lower().startswith(("http://", "https://")):
            raise ProxySettingError(
                f"the {scheme} proxy {redact_url(proxy)} (from {scheme}_proxy) is not an "
                "http:// or https:// proxy; set an HTTP proxy, or add the index host to NO_PROXY"
            )
        return proxy

    def _manager(self, origin: Origin) -> urllib3.PoolManager:
        proxy = self._proxy_for(origin)
        key = (origin[0], proxy)
        with self._lock:
            manager = self._managers.get(key)
            if manager is None:
                manager = self._managers[key] = self._new_manager(origin[0], proxy)
            return manager

    def _new_manager(self, scheme: str, proxy: str | None) -> urllib3.PoolManager:
        """Called with the lock held."""
        tls = None
        if scheme == "https" or (proxy or "").lower().startswith("https:"):
            if self._tls is None:
                self._tls = _tls_context()
            tls = self._tls
        if proxy is None:
            return urllib3.PoolManager(
                _ORIGINS, maxsize=_IDLE_PER_ORIGIN, block=False, ssl_context=tls
            )
        found = credentials(proxy)
        proxy_headers = None
        if found is not None:
            proxy_headers = urllib3.make_headers(proxy_basic_auth=":".join(found))
        return urllib3.ProxyManager(
            strip_credentials(proxy),
            _ORIGINS,
            proxy_headers=proxy_headers,
            proxy_ssl_context=tls,
            maxsize=_IDLE_PER_ORIGIN,
            block=False,
            ssl_context=tls,
        )

    def prewarm(self, url: str, count: int) -> None:
        """Open up to ``count`` connections to ``url``'s origin in the background, so that the
        first burst of page requests does not wait for TCP and TLS handshakes. Best effort:
        failures are left for the real requests to report; origins behind a proxy are left
        alone."""
        origin = origin_of(url)
        try:
            if origin is None or self._proxy_for(origin) is not None:
                return
        except ProxySettingError:
            return
        pool = self._manager(origin).connection_from_url(url)
        threading.Thread(target=_fill, args=(pool, count), daemon=True).start()

    def close(self) -> None:
        """Close idle connections (the transport stays usable)."""
        with self._lock:
            managers = list(self._managers.values())
        for manager in managers:
            manager.clear()


def _tls_context() -> ssl.SSLContext:
    """The system's trust store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set), as Python's
    own clients verify."""
    context = ssl.create_default_context()
    if str(getattr(urllib3, "__version__", "")).startswith("1."):
        # urllib3 1.26 matches the host name itself whenever the context does not (its own
        # contexts never do), and sends no SNI to an IP address, which ssl's check refuses.
        context.check_hostname = False
    return context


def _fill(pool: urllib3.HTTPConnectionPool, count: int) -> None:
    """Connect ``count`` of ``pool``'s connections, each given back once connected. urllib3 has
    no public call for this: ``_get_conn``/``_put_conn`` are what its ``urlopen`` does around a
    request (the same in urllib3 1.26 and 2.x); all are taken first, so that they are distinct."""
    try:
        taken = [pool._get_conn() for _ in range(count)]
    except Urllib3Error:  # the pool was closed meanwhile
        return
    for connection in taken:
        threading.Thread(target=_connect, args=(pool, connection), daemon=True).start()


def _connect(
    pool: urllib3.HTTPConnectionPool, connection: urllib3.connection.HTTPConnection
) -> None:
    try:
        if connection.sock is None:
            connection.connect()
    except (OSError, HTTPException, Urllib3Error):
        connection.close()  # left for the real requests to report
    pool._put_conn(connection)


class _Body:
    """A streamed response body; urllib3's failures become :class:`BodyReadError`."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    def read(self, size: int = -1) -> bytes:
        try:
            return self._response.read(None if size < 0 else size, decode_content=False)
        except Urllib3Error as exc:
            raise BodyReadError(describe_network_error(exc)) from exc

    def close(self) -> None:
        # Read to the end, the connection went back to the pool; else it is closed.
        self._response.close()
        self._response.release_conn()


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
        status: 200, or 206 when a ``Range`` request was honoured (from :class:`Transport`:
            whatever the server answered, ``reason`` with it).
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
        reason: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._stream = stream
        self.length = length
        self.status = status
        self.reason = reason
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


def _cause(exc: BaseException) -> BaseException | None:
    """What an urllib3 exception wraps: its ``__cause__``, an exception among its arguments
    (``ProtocolError("Connection aborted.", RemoteDisconnected(...))``), or its context."""
    for candidate in (exc.__cause__, *exc.args, exc.__context__):
        if isinstance(candidate, BaseException) and candidate is not exc:
            return candidate
    return None


def describe_network_error(exc: BaseException) -> str:
    if isinstance(exc, (ProxySettingError, BodyReadError, TooManyRedirectsError)):
        return str(exc)
    chain = _chain(exc)
    reason = chain[-1]
    text = _describe(reason)
    if not isinstance(reason, OSError) and any(isinstance(e, SSLError) for e in chain):
        text = f"TLS verification failed: {reason}"  # urllib3 1.26's own host name check
    if any(isinstance(e, ProxyError) for e in chain):
        return f"the proxy could not be used ({text})"
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, down to the failure under urllib3's wrappers (a refused
    connection, a reset, bad HTTP)."""
    found = [exc]
    while isinstance(found[-1], Urllib3Error):
        inner = _cause(found[-1])
        if inner is None or inner in found:
            break
        found.append(inner)
    return found


def _describe(reason: BaseException) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing is listening there)"
    timeouts = (TimeoutError, socket.timeout, ConnectTimeoutError, ReadTimeoutError)
    if isinstance(reason, timeouts) and not isinstance(reason, NewConnectionError):
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
    "NETWORK_ERRORS",
    "USER_AGENT",
    "BodyReadError",
    "Limited",
    "Page",
    "ProxySettingError",
    "RemoteFile",
    "TooManyRedirectsError",
    "Transport",
    "byte_range",
    "caching_headers",
    "decode_body",
    "describe_network_error",
    "file_url_path",
    "is_url",
    "status_message",
]
