"""The simple-API client: PEP 503 HTML, PEP 691 JSON, find-links, credentials, errors.

Everything runs against a local ``http.server`` (``FakeIndex``) serving canned pages: offline and
fast. ``FakeIndex`` and ``make_wheel`` are reused by the view and e2e tests.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import socket
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.errors import (
    DownloadHashMismatchError,
    IndexUnavailableError,
    InstallError,
    LambdaWheelsError,
)
from lambda_wheels_cdk.index.client import PYPI_SIMPLE_URL, SimpleIndexClient
from lambda_wheels_cdk.index.pages import IndexFile, parse_filename, parse_page
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.urls import strip_credentials

from ..support.http_proxy import LoopbackServer

SECRET = "s3cr3t-T0ken-value"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


# -- a fake index ------------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html"
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bool = False  # write the body as is, no HTTP status line (garbage)
    hang_up: bool = False  # close the connection after answering, without saying so


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


def not_modified(route: Route, request_headers: Message) -> bool:
    """Whether a conditional GET matches ``route``'s ``ETag``/``Last-Modified`` (RFC 9110:
    ``If-Modified-Since`` counts only without ``If-None-Match``)."""
    if route.status != 200:
        return False
    tags = request_headers.get("If-None-Match")
    if tags is not None:
        etag = route.headers.get("ETag")
        return etag is not None and etag in {t.strip() for t in tags.split(",")}
    since = request_headers.get("If-Modified-Since")
    return since is not None and since == route.headers.get("Last-Modified")


class FakeIndex(LoopbackServer):
    """A local HTTP server serving canned routes; records every request with its headers.

    With ``auth=(user, password)`` every route needs that Basic auth (401 otherwise). A route
    with an ``ETag`` or ``Last-Modified`` header answers a matching conditional GET with 304
    (and the route's headers).
    """

    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.auth = auth
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with fake._lock:
                    fake.seen.append(
                        Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                route = fake.routes.get(self.path)
                if fake.auth is not None:
                    token = base64.b64encode(":".join(fake.auth).encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {token}":
                        route = Route(
                            b"login required", "text/plain", 401, {"WWW-Authenticate": "Basic"}
                        )
                if route is None:
                    route = Route(b"not found", "text/plain", 404)
                if route.raw:
                    self.wfile.write(route.body)
                    self.close_connection = True
                    return
                if not_modified(route, self.headers):
                    self.send_response(304)
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(route.body)
                if route.hang_up:
                    self.close_connection = True

            def do_HEAD(self) -> None:  # uv probes files with HEAD
                self.do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def add(self, path: str, body: bytes | str, content_type: str = "text/html", **kw: Any) -> None:
        self.routes[path] = Route(
            body.encode() if isinstance(body, str) else body, content_type, **kw
        )

    def paths(self) -> list[str]:
        with self._lock:
            return [s.path for s in self.seen]


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- wheels ------------------------------------------------------------------------------------


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    tag: str = "py3-none-any",
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
) -> Path:
    """Write a minimal, installable wheel ``name-version-tag.whl`` into ``folder``."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Requires-Dist: {r}" for r in requires]
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: lambda-wheels-tests\nRoot-Is-Purelib: "
            f"{'true' if tag.endswith('any') else 'false'}\n"
            + "".join(f"Tag: {t}\n" for t in _expand(tag))
        ).encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{dist}-{version}-{tag}.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    target.write_bytes(buffer.getvalue())
    return target


def _expand(tag: str) -> list[str]:
    py, abi, plat = tag.split("-")
    return [f"{p}-{a}-{q}" for p in py.split(".") for a in abi.split(".") for q in plat.split(".")]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- helpers -----------------------------------------------------------------------------------


