"""Fixtures shared by the index client tests (test_index.py, test_index_cache.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_index import SECRET, FakeIndex


@pytest.fixture
def fake() -> Iterator[FakeIndex]:
    with FakeIndex() as server:
        yield server


@pytest.fixture
def fake_auth() -> Iterator[FakeIndex]:
    with FakeIndex(auth=("alice", SECRET)) as server:
        yield server
