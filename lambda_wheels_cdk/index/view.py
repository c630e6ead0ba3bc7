"""Exact wheel selection with uv: an in-process, filtering view of the simple API.

The problem (issue 9)
    uv's ``--python-platform`` knows ``manylinux_2_17``, ``_2_28`` and ``_2_31`` ... ``_2_40``.
    Amazon Linux 2 runtimes (python3.9-3.11) have glibc 2.26, so uv must be capped at
    ``_2_17`` and skips fitting ``manylinux_2_24`` ... ``_2_26`` wheels (greenlet, pandas and
    shapely ship those: uv then installs older releases), or be run at ``_2_28`` and install
    wheels that crash on Lambda. uv also accepts ``linux_<arch>`` wheels (unaudited host builds)
    for any manylinux platform, which a private index or a find-links folder may carry.

The design
    :class:`FilteringIndexView` serves, on ``127.0.0.1``, a view of the configured indexes and
    find-links locations in which every wheel the target does not accept
    (:meth:`Target.accepts`: too-new glibc, ``linux_*``, musllinux, other OSes and
    architectures, other Pythons) is hidden. uv then runs with a *superset* platform
    (:func:`uv_superset_platform`, ``x86_64-manylinux_2_28`` for Amazon Linux 2) and sees only
    fitting wheels: it installs, for each distribution, the newest version with a wheel that fits
    the target's exact tag set, and evaluates environment markers for the target as usual.
    Everything else is passed through unchanged: hashes, ``Requires-Python``, yanked flags,
    PEP 658/714 core metadata, 404s (so uv's index strategy across several indexes behaves as
    without the view).

    Alternatives considered: resolving with pip and the exact tag list (right tags, ~10x slower,
    markers evaluated for the host); pre-downloading with pip and installing with uv offline
    (twice the work, same marker problem); patching uv's tag list (not possible from outside).

Credentials
    The view fetches upstream with the credentials of :class:`~.client.SimpleIndexClient` (URL
    userinfo, netrc). The settings it hands to uv hold only ``http://127.0.0.1:PORT/...`` URLs.
    Files on a host that needs credentials (or local find-links files) are streamed through the
    view, with ``HEAD`` and ``Range`` passed through (uv reads a wheel's metadata that way when
    the index has no PEP 658 file); files on public hosts (files.pythonhosted.org) keep their
    absolute URLs, so uv downloads them directly and the view is not in the data path. The
    local path of a credentialed index includes a one-way digest of its secret, so other users
    of the machine cannot browse the private index through the view; requests whose ``Host`` is
    not ``127.0.0.1:PORT`` are refused (DNS rebinding from a browser).

uv's cache
    uv keys its wheel cache by index URL, so the view binds a stable port when it can (one of
    :data:`~.server.PREFERRED_PORTS`, else an ephemeral one) and names each upstream by a digest
    of its credential-free URL: the same configuration gives the same URLs on every run and a
    warm uv cache stays warm (measured: with a new port per run, every wheel was downloaded again).
    Pages are served ``Cache-Control: no-store`` (they depend on the target); proxied files are
    immutable and cacheable.

Speed
    The view keeps upstream connections alive and opens them as it starts (a new TLS
    connection per page made the first version ~2x slower than uv), keeps each page's entries
    raw and builds :class:`~.pages.IndexFile` objects only for the files it shows or explains,
    rejects most wheels by name before parsing their tags, and fetches each page once per view.
    ``benchmarks/al2_resolution.py`` (warm uv cache, median of 3; timed: start the view, uv
    install, stop, compute the report) for python3.11 ``greenlet shapely pandas numpy`` against
    plain uv at ``_2_17``, on the 2-CPU development machine while other jobs ran (load 3-6):
    x86_64 0.86x-1.45x, arm64 0.85x-1.12x over several runs (target <= 1.5x); the view adds
    about 0.1-0.2 s. It installs greenlet 3.5.6, pandas 3.1.1, shapely 2.2.0 where uv alone
    installs 3.2.5, 2.3.2, 2.1.2 (the same versions as pip with the exact tag list). On
    python3.12 (exact ``_2_34``) the view gives the same versions for 1.1x-1.5x the time,
    hence :func:`needs_filtering_view`.

Using it (the installer)
    ::

        if needs_filtering_view(target, settings):
            with FilteringIndexView(settings, target, allow_sdists=...) as local:
                run uv with local's index URLs / find-links,
                       --python-platform uv_superset_platform(target)
                       (and NO_PROXY from with_no_proxy(env))
            view.raise_for_upstream_errors()   # after a uv failure: the index's own error
            view.explain(name, version)        # manifest / silent-downgrade warning
        else:
            run uv as usual with target.uv_platform

    Fingerprint the *original* settings, never the local ones (their port may change). Pass
    wheels built locally for the target (Docker) to uv directly, not through the view: they
    are ``linux_<arch>`` and audited afterwards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Generic, TypeVar, cast

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import IndexUnavailableError, UsageError
from ..target.runtimes import DATACLASS_SLOTS, UV_MANYLINUX_GLIBC
from ..target.target import Target
from ..urls import strip_credentials
from .client import PYPI_SIMPLE_URL, IndexSettingsLike, SimpleIndexClient
from .pages import (
    JSON_TYPE,
    IndexFile,
    ProjectPage,
    parse_filename,
    render_html,
    render_json,
    wants_json,
)
from .resolution import (
    ReleaseExplanation,
    SkippedRelease,
    explain_release,
    explain_version,
    newest_release,
    wheel_fits,
    wheel_versions_fitting,
)
from .server import HOST, Handler, Server, bind, send

_log = logging.getLogger(__name__)

_CHUNK: Final = 1 << 16

S = TypeVar("S", bound=IndexSettingsLike)


# -- policy --------------------------------------------------------------------------------------


def uv_superset_platform(target: Target) -> str:
    """The uv ``--python-platform`` to use behind the view: the smallest uv-known manylinux
    glibc at or above the target's (``x86_64-manylinux_2_28`` for glibc 2.26; exactly
    ``aarch64-manylinux_2_34`` for Amazon Linux 2023).

    Above the newest glibc uv knows, the newest one is returned (a subset: never too new).
    """
    above = [g for g in UV_MANYLINUX_GLIBC if g >= target.glibc]
    chosen = min(above) if above else max(UV_MANYLINUX_GLIBC)
    return f"{target.arch}-manylinux_{chosen.major}_{chosen.minor}"


def _is_pypi(url: str | None) -> bool:
    if url is None:
        return True
    clean = strip_credentials(url).strip().rstrip("/").lower()
    return clean == PYPI_SIMPLE_URL.rstrip("/")


def needs_filtering_view(target: Target, settings: IndexSettingsLike) -> bool:
    """Whether uv must install through a :class:`FilteringIndexView` for ``target``.

    True when either

    * uv cannot name the target's glibc exactly (Amazon Linux 2: 2.26), so its own filter
      would skip fitting wheels (``_2_17``) or admit too-new ones (``_2_28``); or
    * any source other than PyPI is configured (a private or extra index, find-links): uv
      accepts ``linux_<arch>`` wheels for a manylinux platform, and such sources may carry them
      (PyPI refuses ``linux_*`` uploads). The view costs little (see benchmarks/), so it is not
      worth guessing whether a private index is clean.

    False for PyPI alone on an exactly expressible glibc (Amazon Linux 2023): uv's own filter
    is then exact.
    """
    if target.uv_platform != uv_superset_platform(target):
        return True
    if settings.find_links:
        return True
    if settings.no_index:
        return False
    return bool(settings.extra_index_urls) or not _is_pypi(settings.index_url)


def with_no_proxy(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with ``127.0.0.1`` and ``localhost`` added to ``NO_PROXY``/``no_proxy``, so
    that an installer child talks to the view directly even when an HTTP proxy is configured."""
    env = dict(environ)
    for key in ("NO_PROXY", "no_proxy"):
        entries = [e.strip() for e in env.get(key, "").split(",") if e.strip()]
        for host in (HOST, "localhost"):
            if host not in entries:
                entries.append(host)
        env[key] = ",".join(entries)
    return env