def json_page(name: str, files: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": list(files)})


def client_for(*, environ: Mapping[str, str] | None = None, **settings: Any) -> SimpleIndexClient:
    return SimpleIndexClient(IndexSettings(**settings), timeout=5, environ=environ or {})


def assert_no_secret(*things: object) -> None:
    for thing in things:
        assert SECRET not in repr(thing)
        assert SECRET not in str(thing)


# -- file names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl", ("numpy", "2.2.6", "wheel")),
        ("Foo_Bar-1.0-1-py3-none-any.whl", ("foo-bar", "1.0", "wheel")),
        ("foo-bar-1.0.tar.gz", ("foo-bar", "1.0", "sdist")),
        ("Foo-1.0.zip", ("foo", "1.0", "sdist")),
        ("foo-1.0.tar.bz2", ("foo", "1.0", "sdist")),
        ("numpy-1.0.1.dev3460.win32-py2.4.exe", None),
        ("foo-1.0-py3-none-any.whl.metadata", None),
        ("foo-notaversion.tar.gz", None),
        ("foo.whl", None),
    ],
)
def test_parse_filename(filename: str, expected: tuple[str, str, str] | None) -> None:
    parsed = parse_filename(filename)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed[0], str(parsed[1]), parsed[2]) == expected


def test_index_file_is_immutable_and_hashable() -> None:
    file = IndexFile("a-1.0-py3-none-any.whl", "https://h/a.whl", {"sha256": "ab"})
    with pytest.raises(TypeError):
        file.hashes["sha256"] = "cd"  # type: ignore[index]
    assert {file, file} == {file}
    assert file.project == "a" and str(file.version) == "1.0" and file.is_wheel
    assert file.metadata_url is None
    assert IndexFile("a-1.0.tar.gz", "https://h/a-1.0.tar.gz", core_metadata=True).metadata_url == (
        "https://h/a-1.0.tar.gz.metadata"
    )


# -- pages -------------------------------------------------------------------------------------


def test_json_page_relative_urls_and_every_field(fake: FakeIndex) -> None:
    fake.add(
        "/simple/demo/",
        json_page(
            "demo",
            [
                {
                    "filename": "demo-1.0-py3-none-any.whl",
                    "url": "../../files/demo-1.0-py3-none-any.whl",
                    "hashes": {"sha256": "AB12"},
                    "requires-python": ">=3.9",
                    "core-metadata": {"sha256": "cd34"},
                    "size": 123,
                    "upload-time": "2024-01-01T00:00:00Z",
                },
                {
                    "filename": "demo-0.9.tar.gz",
                    "url": "/files/demo-0.9.tar.gz",
                    "hashes": {},
                    "yanked": "broken build",
                    "dist-info-metadata": True,
                },
                {"filename": "other-1.0-py3-none-any.whl", "url": "/o.whl", "hashes": {}},
                {"filename": "demo-1.0.exe", "url": "/files/demo-1.0.exe", "hashes": {}},
            ],
        ),
        JSON_TYPE,
    )
    client = client_for(index_url=f"{fake.url}/simple")
    files = client.project_files("Demo")
    assert [f.filename for f in files] == ["demo-1.0-py3-none-any.whl", "demo-0.9.tar.gz"]
    wheel, sdist = files
    assert wheel.url == f"{fake.url}/files/demo-1.0-py3-none-any.whl"
    assert dict(wheel.hashes) == {"sha256": "ab12"}
    assert wheel.requires_python == ">=3.9"
    assert dict(wheel.core_metadata) == {"sha256": "cd34"}  # type: ignore[arg-type]
    assert (wheel.size, wheel.upload_time, wheel.yanked) == (123, "2024-01-01T00:00:00Z", False)
    assert sdist.url == f"{fake.url}/files/demo-0.9.tar.gz"
    assert (sdist.yanked, sdist.yanked_reason, sdist.core_metadata) == (True, "broken build", True)
    assert "application/vnd.pypi.simple.v1+json" in fake.seen[0].headers["accept"]
    assert fake.paths() == ["/simple/demo/"]


