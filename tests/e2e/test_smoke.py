"""Smoke imports of real bundles under the target's own CPython.

- arm64: wheels installed by raw uv for aarch64 import under qemu-aarch64-static + Debian's
  aarch64 CPython (3.11 from bookworm, 3.13 from trixie, 3.14 from sid), and the handler runs
  there;
- negative control: the same packages installed by plain host ``pip install --target``
  (x86_64 wheels) fail to import under emulated arm64, with the import error text;
- x86_64: python3.12 and python3.14 bundles import under a native 3.12 (pyenv here) and
  Debian sid's 3.14 (run by its own loader), and the handler returns its payload; the probe
  itself runs on every native CPython 3.9-3.14 found.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_wheels_cdk.target.runtimes import RUNTIMES
from lambda_wheels_cdk.target.target import Target

from .conftest import Require, Smoke, clean_env, host_pip_install, uv_install

pytestmark = pytest.mark.e2e

ARM311 = Target.for_runtime("python3.11", "arm64")
ARM313 = Target.for_runtime("python3.13", "arm64")
ARM314 = Target.for_runtime("python3.14", "arm64")
X86_312 = Target.for_runtime("python3.12", "x86_64")
X86_314 = Target.for_runtime("python3.14", "x86_64")
PACKAGES = ["pydantic", "numpy"]

HANDLER = """\
import platform

import numpy as np
import pydantic


class Order(pydantic.BaseModel):
    name: str
    total: float


