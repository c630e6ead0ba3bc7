"""Smoke imports: sys.path order, module discovery, result parsing, interpreter discovery.

Pure parts are tested directly; the probe itself runs under the interpreter running the tests
(fast, native) to prove isolation, crash/timeout handling and the handler call.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import lambda_wheels_cdk
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import InputError, UsageError
from lambda_wheels_cdk.smoke.interpreters import (
    Host,
    Interpreter,
    NotFound,
    default_sysroot_dir,
    find_interpreter,
)
from lambda_wheels_cdk.smoke.plan import (
    ImportPlan,
    lambda_sys_path,
    library_path,
    parse_handler,
    plan_imports,
    probe_env,
    read_distributions,
    top_level_from_record,
)
from lambda_wheels_cdk.smoke.runner import (
    PROBE,
    PYTHON_FLAGS,
    ProbeRun,
    interpret,
    parse_records,
    probe_command,
    smoke,
)
from lambda_wheels_cdk.target.runtimes import RUNTIMES
from lambda_wheels_cdk.target.target import Target

ARM = Target.for_runtime("python3.11", "arm64")
X86 = Target.for_runtime("python3.12", "x86_64")

# -- sys.path and LD_LIBRARY_PATH ------------------------------------------------------------


def test_sys_path_without_layers_is_the_bundle() -> None:
    assert lambda_sys_path(Path("/b"), [], (3, 12)) == [Path("/b")]


def test_sys_path_follows_lambdas_bootstrap_and_later_layers_win() -> None:
    # awslambdaric: /var/task -> /opt/python/lib/pythonX.Y/site-packages -> /opt/python;
    # layers are extracted into /opt in order, so the last layer's files win.
    got = lambda_sys_path(Path("/b"), [Path("/l1"), Path("/l2")], (3, 11))
    assert got == [
        Path("/b"),
        Path("/l2/python/lib/python3.11/site-packages"),
        Path("/l1/python/lib/python3.11/site-packages"),
        Path("/l2/python"),
        Path("/l1/python"),
    ]


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_sys_path_names_each_runtimes_python(runtime: str) -> None:
    target = Target.for_runtime(runtime, "arm64")
    site = lambda_sys_path(Path("/b"), [Path("/l")], target.python)[1]
    assert site == Path("/l/python/lib", runtime, "site-packages")


def test_library_path_is_bundle_lib_then_layer_libs_last_first() -> None:
    assert library_path(Path("/b"), [Path("/l1"), Path("/l2")]) == [
        Path("/b"),
        Path("/b/lib"),
        Path("/l2/lib"),
        Path("/l1/lib"),
    ]


def test_probe_env_is_built_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/host/site-packages")
    monkeypatch.setenv("PIP_INDEX_URL", "https://example.invalid/simple")
    monkeypatch.setenv("UV_INDEX_URL", "https://example.invalid/simple")
    env = probe_env(X86, Path("/b"), [Path("/l")], {"STAGE": "test"})
    assert not [k for k in env if k.startswith(("PYTHON", "PIP_", "UV_", "VIRTUAL_ENV"))]
    assert env["LD_LIBRARY_PATH"] == "/b:/b/lib:/l/lib"
    assert env["LAMBDA_TASK_ROOT"] == "/b"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["STAGE"] == "test"


def test_probe_runs_isolated_without_site_or_bytecode() -> None:
    command = probe_command(Interpreter(("py",), (3, 12), "x86_64", "given"), Path("/w"))
    assert command[:4] == ["py", *PYTHON_FLAGS] and PYTHON_FLAGS == ("-I", "-S", "-B")
    assert command[-2:] == [str(PROBE), "/w"]
    # a real file shipped in the package, in the syntax of the oldest runtime (3.9)
    assert Path(lambda_wheels_cdk.__file__).parent / "smoke" / "probe.py" == PROBE
    ast.parse(PROBE.read_text(encoding="utf-8"), str(PROBE), feature_version=(3, 9))


# -- which modules -----------------------------------------------------------------------------

RECORD_CASES: list[tuple[list[str], list[str]]] = [
    (["six.py", "six-1.17.0.dist-info/RECORD"], ["six"]),
    (
        [
            "numpy/__init__.py",
            "numpy/_core/_multiarray_umath.cpython-312-aarch64-linux-gnu.so",
            "numpy.libs/libopenblas64_p-r0-1234.so",
            "numpy-2.2.6.dist-info/METADATA",
            "../../bin/f2py",
            "bin/f2py",
        ],
        ["numpy"],
    ),
    (
        ["_cffi_backend.cpython-311-x86_64-linux-gnu.so", "cffi/__init__.py"],
        ["_cffi_backend", "cffi"],
    ),
    (["orjson/orjson.cpython-312-x86_64-linux-gnu.so", "orjson/py.typed"], ["orjson"]),
    (["google/protobuf/__init__.py"], ["google"]),  # namespace package
    (["share/jupyter/kernel.json", "etc/conf.d/x.cfg"], []),  # data only
    (["lib/libfoo.so", "libbar.so", "x.abi3.so", "y.so", "z.pyd"], ["x", "y", "z"]),
    (["__pycache__/six.cpython-312.pyc", "pkg/__pycache__/m.cpython-312.pyc"], []),
    (["distutils-precedence.pth", "py.typed", "README.md"], []),
    (["my-tool/__init__.py", "class.py", "__init__.py", "/abs/x.py"], []),
    (["pkg\\__init__.py", "./mod.py"], ["mod", "pkg"]),
    (["typing_extensions.py"], ["typing_extensions"]),
]


@pytest.mark.parametrize(("paths", "expected"), RECORD_CASES)
def test_top_level_from_record(paths: list[str], expected: list[str]) -> None:
    assert top_level_from_record(paths) == expected


def _dist(
    root: Path, name: str, *, top_level: Iterable[str] | None = None, record: Iterable[str] = ()
) -> Path:
    info = root / f"{name}.dist-info"
    info.mkdir(parents=True)
    if top_level is not None:
        (info / "top_level.txt").write_text("\n".join(top_level) + "\n")
    rows = list(record)
    if rows:
        (info / "RECORD").write_text("".join(f"{r},sha256=x,1\n" for r in rows))
    return info


def test_distributions_prefer_top_level_txt_then_record(tmp_path: Path) -> None:
    _dist(
        tmp_path,
        "cffi-1.17.1",
        top_level=["_cffi_backend", "cffi", ""],
        record=["cffi/__init__.py"],
    )
    _dist(
        tmp_path,
        "pydantic_core-2.33.2",
        record=[
            "pydantic_core/__init__.py",
            "pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so",
        ],
    )
    _dist(tmp_path, "odd-1.0")
    (tmp_path / "notadist").mkdir()
    dists = {d.name: d for d in read_distributions(tmp_path)}
    assert set(dists) == {"cffi", "pydantic_core", "odd"}
    assert (dists["cffi"].top_level, dists["cffi"].source) == (
        ("_cffi_backend", "cffi"),
        "top_level.txt",
    )
    assert dists["cffi"].version == "1.17.1" and str(dists["cffi"]) == "cffi 1.17.1"
    assert (dists["pydantic_core"].top_level, dists["pydantic_core"].source) == (
        ("pydantic_core",),
        "RECORD",
    )
    assert (dists["odd"].top_level, dists["odd"].source) == ((), "none")


def test_plan_imports_all_roots_first_wins_handler_last(tmp_path: Path) -> None:
    bundle, layer = tmp_path / "bundle", tmp_path / "layer"
    site = layer / "python/lib/python3.11/site-packages"
    _dist(bundle, "pydantic-2.0", record=["pydantic/__init__.py"])
    _dist(site, "pydantic-1.0", record=["pydantic/__init__.py"])
    _dist(site, "numpy-2.2.6", record=["numpy/__init__.py"])
    _dist(layer / "python", "boto3-1.0", top_level=["boto3"])
    plan = plan_imports(
        bundle,
        ARM,
        layers=[layer],
        handler="svc/app.handler",
        skip=["boto3"],
        modules=["numpy.linalg"],
    )
    assert plan.sys_path == (str(bundle), str(site), str(layer / "python"))
    assert plan.modules == ("numpy", "pydantic", "numpy.linalg", "svc.app")
    assert plan.skipped == ("boto3",)
    assert plan.owners["pydantic"] == ("pydantic 2.0",)  # the bundle's, not the layer's
    assert plan.handler_module == "svc.app"
    assert any("shadowed" in note and "pydantic-1.0" in note for note in plan.notes)


def test_plan_imports_refuses_missing_folders_and_empty_bundles(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        plan_imports(tmp_path / "nope", ARM)
    with pytest.raises(InputError, match="layer folder"):
        plan_imports(tmp_path, ARM, layers=[tmp_path / "nope"])
    with pytest.raises(InputError, match="nothing to import"):
        plan_imports(tmp_path, ARM)


@pytest.mark.parametrize(
    ("handler", "expected"),
    [("app.handler", ("app", "handler")), ("pkg/app.h", ("pkg.app", "h")), ("a.b.c", ("a.b", "c"))],
)
def test_parse_handler(handler: str, expected: tuple[str, str]) -> None:
    assert parse_handler(handler) == expected


@pytest.mark.parametrize("handler", ["app", ".h", "app.", "my-app.h", "app.class", "a..b"])
def test_parse_handler_rejects(handler: str) -> None:
    with pytest.raises(UsageError, match=r"module\.function"):
        parse_handler(handler)


# -- reading what the probe wrote ------------------------------------------------------------

PLAN = ImportPlan(
    sys_path=("/b",),
    modules=("numpy", "pydantic_core", "app"),
    owners={"numpy": ("numpy 2.2.6",), "pydantic_core": ("pydantic_core 2.33.2",)},
    skipped=("boto3",),
    handler="app.handler",
    handler_module="app",
)
QEMU = Interpreter(
    ("qemu-aarch64-static", "-L", "/sr", "/sr/usr/bin/python3.11"),
    (3, 11),
    "aarch64",
    "qemu",
    "qemu-aarch64-static",
)
START: dict[str, object] = {
    "event": "start",
    "implementation": "cpython",
    "version": [3, 11, 2],
    "machine": "aarch64",
    "removed": [],
}


def _ok(module: str) -> list[dict[str, object]]:
    return [
        {"event": "importing", "module": module},
        {"event": "imported", "module": module, "ok": True},
    ]


def _run(records: list[Any], returncode: int | None = 0, output: str = "") -> ProbeRun:
    return ProbeRun(tuple(records), returncode, output, 1.5, 300.0)


def test_parse_records_drops_a_torn_last_line() -> None:
    text = '{"event": "start"}\nnoise\n{"event": "importing", "module": "x"}\n{"event": "imp'
    assert parse_records(text) == [{"event": "start"}, {"event": "importing", "module": "x"}]


def test_interpret_passed_with_handler_result() -> None:
    records = [START, *_ok("numpy"), *_ok("pydantic_core"), *_ok("app")]
    records += [
        {"event": "handler", "ok": True, "result": {"ok": 1}},
        {"event": "done", "outside": []},
    ]
    result = interpret(_run(records), PLAN, ARM, QEMU)
    assert result.status == "passed" and result.passed and not result.failures
    assert result.imported == ("numpy", "pydantic_core", "app")
    assert result.handler_called and result.handler_result == {"ok": 1}
    assert result.python == "CPython 3.11.2 on aarch64"
    assert result.interpreter == "qemu-aarch64-static -L /sr /sr/usr/bin/python3.11"
    assert result.skipped_modules == ("boto3",)
    data = json.loads(json.dumps(result.to_dict()))
    assert (
        data["status"] == "passed"
        and data["arch"] == "arm64"
        and data["handler_result"] == {"ok": 1}
    )
    assert "qemu-aarch64-static" in result.summary() and '{"ok": 1}' in result.summary()


def test_interpret_failed_import_names_distribution_and_error() -> None:
    error = "ModuleNotFoundError: No module named 'pydantic_core._pydantic_core'"
    records = [
        START,
        *_ok("numpy"),
        {"event": "importing", "module": "pydantic_core"},
        {
            "event": "imported",
            "module": "pydantic_core",
            "ok": False,
            "error": error,
            "traceback": "tb",
        },
        *_ok("app"),
        {"event": "handler", "ok": False, "error": "KeyError: 'x'", "traceback": "tb2"},
        {"event": "done", "outside": [["yaml", "/usr/lib/python3/dist-packages/yaml/__init__.py"]]},
    ]
    result = interpret(_run(records), PLAN, ARM, QEMU)
    assert result.status == "failed" and not result.passed
    by_stage = {f.stage: f for f in result.failures}
    assert by_stage["import"].module == "pydantic_core"
    assert by_stage["import"].distributions == ("pydantic_core 2.33.2",)
    assert by_stage["import"].error == error and by_stage["import"].detail == "tb"
    assert by_stage["handler"].error == "KeyError: 'x'"
    assert by_stage["isolation"].module == "yaml" and "dist-packages" in by_stage["isolation"].error
    assert not result.handler_called
    assert "pydantic_core (pydantic_core 2.33.2): ModuleNotFoundError" in result.summary()


def test_interpret_crash_names_the_module_being_imported() -> None:
    records = [START, *_ok("numpy"), {"event": "importing", "module": "pydantic_core"}]
    result = interpret(
        _run(records, -4, "qemu: uncaught target signal 4 (Illegal instruction)"), PLAN, ARM, QEMU
    )
    assert result.status == "failed"
    (failure,) = result.failures
    assert (failure.stage, failure.module) == ("crash", "pydantic_core")
    assert "while importing pydantic_core" in failure.error and "signal 4" in failure.error
    assert "Illegal instruction" in failure.detail


def test_interpret_crash_in_handler() -> None:
    records = [START, *_ok("numpy"), *_ok("pydantic_core"), *_ok("app")]
    (failure,) = interpret(_run(records, 3), PLAN, ARM, QEMU).failures
    assert failure.stage == "crash" and "calling app.handler" in failure.error
    assert "exit status 3" in failure.error


def test_interpret_timeout() -> None:
    records = [START, {"event": "importing", "module": "numpy"}]
    result = interpret(_run(records, None), PLAN, ARM, QEMU)
    (failure,) = result.failures
    assert (failure.stage, failure.module) == ("timeout", "numpy")
    assert "timed out after 300 s while importing numpy" in failure.error


@pytest.mark.parametrize(
    "start",
    [
        {**START, "machine": "x86_64"},
        {**START, "version": [3, 12, 1]},
        {**START, "implementation": "pypy"},
    ],
)
def test_interpret_wrong_interpreter_is_skipped_not_passed(start: dict[str, object]) -> None:
    records = [start, *_ok("numpy"), {"event": "done", "outside": []}]
    result = interpret(_run(records), PLAN, ARM, QEMU)
    assert result.status == "skipped" and "not CPython 3.11 on aarch64" in result.reason


def test_interpret_interpreter_that_did_not_start_is_skipped() -> None:
    result = interpret(
        _run([], 1, "qemu: could not open '/lib/ld-linux-aarch64.so.1'"), PLAN, ARM, QEMU
    )
    assert result.status == "skipped"
    assert "did not start (exit status 1)" in result.reason and "ld-linux" in result.reason


# -- interpreter discovery (fake host, fake file system) ---------------------------------------


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def _host(
    tmp_path: Path, *, machine: str = "x86_64", system: str = "Linux", **environ: str
) -> Host:
    environ.setdefault("PATH", str(tmp_path / "empty-bin"))
    return Host(system, machine, environ, tmp_path / "home")


posix_only = pytest.mark.skipif(os.name != "posix", reason="executable bits are POSIX")


@posix_only
def test_native_prefers_path_but_skips_shims(tmp_path: Path) -> None:
    shim = _exe(tmp_path / "pyenv/shims/python3.12")
    on_path = _exe(tmp_path / "usr/bin/python3.12")
    host = _host(
        tmp_path,
        PATH=os.pathsep.join([str(shim.parent), str(on_path.parent)]),
        PYENV_ROOT=str(tmp_path / "pyenv"),
    )
    _exe(tmp_path / "pyenv/versions/3.12.1/bin/python3.12")
    found = find_interpreter(X86, host)
    assert isinstance(found, Interpreter)
    assert (found.command, found.source, found.emulated) == ((str(on_path),), "PATH", False)


@posix_only
def test_native_pyenv_newest_patch_first(tmp_path: Path) -> None:
    root = tmp_path / "home/.pyenv"  # default PYENV_ROOT
    for version in ["3.12.1", "3.12.10", "3.12.9", "3.12-dev", "3.13.0", "3.12.4t"]:
        _exe(root / "versions" / version / "bin" / "python3.12")
    found = find_interpreter(X86, _host(tmp_path))
    assert isinstance(found, Interpreter) and found.source == "pyenv"
    assert found.command == (str(root / "versions/3.12.10/bin/python3.12"),)


@posix_only
def test_native_uv_managed_interpreter(tmp_path: Path) -> None:
    uv = tmp_path / "uvpy"
    _exe(uv / "cpython-3.12.8-linux-aarch64-gnu/bin/python3.12")  # other arch: ignored
    wanted = _exe(uv / "cpython-3.12.8-linux-x86_64-gnu/bin/python3.12")
    found = find_interpreter(X86, _host(tmp_path, UV_PYTHON_INSTALL_DIR=str(uv)))
    assert isinstance(found, Interpreter) and found.source == "uv"
    assert found.command == (str(wanted),)


def test_native_nothing_found_says_how_to_get_one(tmp_path: Path) -> None:
    found = find_interpreter(X86, _host(tmp_path))
    assert isinstance(found, NotFound)
    assert "pyenv install 3.12" in found.reason and "python3.12" in found.reason
    assert found.tried


@pytest.mark.parametrize(("system", "machine"), [("Darwin", "arm64"), ("Windows", "AMD64")])
def test_non_linux_hosts_find_nothing(tmp_path: Path, system: str, machine: str) -> None:
    for target in (ARM, X86):
        found = find_interpreter(target, _host(tmp_path, system=system, machine=machine))
        assert isinstance(found, NotFound) and "Linux" in found.reason


@posix_only
def test_emulated_arm64_with_qemu_and_sysroot_from_env(tmp_path: Path) -> None:
    qemu = _exe(tmp_path / "bin/qemu-aarch64-static")
    sysroots = tmp_path / "sysroots"
    _exe(sysroots / "trixie/usr/bin/python3.13")
    bookworm = sysroots / "bookworm"
    _exe(bookworm / "usr/bin/python3.11")
    host = _host(tmp_path, PATH=str(qemu.parent), LAMBDA_WHEELS_ARM64_SYSROOT=str(sysroots))
    found = find_interpreter(ARM, host)
    assert isinstance(found, Interpreter)
    assert found.command == (
        str(qemu),
        *("-cpu", "neoverse-n1"),  # Lambda arm64 = Graviton2
        *("-L", str(bookworm)),
        str(bookworm / "usr/bin/python3.11"),
    )
    assert found.emulated and found.emulator == str(qemu) and found.source == "qemu"
    assert found.describe().startswith(f"{qemu} -cpu neoverse-n1 -L {bookworm} ")


@posix_only
def test_emulated_default_sysroot_location_and_plain_qemu_name(tmp_path: Path) -> None:
    qemu = _exe(tmp_path / "bin/qemu-aarch64")
    host = _host(tmp_path, PATH=str(qemu.parent), XDG_CACHE_HOME=str(tmp_path / "cache"))
    root = default_sysroot_dir("aarch64", host)
    assert root == tmp_path / "cache/lambda-wheels/arm64-sysroot"
    _exe(root / "usr/bin/python3.11")  # the folder itself may be the sysroot
    found = find_interpreter(ARM, host)
    assert isinstance(found, Interpreter) and found.command[3:5] == ("-L", str(root))


@posix_only
def test_emulated_missing_qemu_or_sysroot_says_what_to_install(tmp_path: Path) -> None:
    sysroot = tmp_path / "sr"
    _exe(sysroot / "usr/bin/python3.11")
    no_qemu = find_interpreter(ARM, _host(tmp_path, LAMBDA_WHEELS_ARM64_SYSROOT=str(sysroot)))
    assert isinstance(no_qemu, NotFound)
    assert (
        "qemu-aarch64-static" in no_qemu.reason
        and "apt-get install qemu-user-static" in no_qemu.reason
    )
    assert "sysroot" not in no_qemu.reason
    qemu = _exe(tmp_path / "bin/qemu-aarch64-static")
    no_root = find_interpreter(
        ARM, _host(tmp_path, PATH=str(qemu.parent), LAMBDA_WHEELS_ARM64_SYSROOT=str(tmp_path / "x"))
    )
    assert isinstance(no_root, NotFound)
    assert (
        "LAMBDA_WHEELS_ARM64_SYSROOT" in no_root.reason and "usr/bin/python3.11" in no_root.reason
    )


@posix_only
def test_native_aarch64_host_uses_a_local_interpreter(tmp_path: Path) -> None:
    python = _exe(tmp_path / "usr/bin/python3.11")
    found = find_interpreter(ARM, _host(tmp_path, machine="aarch64", PATH=str(python.parent)))
    assert isinstance(found, Interpreter) and not found.emulated
    assert found.command == (str(python),)


X86_314 = Target.for_runtime("python3.14", "x86_64")


def _debian_sysroot(root: Path, arch: str = "x86_64") -> Path:
    """The layout of a Debian sid sysroot: merged /usr, the loader under usr/lib64 (x86_64)."""
    _exe(root / "usr/bin/python3.14")
    (root / f"usr/lib/{arch}-linux-gnu").mkdir(parents=True)
    if arch == "x86_64":
        _exe(root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        (root / "usr/lib64").mkdir()
        (root / "usr/lib64/ld-linux-x86-64.so.2").symlink_to(
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        )
        (root / "lib64").symlink_to("usr/lib64")
    (root / "lib").symlink_to("usr/lib")
    return root


@posix_only
def test_native_falls_back_to_a_sysroot_run_by_its_own_loader(tmp_path: Path) -> None:
    root = _debian_sysroot(tmp_path / "sysroots/sid")
    host = _host(tmp_path, LAMBDA_WHEELS_X86_64_SYSROOT=str(tmp_path / "sysroots"))
    found = find_interpreter(X86_314, host)
    assert isinstance(found, Interpreter)
    assert found.command == (
        f"{root}/lib64/ld-linux-x86-64.so.2",
        "--library-path",
        f"{root}/lib/x86_64-linux-gnu:{root}/lib64",  # usr/lib/... is the same folder
        f"{root}/usr/bin/python3.14",
    )
    assert (found.source, found.emulated) == ("sysroot", False)
    assert found.library_path == (f"{root}/lib/x86_64-linux-gnu", f"{root}/lib64")
    # the user's own interpreter comes first
    on_path = _exe(tmp_path / "bin/python3.14")
    host = _host(
        tmp_path, PATH=str(on_path.parent), LAMBDA_WHEELS_X86_64_SYSROOT=str(tmp_path / "sysroots")
    )
    assert find_interpreter(X86_314, host) == Interpreter(
        (str(on_path),), (3, 14), "x86_64", "PATH"
    )


@posix_only
def test_a_sysroot_loaders_absolute_link_stays_inside_the_sysroot(tmp_path: Path) -> None:
    root = tmp_path / "bookworm-like"
    _exe(root / "usr/bin/python3.14")
    loader = _exe(root / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    (root / "lib64").mkdir()
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    found = find_interpreter(X86_314, _host(tmp_path, LAMBDA_WHEELS_X86_64_SYSROOT=str(root)))
    assert isinstance(found, Interpreter) and found.command[0] == str(loader)


@posix_only
def test_a_sysroot_without_its_loader_is_not_run_natively(tmp_path: Path) -> None:
    root = tmp_path / "sr"
    _exe(root / "usr/bin/python3.14")
    found = find_interpreter(X86_314, _host(tmp_path, LAMBDA_WHEELS_X86_64_SYSROOT=str(root)))
    assert isinstance(found, NotFound)
    assert "LAMBDA_WHEELS_X86_64_SYSROOT" in found.reason
    assert "lib64/ld-linux-x86-64.so.2" in found.reason
    assert str(root / "usr/bin/python3.14") in found.tried


def test_a_loader_run_interpreter_gets_the_bundles_libraries_after_the_sysroots() -> None:
    """ld.so --library-path ignores LD_LIBRARY_PATH: the bundle's lib folders join the argument,
    after the system's, as in Lambda's LD_LIBRARY_PATH (/lib64:/usr/lib64:...:/var/task/lib)."""
    loaded = Interpreter(
        ("/r/lib64/ld.so", "--library-path", "/r/lib:/r/lib64", "/r/usr/bin/python3.14"),
        (3, 14),
        "x86_64",
        "sysroot",
        library_path=("/r/lib", "/r/lib64"),
    )
    env = probe_env(X86_314, Path("/b"), [Path("/l")])
    assert loaded.argv(env) == (
        "/r/lib64/ld.so",
        "--library-path",
        "/r/lib:/r/lib64:/b:/b/lib:/l/lib",
        "/r/usr/bin/python3.14",
    )
    assert loaded.argv({}) == loaded.command
    assert probe_command(loaded, Path("/w"), env)[:5] == [*loaded.argv(env), "-I"]
    plain = Interpreter(("py",), (3, 14), "x86_64", "given")
    assert plain.argv(env) == ("py",)


def test_host_arch_spellings() -> None:
    assert Host("Windows", "AMD64", {}, Path()).arch == "x86_64"
    assert Host("Darwin", "arm64", {}, Path()).arch == "aarch64"
    assert Host("Linux", "riscv64", {}, Path()).arch is None


# -- smoke() ---------------------------------------------------------------------------------


def test_smoke_without_interpreter_is_skipped_never_passed(tmp_path: Path) -> None:
    _dist(tmp_path, "six-1.17.0", record=["six.py"])
    asked: list[Target] = []

    def finder(target: Target) -> NotFound:
        asked.append(target)
        return NotFound(target, "no qemu here: apt-get install qemu-user-static")

    result = smoke(tmp_path, ARM, interpreter=finder)
    assert asked == [ARM]
    assert result.status == "skipped" and not result.passed and result.interpreter is None
    assert "apt-get install qemu-user-static" in result.reason


def test_smoke_rejects_a_non_json_event(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def h(e, c):\n    return e\n")
    with pytest.raises(UsageError, match="not JSON"):
        smoke(tmp_path, ARM, handler="app.h", event={"x": object()}, interpreter=QEMU)


def _host_target() -> Target | None:
    runtime = "python{}.{}".format(*sys.version_info[:2])
    if not sys.platform.startswith("linux") or runtime not in RUNTIMES:
        return None
    return Target.for_runtime(runtime, platform.machine())


HOST_TARGET = _host_target()
needs_host_target = pytest.mark.skipif(
    HOST_TARGET is None, reason="needs Linux and a Lambda Python version"
)


def _probe_bundle(root: Path) -> Path:
    """A bundle with a noisy module, a broken one, one that needs the host's pytest, a handler."""
    _dist(root, "noisy-1.0", record=["noisy.py"])
    (root / "noisy.py").write_text(
        "import sys\nprint('{\"event\": \"done\"}')\nsys.stdout.write('no newline')\n"
    )
    _dist(root, "broken-1.0", top_level=["broken"])
    (root / "broken.py").write_text(
        "raise ImportError('cannot open shared object file: libfoo.so.1')\n"
    )
    _dist(root, "hostdep-1.0", record=["hostdep.py"])
    (root / "hostdep.py").write_text("import pytest\n")
    (root / "app.py").write_text(
        "import os, sys, decimal\n"
        "def handler(event, context):\n"
        "    return {'event': event, 'cwd': os.getcwd(), 'path0': sys.path[0],\n"
        "            'request': context.aws_request_id, 'd': decimal.Decimal('1.5'),\n"
        "            'pythonpath': os.environ.get('PYTHONPATH')}\n"
    )
    return root


