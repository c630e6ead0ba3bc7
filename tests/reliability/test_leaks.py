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

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import InputError
from tests.support.index_server import IndexServer
from tests.support.processes import HAS_PROC, descendants, wait_for

from .conftest import (
    TOKEN,
    USER,
    CliRun,
    Packages,
    Workspace,
    files_containing,
    secret_forms,
)

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


def _message_for(run_cli: RunCli, tmp_path: Path, text: str) -> str:
    """The error of a build from a requirements file holding ``text`` (bad input: exit 2)."""
    (tmp_path / "requirements.txt").write_text(text)
    result = _build(run_cli, tmp_path, "-r", str(tmp_path / "requirements.txt"))
    assert result.code == 2 and isinstance(result.error, InputError), result.err
    _assert_no_secret(result)
    return str(result.error)


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
    message = _message_for(
        run_cli,
        tmp_path,
        "six==1.17.0\n"
        "requests>=2\n"
        "idna\n"
        "certifi\n"
        f"mypkg password={NETRC_PASSWORD}\n"
        f"other api_key: {AWS_SECRET}\n"
        f"bad==1 ;;; {long_tail}\n",
    )
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
    message = _message_for(run_cli, tmp_path, f"# deps\n{line}\n")
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
    message = _message_for(run_cli, tmp_path, f"six\nidna\n{line}\n")
    assert f"requirements.txt:3: {line!r}" in message


# -- item 2: a direct URL's password at rest after SIGKILL ---------------------------------------


def _kill_build_at(
    moment: str, argv: list[str], env: dict[str, str], temp_root: Path, rng: random.Random
) -> str:
    """Start a build, SIGKILL the lambda-wheels process (only it) at ``moment``: what happened."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if moment == "workspace":  # as soon as the installer's temp folder exists
            seen = wait_for(lambda: any(temp_root.glob("lw-*-*")), 60, step=0.002)
        elif moment == "installer":  # while the installer runs
            seen = wait_for(lambda: len(descendants(proc.pid)) > 0, 60, step=0.002)
            time.sleep(0.2)
        else:
            seen = True
            time.sleep(rng.uniform(0.0, 3.0))
        finished = proc.poll() is not None
        if not finished:
            os.kill(proc.pid, signal.SIGKILL)
        return f"{moment}:{'finished' if finished else 'killed'}{'' if seen else '(late)'}"
    finally:
        proc.wait(timeout=60)


@pytest.mark.e2e
@pytest.mark.skipif(not HAS_PROC, reason="finds the installer child through Linux's /proc")
def test_killed_builds_leave_no_password_on_disk(
    tmp_path: Path, ws: Workspace, packages: Packages
) -> None:
    """A direct URL with credentials, builds killed at several moments: no file under the
    temp folder or the bundle cache holds the password -- during the kills, and the next
    build leaves no temp folder of the killed ones behind."""
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_root), "TEMP": str(temp_root), "TMP": str(temp_root)}
    seed = int(os.environ.get("LW_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    needles = secret_forms(TOKEN)
    # every request waits: the installer is mid-download for a while at each kill
    with IndexServer(packages.folder.iterdir(), auth=(USER, TOKEN), delay=0.3) as server:
        wheel = packages.file("lw_many-")
        requirement = f"lw-many @ http://{USER}:{TOKEN}@{server.netloc}/files/{wheel.name}"

        def argv(out: Path, *extra: str) -> list[str]:
            return [
                sys.executable, "-m", "lambda_wheels_cdk", "build", "--runtime", "python3.12",
                "--arch", "x86_64", "--no-index", "-o", str(out), *extra, requirement,
            ]  # fmt: skip

        outcomes = []
        for i, moment in enumerate(["workspace", "installer", "installer", "random", "random"]):
            if ws.deps.exists():
                shutil.rmtree(ws.deps)  # every kill hits an install
            outcomes.append(
                _kill_build_at(moment, argv(tmp_path / f"out-{i}"), env, temp_root, rng)
            )
            where = f"seed {seed} (LW_KILL_SEED), kills: {', '.join(outcomes)}"
            assert files_containing(temp_root, needles) == [], where
            assert files_containing(ws.cache, needles) == [], where
        assert any(o.endswith("killed") for o in outcomes[:3]), where

        # the next build: succeeds, and removes what the killed ones left
        done = subprocess.run(
            argv(tmp_path / "final"), env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "final" / "lw_many").is_dir()
    assert sorted(p.name for p in temp_root.iterdir() if p.name.startswith("lw-")) == [], where
    work = ws.cache / "v1" / "tmp"
    assert sorted(p.name for p in work.iterdir()) == [], where
    assert files_containing(temp_root, needles) == [] and files_containing(ws.cache, needles) == []
    assert files_containing(ws.root / "uv-cache", needles) == [], "uv keeps no credentials"
    print(where)


@pytest.mark.e2e
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_direct_url_s_credentials_reach_the_installer_through_its_environment(
    installer: str, tmp_path: Path, ws: Workspace, packages: Packages, run_cli: RunCli
) -> None:
    """The requirements file says ${LAMBDA_WHEELS_URL_CREDENTIALS_0}: both installers expand it
    (a 401 otherwise), and the credentials were sent with every request."""
    with IndexServer(packages.folder.iterdir(), auth=(USER, TOKEN)) as server:
        wheel = packages.file("lw_dep-1.0")
        url = f"http://{USER}:{TOKEN}@{server.netloc}/files/{wheel.name}"
        result = _build(
            run_cli, tmp_path, "--installer", installer, "--no-index", "-v", f"lw-dep @ {url}"
        )
        assert result.code == 0, result.err
        assert server.requests and all(r.authorized for r in server.requests)
    assert (tmp_path / "out" / "lw_dep").is_dir()
    assert TOKEN not in result.out + result.err
    assert files_containing(ws.cache, secret_forms(TOKEN)) == []
