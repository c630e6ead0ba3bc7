"""Installers: the exact command lines and environments, without running uv or pip."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.inputs.requirement_lines import Requirements
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.install import installers as install
from lambda_wheels_cdk.install.installers import (
    InstallPlan,
    PipInstaller,
    UvInstaller,
    sdist_only_names,
    secrets_of,
)
from lambda_wheels_cdk.target.target import Target
from lambda_wheels_cdk.urls import redact_text

HOST = {
    "PATH": "/usr/bin",
    "HOME": "/home/me",
    "PIP_FIND_LINKS": "/opt/wheels",
    "PIP_CONSTRAINT": "/etc/c.txt",
    "UV_INDEX_URL": "https://ignored.example/simple",
    "FORCE_COLOR": "0",  # uv reads any value as "colour on"
    "CLICOLOR_FORCE": "1",
}
PRIVATE = "https://ci:s3cr3t-token@pkgs.example/simple"


class Captured:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str], str]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        secrets: Sequence[str],
        what: str,
        log: Any,
        on_line: Any = None,
        stdout_only: bool = False,
    ) -> str:
        requirements = ""
        if "-r" in argv:
            requirements = Path(argv[list(argv).index("-r") + 1]).read_text()
        self.calls.append((list(argv), dict(env), requirements))
        return ""


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    cap = Captured()
    monkeypatch.setattr(install, "run_child", cap)
    return cap


def _plan(target: Target, **kw: Any) -> InstallPlan:
    return InstallPlan(target=target, requirements=Requirements.of(["numpy", "pydantic>=2"]), **kw)


def test_uv_command_line(captured: Captured, tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    uv = UvInstaller("uv", environ=HOST, host_python="/usr/bin/python3")
    uv.install(_plan(target, index=IndexSettings(index_url=PRIVATE)), tmp_path / "t")
    argv, env, reqs = captured.calls[0]
    assert argv[:5] == ["uv", "pip", "install", "--target", str(tmp_path / "t")]
    joined = " ".join(argv)
    assert "--python-version 3.12 --python-platform aarch64-manylinux_2_34" in joined
    assert "--only-binary :all:" in joined
    for flag in ("--no-installer-metadata", "--no-compile-bytecode", "--no-config"):
        assert flag in argv
    assert reqs == "numpy\npydantic>=2\n"
    # index settings travel in the environment, never on the command line
    assert "s3cr3t-token" not in joined
    assert env["UV_DEFAULT_INDEX"] == PRIVATE
    # host settings that shape installs are gone; ours are forced
    assert "PIP_FIND_LINKS" not in env and "PIP_CONSTRAINT" not in env
    assert "UV_INDEX_URL" not in env
    assert env["UV_NO_CONFIG"] == "1" and env["PIP_CONFIG_FILE"] == os.devnull
    assert "127.0.0.1" in env["NO_PROXY"]
    # colour off whatever the host forces: uv's output is read and quoted
    assert "--color never" in joined and env["NO_COLOR"] == "1"
    assert "FORCE_COLOR" not in env and "CLICOLOR_FORCE" not in env


def test_uv_platform_override_behind_a_view(captured: Captured, tmp_path: Path) -> None:
    target = Target.for_runtime("python3.11", "x86_64")
    uv = UvInstaller("uv", environ=HOST)
    uv.install(_plan(target, python_platform="x86_64-manylinux_2_28"), tmp_path / "t")
    assert "--python-platform x86_64-manylinux_2_28" in " ".join(captured.calls[0][0])
    uv.install(_plan(target), tmp_path / "t")
    assert "--python-platform x86_64-manylinux_2_17" in " ".join(captured.calls[1][0])


def test_uv_builds_only_the_named_sdists(captured: Captured, tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    UvInstaller("uv", environ=HOST).install(_plan(target, source_build=("docopt",)), tmp_path)
    assert "--only-binary :all: --no-binary docopt" in " ".join(captured.calls[0][0])


def test_every_uv_command_line_in_full(captured: Captured, tmp_path: Path) -> None:
    """install and dry-run resolve for the target alike; the host build only builds the named
    sdists for the host interpreter (no constraints, no dependencies, no wheelhouse)."""
    target = Target.for_runtime("python3.12", "arm64")
    hashed = Requirements.of(["six==1.17.0"], {"six": ("sha256:" + "1" * 64,)})
    plan = InstallPlan(
        target,
        hashed,
        constraints="idna<4\n",
        index=IndexSettings(find_links=("/links",)),
        wheelhouse=("/wh",),
        source_build=("docopt",),
        refresh=True,
    )
    uv = UvInstaller("uv", environ=HOST, host_python="/py")
    dest = tmp_path / "dest"
    uv.install(plan, dest)
    uv.install_host_build(plan, dest)
    with pytest.raises(install.InstallError, match="not JSON"):  # Captured prints no report
        uv.dry_run(plan)
    argvs = [" ".join(_generic(argv)) for argv, _, _ in captured.calls]
    head = "uv pip install --target {} --color never --no-progress --python /py --no-config -r REQ"
    for_target = (
        "--python-version 3.12 --python-platform aarch64-manylinux_2_34 -c CON "
        "--find-links /links --find-links /wh --require-hashes --only-binary :all: "
        "--no-binary docopt"
    )
    assert argvs == [
        f"{head.format(dest)} {for_target} --no-installer-metadata --no-compile-bytecode "
        "--link-mode clone --refresh",
        f"{head.format(dest)} --find-links /links --require-hashes --no-deps "
        "--no-installer-metadata --no-compile-bytecode --no-binary docopt",
        f"{head.format('WORK/target')} --dry-run --output-format json {for_target}",
    ]


def test_pip_builds_pinned_sdists_into_wheels(captured: Captured, tmp_path: Path) -> None:
    """pip refuses sdists with --platform: the pure ones are built into wheels first, from a
    requirements file that keeps hash-checking mode."""
    target = Target.for_runtime("python3.12", "x86_64")
    pins = Requirements.of(["six==1.17.0"], {"six": ("sha256:" + "1" * 64,)})
    pip = PipInstaller("/py", environ=HOST)
    assert pip.build_wheels(InstallPlan(target, pins), tmp_path / "house") == []
    argv, _, reqs = captured.calls[0]
    assert _generic(argv) == [
        *("/py", "-m", "pip", "wheel", "--no-color", "--no-deps", "--no-binary", ":all:"),
        *("--wheel-dir", str(tmp_path / "house"), "-r", "REQ"),
    ]
    assert reqs == "six==1.17.0 \\\n    --hash=sha256:" + "1" * 64 + "\n"


def _generic(argv: Sequence[str]) -> list[str]:
    """``argv`` with the private temp folder's files named by role."""
    folder = Path(argv[argv.index("-r") + 1]).parent
    roles = {folder / "requirements.txt": "REQ", folder / "constraints.txt": "CON"}
    return [roles.get(Path(a), a.replace(str(folder), "WORK")) for a in argv]