@needs_host_target
def test_smoke_runs_the_probe_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert HOST_TARGET is not None
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # must not leak in
    bundle = _probe_bundle(tmp_path / "bundle")
    result = smoke(
        bundle,
        HOST_TARGET,
        handler="app.handler",
        event={"k": [1]},
        interpreter=Interpreter.given(sys.executable, HOST_TARGET),
    )
    assert result.status == "failed"
    assert result.imported == ("noisy", "app")
    errors = {f.module: f.error for f in result.failures}
    assert errors == {
        "broken": "ImportError: cannot open shared object file: libfoo.so.1",
        "hostdep": "ModuleNotFoundError: No module named 'pytest'",
    }
    assert result.handler_called
    assert result.handler_result == {
        "event": {"k": [1]},
        "cwd": str(bundle.resolve()),
        "path0": str(bundle.resolve()),
        "request": "00000000-0000-0000-0000-000000000000",
        "d": 1.5,
        "pythonpath": None,
    }
    assert not list(bundle.rglob("__pycache__")), "-B: no bytecode written into the bundle"
    assert result.interpreter == sys.executable


@needs_host_target
def test_smoke_skip_list_and_pass(tmp_path: Path) -> None:
    assert HOST_TARGET is not None
    bundle = _probe_bundle(tmp_path / "bundle")
    result = smoke(
        bundle,
        HOST_TARGET,
        skip=["broken", "hostdep"],
        interpreter=Interpreter.given(sys.executable, HOST_TARGET),
    )
    assert result.status == "passed", result.summary()
    assert result.skipped_modules == ("broken", "hostdep")
    assert not result.handler_called