def test_html_page_base_fragments_and_data_attributes(fake: FakeIndex) -> None:
    fake.add(
        "/simple/demo/",
        """<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1">
        <base href="/pkgs/"></head><body>
        <a href="demo-1.0-py3-none-any.whl#sha256=ABCDEF" data-requires-python="&gt;=3.8"
           data-core-metadata="sha256=0123">demo-1.0-py3-none-any.whl</a>
        <a href="sub/demo-0.9.tar.gz" data-yanked="">demo-0.9.tar.gz</a>
        <a href="https://elsewhere.example/demo-0.8-py3-none-any.whl" data-yanked="bad"
           data-dist-info-metadata="true">x</a>
        <a href="demo%2D0.7.tar.gz">percent-encoded</a>
        <a href="/pkgs/unrelated-1.0.tar.gz">other project</a>
        <a href="README">not a distribution</a>
        <a>no href</a>
        </body></html>""",
        "text/html; charset=utf-8",
    )
    files = client_for(index_url=f"{fake.url}/simple/").project_files("demo")
    by_name = {f.filename: f for f in files}
    assert sorted(by_name) == [
        "demo-0.7.tar.gz",
        "demo-0.8-py3-none-any.whl",
        "demo-0.9.tar.gz",
        "demo-1.0-py3-none-any.whl",
    ]
    wheel = by_name["demo-1.0-py3-none-any.whl"]
    assert wheel.url == f"{fake.url}/pkgs/demo-1.0-py3-none-any.whl"
    assert dict(wheel.hashes) == {"sha256": "abcdef"}
    assert wheel.requires_python == ">=3.8"
    assert dict(wheel.core_metadata) == {"sha256": "0123"}  # type: ignore[arg-type]
    assert by_name["demo-0.9.tar.gz"].url == f"{fake.url}/pkgs/sub/demo-0.9.tar.gz"
    assert by_name["demo-0.9.tar.gz"].yanked and by_name["demo-0.9.tar.gz"].yanked_reason is None
    old = by_name["demo-0.8-py3-none-any.whl"]
    assert (old.yanked, old.yanked_reason, old.core_metadata) == (True, "bad", True)


def test_missing_project_is_no_files_not_an_error(fake: FakeIndex) -> None:
    client = client_for(index_url=fake.url + "/simple/")
    assert client.index_project_files(fake.url + "/simple/", "nothing") is None
    assert client.project_files("nothing") == []


