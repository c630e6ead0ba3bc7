"""The loopback HTTP server behind the index view: which port, which address, keep-alive
connections, and a clean shutdown. What it answers is :meth:`.view.FilteringIndexView.handle`'s
business.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

from ..errors import IndexUnavailableError

_log = logging.getLogger(__name__)

#: Ports tried first, in order, so that uv's cache (keyed by index URL) is reused across runs.
#: Below every OS's ephemeral range (Linux 32768+, Windows/macOS 49152+). Any that is busy is
#: skipped; if all are, the OS picks a port (correct, but uv's wheel cache starts cold).
PREFERRED_PORTS: Final[tuple[int, ...]] = tuple(range(27817, 27825))

#: The only address the view listens on (never the network).
HOST: Final = "127.0.0.1"


class RequestHandling(Protocol):
    """What the server needs from the view: the idle timeout and one call per request."""

    @property
    def timeout(self) -> float: ...

    def handle(self, request: Handler) -> None: ...


def send(request: Handler, status: int, body: bytes, content_type: str) -> None:
    """Answer ``request`` with ``body`` (never stored by a cache; no body for ``HEAD``)."""
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.send_header("Cache-Control", "no-store")
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)


class Handler(BaseHTTPRequestHandler):
    """One installer connection: every ``GET``/``HEAD`` goes to the view; a failure inside it
    is a 500 and a log line, never a dead thread."""

    protocol_version = "HTTP/1.1"  # keep-alive: uv reuses connections
    server: Server
    server_version = "lambda-wheels-view"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.view.timeout)  # idle keep-alives end

    def do_GET(self) -> None:
        try:
            self.server.view.handle(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the installer went away mid-answer
        except Exception:
            _log.exception("internal error in the filtering view serving %s", self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                send(
                    self, 500, b"internal error in the lambda-wheels filtering view\n", "text/plain"
                )

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("view: " + format, *args)


class Server(ThreadingHTTPServer):
    """A threaded server on :data:`HOST` that knows its open connections (to close them)."""

    # POSIX: SO_REUSEADDR lets the next run rebind the same port while connections of the
    # last one linger in TIME_WAIT (a new port would leave uv's cache cold), and never lets two
    # listeners share it. Windows: SO_REUSEADDR *would* let another socket steal the port, so
    # there SO_EXCLUSIVEADDRUSE is set instead (see server_bind).
    allow_reuse_address = os.name != "nt"
    daemon_threads = False  # server_close() joins handler threads: a clean shutdown
    block_on_close = True
    # uv opens many connections at once; socketserver's default backlog of 5 makes the excess
    # wait for a SYN retransmit (a full second).
    request_queue_size = 128

    def __init__(self, port: int, view: RequestHandling) -> None:
        self.view = view
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), Handler)

    def server_bind(self) -> None:
        if self.allow_reuse_address:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
        if exclusive is not None:  # pragma: no cover - Windows
            self.socket.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        # TCPServer.server_bind, without HTTPServer's getfqdn() (a reverse DNS lookup that can
        # take seconds on some hosts).
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]
        self.server_name = HOST
        self.server_port = self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("view connection error", exc_info=sys.exc_info())


def bind(port: int | None, view: RequestHandling) -> Server:
    """A server for ``view`` on ``port``, or on the first free :data:`PREFERRED_PORTS` (else
    any port) when ``port`` is ``None``."""
    candidates: list[int] = [*PREFERRED_PORTS, 0] if port is None else [port]
    last: OSError | None = None
    for candidate in candidates:
        try:
            return Server(candidate, view)
        except OSError as exc:
            last = exc
    raise IndexUnavailableError(
        f"cannot start the local index view on {HOST} (ports tried: "
        f"{', '.join(map(str, candidates))}): {last.strerror if last else 'no port'}; "
        "pass port=None to let the system pick a free port",
        url=f"http://{HOST}",
    )


__all__ = ["HOST", "PREFERRED_PORTS", "Handler", "RequestHandling", "Server", "bind", "send"]