@needs_host_target
def test_smoke_crash_and_timeout_name_the_module(tmp_path: Path) -> None:
    assert HOST_TARGET is not None
    interpreter = Interpreter.given(sys.executable, HOST_TARGET)
    (tmp_path / "dies.py").write_text("import os\nos._exit(7)\n")
    (tmp_path / "hangs.py").write_text("import time\ntime.sleep(30)\n")
    crashed = smoke(tmp_path, HOST_TARGET, modules=["dies"], interpreter=interpreter)
    (failure,) = crashed.failures
    assert (failure.stage, failure.module) == ("crash", "dies") and "exit status 7" in failure.error
    hung = smoke(tmp_path, HOST_TARGET, modules=["hangs"], interpreter=interpreter, timeout=1.5)
    (failure,) = hung.failures
    assert (failure.stage, failure.module) == ("timeout", "hangs")


@needs_host_target
def test_smoke_wrong_version_interpreter_is_skipped(tmp_path: Path) -> None:
    assert HOST_TARGET is not None
    other = "python3.12" if HOST_TARGET.runtime != "python3.12" else "python3.11"
    target = Target.for_runtime(other, HOST_TARGET.lambda_arch)
    (tmp_path / "m.py").write_text("")
    result = smoke(
        tmp_path, target, modules=["m"], interpreter=Interpreter.given(sys.executable, target)
    )
    assert result.status == "skipped" and f"not CPython {target.python_version}" in result.reason


