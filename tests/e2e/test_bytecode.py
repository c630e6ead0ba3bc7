"""Bytecode that Lambda uses: real bundles from PyPI, zipped as the CDK CLI zips them (every
date 1980-01-01), unpacked read-only, imported by the target's CPython with ``-v`` to see where
each module's code came from. Speed is measured in ``benchmarks/``, not here."""

from __future__ import annotations

import marshal
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.audit.bytecode_rules import PYC_MAGIC
from lambda_wheels_cdk.build.pipeline import (
    BuildOptions,
    BundleCache,
    assemble_layer,
    build_dependencies,
    layer_bytecode,
    layer_layout,
)
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.smoke.interpreters import Interpreter
from lambda_wheels_cdk.target.runtimes import RUNTIMES
from lambda_wheels_cdk.target.target import Target
from lambda_wheels_cdk.tree import digest_files, iter_files
from tests.e2e.conftest import Require, clean_env

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "lambda_wheels_cdk"]
#: 1980-01-01, what the CDK CLI's zip gives every entry.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_EPOCH = 315_532_800


def _build(out: Path, cache: Path, *args: str, env: dict[str, str] | None = None) -> str:
    env = clean_env({"LAMBDA_WHEELS_CACHE_DIR": str(cache), **(env or {})})
    proc = subprocess.run(
        [*CLI, "build", "-o", str(out), *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _deploy_like_cdk(bundle: Path, dest: Path) -> Path:
    """Zip with every date set to 1980 (as the CDK CLI does), unpack keeping those dates, and
    make everything read-only (as /var/task is)."""
    archive = dest.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, path in iter_files(bundle):
            info = zipfile.ZipInfo(rel, ZIP_DATE)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            zf.writestr(info, path.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    for root, dirs, files in os.walk(dest):
        for name in files:
            os.utime(os.path.join(root, name), (ZIP_EPOCH, ZIP_EPOCH))
            os.chmod(os.path.join(root, name), 0o444)
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    return dest


def _code_sources(command: list[str], paths: list[Path], modules: str) -> tuple[int, list[str]]:
    """Import ``modules`` with ``-v -B`` (nothing written, as on a read-only file system); return
    how many code objects under ``paths`` came from a .pyc, and the sources compiled instead."""
    setup = "import sys; sys.path[:0] = " + repr([str(p) for p in paths])
    proc = subprocess.run(
        [*command, "-I", "-B", "-v", "-c", f"{setup}; import {modules}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    roots = tuple(str(p) for p in paths)
    from_pyc, from_source = 0, []
    for path in re.findall(r"^# code object from '?([^'\n]+)'?$", proc.stderr, re.MULTILINE):
        if not path.startswith(roots):
            continue
        if path.endswith(".pyc"):
            from_pyc += 1
        else:
            from_source.append(path)
    return from_pyc, from_source


def _make_writable(folder: Path) -> None:
    for root, _, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def test_a_default_bundle_loads_from_bytecode_after_a_cdk_style_zip_and_is_reproducible(
    tmp_path: Path, native_python: Require
) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    python = native_python(target)
    packages = ["pandas", "pydantic", "requests"]
    first = tmp_path / "one" / "bundle"
    _build(first, tmp_path / "cache-a", "--runtime", "python3.12", "--arch", "x86_64", *packages)

    unpacked = _deploy_like_cdk(first, tmp_path / "task")
    try:
        from_pyc, compiled = _code_sources(
            list(python.command), [unpacked], "pandas, pydantic, requests"
        )
    finally:
        _make_writable(unpacked)
    assert from_pyc > 300
    assert from_pyc / (from_pyc + len(compiled)) > 0.99, compiled[:10]

    # another cache, another folder, the same bytes (bytecode included)
    second = tmp_path / "elsewhere" / "other-name"
    _build(second, tmp_path / "cache-b", "--runtime", "python3.12", "--arch", "x86_64", *packages)
    assert digest_files(first, iter_files(first)) == digest_files(second, iter_files(second))
    pycs = [rel for rel, _ in iter_files(first) if rel.endswith(".cpython-312.pyc")]
    assert len(pycs) > 1000
    assert not [
        rel for rel, _ in iter_files(first) if rel.endswith(".pyc") and ".cpython-312." not in rel
    ]


def test_the_handler_source_is_compiled_with_lambda_paths(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handler(event, context):\n    raise ValueError(event)\n")
    out = tmp_path / "out"
    _build(
        out,
        tmp_path / "cache",
        "--runtime",
        "python3.11",
        "--arch",
        "arm64",
        "--source",
        str(source),
        "six",
    )
    pyc = out / "__pycache__" / "app.cpython-311.pyc"
    code = marshal.loads(pyc.read_bytes()[16:]) if sys.version_info[:2] == (3, 11) else None
    if code is not None:
        assert code.co_filename == "/var/task/app.py"
    assert b"/var/task/app.py" in pyc.read_bytes()
    assert str(tmp_path).encode() not in pyc.read_bytes()
    assert (out / "__pycache__" / "six.cpython-311.pyc").is_file()

    deps_only = tmp_path / "deps-only"
    _build(
        deps_only,
        tmp_path / "cache",
        "--runtime",
        "python3.11",
        "--arch",
        "arm64",
        "--source",
        str(source),
        "--no-source-bytecode",
        "six",
    )
    assert (deps_only / "__pycache__" / "six.cpython-311.pyc").is_file()
    assert not (deps_only / "__pycache__" / "app.cpython-311.pyc").exists()

    none = tmp_path / "none"
    _build(
        none,
        tmp_path / "cache",
        "--runtime",
        "python3.11",
        "--arch",
        "arm64",
        "--source",
        str(source),
        "--no-bytecode",
        "six",
    )
    assert not list(none.rglob("*.pyc"))


def test_arm64_bytecode_from_an_x86_64_compiler_loads_under_qemu(
    tmp_path: Path, arm64_python: Require
) -> None:
    target = Target.for_runtime("python3.13", "arm64")
    python: Interpreter = arm64_python(target)
    out = tmp_path / "bundle"
    _build(out, tmp_path / "cache", "--runtime", "python3.13", "--arch", "arm64", "requests")
    unpacked = _deploy_like_cdk(out, tmp_path / "task")
    try:
        from_pyc, compiled = _code_sources(list(python.command), [unpacked], "requests")
    finally:
        _make_writable(unpacked)
    assert from_pyc > 30
    assert compiled == []


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_python314_bytecode_from_a_sysroot_compiler_loads_on_both_architectures(
    arch: str,
    tmp_path: Path,
    native_python: Require,
    arm64_python: Require,
    sysroot_env: dict[str, str],
) -> None:
    """No CPython 3.14 on PATH, pyenv or uv here: with the sysroot variables set, the build
    finds Debian sid's 3.14 (x86_64, run by its own loader) and compiles with it; the bundle's
    cpython-314 pycs then load under 3.14 on x86_64 (same loader) and arm64 (qemu)."""
    target = Target.for_runtime("python3.14", arch)
    require = arm64_python if arch == "arm64" else native_python
    python = require(target)
    out = tmp_path / "bundle"
    packages = ["requests", "pydantic"]
    log = _build(
        out,
        tmp_path / "cache",
        "-v",
        "--runtime",
        "python3.14",
        "--arch",
        arch,
        *packages,
        env=sysroot_env,
    )
    assert "with CPython 3.14" in log, log[-2000:]
    pycs = [rel for rel, _ in iter_files(out) if rel.endswith(".pyc")]
    assert len(pycs) > 100 and all(".cpython-314." in rel for rel in pycs), pycs[:5]
    unpacked = _deploy_like_cdk(out, tmp_path / "task")
    try:
        from_pyc, compiled = _code_sources(list(python.command), [unpacked], "requests, pydantic")
    finally:
        _make_writable(unpacked)
    assert from_pyc > 50  # requests and pydantic's eager modules (pydantic imports lazily)
    assert compiled == []


def test_a_layer_for_two_versions_holds_each_versions_bytecode_in_its_folder(
    tmp_path: Path, native_python: Require
) -> None:
    targets = [Target.for_runtime(r, "x86_64") for r in ("python3.12", "python3.13")]
    pythons = [native_python(t) for t in targets]
    cache = BundleCache(tmp_path / "cache")
    options = BuildOptions()
    spec = from_list(["orjson", "six"])
    builds = [
        build_dependencies(spec, t, options, cache=cache, environ=clean_env()) for t in targets
    ]
    layout = layer_layout(builds)
    assert layout == "per-version"  # orjson ships one binary per Python version
    reports = layer_bytecode(builds, layout, options, cache)
    out = tmp_path / "layer"
    assemble_layer(out, builds, layout=layout, bytecode=reports)
    for target, python in zip(targets, pythons):
        site = out / "python" / "lib" / f"python{target.python_version}" / "site-packages"
        tag = f"cpython-{target.python[0]}{target.python[1]}"
        assert (site / "__pycache__" / f"six.{tag}.pyc").is_file()
        assert not [p for p in site.rglob("*.pyc") if f".{tag}." not in p.name]
        unpacked = _deploy_like_cdk(out, tmp_path / f"opt-{tag}")
        try:
            lib = unpacked / site.relative_to(out)
            from_pyc, compiled = _code_sources(list(python.command), [lib], "six, orjson")
        finally:
            _make_writable(unpacked)
        assert from_pyc >= 1
        assert compiled == []
    shutil.rmtree(out)


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_the_audits_magic_table_matches_each_targets_interpreter(
    runtime: str, native_python: Require
) -> None:
    """The audit's pyc-version rule trusts PYC_MAGIC: each entry must be what the real CPython
    of that minor writes (pyenv's 3.9-3.13, Debian sid's 3.14 through its own loader)."""
    target = Target.for_runtime(runtime, "x86_64")
    python = native_python(target)
    proc = subprocess.run(
        [*python.command, "-I", "-c", "import importlib.util as u; print(u.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    magic = int.from_bytes(bytes.fromhex(proc.stdout.strip())[:2], "little")
    assert PYC_MAGIC[target.python] == magic
