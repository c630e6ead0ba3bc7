"""The handler source folder (issue 19, items 7 and 9): symbolic links and file names.

The rule for links, as ``PythonFunction``'s ``rsync -rL`` of the entry folder inside Docker
behaves (the container sees only that folder): a link to a file or folder *inside* the entry
folder is followed and copied as what it points to; a link that *leaves* it is refused
(``InputError`` listing every such link) unless ``follow_external_symlinks=True`` /
``--follow-external-symlinks``; a link to nothing is refused; a folder link back to its own
parent folder (a cycle) is skipped; excluded paths are never looked at. File names must be
UTF-8 (a Lambda zip and Python imports need them): another name is refused, shown as bytes.
Every refusal happens before anything is written: no output folder, no ``cdk.out`` asset.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import InputError

from .conftest import CliRun, Workspace, assert_nothing_written, files_containing

RunCli = Callable[..., CliRun]
SECRET = b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"

needs_symlinks = pytest.mark.skipif(
    os.name == "nt", reason="symbolic links need a privilege on Windows"
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the entry folder, with a credentials file (the secret)."""
    folder = tmp_path / "home"
    (folder / ".aws").mkdir(parents=True)
    (folder / ".aws" / "credentials").write_bytes(SECRET)
    (folder / "lib").mkdir()
    (folder / "lib" / "helper.py").write_text("X = 1\n")
    return folder


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    (folder / "data").mkdir(parents=True)
    (folder / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (folder / "data" / "table.csv").write_text("a,b\n")
    return folder


def _build(run_cli: RunCli, out: Path, src: Path, *args: str) -> CliRun:
    return run_cli(
        "build", "--runtime", "python3.12", "--arch", "x86_64", "-o", str(out),
        "--source", str(src), *args,
    )  # fmt: skip


@needs_symlinks
@pytest.mark.parametrize("kind", ["file", "folder", "relative"])
def test_a_link_that_leaves_the_folder_is_refused(
    kind: str, src: Path, outside: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    if kind == "file":
        (src / "creds").symlink_to(outside / ".aws" / "credentials")
        link = "creds"
    elif kind == "folder":
        (src / "aws").symlink_to(outside / ".aws", target_is_directory=True)
        link = "aws"
    else:
        (src / "data" / "creds").symlink_to(Path("..", "..", "home", ".aws", "credentials"))
        link = "data/creds"
    out = tmp_path / "out"
    result = _build(run_cli, out, src)
    assert result.code == 2 and isinstance(result.error, InputError), result.err
    message = str(result.error)
    assert f"{link}: a symbolic link to " in message and str(outside) in message
    assert "--follow-external-symlinks" in message and "exclude" in message
    assert_nothing_written(out, ws)
    assert SECRET.decode().strip() not in result.out + result.err


@needs_symlinks
def test_every_outside_link_is_listed_at_once_and_excludes_win(
    src: Path, outside: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    (src / "creds").symlink_to(outside / ".aws" / "credentials")
    (src / "lib").symlink_to(outside / "lib", target_is_directory=True)
    (src / "gone").symlink_to(tmp_path / "no-such-file")
    (src / "ignored.cfg").symlink_to(outside / ".aws" / "credentials")
    result = _build(run_cli, tmp_path / "out", src, "--exclude", "ignored.cfg")
    assert result.code == 2, result.err
    message = str(result.error)
    assert "3 problems" in message
    for line in ("creds: a symbolic link to", "lib: a symbolic link to", "gone: a symbolic link"):
        assert line in message, message
    assert "which does not exist" in message and "ignored.cfg" not in message


@needs_symlinks
def test_the_opt_in_copies_what_outside_links_point_to(
    src: Path, outside: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    (src / "lib").symlink_to(outside / "lib", target_is_directory=True)
    out = tmp_path / "out"
    result = _build(run_cli, out, src, "--follow-external-symlinks")
    assert result.code == 0, result.err
    helper = out / "lib" / "helper.py"
    assert helper.read_text() == "X = 1\n" and not helper.is_symlink()


@needs_symlinks
def test_links_inside_the_folder_are_followed_like_rsync_L(
    src: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    """A file link and a folder link to a folder already copied: both become real copies
    (the folder link used to be dropped without a word); a link to an ancestor is skipped."""
    (src / "pkg").mkdir()
    (src / "pkg" / "table.csv").symlink_to(Path("..", "data", "table.csv"))
    (src / "pkg" / "data").symlink_to(Path("..", "data"), target_is_directory=True)
    (src / "pkg" / "loop").symlink_to(Path(".."), target_is_directory=True)
    out = tmp_path / "out"
    result = _build(run_cli, out, src)
    assert result.code == 0, result.err
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        ".lambda-wheels-output",  # the marker of a folder lambda-wheels wrote
        "__pycache__/index.cpython-312.pyc",  # the bytecode lambda-wheels compiles
        "data/table.csv",
        "index.py",
        "pkg/data/table.csv",
        "pkg/table.csv",
    ]
    assert not any(p.is_symlink() for p in out.rglob("*"))


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes"
)
def test_a_file_name_that_is_not_utf8_is_named_in_the_error(
    src: Path, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    name = b"caf\xe9.py"
    with open(os.path.join(os.fsencode(src), name), "wb") as fh:
        fh.write(b"X = 1\n")
    out = tmp_path / "out"
    result = _build(run_cli, out, src)
    assert result.code == 2 and isinstance(result.error, InputError), result.err
    message = str(result.error)
    assert repr(name) in message and "not UTF-8" in message and "rename" in message
    assert_nothing_written(out, ws)
    # the way out: exclude it
    assert _build(run_cli, out, src, "--exclude", "caf*.py").code == 0


# -- the constructs ----------------------------------------------------------------------------


def _function(entry: Path, outdir: Path, **bundling: object) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Src")
    PythonWheelFunction(
        stack,
        "Fn",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_12,
        dependencies=[],
        bundling=WheelBundlingOptions(**bundling),  # type: ignore[arg-type]
    )
    app.synth()


@needs_symlinks
@pytest.mark.cdk
def test_a_function_whose_link_points_at_a_secret_does_not_ship_it(
    src: Path, outside: Path, tmp_path: Path, ws: Workspace
) -> None:
    (src / "creds").symlink_to(outside / ".aws" / "credentials")
    outdir = tmp_path / "cdk.out"
    with pytest.raises(InputError, match="creds: a symbolic link to"):
        _function(src, outdir)
    assert not outdir.exists() or files_containing(outdir, [SECRET]) == []

    (src / "creds").unlink()
    (src / "lib").symlink_to(outside / "lib", target_is_directory=True)
    _function(src, outdir, follow_external_symlinks=True)
    assets = [p for p in outdir.iterdir() if p.name.startswith("asset.")]
    assert [(a / "lib" / "helper.py").read_text() for a in assets] == ["X = 1\n"]
    assert json.loads((outdir / "manifest.json").read_text())


@pytest.mark.cdk
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes"
)
def test_a_function_with_a_non_utf8_file_name_fails_clearly(
    src: Path, tmp_path: Path, ws: Workspace
) -> None:
    with open(os.path.join(os.fsencode(src), b"r\xe9sum\xe9.txt"), "wb") as fh:
        fh.write(b"x")
    with pytest.raises(InputError, match=r"b'r\\xe9sum\\xe9.txt': the name is not UTF-8"):
        _function(src, tmp_path / "cdk.out")
