"""poetry.lock read directly: lock-version 2.1 groups and markers, older locks walked from
pyproject.toml, sources, constraint conversion.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker

from lambda_wheels_cdk.inputs.detect import load
from lambda_wheels_cdk.inputs.poetry import (
    _allows,
    _poetry_constraint,
    _python_marker,
    load_poetry_lock,
)
from tests.support.inputs import (
    FIXTURES,
    SECRET,
    copy_fixture,
    error_of,
    package,
    poetry_lock,
    write,
)

V2_MAIN = [
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.20",
    'importlib-metadata==8.5.0; python_version < "3.10"',
    "orders-auth==1.4.2",
    "requests==2.32.3",
    'typing-extensions==4.16.0; python_version < "3.10"',
    "urllib3==2.6.3",
    'zipp==3.23.1; python_version < "3.10"',
]
V2_DEV = [
    'colorama==0.4.6; sys_platform == "win32"',
    'exceptiongroup==1.3.2; python_version < "3.11"',
    "iniconfig==2.1.0",
    "packaging==26.3",
    "pluggy==1.6.0",
    "pytest==8.3.4",
    'tomli==2.5.0; python_version < "3.11"',
]


@pytest.mark.parametrize(
    ("groups", "extras", "expected"),
    [
        (("main",), (), V2_MAIN),
        (("main",), ("socks",), sorted([*V2_MAIN, "pysocks==1.7.1"])),
        (("main",), ("SOCKS",), sorted([*V2_MAIN, "pysocks==1.7.1"])),
        (
            ("main", "dev"),
            (),
            sorted(
                [r for r in V2_MAIN if not r.startswith("typing")]
                + V2_DEV
                + ['typing-extensions==4.16.0; python_version < "3.10" or python_version < "3.11"']
            ),
        ),
        (("dev",), (), sorted([*V2_DEV, 'typing-extensions==4.16.0; python_version < "3.11"'])),
    ],
)
def test_poetry_lock_v2_groups_markers_extras(
    groups: tuple[str, ...], extras: tuple[str, ...], expected: list[str]
) -> None:
    spec = load_poetry_lock(FIXTURES / "poetry-v2" / "poetry.lock", groups=groups, extras=extras)
    assert list(spec.requirements) == expected
    assert spec.locked and spec.hash_checking and spec.origin == "poetry.lock"
    internal = ("https://pkgs.example.com/simple",) if "main" in groups else ()
    assert spec.index.extra_index_urls == internal
    files = {  # wheel first, then sdist: the order of the lock's files list
        "pytest": (
            "sha256:50e16d954148559c9a74109af1eaf0c945ba2d8f30f0a3d3335edde19788b6f6",
            "sha256:965370d062bce11e73868e0335abac31b4d3de0e82f4007408d242b4f8610761",
        ),
        "requests": (
            "sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6",
            "sha256:55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760",
        ),
    }
    for name, hashes in files.items():
        if name in spec.names:
            assert spec.hashes[name] == hashes


V1_MAIN = [
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.20",
    'importlib-metadata==8.5.0; python_version < "3.10"',
    "pysocks==1.7.1",
    "requests==2.32.3",
    "urllib3==2.6.3",
    'zipp==3.23.1; python_version < "3.10"',
]


@pytest.mark.parametrize(
    ("groups", "extras", "expected"),
    [
        (("main",), (), V1_MAIN),
        (("main",), ("yaml",), sorted([*V1_MAIN, "pyyaml==6.0.2"])),
        (
            ("main", "dev"),
            (),
            sorted(
                [
                    *V1_MAIN,
                    *V2_DEV,
                    'typing-extensions==4.16.0; python_version < "3.11" and python_version < "3.13"',
                ]
            ),
        ),
    ],
)
def test_poetry_lock_v1_walks_the_graph_from_pyproject(
    groups: tuple[str, ...], extras: tuple[str, ...], expected: list[str]
) -> None:
    spec = load_poetry_lock(FIXTURES / "poetry-v1" / "poetry.lock", groups=groups, extras=extras)
    assert list(spec.requirements) == expected
    assert spec.hash_checking  # [metadata.files] of lock-version 1.1
    assert spec.hashes["requests"] == (
        "sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6",
    )


def test_poetry_lock_v2_0_with_a_directory_source(tmp_path: Path) -> None:
    project = copy_fixture("poetry-v2.0", tmp_path)
    spec = load(project, groups=["dev"])
    lib = project / "libs" / "imaging-utils"
    assert spec.requirements == (
        f"imaging-utils @ {lib.as_uri()}",
        "iniconfig==2.1.0",
        "six==1.17.0",
    )
    assert spec.local_paths == {"imaging-utils": str(lib)}
    assert not spec.hash_checking and spec.hashes["six"]
    other = copy_fixture("poetry-v2.0", tmp_path / "elsewhere")
    assert load(other, groups=["dev"]).fingerprint() == spec.fingerprint()
    write(other, "libs/imaging-utils/imaging_utils/__init__.py", "CHANGED = True\n")
    assert load(other, groups=["dev"]).fingerprint() != spec.fingerprint()


@pytest.mark.parametrize(
    ("text", "pyproject", "kwargs", "expected"),
    [
        (
            poetry_lock(
                package("a"),
                package(
                    "b",
                    extra='\n[package.source]\ntype = "git"\nurl = "https://u:'
                    + SECRET
                    + '@github.com/o/b.git"\nreference = "main"\nresolved_reference = "abc"\n',
                ),
            ),
            None,
            {},
            "poetry.lock:13: 'b' comes from git (https://u:***@github.com/o/b.git)",
        ),
        (
            poetry_lock(package("a")),
            None,
            {"groups": ["main", "docs"]},
            "group 'docs' is not defined (groups: main)",
        ),
        (poetry_lock(package("a")), None, {"extras": ["nope"]}, "extra 'nope' is not defined"),
        (
            poetry_lock(package("a"), lock_version="3.0"),
            None,
            {},
            "lock-version 3.0 is newer than this reader knows",
        ),
        ('[[package]]\nname = "a"\n', None, {}, "has no [metadata] lock-version"),
        (
            poetry_lock(package("a"), lock_version="2.0"),
            None,
            {},
            "does not record which group each package belongs to: put its pyproject.toml next to it",
        ),
        (
            poetry_lock(
                package("numpy", "1.24.4"),
                package("numpy", "1.26.4"),
                package("app", extra='\n[package.dependencies]\nnumpy = ">=1.24"\n'),
                lock_version="2.0",
            ),
            '[tool.poetry.dependencies]\npython = "^3.9"\napp = "*"\n',
            {},
            "lists several versions of 'numpy' (1.24.4, 1.26.4)",
        ),
        (
            poetry_lock(package("a"), lock_version="2.0"),
            '[tool.poetry.dependencies]\npython = "^3.9"\nmissing = "^1"\n',
            {},
            "'missing' from pyproject.toml is not in the lock: run `poetry lock`",
        ),
        (
            poetry_lock(package("a").replace('version = "1.0"', "version = 1")),
            None,
            {},
            "'a' version must be a string, not a number",
        ),
        (
            poetry_lock(package("a").replace("a" * 64, "zz")),
            None,
            {},
            "has a malformed hash 'sha256:zz'",
        ),
        (
            poetry_lock(package("a", extra='markers = "python_version <<< \\"3\\""\n')),
            None,
            {},
            "is not a valid marker",
        ),
        ("[[package]\n", None, {}, "poetry.lock:1: not valid TOML"),
    ],
)
def test_poetry_lock_errors(
    tmp_path: Path, text: str, pyproject: str | None, kwargs: dict[str, list[str]], expected: str
) -> None:
    if pyproject is not None:
        write(tmp_path, "pyproject.toml", pyproject)
    message = error_of(load_poetry_lock, write(tmp_path, "poetry.lock", text), **kwargs)
    assert expected in message
    assert SECRET not in message


def test_poetry_url_and_file_sources_keep_their_hashes(tmp_path: Path) -> None:
    write(tmp_path, "wheels/local_pkg-2.0-py3-none-any.whl", "wheel")
    text = poetry_lock(
        package(
            "remote",
            extra='\n[package.source]\ntype = "url"\nurl = "https://h.example.com/remote-1.0-py3-none-any.whl"\n',
        ),
        package(
            "local-pkg",
            "2.0",
            extra='\n[package.source]\ntype = "file"\nurl = "wheels/local_pkg-2.0-py3-none-any.whl"\n',
        ),
    )
    spec = load_poetry_lock(write(tmp_path, "poetry.lock", text))
    assert spec.requirements == (
        "remote @ https://h.example.com/remote-1.0-py3-none-any.whl",
        f"local-pkg @ {(tmp_path / 'wheels/local_pkg-2.0-py3-none-any.whl').as_uri()}",
    )
    assert spec.hash_checking and spec.local_paths == {
        "local-pkg": str(tmp_path / "wheels/local_pkg-2.0-py3-none-any.whl")
    }


# Poetry's documentation, "Dependency specification": caret, tilde, wildcard and multiple
# requirements; each row lists versions the constraint allows and versions it refuses.
@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        ("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.2.2", "0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.2", "0.0.4"]),
        ("^0", ["0.0.1", "0.9"], ["1.0.0"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.2.2", "1.3.0"]),
        ("~1", ["1.0", "1.9"], ["0.9", "2.0"]),
        ("1.2.*", ["1.2.0", "1.2.7"], ["1.1.9", "1.3.0"]),
        ("*", ["0.1", "99"], []),
        (">=1.5.6,<1.5.7 || >1.5.7", ["1.5.6", "1.6"], ["1.5.5", "1.5.7"]),
        (">=3.6 <4", ["3.6", "3.99"], ["3.5", "4.0"]),
        ("1.0", ["1.0"], ["1.0.1", "0.9"]),
        ("^2.0.0b1", ["2.0.0b1", "2.1"], ["1.9", "3.0"]),
        ("^x", [], ["1.0"]),  # unreadable: nothing is chosen by it
    ],
)
def test_poetry_constraints_choose_versions_as_poetry_does(
    constraint: str, allowed: list[str], refused: list[str]
) -> None:
    parsed = _poetry_constraint(constraint)
    assert [v for v in allowed + refused if _allows(parsed, v)] == allowed


# "python" restrictions of a dependency, as markers: evaluated for the Python versions that
# Lambda runs (and a few around them) instead of compared as text.
PYTHONS = ["2.7.18", "3.6.15", "3.8.0", "3.8.1", "3.9.20", "3.10.5", "3.13.1", "4.0.0"]


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [
        ("<3.10", ["2.7.18", "3.6.15", "3.8.0", "3.8.1", "3.9.20"]),
        ("^3.8", ["3.8.0", "3.8.1", "3.9.20", "3.10.5", "3.13.1"]),
        (">=3.8.1,<3.9", ["3.8.1"]),
        (
            "~2.7 || >=3.6",
            ["2.7.18", "3.6.15", "3.8.0", "3.8.1", "3.9.20", "3.10.5", "3.13.1", "4.0.0"],
        ),
        (">=2.7, !=3.0.*, !=3.1.*, <3.9", ["2.7.18", "3.6.15", "3.8.0", "3.8.1"]),
    ],
)
def test_poetry_python_constraints_become_markers(constraint: str, allowed: list[str]) -> None:
    marker = _python_marker(constraint)
    assert marker is not None
    env = [
        {"python_version": ".".join(v.split(".")[:2]), "python_full_version": v} for v in PYTHONS
    ]
    assert [v for v, e in zip(PYTHONS, env) if Marker(marker).evaluate(e)] == allowed


@pytest.mark.parametrize("constraint", ["*", "not a constraint"])
def test_poetry_python_constraints_that_allow_everything_add_no_marker(constraint: str) -> None:
    assert _python_marker(constraint) is None
