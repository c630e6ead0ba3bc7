"""pyproject.toml: PEP 621 dependencies, extras (self-references included), PEP 735 groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.pyproject import load_pyproject
from lambda_wheels_cdk.inputs.spec import IndexSettings
from tests.support.inputs import error_of, write

PYPROJECT = """\
[project]
name = "orders-api"
version = "0.1.0"
dependencies = [
    "Requests>=2.32",
    "importlib-metadata>=8.5; python_version < '3.10'",
]

[project.optional-dependencies]
socks = ["PySocks>=1.7"]
all = ["orders-api[socks,yaml]"]
yaml = ["pyyaml>=6 ; platform_machine != 'armv7l'"]

[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
Typing = ["mypy"]
"""


@pytest.mark.parametrize(
    ("extras", "groups", "expected"),
    [
        ((), (), ["requests>=2.32", 'importlib-metadata>=8.5; python_version < "3.10"']),
        (
            ("socks",),
            (),
            ["requests>=2.32", 'importlib-metadata>=8.5; python_version < "3.10"', "pysocks>=1.7"],
        ),
        (
            ("all",),
            (),
            [
                "requests>=2.32",
                'importlib-metadata>=8.5; python_version < "3.10"',
                "pysocks>=1.7",
                'pyyaml>=6; platform_machine != "armv7l"',
            ],
        ),
        (
            (),
            ("test",),
            [
                "requests>=2.32",
                'importlib-metadata>=8.5; python_version < "3.10"',
                "pytest>=8",
                "ruff",
            ],
        ),
        (
            (),
            ("typing",),
            ["requests>=2.32", 'importlib-metadata>=8.5; python_version < "3.10"', "mypy"],
        ),
    ],
)
def test_pyproject(
    tmp_path: Path, extras: tuple[str, ...], groups: tuple[str, ...], expected: list[str]
) -> None:
    spec = load_pyproject(
        write(tmp_path, "pyproject.toml", PYPROJECT), extras=extras, groups=groups
    )
    assert list(spec.requirements) == expected
    assert spec.origin == "pyproject.toml" and not spec.locked and spec.index == IndexSettings()


def test_pyproject_self_reference_keeps_its_marker(tmp_path: Path) -> None:
    text = PYPROJECT.replace(
        'all = ["orders-api[socks,yaml]"]',
        "all = [\"orders-api[socks] ; python_version >= '3.10'\"]",
    )
    spec = load_pyproject(write(tmp_path, "pyproject.toml", text), extras=["all"])
    assert spec.requirements[-1] == 'pysocks>=1.7; python_version >= "3.10"'


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (
            PYPROJECT,
            {"extras": ["nope"]},
            "extra 'nope' is not in [project.optional-dependencies] (extras: all, socks, yaml)",
        ),
        (
            PYPROJECT,
            {"groups": ["nope"]},
            "dependency group 'nope' is not defined (groups: Typing, lint, test)",
        ),
        (
            PYPROJECT + 'loop = [{include-group = "loop2"}]\nloop2 = [{include-group = "loop"}]\n',
            {"groups": ["loop"]},
            "include a loop (loop -> loop2 -> loop)",
        ),
        (
            PYPROJECT + 'odd = [{include = "x"}]\n',
            {"groups": ["odd"]},
            "entries must be requirement strings or {include-group",
        ),
        (
            PYPROJECT.replace('"Requests>=2.32"', '"Requests>=="'),
            {},
            "pyproject.toml:5: 'Requests>==' in [project].dependencies is not a valid requirement",
        ),
        (
            '[project]\nname = "x"\ndynamic = ["dependencies"]\n',
            {},
            "pyproject.toml:3: [project].dependencies is dynamic",
        ),
        (
            '[tool.poetry.dependencies]\npython = "^3.9"\nrequests = "^2"\n',
            {},
            "only Poetry resolves: run `poetry lock`",
        ),
        (
            '[project]\ndependencies = "requests"\n',
            {},
            "dependencies must be an array, not a string",
        ),
        (
            '[project]\ndependencies = [\n  "six",\n  3,\n]\n',
            {},
            "each entry of dependencies must be a string, not a number",
        ),
        ('[project\nname = "x"\n', {}, "pyproject.toml:1: not valid TOML"),
    ],
)
def test_pyproject_errors(
    tmp_path: Path, text: str, kwargs: dict[str, list[str]], expected: str
) -> None:
    assert expected in error_of(load_pyproject, write(tmp_path, "pyproject.toml", text), **kwargs)


def test_pyproject_without_dependencies_is_empty(tmp_path: Path) -> None:
    spec = load_pyproject(write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n'))
    assert spec.requirements == ()
