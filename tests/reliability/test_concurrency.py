"""Concurrency (issue 8, item 3): two ``lambda-wheels build`` processes sharing one cache.

The index answers every request after a delay, so that two builds started together really are
in flight at the same time on any machine; nothing here compares durations.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer

from .conftest import Packages, Workspace, build_command, tree_digest

pytestmark = pytest.mark.e2e


def _start(out: Path, index_url: str, reqs: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        build_command(out, index_url, *reqs),
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"build failed:\n{out}\n{err}"


@pytest.fixture
def slow_index(packages: Packages, ws: Workspace) -> Iterator[IndexServer]:
    with IndexServer(packages.folder.iterdir(), delay=0.4) as server:
        yield server


def test_same_inputs_at_once_install_once(
    tmp_path: Path, ws: Workspace, slow_index: IndexServer
) -> None:
    reqs = ("lw-many", "six==1.17.0")
    a, b = tmp_path / "a", tmp_path / "b"
    _finish(_start(a, slow_index.url, reqs), _start(b, slow_index.url, reqs))

    starts = ws.events("install-start")
    assert len(starts) == 1, starts
    installer_pid = starts[0]["pid"]
    hits = ws.events("cache-hit")
    assert [h["pid"] for h in hits] != [] and all(h["pid"] != installer_pid for h in hits)
    assert ws.events("cache-invalid") == []
    assert tree_digest(a) == tree_digest(b)
    assert len(ws.cache_entries()) == 1
    # the second build waited on the lock: its cache hit comes after the install finished
    (finish,) = ws.events("install-finish")
    assert all(float(str(h["time"])) >= float(str(finish["time"])) for h in hits)


def test_different_inputs_proceed_in_parallel(
    tmp_path: Path, ws: Workspace, slow_index: IndexServer
) -> None:
    first = _start(tmp_path / "a", slow_index.url, ("lw-many",))
    second = _start(tmp_path / "b", slow_index.url, ("six==1.17.0", "lw-app"))
    _finish(first, second)

    starts = {str(e["key"]): float(str(e["time"])) for e in ws.events("install-start")}
    finishes = {str(e["key"]): float(str(e["time"])) for e in ws.events("install-finish")}
    assert len(starts) == 2 and starts.keys() == finishes.keys()
    (k1, s1), (k2, s2) = sorted(starts.items())
    # each install started before the other one finished: neither waited for the other
    assert s1 < finishes[k2] and s2 < finishes[k1], (starts, finishes)
    assert len(ws.cache_entries()) == 2
    assert (tmp_path / "a" / "lw_many").is_dir() and (tmp_path / "b" / "lw_dep").is_dir()
