"""Faults (issue 8, item 2): killed builds, damaged cache entries, full disks, refused writes.

Already covered elsewhere:

* one SIGKILL during a cold install of pandas -- ``tests/e2e/test_build.py::
  test_killed_build_leaves_nothing_half_written`` (this module kills at random points);
* a cache entry whose file content changed is rebuilt -- ``tests/e2e/test_build.py::
  test_a_changed_cache_entry_is_rebuilt`` (this module adds removed/added files and a damaged
  record).
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_wheels_cdk.build.pipeline import BuildOptions, BundleCache, build_bundle
from lambda_wheels_cdk.errors import BundleError
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.target import Target
from tests.support.index_server import IndexServer

from .conftest import CliRun, Workspace, assert_nothing_written, build_command, tree_digest

RunCli = Callable[..., CliRun]
TARGET = Target.for_runtime("python3.12", "x86_64")
KILL_ITERATIONS = 6


def _trusted_entries(cache: Path) -> dict[str, str]:
    """key -> tree digest of every entry a later build would use (lookup verifies)."""
    store = BundleCache(cache)
    deps = cache / "v1" / "deps"
    found: dict[str, str] = {}
    for entry in sorted(deps.iterdir()) if deps.is_dir() else []:
        hit = store.lookup(entry.name, TARGET)
        if hit is not None:
            found[entry.name] = tree_digest(hit.tree)
    return found


# -- SIGKILL at random points ---------------------------------------------------------------------


@pytest.mark.e2e
def test_sigkill_at_random_points_never_leaves_a_trusted_half_build(
    tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    seed = int(os.environ.get("LW_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    reqs = ("lw-many", "six==1.17.0")
    env = dict(os.environ)

    # clean builds with their own caches: the reference tree, and how long a build takes here
    # with a warm download cache (the second one)
    durations = []
    for n in range(2):
        clean_cache = tmp_path / f"clean-cache-{n}"
        clean_out = tmp_path / f"clean-{n}"
        started = time.monotonic()
        subprocess.run(
            build_command(clean_out, index.url, *reqs),
            env={**env, "LAMBDA_WHEELS_CACHE_DIR": str(clean_cache)},
            check=True,
            capture_output=True,
            timeout=300,
        )
        durations.append(time.monotonic() - started)
    typical = durations[-1]
    reference = tree_digest(clean_out)
    clean_entries = _trusted_entries(clean_cache)
    assert len(clean_entries) == 1
    (reference_deps,) = clean_entries.values()

    outcomes: list[str] = []
    for i in range(KILL_ITERATIONS):
        out = tmp_path / f"out-{i}"
        delay = rng.uniform(0, typical)
        if rng.random() < 0.7 and ws.deps.exists():
            shutil.rmtree(ws.deps)  # most kills hit an install, some a cache hit
        proc = subprocess.Popen(
            build_command(out, index.url, *reqs),
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        where = f"iteration {i} (seed {seed}, kill after {delay:.2f}s of ~{typical:.2f}s)"
        outcomes.append(f"{delay:.2f}s:{'finished' if finished else 'killed'}")
        # the destination: absent, or complete (the rename is the last step)
        if out.exists():
            assert tree_digest(out) == reference, f"{where}: a half-written {out} is visible"
        # the cache: whatever a later build would trust is complete
        for key, digest in _trusted_entries(ws.cache).items():
            assert digest == reference_deps, f"{where}: cache entry {key} is trusted but wrong"
        # nothing but hidden temp folders beside the destination
        visible = [p.name for p in tmp_path.iterdir() if p.name.startswith(f"out-{i}")]
        assert visible in ([], [out.name]), f"{where}: {visible}"
    schedule = f"seed {seed} (LW_KILL_SEED), build ~{typical:.2f}s, kills: {', '.join(outcomes)}"

    final = tmp_path / "final"
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        index.url,
        "-o",
        str(final),
        *reqs,
    )
    assert result.code == 0, f"{schedule}\n{result.err}"
    assert tree_digest(final) == reference, schedule
    assert list(_trusted_entries(ws.cache).values()) == [reference_deps], schedule
    print(schedule)  # shown with -rP


# -- damaged cache entries --------------------------------------------------------------------------


def _damage_removed_file(entry: Path) -> None:
    (entry / "tree" / "six.py").unlink()


def _damage_added_file(entry: Path) -> None:
    (entry / "tree" / "injected.py").write_text("import os\n")


def _damage_same_size_new_mtime(entry: Path) -> None:
    path = entry / "tree" / "six.py"
    path.write_bytes(b"#" * path.stat().st_size)  # same size; the mtime moves


def _damage_record(entry: Path) -> None:
    (entry / "manifest.json").write_text('{"record": [["six.py", 1')


def _damage_tree_is_a_file(entry: Path) -> None:
    shutil.rmtree(entry / "tree")
    (entry / "tree").write_text("")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "damage",
    [
        _damage_removed_file,
        _damage_added_file,
        _damage_same_size_new_mtime,
        _damage_record,
        _damage_tree_is_a_file,
    ],
    ids=["file-removed", "file-added", "same-size-rewrite", "record-truncated", "tree-is-a-file"],
)
def test_a_damaged_cache_entry_is_rebuilt(
    damage: Callable[[Path], None], tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    options = BuildOptions(index=IndexSettings(index_url=index.url))
    spec = from_list(["six==1.17.0"])
    build_bundle(spec, TARGET, tmp_path / "a", options=options)
    reference = tree_digest(tmp_path / "a")
    (entry,) = ws.cache_entries()
    damage(entry)
    manifest = build_bundle(spec, TARGET, tmp_path / "b", options=options)
    assert manifest.cache == "miss"
    assert len(ws.events("install-start")) == 2 and len(ws.events("cache-invalid")) == 1
    assert tree_digest(tmp_path / "b") == reference


# -- disk full and permission denied (simulated) ---------------------------------------------------


def _raiser(
    code: int, match: Callable[[str], bool], real: Callable[..., object]
) -> Callable[..., object]:
    def fake(*args: object, **kwargs: object) -> object:
        paths = [os.fspath(a) for a in args if isinstance(a, (str, os.PathLike))]
        if any(match(p) for p in paths):
            raise OSError(code, os.strerror(code), paths[-1])
        return real(*args, **kwargs)

    return fake


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("code", "says"),
    [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied")],
    ids=["ENOSPC", "EACCES"],
)
def test_output_write_errors_surface_clearly(
    code: int,
    says: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    building = lambda p: f".{out.name}.lw-build-" in p  # noqa: E731
    monkeypatch.setattr(os, "link", _raiser(code, building, os.link))
    monkeypatch.setattr(shutil, "copy2", _raiser(code, building, shutil.copy2))
    monkeypatch.setattr(shutil, "copyfile", _raiser(code, building, shutil.copyfile))
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        index.url,
        "-o",
        str(out),
        "--source",
        str(src),
        "six==1.17.0",
    )
    assert result.code == 1 and type(result.error) is BundleError, result.err
    message = str(result.error)
    assert says in message and str(out) in message
    assert "free space" in message or "check the folder's permissions" in message
    assert_nothing_written(out)
    assert len(ws.cache_entries()) == 1  # the install itself was fine and is kept


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("code", "says"),
    [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied")],
    ids=["ENOSPC", "EACCES"],
)
def test_cache_publish_errors_surface_clearly(
    code: int,
    says: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rename that publishes a cache entry fails: no entry, no work folder left."""
    deps = str(ws.deps)
    monkeypatch.setattr(
        os, "replace", _raiser(code, lambda p: p.startswith(deps + os.sep), os.replace)
    )
    out = tmp_path / "out"
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        index.url,
        "-o",
        str(out),
        "six==1.17.0",
    )
    assert result.code == 1 and type(result.error) is BundleError, result.err
    message = str(result.error)
    assert says in message and str(ws.cache) in message
    assert_nothing_written(out, ws)
    tmp = ws.cache / "v1" / "tmp"
    assert not tmp.is_dir() or list(tmp.iterdir()) == []