# -- CLI -------------------------------------------------------------------------------------


def test_cli_skipped_exit_3_and_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.py").write_text("")
    argv = ["smoke", str(tmp_path), "--runtime", "python3.11", "--arch", "arm64", "--import", "m"]
    assert main([*argv, "--python", str(tmp_path / "no-such-python")]) == 3
    out = capsys.readouterr().out
    assert "skipped" in out and "did not start" in out and "no-such-python" in out


@needs_host_target
def test_cli_passed_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert HOST_TARGET is not None
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event['n'] + 1\n")
    event = tmp_path / "event.json"
    event.write_text('{"n": 41}')
    argv = [
        "smoke",
        str(tmp_path),
        "--runtime",
        HOST_TARGET.runtime,
        "--arch",
        HOST_TARGET.lambda_arch,
    ]
    argv += [
        "--handler",
        "app.handler",
        "--event",
        f"@{event}",
        "--python",
        sys.executable,
        "--json",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "passed" and data["handler_result"] == 42
    assert data["interpreter"] == sys.executable and data["imported"] == ["app"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--handler", "app.handler", "--event", "{nope"], "not JSON"),
        (["--event", "{}"], "--handler"),
        (["--handler", "app"], "module.function"),
        (["--timeout", "0"], "--timeout"),
    ],
)
def test_cli_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    (tmp_path / "app.py").write_text("")
    argv = [
        "smoke",
        str(tmp_path),
        "--runtime",
        "python3.11",
        "--arch",
        "arm64",
        "--python",
        "x",
        *extra,
    ]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_missing_bundle_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["smoke", str(tmp_path / "nope"), "--runtime", "python3.12", "--arch", "x86_64"]) == 2
    )
    assert "does not exist" in capsys.readouterr().err


