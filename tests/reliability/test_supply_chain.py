"""Supply chain (issue 8, item 5): hash-checking mode, forbidding sdists, archive paths.

The fixture sdists use an in-tree build backend that appends to ``$LW_TEST_SDIST_SENTINEL``
whenever it is imported (every build hook), so the tests can prove whether an sdist's code ran
on the build host.

Already covered elsewhere: the audit reads a zip with ``../../etc/evil.so``, ``/abs/evil.so``,
``C:/windows/evil.so`` and ``pkg/..\\..\\evil.so`` members without writing anything and reports
each as an ``unsafe-path`` error -- ``tests/unit/test_audit.py::
test_zip_members_outside_the_bundle_are_errors_and_never_read`` (this module adds the CLI and a
``.whl``); hash parsing and ``--require-hashes`` rules of the input files --
``tests/unit/test_inputs_requirements.py``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_wheels_cdk.errors import InstallError
from tests.support.index_server import IndexServer

from .conftest import (
    SENTINEL_VARIABLE,
    CliRun,
    Packages,
    Workspace,
    assert_nothing_written,
    finished_assets,
)

RunCli = Callable[..., CliRun]
INSTALLERS = ["uv", "pip"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(run_cli: RunCli, out: Path, *args: str, installer: str = "uv") -> CliRun:
    return run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--installer",
        installer,
        "-o",
        str(out),
        "-v",
        *args,
    )


@pytest.fixture
def sentinel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sdist-code-ran.txt"
    monkeypatch.setenv(SENTINEL_VARIABLE, str(path))
    return path


def ran(sentinel: Path) -> list[str]:
    return sentinel.read_text().split() if sentinel.exists() else []


# -- hash-checking mode -------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("installer", INSTALLERS)
def test_hashes_pass_in_hash_checking_mode(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    packages: Packages,
    run_cli: RunCli,
) -> None:
    six = packages.file("six-1.16.0-")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"six==1.16.0 \\\n    --hash=sha256:{sha256(six)}\n")
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
    assert result.code == 0, result.err
    assert (out / "six.py").read_text() == "__version__ = '1.16.0'\n"
    commands = [line for line in result.err.splitlines() if " install " in line]
    assert commands and all("--require-hashes" in line for line in commands), commands


@pytest.mark.e2e
@pytest.mark.parametrize("installer", INSTALLERS)
def test_wrong_hash_fails_clearly(
    installer: str, tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    wrong = "0" * 63 + "1"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"six==1.16.0 --hash=sha256:{wrong}\n")
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
    assert result.code == 1 and isinstance(result.error, InstallError), result.err
    message = str(result.error)
    assert "six" in message and "1.16.0" in message
    assert "hash" in message.lower() and wrong in message
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize("installer", INSTALLERS)
def test_hash_checking_mode_refuses_an_unhashed_dependency(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    packages: Packages,
    run_cli: RunCli,
) -> None:
    """lw-app is hashed, its dependency lw-dep is not: hash-checking mode refuses the install
    (a plain "compare if given" check would let lw-dep through unverified)."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"lw-app==1.0 --hash=sha256:{sha256(packages.file('lw_app-1.0-'))}\n")
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
    assert result.code == 1 and isinstance(result.error, InstallError), result.err
    assert "lw-dep" in str(result.error) and "hash" in str(result.error).lower()
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize("installer", INSTALLERS)
def test_wrong_hash_of_an_sdist_runs_none_of_its_code(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    sentinel: Path,
    run_cli: RunCli,
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"lw-hooked==1.0 --hash=sha256:{'0' * 64}\n")
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
    assert result.code == 1 and isinstance(result.error, InstallError), result.err
    assert "lw-hooked" in str(result.error) and "hash" in str(result.error).lower()
    assert ran(sentinel) == []
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "installer",
    [
        "uv",
        "pip",
    ],
)
def test_hash_pinned_pure_sdist_installs(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    packages: Packages,
    sentinel: Path,
    run_cli: RunCli,
) -> None:
    sdist = packages.file("lw_hooked-1.0.tar.gz")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"lw-hooked==1.0 --hash=sha256:{sha256(sdist)}\n")
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
    assert result.code == 0, result.err
    assert (out / "lw_hooked" / "__init__.py").read_text() == "BUILT_BY = 'good'\n"
    assert set(ran(sentinel)) == {"good"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "installer",
    [
        "uv",
        "pip",
    ],
)
def test_hash_checking_mode_never_builds_an_unverified_sdist(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    packages: Packages,
    sentinel: Path,
    run_cli: RunCli,
) -> None:
    """A compromised mirror serves the genuine sdist once, then a different file under the same
    name (its page publishes no hashes, like many private find-links pages). The requirement
    pins the genuine file's sha256, so no other file may ever be built: the EVIL backend must
    never run, whether the build then succeeds or fails."""
    sdist = packages.file("lw_hooked-1.0.tar.gz")
    with IndexServer(packages.folder.iterdir(), publish_hashes=False) as index:
        index.tamper(sdist.name, packages.evil_hooked.read_bytes(), after=1)
        reqs = tmp_path / "requirements.txt"
        reqs.write_text(f"lw-hooked==1.0 --hash=sha256:{sha256(sdist)}\n")
        out = tmp_path / "out"
        result = build(run_cli, out, "--index-url", index.url, "-r", str(reqs), installer=installer)
        downloads = index.downloads(sdist.name)
    assert "EVIL" not in ran(sentinel), (
        f"unverified sdist code ran on the host ({downloads} downloads of {sdist.name}); "
        f"exit {result.code}:\n{result.err}"
    )
    if out.exists():
        assert (out / "lw_hooked" / "__init__.py").read_text() == "BUILT_BY = 'good'\n"


