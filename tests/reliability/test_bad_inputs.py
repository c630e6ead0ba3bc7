"""A catalogue of bad inputs (issue 8, item 1) and fuzzing of the wheel-name parser (item 6).

For every bad input: the exact exception type (``lambda_wheels_cdk.errors``), a message that
names the input and says what to do, the CLI's exit status (2 bad input, 1 failed build), and
no partial output -- no ``-o`` folder, no ``.<name>.lw-*`` temp folder beside it, no entry under
``<cache>/v1/deps/``, and for CDK no finished ``asset.*`` folder for the failed construct.

Already covered elsewhere (not repeated here):

* construction-time refusals with bundling skipped -- ``tests/cdk/test_constructs.py``:
  ``test_non_python_runtime``, ``test_deprecated_runtime``, ``test_missing_entry``,
  ``test_missing_index``, ``test_missing_dependency_file``, ``test_layer_of_wrong_architecture``,
  ``test_layer_with_two_architectures`` (this module adds the same refusals in an app that
  bundles, and checks ``cdk.out``);
* a native sdist without ``--docker`` -- ``tests/e2e/test_build.py::
  test_pure_sdist_is_built_native_sdist_needs_docker``;
* a function over 250 MiB at synth -- ``tests/cdk/test_synth.py::
  test_oversize_function_fails_synth`` (this module adds the CLI and the ``cdk.out`` checks);
* ``uv.lock`` ``--frozen``/``--locked`` in the loader -- ``tests/unit/test_inputs_uvlock.py::
  test_uv_lock_locked_detects_out_of_date_lock`` (this module adds the CLI);
* parser fuzzing: requirements, pyproject, lock files -- ``tests/unit/test_inputs_fuzz.py``;
  the ELF reader on truncated/damaged files -- ``tests/unit/test_elf.py::
  test_every_truncation_is_corrupt_not_a_crash``, ``test_malformed_headers_are_corrupt_quickly``,
  ``test_random_damage_never_raises``.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag

from lambda_wheels_cdk.errors import (
    AuditError,
    IndexUnavailableError,
    InputError,
    InstallError,
    LambdaWheelsError,
    NeedsDockerError,
    UnsupportedArchitectureError,
    UnsupportedRuntimeError,
    UsageError,
)
from lambda_wheels_cdk.target.target import Target, all_targets
from tests.support.index_server import IndexServer, unused_port

from .conftest import (
    TOKEN,
    USER,
    CliRun,
    Packages,
    Workspace,
    assert_nothing_written,
    finished_assets,
    tree_digest,
)

RunCli = Callable[..., CliRun]
#: Words of a "what to do next" sentence (STYLE.md: every message says what to do).
NEXT_STEP = re.compile(
    r"(?i)\b(check|fix|pass|pin|use|run|install|start|set|retry|remove|rename|free|"
    r"create|add|enable|allow|choose|relax|align|supports)\b"
)


def build_argv(
    out: Path, *rest: str, runtime: str = "python3.12", arch: str = "x86_64"
) -> list[str]:
    return ["build", "--runtime", runtime, "--arch", arch, "-o", str(out), *rest]


def assert_refused(
    result: CliRun, kind: type[BaseException], code: int, *names: str
) -> LambdaWheelsError:
    """The command raised exactly ``kind``, exited ``code`` and printed one clear line."""
    assert result.error is not None, f"no error; stderr:\n{result.err}"
    assert type(result.error) is kind, f"{type(result.error).__name__}: {result.error}"
    assert result.code == code
    message = str(result.error)
    assert f"error: {message}" in result.err
    for name in names:
        assert name in message, f"{name!r} not named in: {message}"
    assert "Traceback" not in result.err
    assert isinstance(result.error, LambdaWheelsError)
    return result.error


# -- target ------------------------------------------------------------------------------------


def test_non_python_runtime(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "six", runtime="nodejs20.x"))
    error = assert_refused(result, UnsupportedRuntimeError, 2, "nodejs20.x", "python3.12")
    assert "supports" in str(error)
    assert_nothing_written(out, ws)


def test_deprecated_runtime_is_refused_with_the_list(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "six", runtime="python3.8"))
    assert result.code == 2 and isinstance(result.error, UnsupportedRuntimeError)
    assert "python3.8" in str(result.error) and "python3.9" in str(result.error)
    assert_nothing_written(out, ws)


@pytest.mark.parametrize("arch", ["mips", "ppc64le", "ARM-64", ""])
def test_unknown_architecture(arch: str, tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "six", arch=arch))
    error = assert_refused(result, UnsupportedArchitectureError, 2, repr(arch), "arm64", "x86_64")
    assert NEXT_STEP.search(str(error))
    assert_nothing_written(out, ws)


# -- files -------------------------------------------------------------------------------------


def test_missing_requirements_file(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nope" / "requirements.txt"
    result = run_cli(*build_argv(out, "-r", str(missing)))
    error = assert_refused(result, InputError, 2, str(missing))
    assert "check the path" in str(error)
    assert_nothing_written(out, ws)


def test_missing_project_folder(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "--project", str(tmp_path / "no-project")))
    assert_refused(result, InputError, 2, "no-project", "check the path")
    assert_nothing_written(out, ws)


def test_missing_source_folder_fails_before_installing(
    tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result = run_cli(
        *build_argv(out, "--index-url", index.url, "--source", str(tmp_path / "src"), "six")
    )
    assert_refused(result, UsageError, 2, str(tmp_path / "src"), "pass an existing folder")
    assert index.requests == [] and ws.events("install-start") == []
    assert_nothing_written(out, ws)


def test_malformed_requirement_line_names_file_and_line(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# deps\nsix==1.16.0\n\nlw-app ==\n")
    result = run_cli(*build_argv(out, "-r", str(reqs)))
    error = assert_refused(result, InputError, 2, "requirements.txt:4", "lw-app ==")
    assert "fix the line" in str(error)
    assert_nothing_written(out, ws)


def test_malformed_line_in_an_included_file(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    out = tmp_path / "out"
    (tmp_path / "base.txt").write_text("six\nsix[=1\n")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("-r base.txt\n")
    result = run_cli(*build_argv(out, "-r", str(reqs)))
    assert_refused(result, InputError, 2, "base.txt:2", "six[=1")
    assert_nothing_written(out, ws)


# -- installs that fail ------------------------------------------------------------------------


@pytest.mark.e2e
def test_requirement_not_on_the_index(
    tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "--index-url", index.url, "lw-does-not-exist==1.0"))
    assert_refused(result, InstallError, 1, "lw-does-not-exist")
    assert index.requests_to("/simple/lw-does-not-exist/")
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "requirements",
    [
        pytest.param(["six==1.16.0", "six==1.17.0"], id="direct"),
        pytest.param(["lw-app", "lw-dep==2.0"], id="transitive"),
    ],
)
def test_conflicting_pins(
    requirements: list[str], tmp_path: Path, ws: Workspace, index: IndexServer, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "--index-url", index.url, *requirements))
    names = [r.split("==")[0] for r in requirements]
    error = assert_refused(result, InstallError, 1, *names)
    assert "unsatisfiable" in str(error) or "conflict" in str(error).lower()
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "requirements",
    [
        pytest.param(["lw-does-not-exist==1.0"], id="unknown"),
        pytest.param(["six==1.16.0", "six==1.17.0"], id="conflict"),
    ],
)
def test_install_errors_say_which_index_and_what_to_do(
    requirements: list[str],
    tmp_path: Path,
    ws: Workspace,
    auth_index: IndexServer,
    run_cli: RunCli,
) -> None:
    out = tmp_path / "out"
    url = auth_index.url_with_credentials()
    result = run_cli(*build_argv(out, "--index-url", url, *requirements))
    assert result.code == 1 and isinstance(result.error, InstallError)
    message = str(result.error)
    assert TOKEN not in message
    assert f"{USER}:***@{auth_index.netloc}" in message  # which index, credentials masked
    last = message.strip().splitlines()[-1]
    assert NEXT_STEP.search(last), f"no next step in the message's conclusion: {last!r}"


def _failing_index(mode: str, packages: Packages) -> IndexServer:
    return IndexServer(packages.folder.iterdir(), auth=(USER, TOKEN), mode=mode)  # type: ignore[arg-type]


#: How the index fails: a closed port, a server mode, or credentials missing from the URL.
INDEX_FAILURES = [
    pytest.param("refused", id="closed-port"),
    pytest.param("no-credentials", id="http-401"),
    pytest.param("error", id="http-500"),
    pytest.param("garbage", id="garbage"),
    pytest.param("reset", id="connection-reset"),
]


def _run_against_failing_index(
    mode: str, installer: str, packages: Packages, out: Path, run_cli: RunCli
) -> tuple[CliRun, str]:
    argv = ["--installer", installer, "six"]
    if mode == "refused":
        netloc = f"127.0.0.1:{unused_port()}"
        url = f"http://{USER}:{TOKEN}@{netloc}/simple"
        return run_cli(*build_argv(out, "--index-url", url, *argv)), netloc
    if mode == "no-credentials":
        with IndexServer(packages.folder.iterdir(), auth=(USER, TOKEN)) as server:
            result = run_cli(*build_argv(out, "--index-url", server.url, *argv))
            assert server.requests and not any(r.authorized for r in server.requests)
            return result, server.netloc
    with _failing_index(mode, packages) as server:
        result = run_cli(*build_argv(out, "--index-url", server.url_with_credentials(), *argv))
        assert server.requests, "the installer never asked the index"
        return result, server.netloc


@pytest.mark.e2e
@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize("mode", INDEX_FAILURES)
def test_failing_index_fails_the_build_and_names_it(
    mode: str, installer: str, tmp_path: Path, ws: Workspace, packages: Packages, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result, netloc = _run_against_failing_index(mode, installer, packages, out, run_cli)
    assert result.code == 1 and isinstance(result.error, InstallError), result.err
    message = str(result.error)
    assert netloc in message, f"the index is not named: {message}"
    assert TOKEN not in message and TOKEN not in result.err
    assert_nothing_written(out, ws)


@pytest.mark.e2e
@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize("mode", INDEX_FAILURES)
def test_failing_index_is_an_index_unavailable_error_with_a_next_step(
    mode: str, installer: str, tmp_path: Path, ws: Workspace, packages: Packages, run_cli: RunCli
) -> None:
    out = tmp_path / "out"
    result, netloc = _run_against_failing_index(mode, installer, packages, out, run_cli)
    assert type(result.error) is IndexUnavailableError, type(result.error)
    assert result.code == 1
    assert netloc in result.error.url and TOKEN not in result.error.url
    if mode == "no-credentials":
        assert result.error.status == 401 and "credentials" in str(result.error)
    else:
        assert f"{USER}:***@{netloc}" in str(result.error)  # which index, token masked
    assert NEXT_STEP.search(str(result.error).strip().splitlines()[-1])
    if mode == "error":
        assert result.error.status == 500
    assert_nothing_written(out, ws)


# -- Docker unavailable ------------------------------------------------------------------------

#: A `docker` stand-in whose client works but finds no engine (what a laptop with Docker
#: Desktop stopped answers). tests/support/fake_docker.py runs `docker run` on the host, so it
#: cannot play this part.
NO_ENGINE_DOCKER = """#!/bin/sh
echo "$@" >> "$0.log"
echo "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
echo "See 'docker run --help'." >&2
exit 125
"""


#: A `docker` stand-in whose engine cannot pull the build image: the text and exit status the
#: Docker CLI gives for a refused pull from a registry.
PULL_DENIED_DOCKER = """#!/bin/sh
echo "Unable to find image 'public.ecr.aws/sam/build-python3.12:latest-x86_64' locally" >&2
echo "docker: Error response from daemon: pull access denied for public.ecr.aws/sam/build-python3.12, repository does not exist or may require 'docker login': denied: requested access to the resource is denied." >&2
echo "See 'docker run --help'." >&2
exit 125
"""


def _stand_in(folder: Path, name: str, script: str) -> Path:
    path = folder / name
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("docker", ["missing-binary", "no-engine", "pull-denied"])
def test_native_sdist_with_docker_unavailable(
    docker: str,
    tmp_path: Path,
    ws: Workspace,
    index: IndexServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if docker == "missing-binary":
        binary = tmp_path / "no" / "such" / "docker"
        hints: tuple[str, ...] = ("install Docker (or set CDK_DOCKER)",)
    elif docker == "no-engine":
        binary = _stand_in(tmp_path, "docker-no-engine", NO_ENGINE_DOCKER)
        hints = ("start Docker",)
    else:  # the image, the registry and what to do about them: not "check the index"
        binary = _stand_in(tmp_path, "docker-pull-denied", PULL_DENIED_DOCKER)
        hints = (
            "public.ecr.aws/sam/build-python3.12:latest-x86_64",
            "pull access denied",
            "docker login public.ecr.aws",
        )
    monkeypatch.setenv("CDK_DOCKER", str(binary))
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "--index-url", index.url, "--docker", "lw-native"))
    error = assert_refused(result, NeedsDockerError, 1, "lw-native", *hints)
    assert isinstance(error, NeedsDockerError) and error.distributions == ("lw-native",)
    assert "check the requirements and the index" not in str(error)
    if docker == "no-engine":  # asked before anything is downloaded for the container
        called = Path(f"{binary}.log").read_text()
        assert called.startswith("image inspect") and " run " not in called
    assert_nothing_written(out, ws)


# -- size ----------------------------------------------------------------------------------------


def _sparse(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def test_cli_bundle_over_250_mib_fails(tmp_path: Path, ws: Workspace, run_cli: RunCli) -> None:
    src = tmp_path / "src"
    (src / "index.py").parent.mkdir(parents=True)
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    _sparse(src / "blob.bin", 260 * 1024 * 1024)
    out = tmp_path / "out"
    result = run_cli(*build_argv(out, "--source", str(src)))
    try:
        assert result.code == 1, "a 260 MB bundle was written and the build succeeded"
        assert isinstance(result.error, AuditError)
        assert "250 MiB" in str(result.error) and "blob.bin" in str(result.error)
        assert_nothing_written(out, ws)
    finally:
        if out.exists():
            import shutil

            shutil.rmtree(out)


# -- uv.lock -------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_uv_lock_out_of_date_locked_vs_frozen(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    """``uv.lock`` older than its ``pyproject.toml``.

    * ``--locked`` (``WheelBundlingOptions(locked=True)``): the lock must match
      ``pyproject.toml`` (``uv export --locked``; uv may consult the index to check): a stale
      lock is an :class:`InputError` (exit 2) saying "run `uv lock`", and nothing is written.
    * default ``--frozen``: the lock is used as it is (``uv export --frozen``, offline), like
      ``uv sync --frozen``: the build installs what the lock says (six 1.17.0 here), not what
      the edited ``pyproject.toml`` asks for.

    Hits PyPI (``uv lock`` and ``uv export --locked`` resolve there).
    """
    from uv import find_uv_bin

    project = tmp_path / "project"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["six==1.17.0"]\n'
    )
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    subprocess.run(
        [find_uv_bin(), "lock", "--no-config"],
        cwd=project,
        env={**env, "UV_CACHE_DIR": str(tmp_path / "uv-lock-cache")},
        check=True,
        capture_output=True,
        timeout=300,
    )
    pyproject.write_text(pyproject.read_text().replace("six==1.17.0", "six==1.16.0"))

    out = tmp_path / "locked"
    result = run_cli(*build_argv(out, "-r", str(project / "uv.lock"), "--locked"))
    assert_refused(result, InputError, 2, "uv.lock", "out of date", "run `uv lock`")
    assert_nothing_written(out, ws)

    frozen = tmp_path / "frozen"
    result = run_cli(*build_argv(frozen, "-r", str(project / "uv.lock"), "--json"))
    assert result.code == 0, result.err
    assert (frozen / "six.py").is_file() and (frozen / "six-1.17.0.dist-info").is_dir()


@pytest.mark.e2e
def test_uv_lock_locked_checks_against_the_projects_own_index(
    tmp_path: Path, ws: Workspace, run_cli: RunCli
) -> None:
    from uv import find_uv_bin

    from tests.support.packages import make_wheel

    name = "lw-reliability-private-7f3a"  # exists on the project's index only
    links = tmp_path / "corp"
    make_wheel(links, name, "1.0")
    make_wheel(links, name, "2.0")
    project = tmp_path / "project"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    with IndexServer(links.iterdir()) as corp:
        pyproject.write_text(
            '[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.9"\n'
            f'dependencies = ["{name}==1.0"]\n\n'
            f'[[tool.uv.index]]\nname = "corp"\nurl = "{corp.url}"\ndefault = true\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
        import subprocess

        subprocess.run(
            [find_uv_bin(), "lock"],
            cwd=project,
            env={**env, "UV_CACHE_DIR": str(tmp_path / "uv-lock-cache")},
            check=True,
            capture_output=True,
            timeout=120,
        )
        fresh = run_cli(*build_argv(tmp_path / "fresh", "-r", str(project / "uv.lock"), "--locked"))
        assert fresh.code == 0, fresh.err  # an up-to-date lock passes the check
        pyproject.write_text(pyproject.read_text().replace("==1.0", "==2.0"))
        corp.clear()
        out = tmp_path / "locked"
        result = run_cli(*build_argv(out, "-r", str(project / "uv.lock"), "--locked"))
        assert corp.requests, "uv did not consult the project's own index"
    assert_refused(result, InputError, 2, "uv.lock", "out of date", "run `uv lock`")
    assert_nothing_written(out)


# -- CDK -----------------------------------------------------------------------------------------


def _cdk_refusals() -> list[object]:
    from aws_cdk import aws_lambda as lambda_

    py312 = lambda_.Runtime.PYTHON_3_12
    return [
        pytest.param(
            dict(runtime=lambda_.Runtime.NODEJS_20_X),
            UnsupportedRuntimeError,
            "nodejs20.x",
            id="non-python-runtime",
        ),
        pytest.param(
            dict(runtime=py312, architecture=lambda_.Architecture.custom("mips", "linux/mips")),
            UnsupportedArchitectureError,
            "mips",
            id="unknown-architecture",
        ),
        pytest.param(
            dict(runtime=py312, entry="missing"), InputError, "missing", id="missing-entry"
        ),
        pytest.param(
            dict(runtime=py312, index="main.py"), InputError, "main.py", id="missing-index"
        ),
        pytest.param(
            dict(runtime=py312, dependencies="missing-requirements.txt"),
            InputError,
            "missing-requirements.txt",
            id="missing-requirements",
        ),
        pytest.param(
            dict(runtime=py312, dependencies="bad-requirements.txt"),
            InputError,
            "bad-requirements.txt:2",
            id="malformed-line",
        ),
    ]


@pytest.mark.cdk
@pytest.mark.parametrize(("kwargs", "kind", "named"), _cdk_refusals())
def test_cdk_refusals_leave_no_asset(
    kwargs: dict[str, object],
    kind: type[Exception],
    named: str,
    tmp_path: Path,
    ws: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aws_cdk as cdk

    from lambda_wheels_cdk import PythonWheelFunction

    entry = tmp_path / "svc"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (entry / "bad-requirements.txt").write_text("six\nsix ===\n")
    monkeypatch.chdir(entry)
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    args: dict[str, object] = {"entry": str(entry), **kwargs}
    with pytest.raises(kind) as info:
        PythonWheelFunction(stack, "Fn", **args)  # type: ignore[arg-type]
    assert type(info.value) is kind
    assert named in str(info.value) and "PythonWheelFunction 'Fn'" in str(info.value)
    assert NEXT_STEP.search(str(info.value))
    assert stack.node.try_find_child("Fn") is None
    assert finished_assets(outdir) == [] and ws.cache_entries() == []


@pytest.mark.cdk
@pytest.mark.e2e
def test_cdk_install_failure_leaves_only_cdks_building_folder(
    tmp_path: Path, ws: Workspace, index: IndexServer
) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

    entry = tmp_path / "svc"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    with pytest.raises(InstallError, match="lw-does-not-exist"):
        PythonWheelFunction(
            cdk.Stack(app, "S"),
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            dependencies=["lw-does-not-exist"],
            bundling=WheelBundlingOptions(index_url=index.url),
        )
    assert finished_assets(outdir) == []
    building = [p for p in outdir.iterdir() if p.name.endswith("-building")]
    assert all(not any(p.iterdir()) for p in building)  # CDK's folder, left empty by us
    assert ws.cache_entries() == []


@pytest.mark.cdk
@pytest.mark.e2e
def test_cdk_layer_of_wrong_architecture_with_bundling(
    tmp_path: Path, ws: Workspace, packages: Packages
) -> None:
    """The refusal of tests/cdk/test_constructs.py::test_layer_of_wrong_architecture, in an app
    that bundles: the layer (valid) is staged, the refused function leaves nothing."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions

    entry = tmp_path / "svc"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    offline = WheelBundlingOptions(find_links=[str(packages.folder)], no_index=True)
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    layer = PythonWheelLayer(
        stack,
        "Deps",
        dependencies=["six==1.17.0"],
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        bundling=offline,
    )
    with pytest.raises(UsageError, match="built for arm64 but the function runs on x86_64") as info:
        PythonWheelFunction(
            stack,
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            layers=[layer],
            bundling=offline,
        )
    assert type(info.value) is UsageError and "one PythonWheelLayer per architecture" in str(
        info.value
    )
    assert len(finished_assets(outdir)) == 1  # the layer's