@needs_host_target
def test_bundle_modules_cannot_shadow_the_probe(tmp_path: Path) -> None:
    assert HOST_TARGET is not None
    for name in ("site", "importlib", "platform", "json"):
        (tmp_path / f"{name}.py").write_text("raise RuntimeError('shadowed the probe')\n")
    (tmp_path / "m.py").write_text("X = 1\n")
    result = smoke(
        tmp_path,
        HOST_TARGET,
        modules=["m"],
        interpreter=Interpreter.given(sys.executable, HOST_TARGET),
    )
    assert result.status == "passed", result.summary()


# -- test infrastructure (tests/support/sysroots.py) ------------------------------------------

APT_DEPENDS = """\
python3.13-minimal
  PreDepends: libc6
  Depends: libpython3.13-minimal
libpython3.13-stdlib
 |Depends: media-types
  Depends: <mime-support>
  Depends: tzdata
  Depends: libffi8
tzdata
 |Depends: debconf
  Depends: <debconf-2.0>
    cdebconf
    debconf
libc6
  Depends: libgcc-s1
libgcc-s1
  Depends: gcc-14-base
libpython3.13-minimal
  Depends: libc6
libffi8
 |Depends: libc6
  Depends: <libc6.1>
    libc6.1-alt
<debconf-2.0>
<mime-support>
"""


