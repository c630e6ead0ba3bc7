"""A small client for the package index "simple" API.

Speaks PEP 503 (HTML) and PEP 691 (JSON, preferred through the ``Accept`` header), reads
``--find-links`` locations (a local folder, a local HTML file, or an HTML page on the web), and
downloads files with their published hash verified. HTTP goes through urllib3 (keep-alive
connections, proxies, TLS with the system trust store); which credentials go where, redirects,
the page cache and the messages are ours (:mod:`.http`).

The parts, one idea each:

* :mod:`.pages`: what a page says (``IndexFile``, PEP 503/691 parsing);
* :mod:`.auth`: which credentials go to which URL (URL userinfo, netrc);
* :mod:`.http`: the transport (urllib3, with our credential, redirect and proxy rules) and
  the HTTP helpers;
* :mod:`.cache`: the RFC 9111 page cache on disk;
* this module: :class:`SimpleIndexClient`, which puts them together.

Errors
    Anything that stops a page or file from being read raises
    :class:`~lambda_wheels_cdk.errors.IndexUnavailableError`, whose message names the location
    with credentials masked (``https://user:***@host/simple``) and says what to do. A project the
    index does not have (HTTP 404/410) is not an error: it has no files there.

Analysis of the files (which release fits a target, why newer ones were skipped) lives in
:mod:`.resolution`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeVar, cast

from packaging.utils import (
    canonicalize_name,
)

from ..errors import DownloadHashMismatchError, IndexUnavailableError
from ..target.runtimes import DATACLASS_SLOTS
from ..urls import redact_url
from .auth import CredentialStore, netrc_path, split_credentials
from .cache import CachedPage, PageCache
from .http import (
    NETWORK_ERRORS,
    USER_AGENT,
    Limited,
    Page,
    RemoteFile,
    Transport,
    byte_range,
    decode_body,
    describe_network_error,
    file_url_path,
    is_url,
    status_message,
)
from .pages import (
    ACCEPT_SIMPLE,
    IndexFile,
    PageFormatError,
    ProjectPage,
    parse_filename,
    parse_project_page,
    safe_filename,
)

_log = logging.getLogger(__name__)

#: The default index when none is configured.
PYPI_SIMPLE_URL: Final = "https://pypi.org/simple/"
_CHUNK: Final = 1 << 16


class IndexSettingsLike(Protocol):
    """The index settings shape the client reads (``inputs.spec.IndexSettings`` has it).

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


# -- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Location:
    kind: Literal["index", "links"]
    url: str  # credential-free URL, or an absolute local path for find-links
    shown: str  # for messages: the location as configured, credentials masked


