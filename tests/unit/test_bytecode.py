"""Bytecode for the exact target: unchecked hash-based pycs with Lambda's paths, cached.

These tests compile with the interpreter running them (any CPython X.Y compiles for pythonX.Y;
the architecture does not matter), so they need nothing but this host.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_wheels_cdk.build import bytecode
from lambda_wheels_cdk.build.assemble import check_unzipped_size
from lambda_wheels_cdk.build.cache import BundleCache
from lambda_wheels_cdk.build.models import BuildOptions, DependencyBuild
from lambda_wheels_cdk.errors import AuditError, BundleError, UsageError
from lambda_wheels_cdk.smoke.interpreters import (
    Compiler,
    Host,
    NoCompiler,
    compiler_available,
    compiler_candidates,
    find_compiler,
)
from lambda_wheels_cdk.target.target import Target

HERE = (sys.version_info[0], sys.version_info[1])
TAG = sys.implementation.cache_tag


@pytest.fixture
def compiler() -> Compiler:
    found = find_compiler(HERE, given=sys.executable)
    assert isinstance(found, Compiler), found
    return found


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _dist(root: Path, name: str, files: dict[str, str]) -> None:
    """A distribution as an installer leaves it: its files and a RECORD naming them."""
    _write(root, files)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    rows = [f"{rel},," for rel in files] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- names and the pyc format (PEP 3147, PEP 552) ----------------------------------------------


@pytest.mark.parametrize(
    ("rel", "pyc"),
    [
        ("six.py", "__pycache__/six.cpython-312.pyc"),
        ("pkg/__init__.py", "pkg/__pycache__/__init__.cpython-312.pyc"),
        ("a/b/c.mod.py", "a/b/__pycache__/c.mod.cpython-312.pyc"),
    ],
)
def test_pyc_path_follows_pep_3147(rel: str, pyc: str) -> None:
    assert bytecode.pyc_path(rel, "cpython-312") == pyc


def test_pycs_are_unchecked_hash_based_with_lambda_paths(
    tmp_path: Path, compiler: Compiler
) -> None:
    root = _write(
        tmp_path / "src", {"pkg/__init__.py": "X = 1\n", "pkg/mod.py": "def f():\n  return 2\n"}
    )
    out = tmp_path / "out"
    failed = bytecode.compile_files(
        compiler, root, ["pkg/__init__.py", "pkg/mod.py"], "/var/task", out
    )
    assert failed == []
    data = (out / f"pkg/__pycache__/mod.{TAG}.pyc").read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    # PEP 552: flags bit 0 set = hash-based, bit 1 clear = the source is never checked
    assert int.from_bytes(data[4:8], "little") == 0b01
    assert data[8:16] == importlib.util.source_hash((root / "pkg/mod.py").read_bytes())
    code = marshal.loads(data[16:])
    assert code.co_filename == "/var/task/pkg/mod.py"


def test_the_bytes_do_not_depend_on_workers_or_folders(tmp_path: Path, compiler: Compiler) -> None:
    files = {f"m{i}.py": f"VALUE_{i} = {list(range(i))!r}\nNAME = 'm{i}'\n" for i in range(200)}
    a = _write(tmp_path / "checkout-a" / "src", files)
    b = _write(tmp_path / "elsewhere" / "b", files)
    bytecode.compile_files(compiler, a, sorted(files), "/opt/python", tmp_path / "one", workers=1)
    bytecode.compile_files(compiler, b, sorted(files), "/opt/python", tmp_path / "three", workers=3)
    one = {p.name: p.read_bytes() for p in (tmp_path / "one/__pycache__").iterdir()}
    three = {p.name: p.read_bytes() for p in (tmp_path / "three/__pycache__").iterdir()}
    assert len(one) == 200
    assert one == three


def test_a_file_that_does_not_compile_is_reported_and_skipped(
    tmp_path: Path, compiler: Compiler
) -> None:
    root = _write(tmp_path, {"ok.py": "A = 1\n", "py2.py": "print 'hello'\n"})
    failed = bytecode.compile_files(
        compiler, root, ["ok.py", "py2.py"], "/var/task", tmp_path / "o"
    )
    assert [rel for rel, _ in failed] == ["py2.py"]
    assert (tmp_path / f"o/__pycache__/ok.{TAG}.pyc").is_file()
    assert not (tmp_path / f"o/__pycache__/py2.{TAG}.pyc").exists()


# -- the cache -----------------------------------------------------------------------------------


def test_a_rebuild_compiles_nothing_and_a_shared_distribution_is_compiled_once(
    tmp_path: Path, compiler: Compiler, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("LAMBDA_WHEELS_EVENTS", str(events))
    cache = BundleCache(tmp_path / "cache")
    first = tmp_path / "first"
    _dist(first, "big", {f"big/m{i}.py": f"X = {i}\n" for i in range(30)})
    _dist(first, "small", {"small.py": "Y = 1\n"})
    got = bytecode.compile_tree(first, "/var/task", compiler, cache, key="k1")
    assert (got.files, got.cache) == (31, "miss")
    assert [e["files"] for e in _events(events) if e["event"] == "bytecode-compile"] == [31]

    again = bytecode.compile_tree(first, "/var/task", compiler, cache, key="k1")
    assert (again.files, again.cache) == (31, "hit")
    assert len([e for e in _events(events) if e["event"] == "bytecode-compile"]) == 1

    # another dependency set that shares "big": only the new distribution is compiled
    second = tmp_path / "second"
    _dist(second, "big", {f"big/m{i}.py": f"X = {i}\n" for i in range(30)})
    _dist(second, "other", {"other.py": "Z = 1\n"})
    result = bytecode.compile_tree(second, "/var/task", compiler, cache, key="k2")
    assert result.files == 31
    assert [e["files"] for e in _events(events) if e["event"] == "bytecode-compile"] == [31, 1]


def test_another_mount_is_another_entry(tmp_path: Path, compiler: Compiler) -> None:
    cache = BundleCache(tmp_path / "cache")
    root = tmp_path / "tree"
    _dist(root, "pkg", {"pkg/__init__.py": "A = 1\n"})
    task = bytecode.compile_tree(root, "/var/task", compiler, cache)
    layer = bytecode.compile_tree(root, "/opt/python", compiler, cache)
    pyc = f"pkg/__pycache__/__init__.{TAG}.pyc"
    assert (
        marshal.loads((task.tree / pyc).read_bytes()[16:]).co_filename
        == "/var/task/pkg/__init__.py"
    )
    assert (
        marshal.loads((layer.tree / pyc).read_bytes()[16:]).co_filename
        == "/opt/python/pkg/__init__.py"
    )


def test_a_changed_entry_is_compiled_again(tmp_path: Path, compiler: Compiler) -> None:
    cache = BundleCache(tmp_path / "cache")
    root = tmp_path / "tree"
    _dist(root, "pkg", {"pkg/__init__.py": "A = 1\n"})
    first = bytecode.compile_tree(root, "/var/task", compiler, cache, key="k")
    pyc = first.tree / f"pkg/__pycache__/__init__.{TAG}.pyc"
    pyc.write_bytes(b"garbage")
    again = bytecode.compile_tree(root, "/var/task", compiler, cache, key="k")
    assert again.cache == "miss"
    assert (again.tree / f"pkg/__pycache__/__init__.{TAG}.pyc").read_bytes()[
        :4
    ] == importlib.util.MAGIC_NUMBER


# -- finding a compiler ----------------------------------------------------------------------


def test_an_interpreter_of_another_version_is_never_used(tmp_path: Path) -> None:
    other = (3, 99)
    found = find_compiler(other, given=sys.executable)
    assert isinstance(found, NoCompiler)
    assert f"{HERE[0]}.{HERE[1]}" in found.reason


def test_no_compiler_means_no_bytecode_and_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = (3, 98)
    lines: list[str] = []
    root = _write(tmp_path / "t", {"a.py": "A = 1\n"})
    monkeypatch.setattr(
        bytecode, "find_compiler", lambda python, **kw: NoCompiler(python, "none here; install one")
    )
    cache = BundleCache(tmp_path / "cache")
    units = [bytecode.Unit(root, "", "/var/task")]
    one = bytecode.compile_units(target, units, cache, log=lines.append)
    two = bytecode.compile_units(target, units, cache, log=lines.append)
    assert one.skipped == two.skipped == "none here; install one"
    assert (one.files, one.size) == (0, 0)
    assert len([line for line in lines if line.startswith("warning:")]) == 1
    assert not list(root.rglob("*.pyc"))


def test_compiler_candidates_on_a_macos_arm64_host(tmp_path: Path) -> None:
    (tmp_path / ".pyenv/versions/3.12.7/bin").mkdir(parents=True)
    (tmp_path / ".pyenv/versions/3.12.10/bin").mkdir(parents=True)
    (tmp_path / ".pyenv/versions/3.13.0/bin").mkdir(parents=True)
    uv = tmp_path / ".local/share/uv/python/cpython-3.12.4-macos-aarch64-none"
    (uv / "bin").mkdir(parents=True)
    host = Host("Darwin", "arm64", {"PATH": "/opt/homebrew/bin:/usr/bin"}, tmp_path)
    found = [argv[0] for _, argv in compiler_candidates((3, 12), host)]
    assert found == [
        "/opt/homebrew/bin/python3.12",
        "/usr/bin/python3.12",
        str(tmp_path / ".pyenv/versions/3.12.10/bin/python3.12"),
        str(tmp_path / ".pyenv/versions/3.12.7/bin/python3.12"),
        str(uv / "bin/python3.12"),
    ]


def _fake_python(path: Path, version: tuple[int, int]) -> Path:
    """A script that answers the compiler probe as CPython ``version`` would."""
    reply = json.dumps(
        {"impl": "cpython", "version": [*version, 0], "magic": "abcd0d0a", "tag": "cpython-398"}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{reply}'\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(os.name != "posix", reason="shell scripts stand in for interpreters")
def test_a_sysroot_compiler_runs_through_its_loader_after_the_users_own(tmp_path: Path) -> None:
    version = (3, 98)  # no real interpreter (nor `uv python find`) has it
    root = tmp_path / "sysroots/sid"
    _fake_python(root / "usr/bin/python3.98", version)
    loader = root / "lib64/ld-linux-x86-64.so.2"
    loader.parent.mkdir(parents=True)
    loader.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')  # ld.so --library-path DIRS PROG ...
    loader.chmod(0o755)
    environ = {"PATH": str(tmp_path / "bin"), "LAMBDA_WHEELS_X86_64_SYSROOT": str(root.parent)}
    host = Host("Linux", "x86_64", environ, tmp_path / "home")
    assert compiler_available(version, host)
    found = find_compiler(version, host=host)
    assert isinstance(found, Compiler), found
    assert found.source == "sysroot"
    assert found.command == (
        str(loader),
        "--library-path",
        str(root / "lib64"),
        str(root / "usr/bin/python3.98"),
    )
    on_path = _fake_python(tmp_path / "bin/python3.98", version)
    first = find_compiler(version, host=host)
    assert isinstance(first, Compiler) and first.command == (str(on_path),)
    # a macOS host cannot run a Linux sysroot
    assert not compiler_available(
        version, replace(host, system="Darwin", environ={**environ, "PATH": ""})
    )


def test_compiler_candidates_on_windows(tmp_path: Path) -> None:
    host = Host("Windows", "AMD64", {"PATH": r"C:\\Python312"}, tmp_path)
    found = [argv for _, argv in compiler_candidates((3, 12), host)]
    assert found[0][0].endswith("python3.12.exe")


# -- options and limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "mode"),
    [
        (True, "all"),
        (False, "none"),
        ("all", "all"),
        ("dependencies", "dependencies"),
        ("none", "none"),
    ],
)
def test_bytecode_option_values(given: object, mode: str) -> None:
    assert BuildOptions(bytecode=given).bytecode == mode  # type: ignore[arg-type]


def test_a_bad_bytecode_option_says_what_is_allowed() -> None:
    with pytest.raises(UsageError, match="'dependencies'"):
        BuildOptions(bytecode="yes")  # type: ignore[arg-type]


def test_bytecode_that_pushes_a_bundle_over_250_mib_says_so(tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    deps = DependencyBuild(
        key="k",
        tree=tmp_path,
        target=target,
        installer="uv",
        distributions=(),
        warnings=(),
        cache="hit",
        size=200 * 2**20,
    )
    part = bytecode.Bytecode(tree=tmp_path, files=10, size=60 * 2**20, failed=(), cache="hit")
    report = bytecode.BytecodeReport("3.12", "all", compiler="CPython 3.12.1", parts=(("", part),))
    with pytest.raises(
        AuditError, match=r"because of its bytecode .*bytecode=False / --no-bytecode"
    ):
        check_unzipped_size("the bundle x", deps, None, (), report)
    assert check_unzipped_size("the bundle x", deps, None, ()) == 200 * 2**20
    with pytest.raises(AuditError) as too_big:
        check_unzipped_size("the bundle x", replace(deps, size=260 * 2**20), None, ())
    assert str(too_big.value).startswith(
        "the bundle x would be 260.0 MiB unzipped, over Lambda's 250 MiB limit "
        "(262,144,000 bytes). Largest: "
    )


def test_verify_mode_catches_a_pyc_changed_behind_its_size_and_time(
    tmp_path: Path, compiler: Compiler
) -> None:
    cache = BundleCache(tmp_path / "cache")
    root = tmp_path / "tree"
    _dist(root, "pkg", {"pkg/__init__.py": "A = 1\n"})
    first = bytecode.compile_tree(root, "/var/task", compiler, cache, key="k")
    pyc = first.tree / f"pkg/__pycache__/__init__.{TAG}.pyc"
    before = pyc.stat()
    data = bytearray(pyc.read_bytes())
    data[-1] ^= 0xFF  # same size
    pyc.write_bytes(bytes(data))
    os.utime(pyc, ns=(before.st_atime_ns, before.st_mtime_ns))  # same time
    assert bytecode.compile_tree(root, "/var/task", compiler, cache, key="k").cache == "hit"
    again = bytecode.compile_tree(root, "/var/task", compiler, cache, key="k", verify=True)
    assert again.cache == "miss"
    fresh = (again.tree / f"pkg/__pycache__/__init__.{TAG}.pyc").read_bytes()
    assert fresh[-1] != data[-1]


def test_cached_pycs_have_a_bundles_file_mode(tmp_path: Path, compiler: Compiler) -> None:
    old = os.umask(0o077)
    try:
        cache = BundleCache(tmp_path / "cache")
        root = tmp_path / "tree"
        _dist(root, "pkg", {"pkg/__init__.py": "A = 1\n"})
        got = bytecode.compile_tree(root, "/var/task", compiler, cache)
    finally:
        os.umask(old)
    if os.name == "posix":
        assert {p.stat().st_mode & 0o777 for p in got.tree.rglob("*.pyc")} == {0o644}


def test_an_interpreter_that_fails_names_itself_its_error_and_the_way_out(
    tmp_path: Path, compiler: Compiler
) -> None:
    """Not a file that does not compile: the interpreter itself dies (exit 1, on stderr)."""
    (tmp_path / "a.py").write_text("x = 1\n")
    crashing = replace(
        compiler, command=(sys.executable, "-c", "import sys; sys.exit('interpreter broke')")
    )
    with pytest.raises(BundleError) as info:
        bytecode.compile_files(crashing, tmp_path, ["a.py"], "/var/task", tmp_path / "out")
    message = str(info.value)
    assert "interpreter broke" in message and sys.executable in message
    assert "--no-bytecode" in message and "--bytecode-interpreter" in message