def test_sysroot_dependency_closure() -> None:
    from tests.support.sysroots import closure, parse_depends

    graph = parse_depends(APT_DEPENDS)
    assert graph["libpython3.13-stdlib"] == [
        ["media-types", "<mime-support>"],
        ["tzdata"],
        ["libffi8"],
    ]
    assert graph["<debconf-2.0>"] == [["cdebconf"], ["debconf"]]
    assert closure(graph, ["python3.13-minimal", "libpython3.13-stdlib"]) == [
        "gcc-14-base",
        "libc6",
        "libffi8",
        "libgcc-s1",
        "libpython3.13-minimal",
        "libpython3.13-stdlib",
        "python3.13-minimal",
    ]


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_sysroot_merged_usr_and_stamp(tmp_path: Path) -> None:
    from tests.support.sysroots import RECIPE, STAMP, Suite, _merge_usr, _stamp_ok

    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib64").mkdir()  # amd64's libc6 ships usr/lib64/ld-linux-x86-64.so.2
    (tmp_path / "usr/bin").mkdir()
    (tmp_path / "sbin").mkdir()  # shipped by a package: left alone
    _merge_usr(tmp_path)
    assert os.readlink(tmp_path / "lib") == os.path.join("usr", "lib")
    assert os.readlink(tmp_path / "lib64") == os.path.join("usr", "lib64")
    assert os.readlink(tmp_path / "bin") == os.path.join("usr", "bin")
    assert not (tmp_path / "sbin").is_symlink()
    suite = Suite("bookworm", "3.11")
    assert "libstdc++6" in suite.roots and "python3.11-minimal" in suite.roots
    assert not _stamp_ok(tmp_path, suite)
    (tmp_path / "usr/bin/python3.11").write_text("")
    (tmp_path / STAMP).write_text(json.dumps({"recipe": RECIPE, "python": "3.11"}))
    assert _stamp_ok(tmp_path, suite)  # a stamp from before the sid sysroots: arm64
    assert not _stamp_ok(tmp_path, Suite("bookworm", "3.11", "amd64"))
    (tmp_path / STAMP).write_text(json.dumps({"recipe": RECIPE - 1, "python": "3.11"}))
    assert not _stamp_ok(tmp_path, suite)


