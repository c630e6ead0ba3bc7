"""Secrets that must not leak (issue 19, items 1 and 2): error messages that quote files, and
temp files that outlive a killed build.

Item 1: a requirements file can name any file with ``-r``/``-c`` (a pull request can add
``-r /home/runner/.aws/credentials``), and a message quoting that file's lines puts its secrets
in CI logs. The rule tested here: a file with more lines that are not requirements than lines
that are "does not look like a requirements file" and no line of it is shown; in a real
requirements file a bad line is quoted after masking (URL credentials, ``password=...`` and
the like) and cut at 80 characters.

Item 2 (a direct URL's password at rest after SIGKILL) is in this module too:
``test_killed_builds_leave_no_password_on_disk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import InputError

from .conftest import CliRun

RunCli = Callable[..., CliRun]

#: A fake ~/.aws/credentials and ~/.netrc (AWS's documented example key pair).
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NETRC_PASSWORD = "hunter2-netrc-s3cret"
CREDENTIALS = (
    "[default]\n"
    f"aws_access_key_id = {AWS_KEY_ID}\n"
    f"aws_secret_access_key = {AWS_SECRET}\n"
    "\n[ci]\n"
    f"aws_access_key_id = {AWS_KEY_ID}\n"
    f"aws_secret_access_key = {AWS_SECRET}\n"
)
NETRC_ONE_LINE = f"machine pkgs.example.com login deploy password {NETRC_PASSWORD}\n"
NETRC_LINES = f"machine pkgs.example.com\n  login deploy\n  password {NETRC_PASSWORD}\n"
#: ~/.pypirc: one line of it (``pypi``) is a valid requirement name.
PYPIRC = (
    "[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\n"
    f"password = pypi-{NETRC_PASSWORD}\n"
)
SECRETS = (AWS_KEY_ID, AWS_SECRET, NETRC_PASSWORD)


def _build(run_cli: RunCli, tmp_path: Path, *args: str) -> CliRun:
    return run_cli(
        "build", "--runtime", "python3.12", "--arch", "x86_64", "-o", str(tmp_path / "out"), *args
    )


def _assert_no_secret(result: CliRun) -> None:
    for secret in SECRETS:
        assert secret not in result.out + result.err, result.err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fake home folder with credentials files (never the real ones)."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(CREDENTIALS)
    (home / ".netrc").write_text(NETRC_ONE_LINE)
    (home / ".netrc-lines").write_text(NETRC_LINES)
    (home / ".pypirc").write_text(PYPIRC)
    return home


@pytest.mark.parametrize(
    ("include", "name"),
    [
        ("-r", ".aws/credentials"),
        ("-c", ".aws/credentials"),
        ("-r", ".netrc"),
        ("-c", ".netrc"),
        ("--requirement", ".netrc-lines"),
        ("-r", ".pypirc"),
    ],
)
def test_an_included_secret_file_is_never_quoted(
    include: str, name: str, home: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text(f"six==1.17.0\n{include} {home / name}\n")
    result = _build(run_cli, tmp_path, "-r", str(app / "requirements.txt"))
    assert result.code == 2 and isinstance(result.error, InputError), result.err
    _assert_no_secret(result)
    message = str(result.error)
    assert "does not look like a requirements file" in message
    assert "requirements.txt:2" in message  # the line that included it
    assert message.count("\n") == 0, "one message, no quoted lines"


def test_a_secret_file_given_directly_is_never_quoted(
    home: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    """A pull request can replace requirements.txt by a link to a credentials file."""
    for name in (".aws/credentials", ".netrc", ".pypirc"):
        link = tmp_path / name.replace("/", "-") / "requirements.txt"
        link.parent.mkdir()
        try:
            link.symlink_to(home / name)
        except OSError:  # no symlinks for this user (Windows): the same bytes
            link.write_bytes((home / name).read_bytes())
        result = _build(run_cli, tmp_path, "-r", str(link))
        assert result.code == 2 and isinstance(result.error, InputError), result.err
        _assert_no_secret(result)
        assert "does not look like a requirements file" in str(result.error)


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd here")
def test_etc_passwd_gives_no_line(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "requirements.txt").write_text("-r /etc/passwd\n")
    result = _build(run_cli, tmp_path, "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2, result.err
    first = Path("/etc/passwd").read_text().splitlines()[0]
    for field in {f for f in first.split(":") if len(f) > 3}:  # "root", "/root", "/bin/bash"
        assert field not in result.err.replace(str(tmp_path), ""), result.err
    assert result.err.count("\n") == 1, result.err


def test_a_bad_line_of_a_real_requirements_file_is_masked_and_cut(
    tmp_path: Path, run_cli: RunCli
) -> None:
    long_tail = "x" * 200
    (tmp_path / "requirements.txt").write_text(
        "six==1.17.0\n"
        "requests>=2\n"
        "idna\n"
        "certifi\n"
        f"mypkg password={NETRC_PASSWORD}\n"
        f"other api_key: {AWS_SECRET}\n"
        f"bad==1 ;;; {long_tail}\n"
    )
    result = _build(run_cli, tmp_path, "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2, result.err
    _assert_no_secret(result)
    message = str(result.error)
    assert "requirements.txt:5: 'mypkg password=***'" in message
    assert "requirements.txt:6: 'other api_key: ***'" in message
    assert long_tail not in message and "requirements.txt:7: 'bad==1 ;;; xxx" in message


@pytest.mark.parametrize(
    "line",
    [
        "reqeusts>=2,,",  # a typo on the only line still says what is wrong, without the text
        "./no-such-folder",
    ],
)
def test_a_one_line_file_with_a_bad_line_says_why_without_the_text(
    line: str, tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "requirements.txt").write_text(f"# deps\n{line}\n")
    result = _build(run_cli, tmp_path, "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2, result.err
    message = str(result.error)
    assert message.startswith("requirements.txt:2: ")
    assert line not in message
    assert "fix line 2" in message


@pytest.mark.parametrize(
    "line",
    [
        "tokenizers>=0.1 ;;;",
        "keyring == 25.0 ;;;",
        "passlib[bcrypt] @ https://files.example.com/passlib.whl ;;;",
        "authlib ; python_version >> '3'",
    ],
)
def test_requirement_names_that_look_like_secret_words_are_quoted_as_written(
    line: str, tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "requirements.txt").write_text(f"six\nidna\n{line}\n")
    result = _build(run_cli, tmp_path, "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2, result.err
    assert f"requirements.txt:3: {line!r}" in str(result.error)


# -- item 2: a direct URL's password at rest after SIGKILL ---------------------------------------
