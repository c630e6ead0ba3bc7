"""The index client's transport (index/http.py, urllib3 underneath): the rules that are ours.

Credentials per redirect hop, proxies as ``urllib.request.getproxies()``/``proxy_bypass`` read
them, TLS with the trust store (``SSL_CERT_FILE``), one retry when a kept-alive connection was
dropped, pre-opened connections. Every server is a loopback one (``FakeIndex``, the proxy in
``tests/support/http_proxy.py``, a throwaway CA from ``tests/support/tls.py``).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.errors import IndexUnavailableError
from lambda_wheels_cdk.index.pages import IndexFile

from ..support.http_proxy import LoopbackProxy, LoopbackServer
from ..support.tls import LoopbackTls
from .test_index import (
    JSON_TYPE,
    SECRET,
    FakeIndex,
    assert_no_secret,
    client_for,
    free_port,
    json_page,
    make_wheel,
)

DEMO = json_page("demo", [{"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz", "hashes": {}}])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- credentials per redirect hop ----------------------------------------------------------------


def test_each_redirect_hop_gets_only_its_own_origins_credentials(
    fake_auth: FakeIndex, fake: FakeIndex
) -> None:
    """private -> public -> private: the public hop gets nothing, the private hops the secret."""
    fake_auth.add("/simple/demo/", b"", status=302, headers={"Location": f"{fake.url}/bounce/"})
    fake.add("/bounce/", b"", status=307, headers={"Location": f"{fake_auth.url}/real/demo/"})
    fake_auth.add("/real/demo/", DEMO, JSON_TYPE)
    client = client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/")
    (file,) = client.project_files("demo")
    assert file.url == f"{fake_auth.url}/real/demo/demo-1.0.tar.gz"
    assert [s.path for s in fake_auth.seen] == ["/simple/demo/", "/real/demo/"]
    assert all(s.headers["authorization"] == basic("alice", SECRET) for s in fake_auth.seen)
    assert fake.paths() == ["/bounce/"] and "authorization" not in fake.seen[0].headers


def test_a_file_redirected_to_another_port_of_the_same_host_loses_the_credentials(
    fake_auth: FakeIndex, fake: FakeIndex, tmp_path: Path
) -> None:
    """An origin is scheme, host and port: both servers are 127.0.0.1, on two ports."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    fake.add(f"/cdn/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
    fake_auth.add("/f.whl", b"", status=301, headers={"Location": f"{fake.url}/cdn/{wheel.name}"})
    client = client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/")
    with client.open(f"{fake_auth.url}/f.whl") as remote:
        assert remote.status == 200 and remote.read() == wheel.read_bytes()
    assert "authorization" in fake_auth.seen[0].headers
    assert "authorization" not in fake.seen[0].headers


def test_a_redirect_loop_is_a_clear_error(fake: FakeIndex) -> None:
    fake.add("/simple/demo/", b"", status=302, headers={"Location": "/simple/demo/"})
    with pytest.raises(IndexUnavailableError, match="more than 10 redirects"):
        client_for(index_url=fake.url + "/simple/").project_files("demo")
    assert len(fake.seen) == 11  # the request and ten redirects


def test_a_file_error_status_names_the_file_and_the_status(fake: FakeIndex) -> None:
    fake.add("/gone.whl", "gone", "text/plain", status=410)
    client = client_for(index_url=fake.url + "/simple/")
    with pytest.raises(IndexUnavailableError) as failure:
        client.open(f"{fake.url}/gone.whl")
    assert failure.value.status == 410
    assert "answered HTTP 410 Gone for the file: not found" in str(failure.value)


# -- proxies -------------------------------------------------------------------------------------


