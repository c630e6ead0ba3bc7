"""The sdist and the wheel, as users get them (``python -m build``).

``make test`` builds them once into ``dist/`` and names that folder in ``LAMBDA_WHEELS_DIST``
(the installed-wheel tests install the same file); a test run without it builds its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST_VARIABLE = "LAMBDA_WHEELS_DIST"


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


def find_dists(folder: Path) -> Dists:
    wheels = sorted(folder.glob("lambda_wheels_cdk-*.whl"))
    sdists = sorted(folder.glob("lambda_wheels_cdk-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"{folder}: {wheels} {sdists}"
    return Dists(wheels[0], sdists[0])


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    given = os.environ.get(DIST_VARIABLE)
    if given:
        return find_dists(Path(given))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return find_dists(out)