# -- forbidding sdists ---------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize(
    "requirement", ["lw-hooked", "lw-uses-hooked"], ids=["direct", "transitive"]
)
def test_no_sdists_refuses_every_sdist_and_runs_none(
    installer: str,
    requirement: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    sentinel: Path,
    run_cli: RunCli,
) -> None:
    out = tmp_path / "out"
    result = build(
        run_cli, out, "--index-url", index.url, "--no-sdists", requirement, installer=installer
    )
    assert result.code == 1 and type(result.error) is InstallError, result.err
    message = str(result.error)
    assert "lw-hooked" in message and "--no-sdists" in message and "allow_sdists=False" in message
    assert ran(sentinel) == []
    assert_nothing_written(out, ws)


@pytest.mark.e2e
def test_no_sdists_wins_over_docker(
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "docker.log"
    monkeypatch.setenv("CDK_DOCKER", str(Path(__file__).parents[1] / "support" / "fake_docker.py"))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "--no-sdists", "--docker", "lw-native")
    assert result.code == 1 and "--no-sdists" in str(result.error)
    assert not log.exists()  # Docker was never asked to build anything
    assert_nothing_written(out, ws)


@pytest.mark.e2e
def test_sdists_are_built_when_allowed(
    tmp_path: Path, ws: Workspace, index: IndexServer, sentinel: Path, run_cli: RunCli
) -> None:
    """The control for the tests above: the same fixture does run its code when allowed."""
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", index.url, "lw-hooked")
    assert result.code == 0, result.err
    assert "good" in ran(sentinel) and (out / "lw_hooked").is_dir()


@pytest.mark.cdk
@pytest.mark.e2e
def test_construct_allow_sdists_false(
    tmp_path: Path, ws: Workspace, index: IndexServer, sentinel: Path
) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelLayer, WheelBundlingOptions

    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    with pytest.raises(InstallError) as info:
        PythonWheelLayer(
            cdk.Stack(app, "S"),
            "Deps",
            dependencies=["lw-uses-hooked"],
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            bundling=WheelBundlingOptions(index_url=index.url, allow_sdists=False),
        )
    assert type(info.value) is InstallError
    assert "lw-hooked" in str(info.value) and "allow_sdists=False" in str(info.value)
    assert ran(sentinel) == []
    assert finished_assets(outdir) == [] and ws.cache_entries() == []


# -- archives with paths outside the destination --------------------------------------------------

