"""``lambda-wheels`` run the way people run it: colour forced by the environment, output read
through a pipe, ``-o`` pointed at a folder they already have (issue 14).

Every command runs as the real console script in a child process, as a shell would start it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer

from .conftest import Workspace

LAMBDA_WHEELS = str(Path(sys.executable).with_name("lambda-wheels"))
ESC = b"\x1b"
#: What CI systems, shells and the CDK CLI's environment set to force colour.
FORCED_COLOUR = [
    pytest.param({"FORCE_COLOR": "1"}, id="FORCE_COLOR=1"),
    pytest.param({"FORCE_COLOR": "0"}, id="FORCE_COLOR=0"),
    pytest.param({"CLICOLOR_FORCE": "1"}, id="CLICOLOR_FORCE=1"),
    pytest.param({"TERM": "xterm-256color"}, id="TERM=xterm-256color"),
]


def lambda_wheels(
    *argv: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The console script with stdout and stderr each a pipe, as ``cmd | tee log`` reads it."""
    return subprocess.run(
        [LAMBDA_WHEELS, *argv],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
        check=False,
    )


def build_args(out: Path, index: IndexServer, *reqs: str) -> list[str]:
    return [
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "arm64",
        "--index-url",
        index.url,
        "-o",
        str(out),
        *reqs,
    ]


# -- colour ----------------------------------------------------------------------------------


