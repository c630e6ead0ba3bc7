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
