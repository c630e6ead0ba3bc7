"""A loopback HTTP proxy for the index client's proxy tests, and :class:`LoopbackServer`, the
base of the index tests' loopback servers (``FakeIndex`` too).

``GET``/``HEAD http://127.0.0.1:PORT/...`` (absolute form) are forwarded to the loopback server
named in the URL; ``CONNECT 127.0.0.1:PORT`` opens a tunnel (https through the proxy). Every
request is recorded with its headers (``Proxy-Authorization`` included). Any other host is
refused with 403: the tests never leave this machine.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

_LOOPBACK = frozenset({"127.0.0.1", "localhost"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authorization", "proxy-connection"})


_S = TypeVar("_S", bound="LoopbackServer")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # many clients at once without SYN retries


class LoopbackServer:
    """A threading HTTP server on ``127.0.0.1`` (any free port) for ``handler``; a context
    manager. The base of the loopback servers of the index tests (``FakeIndex`` too)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.netloc}"

    def __enter__(self: _S) -> _S:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str  # absolute URL, or host:port for CONNECT
    headers: Mapping[str, str]  # lower-case names


class LoopbackProxy(LoopbackServer):
    """Use as a context manager; :attr:`url` is ``http://127.0.0.1:PORT``.

    With ``auth="user:password"`` every request without that ``Proxy-Authorization`` is answered
    407.
    """

    def __init__(self, *, auth: str | None = None) -> None:
        self.requests: list[ProxiedRequest] = []
        self._lock = threading.Lock()
        proxy = self
        expected = None if auth is None else "Basic " + base64.b64encode(auth.encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> bool:
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy._lock:
                    proxy.requests.append(ProxiedRequest(self.command, self.path, headers))
                if expected is not None and headers.get("proxy-authorization") != expected:
                    self._refuse(407, "proxy authentication required")
                    return False
                return True

            def _refuse(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if not self._record():
                    return
                parts = urllib.parse.urlsplit(self.path)
                if parts.scheme != "http" or parts.hostname not in _LOOPBACK:
                    self._refuse(403, "loopback only")
                    return
                upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                try:
                    forwarded = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    target = parts.path + (f"?{parts.query}" if parts.query else "")
                    upstream.request(self.command, target, headers=forwarded)
                    response = upstream.getresponse()
                    body = response.read()
                finally:
                    upstream.close()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP | {"content-length", "transfer-encoding"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

            def do_CONNECT(self) -> None:
                if not self._record():
                    return
                host, _, port = self.path.rpartition(":")
                if host not in _LOOPBACK:
                    self._refuse(403, "loopback only")
                    return
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                sockets = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(sockets, [], [], 10)
                        if not readable:
                            return
                        for sock in readable:
                            data = sock.recv(65536)
                            if not data:
                                return
                            (upstream if sock is self.connection else self.connection).sendall(data)
                except OSError:
                    return
                finally:
                    upstream.close()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def targets(self) -> list[str]:
        with self._lock:
            return [r.target for r in self.requests]
