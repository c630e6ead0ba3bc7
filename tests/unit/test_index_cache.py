"""The simple-API client's disk cache of project pages (``SimpleIndexClient(page_cache=...)``).

Every test uses a fresh client per "process" (a new client has an empty in-memory cache, so
only the disk can spare a request) against a local ``FakeIndex`` that counts requests and
answers conditional GETs with 304. Time passes through an injected clock, never by sleeping.

Decisions the tests pin down: ``max-age=0``, ``no-cache`` and no lifetime at all with a
validator mean "revalidate on every use"; without a validator such a page is not stored and is
fetched again. 404s are not cached. Credentialed pages never touch the disk.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.errors import UsageError
from lambda_wheels_cdk.index.cache import freshness
from lambda_wheels_cdk.index.client import SimpleIndexClient
from lambda_wheels_cdk.index.view import FilteringIndexView
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.target import Target

from ..support.http_proxy import LoopbackProxy
from .test_index import JSON_TYPE, SECRET, FakeIndex, json_page
from .test_index_proxy import page_files

PYPI_HEADERS = {"Cache-Control": "max-age=600, public", "ETag": '"v1"'}
T0 = 1_700_000_000.0


class Clock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def page(name: str = "demo", version: str = "1.0") -> str:
    filename = f"{name}-{version}-py3-none-any.whl"
    return json_page(name, [{"filename": filename, "url": filename, "hashes": {}}])


def serve(fake: FakeIndex, headers: dict[str, str], body: str | None = None) -> None:
    fake.add("/simple/demo/", body or page(), JSON_TYPE, headers=headers)


def filenames(cache: Path, clock: Clock, index_url: str, **settings: Any) -> list[str]:
    """The demo files a new client (a new process) sees."""
    environ = settings.pop("environ", {})
    client = SimpleIndexClient(
        IndexSettings(index_url=index_url, **settings),
        timeout=5,
        environ=environ,
        page_cache=cache,
        clock=clock,
    )
    with client:
        return [f.filename for f in client.project_files("demo")]


def entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*")) if cache.exists() else []


# -- the rules as data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=600, public"}, 600),
        ({"cache-control": "public, max-age=600", "age": "100"}, 500),
        ({"cache-control": "max-age=600", "age": "100, 7"}, 500),  # first member counts
        ({"cache-control": "max-age=600", "age": "soon"}, 600),  # invalid Age: ignored
        ({"cache-control": "MAX-AGE = 60"}, 60),
        ({"cache-control": 'max-age="60"'}, 60),
        ({"cache-control": "max-age=60, max-age=600"}, 60),  # first occurrence
        ({"cache-control": "s-maxage=300"}, 300),
        ({"cache-control": "max-age=60, s-maxage=300"}, 60),
        ({"cache-control": "max-age=99999999999999"}, 2**31),
        ({"cache-control": "max-age=600", "age": "900", "etag": '"x"'}, 0),
        ({"cache-control": "no-cache, max-age=600", "etag": '"x"'}, 0),
        ({"cache-control": "max-age=-1", "etag": '"x"'}, 0),
        ({"cache-control": "max-age=600", "age": "900"}, None),  # no validator: useless
        ({}, None),
        ({"cache-control": "no-store junk, max-age=600"}, None),  # malformed: the safe side
        ({"cache-control": "max-age=600, NO-STORE"}, None),
        ({"cache-control": 'private="a, no-store", max-age=5'}, 5),  # a quoted field name
        ({"cache-control": "max-age=600", "vary": "Accept, *"}, None),
        ({"cache-control": "max-age=600", "vary": "Accept, Accept-Encoding"}, 600),
    ],
)
def test_freshness(headers: dict[str, str], expected: float | None) -> None:
    assert freshness(headers) == expected


# -- freshness ---------------------------------------------------------------------------------


def test_a_fresh_page_is_served_from_disk_without_a_request(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    serve(fake, PYPI_HEADERS)
    index = fake.url + "/simple/"
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    clock.advance(599)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert fake.paths() == ["/simple/demo/"]
    (entry,) = entries(tmp_path)
    assert entry.name.endswith(".page") and len(entry.stem) == 64  # sha256 hex
    assert fake.url.encode() in entry.read_bytes()  # plain text: see the credential tests


def test_age_shortens_freshness_and_s_maxage_counts(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    serve(fake, {"Cache-Control": "public, s-maxage=600", "Age": "590"})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    clock.advance(9)
    filenames(tmp_path, clock, index)
    assert len(fake.seen) == 1
    clock.advance(1)  # 590 + 10 = 600: stale, and no validator: fetched again
    filenames(tmp_path, clock, index)
    assert len(fake.seen) == 2
    assert "if-none-match" not in fake.seen[1].headers


def test_a_clock_that_went_backwards_makes_the_entry_stale(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    serve(fake, {"Cache-Control": "max-age=600"})
    filenames(tmp_path, clock, fake.url + "/simple/")
    clock.advance(-1)
    filenames(tmp_path, clock, fake.url + "/simple/")
    assert len(fake.seen) == 2


# -- revalidation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "condition"),
    [
        ({"ETag": '"v1"'}, ("if-none-match", '"v1"')),
        (
            {"Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"},
            ("if-modified-since", "Wed, 01 Jan 2025 00:00:00 GMT"),
        ),
    ],
)
def test_a_stale_page_is_revalidated_and_a_304_reuses_the_body(
    fake: FakeIndex,
    tmp_path: Path,
    clock: Clock,
    validator: dict[str, str],
    condition: tuple[str, str],
) -> None:
    headers = {"Cache-Control": "max-age=60", **validator}
    serve(fake, headers)
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    # The index now has another body under the same validator: a 304 means the stored one
    # is used, which proves that the body came from disk.
    serve(fake, headers, page(version="2.0"))
    clock.advance(61)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake.seen) == 2
    name, value = condition
    assert fake.seen[1].headers[name] == value
    # the 304 refreshed the entry: fresh for another 60 s without a request
    clock.advance(59)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake.seen) == 2


def test_a_304_updates_the_stored_headers(fake: FakeIndex, tmp_path: Path, clock: Clock) -> None:
    serve(fake, {"Cache-Control": "max-age=60", "ETag": '"v1"'})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    serve(fake, {"Cache-Control": "max-age=600", "ETag": '"v1"'})
    clock.advance(61)
    filenames(tmp_path, clock, index)  # 304 with max-age=600
    clock.advance(300)
    filenames(tmp_path, clock, index)
    assert len(fake.seen) == 2
    serve(fake, {"Cache-Control": "no-store", "ETag": '"v1"'})
    clock.advance(301)
    filenames(tmp_path, clock, index)  # 304 says no-store now: the entry is removed
    assert entries(tmp_path) == []


def test_a_changed_page_replaces_the_entry(fake: FakeIndex, tmp_path: Path, clock: Clock) -> None:
    serve(fake, {"Cache-Control": "max-age=60", "ETag": '"v1"'})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    serve(fake, {"Cache-Control": "max-age=60", "ETag": '"v2"'}, page(version="2.0"))
    clock.advance(61)
    assert filenames(tmp_path, clock, index) == ["demo-2.0-py3-none-any.whl"]  # 200
    clock.advance(30)
    assert filenames(tmp_path, clock, index) == ["demo-2.0-py3-none-any.whl"]  # from disk
    assert len(fake.seen) == 2 and len(entries(tmp_path)) == 1


@pytest.mark.parametrize(
    ("headers", "stored", "second"),
    [
        # revalidated on every use
        ({"Cache-Control": "max-age=0", "ETag": '"v1"'}, True, "304"),
        ({"Cache-Control": "no-cache, max-age=600", "ETag": '"v1"'}, True, "304"),
        ({"ETag": '"v1"'}, True, "304"),  # no lifetime: no heuristic freshness
        ({"Cache-Control": "max-age=600", "Age": "600", "ETag": '"v1"'}, True, "304"),
        ({"Cache-Control": "max-age=soon", "ETag": '"v1"'}, True, "304"),  # invalid: stale
        # nothing to reuse: not stored, fetched again
        ({}, False, "200"),
        ({"Cache-Control": "max-age=0"}, False, "200"),
        ({"Cache-Control": "no-cache"}, False, "200"),
        # never stored
        ({"Cache-Control": "no-store, max-age=600", "ETag": '"v1"'}, False, "200"),
        ({"Cache-Control": "max-age=600", "Vary": "*"}, False, "200"),
        # private: this is a private cache, and credentialed pages are never stored anyway
        ({"Cache-Control": "private, max-age=600"}, True, None),
    ],
)
def test_cache_control_rules(
    fake: FakeIndex,
    tmp_path: Path,
    clock: Clock,
    headers: dict[str, str],
    stored: bool,
    second: str | None,
) -> None:
    serve(fake, headers)
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    assert bool(entries(tmp_path)) == stored
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]  # same instant
    if second is None:
        assert len(fake.seen) == 1
    else:
        assert len(fake.seen) == 2
        assert ("if-none-match" in fake.seen[1].headers) == (second == "304")


def test_no_store_removes_an_older_entry(fake: FakeIndex, tmp_path: Path, clock: Clock) -> None:
    serve(fake, {"Cache-Control": "max-age=60"})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    assert entries(tmp_path)
    serve(fake, {"Cache-Control": "no-store"})
    clock.advance(61)
    filenames(tmp_path, clock, index)
    assert entries(tmp_path) == []


def test_a_missing_project_is_not_cached(fake: FakeIndex, tmp_path: Path, clock: Clock) -> None:
    serve(fake, {"Cache-Control": "max-age=60", "ETag": '"v1"'})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    fake.add("/simple/demo/", "gone", "text/plain", status=404, headers=PYPI_HEADERS)
    clock.advance(61)
    assert filenames(tmp_path, clock, index) == []
    assert entries(tmp_path) == []  # the old entry went with the page
    assert filenames(tmp_path, clock, index) == []
    assert len(fake.seen) == 3


# -- credentials -------------------------------------------------------------------------------


def assert_nothing_on_disk(cache: Path) -> None:
    for path in entries(cache):
        assert SECRET not in path.name
        assert path.is_dir() or SECRET.encode() not in path.read_bytes()
    assert entries(cache) == []  # no file at all


@pytest.mark.parametrize("how", ["userinfo", "netrc"])
def test_credentialed_pages_never_touch_the_disk(
    fake_auth: FakeIndex, tmp_path: Path, clock: Clock, how: str
) -> None:
    serve(fake_auth, PYPI_HEADERS)
    cache = tmp_path / "cache"
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
    if how == "userinfo":
        index, environ = f"http://alice:{SECRET}@{fake_auth.netloc}/simple/", {}
    else:
        index, environ = fake_auth.url + "/simple/", {"NETRC": str(netrc)}
    for _ in range(2):
        assert filenames(cache, clock, index, environ=environ) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake_auth.seen) == 2  # no reuse either
    assert not any("if-none-match" in s.headers for s in fake_auth.seen)
    assert_nothing_on_disk(cache)


def test_an_entry_is_not_used_once_credentials_apply(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    """A netrc entry added since: the index may show that user more than the public page."""
    serve(fake, PYPI_HEADERS)
    index = fake.url + "/simple/"
    cache = tmp_path / "cache"
    filenames(cache, clock, index)
    stored = {path: path.read_bytes() for path in entries(cache)}
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
    filenames(cache, clock, index, environ={"NETRC": str(netrc)})
    assert len(fake.seen) == 2
    assert "authorization" in fake.seen[1].headers
    assert "if-none-match" not in fake.seen[1].headers  # not even revalidated
    assert {path: path.read_bytes() for path in entries(cache)} == stored  # untouched


def test_a_redirect_to_a_credentialed_host_is_not_cached(
    fake: FakeIndex, fake_auth: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    """A public page that redirects to a private index: its answer came with credentials."""
    serve(fake_auth, PYPI_HEADERS)
    fake.add(
        "/simple/demo/",
        b"",
        status=302,
        headers={"Location": f"{fake_auth.url}/simple/demo/", **PYPI_HEADERS},
    )
    private = f"http://alice:{SECRET}@{fake_auth.netloc}/simple/"
    files = filenames(tmp_path, clock, fake.url + "/simple/", extra_index_urls=(private,))
    assert files == ["demo-1.0-py3-none-any.whl"]
    assert "authorization" in fake_auth.seen[0].headers
    assert_nothing_on_disk(tmp_path)


def test_a_page_whose_links_carry_credentials_is_not_cached(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    link = f"http://bob:{SECRET}@{fake.netloc}/files/demo-1.0-py3-none-any.whl"
    fake.add("/simple/demo/", f'<a href="{link}">w</a>', headers=PYPI_HEADERS)
    assert filenames(tmp_path, clock, fake.url + "/simple/") == ["demo-1.0-py3-none-any.whl"]
    assert_nothing_on_disk(tmp_path)


# -- through an HTTP proxy (http_proxy) --------------------------------------------------------


def test_revalidation_through_a_proxy(
    fake: FakeIndex, tmp_path: Path, clock: Clock, loopback_proxy: LoopbackProxy
) -> None:
    serve(fake, {"Cache-Control": "max-age=60", "ETag": '"v1"'})
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    filenames(tmp_path, clock, index)
    assert len(fake.seen) == 1
    clock.advance(61)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]  # 304
    assert fake.seen[1].headers["if-none-match"] == '"v1"'
    clock.advance(59)
    filenames(tmp_path, clock, index)
    assert len(fake.seen) == 2
    assert loopback_proxy.targets() == [f"{index}demo/"] * 2  # both went through the proxy


def test_a_redirected_page_through_a_proxy_follows_the_direct_rules(
    fake: FakeIndex,
    fake_auth: FakeIndex,
    tmp_path: Path,
    clock: Clock,
    loopback_proxy: LoopbackProxy,
) -> None:
    """Redirects are followed hop by hop through the proxy too: a credential-free chain is
    cached, one that reached a credentialed origin is not."""
    serve(fake, PYPI_HEADERS)
    fake.add("/old/demo/", b"", status=301, headers={"Location": "/simple/demo/"})
    assert filenames(tmp_path, clock, fake.url + "/old/") == ["demo-1.0-py3-none-any.whl"]
    assert len(entries(tmp_path)) > 0
    assert loopback_proxy.targets() == [f"{fake.url}/old/demo/", f"{fake.url}/simple/demo/"]

    private = tmp_path / "private"
    fake_auth.add("/simple/demo/", page(), JSON_TYPE, headers=PYPI_HEADERS)
    fake.add(
        "/to-private/demo/", b"", status=302, headers={"Location": f"{fake_auth.url}/simple/demo/"}
    )
    files = filenames(
        private,
        clock,
        fake.url + "/to-private/",
        extra_index_urls=(f"http://alice:{SECRET}@{fake_auth.netloc}/simple/",),
    )
    assert files == ["demo-1.0-py3-none-any.whl"]
    assert "authorization" not in fake.seen[-1].headers
    assert "authorization" in fake_auth.seen[0].headers
    assert_nothing_on_disk(private)


# -- robustness --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-5],  # truncated body
        lambda data: data[:10],  # truncated header
        lambda data: b"",
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit of the body
        lambda data: data.replace(b"demo-1.0-py3", b"demo-1.1-py3"),  # still parses
        lambda data: data.replace(b'"format": 1', b'"format": 99'),
        lambda data: b"\x00\xff garbage\n" + data,
        lambda data: b"[]\n" + data,
    ],
    ids=["body", "header", "empty", "bitflip", "edit", "format", "garbage", "not-an-object"],
)
def test_a_damaged_entry_is_a_miss_and_is_replaced(
    fake: FakeIndex, tmp_path: Path, clock: Clock, damage: Any
) -> None:
    serve(fake, PYPI_HEADERS)
    index = fake.url + "/simple/"
    filenames(tmp_path, clock, index)
    (entry,) = entries(tmp_path)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake.seen) == 2
    assert "if-none-match" not in fake.seen[1].headers  # a damaged entry has no validator
    assert entry.read_bytes() == good  # replaced (same instant, same answer)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake.seen) == 2


def test_an_unusable_cache_folder_only_costs_the_cache(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    serve(fake, PYPI_HEADERS)
    for _ in range(2):
        assert filenames(blocker / "cache", clock, fake.url + "/simple/") == [
            "demo-1.0-py3-none-any.whl"
        ]
    assert len(fake.seen) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_concurrent_processes_share_the_folder(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    """Clients with their own memory write the same entry at once: one whole entry results."""
    serve(fake, PYPI_HEADERS)
    index = fake.url + "/simple/"
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(filenames(tmp_path, clock, index))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [["demo-1.0-py3-none-any.whl"]] * 8
    assert [p.suffix for p in entries(tmp_path)] == [".page"]  # no temporary file left
    requests = len(fake.seen)
    assert filenames(tmp_path, clock, index) == ["demo-1.0-py3-none-any.whl"]
    assert len(fake.seen) == requests


def test_one_fetch_per_page_per_client_still(fake: FakeIndex, tmp_path: Path) -> None:
    serve(fake, {})  # not storable: only the memory cache can help
    client = SimpleIndexClient(
        IndexSettings(index_url=fake.url + "/simple/"), timeout=5, environ={}, page_cache=tmp_path
    )
    threads = [threading.Thread(target=client.project_files, args=("demo",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.paths() == ["/simple/demo/"]


# -- find-links --------------------------------------------------------------------------------


def test_url_find_links_follow_the_same_rules(
    fake: FakeIndex, tmp_path: Path, clock: Clock
) -> None:
    fake.add("/links/", '<a href="/files/demo-1.0-py3-none-any.whl">w</a>', headers=PYPI_HEADERS)
    cache = tmp_path / "cache"
    for _ in range(2):
        files = filenames(cache, clock, fake.url + "/simple/", find_links=(fake.url + "/links/",))
        assert files == ["demo-1.0-py3-none-any.whl"]
    # the index page (404, not cached) twice, the links page once
    assert fake.paths() == ["/simple/demo/", "/links/", "/simple/demo/"]


def test_local_find_links_are_never_cached(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "demo-1.0-py3-none-any.whl").write_bytes(b"")
    html = tmp_path / "links.html"
    html.write_text('<a href="elsewhere/demo-1.0-py3-none-any.whl">w</a>')
    cache = tmp_path / "cache"
    client = SimpleIndexClient(
        IndexSettings(no_index=True, find_links=(str(folder), str(html))),
        environ={},
        page_cache=cache,
        clock=clock,
    )
    assert len(client.project_files("demo")) == 2
    assert entries(cache) == []


# -- the filtering view ------------------------------------------------------------------------


def test_the_view_passes_the_cache_to_its_client(fake: FakeIndex, tmp_path: Path) -> None:
    serve(fake, PYPI_HEADERS)
    settings = IndexSettings(index_url=fake.url + "/simple/")
    target = Target.for_runtime("python3.11", "x86_64")
    for _ in range(2):  # two builds, one view each
        view = FilteringIndexView(settings, target, port=0, prewarm=False, page_cache=tmp_path)
        with view as local:
            names = [f["filename"] for f in page_files(f"{local.index_url}demo/")]
        assert names == ["demo-1.0-py3-none-any.whl"]
    assert fake.paths() == ["/simple/demo/"]


def test_the_view_refuses_a_cache_it_would_not_use(tmp_path: Path) -> None:
    settings = IndexSettings()
    client = SimpleIndexClient(settings, environ={})
    target = Target.for_runtime("python3.11", "x86_64")
    with pytest.raises(UsageError, match="pass page_cache to the SimpleIndexClient"):
        FilteringIndexView(settings, target, client=client, page_cache=tmp_path)