@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize("colour", FORCED_COLOUR)
def test_forced_colour_installs_an_sdist_only_requirement_and_prints_no_escape_codes(
    colour: dict[str, str], installer: str, tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    out = tmp_path / "out"
    proc = lambda_wheels(*build_args(out, index, "lw-hooked"), "--installer", installer, env=colour)
    assert proc.returncode == 0, proc.stderr.decode()
    assert ESC not in proc.stdout and ESC not in proc.stderr, proc.stderr.decode()
    assert (out / "lw_hooked" / "__init__.py").read_text() == "BUILT_BY = 'good'\n"
    assert proc.stdout.decode().splitlines()[0].startswith("lw-hooked==1.0  lw_hooked-1.0-")


@pytest.mark.parametrize("colour", FORCED_COLOUR)
def test_forced_colour_keeps_the_key_lines_of_a_conflict(
    colour: dict[str, str], tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    # lw-app 1.0 requires lw-dep==1.0
    proc = lambda_wheels(*build_args(tmp_path / "out", index, "lw-app", "lw-dep==2.0"), env=colour)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert ESC not in proc.stderr and proc.stdout == b"", err
    assert "lw-app" in err and "lw-dep==1.0" in err and "lw-dep==2.0" in err, err
    assert "unsatisfiable" in err and "relax or align those pins" in err, err
    # uv's "Using CPython 3.x interpreter at: <host venv>" would read as if the host's Python
    # were the target (python3.12/arm64 here)
    assert "interpreter at" not in err and sys.executable not in err, err
    assert not (tmp_path / "out").exists()


# -- -o: the output folder --------------------------------------------------------------------

MARKER = ".lambda-wheels-output"


def _user_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (what must survive a refused build)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _app(root: Path) -> Path:
    """A user's handler folder with a git repository in it."""
    app = root / "app"
    (app / ".git").mkdir(parents=True)
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / "index.py").write_text("def handler(event, context):\n    return 1\n")
    return app


def _refused(proc: subprocess.CompletedProcess[bytes], *words: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("lambda-wheels build: error: -o "), err
    assert err.count("\n") == 1, err  # one message, no traceback
    for word in words:
        assert word in err, (word, err)
    return err


def test_a_folder_with_a_users_file_is_kept_unless_forced(
    tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    proc = lambda_wheels(*build_args(out, index, "lw-dep==1.0"))
    _refused(proc, "did not write", "notes.txt", "--force")
    assert _user_files(out) == {"notes.txt": b"mine\n"}
    forced = lambda_wheels(*build_args(out, index, "lw-dep==1.0"), "--force")
    assert forced.returncode == 0, forced.stderr.decode()
    assert not (out / "notes.txt").exists() and (out / "lw_dep" / "__init__.py").is_file()
    assert (out / MARKER).read_bytes() == b""


def test_an_output_lambda_wheels_wrote_is_replaced_and_an_empty_folder_is_used(
    tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    assert lambda_wheels(*build_args(out, index, "lw-dep==1.0")).returncode == 0
    assert (out / MARKER).is_file()
    again = lambda_wheels(*build_args(out, index, "lw-dep==2.0"))
    assert again.returncode == 0, again.stderr.decode()
    assert "lw_dep-2.0.dist-info" in {p.name for p in out.iterdir()}
    assert "lw_dep-1.0.dist-info" not in {p.name for p in out.iterdir()}


@pytest.mark.parametrize("where", ["app", "app/build", "."])
def test_output_at_inside_or_around_the_source_is_refused_even_with_force(
    where: str, tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    # `--source app -o app` used to delete app/.git
    app = _app(tmp_path)
    before = _user_files(tmp_path)
    out = (tmp_path / where).resolve()
    for force in ((), ("--force",)):
        proc = lambda_wheels(*build_args(out, index, "lw-dep==1.0"), "--source", str(app), *force)
        _refused(proc, "the --source folder", str(app))
        assert _user_files(tmp_path) == before


def test_output_inside_the_source_is_fine_when_the_excludes_leave_it_out(
    tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    app = _app(tmp_path)
    refused = lambda_wheels(
        *build_args(app / "build", index, "lw-dep==1.0"), "--source", str(app), cwd=tmp_path
    )
    assert "--exclude /build" in _refused(refused)
    proc = lambda_wheels(
        *build_args(app / "build", index, "lw-dep==1.0"),
        *("--source", str(app), "--exclude", "/build"),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert (app / "build" / "index.py").is_file() and (app / ".git" / "HEAD").is_file()


@pytest.mark.parametrize("which", ["bundle", "uv"])
@pytest.mark.parametrize("relation", ["is", "inside", "contains"])
def test_output_at_inside_or_around_a_cache_is_refused(
    which: str, relation: str, tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    cache = ws.cache if which == "bundle" else tmp_path / "uv-cache"  # UV_CACHE_DIR (ws)
    lambda_wheels(*build_args(tmp_path / "first", index, "lw-dep==1.0"))  # fills both caches
    before = _user_files(cache)
    assert before
    out = {"is": cache, "inside": cache / "bundle", "contains": cache.parent}[relation]
    for force in ((), ("--force",)):
        proc = lambda_wheels(*build_args(out, index, "lw-dep==1.0"), *force)
        assert "cache" in _refused(proc)
        assert _user_files(cache) == before


def test_output_naming_a_file_is_refused(tmp_path: Path, ws: Workspace, index: IndexServer) -> None:
    out = tmp_path / "bundle.zip"
    out.write_bytes(b"PK\x05\x06" + bytes(18))
    for force in ((), ("--force",)):
        proc = lambda_wheels(*build_args(out, index, "lw-dep==1.0"), *force)
        _refused(proc, "is a file")
        assert out.read_bytes() == b"PK\x05\x06" + bytes(18)


@pytest.mark.parametrize("given", [".", "..", "home", "above-home"])
def test_output_at_the_working_directory_its_parents_or_home_is_refused(
    given: str, tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    home = tmp_path / "users" / "me"
    (home / "keep.txt").parent.mkdir(parents=True)
    (home / "keep.txt").write_text("mine\n")
    work = tmp_path / "work" / "project" / "sub"
    work.mkdir(parents=True)
    (work / "index.py").write_text("x = 1\n")
    before = _user_files(tmp_path)
    out = {"home": str(home), "above-home": str(home.parent)}.get(given, given)
    for force in ((), ("--force",)):
        proc = lambda_wheels(
            *build_args(Path(out), index, "lw-dep==1.0"), *force, cwd=work, env={"HOME": str(home)}
        )
        err = _refused(proc)
        assert ("home folder" if "home" in given else "working directory") in err, err
        assert "Device or resource busy" not in err
        assert _user_files(tmp_path) == before


# -- a reader that goes away -------------------------------------------------------------------


def _into_a_closed_pipe(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout a pipe whose reader has already gone (``| head -1`` after its line)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [LAMBDA_WHEELS, *argv],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=cwd,
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)


def test_every_command_stops_quietly_when_its_reader_goes_away(
    tmp_path: Path, ws: Workspace
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(event, context):\n    return 1\n")
    target = ["--runtime", "python3.11", "--arch", "x86_64"]
    commands = {
        "--help": ["--help"],
        "--version": ["--version"],
        "tags": ["tags", *target],
        "tags --json": ["tags", *target, "--json"],
        "tags --installer-args": ["tags", *target, "--installer-args", "pip"],
        "build --json": [
            "build",
            *target,
            "--source",
            str(src),
            "-o",
            str(tmp_path / "o"),
            "--json",
        ],
        "audit": ["audit", str(src), *target],
        "smoke": [
            "smoke",
            str(src),
            *target,
            "--handler",
            "index.handler",
            "--python",
            "/no/such/python",
        ],
    }
    for name, argv in commands.items():
        proc = _into_a_closed_pipe(argv, tmp_path)
        # 141 = 128 + SIGPIPE, what a shell reports for `yes | head -1`; on stderr at most
        # the progress lines a build prints anyway (no traceback, no error).
        # argparse prints --help and --version itself and ignores a failed write: exit 0.
        expected = 0 if name.startswith("--") else 141
        noise = [x for x in proc.stderr.splitlines() if not x.startswith(b"[lambda-wheels] ")]
        assert (proc.returncode, noise) == (expected, []), (name, proc.stderr.decode())


def test_head_reads_the_first_line_and_no_traceback_follows(tmp_path: Path) -> None:
    script = f"set -o pipefail; '{LAMBDA_WHEELS}' tags --runtime python3.11 --arch x86_64 | head -1"
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout == "cp311-cp311-manylinux_2_26_x86_64\n"
    assert proc.stderr == "" and proc.returncode in (0, 141), proc.stderr


# -- what the build prints -----------------------------------------------------------------------


def test_a_skipped_newer_release_is_noted_once_per_build(tmp_path: Path, ws: Workspace) -> None:
    """lw-fit 2.0 ships only a manylinux_2_28 wheel, which Amazon Linux 2 (glibc 2.26) cannot
    load: python3.11 gets 1.0 and one note saying why, on the first build and on a cache hit."""
    from tests.support.packages import make_wheel

    folder = tmp_path / "packages"
    make_wheel(folder, "lw-fit", "1.0")
    make_wheel(folder, "lw-fit", "2.0", "cp311-cp311-manylinux_2_28_x86_64")
    with IndexServer(folder.iterdir()) as index:
        for run in ("installs", "cache hit"):
            proc = lambda_wheels(
                "build", "--runtime", "python3.11", "--arch", "x86_64", "--index-url", index.url,
                "-o", str(tmp_path / "out"), "lw-fit",
            )  # fmt: skip
            err = proc.stderr.decode()
            assert proc.returncode == 0, err
            assert proc.stdout.decode().startswith("lw-fit==1.0  "), proc.stdout
            notes = [line for line in err.splitlines() if "lw-fit 2.0" in line]
            assert len(notes) == 1, (run, err)
            assert notes[0].startswith("[lambda-wheels] out: note: lw-fit 2.0 "), notes
            assert "manylinux_2_28" in notes[0] and "glibc 2.26" in notes[0], notes
            assert "warning:" not in err, err


def test_sizes_and_counts_read_like_english(
    tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_bytes(b"x = 1\n" * 6_780)  # 40,680 bytes
    out = tmp_path / "out"
    proc = lambda_wheels(
        "build", "--runtime", "python3.12", "--arch", "arm64", "--index-url", index.url,
        "--source", str(src), "-o", str(out), "lw-dep==1.0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert 40_680 < total < 1024 * 1024
    assert proc.stderr.decode().splitlines()[-1] == (
        f"{out}: 1 distribution, {total / 1024:.1f} KiB for python3.12/arm64"
    )
