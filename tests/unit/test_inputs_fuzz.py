"""Property and fuzz tests for the dependency-input parsers.

Whatever bytes a user (or a broken tool) puts in a requirements file, pyproject.toml or lock
file, the loaders either return a spec or raise :class:`InputError` -- never a ValueError,
KeyError, TypeError, TOMLDecodeError, RecursionError or a hang. Examples are bounded so the
whole module runs in a few seconds.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.markers import Marker

from lambda_wheels_cdk.errors import InputError
from lambda_wheels_cdk.inputs.markers import resolve_marker
from lambda_wheels_cdk.inputs.pipfile import load_pipfile_lock
from lambda_wheels_cdk.inputs.poetry import load_poetry_lock
from lambda_wheels_cdk.inputs.pylock import load_pylock
from lambda_wheels_cdk.inputs.pyproject import load_pyproject
from lambda_wheels_cdk.inputs.requirements import from_list, load_requirements_file
from lambda_wheels_cdk.inputs.spec import DependencySpec
from lambda_wheels_cdk.urls import redact_text, redact_url, strip_credentials

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Text that can be written to a file (no lone surrogates).
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)

#: Pieces that steer random text into the requirement grammar's interesting corners.
REQUIREMENT_TOKENS = [
    "numpy",
    "Requests",
    "six",
    "pkg_name.x",
    "[",
    "]",
    "socks",
    ",",
    "==",
    "===",
    ">=",
    "<",
    "~=",
    "!=",
    "1.0",
    "2.*",
    "1!2.0+local",
    ";",
    " ; ",
    "python_version",
    "sys_platform",
    "extra",
    " and ",
    " or ",
    "(",
    ")",
    "'3.9'",
    '"linux"',
    " @ ",
    "@",
    "https://",
    "file://",
    "file:",
    "git+https://h/r.git",
    "#egg=x",
    "#",
    " #",
    "./",
    "../",
    "/",
    "\\",
    "pkg.whl",
    "-1.0-py3-none-any.whl",
    ".tar.gz",
    "-r",
    "-c",
    "-e",
    "-i",
    "-f",
    "--hash",
    "--hash=",
    "sha256:",
    "a" * 64,
    "--index-url",
    "--extra-index-url",
    "--find-links",
    "--no-index",
    "--require-hashes",
    "--pre",
    "--bogus",
    "=",
    " ",
    "  ",
    "\t",
    "\\\n",
    "\n",
    "${HOME}",
    "${UNSET_FUZZ_VAR}",
    "$",
    "'",
    '"',
    "user:tok@",
    "\x00",
    "é",
    "[::1",
    "http://[",
]
REQUIREMENT_TEXT = st.lists(st.sampled_from(REQUIREMENT_TOKENS), max_size=40).map("".join)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "lib").mkdir()
    (folder / "lib" / "pyproject.toml").write_text('[project]\nname = "lib"\n')
    (folder / "dist").mkdir()
    (folder / "dist" / "pkg-1.0-py3-none-any.whl").write_text("wheel")
    (folder / "other.txt").write_text("six\n-r requirements.txt\n")
    return folder


def only_input_errors(load: Callable[[], DependencySpec]) -> None:
    """Run a loader: a spec must be usable; the only acceptable failure is InputError."""
    try:
        spec = load()
    except InputError as exc:
        assert str(exc).strip(), "an error must say something"
        return
    spec.requirements_txt()
    spec.constraints_txt()
    _ = spec.names, spec.hash_checking, repr(spec)
    for line in (*spec.requirements, *spec.constraints):
        DependencySpec((line,))  # every line is a valid requirement on its own


@FUZZ
@given(text=st.one_of(TEXT, REQUIREMENT_TEXT))
def test_requirements_files_raise_only_input_errors(workdir: Path, text: str) -> None:
    path = workdir / "requirements.txt"
    path.write_text(text, encoding="utf-8")
    only_input_errors(lambda: load_requirements_file(path))


@FUZZ
@given(items=st.lists(st.one_of(TEXT, REQUIREMENT_TEXT), max_size=5))
def test_inline_lists_raise_only_input_errors(workdir: Path, items: list[str]) -> None:
    only_input_errors(lambda: from_list(items, base_dir=workdir))


@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_input_errors(workdir: Path, data: bytes) -> None:
    for name, loader in LOADERS.items():
        path = workdir / name
        path.write_bytes(data)
        only_input_errors(lambda: loader(path))  # noqa: B023 - called right away


LOADERS: dict[str, Callable[[Path], DependencySpec]] = {
    "requirements.txt": load_requirements_file,
    "pyproject.toml": load_pyproject,
    "poetry.lock": load_poetry_lock,
    "Pipfile.lock": load_pipfile_lock,
    "pylock.toml": load_pylock,
}


@FUZZ
@given(text=TEXT)
def test_random_text_in_toml_and_json_inputs(workdir: Path, text: str) -> None:
    for name, loader in LOADERS.items():
        if name == "requirements.txt":
            continue
        path = workdir / name
        path.write_text(text, encoding="utf-8")
        only_input_errors(lambda: loader(path))  # noqa: B023 - called right away


# -- structured fuzz: valid TOML/JSON with random shapes where the loaders expect tables --------

SCALARS = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + " ._-=<>!~^*;:/@'[]", max_size=20),
    st.sampled_from(
        ["six", "1.0", "main", "dev", "socks", "extra == 'socks'", "==1.0", "sha256:" + "a" * 64]
    ),
    st.integers(-5, 5),
    st.booleans(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "version",
                    "groups",
                    "markers",
                    "marker",
                    "files",
                    "hash",
                    "hashes",
                    "source",
                    "type",
                    "url",
                    "path",
                    "dependencies",
                    "extras",
                    "optional",
                    "wheels",
                    "sdist",
                    "directory",
                    "archive",
                    "vcs",
                    "sha256",
                    "python",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(tables: dict[str, Any], arrays: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for key, value in tables.items():
        lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    for name, items in arrays.items():
        for item in items:
            lines.append(f"[[{name}]]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


PACKAGE_TABLES = st.lists(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "version",
                "groups",
                "markers",
                "marker",
                "files",
                "source",
                "dependencies",
                "extras",
                "optional",
                "wheels",
                "sdist",
                "directory",
                "archive",
                "vcs",
                "index",
                "category",
            ]
        ),
        VALUES,
        max_size=6,
    ),
    max_size=4,
)


@FUZZ
@given(
    packages=PACKAGE_TABLES, metadata=VALUES, extras=VALUES, groups=st.lists(SCALARS, max_size=2)
)
def test_poetry_lock_shapes(
    workdir: Path, packages: list[dict[str, Any]], metadata: Any, extras: Any, groups: list[Any]
) -> None:
    folder = workdir / "poetry"
    folder.mkdir(exist_ok=True)
    for version in ("2.1", "1.1"):
        meta = metadata if isinstance(metadata, dict) else {}
        meta = {**meta, "lock-version": version}
        text = toml_document({"metadata": meta, "extras": extras}, {"package": packages})
        (folder / "poetry.lock").write_text(text, encoding="utf-8")
        (folder / "pyproject.toml").write_text(
            toml_document(
                {
                    "tool": {
                        "poetry": {
                            "dependencies": {
                                p.get("name", "x") if isinstance(p.get("name"), str) else "x": "*"
                                for p in packages
                            }
                        }
                    }
                },
                {},
            ),
            encoding="utf-8",
        )
        wanted = tuple(g for g in groups if isinstance(g, str)) or ("main",)
        only_input_errors(lambda: load_poetry_lock(folder / "poetry.lock", groups=wanted))  # noqa: B023


@FUZZ
@given(
    packages=PACKAGE_TABLES,
    top=st.dictionaries(
        st.sampled_from(["extras", "dependency-groups", "default-groups", "created-by"]),
        VALUES,
        max_size=3,
    ),
)
def test_pylock_shapes(workdir: Path, packages: list[dict[str, Any]], top: dict[str, Any]) -> None:
    path = workdir / "pylock.toml"
    path.write_text(
        toml_document({"lock-version": "1.0", **top}, {"packages": packages}), encoding="utf-8"
    )
    only_input_errors(lambda: load_pylock(path, extras=["socks"], groups=["dev"]))
    only_input_errors(lambda: load_pylock(path))


@FUZZ
@given(
    project=VALUES,
    groups=VALUES,
    wanted=st.lists(st.sampled_from(["dev", "socks", "x"]), max_size=2),
)
def test_pyproject_shapes(workdir: Path, project: Any, groups: Any, wanted: list[str]) -> None:
    path = workdir / "pyproject.toml"
    path.write_text(
        toml_document({"project": project, "dependency-groups": groups}, {}), encoding="utf-8"
    )
    only_input_errors(lambda: load_pyproject(path, extras=wanted, groups=wanted))


@FUZZ
@given(
    sections=st.dictionaries(
        st.sampled_from(["_meta", "default", "develop", "docs"]), VALUES, max_size=4
    )
)
def test_pipfile_lock_shapes(workdir: Path, sections: dict[str, Any]) -> None:
    path = workdir / "Pipfile.lock"
    path.write_text(json.dumps({"_meta": {}, **sections}), encoding="utf-8")
    only_input_errors(lambda: load_pipfile_lock(path, categories=["default", "develop"]))


# -- markers: deciding extras/groups never changes the rest of the expression ------------------

VARIABLES = [
    "python_version",
    "python_full_version",
    "sys_platform",
    "platform_machine",
    "os_name",
    "implementation_name",
]
VALUES_FOR = {
    "python_version": ["3.9", "3.11", "3.12", "3.13"],
    "python_full_version": ["3.9.1", "3.12.0", "3.13.2"],
    "sys_platform": ["linux", "win32", "darwin"],
    "platform_machine": ["x86_64", "aarch64"],
    "os_name": ["posix", "nt"],
    "implementation_name": ["cpython", "pypy"],
}


@st.composite
def atoms(draw: st.DrawFn) -> str:
    variable = draw(st.sampled_from(VARIABLES))
    value = draw(st.sampled_from(VALUES_FOR[variable]))
    if variable.startswith("python"):
        op = draw(st.sampled_from(["<", "<=", "==", "!=", ">=", ">"]))
    else:
        op = draw(st.sampled_from(["==", "!=", "in", "not in"]))
    quote = draw(st.sampled_from(["'", '"']))
    if op in ("in", "not in") and draw(st.booleans()):
        return f"{quote}{value}{quote} {op} {variable}"
    return f"{variable} {op} {quote}{value}{quote}"


MARKERS = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
        inner.map(lambda m: f"({m})"),
    ),
    max_leaves=6,
)
ENVIRONMENTS = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in VALUES_FOR.items()})


@FUZZ
@given(marker=MARKERS, environments=st.lists(ENVIRONMENTS, min_size=1, max_size=5))
def test_marker_rewrite_keeps_meaning(marker: str, environments: list[dict[str, str]]) -> None:
    original = Marker(marker)
    result, touched = resolve_marker(str(original), extras=frozenset({"a"}), groups=frozenset())
    assert not touched and isinstance(result, str)
    rewritten = Marker(result)
    for env in environments:
        assert rewritten.evaluate(env) == original.evaluate(env)


@FUZZ
@given(
    marker=MARKERS,
    extra=st.sampled_from(["a", "b"]),
    op=st.sampled_from([" and ", " or "]),
    chosen=st.sampled_from([(), ("a",), ("a", "b")]),
    env=ENVIRONMENTS,
)
def test_extra_decisions_match_packaging(
    marker: str, extra: str, op: str, chosen: tuple[str, ...], env: dict[str, str]
) -> None:
    text = f"({marker}){op}extra == '{extra}'"
    result, touched = resolve_marker(str(Marker(text)), extras=frozenset(chosen))
    assert touched
    # packaging evaluates `extra` one name at a time; the requirement applies if any does
    expected = any(Marker(text).evaluate({**env, "extra": e}) for e in (chosen or ("",)))
    got = result if isinstance(result, bool) else Marker(result).evaluate({**env, "extra": ""})
    assert got == expected


# -- redaction --------------------------------------------------------------------------------

PASSWORDS = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~%!$&()*+,;=", min_size=6, max_size=30
).map(lambda p: "PW" + p)


@FUZZ
@given(
    scheme=st.sampled_from(["https", "http", "git+https", "file"]),
    user=st.text(alphabet=string.ascii_lowercase, max_size=8),
    password=PASSWORDS,
    rest=st.text(alphabet=string.ascii_lowercase + "/.?=&#:", max_size=30),
    with_user=st.booleans(),
)
def test_redact_url_never_leaks_the_secret(
    scheme: str, user: str, password: str, rest: str, with_user: bool
) -> None:
    userinfo = f"{user}:{password}" if with_user else password
    url = f"{scheme}://{userinfo}@host.example.com/{rest}"
    redacted = redact_url(url)
    assert password not in redacted
    assert "***@host.example.com/" in redacted
    assert password not in redact_text(f"--index-url {url} and more text")
    assert password not in strip_credentials(url)


@FUZZ
@given(text=TEXT)
def test_redaction_never_raises(text: str) -> None:
    assert isinstance(redact_url(text), str)
    assert isinstance(redact_text(text), str)
