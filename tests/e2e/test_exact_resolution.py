"""Issue 9: uv behind the filtering view installs exactly the newest fitting wheel (real PyPI).

Expectations are computed here, never hard-coded: for every distribution uv installed through
the view, ``pip download --no-deps --only-binary=:all:`` with the target's complete ``--platform``
list (``Target.platforms()``) and the same unpinned name must pick the same version, and every
installed wheel's WHEEL tags must pass ``Target.accepts``.

Host pip/uv settings never leak in: PIP_*/UV_* are dropped, ``UV_NO_CONFIG=1``, and pip runs
``--isolated --index-url https://pypi.org/simple`` with ``PIP_CONFIG_FILE`` set to the null
device (this machine has a global pip config with extra indexes, find-links and constraints).
uv's and pip's download caches are shared across runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from lambda_wheels_cdk.audit.engine import audit
from lambda_wheels_cdk.index.view import FilteringIndexView, uv_superset_platform
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.target import Target
from tests.unit.test_index import make_wheel
from tests.unit.test_index_proxy import installed, run_uv, wheel_tags

pytestmark = pytest.mark.e2e

PYPI = "https://pypi.org/simple"
#: The issue's set: greenlet, pandas and shapely ship manylinux_2_24 wheels that uv's _2_17 skips.
REQUIREMENTS = ("greenlet", "shapely", "pandas", "numpy")


def pip_pick(name: str, target: Target, dest: Path) -> str:
    """The version ``pip download`` picks for ``name`` with the target's exact tag list."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--isolated",
        "--disable-pip-version-check",
        "--index-url",
        PYPI,
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        target.python_version,
        "--implementation",
        "cp",
        "--abi",
        target.abi,
        *[arg for platform in target.platforms() for arg in ("--platform", platform)],
        "-d",
        str(dest),
        name,
    ]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = dest.glob("*.whl")
    wheel_name, version, _, _ = parse_wheel_filename(wheel.name)
    assert wheel_name == canonicalize_name(name)
    return str(version)


@pytest.mark.parametrize(
    ("runtime", "arch"),
    [("python3.11", "x86_64"), ("python3.11", "arm64"), ("python3.12", "arm64")],
)
def test_build_installs_what_pip_picks_with_the_exact_tags(
    runtime: str, arch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lambda-wheels build greenlet shapely pandas numpy` == pip with every --platform."""
    from lambda_wheels_cdk.cli import main

    target = Target.for_runtime(runtime, arch)
    argv = ["build", "--runtime", runtime, "--arch", arch, "-o", str(tmp_path / "view")]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--json", *REQUIREMENTS]
    assert main(argv) == 0
    manifest = json.loads(capsys.readouterr().out)
    got = installed(tmp_path / "view")
    assert set(REQUIREMENTS) <= set(got)
    assert audit(tmp_path / "view", target).errors == ()
    # the manifest names the wheel chosen, and says why newer releases were skipped
    for dist in manifest["distributions"]:
        assert target.accepts(dist["wheel"]), dist
    if not target.uv_platform_is_exact:
        numpy = next(d for d in manifest["distributions"] if d["name"] == "numpy")
        assert "newer but" in numpy.get("note", ""), numpy

    with ThreadPoolExecutor(max_workers=4) as pool:
        picks = pool.map(lambda name: pip_pick(name, target, tmp_path / "pip" / name), got)
        expected = dict(zip(got, picks))
    assert got == expected

    for info, tags in wheel_tags(tmp_path / "view").items():
        assert any(target.accepts(tag) for tag in tags), (info, tags)

    # uv's own platform filter, without the view: never newer than the view's pick, and the same
    # where uv can name the target's glibc exactly (python3.12+: no regression).
    plain = run_uv(
        IndexSettings(index_url=PYPI), target.uv_platform, target, tmp_path / "plain", REQUIREMENTS
    )
    assert plain.returncode == 0, plain.stderr
    uv_only = installed(tmp_path / "plain")
    if target.uv_platform_is_exact:
        assert uv_only == got
    else:
        shared = set(uv_only) & set(got)
        assert all(Version(uv_only[n]) <= Version(got[n]) for n in shared), (uv_only, got)


@pytest.mark.parametrize(
    ("arch", "wanted", "unwanted"),
    [("arm64", "dep-arm", "dep-x86"), ("x86_64", "dep-x86", "dep-arm")],
)
def test_markers_are_evaluated_for_the_target(
    arch: str, wanted: str, unwanted: str, tmp_path: Path
) -> None:
    """A find-links package with ``platform_machine`` markers resolves for the target, not the
    host (this host is x86_64), through the view."""
    links = tmp_path / "links"
    make_wheel(
        links,
        "markerpkg",
        "1.0",
        requires=[
            'dep-arm; platform_machine == "aarch64"',
            'dep-x86; platform_machine == "x86_64"',
        ],
    )
    make_wheel(links, "dep-arm", "1.0")
    make_wheel(links, "dep-x86", "1.0")
    make_wheel(links, "markerpkg", "2.0", "py3-none-linux_x86_64")  # a host build: hidden
    target = Target.for_runtime("python3.11", arch)
    settings = IndexSettings(no_index=True, find_links=(str(links),))
    with FilteringIndexView(settings, target) as local:
        result = run_uv(
            local, uv_superset_platform(target), target, tmp_path / "out", ["markerpkg"]
        )
    assert result.returncode == 0, result.stderr
    assert installed(tmp_path / "out") == {"markerpkg": "1.0", wanted: "1.0"}
    assert unwanted not in installed(tmp_path / "out")