UNSAFE_MEMBERS = ["../evil.so", "/abs/evil.so", "pkg/../../evil.so", "..\\win-evil.so"]


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("suffix", [".zip", ".whl"])
def test_cli_audit_of_an_archive_with_unsafe_paths(
    suffix: str, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    archive = work / f"bundle-1.0-py3-none-any{suffix}"
    elf = b"\x7fELF\x02\x01\x01" + bytes(57)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
        for name in UNSAFE_MEMBERS:
            zf.writestr(name, elf)
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    result = run_cli("audit", str(archive), "--runtime", "python3.12", "--arch", "x86_64", "--json")
    assert result.code == 1, result.err
    assert _snapshot(tmp_path) == before
    assert not Path("/abs/evil.so").exists()
    report = json.loads(result.out)
    unsafe = [f for f in report["findings"] if f["code"] == "unsafe-path"]
    assert len(unsafe) == len(UNSAFE_MEMBERS), report["findings"]
    assert all(f["severity"] == "error" for f in unsafe)


@pytest.mark.e2e
def test_installed_tree_never_escapes_the_target(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    """A wheel whose RECORD/members point outside: the installer refuses it or keeps it inside
    the bundle; nothing appears next to the output or the cache."""
    links = tmp_path / "links"
    links.mkdir()
    wheel = links / "lw_escape-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("lw_escape/__init__.py", b"")
        zf.writestr("../../escaped.py", b"print('escaped')\n")
        zf.writestr(
            "lw_escape-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: lw-escape\nVersion: 1.0\n",
        )
        zf.writestr(
            "lw_escape-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr("lw_escape-1.0.dist-info/RECORD", b"")
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "-o",
        str(out),
        "--no-index",
        "--find-links",
        str(links),
        "lw-escape",
    )
    after = (
        {p.name for p in tmp_path.iterdir()}
        - before
        - {"out", "lw-cache", "uv-cache", "events.jsonl", "pip-cache"}
    )
    assert after == set(), after
    assert not list(tmp_path.rglob("escaped.py")) or all(
        out in p.parents for p in tmp_path.rglob("escaped.py")
    )
    assert not (tmp_path.parent / "escaped.py").exists()
    if result.code != 0:
        assert isinstance(result.error, InstallError)


# -- what a bundle holds ---------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    "installer",
    [
        "uv",
        "pip",
    ],
)
def test_bundle_holds_only_recorded_files_and_the_source(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
) -> None:
    """Every file of a bundle belongs to an installed distribution (its RECORD) or to the
    handler source: nothing the installer left for itself ships to Lambda."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    out = tmp_path / "out"
    result = build(
        run_cli, out, "--index-url", index.url, "--source", str(src), "lw-app", installer=installer
    )
    assert result.code == 0, result.err
    recorded = {"index.py", ".lambda-wheels-output"}  # the empty marker of a CLI output
    for record in out.glob("*.dist-info/RECORD"):
        recorded |= {line.split(",", 1)[0] for line in record.read_text().splitlines() if line}
    # and the bytecode lambda-wheels compiled for python3.12, one .pyc per recorded .py
    for rel in [r for r in recorded if r.endswith(".py")]:
        folder, _, name = rel.rpartition("/")
        recorded.add(f"{folder}/__pycache__/{name[:-3]}.cpython-312.pyc".lstrip("/"))
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files - recorded == set()


@pytest.mark.e2e
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_console_script_launchers_are_left_out_and_shipped_scripts_kept(
    installer: str, tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    """An installer writes a launcher per console script into bin/, for the build host's
    Python; Lambda never runs /var/task/bin (it is not on the runtime's PATH). Files the wheel
    ships as scripts (uv's binary, which uv.find_uv_bin() looks for in <target>/bin) stay.
    The handler folder is copied as it is, its requirements.txt included, as PythonFunction
    copies its entry."""
    from tests.support.index_server import IndexServer
    from tests.support.packages import make_wheel

    folder = tmp_path / "packages"
    info = "lw_tool-1.0.dist-info"
    make_wheel(
        folder,
        "lw-tool",
        files={
            f"{info}/entry_points.txt": b"[console_scripts]\nlw-tool = lw_tool:main\n"
            b"[gui_scripts]\nlw-tool-gui = lw_tool:main\n",
            "lw_tool-1.0.data/scripts/lw-shipped": b"#!/bin/sh\necho shipped\n",
        },
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "requirements.txt").write_text("lw-tool\n")
    out = tmp_path / "out"
    with IndexServer(folder.iterdir()) as index:
        result = build(
            run_cli, out, "--index-url", index.url, "--source", str(src), installer=installer
        )
    assert result.code == 0, result.err
    assert sorted(p.name for p in (out / "bin").iterdir()) == ["lw-shipped"]
    assert (out / "bin" / "lw-shipped").read_bytes() == b"#!/bin/sh\necho shipped\n"
    record = (out / info / "RECORD").read_text()
    assert "bin/lw-tool" not in record
    # (pip --target records scripts as ../../../bin/..., rows dropped on normalizing)
    assert installer == "pip" or "bin/lw-shipped," in record
    assert (out / info / "entry_points.txt").is_file()  # metadata stays as the wheel has it
    assert (out / "requirements.txt").read_text() == "lw-tool\n"