# -- what the view records -----------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ProjectReport:
    """What the view did to one project's files, for the manifest.

    Attributes:
        name: the normalized project name.
        files_seen: files upstream listed (all sources uv asked).
        files_hidden: files the view hid from uv.
        newest: the newest release upstream (finals unless only pre-releases exist).
        newest_fitting: the newest release with a wheel that fits the target.
        newer: every release newer than ``newest_fitting`` and why it could not be installed,
            newest first.
    """

    name: NormalizedName
    files_seen: int
    files_hidden: int
    newest: str | None
    newest_fitting: str | None
    newer: tuple[SkippedRelease, ...]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {**data, "newer": list(data["newer"])}


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Upstream:
    key: str
    kind: str  # "index" | "links"
    url: str  # credential-free URL or absolute local path


# -- the view ------------------------------------------------------------------------------------


class FilteringIndexView(Generic[S]):
    """A local simple-API view of ``settings`` that shows only wheels ``target`` accepts.

    Use as a context manager; entering starts the server and returns a copy of ``settings``
    (same type) whose index URLs and find-links point at the view::

        view = FilteringIndexView(settings, target)
        with view as local:
            run_uv(local, platform=uv_superset_platform(target))
        view.raise_for_upstream_errors()   # an index failed: raise our error, not uv's
        view.explain("numpy", "2.2.6")     # why not newer (manifest, downgrade warning)
        view.report()                      # per project: hidden releases and why

    Args:
        settings: the user's index settings (may carry credentials; never served).
        target: the Lambda target whose :meth:`Target.accepts` decides what is shown.
        allow_sdists: keep source distributions visible. Default: True.
        client: the upstream client. Default: a :class:`SimpleIndexClient` for ``settings``
            (with ``page_cache``).
        port: ``None`` (default) tries :data:`~.server.PREFERRED_PORTS` then any free port;
            ``0`` any free port; another number exactly that port.
        timeout: seconds for upstream requests and for idle connections from the installer.
        prewarm: open keep-alive connections to the indexes as the view starts, so that uv's
            first burst of page requests does not wait for TLS handshakes. Default: True.
        page_cache: a folder for the client's disk cache of upstream project pages (see
            :class:`SimpleIndexClient`), so that a view started by the next build answers from
            it as long as the index's caching headers allow. Only for the client the view
            creates; pass it to your own ``client`` otherwise. Default: ``None``, every view
            fetches every page it serves.

    Raises:
        UsageError: both ``client`` and ``page_cache`` were given.
    """

    def __init__(
        self,
        settings: S,
        target: Target,
        *,
        allow_sdists: bool = True,
        client: SimpleIndexClient | None = None,
        port: int | None = None,
        timeout: float = 30,
        prewarm: bool = True,
        page_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        if client is not None and page_cache is not None:
            raise UsageError(
                "FilteringIndexView got both a client and a page_cache; pass page_cache to the "
                "SimpleIndexClient instead (the view only uses it for a client it creates)"
            )
        self.settings = settings
        self.target = target
        self.allow_sdists = allow_sdists
        self._owns_client = client is None
        self.client = client or SimpleIndexClient(settings, timeout=timeout, page_cache=page_cache)
        self.timeout = timeout
        self.prewarm = prewarm
        self._port_request = port
        self._server: Server | None = None
        self._hosts: frozenset[str] = frozenset()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._errors: list[IndexUnavailableError] = []
        self._file_urls: dict[str, str] = {}  # file id -> upstream URL (credential-free)
        self._index_pages: dict[NormalizedName, list[ProjectPage]] = {}  # what uv read
        self._link_pages: list[ProjectPage] = []
        self.requests = 0
        indexes = [] if settings.no_index else list(self.client.index_urls)
        self._upstreams: dict[str, _Upstream] = {}
        for url in indexes:
            self._add_upstream("index", url)
        for location in self.client.find_links:
            self._add_upstream("links", location)

    def _add_upstream(self, kind: str, url: str) -> _Upstream:
        # Stable across runs (uv's cache is keyed by URL). For a credentialed upstream the key
        # also depends on the secret (one-way), so nobody else on this machine can guess the
        # path and read the private index through the view.
        secret = self.client.credential_fingerprint(url) or ""
        digest = hashlib.sha256(f"{kind}\0{url}\0{secret}".encode()).hexdigest()
        upstream = _Upstream(("i" if kind == "index" else "l") + digest[:12], kind, url)
        self._upstreams.setdefault(upstream.key, upstream)
        return upstream

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while the view runs)."""
        if self._server is None:
            raise UsageError("the filtering view is not running; use it as a context manager")
        return f"http://{HOST}:{self._server.server_port}"

    def __enter__(self) -> S:
        self._server = bind(self._port_request, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # close() waits up to one interval
            name=f"lambda-wheels-view-{self._server.server_port}",
            daemon=True,
        )
        port = self._server.server_port
        self._hosts = frozenset({f"{HOST}:{port}", f"localhost:{port}"})
        self._thread.start()
        if self.prewarm:
            self.client.prewarm()  # uv asks for its first pages all at once
        _log.debug("filtering view for %s at %s", self.target, self.base_url)
        return self.local_settings()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, end open connections, and wait for handler threads. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=self.timeout)
        self._server = None
        self._thread = None
        if self._owns_client:
            self.client.close()  # idle upstream connections (it reconnects if used again)

    def local_settings(self) -> S:
        """A copy of the settings pointing at the view (credential-free ``127.0.0.1`` URLs)."""
        base = self.base_url
        index_urls = [
            f"{base}/{u.key}/simple/" for u in self._upstreams.values() if u.kind == "index"
        ]
        links = tuple(
            f"{base}/{u.key}/links/" for u in self._upstreams.values() if u.kind == "links"
        )
        changes: dict[str, Any] = {
            "index_url": index_urls[0] if index_urls else None,
            "extra_index_urls": tuple(index_urls[1:]),
            "find_links": links,
            "no_index": self.settings.no_index,
        }
        settings: Any = self.settings
        if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
            return cast("S", dataclasses.replace(settings, **changes))
        if hasattr(settings, "_replace"):
            return cast("S", settings._replace(**changes))
        return cast("S", type(settings)(**changes))

    # -- what happened ----------------------------------------------------------------------

    @property
    def upstream_errors(self) -> tuple[IndexUnavailableError, ...]:
        """Errors upstream indexes gave while uv was using the view (each also served as 502)."""
        with self._lock:
            return tuple(self._errors)

    def raise_for_upstream_errors(self) -> None:
        """Raise the first upstream error, if any (call when uv failed: ours says more)."""
        errors = self.upstream_errors
        if errors:
            raise errors[0]

    def report(self) -> dict[str, ProjectReport]:
        """Per project uv saw: what was hidden, and every newer release and why."""
        with self._lock:
            names = set(self._index_pages)
            links = list(self._link_pages)
        for page in links:
            names.update(p[0] for p in map(parse_filename, page.filenames) if p is not None)
        return {name: self._project_report(name) for name in sorted(names)}

    def _project_report(self, name: NormalizedName) -> ProjectReport:
        listed = hidden = 0
        shown: set[str] = set()
        for page in self._pages(name):
            for filename in page.filenames:
                if _project_of(filename) == name:
                    listed += 1
                    if self._keep(filename):
                        shown.add(filename)
                    else:
                        hidden += 1
        kept = self._files(name, shown.__contains__)
        fitting = [v for v in wheel_versions_fitting(kept, self.target) if not v.is_prerelease]
        floor = fitting[0] if fitting else None

        def newer_than_floor(filename: str) -> bool:
            version = _version_of(filename)
            return (
                version is not None
                and not version.is_prerelease
                and (floor is None or version > floor)
            )

        newer_files = self._files(name, newer_than_floor)
        by_version: dict[Version, list[IndexFile]] = {}
        for file in newer_files:
            if file.version is not None:
                by_version.setdefault(file.version, []).append(file)
        newest = newest_release([*kept, *newer_files])
        return ProjectReport(
            name=name,
            files_seen=listed,
            files_hidden=hidden,
            newest=str(newest) if newest is not None else None,
            newest_fitting=str(floor) if floor is not None else None,
            newer=tuple(
                explain_version(v, by_version[v], self.target)
                for v in sorted(by_version, reverse=True)
            ),
        )

    def explain(self, name: str, installed: str | Version) -> ReleaseExplanation:
        """Why ``installed`` of ``name`` and not a newer release (see :func:`explain_release`).

        Uses the pages uv read through the view (so an index uv did not consult is not
        counted); a project uv never asked for is looked up on every configured source.

        Raises:
            IndexUnavailableError: the project had to be fetched and could not be.
            UsageError: ``installed`` is not a version.
        """
        project = canonicalize_name(name)
        try:
            floor = installed if isinstance(installed, Version) else Version(str(installed))
        except InvalidVersion:
            return explain_release(name, installed, [], self.target)  # raises UsageError
        with self._lock:
            seen = project in self._index_pages
        if not seen and not any(
            _project_of(fn) == project for page in self._pages(project) for fn in page.filenames
        ):
            return explain_release(name, floor, self.client.project_files(project), self.target)

        def not_older(filename: str) -> bool:
            version = _version_of(filename)
            return version is not None and version >= floor

        return explain_release(name, floor, self._files(project, not_older), self.target)

    def _pages(self, project: NormalizedName | None = None) -> list[ProjectPage]:
        with self._lock:
            if project is None:
                index = [page for pages in self._index_pages.values() for page in pages]
            else:
                index = list(self._index_pages.get(project, ()))
            return [*index, *self._link_pages]

    def _files(self, project: NormalizedName, keep: Callable[[str], bool]) -> list[IndexFile]:
        """The files of ``project`` uv saw whose name ``keep`` accepts (built on demand)."""
        seen: set[tuple[str, str]] = set()
        out: list[IndexFile] = []
        for page in self._pages(project):
            for file in page.files(lambda fn: _project_of(fn) == project and keep(fn)):
                if (file.filename, file.url) not in seen:
                    seen.add((file.filename, file.url))
                    out.append(file)
        return out

    # -- serving ----------------------------------------------------------------------------

    def _keep(self, filename: str) -> bool:
        """Whether the view shows a file (by name): fitting wheels, and sdists if allowed."""
        parsed = parse_filename(filename)
        if parsed is None:
            return False
        if parsed[2] == "sdist":
            return self.allow_sdists
        return wheel_fits(filename, self.target)

    def _filter(
        self, upstream: _Upstream, page: ProjectPage, project: NormalizedName | None
    ) -> list[IndexFile]:
        with self._lock:
            if project is None:
                if all(page is not known for known in self._link_pages):
                    self._link_pages.append(page)
            else:
                pages = self._index_pages.setdefault(project, [])
                if all(page is not known for known in pages):
                    pages.append(page)
        return [
            dataclasses.replace(file, url=self._served_url(upstream, file))
            for file in page.files(self._keep)
        ]

    def _served_url(self, upstream: _Upstream, file: IndexFile) -> str:
        url = file.url
        if url.lower().startswith("file:") or self.client.needs_credentials(url):
            file_id = hashlib.sha256(url.encode()).hexdigest()[:24]
            with self._lock:
                self._file_urls[file_id] = url
            name = urllib.parse.quote(file.filename)
            return f"{self.base_url}/{upstream.key}/files/{file_id}/{name}"
        return url

    def _fail(self, error: IndexUnavailableError) -> None:
        with self._lock:
            self._errors.append(error)

    def handle(self, request: Handler) -> None:
        """Serve one GET or HEAD (called by the server's handler threads)."""
        with self._lock:
            self.requests += 1
        if request.headers.get("Host", "").lower() not in self._hosts:
            # A web page in a browser could otherwise reach us by DNS rebinding.
            send(request, 421, b"misdirected request\n", "text/plain")
            return
        path = urllib.parse.urlsplit(request.path).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        while parts and parts[-1] == "":
            parts.pop()
        upstream = self._upstreams.get(parts[0]) if parts else None
        if upstream is None or len(parts) < 2:
            send(request, 404, b"not found\n", "text/plain; charset=utf-8")
            return
        action = parts[1]
        if action == "simple" and upstream.kind == "index" and len(parts) == 3:
            self._serve_project(request, upstream, parts[2])
        elif action == "links" and upstream.kind == "links" and len(parts) == 2:
            self._serve_links(request, upstream)
        elif action == "files" and len(parts) == 4:
            self._serve_file(request, parts[2], parts[3])
        else:
            send(request, 404, b"not found\n", "text/plain; charset=utf-8")

    def _serve_project(self, request: Handler, upstream: _Upstream, raw_name: str) -> None:
        project = canonicalize_name(raw_name)
        try:
            page = self.client.index_project_page(upstream.url, project)
        except IndexUnavailableError as exc:
            self._fail(exc)
            send(request, 502, f"{exc}\n".encode(), "text/plain; charset=utf-8")
            return
        if page is None:
            send(request, 404, f"{project} is not on this index\n".encode(), "text/plain")
            return
        kept = self._filter(upstream, page, project)
        if wants_json(request.headers.get("Accept")):
            body = render_json(project, kept)
            send(request, 200, body, JSON_TYPE)
        else:
            send(request, 200, render_html(project, kept), "text/html; charset=utf-8")

    def _serve_links(self, request: Handler, upstream: _Upstream) -> None:
        try:
            page = self.client.find_links_page(upstream.url)
        except IndexUnavailableError as exc:
            self._fail(exc)
            send(request, 502, f"{exc}\n".encode(), "text/plain; charset=utf-8")
            return
        kept = self._filter(upstream, page, None)
        send(request, 200, render_html(None, kept), "text/html; charset=utf-8")

    def _serve_file(self, request: Handler, file_id: str, filename: str) -> None:
        with self._lock:
            url = self._file_urls.get(file_id)
        if url is None:
            send(request, 404, b"unknown file\n", "text/plain")
            return
        expected = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        if filename == expected + ".metadata":
            url += ".metadata"
        elif filename != expected:
            send(request, 404, b"unknown file\n", "text/plain")
            return
        # uv probes with HEAD and reads a wheel's metadata with Range requests when the index
        # has no PEP 658 metadata: both are passed through (local files are served whole).
        head = request.command == "HEAD"
        wanted = request.headers.get("Range")
        try:
            remote = self.client.open(
                url,
                method="HEAD" if head else "GET",
                headers={"Range": wanted} if wanted and not head else None,
            )
        except IndexUnavailableError as exc:
            if exc.status in (404, 410, 416):
                send(request, exc.status, f"{exc}\n".encode(), "text/plain; charset=utf-8")
                return
            self._fail(exc)
            send(request, 502, f"{exc}\n".encode(), "text/plain; charset=utf-8")
            return
        with remote:
            request.send_response(remote.status)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Cache-Control", "max-age=31536000, immutable")
            for key in ("Content-Range", "Accept-Ranges"):
                if key in remote.headers:
                    request.send_header(key, remote.headers[key])
            if remote.length is not None:
                request.send_header("Content-Length", str(remote.length))
            elif not head:
                request.send_header("Connection", "close")
                request.close_connection = True
            request.end_headers()
            while not head:
                try:
                    chunk = remote.read(_CHUNK)
                except OSError as exc:
                    _log.debug("upstream read failed mid-file: %s", type(exc).__name__)
                    request.close_connection = True
                    return
                if not chunk:
                    break
                request.wfile.write(chunk)


def _project_of(filename: str) -> NormalizedName | None:
    parsed = parse_filename(filename)
    return parsed[0] if parsed else None


def _version_of(filename: str) -> Version | None:
    parsed = parse_filename(filename)
    return parsed[1] if parsed else None


__all__ = [
    "FilteringIndexView",
    "ProjectReport",
    "needs_filtering_view",
    "uv_superset_platform",
    "with_no_proxy",
]
