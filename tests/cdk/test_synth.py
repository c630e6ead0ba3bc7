"""Real synths: the example app with `cdk synth` (real arm64 + x86_64 installs from PyPI).

Checks the issue's promises: the second synth into the same cdk.out installs nothing and gives
the same asset hashes; a copy of the app at another absolute path gives the same hashes; the
arm64 asset holds aarch64 ELF files only (by the audit and by reading ELF headers directly);
an oversize function fails synth naming the limit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from lambda_wheels_cdk import PythonWheelFunction
from lambda_wheels_cdk.audit.engine import audit
from lambda_wheels_cdk.target.target import Target

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"

pytestmark = [pytest.mark.cdk]


def _synth(cwd: Path, outdir: Path, events: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `npm ci` (make test does)")
    env = dict(os.environ)
    env.update(
        LAMBDA_WHEELS_EVENTS=str(events),
        LAMBDA_WHEELS_CACHE_DIR=str(cache),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
    )
    proc = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _asset_paths(outdir: Path) -> dict[str, str]:
    """construct path -> staged asset folder name, from the synthesized template metadata."""
    template = json.loads((outdir / "LambdaWheelsExample.template.json").read_text())
    out = {}
    for res in template["Resources"].values():
        meta = res.get("Metadata", {})
        if "aws:asset:path" in meta:
            out[meta["aws:cdk:path"]] = meta["aws:asset:path"]
    return out


@pytest.mark.e2e
def test_example_app_synth_twice_and_elsewhere(tmp_path: Path) -> None:
    cache, events = tmp_path / "cache", tmp_path / "events.jsonl"
    out = tmp_path / "cdk.out"
    first = _synth(ROOT, out, events, cache)
    installs = [e for e in _events(events) if e["event"] == "install-start"]
    # layer: python3.12 + python3.13 (arm64); Api: python3.12/arm64; Signer: python3.11/x86_64
    assert sorted(str(e["target"]) for e in installs) == [
        "python3.11/x86_64",
        "python3.12/arm64",
        "python3.12/arm64",
        "python3.13/arm64",
    ]
    assert "audit python3.12/arm64: 0 errors" in first.stderr
    assets = _asset_paths(out)
    assert len(assets) == 3

    events.unlink()
    _synth(ROOT, out, events, cache)
    assert [e for e in _events(events) if e["event"].startswith(("install", "cache"))] == []
    assert _asset_paths(out) == assets

    # the same app from another absolute path: same hashes (the deps come from the cache)
    copy = tmp_path / "another checkout"
    copy.mkdir()
    shutil.copytree(
        ROOT / "examples", copy / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "cdk.json", copy / "cdk.json")
    _synth(copy, tmp_path / "cdk.out.2", events, cache)
    assert _asset_paths(tmp_path / "cdk.out.2") == assets

    # arm64 function + its arm64 layer: aarch64 ELF files only, audit clean
    api = out / assets["LambdaWheelsExample/Api/Resource"]
    layer = out / assets["LambdaWheelsExample/SharedDeps/Resource"]
    machines = set()
    for folder in (api, layer):
        for path in folder.rglob("*"):
            if path.is_file():
                with path.open("rb") as fh:
                    head = fh.read(20)
                if head[:4] == b"\x7fELF":
                    machines.add(int.from_bytes(head[18:20], "little"))
    assert machines == {183}  # EM_AARCH64
    report = audit(api, Target.for_runtime("python3.12", "arm64"), layers=[layer])
    assert report.errors == ()
    assert (api / "app.py").is_file() and (api / "pydantic_core").is_dir()
    assert sorted(p.name for p in (layer / "python" / "lib").iterdir()) == [
        "python3.12",
        "python3.13",
    ]


def test_oversize_function_fails_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(tmp_path / "cache"))
    entry = tmp_path / "big"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    with (entry / "blob.bin").open("wb") as fh:  # sparse: cheap to make, 260 MB by size
        fh.truncate(260 * 1024 * 1024)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    with pytest.raises(RuntimeError, match=r"over Lambda's 250 MiB limit \(262,144,000 bytes\)"):
        PythonWheelFunction(
            cdk.Stack(app, "Big"), "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_12
        )
        app.synth()


@pytest.mark.e2e
def test_smoke_option_imports_the_bundle_at_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_wheels_cdk import WheelBundlingOptions
    from lambda_wheels_cdk.errors import SmokeError

    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(tmp_path / "cache"))
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
        (folder / "requirements.txt").write_text("six\n")
    (good / "index.py").write_text("import six\n\ndef handler(e, c):\n    return six.PY3\n")
    (bad / "index.py").write_text(
        "import not_installed_anywhere\n\ndef handler(e, c):\n    return 1\n"
    )
    options = WheelBundlingOptions(smoke=True)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Smoke")
    PythonWheelFunction(
        stack, "Good", entry=str(good), runtime=lambda_.Runtime.PYTHON_3_11, bundling=options
    )
    with pytest.raises(SmokeError, match="not_installed_anywhere"):
        PythonWheelFunction(
            stack, "Bad", entry=str(bad), runtime=lambda_.Runtime.PYTHON_3_11, bundling=options
        )