def test_http_proxy_is_used_and_no_proxy_bypasses_it(
    fake: FakeIndex, loopback_proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add("/simple/demo/", DEMO, JSON_TYPE)
    assert len(client_for(index_url=fake.url + "/simple/").project_files("demo")) == 1
    assert loopback_proxy.targets() == [f"{fake.url}/simple/demo/"]  # absolute form: proxied
    for no_proxy in ("127.0.0.1", "localhost,127.0.0.1:1,127.0.0.1", "*"):
        monkeypatch.setenv("NO_PROXY", no_proxy)
        assert len(client_for(index_url=fake.url + "/simple/").project_files("demo")) == 1
    assert len(loopback_proxy.requests) == 1  # the three others went directly
    assert fake.paths() == ["/simple/demo/"] * 4


def test_proxy_credentials_go_to_the_proxy_only(
    fake_auth: FakeIndex, no_proxy_env: pytest.MonkeyPatch
) -> None:
    with LoopbackProxy(auth=f"proxy-user:{SECRET}-proxy") as proxy:
        no_proxy_env.setenv("HTTP_PROXY", f"http://proxy-user:{SECRET}-proxy@{proxy.netloc}")
        fake_auth.add("/simple/demo/", DEMO, JSON_TYPE)
        client = client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/")
        assert len(client.project_files("demo")) == 1
        (seen,) = proxy.requests
        assert seen.headers["proxy-authorization"] == basic("proxy-user", f"{SECRET}-proxy")
        assert seen.headers["authorization"] == basic("alice", SECRET)  # the index's own
        # a wrong proxy password: the proxy's 407, nothing of either secret in the message
        no_proxy_env.setenv("HTTP_PROXY", f"http://proxy-user:wrong-{SECRET}@{proxy.netloc}")
        with pytest.raises(IndexUnavailableError, match="HTTP 407") as failure:
            client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/").project_files(
                "demo"
            )
        assert_no_secret(failure.value)
    assert [s.headers.get("proxy-authorization") for s in fake_auth.seen] == [None]


def test_all_proxy_is_the_fallback_and_a_socks_one_is_left_alone(
    fake: FakeIndex, no_proxy_env: pytest.MonkeyPatch
) -> None:
    fake.add("/simple/demo/", DEMO, JSON_TYPE)
    with LoopbackProxy() as proxy:
        no_proxy_env.setenv("ALL_PROXY", proxy.url)
        assert len(client_for(index_url=fake.url + "/simple/").project_files("demo")) == 1
        assert proxy.targets() == [f"{fake.url}/simple/demo/"]
        no_proxy_env.setenv("ALL_PROXY", "socks5://127.0.0.1:9")  # for other tools: direct
        assert len(client_for(index_url=fake.url + "/simple/").project_files("demo")) == 1
        assert len(proxy.requests) == 1 and len(fake.seen) == 2


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        (
            f"socks5://user:{SECRET}@127.0.0.1:9",
            "socks5://user:***@127.0.0.1:9 (from http_proxy) is not an http:// or https:// proxy",
        ),
        (f"http://127.0.0.1:{free_port()}", "the proxy could not be used (connection refused"),
    ],
    ids=["socks", "refused"],
)
def test_an_unusable_proxy_is_a_clear_error(
    fake: FakeIndex, no_proxy_env: pytest.MonkeyPatch, proxy: str, expected: str
) -> None:
    no_proxy_env.setenv("http_proxy", proxy)
    with pytest.raises(IndexUnavailableError) as failure:
        client_for(index_url=fake.url + "/simple/").project_files("demo")
    assert expected in str(failure.value) and "NO_PROXY" in str(failure.value)
    assert_no_secret(failure.value)
    assert fake.seen == []


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture
def tls_index(tmp_path: Path) -> Iterator[tuple[FakeIndex, LoopbackTls, str]]:
    """A FakeIndex speaking HTTPS with a certificate from a throwaway CA, and its https URL."""
    tls = LoopbackTls(tmp_path / "tls")
    server = FakeIndex()
    server.server.socket = tls.server_context.wrap_socket(server.server.socket, server_side=True)
    with server:
        yield server, tls, f"https://{server.netloc}"


