"""Output folders a build must never replace, checked without running a build (the CLI's
paths are in tests/reliability/test_cli_habits.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_wheels_cdk.build.outdir import MARKER, Protected, check_output
from lambda_wheels_cdk.errors import UsageError


def test_the_file_systems_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="root"):
        check_output(Path(os.path.abspath(os.sep)), cwd=tmp_path, home=tmp_path / "home")


def test_a_symbolic_link_is_refused_and_its_folder_kept(tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    (folder / MARKER).write_bytes(b"")
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    with pytest.raises(UsageError, match="symbolic link"):
        check_output(link, cwd=tmp_path / "elsewhere", home=tmp_path / "home", force=True)


def test_a_protected_path_through_a_symbolic_link_is_still_protected(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "alias").symlink_to(app, target_is_directory=True)
    with pytest.raises(UsageError, match="is the --source folder"):
        check_output(
            tmp_path / "alias" / ".." / "app",
            protected=[Protected("the --source folder", tmp_path / "alias")],
            cwd=tmp_path / "elsewhere",
            home=tmp_path / "home",
        )


def test_new_empty_and_marked_folders_are_accepted(tmp_path: Path) -> None:
    check_output(tmp_path / "new", cwd=tmp_path / "w", home=tmp_path / "h")
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", cwd=tmp_path / "w", home=tmp_path / "h")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / MARKER).write_bytes(b"")
    (tmp_path / "ours" / "index.py").write_text("")
    check_output(tmp_path / "ours", cwd=tmp_path / "w", home=tmp_path / "h")
