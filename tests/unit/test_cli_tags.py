"""`lambda-wheels tags` end to end through main() and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
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


#: Lambda's runtimes and their glibc (LAMBDA-FACTS.md): Amazon Linux 2 has 2.26, which uv's
#: --python-platform cannot name (it knows 2_17, 2_28, 2_31 ... 2_40); AL2023 has 2.34.
GLIBC = {
    "python3.9": "2.26",
    "python3.10": "2.26",
    "python3.11": "2.26",
    "python3.12": "2.34",
    "python3.13": "2.34",
    "python3.14": "2.34",
}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
@pytest.mark.parametrize("runtime", sorted(GLIBC))
def test_uv_installer_args_say_what_plain_uv_cannot_do(
    runtime: str, arch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tags", "--runtime", runtime, "--arch", arch, "--installer-args", "uv"]
    # a day before any deprecation: stderr holds the uv note alone (see test_lifecycle.py)
    assert main(argv, today=date(2025, 1, 1)) == 0
    out, err = capsys.readouterr()
    wheel_arch = {"x86_64": "x86_64", "arm64": "aarch64"}[arch]
    version = runtime.removeprefix("python")
    if GLIBC[runtime] == "2.34":
        assert out == f"--python-version {version} --python-platform {wheel_arch}-manylinux_2_34\n"
        assert err == ""
        return
    # stdout stays what a script can pass to uv: never a wheel too new for glibc 2.26
    assert out == f"--python-version {version} --python-platform {wheel_arch}-manylinux_2_17\n"
    # stderr says the price and what lambda-wheels does instead
    assert err.startswith("note: uv cannot name the glibc of ") and err.count("\n") == 1, err
    for words in (
        "(2.26)",
        "manylinux_2_18 ... manylinux_2_26",
        "older release",
        f"--python-platform {wheel_arch}-manylinux_2_28 against an index view",
        "--installer-args pip",
    ):
        assert words in err, (words, err)
