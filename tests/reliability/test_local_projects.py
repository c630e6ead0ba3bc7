"""Local project folders as requirements (issue 19, item 10).

``-e ../pkg`` is refused (an editable install links to a folder that is not in the bundle) with
a hint to write ``../pkg``; that hint must lead somewhere. A local project folder (``./pkg``,
``../pkg``, ``name @ file:///...``) is built into a wheel on the host, like a pure-Python sdist:
a pure result is installed; one with compiled code is refused (a host build cannot be trusted
to run on the target), saying how to build the wheel for the target instead.

The projects here have an in-tree PEP 517 backend with no build requirements, so the tests need
no index and no compiler; the "native" one ships a real ELF shared library of this host.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import InputError, InstallError

from .conftest import CliRun, Workspace, backend_source

RunCli = Callable[..., CliRun]
pytestmark = pytest.mark.e2e


def make_project(
    folder: Path, name: str, *, files: dict[str, bytes], tag: str = "py3-none-any"
) -> Path:
    """A project folder whose build backend (in the folder, no requirements) makes one wheel."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "lw_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n'
    )
    (folder / "lw_backend.py").write_text(backend_source(name, "0.1", files=files, tag=tag))
    return folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """``app/`` (the function's folder) beside ``pkg/`` (a pure local project)."""
    make_project(tmp_path / "pkg", "mypkg", files={"mypkg/__init__.py": b"ANSWER = 42\n"})
    (tmp_path / "app").mkdir()
    return tmp_path / "app"


def _build(run_cli: RunCli, out: Path, *args: str) -> CliRun:
    return run_cli(
        "build", "--runtime", "python3.12", "--arch", "arm64", "--no-index", "-o", str(out), *args
    )


def test_the_editable_hint_leads_to_a_working_build(
    app: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    (app / "requirements.txt").write_text("-e ../pkg\n")
    refused = _build(run_cli, tmp_path / "out", "-r", str(app / "requirements.txt"))
    assert refused.code == 2 and isinstance(refused.error, InputError), refused.err
    message = str(refused.error)
    assert "requirements.txt:1: editable requirement '-e ../pkg' is not supported" in message
    assert "write '../pkg'" in message, message

    (app / "requirements.txt").write_text("../pkg\n")  # what the hint says
    result = _build(run_cli, tmp_path / "out", "-r", str(app / "requirements.txt"))
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "mypkg" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert "mypkg==0.1  mypkg-0.1-py3-none-any.whl" in result.out


@pytest.mark.parametrize("how", ["./pkg", "../app/pkg", "mypkg @ ./pkg", "file-url"])
def test_a_pure_local_project_is_built_and_installed(
    how: str, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    app = tmp_path / "app"
    make_project(app / "pkg", "mypkg", files={"mypkg/__init__.py": b"ANSWER = 42\n"})
    line = f"mypkg @ {(app / 'pkg').as_uri()}" if how == "file-url" else how
    (app / "requirements.txt").write_text(f"{line}\n")
    result = _build(run_cli, tmp_path / "out", "-r", str(app / "requirements.txt"))
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "mypkg" / "__init__.py").is_file()
    assert not list((tmp_path / "out").glob("*.whl")), "the built wheel is installed, not copied"


def test_a_local_project_on_the_command_line(
    app: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(app)
    result = _build(run_cli, tmp_path / "out", "../pkg")
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "mypkg" / "__init__.py").is_file()


def test_a_changed_local_project_is_rebuilt(
    app: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    (app / "requirements.txt").write_text("../pkg\n")
    assert _build(run_cli, tmp_path / "a", "-r", str(app / "requirements.txt")).code == 0
    backend = tmp_path / "pkg" / "lw_backend.py"
    backend.write_text(backend.read_text().replace(b"ANSWER = 42".hex(), b"ANSWER = 43".hex()))
    result = _build(run_cli, tmp_path / "b", "-r", str(app / "requirements.txt"))
    assert result.code == 0, result.err
    assert (tmp_path / "b" / "mypkg" / "__init__.py").read_text() == "ANSWER = 43\n"


def _a_shared_library() -> bytes:
    """A real ELF shared object of this host (an extension module of the running Python)."""
    import importlib
    from importlib.machinery import EXTENSION_SUFFIXES

    for name in ("_ctypes", "_json", "_struct", "select", "math"):
        path = getattr(importlib.import_module(name), "__file__", None) or ""
        if path.endswith(tuple(EXTENSION_SUFFIXES)):
            return Path(path).read_bytes()
    pytest.skip("this Python has no extension module in a file to ship")


def test_a_native_local_project_is_refused_with_the_way_out(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("ships an ELF library of the host")
    make_project(
        tmp_path / "native",
        "nativepkg",
        files={
            "nativepkg/__init__.py": b"",
            "nativepkg/_speed.cpython-312-x86_64-linux-gnu.so": _a_shared_library(),
        },
        tag="cp312-cp312-linux_x86_64",
    )
    (tmp_path / "requirements.txt").write_text("./native\n")
    result = _build(run_cli, tmp_path / "out", "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2 and isinstance(result.error, InputError), result.err
    message = str(result.error)
    assert "nativepkg" in message and str(tmp_path / "native") in message
    assert "nativepkg/_speed.cpython-312-x86_64-linux-gnu.so" in message
    assert "--find-links" in message  # build the wheel for the target, then point at it
    assert not (tmp_path / "out").exists() and ws.cache_entries() == []


def test_no_sdists_refuses_local_projects_too(
    app: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    """Building a local project runs its build code, like building an sdist."""
    (app / "requirements.txt").write_text("../pkg\n")
    result = _build(run_cli, tmp_path / "out", "--no-sdists", "-r", str(app / "requirements.txt"))
    assert result.code == 1 and isinstance(result.error, InstallError), result.err
    message = str(result.error)
    assert "mypkg" in message and "--no-sdists" in message and "--find-links" in message
