"""Slimming removes only what nothing imports: real packages, imported and used afterwards
under the target's CPython (every top-level module, plus real work)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_wheels_cdk.smoke.runner import smoke
from lambda_wheels_cdk.target.target import Target
from tests.e2e.conftest import Require, clean_env

pytestmark = pytest.mark.e2e

WORK = """
import io, json, pandas as pd, numpy as np, pydantic, requests, scipy.stats
class M(pydantic.BaseModel):
    x: int
frame = pd.read_csv(io.StringIO("a,b\\n1,2\\n3,4"))
print(json.dumps({"sum": int(frame.to_numpy().sum()), "m": M(x="5").x,
                  "p": round(float(scipy.stats.norm.cdf(0)), 3),
                  "r": requests.Request("GET", "https://x").prepare().url}))
"""


def test_a_slim_bundle_still_imports_and_works(tmp_path: Path, native_python: Require) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    python = native_python(target)
    out = tmp_path / "bundle"
    env = clean_env({"LAMBDA_WHEELS_CACHE_DIR": str(tmp_path / "cache")})
    packages = ["pandas", "pydantic", "requests", "scipy"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_wheels_cdk",
            "build",
            "--runtime",
            "python3.12",
            "--arch",
            "x86_64",
            "-o",
            str(out),
            "--slim",
            "--json",
            *packages,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    removed = json.loads(proc.stdout)["removed"]
    assert removed["tests"][0] > 1000 and removed["tests"][1] > 10_000_000
    assert not list(out.glob("pandas/tests")) and not list(out.rglob("*.pyi"))

    result = smoke(out, target, interpreter=python)
    assert result.status == "passed", result.summary()
    code = f"import sys; sys.path.insert(0, {str(out)!r})\n{WORK}"
    ran = subprocess.run([*python.command, "-I", "-B", "-c", code], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"sum": 10, "m": 5, "p": 0.5, "r": "https://x/"}