def handler(event, context):
    order = Order(name=event["name"], total=float(np.arange(5).sum()))
    return {
        "order": order.model_dump(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "request": context.aws_request_id,
    }
"""


def _bundle(dest: Path, target: Target) -> Path:
    uv_install(dest, PACKAGES, python=target.python_version, platform=target.uv_platform)
    (dest / "app.py").write_text(HANDLER, encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def arm64_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bundle(tmp_path_factory.mktemp("bundle") / "arm64-py311", ARM311)


@pytest.fixture(scope="module")
def host_pip_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("bundle") / "host-pip"
    host_pip_install(dest, PACKAGES)
    (dest / "app.py").write_text(HANDLER, encoding="utf-8")
    return dest


def test_arm64_bundle_imports_under_qemu(
    arm64_bundle: Path, arm64_python: Require, logged_smoke: Smoke
) -> None:
    interpreter = arm64_python(ARM311)
    result = logged_smoke(
        arm64_bundle,
        ARM311,
        handler="app.handler",
        event={"name": "graviton"},
        interpreter=interpreter,
    )
    assert result.status == "passed", result.summary()
    assert {"numpy", "pydantic", "pydantic_core", "typing_extensions", "app"} <= set(
        result.imported
    )
    assert result.python is not None and result.python.startswith("CPython 3.11")
    assert result.python.endswith("on aarch64")
    assert result.handler_called
    assert result.handler_result["machine"] == "aarch64"
    assert result.handler_result["order"] == {"name": "graviton", "total": 10.0}


def test_host_pip_bundle_fails_under_emulated_arm64(
    host_pip_bundle: Path, arm64_python: Require, logged_smoke: Smoke
) -> None:
    """Negative control: x86_64 wheels from the host's pip must not pass as arm64."""
    interpreter = arm64_python(ARM311)
    result = logged_smoke(host_pip_bundle, ARM311, handler="app.handler", interpreter=interpreter)
    assert result.status == "failed", result.summary()
    errors = {f.module: f.error for f in result.failures if f.stage == "import"}
    assert "_pydantic_core" in errors["pydantic_core"]
    assert "numpy._core._multiarray_umath" in errors["numpy"]
    assert any(f.stage == "handler" for f in result.failures)
    assert "typing_extensions" in result.imported  # pure Python still imports


def test_cli_smoke_prints_interpreter_and_verdict(
    arm64_bundle: Path,
    host_pip_bundle: Path,
    arm64_python: Require,
    sysroot_env: dict[str, str],
) -> None:
    """`lambda-wheels smoke OUT --runtime python3.11 --arch arm64`: exit 0 / 1 with the text."""
    arm64_python(ARM311)  # skip (or fail on CI) without emulation
    env = clean_env(sysroot_env)
    script = str(Path(sys.executable).with_name("lambda-wheels"))
    args = ["--runtime", "python3.11", "--arch", "arm64"]
    good = subprocess.run(
        [script, "smoke", str(arm64_bundle), *args], env=env, text=True, capture_output=True
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "passed" in good.stdout and "qemu-aarch64-static -cpu neoverse-n1 -L" in good.stdout
    bad = subprocess.run(
        [script, "smoke", str(host_pip_bundle), *args, "--json"],
        env=env,
        text=True,
        capture_output=True,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    data = json.loads(bad.stdout)
    assert data["status"] == "failed" and "qemu-aarch64-static" in data["interpreter"]
    text = " ".join(f["error"] for f in data["failures"])
    assert "No module named 'numpy._core._multiarray_umath'" in text


@pytest.mark.parametrize("target", [ARM313, ARM314], ids=["trixie-3.13", "sid-3.14"])
def test_arm64_newer_pythons_from_debian_under_qemu(
    target: Target, tmp_path: Path, arm64_python: Require, logged_smoke: Smoke
) -> None:
    interpreter = arm64_python(target)
    bundle = _bundle(tmp_path / f"arm64-{target.runtime}", target)
    result = logged_smoke(
        bundle, target, handler="app.handler", event={"name": "new"}, interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert result.python is not None and result.python.startswith(
        f"CPython {target.python_version}"
    )
    assert result.handler_result["machine"] == "aarch64"


@pytest.mark.parametrize("target", [X86_312, X86_314], ids=["3.12", "3.14"])
def test_x86_64_bundle_and_handler(
    target: Target, tmp_path: Path, native_python: Require, logged_smoke: Smoke
) -> None:
    """3.12 runs from pyenv here, 3.14 from Debian sid's sysroot through its own loader (its
    glibc is newer than the host's)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
        "linux"
    ):
        pytest.skip(f"needs a Linux x86_64 host to run {target} natively")
    interpreter = native_python(target)
    bundle = _bundle(tmp_path / f"x86-{target.runtime}", target)
    result = logged_smoke(
        bundle, target, handler="app.handler", event={"name": "x86"}, interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert result.python is not None and result.python.startswith(
        f"CPython {target.python_version}"
    )
    assert result.handler_result == {
        "order": {"name": "x86", "total": 10.0},
        "machine": "x86_64",
        "numpy": result.handler_result["numpy"],
        "request": "00000000-0000-0000-0000-000000000000",
    }


HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "x86_64"
)


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_probe_runs_on_every_native_python(
    runtime: str, tmp_path: Path, native_python: Require, logged_smoke: Smoke
) -> None:
    """The probe is plain Python 3.9+: run it (import, handler, isolation) on each version."""
    target = Target.for_runtime(runtime, HOST_ARCH)
    interpreter = native_python(target)
    info = tmp_path / "tiny-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("tiny.py,,\ntiny-1.0.dist-info/RECORD,,\n")
    (tmp_path / "tiny.py").write_text("import json, sys\nVALUE = sys.version_info[:2]\n")
    (tmp_path / "app.py").write_text(
        "import tiny\ndef handler(event, context):\n    return list(tiny.VALUE) + [event]\n"
    )
    result = logged_smoke(tmp_path, target, handler="app.handler", event=7, interpreter=interpreter)
    assert result.status == "passed", result.summary()
    assert result.imported == ("tiny", "app")
    assert result.handler_result == [*target.python, 7]
    assert not os.path.exists(tmp_path / "__pycache__")


def test_cli_smoke_runs_python314_from_an_x86_64_sysroot(
    tmp_path: Path, native_python: Require, sysroot_env: dict[str, str]
) -> None:
    """A user's path: `lambda-wheels smoke` with LAMBDA_WHEELS_X86_64_SYSROOT set finds sid's
    CPython 3.14 and starts it through the sysroot's loader (the host's glibc is older)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
        "linux"
    ):
        pytest.skip("needs a Linux x86_64 host")
    native_python(X86_314)  # skip (or fail on CI) without the sysroot
    bundle = _bundle(tmp_path / "x86-py314", X86_314)
    env = clean_env({"LAMBDA_WHEELS_X86_64_SYSROOT": sysroot_env["LAMBDA_WHEELS_X86_64_SYSROOT"]})
    script = str(Path(sys.executable).with_name("lambda-wheels"))
    proc = subprocess.run(
        [script, "smoke", str(bundle), "--runtime", "python3.14", "--arch", "x86_64", "--json"],
        env=env,
        text=True,
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "passed"
    assert data["python"].startswith("CPython 3.14") and data["python"].endswith("on x86_64")
    assert "/lib64/ld-linux-x86-64.so.2 --library-path " in data["interpreter"]


def test_a_loader_run_python_needs_no_pythonhome(native_python: Require) -> None:
    """The compile workers and the probe run ``-I`` (which ignores PYTHONHOME and PYTHONPATH): a
    sysroot's CPython started by its loader still finds its standard library, from argv[0]."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
        "linux"
    ):
        pytest.skip("needs a Linux x86_64 host")
    python = native_python(X86_314)
    if python.source != "sysroot":
        pytest.skip(f"CPython 3.14 here is not a sysroot's: {python.describe()}")
    root = Path(python.command[-1]).parents[2]
    env = {"PYTHONHOME": "/nonexistent", "PYTHONPATH": "/nonexistent", "PATH": "/usr/bin:/bin"}
    code = "import sys, json, ssl, sqlite3; print(json.dumps([sys.prefix, sys.executable]))"
    proc = subprocess.run(
        [*python.command, "-I", "-S", "-c", code], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    prefix, executable = json.loads(proc.stdout)
    assert prefix == str(root / "usr")
    assert executable == str(root / "usr/bin/python3.14")
    # on a host with an older glibc (Debian 12: 2.36) the host's loader cannot start it
    direct = subprocess.run([executable, "-c", "pass"], capture_output=True, text=True)
    host_glibc = tuple(int(part) for part in platform.libc_ver()[1].split(".")[:2] if part)
    if host_glibc < (2, 38):
        assert direct.returncode != 0 and "GLIBC_2.3" in direct.stderr
