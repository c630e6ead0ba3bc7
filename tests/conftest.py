"""Shared fixtures. Host simulation lives here so every test can ask for a macOS arm64 host."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging import tags


def pytest_configure(config: pytest.Config) -> None:
    """With ``LAMBDA_WHEELS_TEST_INSTALLED`` (``make test-installed``) the package under test
    must be the wheel installed in that environment, not the source tree."""
    venv = os.environ.get("LAMBDA_WHEELS_TEST_INSTALLED")
    if not venv:
        return
    import lambda_wheels_cdk

    package = Path(lambda_wheels_cdk.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if site not in package.parents or Path(venv).resolve() not in site.parents:
        raise pytest.UsageError(
            f"testing {package}, not the wheel installed in {venv} ({site}): run the "
            "environment's own `pytest --import-mode=append` (make test-installed)"
        )


def _refuse(*args: object, **kwargs: object) -> object:
    raise AssertionError("a host probe was called while computing a Lambda target")


@pytest.fixture
def no_host_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make packaging's host probes fail: target computations must never call them."""
    import packaging._manylinux as manylinux
    import packaging._musllinux as musllinux

    for module, name in [
        (tags, "sys_tags"),
        (tags, "platform_tags"),
        (tags, "interpreter_name"),
        (tags, "interpreter_version"),
        (tags, "_generic_platforms"),
        (tags, "_linux_platforms"),
        (manylinux, "platform_tags"),
        (musllinux, "platform_tags"),
    ]:
        monkeypatch.setattr(module, name, _refuse)


@pytest.fixture
def macos_arm64_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pretend the build host is an Apple Silicon Mac (every probe a library might read)."""
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setattr(platform, "mac_ver", lambda *a: ("14.5", ("", "", ""), "arm64"))
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("", ""))
    monkeypatch.setattr(tags, "platform_tags", lambda: iter(["macosx_14_0_arm64"]))
    yield
