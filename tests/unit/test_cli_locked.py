"""``--locked`` means the same for every way the CLI is given a uv project (issue 17 found the
``--source`` branch ignoring it): a uv.lock that no longer matches its pyproject.toml fails
with uv's "run `uv lock`", whether named with --project or found in --source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lambda_wheels_cdk.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"
STALE = "uv.lock is out of date with pyproject.toml: run `uv lock`"


@pytest.fixture
def stale_project(tmp_path: Path) -> Path:
    project = tmp_path / "app"
    shutil.copytree(FIXTURES / "uv", project)
    (project / "index.py").write_text("def handler(event, context):\n    return 1\n")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six==1.17.0",', '"six==1.17.0", "attrs",'))
    return project


@pytest.mark.e2e
@pytest.mark.parametrize("given", ["--project", "--source"])
def test_locked_refuses_a_stale_lock_however_the_project_is_given(
    given: str, stale_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["build", "--runtime", "python3.12", "--arch", "x86_64", "-o", str(tmp_path / "out")]
    assert main([*argv, given, str(stale_project), "--locked"]) == 2
    assert STALE in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
