"""Which input a folder holds (the search order), load() dispatch by file name, and that only
uv.lock runs a subprocess.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.detect import detect, load
from lambda_wheels_cdk.inputs.pipfile import load_pipfile_lock
from lambda_wheels_cdk.inputs.poetry import load_poetry_lock
from lambda_wheels_cdk.inputs.pylock import load_pylock
from lambda_wheels_cdk.inputs.pyproject import load_pyproject
from tests.support.inputs import FIXTURES, PYLOCK_HEAD, error_of, package, poetry_lock, write

ALL_INPUTS = {
    "pylock.toml": PYLOCK_HEAD,
    "uv.lock": "version = 1\n",
    "pyproject.toml": '[project]\nname = "x"\ndependencies = ["six"]\n',
    "poetry.lock": poetry_lock(package("six")),
    "Pipfile.lock": '{"_meta": {}, "default": {}}',
    "requirements.txt": "six\n",
}


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (list(ALL_INPUTS), "pylock.toml"),
        (
            ["uv.lock", "pyproject.toml", "poetry.lock", "Pipfile.lock", "requirements.txt"],
            "uv.lock",
        ),
        (["uv.lock", "poetry.lock", "requirements.txt"], "poetry.lock"),
        (["Pipfile.lock", "requirements.txt", "pyproject.toml"], "Pipfile.lock"),
        (["requirements.txt", "pyproject.toml"], "requirements.txt"),
        (["pyproject.toml"], "pyproject.toml"),
        ([], None),
    ],
)
def test_detection_order(tmp_path: Path, present: list[str], expected: str | None) -> None:
    for name in present:
        write(tmp_path, name, ALL_INPUTS[name])
    write(tmp_path, "requirements-dev.txt", "pytest\n")  # never auto-detected
    write(tmp_path, "pylock.dev.toml", PYLOCK_HEAD)  # never auto-detected
    found = detect(tmp_path)
    assert (found.name if found else None) == expected
    if found is not None:
        assert expected is not None and found == tmp_path / expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"Pipfile": "[packages]\nsix = '*'\n"}, "Pipfile has no Pipfile.lock: run `pipenv lock`"),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.9"\nsix = "*"\n'},
            "no poetry.lock: run `poetry lock`",
        ),
        ({"uv.lock": "version = 1\n"}, "uv.lock has no pyproject.toml next to it"),
        ({"pyproject.toml": "[project\n"}, "pyproject.toml:1: not valid TOML"),
    ],
)
def test_detection_refuses_unusable_inputs(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    assert expected in error_of(detect, tmp_path)


def test_detection_ignores_pyproject_without_dependencies(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\n[tool.poetry.dependencies]\npython = "^3.9"\n',
    )
    assert detect(tmp_path) is None
    assert load(tmp_path).requirements == ()
    assert "not a folder" in error_of(detect, tmp_path / "pyproject.toml")


@pytest.mark.parametrize(
    ("name", "content", "names"),
    [
        ("requirements.txt", "six\n", ("six",)),
        ("requirements-prod.txt", "six\n", ("six",)),
        ("deps.txt", "idna\n", ("idna",)),
        ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["six"]\n', ("six",)),
        ("poetry.lock", poetry_lock(package("six")), ("six",)),
        ("Pipfile.lock", '{"_meta": {}, "default": {"six": {"version": "==1.17.0"}}}', ("six",)),
        ("pylock.toml", PYLOCK_HEAD + '[[packages]]\nname = "six"\nversion = "1.17.0"\n', ("six",)),
        (
            "pylock.lambda.toml",
            PYLOCK_HEAD + '[[packages]]\nname = "six"\nversion = "1.17.0"\n',
            ("six",),
        ),
    ],
)
def test_load_dispatches_by_file_name(
    tmp_path: Path, name: str, content: str, names: tuple[str, ...]
) -> None:
    spec = load(write(tmp_path, name, content))
    assert spec.names == names and spec.origin == name


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("setup.py", {}, "setup.py: not a dependency input lambda-wheels reads"),
        (
            "requirements.txt",
            {"extras": ["x"]},
            "extras and groups apply to pyproject.toml and lock files",
        ),
        ("requirements.txt", {"groups": ["dev"]}, "extras and groups apply"),
        ("Pipfile.lock", {"extras": ["x"]}, "Pipfile.lock has no extras to choose"),
    ],
)
def test_load_errors(
    tmp_path: Path, name: str, kwargs: dict[str, list[str]], expected: str
) -> None:
    assert expected in error_of(load, write(tmp_path, name, "six\n"), **kwargs)


@pytest.mark.parametrize(
    ("call", "kwargs", "expected"),
    [
        (load, {"groups": "dev"}, "groups must be a list of names, not the string 'dev'"),
        (load_poetry_lock, {"extras": "socks"}, "extras must be a list of names"),
        (load_pipfile_lock, {"categories": "default"}, "categories must be a list of names"),
        (load_pylock, {"groups": [1]}, "groups must be names (strings), not a number"),
    ],
)
def test_extras_and_groups_must_be_lists(
    tmp_path: Path, call: object, kwargs: dict[str, object], expected: str
) -> None:
    assert expected in error_of(call, tmp_path / "whatever", **kwargs)


def test_load_missing_path_names_it_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "services" / "api" / "requirements.txt"
    message = error_of(load, missing)
    assert str(missing) in message and "no such file or folder: check the path" in message


def test_load_a_folder_with_spaces_and_unicode(tmp_path: Path) -> None:
    folder = tmp_path / "my services" / "äpi"
    write(folder, "requirements.txt", "six==1.17.0\n")
    spec = load(folder)
    assert spec.requirements == ("six==1.17.0",) and spec.origin == "requirements.txt"


@pytest.fixture
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("only load_uv_lock may start a subprocess")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    yield


def test_only_uv_lock_runs_a_subprocess(
    tmp_path: Path, no_subprocess: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_INDEX_TOKEN", "x")
    for path in [
        FIXTURES / "requirements" / "requirements.txt",
        FIXTURES / "poetry-v2",
        FIXTURES / "poetry-v1",
        FIXTURES / "pipfile",
        FIXTURES / "pylock",
    ]:
        load(path).fingerprint()
    load_pyproject(FIXTURES / "uv" / "pyproject.toml")
