"""A local package index for tests: PEP 503 (HTML) and PEP 691 (JSON) over ``http.server``.

Serves wheels and sdists built with :mod:`tests.support.packages` (or any other files) at
``http://127.0.0.1:PORT/simple/<project>/``, the files themselves at ``/files/<filename>``, and
records every request so that a test can assert what was sent (paths, headers, which user
authenticated). Optional behaviours:

* ``auth=(user, password)``: every route needs HTTP Basic auth (401 + ``WWW-Authenticate``
  otherwise), as private indexes do.
* ``mode``: ``"ok"`` (default); ``"error"`` answers every request with ``status`` (500);
  ``"garbage"`` answers 200 with bytes that are neither a simple-API page nor the file;
  ``"reset"`` accepts connections and resets them without answering. A port nobody listens on
  (a refused connection) is :func:`unused_port`.
* ``delay``: seconds to wait before answering each request (makes installs overlap in
  concurrency tests without relying on machine speed).
* ``publish_hashes=False``: pages carry no file hashes (like many private find-links pages).
* :meth:`IndexServer.tamper`: after N downloads of a file, serve other bytes under the same
  name (a compromised mirror/CDN), while the page keeps publishing the original's hash.

Content negotiation follows PEP 691: JSON when the ``Accept`` header asks for
``application/vnd.pypi.simple.v1+json``, HTML otherwise. File links carry a ``#sha256=``
fragment (HTML) or a ``hashes`` entry (JSON), like PyPI.

Usage::

    with IndexServer([wheel, sdist], auth=("ci", "s3cret")) as index:
        url = index.url_with_credentials()   # http://ci:s3cret@127.0.0.1:PORT/simple
        ...
        assert index.requests_to("/simple/six/")
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

Mode = Literal["ok", "error", "garbage", "reset"]
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
#: What ``mode="garbage"`` sends: not HTML, not JSON, not a wheel.
GARBAGE = b"\x00\xff\xfe{<<garbage>> not an index page \x89PNG\r\n\x1a\n" * 8


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)  # lower-case names
    user: str | None  # the Basic-auth user name sent, if any
    authorized: bool  # the credentials matched (always True without ``auth``)


def unused_port() -> int:
    """A local TCP port nobody listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def project_of(filename: str) -> str:
    """The canonical project name of a wheel or sdist file name."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise ValueError(f"{filename} is neither a wheel nor an sdist file name") from exc


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is not a test failure


class IndexServer:
    """A simple index on ``127.0.0.1`` (see module docstring). Use as a context manager."""

    def __init__(
        self,
        files: Iterable[Path] = (),
        *,
        auth: tuple[str, str] | None = None,
        mode: Mode = "ok",
        status: int = 500,
        delay: float = 0.0,
        publish_hashes: bool = True,
    ) -> None:
        self.auth = auth
        self.publish_hashes = publish_hashes
        self._tampered: dict[str, tuple[bytes, int]] = {}  # filename -> (bytes, after)
        self._downloads: dict[str, int] = {}  # filename -> GETs served so far
        self.mode: Mode = mode
        self.status = status
        self.delay = delay
        self._files: dict[str, Path] = {}  # filename -> path
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        for path in files:
            self.add(path)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lw-test-index",
            daemon=True,
        )
        self._started = False

    # -- content -----------------------------------------------------------------------------

    def add(self, *paths: Path) -> None:
        """Serve these wheel/sdist files (the project name comes from each file name)."""
        for path in paths:
            project_of(path.name)  # validates
            self._files[path.name] = Path(path)

    def add_folder(self, folder: Path) -> None:
        """Serve every wheel and sdist in ``folder``."""
        for path in sorted(folder.iterdir()):
            if path.name.endswith((".whl", ".tar.gz", ".zip")):
                self.add(path)

    def tamper(self, filename: str, data: bytes, *, after: int = 1) -> None:
        """Serve ``data`` instead of ``filename``'s bytes from its ``after+1``-th GET on."""
        if filename not in self._files:
            raise ValueError(f"{filename} is not served")
        self._tampered[filename] = (data, after)

    def downloads(self, filename: str) -> int:
        """How many times ``filename`` was served by GET."""
        with self._lock:
            return self._downloads.get(filename, 0)

    def _file_bytes(self, filename: str, method: str) -> bytes | None:
        path = self._files.get(filename)
        if path is None:
            return None
        with self._lock:
            count = self._downloads.get(filename, 0)
            if method == "GET":
                self._downloads[filename] = count + 1
        tampered = self._tampered.get(filename)
        if tampered is not None and count >= tampered[1]:
            return tampered[0]
        return path.read_bytes()

    def projects(self) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for name, path in sorted(self._files.items()):
            out.setdefault(project_of(name), []).append(path)
        return out

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The index URL without credentials: ``http://127.0.0.1:PORT/simple``."""
        return f"http://{self.netloc}/simple"

    def url_with_credentials(self, user: str | None = None, password: str | None = None) -> str:
        """The index URL with userinfo (default: the server's own ``auth``)."""
        if user is None and password is None:
            if self.auth is None:
                raise ValueError("this server has no auth; pass user and password")
            user, password = self.auth
        userinfo = quote(user or "", safe="")
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        return f"http://{userinfo}@{self.netloc}/simple"

    # -- the request log ---------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> IndexServer:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def close(self) -> None:
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._started = False
        self._server.server_close()

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------------

    def _check_auth(self, header: str | None) -> tuple[str | None, bool]:
        user: str | None = None
        given: str | None = None
        if header and header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            user, _, given = decoded.partition(":")
        if self.auth is None:
            return user, True
        return user, (user, given) == self.auth

    def _page(self, project: str | None, as_json: bool) -> bytes | None:
        projects = self.projects()
        if project is None:
            if as_json:
                data: dict[str, Any] = {
                    "meta": {"api-version": "1.0"},
                    "projects": [{"name": p} for p in projects],
                }
                return json.dumps(data).encode()
            links = "".join(f'<a href="{p}/">{p}</a>\n' for p in projects)
            return f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        files = projects.get(project)
        if files is None:
            return None
        entries = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]
        if as_json:
            data = {
                "meta": {"api-version": "1.0"},
                "name": project,
                "files": [
                    {
                        "filename": n,
                        "url": f"/files/{quote(n)}",
                        "hashes": {"sha256": h} if self.publish_hashes else {},
                    }
                    for n, h in entries
                ],
            }
            return json.dumps(data).encode()
        links = "".join(
            f'<a href="/files/{quote(n)}{f"#sha256={h}" if self.publish_hashes else ""}">'
            f"{html.escape(n)}</a><br/>\n"
            for n, h in entries
        )
        return (
            f"<!DOCTYPE html><html><head><title>Links for {project}</title></head>"
            f"<body><h1>Links for {project}</h1>\n{links}</body></html>\n"
        ).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "lw-test-index/1.0"

            def _answer(
                self,
                status: int,
                body: bytes,
                content_type: str = "text/plain",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends RST, the client sees "connection reset"
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True

            def do_GET(self) -> None:
                user, ok = index._check_auth(self.headers.get("Authorization"))
                with index._lock:
                    index._requests.append(
                        Request(
                            method=self.command,
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            user=user,
                            authorized=ok,
                        )
                    )
                if index.delay:
                    time.sleep(index.delay)
                if index.mode == "reset":
                    self._reset()
                    return
                if not ok:
                    self._answer(
                        401, b"login required", headers={"WWW-Authenticate": 'Basic realm="lw"'}
                    )
                    return
                if index.mode == "error":
                    self._answer(index.status, b"internal server error (test index)")
                    return
                wants_json = JSON_TYPE in (self.headers.get("Accept") or "")
                if index.mode == "garbage":
                    self._answer(200, GARBAGE, JSON_TYPE if wants_json else "text/html")
                    return
                path = unquote(self.path.split("?", 1)[0].split("#", 1)[0])
                if path.startswith("/files/"):
                    body = index._file_bytes(path[len("/files/") :], self.command)
                    if body is None:
                        self._answer(404, b"no such file")
                    else:
                        self._answer(200, body, "application/octet-stream")
                    return
                if path in ("/simple", "/simple/"):
                    page = index._page(None, wants_json)
                elif path.startswith("/simple/"):
                    raw = path[len("/simple/") :].strip("/")
                    page = index._page(str(canonicalize_name(raw)), wants_json)
                else:
                    page = None
                if page is None:
                    self._answer(404, b"not found")
                    return
                self._answer(200, page, JSON_TYPE if wants_json else "text/html; charset=utf-8")

            def do_HEAD(self) -> None:
                self.do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


__all__ = ["GARBAGE", "IndexServer", "Request", "project_of", "unused_port"]