def test_cache_under_a_regular_file(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    out = tmp_path / "out"
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "-o",
        str(out),
        "--cache-dir",
        str(blocker / "cache"),
        "six",
    )
    assert result.code == 1 and type(result.error) is BundleError, result.err
    assert str(blocker / "cache") in str(result.error) and "check the path" in str(result.error)
    assert_nothing_written(out)


@pytest.mark.parametrize("how", ["EACCES", "under-a-file"])
def test_unwritable_output_parent_is_a_bundle_error(
    how: str, tmp_path: Path, ws: Workspace, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    if how == "EACCES":
        parent = tmp_path / "readonly"
        parent.mkdir()
        real_mkdir = os.mkdir
        monkeypatch.setattr(
            os, "mkdir", _raiser(errno.EACCES, lambda p: p.startswith(str(parent)), real_mkdir)
        )
        out = parent / "out"
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "out"
    result = run_cli(
        "build", "--runtime", "python3.12", "--arch", "x86_64", "-o", str(out), "--source", str(src)
    )
    assert result.code == 1 and type(result.error) is BundleError
    assert str(out) in str(result.error)
    assert "Traceback" not in result.err


# -- disk full for real (a 1 MiB tmpfs; needs root) ------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "lw-test-tiny", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


@pytest.fixture
def big_wheel_index(tmp_path: Path, ws: Workspace) -> Iterator[IndexServer]:
    from tests.support.packages import make_wheel

    links = tmp_path / "big-links"
    make_wheel(links, "lw-big", files={"lw_big/blob.bin": os.urandom(3 * 1024 * 1024)})
    with IndexServer(links.iterdir()) as server:
        yield server


@pytest.mark.e2e
def test_real_disk_full_on_the_output(
    tmp_path: Path, ws: Workspace, tiny_disk: Path, big_wheel_index: IndexServer, run_cli: RunCli
) -> None:
    out = tiny_disk / "out"
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        big_wheel_index.url,
        "-o",
        str(out),
        "lw-big",
    )
    assert result.code == 1 and type(result.error) is BundleError, result.err
    assert "the disk is full" in str(result.error) and str(out) in str(result.error)
    assert_nothing_written(out)
    assert list(tiny_disk.iterdir()) == []


@pytest.mark.e2e
def test_real_disk_full_in_the_cache(
    tmp_path: Path, ws: Workspace, tiny_disk: Path, big_wheel_index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        big_wheel_index.url,
        "-o",
        str(out),
        "--cache-dir",
        str(tiny_disk / "cache"),
        "lw-big",
    )
    assert result.code == 1, result.err
    assert not out.exists()
    assert list((tiny_disk / "cache" / "v1" / "deps").iterdir()) == []
    assert type(result.error) is BundleError, type(result.error)
    assert "the disk is full" in str(result.error)
