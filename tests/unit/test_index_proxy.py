"""The filtering view of the simple API: what uv sees for a target, credentials, errors, shutdown.

Offline: upstream is a local ``FakeIndex``; the uv test installs tiny wheels built here.
``run_uv`` is reused by the e2e tests.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import IndexUnavailableError, UsageError
from lambda_wheels_cdk.index.server import PREFERRED_PORTS
from lambda_wheels_cdk.index.view import (
    FilteringIndexView,
    needs_filtering_view,
    uv_superset_platform,
    with_no_proxy,
)
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.runtimes import UV_MANYLINUX_GLIBC
from lambda_wheels_cdk.target.target import Target, all_targets

from .test_index import (
    JSON_TYPE,
    SECRET,
    FakeIndex,
    assert_no_secret,
    free_port,
    json_page,
    make_wheel,
    sha256_of,
)

AL2_X86 = Target.for_runtime("python3.11", "x86_64")
AL2_ARM = Target.for_runtime("python3.11", "arm64")
AL2023_ARM = Target.for_runtime("python3.12", "arm64")
HTML = "text/html"
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)

#: One project with every kind of file. For python3.11/x86_64 (glibc 2.26) exactly these fit.
MIXED = {
    "demo-1.0-cp311-cp311-manylinux_2_24_x86_64.whl": True,
    "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": True,
    "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl": False,  # glibc 2.28 > 2.26
    "demo-1.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl": True,
    "demo-1.0-cp311-cp311-linux_x86_64.whl": False,  # unaudited host build
    "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl": False,
    "demo-1.0-cp311-cp311-macosx_11_0_x86_64.whl": False,
    "demo-1.0-cp311-cp311-win_amd64.whl": False,
    "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl": False,
    "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl": False,
    "demo-1.0-cp39-abi3-manylinux_2_17_x86_64.whl": True,
    "demo-1.0-py3-none-any.whl": True,
    "demo-1.0.tar.gz": True,  # sdists stay unless allow_sdists=False
}


def mixed_page(base: str = "/files/") -> str:
    return json_page(
        "demo",
        [
            {
                "filename": name,
                "url": base + name,
                "hashes": {"sha256": f"{i:064x}"},
                "requires-python": ">=3.9",
                "core-metadata": {"sha256": f"{i + 100:064x}"},
                "size": 10 + i,
                "upload-time": "2025-01-01T00:00:00Z",
                **(
                    {"yanked": "bad build"}
                    if name.endswith("abi3-manylinux_2_17_x86_64.whl")
                    else {}
                ),
            }
            for i, name in enumerate(MIXED)
        ],
    )


def get(url: str, accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


def page_files(url: str, accept: str = UV_ACCEPT) -> list[dict[str, object]]:
    status, content_type, body = get(url, accept)
    assert status == 200 and content_type == JSON_TYPE
    files: list[dict[str, object]] = json.loads(body)["files"]
    return files


# -- uv ----------------------------------------------------------------------------------------


def uv_env(cache: Path | None) -> dict[str, str]:
    """The host environment without PIP_*/UV_* (this machine has pip config), uv config off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["UV_NO_CONFIG"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if cache is not None:
        env["UV_CACHE_DIR"] = str(cache)
    elif "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    return with_no_proxy(env)


def uv_index_args(settings: IndexSettings) -> list[str]:
    args: list[str] = []
    if settings.no_index:
        args.append("--no-index")
    elif settings.index_url:
        args += ["--default-index", settings.index_url]
    for url in settings.extra_index_urls:
        args += ["--index", url]
    for link in settings.find_links:
        args += ["--find-links", link]
    return args


def run_uv(
    settings: IndexSettings,
    platform: str,
    target: Target,
    dest: Path,
    requirements: Sequence[str],
    *,
    cache: Path | None = None,
    retries: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``uv pip install --target DEST`` for ``target`` with ``--python-platform platform``."""
    from uv import find_uv_bin

    argv = [
        find_uv_bin(),
        "pip",
        "install",
        "--target",
        str(dest),
        "--python",
        sys.executable,
        "--python-version",
        target.python_version,
        "--python-platform",
        platform,
        "--only-binary",
        ":all:",
        "--no-compile-bytecode",
        "--no-installer-metadata",
        *uv_index_args(settings),
        *requirements,
    ]
    env = uv_env(cache)
    if retries is not None:
        env["UV_HTTP_RETRIES"] = str(retries)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def installed(dest: Path) -> dict[str, str]:
    """{distribution name: version} from the ``*.dist-info`` folders in ``dest``."""
    found: dict[str, str] = {}
    for info in dest.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        found[name.lower().replace("_", "-")] = version
    return found


def wheel_tags(dest: Path) -> dict[str, list[str]]:
    """{dist-info folder: the Tag lines of its WHEEL file}."""
    return {
        info.name: [
            line.split(":", 1)[1].strip()
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        ]
        for info in dest.glob("*.dist-info")
    }


# -- policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", list(all_targets()), ids=str)
def test_uv_superset_platform(target: Target) -> None:
    platform = uv_superset_platform(target)
    arch, _, tag = platform.partition("-")
    assert arch == target.arch
    minor = int(tag.rsplit("_", 1)[1])
    assert minor >= target.glibc.minor  # a superset: no fitting wheel is lost
    assert not [g for g in UV_MANYLINUX_GLIBC if target.glibc.minor <= g.minor < minor]  # smallest
    expected = {"al2": "manylinux_2_28", "al2023": "manylinux_2_34"}[target.os.name]
    assert tag == expected
    # uv's --python-platform names manylinux_2_34 but not 2_26 (its CLI reference): exact on
    # AL2023, a superset on AL2
    assert target.uv_platform_is_exact is (target.os.name == "al2023")


@pytest.mark.parametrize(
    ("target", "settings", "needed"),
    [
        (AL2_X86, IndexSettings(), True),  # uv cannot say glibc 2.26
        (AL2023_ARM, IndexSettings(), False),  # PyPI only, exact platform
        (AL2023_ARM, IndexSettings(index_url="https://pypi.org/simple/"), False),
        (AL2023_ARM, IndexSettings(index_url=f"https://u:{SECRET}@pypi.org/simple"), False),
        (AL2023_ARM, IndexSettings(index_url="https://corp.example/simple/"), True),
        (AL2023_ARM, IndexSettings(extra_index_urls=("https://corp.example/simple/",)), True),
        (AL2023_ARM, IndexSettings(find_links=("/wheels",)), True),  # may hold linux_* wheels
        (AL2023_ARM, IndexSettings(index_url="https://corp.example/simple/", no_index=True), False),
    ],
)
def test_needs_filtering_view(target: Target, settings: IndexSettings, needed: bool) -> None:
    assert needs_filtering_view(target, settings) is needed


def test_with_no_proxy_keeps_existing_entries() -> None:
    env = with_no_proxy({"NO_PROXY": "corp.example", "HTTPS_PROXY": "http://proxy:3128"})
    assert env["NO_PROXY"] == "corp.example,127.0.0.1,localhost"
    assert env["no_proxy"] == "127.0.0.1,localhost"
    assert with_no_proxy(env) == env


# -- filtering ---------------------------------------------------------------------------------


def test_only_fitting_wheels_are_served_with_their_metadata(tmp_path: Path) -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", mixed_page(), JSON_TYPE)
        view = FilteringIndexView(IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86)
        with view as local:
            project = f"{local.index_url}demo/"
            files = page_files(project)
            expected = [name for name, fits in MIXED.items() if fits]
            assert [f["filename"] for f in files] == expected
            # everything but the tag decision passes through unchanged
            upstream_files = {f["filename"]: f for f in json.loads(mixed_page())["files"]}
            for file in files:
                original = upstream_files[file["filename"]]
                assert file["url"] == f"{upstream.url}/files/{file['filename']}"  # not proxied
                for key in ("hashes", "requires-python", "core-metadata", "size", "upload-time"):
                    assert file[key] == original[key]
                assert file.get("yanked", False) == original.get("yanked", False)
            status, content_type, body = get(project, "text/html")
            assert status == 200 and content_type.startswith("text/html")
            html = body.decode()
            assert html.count("<a ") == len(expected)
            assert 'data-yanked="bad build"' in html and 'data-requires-python="&gt;=3.9"' in html
            assert 'data-core-metadata="sha256=' in html and "#sha256=" in html
            assert get(project)[1].startswith("text/html")  # no Accept: HTML (PEP 691)
        # upstream was asked once although three pages were served
        assert upstream.paths() == ["/simple/demo/"]
        report = view.report()["demo"]
        assert (report.files_seen, report.files_hidden) == (
            len(MIXED),
            MIXED.__len__() - len(expected),
        )


def test_sdists_hidden_on_request() -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", mixed_page(), JSON_TYPE)
        settings = IndexSettings(index_url=upstream.url + "/simple/")
        with FilteringIndexView(settings, AL2_X86, allow_sdists=False) as local:
            names = [f["filename"] for f in page_files(f"{local.index_url}demo/")]
        assert "demo-1.0.tar.gz" not in names and names


def test_arm64_sees_aarch64_wheels_only() -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", mixed_page(), JSON_TYPE)
        with FilteringIndexView(
            IndexSettings(index_url=upstream.url + "/simple/"), AL2_ARM
        ) as local:
            names = [f["filename"] for f in page_files(f"{local.index_url}demo/")]
    assert names == [
        "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
    ]


def test_settings_are_rewritten_with_the_same_type_and_order(tmp_path: Path) -> None:
    settings = IndexSettings(
        index_url=f"https://alice:{SECRET}@corp.example/simple/",
        extra_index_urls=("https://pypi.org/simple/",),
        find_links=(str(tmp_path), f"https://bob:{SECRET}@links.example/wheels/"),
    )
    view = FilteringIndexView(settings, AL2_X86, port=0, prewarm=False)
    with view as local:
        assert type(local) is IndexSettings
        base = view.base_url
        assert local.index_url is not None and local.index_url.startswith(base)
        assert local.index_url.endswith("/simple/")
        assert [u.startswith(base) for u in local.extra_index_urls] == [True]
        assert [u.startswith(base) and u.endswith("/links/") for u in local.find_links] == [
            True
        ] * 2
        assert len({local.index_url, *local.extra_index_urls, *local.find_links}) == 4
        assert_no_secret(local, local.index_url, local.extra_index_urls, local.find_links)
    with pytest.raises(UsageError, match="not running"):
        view.base_url  # noqa: B018
    with FilteringIndexView(
        IndexSettings(no_index=True, find_links=(str(tmp_path),)), AL2_X86
    ) as local:
        assert (local.index_url, local.extra_index_urls, local.no_index) == (None, (), True)


def test_urls_are_stable_across_runs() -> None:
    """uv keys its wheel cache by index URL: the same settings give the same URL each run."""
    settings = IndexSettings(index_url="https://corp.example/simple/")
    with FilteringIndexView(settings, AL2_X86, prewarm=False) as first:
        pass
    with FilteringIndexView(settings, AL2_ARM, prewarm=False) as second:
        pass
    assert first.index_url is not None and second.index_url is not None
    assert first.index_url.split("/", 3)[3] == second.index_url.split("/", 3)[3]
    port = int(first.index_url.split(":")[2].split("/")[0])
    if port in PREFERRED_PORTS:  # another process may hold them; then any free port is used
        assert first.index_url == second.index_url


def test_credentialed_urls_are_stable_but_unguessable() -> None:
    """The local path of a private index depends on its secret (one-way): stable for the same
    token (uv's cache stays warm), different for another token or none."""

    def path(index_url: str) -> str:
        view = FilteringIndexView(
            IndexSettings(index_url=index_url), AL2_X86, port=0, prewarm=False
        )
        with view as local:
            assert local.index_url is not None
            return local.index_url.split("/", 3)[3]

    same = {path(f"https://alice:{SECRET}@corp.example/simple/") for _ in range(2)}
    assert len(same) == 1
    others = {
        path("https://corp.example/simple/"),
        path("https://alice:other@corp.example/simple/"),
    }
    assert not same & others and len(others) == 2
    assert_no_secret(same)


def test_requests_for_another_host_name_are_refused() -> None:
    """DNS rebinding: a page in a browser must not reach the view under its own host name."""
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
        view = FilteringIndexView(
            IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86, port=0
        )
        with view as local:
            port = int(view.base_url.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request(
                    "GET", f"{local.index_url}demo/", headers={"Host": "evil.example"}
                )
                with connection.getresponse() as response:
                    assert response.status == 421
            finally:
                connection.close()
            assert page_files(f"{local.index_url}demo/") == []
        assert upstream.seen[-1].path == "/simple/demo/" and len(upstream.seen) == 1


# -- credentials -------------------------------------------------------------------------------


def test_credentialed_upstream_is_proxied_without_exposing_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0", "cp311-cp311-manylinux_2_24_x86_64")
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    with FakeIndex(auth=("alice", SECRET)) as private, FakeIndex() as cdn:
        private.add(
            "/simple/demo/",
            f"""<a href="/packages/{wheel.name}#sha256={sha256_of(wheel)}"
                   data-core-metadata="true">w</a>
                <a href="{cdn.url}/public/demo-0.9-py3-none-any.whl">public</a>""",
        )
        private.add(f"/packages/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
        private.add(f"/packages/{wheel.name}.metadata", metadata, "application/octet-stream")
        settings = IndexSettings(index_url=f"http://alice:{SECRET}@{private.netloc}/simple/")
        view = FilteringIndexView(settings, AL2_X86, port=0)
        with view as local:
            status, _, body = get(f"{local.index_url}demo/", "text/html")
            assert status == 200
            files = page_files(f"{local.index_url}demo/")
            proxied, public = (f["url"] for f in files)
            assert isinstance(proxied, str) and proxied.startswith(view.base_url)
            assert public == f"{cdn.url}/public/demo-0.9-py3-none-any.whl"  # public: left alone
            assert get(proxied) == (200, "application/octet-stream", wheel.read_bytes())
            assert get(proxied + ".metadata")[2] == metadata
            assert get(proxied.replace("demo-1.0", "other-1.0"))[0] == 404
            assert_no_secret(local, body, files, caplog.text)
        assert {s.path for s in private.seen} == {
            "/simple/demo/",
            f"/packages/{wheel.name}",
            f"/packages/{wheel.name}.metadata",
        }
        assert cdn.seen == []


# -- errors and lifecycle ----------------------------------------------------------------------


def test_upstream_errors_become_502_with_a_redacted_body() -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/broken/", "boom", "text/plain", status=500)
        settings = IndexSettings(index_url=f"http://u:{SECRET}@{upstream.netloc}/simple/")
        view = FilteringIndexView(settings, AL2_X86, port=0)
        with view as local:
            assert get(f"{local.index_url}absent/", UV_ACCEPT)[0] == 404
            status, _, body = get(f"{local.index_url}broken/", UV_ACCEPT)
            assert get(view.base_url + "/nowhere/simple/x/")[0] == 404
        assert status == 502
        assert f"http://u:***@{upstream.netloc}/simple/" in body.decode()
        assert "HTTP 500" in body.decode()
        (error,) = view.upstream_errors
        with pytest.raises(IndexUnavailableError) as raised:
            view.raise_for_upstream_errors()
        assert raised.value is error
        assert_no_secret(body, error)


def test_refused_upstream_is_reported() -> None:
    settings = IndexSettings(index_url=f"http://127.0.0.1:{free_port()}/simple/")
    view = FilteringIndexView(settings, AL2_X86, port=0)
    with view as local:
        assert get(f"{local.index_url}demo/", UV_ACCEPT)[0] == 502
    assert "connection refused" in str(view.upstream_errors[0])


def test_concurrent_pages_are_fetched_once_each() -> None:
    names = [f"p{i}" for i in range(12)]
    with FakeIndex() as upstream:
        for name in names:
            upstream.add(
                f"/simple/{name}/",
                json_page(
                    name,
                    [
                        {
                            "filename": f"{name}-1.0-py3-none-any.whl",
                            "url": f"/f/{name}-1.0-py3-none-any.whl",
                            "hashes": {},
                        }
                    ],
                ),
                JSON_TYPE,
            )
        with (
            FilteringIndexView(
                IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86
            ) as local,
            ThreadPoolExecutor(max_workers=12) as pool,
        ):
            pages = list(pool.map(lambda n: page_files(f"{local.index_url}{n}/"), names * 3))
        assert [p[0]["filename"] for p in pages] == [f"{n}-1.0-py3-none-any.whl" for n in names * 3]
        assert sorted(upstream.paths()) == sorted(f"/simple/{n}/" for n in names)


def test_shutdown_is_clean_with_an_idle_keep_alive_connection() -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", json_page("demo", []), JSON_TYPE)
        view = FilteringIndexView(
            IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86, port=0
        )
        with view as local:
            port = int(view.base_url.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", f"{local.index_url}demo/", headers={"Accept": UV_ACCEPT})
            with connection.getresponse() as response:
                assert response.status == 200
                response.read()
            started = time.monotonic()
        assert time.monotonic() - started < 2  # did not wait for the idle connection to time out
        connection.close()
        assert not any(t.name.startswith("lambda-wheels-view") for t in threading.enumerate())
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{local.index_url}demo/", timeout=2)
        view.close()  # idempotent


# -- find-links --------------------------------------------------------------------------------


def test_find_links_folder_is_filtered_and_served(tmp_path: Path) -> None:
    links = tmp_path / "links"
    good = make_wheel(links, "demo", "1.0", "cp311-cp311-manylinux_2_24_x86_64")
    make_wheel(links, "demo", "2.0", "cp311-cp311-linux_x86_64")  # a host build
    make_wheel(links, "demo", "3.0", "cp311-cp311-manylinux_2_28_x86_64")
    (links / "demo-0.5.tar.gz").write_bytes(b"sdist")
    with FilteringIndexView(
        IndexSettings(no_index=True, find_links=(str(links),)), AL2_X86
    ) as local:
        (page,) = local.find_links
        status, content_type, body = get(page)
        assert status == 200 and content_type.startswith("text/html")
        hrefs = [part.split('"', 1)[0] for part in body.decode().split('href="')[1:]]
        assert [h.rsplit("/", 1)[1] for h in hrefs] == ["demo-0.5.tar.gz", good.name]
        assert all(h.startswith("http://127.0.0.1:") for h in hrefs)  # served, not file: URLs
        assert get(hrefs[1])[2] == good.read_bytes()
        # uv reads a wheel's metadata with HEAD + Range requests when there is no PEP 658 file
        head = urllib.request.Request(hrefs[1], method="HEAD")
        with urllib.request.urlopen(head, timeout=5) as response:
            assert response.headers["Accept-Ranges"] == "bytes"
            assert int(response.headers["Content-Length"]) == good.stat().st_size
            assert response.read() == b""
        size = good.stat().st_size
        for spec, first, last in [
            ("bytes=0-9", 0, 9),
            ("bytes=-22", size - 22, size - 1),
            ("bytes=5-", 5, size - 1),
        ]:
            ranged = urllib.request.Request(hrefs[1], headers={"Range": spec})
            with urllib.request.urlopen(ranged, timeout=5) as response:
                assert response.status == 206
                assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
                assert response.read() == good.read_bytes()[first : last + 1]


def test_report_and_explain_say_what_was_hidden_and_why() -> None:
    files = [
        {
            "filename": "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "url": "/f/a.whl",
            "hashes": {},
        },
        {
            "filename": "demo-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "url": "/f/b.whl",
            "hashes": {},
        },
        {"filename": "demo-3.0.tar.gz", "url": "/f/demo-3.0.tar.gz", "hashes": {}},
    ]
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", json_page("demo", files), JSON_TYPE)
        upstream.add("/simple/other/", json_page("other", files[:1]), JSON_TYPE)
        view = FilteringIndexView(IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86)
        with view as local:
            page_files(f"{local.index_url}demo/")
        report = view.report()
        assert list(report) == ["demo"]
        assert report["demo"].to_dict() == {
            "name": "demo",
            "files_seen": 3,
            "files_hidden": 1,
            "newest": "3.0",
            "newest_fitting": "1.0",
            "newer": [
                {
                    "version": "3.0",
                    "kind": "sdist-only",
                    "reason": "has no wheel for python3.11/x86_64: it is sdist-only",
                    "needs_glibc": None,
                },
                {
                    "version": "2.0",
                    "kind": "glibc",
                    "reason": "has no wheel for python3.11/x86_64: its Linux wheels need manylinux_2_28+ (Amazon Linux 2 has glibc 2.26)",
                    "needs_glibc": "2.28",
                },
            ],
        }
        message = view.explain("demo", "1.0").message
        assert message is not None and "demo 3.0 is newer but has no wheel" in message
        # a project uv never asked for is looked up upstream
        assert view.explain("other", "1.0").message is None


# -- with uv -----------------------------------------------------------------------------------


def test_uv_through_the_view_installs_the_newest_fitting_wheel(tmp_path: Path) -> None:
    """uv at x86_64-manylinux_2_28 behind the view: neither the too-new nor the linux_ wheel."""
    files = tmp_path / "files"
    wheels = [
        make_wheel(files, "demo", "1.0", "cp311-cp311-manylinux_2_17_x86_64"),
        make_wheel(files, "demo", "2.0", "cp311-cp311-manylinux_2_24_x86_64"),  # fits glibc 2.26
        make_wheel(files, "demo", "3.0", "cp311-cp311-manylinux_2_28_x86_64"),  # needs 2.28
        make_wheel(files, "demo", "4.0", "cp311-cp311-linux_x86_64"),  # host build
    ]
    page = json_page(
        "demo",
        [
            {"filename": w.name, "url": f"/files/{w.name}", "hashes": {"sha256": sha256_of(w)}}
            for w in wheels
        ],
    )
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", page, JSON_TYPE)
        for wheel in wheels:
            upstream.add(f"/files/{wheel.name}", wheel.read_bytes(), "application/octet-stream")
        view = FilteringIndexView(
            IndexSettings(index_url=upstream.url + "/simple/"), AL2_X86, port=0
        )
        with view as local:
            result = run_uv(
                local,
                uv_superset_platform(AL2_X86),
                AL2_X86,
                tmp_path / "out",
                ["demo"],
                cache=tmp_path / "cache",
            )
        assert result.returncode == 0, result.stderr
        assert installed(tmp_path / "out") == {"demo": "2.0"}
        message = view.explain("demo", "2.0").message
        assert message is not None and "demo 4.0 is newer but has no wheel" in message
        assert "only linux_x86_64 wheels" in message
        assert f"/files/{wheels[1].name}" in upstream.paths()


def test_uv_sees_a_clear_failure_when_upstream_fails(tmp_path: Path) -> None:
    with FakeIndex() as upstream:
        upstream.add("/simple/demo/", "down", "text/plain", status=503)
        settings = IndexSettings(index_url=f"http://u:{SECRET}@{upstream.netloc}/simple/")
        view = FilteringIndexView(settings, AL2_X86, port=0)
        with view as local:
            result = run_uv(
                local,
                uv_superset_platform(AL2_X86),
                AL2_X86,
                tmp_path / "out",
                ["demo"],
                cache=tmp_path / "cache",
                retries=0,
            )
    assert result.returncode != 0
    assert "502" in result.stderr
    assert_no_secret(result.stdout, result.stderr)
    with pytest.raises(IndexUnavailableError, match="HTTP 503"):
        view.raise_for_upstream_errors()
