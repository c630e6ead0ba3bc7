"""Credentials (issue 8, item 4): index tokens are used, and never shown or hashed.

The local index requires HTTP Basic auth (``ci:TOKEN``). Each test proves the credentials
reached the server (every request authorized as ``ci``) and greps every output for the token
(and for its Base64 ``Authorization`` form): stdout/stderr (with ``-v``, which prints installer
command lines), the ``--json`` manifest, the ``LAMBDA_WHEELS_EVENTS`` file, the bundle, the
bundle cache, and for CDK the whole ``cdk.out`` (templates, manifests, ``tree.json``, asset
folders) and the bytes fed to the asset hash.

Already covered elsewhere: the asset hash ignores credentials (construction only, bundling
skipped) -- ``tests/cdk/test_constructs.py::test_asset_hash_ignores_index_credentials``;
``redact_url`` never leaks (property test) -- ``tests/unit/test_inputs_fuzz.py::
test_redact_url_never_leaks_the_secret``. Failure messages against the token-guarded index are
checked in ``test_bad_inputs.py`` (``test_failing_index_fails_the_build_and_names_it``,
``test_install_errors_say_which_index_and_what_to_do``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambda_wheels_cdk.errors import InstallError
from tests.support.index_server import IndexServer

from .conftest import (
    TOKEN,
    TOKEN2,
    USER,
    CliRun,
    Workspace,
    files_containing,
    secret_forms,
)

RunCli = Callable[..., CliRun]
pytestmark = pytest.mark.e2e
SECRETS = secret_forms(TOKEN, TOKEN2)


def build(run_cli: RunCli, out: Path, *args: str, installer: str = "uv") -> CliRun:
    return run_cli(
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "arm64",
        "--installer",
        installer,
        "-o",
        str(out),
        "-v",
        "--json",
        *args,
    )


def assert_no_secret_anywhere(ws: Workspace, *texts: str, folders: tuple[Path, ...] = ()) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret.decode() not in text, f"secret in output:\n{text}"
    for folder in (ws.cache, *folders):
        if folder.exists():
            assert files_containing(folder, SECRETS) == [], f"secret in files under {folder}"
    if ws.events_file.exists():
        events = ws.events_file.read_bytes()
        assert not any(s in events for s in SECRETS), "secret in the events file"


def assert_authenticated(index: IndexServer, *, up_front: bool = True) -> None:
    """Every path the installer read was answered with ``ci``'s credentials. ``up_front``:
    sent on the first request (URL userinfo); netrc users send them after the 401."""
    requests = index.requests
    assert requests, "the index was never asked"
    shown = [(r.method, r.path, r.user, r.authorized) for r in requests]
    if up_front:
        assert all(r.authorized and r.user == USER for r in requests), shown
    for path in {r.path for r in requests}:
        assert any(r.authorized and r.user == USER for r in requests if r.path == path), shown


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_token_in_the_index_url(
    installer: str, tmp_path: Path, ws: Workspace, auth_index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    url = auth_index.url_with_credentials()
    result = build(run_cli, out, "--index-url", url, "six==1.17.0", installer=installer)
    assert result.code == 0, result.err
    assert (out / "six.py").is_file()
    assert_authenticated(auth_index)
    manifest = json.loads(result.out)
    assert manifest["index"]["index_url"] == f"http://{USER}:***@{auth_index.netloc}/simple"
    assert_no_secret_anywhere(ws, result.out, result.err, folders=(out,))


@pytest.mark.parametrize(
    ("variable", "installer"),
    [
        ("PIP_INDEX_URL", "uv"),
        ("PIP_INDEX_URL", "pip"),
        ("UV_DEFAULT_INDEX", "uv"),
        ("UV_INDEX_URL", "pip"),
    ],
)
def test_index_url_from_the_environment(
    variable: str,
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    auth_index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, auth_index.url_with_credentials())
    out = tmp_path / "out"
    result = build(run_cli, out, "lw-app", installer=installer)
    assert result.code == 0, result.err
    assert (out / "lw_app").is_dir() and (out / "lw_dep").is_dir()
    assert_authenticated(auth_index)
    assert json.loads(result.out)["index"]["index_url"] == (
        f"http://{USER}:***@{auth_index.netloc}/simple"
    )
    assert_no_secret_anywhere(ws, result.out, result.err, folders=(out,))


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_netrc(
    installer: str,
    tmp_path: Path,
    ws: Workspace,
    auth_index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {auth_index.host}\n  login {USER}\n  password {TOKEN}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    out = tmp_path / "out"
    result = build(run_cli, out, "--index-url", auth_index.url, "six==1.16.0", installer=installer)
    assert result.code == 0, result.err
    assert_authenticated(auth_index, up_front=False)
    assert_no_secret_anywhere(ws, result.out, result.err, folders=(out,))


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_failed_install_never_shows_the_token(
    installer: str, tmp_path: Path, ws: Workspace, auth_index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    url = auth_index.url_with_credentials()
    result = build(run_cli, out, "--index-url", url, "lw-missing==1.0", installer=installer)
    assert result.code == 1 and isinstance(result.error, InstallError)
    assert "lw-missing" in str(result.error)
    assert_no_secret_anywhere(ws, result.out, result.err, str(result.error), repr(result.error))
    assert not out.exists()


def test_rotating_the_token_reuses_the_install(
    tmp_path: Path, ws: Workspace, auth_index: IndexServer, run_cli: RunCli
) -> None:
    first = build(
        run_cli, tmp_path / "a", "--index-url", auth_index.url_with_credentials(), "lw-app"
    )
    assert first.code == 0, first.err
    auth_index.auth = (USER, TOKEN2)  # the token was rotated
    second = build(
        run_cli,
        tmp_path / "b",
        "--index-url",
        auth_index.url_with_credentials(USER, TOKEN2),
        "lw-app",
    )
    assert second.code == 0, second.err
    a, b = json.loads(first.out), json.loads(second.out)
    assert a["fingerprint"] == b["fingerprint"] and (a["cache"], b["cache"]) == ("miss", "hit")
    assert len(ws.events("install-start")) == 1
    assert_no_secret_anywhere(ws, first.out, first.err, second.out, second.err)


def test_uv_index_name_credentials_for_a_uv_lock_project(
    tmp_path: Path,
    ws: Workspace,
    auth_index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """How uv users authenticate a named index: ``[[tool.uv.index]] name = "corp"`` in
    pyproject.toml, the secret in ``UV_INDEX_CORP_PASSWORD`` (CI)."""
    import os
    import subprocess

    from uv import find_uv_bin

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["lw-app==1.0"]\n\n'
        f'[[tool.uv.index]]\nname = "corp"\nurl = "{auth_index.url}"\n'
    )
    creds = {"UV_INDEX_CORP_USERNAME": USER, "UV_INDEX_CORP_PASSWORD": TOKEN}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    subprocess.run(
        [find_uv_bin(), "lock"],
        cwd=project,
        env={**env, **creds, "UV_CACHE_DIR": str(tmp_path / "uv-lock-cache")},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert TOKEN not in (project / "uv.lock").read_text()
    for name, value in creds.items():
        monkeypatch.setenv(name, value)
    auth_index.clear()
    out = tmp_path / "out"
    result = build(run_cli, out, "-r", str(project / "uv.lock"))
    assert result.code == 0, result.err
    assert (out / "lw_app").is_dir() and (out / "lw_dep").is_dir()
    assert_authenticated(auth_index, up_front=False)
    assert_no_secret_anywhere(ws, result.out, result.err, folders=(out,))


# -- CDK: a synth with a token-bearing index ------------------------------------------------------


class _HashRecorder:
    """Stands in for the ``hashlib`` module of our modules: records every byte hashed."""

    def __init__(self, seen: list[bytes]) -> None:
        self.seen = seen

    def sha256(self, data: bytes = b"", **kwargs: Any) -> Any:
        real = hashlib.sha256(data, **kwargs)
        seen = self.seen
        seen.append(bytes(data))

        class Recording:
            def update(self, more: bytes) -> None:
                seen.append(bytes(more))
                real.update(more)

            def hexdigest(self) -> str:
                return real.hexdigest()

            def digest(self) -> bytes:
                return real.digest()

        return Recording()

    def __getattr__(self, name: str) -> Any:
        return getattr(hashlib, name)


@pytest.fixture
def hash_inputs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every byte string our modules feed to sha256 while the test runs (asset hash, cache
    keys, input fingerprints, source digests)."""
    from lambda_wheels_cdk import tree
    from lambda_wheels_cdk.build import pipeline as bundle
    from lambda_wheels_cdk.cdk import bundling
    from lambda_wheels_cdk.inputs import spec

    seen: list[bytes] = []
    modules: list[ModuleType] = [bundling, bundle, spec, tree]
    for module in modules:
        monkeypatch.setattr(module, "hashlib", _HashRecorder(seen))
    yield seen


