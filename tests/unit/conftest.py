"""Fixtures shared by the index client tests (test_index.py, test_index_cache.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.http_proxy import LoopbackProxy
from .test_index import SECRET, FakeIndex


@pytest.fixture
def fake() -> Iterator[FakeIndex]:
    with FakeIndex() as server:
        yield server


@pytest.fixture
def fake_auth() -> Iterator[FakeIndex]:
    with FakeIndex(auth=("alice", SECRET)) as server:
        yield server


#: Every variable urllib.request.getproxies() reads for http(s), either spelling.
PROXY_VARIABLES = tuple(
    spelling
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for spelling in (name, name.upper())
)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable set (a test sets the ones it needs on the returned monkeypatch)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def loopback_proxy(no_proxy_env: pytest.MonkeyPatch) -> Iterator[LoopbackProxy]:
    """A loopback proxy in ``http_proxy`` and ``https_proxy`` (clients created after it use it)."""
    with LoopbackProxy() as proxy:
        no_proxy_env.setenv("http_proxy", proxy.url)
        no_proxy_env.setenv("https_proxy", proxy.url)
        yield proxy
