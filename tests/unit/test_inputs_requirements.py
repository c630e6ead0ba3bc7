"""pip requirements files and inline lists: valid lines, errors naming file and line, hashes,
environment variables, path requirements.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lambda_wheels_cdk.errors import InputError, UsageError
from lambda_wheels_cdk.inputs.detect import load
from lambda_wheels_cdk.inputs.requirements import from_list, load_requirements_file
from lambda_wheels_cdk.inputs.spec import DependencySpec, IndexSettings
from tests.support.inputs import (
    FIXTURES,
    IDNA_HASH,
    SECRET,
    SIX_HASHES,
    error_of,
    make_project,
    write,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Requests>=2.0", "requests>=2.0"),
        (
            "requests [Socks] >= 2.0 ; python_version<'3.10'",
            'requests[socks]>=2.0; python_version < "3.10"',
        ),
        ("six==1.17.0  # pinned for py2 compat", "six==1.17.0"),
        ("Zope.Interface==7.0", "zope-interface==7.0"),
        ("numpy>=1.26,<3", "numpy<3,>=1.26"),
        (
            "pkg @ https://files.example.com/pkg-1.0-py3-none-any.whl",
            "pkg @ https://files.example.com/pkg-1.0-py3-none-any.whl",
        ),
        (
            "https://files.example.com/pkgs/six-1.17.0-py2.py3-none-any.whl",
            "six @ https://files.example.com/pkgs/six-1.17.0-py2.py3-none-any.whl",
        ),
        (
            "https://files.example.com/Foo_Bar-2.0.tar.gz ; sys_platform == 'linux'",
            'foo-bar @ https://files.example.com/Foo_Bar-2.0.tar.gz ; sys_platform == "linux"',
        ),
        (
            "git+https://github.com/org/repo.git@v1.2#egg=My_Lib",
            "my-lib @ git+https://github.com/org/repo.git@v1.2#egg=My_Lib",
        ),
        (
            "my-lib @ git+https://github.com/org/repo.git@v1.2",
            "my-lib @ git+https://github.com/org/repo.git@v1.2",
        ),
        (
            "colorama==0.4.6 ; sys_platform == 'win32' \\\n    # via pytest",
            'colorama==0.4.6; sys_platform == "win32"',
        ),
        (
            "numpy==2.2.6; \\\n   platform_machine == 'x86_64'",
            'numpy==2.2.6; platform_machine == "x86_64"',
        ),
    ],
)
def test_requirement_lines_are_normalized(tmp_path: Path, line: str, expected: str) -> None:
    spec = load_requirements_file(write(tmp_path, "requirements.txt", line + "\n"))
    assert spec.requirements == (expected,)
    assert spec.origin == "requirements.txt" and not spec.locked


def test_comments_blank_lines_and_bom(tmp_path: Path) -> None:
    text = "\ufeff# header\n\n   \n  # indented comment\nsix==1.17.0 # trailing\n\nidna\n"
    spec = load_requirements_file(write(tmp_path, "requirements.txt", text))
    assert spec.requirements == ("six==1.17.0", "idna")
    assert spec.names == ("six", "idna")


def test_url_fragment_is_not_a_comment(tmp_path: Path) -> None:
    line = "pkg @ https://h/pkg-1.0-py3-none-any.whl#sha256=abc"
    spec = load_requirements_file(write(tmp_path, "r.txt", line + "\n"))
    assert spec.requirements == (line,)


def test_the_fixture_with_nested_relative_includes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_INDEX_TOKEN", SECRET)
    spec = load(FIXTURES / "requirements" / "requirements.txt")
    assert spec.requirements == (
        "six==1.17.0",
        "attrs==25.3.0",
        "boto3-stubs[s3]>=1.34",
        "requests[socks]<3,>=2.32",
        'importlib-metadata>=8.5; python_version < "3.10"',
        'orders-auth==1.4.2; sys_platform == "linux"',
    )
    assert spec.constraints == ("urllib3<2.7", "idna>=3.7")
    assert spec.index.index_url == f"https://__token__:{SECRET}@pkgs.example.com/simple"
    assert spec.index.extra_index_urls == ("https://pypi.org/simple",)
    assert spec.index.find_links == (str(FIXTURES / "requirements" / "vendor"),)
    assert spec.constraints_txt() == "urllib3<2.7\nidna>=3.7\n"
    assert spec.origin == "requirements.txt"


def test_includes_inside_constraint_files_are_constraints(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-c c/outer.txt\nsix\n")
    write(tmp_path, "c/outer.txt", "-r inner.txt\nidna<4\n")
    write(tmp_path, "c/inner.txt", "urllib3<3\n")
    spec = load_requirements_file(tmp_path / "requirements.txt")
    assert spec.requirements == ("six",)
    assert spec.constraints == ("urllib3<3", "idna<4")


def test_diamond_includes_are_read_once_each_way(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r a.txt\n-r b.txt\n")
    write(tmp_path, "a.txt", "-r common.txt\nattrs\n")
    write(tmp_path, "b.txt", "-r common.txt\nidna\n")
    write(tmp_path, "common.txt", "six==1.17.0\n")
    spec = load_requirements_file(tmp_path / "requirements.txt")
    assert spec.requirements == ("six==1.17.0", "attrs", "idna")


def test_include_cycle_is_reported_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "six\n-r sub/a.txt\n")
    write(tmp_path, "sub/a.txt", "-r ../requirements.txt\n")
    message = error_of(load_requirements_file, tmp_path / "requirements.txt")
    assert message.startswith("sub/a.txt:1: -r requirements.txt includes a file")
    assert "requirements.txt -> sub/a.txt -> requirements.txt" in message


def test_index_options_in_any_spelling(tmp_path: Path) -> None:
    write(tmp_path, "wheels/x.txt", "")
    text = (
        "-ihttps://primary/simple\n"
        "--extra-index-url=https://one/simple\n"
        "--extra-index-url https://two/simple --extra-index-url https://one/simple\n"
        "-f wheels\n"
        "--find-links=https://links.example.com/\n"
        "--no-index\n"
        "six\n"
    )
    spec = load_requirements_file(write(tmp_path, "requirements.txt", text))
    assert spec.index == IndexSettings(
        index_url="https://primary/simple",
        extra_index_urls=("https://one/simple", "https://two/simple"),
        find_links=(str(tmp_path / "wheels"), "https://links.example.com/"),
        no_index=True,
    )
    assert "--index-url" not in spec.requirements_txt() and "primary" not in spec.requirements_txt()


def test_index_lines_in_an_included_file_count(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r base/common.txt\n")
    write(tmp_path, "base/common.txt", "--find-links ../vendor\nsix\n")
    (tmp_path / "vendor").mkdir()
    spec = load_requirements_file(tmp_path / "requirements.txt")
    assert spec.index.find_links == (str(tmp_path / "vendor"),)


# -- requirements files: errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("numpy===", "'numpy===' is not a valid requirement ("),
        ("requests>=2 ; python_version >> '3'", "is not a valid requirement"),
        ("-e ./pkg", "editable requirement '-e ./pkg' is not supported"),
        ("--editable=git+https://h/r.git#egg=x", "editable requirement"),
        ("--pre", "--pre is not supported"),
        ("--only-binary :all:", "--only-binary is not supported"),
        ("--trusted-host pkgs.example.com", "serve the index over https"),
        ("--frobnicate", "unknown option '--frobnicate'"),
        ("-x", "unknown option '-x'"),
        ("requests --index-url https://x/simple", "--index-url cannot follow a requirement"),
        ("-r https://example.com/requirements.txt", "-r by URL is not supported"),
        ("-r missing.txt", "-r missing.txt: file not found"),
        ("-c", "-c needs a value"),
        ("six==1.17.0 --hash=md5:0123", "is not 'sha256:<64 hex digits>'"),
        ("six==1.17.0 --hash=sha256:xyz", "is not 'sha256:<64 hex digits>'"),
        (f"--hash={SIX_HASHES[0]}", "--hash must follow its requirement"),
        ("--no-index=yes", "--no-index takes no value"),
        ("--index-url ftp://mirror/simple", "--index-url needs an http(s) URL"),
        ("--index-url pkgs.example.com/simple", "--index-url needs an http(s) URL"),
        ("--find-links ./no-such-folder", "--find-links './no-such-folder' does not exist"),
        ("./no-such-dir", "'./no-such-dir' points to './no-such-dir', which does not exist"),
        ("https://files.example.com/download/archive", "does not say which package it installs"),
        ("git+https://github.com/org/repo.git", "write it as 'name @ URL'"),
        ("six==1.17.0 --hash 'unterminated", "cannot read the options"),
        (f"six==1.17.0 extra-token --hash={SIX_HASHES[0]}", "is not a valid requirement"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = write(tmp_path, "requirements.txt", f"# ok\nsix\n{line}\n")
    message = error_of(load_requirements_file, path)
    assert message.startswith("requirements.txt:3: "), message
    assert expected in message
    assert message.count(": ") >= 2, "every message says what is wrong and then what to do"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "numpy===\nsix\n-e .\n--pre\nrequests@@\n")
    message = error_of(load_requirements_file, path)
    assert message.startswith("requirements.txt has 4 problems:")
    for number in (1, 3, 4, 5):
        assert f"requirements.txt:{number}:" in message


def test_problems_in_included_files_name_the_included_file(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r lib/base.txt\n")
    write(tmp_path, "lib/base.txt", "six\n\nbad===\n")
    message = error_of(load_requirements_file, tmp_path / "requirements.txt")
    assert message.startswith("lib/base.txt:3: 'bad===' is not a valid requirement")


def test_two_different_index_urls_conflict(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-i https://a/simple\n-r more.txt\n")
    write(tmp_path, "more.txt", "--index-url https://b/simple\n")
    message = error_of(load_requirements_file, tmp_path / "requirements.txt")
    assert message.startswith("more.txt:1: a second, different --index-url")
    assert "requirements.txt:1" in message and "--extra-index-url" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"six==1.17.0\n\xff\xfe\xfa\n", "is not UTF-8 text"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(content)
    assert expected in error_of(load_requirements_file, path)


def test_missing_requirements_file(tmp_path: Path) -> None:
    message = error_of(load_requirements_file, tmp_path / "requirements.txt")
    assert "requirements file not found" in message and "requirements.txt" in message
    message = error_of(load_requirements_file, tmp_path)
    assert "is not a file" in message


def test_input_error_is_a_usage_error_with_exit_code_2(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_requirements_file(write(tmp_path, "r.txt", "numpy===\n"))
    assert isinstance(info.value, ValueError) and info.value.exit_code == 2


# -- hashes ------------------------------------------------------------------------------------


def test_hashed_fixture_round_trips_through_requirements_txt() -> None:
    spec = load(FIXTURES / "requirements" / "hashed.txt")
    assert spec.requirements == ("idna==3.20", "six==1.17.0")
    assert spec.hashes["six"] == SIX_HASHES
    assert spec.hash_checking
    expected = (
        "idna==3.20 \\\n"
        "    --hash=sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44 \\\n"
        f"    --hash={IDNA_HASH}\n"
        "six==1.17.0 \\\n"
        f"    --hash={SIX_HASHES[0]} \\\n"
        f"    --hash={SIX_HASHES[1]}\n"
    )
    assert spec.requirements_txt() == expected


def test_partially_hashed_file_is_refused_like_pip() -> None:
    message = error_of(load, FIXTURES / "requirements" / "partially-hashed.txt")
    assert message.startswith(
        "partially-hashed.txt:3: 'idna' has no --hash, but other requirements have one"
    )
    assert "remove every --hash" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "--require-hashes\nsix==1.17.0\n",
            "r.txt:2: 'six' has no --hash, but --require-hashes is set (r.txt:1)",
        ),
        (
            f"six>=1.16 --hash={SIX_HASHES[0]}\n",
            "r.txt:1: 'six' has --hash but is not pinned with '=='",
        ),
        (f"six==1.* --hash={SIX_HASHES[0]}\n", "is not pinned"),
        (f"./lib --hash={SIX_HASHES[0]}\n", "is a local folder, which cannot be hash-checked"),
        (f"six==1.17.0 --hash={SIX_HASHES[0]}\n-c c.txt\n", None),
    ],
)
def test_hash_rules(tmp_path: Path, text: str, expected: str | None) -> None:
    make_project(tmp_path / "lib")
    write(tmp_path, "c.txt", "idna<4\n")
    path = write(tmp_path, "r.txt", text)
    if expected is None:
        assert load_requirements_file(path).hash_checking
    else:
        assert expected in error_of(load_requirements_file, path)


def test_hashes_are_normalized_and_merged_per_name(tmp_path: Path) -> None:
    upper = SIX_HASHES[0].replace("sha256:", "SHA256:").upper().replace("SHA256:", "sha256:")
    text = (
        f"six==1.17.0 ; python_version < '3.12' --hash={upper}\n"
        f"six==1.17.0 ; python_version >= '3.12' --hash {SIX_HASHES[1]} --hash={SIX_HASHES[0]}\n"
    )
    spec = load_requirements_file(write(tmp_path, "r.txt", text))
    assert spec.hashes == {"six": SIX_HASHES}
    assert spec.requirements_txt().count("--hash=") == 4


def test_hash_options_on_a_url_requirement_are_fine(tmp_path: Path) -> None:
    line = f"six @ https://files.example.com/six-1.17.0-py2.py3-none-any.whl --hash={SIX_HASHES[0]}"
    spec = load_requirements_file(write(tmp_path, "r.txt", line + "\n"))
    assert spec.hash_checking and spec.hashes == {"six": (SIX_HASHES[0],)}


def test_hashes_in_constraint_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "c.txt", f"six==1.17.0 --hash={SIX_HASHES[0]}\n")
    message = error_of(load_requirements_file, write(tmp_path, "r.txt", "-c c.txt\nsix\n"))
    assert message.startswith("c.txt:1: --hash in a constraints file")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("six[extra]<2", "constraints cannot have extras"),
        ("https://h/six-1.17.0-py2.py3-none-any.whl", "a constraint must name a package"),
    ],
)
def test_constraint_rules(tmp_path: Path, line: str, expected: str) -> None:
    write(tmp_path, "c.txt", line + "\n")
    assert expected in error_of(load_requirements_file, write(tmp_path, "r.txt", "-c c.txt\n"))


def test_requirements_txt_is_read_back_by_pip(tmp_path: Path) -> None:
    req_file = pytest.importorskip("pip._internal.req.req_file")
    network_session = pytest.importorskip("pip._internal.network.session")
    lib = make_project(tmp_path / "dir with space" / "lïb")
    specs = [
        load(FIXTURES / "requirements" / "hashed.txt"),
        from_list(
            [
                "requests[socks]>=2; python_version >= '3.9'",
                str(lib),
                "x @ https://h/x-1-py3-none-any.whl",
            ]
        ),
    ]
    for number, spec in enumerate(specs):
        path = write(tmp_path, f"out{number}.txt", spec.requirements_txt())
        parsed = list(req_file.parse_requirements(str(path), session=network_session.PipSession()))
        assert [Requirement(p.requirement).name for p in parsed] == [
            Requirement(r).name for r in spec.requirements
        ]
        for p in parsed:
            expected = spec.hashes.get(Requirement(p.requirement).name, ())
            got = (
                [f"sha256:{h}" for h in p.options.get("hashes", {}).get("sha256", [])]
                if p.options
                else []
            )
            assert sorted(got) == sorted(h for h in expected if h.startswith("sha256:"))


# -- environment variables ---------------------------------------------------------------------


def test_env_vars_expand_like_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEX_TOKEN", SECRET)
    monkeypatch.setenv("SIX_VERSION", "1.17.0")
    monkeypatch.setenv("EMPTY_VAR", "")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    text = (
        "--index-url https://__token__:${INDEX_TOKEN}@pkgs/simple\n"
        "six==${SIX_VERSION}\n"
        "idna==3.${EMPTY_VAR}\n"
        "--extra-index-url https://${UNSET_VAR}@x/simple\n"
        "attrs==$SIX_VERSION\n"
    )
    with pytest.raises(InputError) as info:
        load_requirements_file(write(tmp_path, "r.txt", text))
    message = str(info.value)
    # ${EMPTY_VAR} stays as written (pip only expands non-empty values), $VAR is never expanded
    assert "r.txt:3: 'idna==3.${EMPTY_VAR}' is not a valid requirement" in message
    assert "r.txt:5: 'attrs==$SIX_VERSION'" in message
    spec = load_requirements_file(
        write(tmp_path, "ok.txt", "\n".join(text.splitlines()[:2]) + "\n")
    )
    assert spec.index.index_url == f"https://__token__:{SECRET}@pkgs/simple"
    assert spec.requirements == ("six==1.17.0",)


def test_expanded_secrets_never_reach_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIN_SECRET", SECRET)
    lines = [
        "--index-url ftp://${PLAIN_SECRET}/simple",
        "pkg==${PLAIN_SECRET}!!",
        "--find-links ./${PLAIN_SECRET}",
        "-r ${PLAIN_SECRET}.txt",
        "six==1 --hash=${PLAIN_SECRET}",
        "--pre ${PLAIN_SECRET}",
        "x @ https://u:${PLAIN_SECRET}@h/x.whl ; bad",
    ]
    message = error_of(load_requirements_file, write(tmp_path, "r.txt", "\n".join(lines) + "\n"))
    assert message.count("r.txt:") == len(lines)
    assert SECRET not in message


def test_credentials_in_lines_are_masked_in_messages(tmp_path: Path) -> None:
    text = f"--index-url https://__token__:{SECRET}@pkgs/simple --pre\nx @ https://{SECRET}@h/x.whl ; bad marker\n"
    message = error_of(load_requirements_file, write(tmp_path, "r.txt", text))
    assert SECRET not in message
    assert "https://__token__:***@pkgs/simple" in message and "https://***@h/x.whl" in message


def test_no_secret_in_any_output_of_a_spec(tmp_path: Path) -> None:
    text = (
        f"--index-url https://__token__:{SECRET}@pkgs/simple\n"
        f"--extra-index-url https://{SECRET}@extra/simple\n"
        "six==1.17.0\n"
        f"private @ https://deploy:{SECRET}@files.example.com/private-1.0-py3-none-any.whl\n"
    )
    spec = load_requirements_file(write(tmp_path, "requirements.txt", text))
    assert SECRET in (spec.index.index_url or "")  # the installer needs the real value...
    outputs = [
        repr(spec),
        str(spec),
        repr(spec.redacted()),
        repr(spec.redacted().requirements),
        json.dumps(spec.index.fingerprint_data()),
        spec.origin,
        spec.constraints_txt(),
    ]
    for output in outputs:  # ...but nothing made for people or keys shows it
        assert SECRET not in output, output
    assert SECRET not in spec.requirements_txt().replace(  # only the direct URL carries it
        f"https://deploy:{SECRET}@files.example.com/private-1.0-py3-none-any.whl", ""
    )


# -- path requirements ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("./lib", "my-lib"),
        ("lib", None),  # a bare word is a name, not a path
        ("./lib[extra] ; python_version >= '3.9'", "my-lib"),
        ("my-lib @ ./lib", "my-lib"),
        ("renamed @ file:lib", "renamed"),
        ("dist/six-1.17.0-py2.py3-none-any.whl", "six"),
        ("./dist/Foo_Bar-2.0.tar.gz", "foo-bar"),
    ],
)
def test_path_requirements_become_absolute_file_urls(
    tmp_path: Path, line: str, name: str | None
) -> None:
    make_project(tmp_path / "lib")
    write(tmp_path, "dist/six-1.17.0-py2.py3-none-any.whl", "wheel")
    write(tmp_path, "dist/Foo_Bar-2.0.tar.gz", "sdist")
    spec = load_requirements_file(write(tmp_path, "sub/../requirements.txt", line + "\n"))
    req = Requirement(spec.requirements[0])
    if name is None:
        assert spec.requirements == ("lib",) and not spec.local_paths
        return
    assert req.name == name and req.url is not None and req.url.startswith("file:///")
    assert Path(spec.local_paths[name]).is_absolute() and Path(spec.local_paths[name]).exists()
    if "extra" in line:
        assert req.extras == {"extra"} and str(req.marker) == 'python_version >= "3.9"'


def test_path_requirement_name_from_setup_cfg_or_poetry(tmp_path: Path) -> None:
    write(tmp_path, "a/setup.cfg", "[metadata]\nname = Legacy.Pkg\n")
    write(tmp_path, "b/pyproject.toml", '[tool.poetry]\nname = "poetry-pkg"\n')
    spec = load_requirements_file(write(tmp_path, "r.txt", "./a\n./b\n"))
    assert spec.names == ("legacy-pkg", "poetry-pkg")


def test_path_requirement_without_a_static_name(tmp_path: Path) -> None:
    write(tmp_path, "dyn/setup.py", "from setuptools import setup\nsetup()\n")
    message = error_of(load_requirements_file, write(tmp_path, "r.txt", "./dyn\n"))
    assert "r.txt:1: './dyn' does not say which package it installs" in message
    assert "write it as 'name @ ./dyn'" in message
    assert load_requirements_file(write(tmp_path, "ok.txt", "dyn @ ./dyn\n")).names == ("dyn",)


def test_paths_with_spaces_and_unicode(tmp_path: Path) -> None:
    folder = tmp_path / "My Functions" / "ünïcode entry"
    make_project(folder / "lib dir", "spaced")
    spec = load(write(folder, "requirements.txt", "./lib dir\n"))
    req = Requirement(spec.requirements[0])
    assert req.url is not None and req.url == (folder / "lib dir").as_uri() and "%20" in req.url
    assert spec.local_paths == {"spaced": str(folder / "lib dir")}
    assert (
        DependencySpec(spec.requirements, local_paths=spec.local_paths).fingerprint()
        == spec.fingerprint()
    )


def test_inline_list(tmp_path: Path) -> None:
    make_project(tmp_path / "lib")
    spec = from_list(
        ["Requests>=2", "six==1.17.0; python_version >= '3'", "./lib"], base_dir=tmp_path
    )
    assert spec.requirements == (
        "requests>=2",
        'six==1.17.0; python_version >= "3"',
        f"my-lib @ {(tmp_path / 'lib').as_uri()}",
    )
    assert spec.origin == "inline list" and spec.index == IndexSettings() and not spec.locked
    assert from_list([]).requirements == ()
    hashed = from_list([f"six==1.17.0 --hash={SIX_HASHES[0]}"])
    assert hashed.hash_checking


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["six", "numpy==="], "inline list item 2: 'numpy===' is not a valid requirement"),
        (["six", 3], "inline list item 2: expected a requirement string, not a number"),
        (["-r other.txt"], "inline list item 1: '-r other.txt' is not a requirement"),
        (["--index-url https://x/simple"], "only requirements (optionally with --hash)"),
        (["six\nidna"], "is not one requirement"),
        ([""], "is not one requirement"),
        (["six", "idna"][0], "expected a list of requirement strings, not one string"),
    ],
)
def test_inline_list_errors(items: object, expected: str) -> None:
    assert expected in error_of(from_list, items)
