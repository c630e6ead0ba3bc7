"""uv.lock through ``uv export``: extras, groups, registries, --frozen/--locked, isolation from
the host's uv configuration. Tests that need PyPI are marked ``e2e``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.detect import detect, load
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.inputs.uvlock import _uv_environment, load_uv_lock
from tests.support.inputs import FIXTURES, SECRET, SIX_HASHES, copy_fixture, error_of, write


@pytest.fixture
def uv_project(tmp_path: Path) -> Path:
    return copy_fixture("uv", tmp_path / "checkout with space")


def test_uv_lock_fixture(uv_project: Path) -> None:
    spec = load_uv_lock(uv_project / "uv.lock")
    member = uv_project / "packages" / "greeting"
    assert spec.requirements == (
        f"greeting @ {member.as_uri()}",
        'colorama==0.4.6; sys_platform == "win32"',
        "six==1.17.0",
    )
    assert spec.local_paths == {"greeting": str(member)}
    assert spec.hashes["six"] == tuple(sorted(SIX_HASHES))
    assert spec.locked and spec.origin == "uv.lock"
    assert not spec.hash_checking  # the workspace member is a folder: no hash mode at all
    assert "--hash" not in spec.requirements_txt()


def test_uv_lock_extras_and_groups(uv_project: Path) -> None:
    spec = load_uv_lock(uv_project / "uv.lock", extras=["idn"], groups=["dev"])
    assert spec.names == ("greeting", "colorama", "idna", "iniconfig", "six")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"extras": ["nope"]}, "Extra `nope` is not defined"),
        ({"groups": ["nope"]}, "Group `nope` is not defined"),
    ],
)
def test_uv_lock_unknown_extra_or_group(
    uv_project: Path, kwargs: dict[str, list[str]], expected: str
) -> None:
    message = error_of(load_uv_lock, uv_project / "uv.lock", **kwargs)
    assert message.startswith("uv.lock: `uv export` failed:") and expected in message


def test_uv_lock_frozen_does_not_check_pyproject(uv_project: Path) -> None:
    pyproject = uv_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six==1.17.0",', '"six==1.17.0", "attrs",'))
    assert "attrs" not in load_uv_lock(uv_project / "uv.lock").names


def test_uv_lock_fingerprint_independent_of_location(tmp_path: Path) -> None:
    a = load_uv_lock(copy_fixture("uv", tmp_path / "a") / "uv.lock").fingerprint()
    b = load_uv_lock(copy_fixture("uv", tmp_path / "b" / "c") / "uv.lock").fingerprint()
    assert a == b


def test_uv_lock_registries_become_index_settings(uv_project: Path) -> None:
    lock = uv_project / "uv.lock"
    text = lock.read_text()
    six_at = text.index('name = "six"')
    pypi = 'source = { registry = "https://pypi.org/simple" }'
    text = text[:six_at] + text[six_at:].replace(
        pypi, 'source = { registry = "https://pkgs.example.com/simple" }', 1
    )
    colorama_at = text.index('name = "colorama"')
    text = text[:colorama_at] + text[colorama_at:].replace(
        pypi, 'source = { registry = "wheelhouse" }', 1
    )
    lock.write_text(text)
    (uv_project / "wheelhouse").mkdir()
    spec = load_uv_lock(lock)
    assert spec.index == IndexSettings(
        extra_index_urls=("https://pkgs.example.com/simple",),
        find_links=(str(uv_project / "wheelhouse"),),
    )
    assert load_uv_lock(lock).fingerprint() == spec.fingerprint()


def test_load_detects_uv_lock_in_a_folder(uv_project: Path) -> None:
    assert detect(uv_project) == uv_project / "uv.lock"
    assert load(uv_project, extras=["idn"]).names == ("greeting", "colorama", "idna", "six")


def test_uv_lock_needs_its_pyproject(uv_project: Path) -> None:
    (uv_project / "pyproject.toml").unlink()
    assert "needs the pyproject.toml it was locked from" in error_of(
        load_uv_lock, uv_project / "uv.lock"
    )


def test_uv_runs_isolated_from_host_configuration(
    uv_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(uv_project, "uv.toml", "this is = not [valid toml\n")  # would break uv if it were read
    for name, value in {
        "UV_FROZEN": "0",
        "UV_NO_EDITABLE": "0",
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "UV_CONFIG_FILE": str(uv_project / "uv.toml"),
        "UV_NO_HASHES": "1",
    }.items():
        monkeypatch.setenv(name, value)
    spec = load_uv_lock(uv_project / "uv.lock")
    assert spec.hashes["six"]
    env = _uv_environment(offline=True)
    assert env["UV_NO_CONFIG"] == "1" and env["UV_OFFLINE"] == "1"
    assert not any(k.startswith("PIP_") for k in env)
    assert set(k for k in env if k.startswith("UV_")) == {
        "UV_NO_CONFIG",
        "UV_OFFLINE",
        "UV_NO_PROGRESS",
    }
    monkeypatch.setenv("UV_INDEX_INTERNAL_PASSWORD", SECRET)
    monkeypatch.setenv("UV_CACHE_DIR", "/tmp/cache")
    env = _uv_environment(offline=False)
    assert env["UV_INDEX_INTERNAL_PASSWORD"] == SECRET and env["UV_CACHE_DIR"] == "/tmp/cache"
    assert "UV_OFFLINE" not in env


def test_uv_failure_message_masks_credentials(
    uv_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = subprocess.CompletedProcess(
        args=[],
        returncode=2,
        stdout="",
        stderr=f"error: Failed to fetch https://u:{SECRET}@pkgs/simple\n",
    )
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: fake)
    message = error_of(load_uv_lock, uv_project / "uv.lock")
    assert SECRET not in message and "https://u:***@pkgs/simple" in message


@pytest.mark.e2e
def test_uv_lock_locked_detects_out_of_date_lock(uv_project: Path) -> None:
    assert load_uv_lock(uv_project / "uv.lock", frozen=False).names == (
        "greeting",
        "colorama",
        "six",
    )
    pyproject = uv_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six==1.17.0",', '"six==1.17.0", "attrs",'))
    message = error_of(load_uv_lock, uv_project / "uv.lock", frozen=False)
    assert message == "uv.lock is out of date with pyproject.toml: run `uv lock`"
    assert load(uv_project, frozen=True).names == ("greeting", "colorama", "six")


@pytest.mark.e2e
def test_uv_lock_generated_now(tmp_path: Path) -> None:
    from uv import find_uv_bin

    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.9"\ndependencies = ["six==1.17.0"]\n',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    subprocess.run([find_uv_bin(), "lock", "--no-config", "-q"], cwd=tmp_path, check=True, env=env)
    spec = load(tmp_path)
    assert spec.requirements == ("six==1.17.0",) and spec.hashes["six"] == tuple(sorted(SIX_HASHES))
    assert spec.hash_checking


@pytest.mark.e2e
def test_requirements_txt_installs_with_uv_and_pip_in_hash_mode(tmp_path: Path) -> None:
    from uv import find_uv_bin

    spec = load(FIXTURES / "requirements" / "hashed.txt")
    reqs = write(tmp_path, "reqs.txt", spec.requirements_txt())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    uv_target, pip_target = tmp_path / "uv", tmp_path / "pip"
    subprocess.run(
        [
            find_uv_bin(),
            "pip",
            "install",
            "--no-config",
            "--target",
            str(uv_target),
            "--python-version",
            "3.12",
            "--python-platform",
            "x86_64-manylinux_2_17",
            "--only-binary",
            ":all:",
            "--require-hashes",
            "-r",
            str(reqs),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-deps",
            "--target",
            str(pip_target),
            "--only-binary=:all:",
            "-r",
            str(reqs),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    for target in (uv_target, pip_target):
        assert (target / "six.py").is_file() and (target / "idna").is_dir()
    bad = write(
        tmp_path,
        "bad.txt",
        spec.requirements_txt()
        .replace(SIX_HASHES[0][-8:], "00000000")
        .replace(SIX_HASHES[1][-8:], "00000000"),
    )
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-deps",
            "--target",
            str(tmp_path / "x"),
            "--only-binary=:all:",
            "-r",
            str(bad),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert failed.returncode != 0 and "HASH" in failed.stderr.upper()
