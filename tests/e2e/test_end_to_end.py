"""Bundles built by lambda-wheels import under the target's own CPython (issue 6).

- x86_64: for every CPython 3.9-3.14 found on this host (pyenv here; 3.14 from Debian sid's
  sysroot, run by its own loader), a bundle of a native set (pydantic, numpy, cryptography,
  orjson) built for pythonX.Y/x86_64 imports every top-level module and runs a handler that
  uses them;
- arm64: the same set built for python3.11/arm64 and python3.14/arm64 imports under
  qemu-aarch64-static with Debian's aarch64 CPython 3.11 (bookworm) and 3.14 (sid);
- negative controls in the same module: that set installed by plain host
  ``pip install --target`` fails to import under emulated arm64, and a host-built
  ``linux_x86_64`` wheel that needs a newer glibc than Amazon Linux 2's is flagged by the audit.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.audit.engine import audit
from lambda_wheels_cdk.build.pipeline import BuildOptions, build_bundle
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.target.target import Target
from tests.support.packages import make_sdist

from .conftest import Require, Smoke, host_pip_install

pytestmark = pytest.mark.e2e

NATIVE_SET = ["pydantic", "numpy", "cryptography", "orjson"]
HANDLER = """\
import numpy as np
import orjson
from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel


class Event(BaseModel):
    values: list[float]


def handler(event, context):
    values = Event.model_validate(event).values
    digest = hashes.Hash(hashes.SHA256())
    digest.update(orjson.dumps(values))
    return {"mean": float(np.mean(values)), "sha256": digest.finalize().hex()[:16]}
"""
EVENT = {"values": [1.0, 2.0, 6.0]}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("lw-cache"))


def _bundle(target: Target, out: Path, cache_dir: str) -> Path:
    src = out.parent / f"src-{target.python_version}"
    src.mkdir(exist_ok=True)
    (src / "index.py").write_text(HANDLER)
    build_bundle(
        from_list(NATIVE_SET), target, out, options=BuildOptions(cache_dir=cache_dir), source=src
    )
    return out


@pytest.mark.parametrize(
    "runtime", ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]
)
def test_x86_64_bundle_imports_and_runs(
    runtime: str, tmp_path: Path, cache_dir: str, native_python: Require, logged_smoke: Smoke
) -> None:
    target = Target.for_runtime(runtime, "x86_64")
    interpreter = native_python(target)
    bundle = _bundle(target, tmp_path / "bundle", cache_dir)
    result = logged_smoke(
        bundle, target, handler="index.handler", event=EVENT, interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert {"numpy", "pydantic", "pydantic_core", "cryptography", "orjson"} <= set(result.imported)
    assert result.handler_result["mean"] == 3.0  # type: ignore[index]


def test_arm64_bundle_imports_under_qemu(
    tmp_path: Path, cache_dir: str, arm64_python: Require, logged_smoke: Smoke
) -> None:
    target = Target.for_runtime("python3.11", "arm64")
    interpreter = arm64_python(target)
    bundle = _bundle(target, tmp_path / "bundle", cache_dir)
    assert audit(bundle, target).errors == ()
    result = logged_smoke(
        bundle, target, handler="index.handler", event=EVENT, interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert result.handler_result["mean"] == 3.0  # type: ignore[index]

    # negative control: the same set as a laptop would install it (host x86_64 wheels)
    host = host_pip_install(tmp_path / "host-pip", NATIVE_SET)
    (host / "index.py").write_text(HANDLER)
    bad = logged_smoke(host, target, interpreter=interpreter)
    assert bad.status == "failed"
    failed = {f.module for f in bad.failures}
    assert {"numpy", "pydantic_core"} <= failed, bad.summary()
    assert audit(host, target).errors  # and the audit says so before any import


def test_arm64_python314_bundle_imports_under_qemu(
    tmp_path: Path, cache_dir: str, arm64_python: Require, logged_smoke: Smoke
) -> None:
    target = Target.for_runtime("python3.14", "arm64")
    interpreter = arm64_python(target)
    bundle = _bundle(target, tmp_path / "bundle", cache_dir)
    assert audit(bundle, target).errors == ()
    result = logged_smoke(
        bundle, target, handler="index.handler", event=EVENT, interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert result.python is not None and result.python.startswith("CPython 3.14")
    assert result.handler_result["mean"] == 3.0  # type: ignore[index]


# A C extension that calls memfd_create(), which glibc gained in 2.27 (Amazon Linux 2 has 2.26).
_MEMFD = b"""
#define _GNU_SOURCE
#include <Python.h>
#include <sys/mman.h>
static PyObject *fd(PyObject *self, PyObject *args) { return PyLong_FromLong(memfd_create("x", 0)); }
static PyMethodDef methods[] = {{"fd", fd, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&mod); }
"""


def test_host_built_wheel_with_new_glibc_symbols_is_flagged(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "src", "lw-fixture-memfd", native=True, c_source=_MEMFD)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--isolated",
            "--no-deps",
            "--quiet",
            "--index-url",
            "https://pypi.org/simple",
            "-w",
            str(wheels),
            str(sdist),
        ],
        check=True,
    )
    wheel = next(wheels.glob("*.whl"))
    assert wheel.name.endswith("linux_x86_64.whl")
    tree = tmp_path / "tree"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tree)
    report = audit(tree, Target.for_runtime("python3.11", "x86_64"))
    codes = {f.code for f in report.errors}
    assert "glibc" in codes, report.format_text()
    glibc = next(f for f in report.errors if f.code == "glibc")
    assert "GLIBC_2.27" in glibc.reason and "2.26" in glibc.reason
    assert "lw-fixture-memfd" in (glibc.distribution or "").replace("_", "-")