_T = TypeVar("_T")


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
        self._page_cache = None if page_cache is None else PageCache(Path(page_cache))
        self._clock = clock
        self._store = CredentialStore(netrc_path(env))
        self._transport = Transport(self._store, timeout)
        # Idle keep-alive connections are closed by close(), or when the client is collected.
        self._finalizer = weakref.finalize(self, self._transport.close)
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
        if kind == "links" and not is_url(raw):
            return _Location(kind, str(Path(raw).expanduser().absolute()), raw)
        clean, creds = split_credentials(raw)
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
        clean, creds = split_credentials(index_url)
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
        if not is_url(location):
            location = str(Path(location).expanduser().absolute())
        else:
            clean, creds = split_credentials(location)
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
            folder = file_url_path(page_url)
            page = folder / "index.html"
            if not page.is_file():
                if file_url_path(index_url).is_dir():
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
        return None if parsed is None else parsed.only(project)

    def _read_links(self, location: str) -> ProjectPage:
        shown = self.shown(location)
        what = "the find-links page"
        if is_url(location) and not location.lower().startswith("file:"):
            page = self._read_page(location, shown=shown, what=what, missing_ok=False)
            assert page is not None  # missing_ok=False: a 404 raised
            return page
        path = file_url_path(location) if is_url(location) else Path(location)
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
        :class:`CachedPage`); ``None`` for a 404/410 when ``missing_ok``."""
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
                entry = CachedPage.received(url, response, self._clock())
            if entry is None:
                cache.discard(url)
            else:
                cache.save(entry)
        return page

    def _parse_stored(self, stored: CachedPage, shown: str) -> ProjectPage | None:
        try:
            page = parse_project_page(stored.body, stored.content_type, stored.final_url, shown)
        except PageFormatError:
            return None
        page.take_credentials(self._store)  # none: such pages are not stored
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
            page = parse_project_page(body, content_type, page_url, shown)
        except PageFormatError as exc:
            raise IndexUnavailableError(
                f"{what} at {shown} is not a PEP 503/691 simple-API page ({exc}); check that "
                "the URL points at the index's simple API (e.g. https://pypi.org/simple/) or at "
                "a page of links to wheels",
                url=shown,
            ) from None
        return page, page.take_credentials(self._store)

    # -- HTTP -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close idle connections. The client stays usable (it reconnects on demand)."""
        self._transport.close()

    def prewarm(self, connections: int = 4) -> None:
        """Start opening ``connections`` keep-alive connections to each configured index in the
        background (for a server about to receive a burst of page requests)."""
        for index in self._indexes:
            self._transport.prewarm(index.url, connections)

    def __enter__(self) -> SimpleIndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch(self, url: str, extra: Mapping[str, str]) -> Page:
        headers = {"Accept": ACCEPT_SIMPLE, "Accept-Encoding": "gzip", "User-Agent": USER_AGENT}
        headers.update(extra)
        return self._transport.get(url, headers)

    def _get(
        self,
        url: str,
        *,
        shown: str,
        what: str,
        missing_ok: bool,
        extra: Mapping[str, str] | None = None,
    ) -> Page | None:
        """GET a page: the response with its body decoded and its URL credential-free, or
        ``None`` for a 404/410 when ``missing_ok``. A 304 is returned as is when ``extra``
        held conditional headers.

        Raises:
            IndexUnavailableError: unreachable, another HTTP error, or an undecodable body.
        """
        try:
            page = self._fetch(url, extra or {})
        except NETWORK_ERRORS as exc:
            reason = describe_network_error(exc)
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
                status_message(page.status, page.reason, what, shown, url),
                url=shown,
                status=page.status,
            )
        try:
            body = decode_body(page.body, page.encoding)
        except (OSError, EOFError, zlib.error):
            raise IndexUnavailableError(
                f"{what} at {shown} could not be decompressed ({page.encoding}); the index or a "
                "proxy in between is sending a corrupt response: retry, or use another index",
                url=shown,
            ) from None
        return dataclasses.replace(page, body=body, url=split_credentials(page.url)[0])

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
        if not is_url(url) or url.lower().startswith("file:"):
            path = file_url_path(url) if is_url(url) else Path(url)
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
            span = byte_range((headers or {}).get("Range"), size)
            if span is None:
                return RemoteFile(stream, size, headers={"Accept-Ranges": "bytes"})
            start, end = span
            stream.seek(start)
            return RemoteFile(
                Limited(stream, end - start + 1),
                end - start + 1,
                status=206,
                headers={"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"},
            )
        try:
            remote = self._transport.open(url, method, headers or {})
        except NETWORK_ERRORS as exc:
            raise IndexUnavailableError(
                f"cannot download {shown}: {describe_network_error(exc)}. Check your network "
                "and proxy settings, then retry",
                url=shown,
            ) from None
        if 200 <= remote.status < 300:
            return remote
        remote.close()
        raise IndexUnavailableError(
            status_message(remote.status, remote.reason, "the file", shown, url),
            url=shown,
            status=remote.status,
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
        if not safe_filename(file.filename):
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
                    except NETWORK_ERRORS as exc:
                        raise IndexUnavailableError(
                            f"the download of {file.filename} from {where} was interrupted "
                            f"({describe_network_error(exc)}); retry",
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


def _read_local(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IndexUnavailableError(
            f"cannot read {shown} ({path}): {exc.strerror or type(exc).__name__}", url=shown
        ) from None


def _verifiable_hash(hashes: Mapping[str, str]) -> tuple[str | None, str]:
    if "sha256" in hashes:
        return "sha256", hashes["sha256"]
    for algorithm in ("sha512", "sha384", "sha3_256", "blake2b"):
        if algorithm in hashes:
            return algorithm, hashes[algorithm]
    return None, ""


__all__ = [
    "PYPI_SIMPLE_URL",
    "IndexSettingsLike",
    "SimpleIndexClient",
]