@pytest.mark.cdk
def test_cdk_oversize_function_leaves_no_finished_asset(tmp_path: Path, ws: Workspace) -> None:
    """tests/cdk/test_synth.py::test_oversize_function_fails_synth checks the message; this
    checks what is left in cdk.out."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction

    entry = tmp_path / "big"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    _sparse(entry / "blob.bin", 260 * 1024 * 1024)
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    with pytest.raises((LambdaWheelsError, RuntimeError), match="250 MiB"):
        PythonWheelFunction(
            cdk.Stack(app, "Big"), "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_12
        )
        app.synth()
    assert finished_assets(outdir) == []


# -- a path with spaces and unicode (positive) ---------------------------------------------------


def _unicode_entry(base: Path) -> Path:
    entry = base / "my functions" / "ünïcode λ"
    (entry / "pkg ü").mkdir(parents=True)
    (entry / "index.py").write_text("def handler(e, c):\n    return 'λ'\n", encoding="utf-8")
    (entry / "pkg ü" / "data é.txt").write_text("ü", encoding="utf-8")
    (entry / "requirements.txt").write_text("six==1.17.0\n")
    return entry


@pytest.mark.cdk
@pytest.mark.e2e
def test_entry_with_spaces_and_unicode_builds_and_synthesizes(
    tmp_path: Path, ws: Workspace, packages: Packages, run_cli: RunCli
) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

    entry = _unicode_entry(tmp_path)
    offline = WheelBundlingOptions(find_links=[str(packages.folder)], no_index=True)
    outdir = tmp_path / "cdk out λ"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    fn = PythonWheelFunction(
        stack, "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_12, bundling=offline
    )
    app.synth()
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "index.handler", "Runtime": "python3.12"}
    )
    (staged,) = fn.bundle_directories()
    assert finished_assets(outdir) == [staged.name]
    assert (staged / "index.py").read_text(encoding="utf-8").endswith("'λ'\n")
    assert (staged / "pkg ü" / "data é.txt").is_file() and (staged / "six.py").is_file()

    # the CLI, from the same folder into an output path with spaces and unicode
    out = tmp_path / "bündle out"
    result = run_cli(
        *build_argv(out, "--source", str(entry), "--find-links", str(packages.folder), "--no-index")
    )
    assert result.code == 0, result.err
    assert (out / "pkg ü" / "data é.txt").is_file() and (out / "six.py").is_file()
    # the same files as the CDK asset, plus the CLI's empty output marker
    assert (out / ".lambda-wheels-output").read_bytes() == b""
    (out / ".lambda-wheels-output").unlink()
    assert tree_digest(out) == tree_digest(staged)


@pytest.mark.cdk
@pytest.mark.e2e
def test_relative_entry_with_spaces_and_unicode(
    tmp_path: Path, ws: Workspace, packages: Packages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``entry="my functions/ünïcode λ"`` exactly as the issue spells it, relative to the
    working directory (the app's folder, where ``cdk synth`` runs it)."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

    _unicode_entry(tmp_path)
    monkeypatch.chdir(tmp_path)
    offline = WheelBundlingOptions(find_links=[str(packages.folder)], no_index=True)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    fn = PythonWheelFunction(
        cdk.Stack(app, "S"),
        "Fn",
        entry="my functions/ünïcode λ",
        runtime=lambda_.Runtime.PYTHON_3_12,
        bundling=offline,
    )
    app.synth()
    (staged,) = fn.bundle_directories()
    assert (staged / "pkg ü" / "data é.txt").is_file() and (staged / "six.py").is_file()


# -- fuzz: wheel file names and tags (item 6) -------------------------------------------------------

FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
_PIECES = [
    "numpy",
    "six",
    "2.2.6",
    "1!2.0+local",
    "1.0.dev0",
    "cp312",
    "cp39",
    "abi3",
    "none",
    "py3",
    "py2.py3",
    "pp310",
    "any",
    "manylinux_2_17_x86_64",
    "manylinux2014_aarch64",
    "manylinux_2_999999999999_x86_64",
    "manylinux_2_x_x86_64",
    "musllinux_1_2_x86_64",
    "linux_x86_64",
    "macosx_11_0_arm64",
    "win_amd64",
    "manylinux1_x86_64",
    ".",
    "-",
    "_",
    "..",
    "1",
    "",
    " ",
    "é",
    "\x00",
    "/",
    ".whl",
    ".tar.gz",
]
WHEELISH = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=9).map("".join)
STRUCTURED = st.tuples(
    st.sampled_from(_PIECES),
    st.sampled_from(_PIECES),
    st.lists(st.sampled_from(_PIECES), max_size=4),
).map(lambda t: "-".join([t[0], t[1], *t[2]]) + ".whl")
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=120)
TARGETS = list(all_targets())


@FUZZ
@example(wheel="cp312-cp312-", which=0)
@given(wheel=st.one_of(WHEELISH, STRUCTURED, ANY_TEXT), which=st.integers(0, len(TARGETS) - 1))
def test_accepts_on_any_string_returns_a_bool_or_raises_usage_error(wheel: str, which: int) -> None:
    target = TARGETS[which]
    start = time.perf_counter()
    try:
        answer = target.accepts(wheel)
    except UsageError as exc:
        assert str(exc)
    else:
        assert answer is True or answer is False
        rank = target.best_rank(wheel)
        assert (rank is not None) is answer
    assert time.perf_counter() - start < 1.0


@FUZZ
@given(
    interpreter=st.sampled_from(_PIECES),
    abi=st.sampled_from(_PIECES),
    platform=st.sampled_from(_PIECES),
)
def test_accepts_on_any_tag_object(interpreter: str, abi: str, platform: str) -> None:
    for target in TARGETS[:4]:
        with contextlib.suppress(UsageError):
            assert target.accepts(Tag(interpreter, abi, platform)) in (True, False)


# -- fuzz: the audit over corrupt binaries and archives -------------------------------------------


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    head=st.sampled_from(
        [b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ", b"PK\x03\x04", b""]
    ),
    body=st.binary(max_size=600),
    name=st.sampled_from(
        [
            "pkg/_x.abi3.so",
            "pkg/_x.cpython-312-x86_64-linux-gnu.so",
            "pkg/x.pyd",
            "pkg/libz.so.1",
            "bin/tool",
        ]
    ),
)
def test_audit_of_corrupt_binaries_reports_and_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, head: bytes, body: bytes, name: str
) -> None:
    """The audit reads every binary of a bundle; damaged ones are findings, not tracebacks.
    (The ELF reader alone is fuzzed in tests/unit/test_elf.py.)"""
    import zipfile

    from lambda_wheels_cdk.audit.engine import audit

    root = tmp_path_factory.mktemp("fuzz-bundle")
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + body)
    target = Target.for_runtime("python3.12", "x86_64")
    start = time.perf_counter()
    folder_report = audit(root, target)
    archive = root.parent / f"{root.name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, head + body)
    zip_report = audit(archive, target)
    assert time.perf_counter() - start < 5
    assert folder_report.files == zip_report.files == 1


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=400))
def test_audit_of_a_damaged_zip_is_input_error_or_report(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    from lambda_wheels_cdk.audit.engine import audit

    path = tmp_path_factory.mktemp("fuzz-zip") / "bundle.zip"
    path.write_bytes(b"PK\x03\x04" + data)
    try:
        audit(path, Target.for_runtime("python3.12", "arm64"))
    except InputError as exc:
        assert "bundle.zip" in str(exc)
