"""Install counts of a real ``cdk synth``: 20 functions over 3 dependency sets.

Each dependency set runs on one target, so the first synth installs exactly 3 times (the other
17 functions reuse those installs through the bundle cache) and a second synth into the same
cdk.out finds every asset staged: no install and no cache lookup at all. Counted from
``LAMBDA_WHEELS_EVENTS``, never from timings. The benchmark (``benchmarks/run.py``) times the
same shape of app with heavier dependencies.

Runs the cdk CLI in a subprocess on purpose: two synths inside one Python process would share
CDK's in-memory asset cache and could not show what a second ``cdk synth`` does.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
STACK = "InstallCounts"
FUNCTIONS = 20
#: (requirement, runtime, architecture, a file the installed distribution provides)
DEPENDENCY_SETS = (
    ("six", "python3.12", "arm64", "six.py"),
    ("idna", "python3.11", "x86_64", "idna/__init__.py"),
    ("certifi", "python3.12", "x86_64", "certifi/cacert.pem"),
)

pytestmark = [pytest.mark.cdk, pytest.mark.e2e]

APP = """\
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from lambda_wheels_cdk import PythonWheelFunction

RUNTIMES = {{"python3.11": lambda_.Runtime.PYTHON_3_11, "python3.12": lambda_.Runtime.PYTHON_3_12}}
ARCHITECTURES = {{"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}}

app = cdk.App()
stack = cdk.Stack(app, {stack!r})
for name, entry, runtime, arch in {functions!r}:
    PythonWheelFunction(
        stack, name, entry=entry, runtime=RUNTIMES[runtime], architecture=ARCHITECTURES[arch]
    )
app.synth()
"""


def _write_app(folder: Path) -> dict[str, tuple[str, str, str, str]]:
    """20 entry folders (index.py + requirements.txt) and app.py; name -> dependency set."""
    functions, sets = [], {}
    for i in range(FUNCTIONS):
        dependency_set = DEPENDENCY_SETS[i % len(DEPENDENCY_SETS)]
        requirement, runtime, arch, _ = dependency_set
        name, entry = f"Fn{i:02d}", folder / "services" / f"fn{i:02d}"
        entry.mkdir(parents=True)
        (entry / "index.py").write_text(f"def handler(event, context):\n    return {i}\n")
        (entry / "requirements.txt").write_text(f"{requirement}\n")
        functions.append((name, f"services/fn{i:02d}", runtime, arch))
        sets[name] = dependency_set
    (folder / "app.py").write_text(APP.format(stack=STACK, functions=functions))
    return sets


def _synth(app_dir: Path, outdir: Path, events: Path, cache: Path) -> None:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `npm ci` (make test does)")
    env = dict(os.environ)
    env.update(
        LAMBDA_WHEELS_EVENTS=str(events),
        LAMBDA_WHEELS_CACHE_DIR=str(cache),
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    app = f"{shlex.quote(sys.executable)} app.py"
    proc = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "-o", str(outdir), "--app", app],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _staged_assets(outdir: Path) -> dict[str, Path]:
    """Function name -> its staged asset folder, from the template's asset metadata."""
    template = json.loads((outdir / f"{STACK}.template.json").read_text())
    found = {}
    for resource in template["Resources"].values():
        meta = resource.get("Metadata", {})
        if "aws:asset:path" in meta:
            name = str(meta["aws:cdk:path"]).split("/")[1]
            found[name] = outdir / meta["aws:asset:path"]
    return found


def test_twenty_functions_three_installs_then_none(tmp_path: Path) -> None:
    app_dir, outdir = tmp_path / "app", tmp_path / "cdk.out"
    cache, events = tmp_path / "lambda-wheels-cache", tmp_path / "events.jsonl"
    sets = _write_app(app_dir)

    _synth(app_dir, outdir, events, cache)
    first = _events(events)
    installs = [e for e in first if e["event"] == "install-start"]
    assert sorted(str(e["target"]) for e in installs) == [
        "python3.11/x86_64",
        "python3.12/arm64",
        "python3.12/x86_64",
    ], first
    assert len({e["key"] for e in installs}) == 3
    # the other 17 functions were bundled from those 3 installs
    assets = _staged_assets(outdir)
    assert sorted(assets) == sorted(sets)
    for name, asset in assets.items():
        requirement, _, _, provided = sets[name]
        assert (asset / "index.py").is_file(), name
        assert (asset / provided).is_file(), f"{name}: {requirement} is missing from {asset}"

    events.unlink()
    _synth(app_dir, outdir, events, cache)
    second = [e for e in _events(events) if str(e["event"]).startswith(("install", "cache"))]
    assert second == []  # no install and no cache lookup: CDK found every asset staged
    assert _staged_assets(outdir) == assets