def test_tls_verifies_with_the_trust_store_and_ssl_cert_file(
    tls_index: tuple[FakeIndex, LoopbackTls, str], no_proxy_env: pytest.MonkeyPatch
) -> None:
    server, tls, url = tls_index
    server.add("/simple/demo/", DEMO, JSON_TYPE)
    no_proxy_env.delenv("SSL_CERT_FILE", raising=False)
    no_proxy_env.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(IndexUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        client_for(index_url=url + "/simple/").project_files("demo")  # the CA is not trusted
    no_proxy_env.setenv("SSL_CERT_FILE", str(tls.ca_file))  # as a re-signing network's CA
    (file,) = client_for(index_url=url + "/simple/").project_files("demo")
    assert file.url == f"{url}/simple/demo/demo-1.0.tar.gz"
    # a trusted certificate for another name: refused (it was issued for 127.0.0.1 only)
    other = url.replace("127.0.0.1", "localhost") + "/simple/"
    with pytest.raises(IndexUnavailableError, match=r"(?i)hostname"):
        client_for(index_url=other).project_files("demo")
    assert server.paths() == ["/simple/demo/"]


def test_https_through_the_proxy_is_a_verified_tunnel(
    tls_index: tuple[FakeIndex, LoopbackTls, str], loopback_proxy: LoopbackProxy
) -> None:
    server, tls, url = tls_index
    server.add("/simple/demo/", DEMO, JSON_TYPE)
    with pytest.raises(IndexUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        client_for(index_url=url + "/simple/").project_files("demo")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SSL_CERT_FILE", str(tls.ca_file))
        assert len(client_for(index_url=url + "/simple/").project_files("demo")) == 1
    assert [(r.method, r.target) for r in loopback_proxy.requests] == [
        ("CONNECT", server.netloc)
    ] * 2
    assert server.paths() == ["/simple/demo/"]  # the unverified tunnel sent nothing


# -- dropped connections -------------------------------------------------------------------------


class DroppingServer(LoopbackServer):
    """Answers the first request on each connection and keeps it open; a later request on the
    same connection is dropped without an answer (a server closing an idle connection just as
    the client reuses it). With ``drop_all`` every request is dropped."""

    def __init__(self, *, drop_all: bool = False) -> None:
        self.attempts: list[tuple[int, str]] = []  # (connection number, path)
        self.connections = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with lock:
                    server.connections += 1
                    self.number = server.connections
                self.answered = 0

            def do_GET(self) -> None:
                with lock:
                    server.attempts.append((self.number, self.path))
                if drop_all or self.answered:
                    self.close_connection = True
                    return
                self.answered += 1
                body = json_page(self.path.strip("/").rsplit("/", 1)[-1], []).encode()
                self.send_response(200)
                self.send_header("Content-Type", JSON_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)


def test_a_dropped_kept_alive_connection_is_retried_once_on_a_new_one(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    with DroppingServer() as server, client_for(index_url=server.url + "/simple/") as client:
        assert client.project_files("a") == []
        assert client.project_files("b") == []
    # "b" went out on the kept-alive connection 1, was dropped, and was sent again on a new one
    assert server.attempts == [(1, "/simple/a/"), (1, "/simple/b/"), (2, "/simple/b/")]


def test_a_server_that_drops_every_request_is_tried_twice_then_reported(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    with (
        DroppingServer(drop_all=True) as server,
        pytest.raises(IndexUnavailableError, match="the server closed the connection"),
    ):
        client_for(index_url=server.url + "/simple/").project_files("demo")
    assert [path for _, path in server.attempts] == ["/simple/demo/"] * 2


# -- pre-opened connections ----------------------------------------------------------------------


def test_prewarm_opens_connections_that_the_requests_then_use(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    with DroppingServer() as server, client_for(index_url=server.url + "/simple/") as client:
        client.prewarm(3)
        # urllib3's pool for the origin (private: the only way to see the connections are back)
        pool = client._transport._manager(("http", "127.0.0.1", server.port)).connection_from_url(
            server.url
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            server.connections < 3 or sum(c is not None for c in list(pool.pool.queue)) < 3
        ):
            time.sleep(0.01)
        assert (server.connections, server.attempts) == (3, [])  # no request sent
        barrier = threading.Barrier(3)

        def fetch(name: str) -> None:
            barrier.wait()
            assert client.project_files(name) == []

        threads = [threading.Thread(target=fetch, args=(n,)) for n in "abc"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert server.connections == 3  # each page used a pre-opened connection
    assert sorted(path for _, path in server.attempts) == [f"/simple/{n}/" for n in "abc"]


def test_files_with_url_credentials_in_a_location_do_not_use_them(
    fake: FakeIndex, tmp_path: Path
) -> None:
    """A redirect's own userinfo is never sent: credentials come from the store only."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    fake.add(f"/cdn/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
    fake.add(
        "/f.whl",
        b"",
        status=302,
        headers={"Location": f"http://eve:{SECRET}@{fake.netloc}/cdn/{wheel.name}"},
    )
    client = client_for(index_url=fake.url + "/simple/")
    path = client.download(IndexFile(wheel.name, f"{fake.url}/f.whl"), tmp_path / "out")
    assert path.read_bytes() == wheel.read_bytes()
    assert [("authorization" in s.headers) for s in fake.seen] == [False, False]