def test_pip_command_line_passes_every_platform(captured: Captured, tmp_path: Path) -> None:
    target = Target.for_runtime("python3.11", "arm64")
    pip = PipInstaller("/usr/bin/python3", environ=HOST)
    pip._version = "pip 24"
    pip.install(_plan(target, index=IndexSettings(extra_index_urls=(PRIVATE,))), tmp_path / "t")
    argv, env, _ = captured.calls[0]
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    # PEP 600 for AL2 (glibc 2.26) on aarch64 (floor 2.17), then PEP 599's alias of 2_17
    expected = [f"manylinux_2_{minor}_aarch64" for minor in range(26, 16, -1)]
    assert platforms == [*expected, "manylinux2014_aarch64"]
    assert argv[:4] == ["/usr/bin/python3", "-m", "pip", "install"]
    assert "--no-compile" in argv and "--only-binary=:all:" in argv
    assert "--no-color" in argv and env["NO_COLOR"] == "1" and "FORCE_COLOR" not in env
    assert env["PIP_EXTRA_INDEX_URL"] == PRIVATE
    assert "s3cr3t-token" not in " ".join(argv)


def test_pip_accepts_linux_wheels_only_from_our_wheelhouse(
    captured: Captured, tmp_path: Path
) -> None:
    target = Target.for_runtime("python3.11", "x86_64")
    pip = PipInstaller("/usr/bin/python3", environ=HOST)
    pip._version = "pip 24"
    pip.install(_plan(target), tmp_path)
    assert "linux_x86_64" not in captured.calls[0][0]
    pip.install(_plan(target, wheelhouse=(str(tmp_path / "wh"),)), tmp_path)
    argv = captured.calls[1][0]
    assert "linux_x86_64" in argv and str(tmp_path / "wh") in argv


