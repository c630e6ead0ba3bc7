"""PEP 751 pylock.toml: the lock uv generates, extras and groups, default groups, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.detect import load
from lambda_wheels_cdk.inputs.pylock import load_pylock
from lambda_wheels_cdk.inputs.spec import IndexSettings
from tests.support.inputs import FIXTURES, PYLOCK_HEAD, SIX_HASHES, error_of, make_project, write


def test_pylock_generated_by_uv() -> None:
    spec = load(FIXTURES / "pylock")
    assert spec.requirements == (
        'colorama==0.4.6; sys_platform == "win32"',
        "idna==3.20",
        "iniconfig==2.3.1",
        "six==1.17.0",
    )
    assert spec.hashes["six"] == tuple(sorted(SIX_HASHES, reverse=True))
    assert spec.locked and spec.hash_checking and spec.index == IndexSettings()


@pytest.mark.parametrize(
    ("extras", "groups", "expected"),
    [
        ((), (), ["requests", "orders-auth", "legacy-tool"]),
        (("socks",), (), ["requests", "pysocks", "orders-auth", "legacy-tool"]),
        ((), ("dev",), ["requests", "iniconfig", "colorama", "orders-auth", "legacy-tool"]),
    ],
)
def test_pylock_extras_and_groups(
    extras: tuple[str, ...], groups: tuple[str, ...], expected: list[str]
) -> None:
    spec = load_pylock(FIXTURES / "pylock" / "pylock.extras.toml", extras=extras, groups=groups)
    assert list(spec.names) == expected
    assert spec.index.extra_index_urls == ("https://pkgs.example.com/simple",)
    assert (
        "legacy-tool @ https://downloads.example.com/legacy_tool-0.9.0-py3-none-any.whl"
        in spec.requirements
    )
    if groups:
        assert 'colorama==0.4.6; sys_platform == "win32"' in spec.requirements
    assert spec.hash_checking


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (
            PYLOCK_HEAD
            + '[[packages]]\nname = "x"\nvcs = { type = "git", url = "https://h/x.git", commit-id = "abc" }\n',
            {},
            "pylock.toml:4: 'x' comes from a version control repository",
        ),
        (
            'lock-version = "2.0"\n',
            {},
            "pylock.toml:1: lock-version '2.0' is not a PEP 751 version",
        ),
        (PYLOCK_HEAD, {"extras": ["x"]}, "extra 'x' is not defined (extras: none)"),
        (
            PYLOCK_HEAD + 'dependency-groups = ["dev"]\n',
            {"groups": ["test"]},
            "dependency group 'test' is not defined (dependency groups: dev)",
        ),
        (PYLOCK_HEAD + '[[packages]]\nname = "x"\n', {}, "'x' version must be a string"),
        (
            PYLOCK_HEAD + '[[packages]]\nname = "x"\nversion = "1"\nmarker = "os_name =="\n',
            {},
            "is not a valid marker",
        ),
        (
            PYLOCK_HEAD
            + '[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ hashes = { sha256 = "nothex" } }]\n',
            {},
            "malformed hash",
        ),
        (PYLOCK_HEAD + "packages = 3\n", {}, "[[packages]] must be an array"),
    ],
)
def test_pylock_errors(
    tmp_path: Path, text: str, kwargs: dict[str, list[str]], expected: str
) -> None:
    assert expected in error_of(load_pylock, write(tmp_path, "pylock.toml", text), **kwargs)


def test_pylock_default_groups_and_directories(tmp_path: Path) -> None:
    make_project(tmp_path / "lib")
    text = (
        PYLOCK_HEAD
        + 'dependency-groups = ["test", "docs"]\ndefault-groups = ["test"]\n'
        + '[[packages]]\nname = "pytest"\nversion = "8.3.4"\nmarker = "\'test\' in dependency_groups"\n'
        + '[[packages]]\nname = "sphinx"\nversion = "8.0"\nmarker = "\'docs\' in dependency_groups"\n'
        + '[[packages]]\nname = "my-lib"\ndirectory = { path = "lib", editable = true }\n'
        + '[[packages]]\nname = "blake-only"\nversion = "1"\nwheels = [{ hashes = { blake2b = "ab" } }]\n'
    )
    path = write(tmp_path, "pylock.toml", text)
    assert load_pylock(path).names == ("pytest", "my-lib", "blake-only")
    assert load_pylock(path, groups=["docs"]).names == ("sphinx", "my-lib", "blake-only")
    assert load_pylock(path).local_paths == {"my-lib": str(tmp_path / "lib")}
    assert not load_pylock(path).hash_checking