def _synth(
    tmp_path: Path, name: str, index: IndexServer, token: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, str], dict[str, Any]]:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions

    entry = tmp_path / "svc"
    if not entry.exists():
        entry.mkdir()
        (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
        (entry / "requirements.txt").write_text("lw-app\n")
    url = index.url_with_credentials(USER, token)
    # the layer gets its index from the environment (how CI injects it), the function
    # explicitly
    monkeypatch.setenv("PIP_INDEX_URL", url)
    outdir = tmp_path / name
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Creds")
    layer = PythonWheelLayer(
        stack,
        "Deps",
        dependencies=["six==1.17.0"],
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13],
        compatible_architectures=[lambda_.Architecture.ARM_64],
    )
    fn = PythonWheelFunction(
        stack,
        "Fn",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        layers=[layer],
        bundling=WheelBundlingOptions(index_url=url),
        environment={"STAGE": "test"},
    )
    app.synth()
    template = json.loads((outdir / "Creds.template.json").read_text())
    return outdir, {"fn": fn.asset_hash, "layer": layer.asset_hash}, template


@pytest.mark.cdk
def test_synth_with_a_token_leaks_it_nowhere_and_rotation_keeps_hashes(
    tmp_path: Path,
    ws: Workspace,
    auth_index: IndexServer,
    hash_inputs: list[bytes],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outdir, hashes, template = _synth(tmp_path, "cdk.out", auth_index, TOKEN, monkeypatch)
    assert_authenticated(auth_index)
    assert any(r.path.startswith("/simple/lw-app/") for r in auth_index.requests)  # the function
    assert any(r.path.startswith("/simple/six/") for r in auth_index.requests)  # the layer
    captured = capfd.readouterr()
    assert "installing" in captured.err  # the progress lines were captured
    assert hash_inputs, "no hash input recorded"
    assert [i for i, data in enumerate(hash_inputs) if any(s in data for s in SECRETS)] == []
    assert files_containing(outdir, SECRETS) == []
    assert_no_secret_anywhere(ws, captured.out, captured.err, json.dumps(template))

    # rotate the token: same asset hashes, same template, nothing installed again
    auth_index.auth = (USER, TOKEN2)
    installs = len(ws.events("install-start"))
    outdir2, hashes2, template2 = _synth(
        tmp_path, "cdk.out.rotated", auth_index, TOKEN2, monkeypatch
    )
    assert hashes2 == hashes
    assert template2 == template
    assert len(ws.events("install-start")) == installs
    assert files_containing(outdir2, SECRETS) == []
    captured = capfd.readouterr()
    assert_no_secret_anywhere(ws, captured.out, captured.err)
    assert [i for i, data in enumerate(hash_inputs) if any(s in data for s in SECRETS)] == []
