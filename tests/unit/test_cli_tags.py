"""`lambda-wheels tags` end to end through main() and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_wheels_cdk.cli import main


def test_tags_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tags", "--runtime", "python3.11", "--arch", "x86_64", "--json"]) == 0
    tags = json.loads(capsys.readouterr().out)
    assert tags[0] == "cp311-cp311-manylinux_2_26_x86_64"
    assert "cp311-cp311-manylinux1_x86_64" in tags


def test_tags_installer_args(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["tags", "--runtime", "python3.12", "--arch", "arm64", "--installer-args", "uv"]) == 0
    )
    assert (
        capsys.readouterr().out.strip()
        == "--python-version 3.12 --python-platform aarch64-manylinux_2_34"
    )


def test_bad_runtime_is_one_line_and_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tags", "--runtime", "nodejs20.x", "--arch", "arm64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python3.12" in err and "nodejs20.x" in err


SCRIPT = str(Path(sys.executable).with_name("lambda-wheels"))


@pytest.mark.parametrize("argv", [[SCRIPT], [sys.executable, "-m", "lambda_wheels_cdk"]])
def test_console_entry_points(argv: list[str]) -> None:
    out = subprocess.run(
        [*argv, "tags", "--runtime", "python3.12", "--arch", "arm64", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out)[0] == "cp312-cp312-manylinux_2_34_aarch64"
