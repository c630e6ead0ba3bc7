"""Index credentials: which secret goes with which URL, and nothing more.

An index URL may carry credentials (``https://user:token@host/simple``); otherwise the netrc
file (``$NETRC``, else ``~/.netrc``, else ``~/_netrc``) is consulted for the exact host.
Credentials are sent as HTTP Basic auth, only to the origin (scheme, host, port) they were given
for (on the index's own path when several credentials share a host) and never across a redirect
to another origin. They are never logged, never put in an exception, and never returned: every
:attr:`~.pages.IndexFile.url` is credential-free; the store keeps the association internally.

Hand-written: urllib3 moves bytes and leaves credentials to its caller, and urllib's password
managers match by URL prefix only, know nothing of netrc, and send a realm's secret wherever the
prefix matches. :class:`~.http.Transport` asks :meth:`CredentialStore.for_url` on every hop.
"""

from __future__ import annotations

import base64
import logging
import netrc
import os
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from .. import urls
from ..target.runtimes import DATACLASS_SLOTS

_log = logging.getLogger(__name__)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Credentials:
    """A user and password (or token) for HTTP Basic auth; never shown in a ``repr``."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


Origin = tuple[str, str, int]
_DEFAULT_PORTS: Final[Mapping[str, int]] = MappingProxyType({"http": 80, "https": 443})


def origin_of(url: str) -> Origin | None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """``(url without userinfo, credentials or None)``. The user and password are unquoted."""
    found = urls.credentials(url)
    if found is None:
        return url, None
    return urls.strip_credentials(url), Credentials(*found)


def _scope_prefix(path: str) -> str:
    """The path credentials for an index apply to: the index URL's parent folder.

    ``/api/v4/projects/1/packages/pypi/simple`` -> ``/api/v4/projects/1/packages/pypi/`` (so the
    files under ``.../pypi/files/`` are covered too, but not another project's index).
    """
    trimmed = path.rstrip("/")
    parent = trimmed.rpartition("/")[0]
    return parent + "/"


class CredentialStore:
    """Which credentials go with which URL. Thread-safe; never exposes a secret."""

    def __init__(self, netrc_path: Path | None) -> None:
        self._entries: list[tuple[Origin, str, Credentials]] = []
        self.netrc_path = netrc_path
        self._netrc: dict[str, Credentials] | None = None
        self._lock = threading.Lock()

    def add(self, url: str, creds: Credentials, *, exact: bool = False) -> None:
        origin = origin_of(url)
        if origin is None:
            return
        path = urllib.parse.urlsplit(url).path or "/"
        prefix = path if exact else _scope_prefix(path)
        with self._lock:
            entry = (origin, prefix, creds)
            if entry not in self._entries:
                self._entries.append(entry)

    def for_url(self, url: str) -> Credentials | None:
        origin = origin_of(url)
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

    def _from_netrc(self, host: str) -> Credentials | None:
        with self._lock:
            if self._netrc is None:
                self._netrc = _read_netrc(self.netrc_path)
            # The exact host only, never netrc's ``default`` entry: it would send one secret
            # to every host, PyPI included.
            return self._netrc.get(host)


def netrc_path(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get("NETRC")
    if explicit:
        return Path(explicit).expanduser()
    home = Path(os.path.expanduser("~"))
    for name in (".netrc", "_netrc"):
        candidate = home / name
        if candidate.is_file():
            return candidate
    return None


def _read_netrc(path: Path | None) -> dict[str, Credentials]:
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
    found: dict[str, Credentials] = {}
    for host, (login, _account, password) in parsed.hosts.items():
        found[host.lower()] = Credentials(login or "", password or "")
    return found


__all__ = [
    "CredentialStore",
    "Credentials",
    "Origin",
    "netrc_path",
    "origin_of",
    "split_credentials",
]
