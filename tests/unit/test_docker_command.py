"""The Docker build's command line and what it reads from pip's output (no engine needed; the
real engine runs in tests/e2e/test_docker.py)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.install.docker import (
    container_command,
    docker_environment,
    failed_distributions,
    missing_requirements,
)
from lambda_wheels_cdk.install.wheelhouse import BuildInputs, build_requirements
from lambda_wheels_cdk.target.target import Target

ARM = Target.for_runtime("python3.12", "arm64")


def _inputs(tmp_path: Path) -> BuildInputs:
    inputs = BuildInputs({}, tmp_path / "sdists", tmp_path / "wheelhouse")
    inputs.sdist_dir.mkdir()
    inputs.wheelhouse.mkdir()
    return inputs


@pytest.mark.parametrize("network", [False, True])
def test_container_command_has_no_host_settings_and_no_network(
    tmp_path: Path, network: bool
) -> None:
    inputs = _inputs(tmp_path)
    sdist = inputs.sdist_dir / "lw-1.0.tar.gz"
    argv = container_command(
        "docker", ARM, ARM.build_image, inputs, [sdist], tmp_path / "out", network=network
    )
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert ("--network" in argv) is not network
    if not network:
        assert argv[argv.index("--network") + 1] == "none"
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    assert mounts == [
        f"{inputs.sdist_dir.resolve()}:/lambda-wheels/sdists:ro,z",
        f"{inputs.wheelhouse.resolve()}:/lambda-wheels/wheelhouse:ro,z",
        f"{(tmp_path / 'out').resolve()}:/asset-output:z",
    ]
    image = argv.index(ARM.build_image)
    assert argv[image + 1 : image + 9] == [
        "python",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--find-links",
        "/lambda-wheels/wheelhouse",
    ]
    assert argv[-1] == "/lambda-wheels/sdists/lw-1.0.tar.gz"
    # the only variable set in the container
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-e"] in ([], ["HOME=/tmp"])


def test_docker_cli_environment_drops_installer_and_index_settings() -> None:
    host = {
        "DOCKER_HOST": "unix:///run/user/1000/docker.sock",
        "PATH": "/usr/bin",
        "PIP_INDEX_URL": "https://u:secret@example.invalid/simple",
        "UV_INDEX_URL": "https://u:secret@example.invalid/simple",
        "LAMBDA_WHEELS_URL_CREDENTIALS_EXAMPLE": "u:secret",
    }
    assert docker_environment(host) == {
        "DOCKER_HOST": "unix:///run/user/1000/docker.sock",
        "PATH": "/usr/bin",
    }


def test_missing_build_requirements_from_pips_words() -> None:
    output = (
        "Looking in links: /lambda-wheels/wheelhouse\n"
        "ERROR: Could not find a version that satisfies the requirement cmake>=3.15 "
        "(from versions: none)\n"
        "ERROR: No matching distribution found for cmake>=3.15\n"
    )
    assert missing_requirements(output) == ["cmake>=3.15"]
    assert missing_requirements("Successfully built lw\n") == []


def test_failed_distributions_from_pips_summary() -> None:
    output = "  error: command 'gcc' failed\n  ERROR: Failed building wheel for lw_b\nFailed to build lw_b\n"
    assert failed_distributions(output, ["lw-a", "lw-b"]) == ["lw-b"]
    fatal = "Processing /lambda-wheels/sdists/lw_a-1.0.tar.gz\nTraceback ...\n"
    assert failed_distributions(fatal, ["lw-a", "lw-b"]) == ["lw-a"]
    assert failed_distributions("killed\n", ["lw-a", "lw-b"]) == ["lw-a", "lw-b"]


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_build_requirements_of_an_sdist(tmp_path: Path) -> None:
    legacy = _sdist(tmp_path / "a-1.0.tar.gz", {"a-1.0/setup.py": "", "a-1.0/PKG-INFO": ""})
    # PEP 518: no pyproject.toml -> setuptools>=40.8.0 and wheel
    assert build_requirements(legacy) == ["setuptools>=40.8.0", "wheel"]
    declared = _sdist(
        tmp_path / "b-1.0.tar.gz",
        {
            "b-1.0/pyproject.toml": '[build-system]\nrequires = ["setuptools>=61", "cython<3"]\n'
            'build-backend = "setuptools.build_meta"\n',
            "b-1.0/tests/pyproject.toml": '[build-system]\nrequires = ["nope"]\n',
        },
    )
    assert build_requirements(declared) == ["setuptools>=61", "cython<3", "wheel"]
    other = _sdist(
        tmp_path / "c-1.0.tar.gz",
        {
            "c-1.0/pyproject.toml": '[build-system]\nrequires = ["hatchling"]\n'
            'build-backend = "hatchling.build"\n'
        },
    )
    assert build_requirements(other) == ["hatchling"]


def test_docker_tests_skip_with_how_to_enable_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import docker_engine

    monkeypatch.delenv("LAMBDA_WHEELS_TEST_DOCKER_HOST", raising=False)
    monkeypatch.setattr(docker_engine.os, "geteuid", lambda: 1000, raising=False)
    monkeypatch.setattr(docker_engine, "docker_cli", lambda: "docker")
    engine = docker_engine.engine()
    with pytest.raises(docker_engine.Unavailable, match=r"make test-docker.*as root"):
        engine.__enter__()


def test_docker_network_needs_docker_and_enters_the_cache_key() -> None:
    from lambda_wheels_cdk.build.cache import dependency_key
    from lambda_wheels_cdk.build.models import BuildOptions
    from lambda_wheels_cdk.errors import UsageError
    from lambda_wheels_cdk.inputs.spec import IndexSettings

    with pytest.raises(UsageError, match="also pass docker=True / --docker"):
        BuildOptions(docker_network=True)
    index = IndexSettings()
    offline = dependency_key("inputs", ARM, BuildOptions(docker=True), index)
    online = dependency_key("inputs", ARM, BuildOptions(docker=True, docker_network=True), index)
    assert offline != online
