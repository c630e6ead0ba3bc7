"""File modes and cache integrity (issue 19, items 8 and 11).

Item 8: every file of a bundle is ``0644``, or ``0755`` when it had any execute bit, and every
folder ``0755`` -- whatever the umask of the machine that built it and whatever mode a file
has in uv's cache (CDK's zip keeps each file's mode, and Lambda runs the code as another user:
it must be able to read it, and nobody should be able to write it). Files shared with uv's cache
are never chmod-ed in place (that would change uv's copy): a shared file with another mode is
replaced by a copy. The cache records each file's mode; a cached file whose mode changed is a
changed entry, rebuilt like one whose bytes changed.

Item 11 (verify mode) is in this module too: ``test_verify_mode_*``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer

from .conftest import CliRun, Workspace

RunCli = Callable[..., CliRun]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.name != "posix", reason="POSIX file modes"),
]


def _modes(root: Path) -> dict[str, int]:
    """Relative path -> permission bits of every file and folder under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        out[path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")] = stat.S_IMODE(
            path.lstat().st_mode
        )
    return out


def _unexpected(root: Path) -> dict[str, str]:
    wrong = {}
    for rel, mode in _modes(root).items():
        allowed = (0o755,) if rel.endswith("/") else (0o644, 0o755)
        if mode not in allowed:
            wrong[rel] = oct(mode)
    return wrong


