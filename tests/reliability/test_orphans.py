"""Orphans (issue 19, item 3): a build killed with SIGKILL takes its installer with it, and the
next build removes the temp folders it left.

How children die with their parent depends on the OS (``lambda_wheels_cdk/install/leftovers.py``):
Linux uses ``PR_SET_PDEATHSIG``; macOS and Windows a watchdog process whose stdin is a pipe from
the build. Both are tested here on Linux (the watchdog forced on), where ``/proc`` shows the
process tree; elsewhere these tests skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer
from tests.support.processes import HAS_PROC, alive, descendants, wait_for

from .conftest import Packages, Workspace

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not HAS_PROC, reason="reads the process tree from Linux's /proc"),
]

#: Runs the CLI with a chosen way of tying children to it (``leftovers.GUARD``).
_CLI_WITH_GUARD = (
    "import sys; from lambda_wheels_cdk.install import leftovers; leftovers.GUARD = sys.argv.pop(1);"
    " from lambda_wheels_cdk.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def _build_argv(guard: str, out: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-c", _CLI_WITH_GUARD, guard, "build", "--runtime", "python3.12",
        "--arch", "x86_64", "-o", str(out), *args,
    ]  # fmt: skip


@pytest.mark.parametrize("guard", ["pdeathsig", "watchdog"])
def test_sigkill_of_the_build_kills_the_installer_and_the_next_build_sweeps(
    guard: str, tmp_path: Path, ws: Workspace, packages: Packages
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_root)}

    def build(out: str, *args: str) -> None:
        done = subprocess.run(
            _build_argv(guard, tmp_path / out, "--index-url", index.url, *args),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    with IndexServer(packages.folder.iterdir()) as index:
        build("warm", "six==1.17.0")  # the "next build" below is then a cache hit

        # every answer takes 30 s, and the installer downloads a direct URL itself (not through
        # the filtering view, which dies with the build): without a guard it outlives the test
        with IndexServer(packages.folder.iterdir(), delay=30) as slow:
            wheel = packages.file("six-1.17.0")
            url = f"http://{slow.netloc}/files/{wheel.name}"
            killed = subprocess.Popen(
                _build_argv(guard, tmp_path / "out", "--no-index", f"six @ {url}"),
                env={**env, "UV_HTTP_TIMEOUT": "120"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                assert wait_for(lambda: slow.requests_to("/files/"), 60), "the download"
                children = descendants(killed.pid)
                assert any("uv" in p.command for p in children), children
                assert any(temp_root.glob("lw-uv-*")), "the installer's temp folder"
                os.kill(killed.pid, signal.SIGKILL)
            finally:
                killed.wait(timeout=60)
            shown = [(p.pid, p.command[:80]) for p in children]
            if guard == "watchdog":
                assert any("-I -S -c" in p.command for p in children), shown
            assert wait_for(lambda: not any(alive(p) for p in children), 2), (
                f"still running 2 s after the build was killed: "
                f"{[(p.pid, p.command[:80]) for p in children if alive(p)]}"
            )
        left = sorted(p.name for p in temp_root.iterdir())
        assert any(name.startswith("lw-uv-") for name in left), left  # no cleanup ran
        assert list((ws.cache / "v1" / "tmp").glob("work-*")), "nor in the cache"

        hits = len(ws.events("cache-hit"))
        build("next", "six==1.17.0")
        assert len(ws.events("cache-hit")) == hits + 1, "the next build installs nothing"
    assert sorted(temp_root.iterdir()) == [], "the next build removes what the killed one left"
    assert sorted((ws.cache / "v1" / "tmp").iterdir()) == []


def test_a_live_build_s_folders_are_never_swept(tmp_path: Path) -> None:
    """A folder whose owner is alive stays, however old; one without an owner file (an older
    version's) is removed once it is older than the limit."""
    from lambda_wheels_cdk.install import leftovers

    with leftovers.owned_temp_dir("lw-uv-", tmp_path) as mine:
        os.utime(mine, (0, 0))  # "1970": older than any limit
        old = tmp_path / "lw-uv-legacy"
        old.mkdir()
        os.utime(old, (0, 0))
        young = tmp_path / "lw-uv-young"
        young.mkdir()
        other = tmp_path / "lw-pip-x"
        other.mkdir()
        os.utime(other, (0, 0))
        removed = leftovers.sweep(tmp_path, "lw-uv-")
        assert removed == ["lw-uv-legacy"]
        assert mine.is_dir() and young.is_dir() and other.is_dir()
        assert (tmp_path / f"{mine.name}{leftovers.OWNER_SUFFIX}").is_file()
        if os.name == "posix":
            assert mine.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lw-pip-x", "lw-uv-young"]


def test_sigterm_stops_the_installer_and_removes_the_temp_folders(
    tmp_path: Path, ws: Workspace, packages: Packages
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    with IndexServer(packages.folder.iterdir(), delay=30) as slow:
        wheel = packages.file("six-1.17.0")
        argv = _build_argv(
            leftovers_guard(),
            tmp_path / "out",
            "--no-index",
            f"six @ http://{slow.netloc}/files/{wheel.name}",
        )
        build = subprocess.Popen(
            argv,
            env={**os.environ, "TMPDIR": str(temp_root), "UV_HTTP_TIMEOUT": "120"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(lambda: slow.requests_to("/files/"), 60), "the installer's download"
            children = descendants(build.pid)
            build.send_signal(signal.SIGTERM)
            _, err = build.communicate(timeout=30)
        finally:
            build.kill()
        assert build.returncode == 128 + signal.SIGTERM, err
        assert "Traceback" not in err, err
        assert not any(alive(p) for p in children)
    assert sorted(temp_root.iterdir()) == []
    assert sorted((ws.cache / "v1" / "tmp").iterdir()) == []
    assert not (tmp_path / "out").exists()


def leftovers_guard() -> str:
    from lambda_wheels_cdk.install import leftovers

    return leftovers.GUARD


def test_a_killed_bytecode_compile_s_folder_is_swept_by_the_next_build_even_a_cache_hit(
    tmp_path: Path, ws: Workspace, packages: Packages
) -> None:
    """Seen in the kill test: a build killed while compiling left ``lw-pyc-*``, and the next
    build, whose bytecode came from the cache, never compiled and so never swept it."""
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_root)}
    with IndexServer(packages.folder.iterdir()) as index:

        def build(out: str) -> None:
            argv = _build_argv("pdeathsig", tmp_path / out, "--index-url", index.url, "six")
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr

        build("warm")
        # a process that dies by SIGKILL inside a compile's folder, as a killed build does
        dying = (
            "import os, signal; from lambda_wheels_cdk.build import bytecode;"
            " from lambda_wheels_cdk.install import leftovers\n"
            "with leftovers.owned_temp_dir(bytecode.WORKSPACE_PREFIX) as work:\n"
            "    (work / 'jobs-0.json').write_text('[]')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        killed = subprocess.run([sys.executable, "-c", dying], env=env, timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert [p.name[:7] for p in temp_root.iterdir() if p.is_dir()] == ["lw-pyc-"]
        hits = len(ws.events("cache-hit"))
        build("next")
        assert len(ws.events("cache-hit")) == hits + 1, "the next build installs nothing"
    assert sorted(temp_root.iterdir()) == []