@pytest.mark.parametrize(
    ("output", "names"),
    [
        (
            "error: No solution found when resolving dependencies\n  cause: Because all versions of "
            "docopt have no usable wheels and you require docopt, we can conclude ...\n\nhint: "
            "Wheels are required for `docopt` because building from source is disabled",
            ["docopt"],
        ),
        ("Because only foo==1.0 is available and foo==1.0 has no usable wheels", ["foo"]),
        ("ERROR: No matching distribution found for lw-fixture-pure", ["lw-fixture-pure"]),
        ("Because nonexistent-pkg was not found in the package registry", []),
    ],
)
def test_sdist_only_names(output: str, names: list[str]) -> None:
    assert sdist_only_names(output) == names


def test_redaction() -> None:
    index = IndexSettings(
        index_url=PRIVATE, extra_index_urls=("https://tok-only@h.example/simple",)
    )
    secrets = secrets_of(index)
    assert secrets == ["s3cr3t-token", "tok-only"]
    text = f"GET {PRIVATE}/numpy/ failed; also saw s3cr3t-token in a header and https://tok-only@h.example/simple"
    red = redact_text(text, secrets)
    assert "s3cr3t-token" not in red and "tok-only" not in red
    assert "https://ci:***@pkgs.example/simple" in red


def test_installer_stage_lines_become_a_few_progress_lines() -> None:
    from lambda_wheels_cdk.install.installers import _progress_lines

    seen: list[str] = []
    on_line = _progress_lines(seen.append)
    for line in [
        "Using CPython 3.11.7 interpreter at: /usr/bin/python3",
        "Resolved 12 packages in 412ms",
        "Downloading pyarrow (40.1MiB)",
        " Downloaded pyarrow",
        "Prepared 12 packages in 2.31s",
        "Installed 12 packages in 35ms",
        " + numpy==2.5.5",
        "Collecting six",
        "Installing collected packages: six, numpy",
        "Successfully installed numpy-2.5.5 six-1.17.0",
    ]:
        on_line(line)
    assert seen == [
        "resolved 12 packages (412ms)",
        "downloading pyarrow (40.1MiB)",
        "downloaded and unpacked 12 packages (2.31s)",
        "installed 12 packages (35ms)",
        "installing six, numpy",
    ]


#: uv 0.13's hint, coloured as uv prints it with FORCE_COLOR set (captured from a real run).
COLOURED_HINT = (
    "\x1b[2mUsing CPython 3.11.7 interpreter at: /home/me/.venv/bin/python\x1b[0m\n"
    "\x1b[1m\x1b[31merror\x1b[39m\x1b[0m\x1b[1m:\x1b[0m No solution found when resolving "
    "dependencies\n"
    "\x1b[36m\x1b[1mhint\x1b[0m\x1b[39m\x1b[1m:\x1b[0m Wheels are required for "
    "`\x1b[36mdocopt\x1b[39m` because building from source is disabled for all packages\n"
)


def test_a_child_that_colours_anyway_is_read_as_plain_text(tmp_path: Path) -> None:
    """Colour is turned off for every child; a tool that colours anyway is still read right
    and never quoted with escape codes."""
    child = [sys.executable, "-c", f"import sys; sys.stderr.write({COLOURED_HINT!r}); sys.exit(1)"]
    with pytest.raises(install.NoFittingWheelError) as caught:
        install.run_child(
            child, env=dict(os.environ), cwd=tmp_path, secrets=[], what="uv", log=lambda m: None
        )
    assert caught.value.names == ("docopt",)
    assert "\x1b" not in str(caught.value) and "interpreter at" not in str(caught.value)
    assert "Wheels are required for `docopt`" in str(caught.value)
