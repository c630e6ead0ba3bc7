"""End-to-end fixtures: target interpreters (native and qemu-emulated arm64), bundle builders,
and a report of which interpreters and emulators ran and which targets were skipped, and why.

The arm64 interpreters, and the x86_64 ones no package manager here offers (CPython 3.14, from
Debian sid, run by its own loader), come from ``tests/support/sysroots.py`` (``make test-setup``
runs it and installs qemu-user-static). These fixtures build a missing sysroot (no root needed)
but never install system packages. With ``CI=true`` a missing arm64 setup, or a missing
interpreter that the setup provides, fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.smoke.interpreters import Host, Interpreter, find_interpreter
from lambda_wheels_cdk.smoke.runner import SmokeResult, smoke
from lambda_wheels_cdk.target.target import Target
from tests.support import sysroots

ON_CI = os.environ.get("CI", "").lower() == "true"

#: (test id, result) of every smoke run in this session, for the terminal summary.
RUNS: list[tuple[str, SmokeResult]] = []
#: Targets skipped because no interpreter was found: (target, reason).
MISSING: dict[str, str] = {}
SETUP: list[str] = []

Smoke = Callable[..., SmokeResult]
Require = Callable[[Target], Interpreter]


@pytest.fixture(scope="session")
def sysroot_setup() -> sysroots.Report:
    """qemu and the sysroots (built here when missing; qemu is never installed here)."""
    report = sysroots.prepare(sysroots.default_cache_dir(), install_qemu=False)
    SETUP.append(report.describe().replace("\n", "; "))
    return report


@pytest.fixture(scope="session")
def sysroot_env(sysroot_setup: sysroots.Report) -> dict[str, str]:
    """``LAMBDA_WHEELS_ARM64_SYSROOT`` and ``LAMBDA_WHEELS_X86_64_SYSROOT`` for the prepared
    sysroots: what a ``lambda-wheels`` process needs to smoke or compile bytecode with them."""
    return sysroot_setup.environ()


@pytest.fixture(scope="session")
def arm64_host(sysroot_setup: sysroots.Report) -> Host:
    """This host, with the sysroot variables pointing at the prepared sysroots."""
    if not sysroot_setup.ready:
        reason = (
            "arm64 emulation unavailable: "
            + "; ".join(sysroot_setup.problems)
            + " (run `make test-setup`, i.e. python tests/support/sysroots.py, as root)"
        )
        MISSING["*/arm64"] = reason
        if ON_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return sysroot_setup.host()


@pytest.fixture(scope="session")
def arm64_python(arm64_host: Host) -> Require:
    """``require(target) -> Interpreter`` for an arm64 target: qemu + sysroot (or native on an
    aarch64 host); skips the test (fails it on CI) when there is none for that Python."""

    def require(target: Target) -> Interpreter:
        found = find_interpreter(target, arm64_host)
        if isinstance(found, Interpreter):
            return found
        MISSING[str(target)] = found.reason
        if ON_CI:
            pytest.fail(f"CI=true: {found.reason}")
        pytest.skip(found.reason)

    return require


@pytest.fixture(scope="session")
def native_python(sysroot_setup: sysroots.Report) -> Require:
    """``require(target) -> Interpreter`` from PATH / pyenv / uv, else from the prepared
    sysroots through their own loader (CPython 3.14 here); skips when there is none, and fails
    on CI when the test setup provides that version for this architecture."""
    host = sysroot_setup.host()
    provided = {(suite.wheel_arch, suite.python) for suite in sysroots.SUITES}

    def require(target: Target) -> Interpreter:
        found = find_interpreter(target, host)
        if isinstance(found, Interpreter):
            return found
        MISSING[str(target)] = found.reason
        if ON_CI and (host.arch, target.python_version) in provided:
            pytest.fail(f"CI=true: the test setup provides {target}: {found.reason}")
        pytest.skip(found.reason)

    return require


@pytest.fixture
def logged_smoke(request: pytest.FixtureRequest) -> Smoke:
    """:func:`smoke`, recording each result for the session's terminal summary."""

    def run(*args: Any, **kwargs: Any) -> SmokeResult:
        result = smoke(*args, **kwargs)
        RUNS.append((request.node.nodeid, result))
        return result

    return run


# -- bundle builders -------------------------------------------------------------------------


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus every PIP_*, UV_*, PYTHON* and VIRTUAL_ENV setting of the host."""
    prefixes = ("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra or {})
    return env


def _check(command: Sequence[str], env: Mapping[str, str]) -> None:
    proc = subprocess.run(list(command), env=dict(env), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(command[:6])} ... failed:\n{proc.stdout}\n{proc.stderr}")


def uv_install(dest: Path, packages: Sequence[str], *, python: str, platform: str) -> Path:
    """Raw ``uv pip install --target`` for a foreign target: wheels only, no bytecode, no config."""
    from uv import find_uv_bin

    command = [find_uv_bin(), "pip", "install", "--target", str(dest), "--python-version", python]
    command += ["--python-platform", platform, "--only-binary", ":all:", "--no-compile-bytecode"]
    _check([*command, "--quiet", *packages], clean_env({"UV_NO_CONFIG": "1"}))
    return dest


def host_pip_install(dest: Path, packages: Sequence[str]) -> Path:
    """Plain ``pip install --target`` by the running interpreter: wheels for *this* host."""
    env = clean_env({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(dest)]
    _check([*command, "--only-binary", ":all:", *packages], env)
    return dest


# -- the report ------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not (RUNS or MISSING or SETUP):
        return
    write = terminalreporter.write_line
    terminalreporter.section("lambda-wheels smoke: interpreters and emulators")
    for line in SETUP:
        write(f"sysroot setup: {line}")
    for nodeid, result in RUNS:
        ran = result.interpreter or "-"
        python = f" [{result.python}]" if result.python else ""
        write(
            f"{result.status:7} {result.target}  {ran}{python}  {result.duration:.1f} s  ({nodeid})"
        )
        if result.status == "skipped":
            write(f"        reason: {result.reason}")
    for target, reason in sorted(MISSING.items()):
        write(f"skipped {target}: {reason}")