def test_the_test_setup_provides_python314_for_both_architectures() -> None:
    from tests.support.sysroots import SUITES, apt_options

    assert {(s.name, s.python, s.wheel_arch) for s in SUITES} >= {
        ("sid", "3.14", "x86_64"),
        ("sid", "3.14", "aarch64"),
    }
    amd64 = [s.arch for s in SUITES if s.python == "3.14"]
    assert amd64.index("amd64") < amd64.index("arm64")  # its CPython compiles arm64's stdlib
    assert "-oAPT::Architecture=amd64" in apt_options(Path("/apt"), "amd64")


@needs_host_target
def test_smoke_layers_in_lambdas_order(tmp_path: Path) -> None:
    assert HOST_TARGET is not None
    bundle, first, second = tmp_path / "bundle", tmp_path / "layer1", tmp_path / "layer2"
    site = Path("python/lib", HOST_TARGET.runtime, "site-packages")
    for layer in (first, second):
        (layer / site).mkdir(parents=True)
        (layer / site / "where.py").write_text(f"NAME = {layer.name!r} + '/site-packages'\n")
        (layer / "python" / "plain.py").write_text(f"NAME = {layer.name!r} + '/python'\n")
    _dist(first / site, "where-1.0", record=["where.py"])
    bundle.mkdir()
    (bundle / "app.py").write_text(
        "import sys, where, plain\n"
        "def handler(event, context):\n"
        "    return [where.NAME, plain.NAME, sys.path[:5]]\n"
    )
    result = smoke(
        bundle,
        HOST_TARGET,
        layers=[first, second],
        handler="app.handler",
        interpreter=Interpreter.given(sys.executable, HOST_TARGET),
    )
    assert result.status == "passed", result.summary()
    assert result.imported == ("where", "app")  # the layer's distributions are imported too
    where, plain, path = result.handler_result
    assert (where, plain) == ("layer2/site-packages", "layer2/python")  # later layers win
    assert path == [
        str(bundle),
        str(second / site),
        str(first / site),
        str(second / "python"),
        str(first / "python"),
    ]