def test_pages_are_fetched_once_per_client(fake: FakeIndex) -> None:
    fake.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
    client = client_for(index_url=fake.url + "/simple/")
    threads = [threading.Thread(target=client.project_files, args=("demo",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.paths() == ["/simple/demo/"]


def test_default_index_is_pypi_and_merge_order(fake: FakeIndex, tmp_path: Path) -> None:
    assert client_for().index_urls == (PYPI_SIMPLE_URL,)
    assert client_for(no_index=True).index_urls == ()
    fake.add(
        "/a/demo/",
        json_page(
            "demo", [{"filename": "demo-1.0.tar.gz", "url": "/x/demo-1.0.tar.gz", "hashes": {}}]
        ),
        JSON_TYPE,
    )
    fake.add(
        "/b/demo/",
        json_page(
            "demo",
            [
                {"filename": "demo-1.0.tar.gz", "url": "/x/demo-1.0.tar.gz", "hashes": {}},
                {"filename": "demo-2.0.tar.gz", "url": "/x/demo-2.0.tar.gz", "hashes": {}},
            ],
        ),
        JSON_TYPE,
    )
    make_wheel(tmp_path, "demo", "3.0")
    make_wheel(tmp_path, "other", "1.0")
    client = client_for(
        index_url=fake.url + "/a/",
        extra_index_urls=(fake.url + "/b/",),
        find_links=(str(tmp_path),),
    )
    names = [f.filename for f in client.project_files("demo")]
    assert names == ["demo-1.0.tar.gz", "demo-2.0.tar.gz", "demo-3.0-py3-none-any.whl"]


# -- find-links --------------------------------------------------------------------------------


def test_find_links_folder(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0", "cp311-cp311-manylinux_2_17_x86_64")
    (tmp_path / "demo-0.5.tar.gz").write_bytes(b"sdist")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub").mkdir()
    make_wheel(tmp_path / "sub", "demo", "9.0")  # not searched: find-links is not recursive
    client = client_for(no_index=True, find_links=(str(tmp_path),))
    files = client.project_files("demo")
    assert [f.filename for f in files] == ["demo-0.5.tar.gz", wheel.name]
    assert files[1].url == wheel.resolve().as_uri()
    assert files[1].size == wheel.stat().st_size
    assert client.find_links_files(tmp_path.as_uri()) == client.find_links_files(str(tmp_path))


def test_find_links_html_file_and_url(fake: FakeIndex, tmp_path: Path) -> None:
    page = tmp_path / "links.html"
    page.write_text('<a href="wheels/demo-1.0-py3-none-any.whl#sha256=aa">w</a>')
    fake.add("/links/", '<a href="/dl/demo-2.0-py3-none-any.whl">w</a><a href="x-1.0.tar.gz">x</a>')
    client = client_for(no_index=True, find_links=(str(page), fake.url + "/links/"))
    files = client.project_files("demo")
    assert [f.url for f in files] == [
        (tmp_path / "wheels" / "demo-1.0-py3-none-any.whl").as_uri(),
        f"{fake.url}/dl/demo-2.0-py3-none-any.whl",
    ]
    assert [f.filename for f in client.find_links_files(fake.url + "/links/")] == [
        "demo-2.0-py3-none-any.whl",
        "x-1.0.tar.gz",
    ]


def test_missing_find_links_folder_is_a_clear_error(tmp_path: Path) -> None:
    client = client_for(no_index=True, find_links=(str(tmp_path / "nope"),))
    with pytest.raises(IndexUnavailableError, match="does not exist; pass an existing folder"):
        client.project_files("demo")


def test_file_url_index_folder(tmp_path: Path) -> None:
    simple = tmp_path / "simple"
    (simple / "demo").mkdir(parents=True)
    (simple / "demo" / "index.html").write_text(
        '<a href="../../files/demo-1.0-py3-none-any.whl#sha256=ab">demo</a>'
    )
    client = client_for(index_url=simple.as_uri())
    files = client.project_files("demo")
    assert [f.url for f in files] == [(tmp_path / "files" / "demo-1.0-py3-none-any.whl").as_uri()]
    assert client.project_files("absent") == []


# -- downloads ---------------------------------------------------------------------------------


def test_download_verifies_sha256_and_is_atomic(fake: FakeIndex, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "src", "demo", "1.0")
    fake.add("/f/demo-1.0-py3-none-any.whl", wheel.read_bytes(), "application/octet-stream")
    client = client_for(index_url=fake.url + "/simple/")
    good = IndexFile(wheel.name, f"{fake.url}/f/{wheel.name}", {"sha256": sha256_of(wheel)})
    out = client.download(good, tmp_path / "dest")
    assert out == tmp_path / "dest" / wheel.name and out.read_bytes() == wheel.read_bytes()
    bad = IndexFile(wheel.name, f"{fake.url}/f/{wheel.name}", {"sha256": "00" * 32})
    with pytest.raises(DownloadHashMismatchError, match="does not match the sha256") as info:
        client.download(bad, tmp_path / "bad")
    assert isinstance(info.value, InstallError)
    assert list((tmp_path / "bad").iterdir()) == []  # no partial or corrupt file left
    local = IndexFile(wheel.name, wheel.as_uri(), {"sha256": sha256_of(wheel)})
    assert client.download(local, tmp_path / "local").read_bytes() == wheel.read_bytes()


def test_download_refuses_path_like_names(tmp_path: Path) -> None:
    client = client_for()
    with pytest.raises(IndexUnavailableError, match="not a plain file name"):
        client.download(IndexFile("../evil-1.0.tar.gz", "https://h/x"), tmp_path)
    assert (
        parse_page(
            b'<a href="https://h/..%2Fevil-1.0.tar.gz">x</a>', "text/html", "https://h/simple/x/"
        )
        == []
    )


# -- credentials -------------------------------------------------------------------------------


def test_url_credentials_are_sent_and_never_exposed(
    fake_auth: FakeIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wheel = make_wheel(tmp_path / "src", "demo", "1.0")
    fake_auth.add(
        "/simple/demo/",
        f'<a href="/files/{wheel.name}#sha256={sha256_of(wheel)}">w</a>',
    )
    fake_auth.add(f"/files/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
    fake_auth.add("/simple/broken/", "boom", "text/plain", status=500)
    url = f"http://alice:{SECRET}@{fake_auth.netloc}/simple/"
    client = client_for(index_url=url)
    files = client.project_files("demo")
    assert [f.url for f in files] == [f"{fake_auth.url}/files/{wheel.name}"]
    downloaded = client.download(files[0], tmp_path / "dest")
    assert downloaded.read_bytes() == wheel.read_bytes()
    with pytest.raises(IndexUnavailableError) as failure:
        client.project_files("broken")
    message = str(failure.value)
    assert f"http://alice:***@{fake_auth.netloc}/simple/" in message
    assert "HTTP 500" in message and "Retry later" in message
    assert failure.value.status == 500
    assert_no_secret(
        files, client, client.index_urls, failure.value, failure.value.url, caplog.text
    )
    assert all("authorization" in s.headers for s in fake_auth.seen)


def test_wrong_credentials_say_what_to_do(fake_auth: FakeIndex) -> None:
    client = client_for(index_url=f"http://alice:wrong-{SECRET}@{fake_auth.netloc}/simple/")
    with pytest.raises(IndexUnavailableError) as failure:
        client.project_files("demo")
    assert failure.value.status == 401
    assert "netrc" in str(failure.value) and "credentials" in str(failure.value)
    assert_no_secret(failure.value, failure.value.__cause__, failure.value.__context__)


def test_token_only_userinfo_is_masked(fake: FakeIndex) -> None:
    fake.add("/simple/demo/", "x", "text/plain", status=503)
    client = client_for(index_url=f"http://{SECRET}@{fake.netloc}/simple/")
    with pytest.raises(IndexUnavailableError) as failure:
        client.project_files("demo")
    assert f"http://***@{fake.netloc}/simple/" in str(failure.value)
    assert_no_secret(failure.value)


def test_netrc_credentials_for_the_exact_host(fake_auth: FakeIndex, tmp_path: Path) -> None:
    fake_auth.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
    client = client_for(index_url=fake_auth.url + "/simple/", environ={"NETRC": str(netrc_file)})
    assert client.project_files("demo") == []
    # the netrc "default" entry is never sent: it would reach every host
    netrc_file.write_text(f"default login alice password {SECRET}\n")
    other = client_for(index_url=fake_auth.url + "/simple/", environ={"NETRC": str(netrc_file)})
    with pytest.raises(IndexUnavailableError, match="HTTP 401"):
        other.project_files("demo")


def test_malformed_netrc_is_ignored_without_quoting_it(
    fake: FakeIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(f'machine 127.0.0.1 login alice password "{SECRET}\n')
    client = client_for(index_url=fake.url + "/simple/", environ={"NETRC": str(netrc_file)})
    assert client.project_files("demo") == []
    assert SECRET not in caplog.text


def test_credentials_stay_on_their_origin(
    fake_auth: FakeIndex, fake: FakeIndex, tmp_path: Path
) -> None:
    """A link or a redirect to another host never carries the index's secret."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    fake.add(f"/cdn/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
    fake_auth.add("/simple/demo/", f'<a href="{fake.url}/cdn/{wheel.name}">w</a>')
    fake_auth.add(
        "/redirect.whl", b"", status=302, headers={"Location": f"{fake.url}/cdn/{wheel.name}"}
    )
    client = client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/")
    (file,) = client.project_files("demo")
    client.download(file, tmp_path / "a")
    redirected = IndexFile(wheel.name, f"{fake_auth.url}/redirect.whl")
    assert client.download(redirected, tmp_path / "b").read_bytes() == wheel.read_bytes()
    assert [s.path for s in fake.seen] == [f"/cdn/{wheel.name}"] * 2
    assert not any("authorization" in s.headers for s in fake.seen)


def test_two_indexes_on_one_host_keep_their_own_tokens(tmp_path: Path) -> None:
    with FakeIndex() as server:
        server.add("/p1/simple/demo/", json_page("demo", []), JSON_TYPE)
        server.add("/p2/simple/demo/", json_page("demo", []), JSON_TYPE)
        client = client_for(
            index_url=f"http://u1:token-one@{server.netloc}/p1/simple/",
            extra_index_urls=(f"http://u2:token-two@{server.netloc}/p2/simple/",),
        )
        client.project_files("demo")
        sent = {
            s.path: base64.b64decode(s.headers["authorization"][6:]).decode() for s in server.seen
        }
        assert sent == {"/p1/simple/demo/": "u1:token-one", "/p2/simple/demo/": "u2:token-two"}
        assert strip_credentials(f"http://u1:token-one@{server.netloc}/p1/") == f"{server.url}/p1/"


def test_a_url_urllib_cannot_parse_still_loses_its_secret() -> None:
    # "[::1" is an unclosed IPv6 literal: urllib.parse.urlsplit raises on it. The userinfo is
    # still everything before the last "@" of the authority (RFC 3986 section 3.2.1).
    client = client_for(index_url=f"https://user:{SECRET}@[::1/simple/")
    assert client.index_urls == ("https://[::1/simple/",)
    assert client.shown(client.index_urls[0]) == "https://user:***@[::1/simple/"
    with pytest.raises(IndexUnavailableError) as caught:
        client.project_files("demo")
    assert SECRET not in str(caught.value)


def test_page_redirect_to_another_host_drops_the_credentials(
    fake_auth: FakeIndex, fake: FakeIndex
) -> None:
    fake.add(
        "/mirror/demo/",
        json_page(
            "demo", [{"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz", "hashes": {}}]
        ),
        JSON_TYPE,
    )
    fake_auth.add(
        "/simple/demo/", b"", status=301, headers={"Location": f"{fake.url}/mirror/demo/"}
    )
    client = client_for(index_url=f"http://alice:{SECRET}@{fake_auth.netloc}/simple/")
    (file,) = client.project_files("demo")
    assert file.url == f"{fake.url}/mirror/demo/demo-1.0.tar.gz"  # relative to the final page
    assert "authorization" in fake_auth.seen[0].headers
    assert "authorization" not in fake.seen[0].headers


def test_keep_alive_connections_are_reused_and_stale_ones_retried(fake: FakeIndex) -> None:
    for name in ("a", "b", "c"):
        fake.add(f"/simple/{name}/", json_page(name, []), JSON_TYPE, hang_up=name == "a")
    with client_for(index_url=fake.url + "/simple/") as client:
        for name in ("a", "b", "c"):  # "a" hangs up silently: "b" must retry on a new connection
            assert client.project_files(name) == []
    assert fake.paths() == ["/simple/a/", "/simple/b/", "/simple/c/"]


# -- errors ------------------------------------------------------------------------------------


def test_refused_connection() -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{free_port()}/simple/"
    with pytest.raises(IndexUnavailableError) as failure:
        client_for(index_url=url).project_files("demo")
    message = str(failure.value)
    assert "connection refused" in message and "cannot reach http://user:***@127.0.0.1" in message
    assert "Check the URL" in message
    assert isinstance(failure.value, LambdaWheelsError) and failure.value.status is None
    assert_no_secret(failure.value)


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        (Route(b"{not json", JSON_TYPE), "not valid JSON"),
        (
            Route(b'{"meta": {"api-version": "2.0"}, "files": []}', JSON_TYPE),
            "'2.0' is not supported",
        ),
        (Route(b'{"files": {}}', JSON_TYPE), "no 'files' list"),
        (
            Route(b"\x00\x01\x02binary", "application/octet-stream"),
            "Content-Type 'application/octet-stream'",
        ),
        (Route(b"just words, no markup", "text/html"), "the body is not HTML"),
        (
            Route(b"\x89garbage that is not HTTP\r\n\r\n", raw=True),
            "did not answer with valid HTTP",
        ),
    ],
)
def test_garbage_is_a_clear_error(fake: FakeIndex, route: Route, fragment: str) -> None:
    fake.routes["/simple/demo/"] = route
    with pytest.raises(IndexUnavailableError) as failure:
        client_for(index_url=fake.url + "/simple/").project_files("demo")
    assert fragment in str(failure.value)
    assert fake.url in str(failure.value)


def test_errors_are_not_cached(fake: FakeIndex) -> None:
    fake.add("/simple/demo/", "down", "text/plain", status=500)
    client = client_for(index_url=fake.url + "/simple/")
    with pytest.raises(IndexUnavailableError):
        client.project_files("demo")
    fake.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
    assert client.project_files("demo") == []