def _build(run_cli: RunCli, out: Path, index: IndexServer, *args: str) -> CliRun:
    return run_cli(
        "build", "--runtime", "python3.12", "--arch", "x86_64", "--index-url", index.url,
        "-o", str(out), *args,
    )  # fmt: skip


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set this process's umask (the installer child inherits it); restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o002, 0o077, 0o022])
def test_bundle_modes_do_not_depend_on_the_umask(
    mask: int,
    umask: Callable[[int], None],
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "index.py").chmod(0o600)
    (src / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (src / "pkg" / "run.sh").chmod(0o700)
    umask(mask)
    out = tmp_path / "out"
    result = _build(run_cli, out, index, "--source", str(src), "lw-app")
    assert result.code == 0, result.err
    assert _unexpected(out) == {}
    assert stat.S_IMODE((out / "index.py").stat().st_mode) == 0o644  # was 0600: unreadable
    assert stat.S_IMODE((out / "pkg" / "run.sh").stat().st_mode) == 0o755
    (entry,) = ws.cache_entries()
    assert _unexpected(entry / "tree") == {}
    # uv's cache keeps the modes uv gave its files: the bundle has copies, not chmod-ed links
    uv_files = [p for p in (ws.root / "uv-cache").rglob("lw_app/*.py") if p.is_file()]
    assert uv_files and {stat.S_IMODE(p.stat().st_mode) for p in uv_files} == {0o666 & ~mask}


def test_a_cached_file_chmod_0666_is_not_shipped(
    tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    assert _build(run_cli, tmp_path / "a", index, "six==1.17.0").code == 0
    (entry,) = ws.cache_entries()
    cached = entry / "tree" / "six.py"
    cached.chmod(0o666)  # also uv's copy when it is a hard link: the same file
    result = _build(run_cli, tmp_path / "b", index, "six==1.17.0")
    assert result.code == 0, result.err
    assert stat.S_IMODE((tmp_path / "b" / "six.py").stat().st_mode) == 0o644
    assert _unexpected(tmp_path / "b") == {}
    assert [e["reason"] for e in ws.events("cache-invalid")] != []
    assert len(ws.events("install-start")) == 2


def test_a_shared_file_with_another_mode_is_copied_not_chmod_ed(
    tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    """uv's cached copy of a file keeps its mode: the bundle gets a copy with 0644."""
    assert _build(run_cli, tmp_path / "a", index, "six==1.17.0").code == 0
    (entry,) = ws.cache_entries()
    six = entry / "tree" / "six.py"
    if six.stat().st_nlink == 1:
        pytest.skip("uv copied or cloned the file here: nothing is shared with its cache")
    uv_copies = [
        p for p in (ws.root / "uv-cache").rglob("six.py") if p.stat().st_ino == six.stat().st_ino
    ]
    assert uv_copies, "the bundle's six.py is a hard link into uv's cache"
    (uv_copy,) = uv_copies[:1]
    uv_copy.chmod(0o664)  # as uv writes it under umask 002
    result = _build(run_cli, tmp_path / "b", index, "six==1.17.0")
    assert result.code == 0, result.err
    assert stat.S_IMODE((tmp_path / "b" / "six.py").stat().st_mode) == 0o644
    assert stat.S_IMODE(uv_copy.stat().st_mode) == 0o664, "uv's cache was not changed"


# -- item 11: verify mode --------------------------------------------------------------------------


def _tamper_keeping_size_time_and_mode(entry: Path) -> bytes:
    """Rewrite six.py in the cache entry in place with other bytes of the same length, then
    put its modification time back: the record check cannot see it. Returns the original."""
    path = entry / "tree" / "six.py"
    before = path.stat()
    original = path.read_bytes()
    with open(path, "r+b") as fh:  # in place: a hard-linked uv cache file changes too
        fh.write(b"raise SystemExit('tampered')\n".ljust(len(original), b"#")[: len(original)])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_mode) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_mode,
    )
    return original


@pytest.mark.parametrize(
    ("first", "second", "ci"),
    [
        ("--verify-cache", "--verify-cache", None),
        ("--verify-cache", None, "true"),  # CI=true turns it on
        (None, "--verify-cache", None),  # an entry cached without hashes cannot be verified
    ],
)
def test_verify_mode_rebuilds_a_tampered_entry(
    first: str | None,
    second: str | None,
    ci: str | None,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert _build(run_cli, tmp_path / "a", index, *filter(None, [first]), "six==1.17.0").code == 0
    (entry,) = ws.cache_entries()
    original = _tamper_keeping_size_time_and_mode(entry)
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    result = _build(run_cli, tmp_path / "b", index, *filter(None, [second]), "six==1.17.0")
    assert result.code == 0, result.err
    assert (tmp_path / "b" / "six.py").read_bytes() == original
    assert len(ws.events("install-start")) == 2
    (invalid,) = ws.events("cache-invalid")
    reason = str(invalid["reason"])
    if first is None:
        assert "no file hashes" in reason
    else:
        assert "1 file(s) changed" in reason and "six.py" in reason
    assert "warning: the cached dependencies for python3.12/x86_64" in result.err
    assert "rebuilding them with fresh downloads" in result.err


@pytest.mark.parametrize("ci", [None, "true"])
def test_without_verify_mode_such_a_tamper_is_not_seen(
    ci: str | None,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented limit of the default (sizes, times, modes): off outside CI, or turned
    off in CI with --no-verify-cache."""
    monkeypatch.delenv("CI", raising=False)
    assert _build(run_cli, tmp_path / "a", index, "--verify-cache", "six==1.17.0").code == 0
    (entry,) = ws.cache_entries()
    original = _tamper_keeping_size_time_and_mode(entry)
    args = ["--no-verify-cache"] if ci else []
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    result = _build(run_cli, tmp_path / "b", index, *args, "six==1.17.0")
    assert result.code == 0, result.err
    assert (tmp_path / "b" / "six.py").read_bytes() != original
    assert len(ws.events("install-start")) == 1 and ws.events("cache-invalid") == []


@pytest.mark.cdk
def test_verify_cache_in_the_constructs_keeps_the_asset_hash(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "index.py").write_text("def handler(e, c):\n    return 1\n")
    hashes = []
    for verify in (None, True, False):
        app = cdk.App(outdir=str(tmp_path / "cdk.out"), context={"aws:cdk:bundling-stacks": []})
        options = WheelBundlingOptions(verify_cache=verify)
        assert options.build_options.verify_cache is verify
        fn = PythonWheelFunction(
            cdk.Stack(app, "S"),
            "Fn",
            entry=str(tmp_path / "svc"),
            runtime=lambda_.Runtime.PYTHON_3_12,
            dependencies=["six==1.17.0"],
            bundling=options,
        )
        hashes.append(fn.asset_hash)
    assert len(set(hashes)) == 1
