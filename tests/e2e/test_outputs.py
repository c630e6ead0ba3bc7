"""Output shapes for people who deploy without CDK: ``--zip`` and ``--layer`` (real PyPI
wheels, imported under the target's CPython after unzipping)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.core.smoke import smoke
from lambda_wheels_cdk.core.target import Target
from tests.e2e.conftest import Require, clean_env

pytestmark = pytest.mark.e2e


def _build(tmp: Path, cache: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env({"LAMBDA_WHEELS_CACHE_DIR": str(tmp / cache)})
    argv = [sys.executable, "-m", "lambda_wheels_cdk", "build", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)


def test_a_zip_is_deterministic_lambda_ready_and_imports(
    tmp_path: Path, native_python: Require
) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    python = native_python(target)
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("import requests\n\ndef handler(event, context):\n    return 1\n")
    args = ["--runtime", "python3.12", "--arch", "x86_64", "--source", str(src), "requests"]
    one = _build(tmp_path, "cache-a", *args, "--zip", str(tmp_path / "a" / "fn.zip"))
    two = _build(tmp_path, "cache-b", *args, "--zip", str(tmp_path / "b" / "other.zip"))
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = tmp_path / "a" / "fn.zip", tmp_path / "b" / "other.zip"
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fn.zip"]  # nothing else left

    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert "app.py" in names and "__pycache__/app.cpython-312.pyc" in names
        assert ".lambda-wheels-output" not in names and not [n for n in names if n.endswith("/")]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.create_system for i in infos} == {3}
        assert {(i.external_attr >> 16) & 0o7777 for i in infos} <= {0o644, 0o755}
        zf.extractall(tmp_path / "task")
    result = smoke(tmp_path / "task", target, interpreter=python, modules=["app"])
    assert result.status == "passed", result.summary()


def test_a_zip_that_is_not_ours_is_left_alone_unless_forced(tmp_path: Path) -> None:
    mine = tmp_path / "keep.zip"
    with zipfile.ZipFile(mine, "w") as zf:
        zf.writestr("notes.txt", "my own zip")
    before = mine.read_bytes()
    args = ["--runtime", "python3.12", "--arch", "arm64", "six", "--zip", str(mine)]
    refused = _build(tmp_path, "cache", *args)
    assert refused.returncode == 2 and "did not write it" in refused.stderr
    assert mine.read_bytes() == before
    forced = _build(tmp_path, "cache", *args, "--force")
    assert forced.returncode == 0, forced.stderr
    with zipfile.ZipFile(mine) as zf:
        assert "six.py" in zf.namelist()
    again = _build(tmp_path, "cache", *args)  # ours now: replaced without --force
    assert again.returncode == 0, again.stderr


def test_a_layer_for_two_runtimes_serves_each_from_its_folder(
    tmp_path: Path, native_python: Require
) -> None:
    targets = [Target.for_runtime(r, "x86_64") for r in ("python3.12", "python3.13")]
    pythons = [native_python(t) for t in targets]
    out = tmp_path / "layer.zip"
    built = _build(
        tmp_path, "cache", "--layer", "--runtime", "python3.12", "--runtime", "python3.13",
        "--arch", "x86_64", "--zip", str(out), "orjson", "six",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "opt")
    for target, python in zip(targets, pythons):
        site = f"python/lib/python{target.python_version}/site-packages"
        tag = "cpython-{}{}".format(*target.python)
        assert f"{site}/six.py" in names and f"{site}/__pycache__/six.{tag}.pyc" in names
        empty = tmp_path / f"task-{tag}"
        empty.mkdir()
        result = smoke(empty, target, layers=[tmp_path / "opt"], interpreter=python)
        assert result.status == "passed", result.summary()


def test_layer_options_that_make_no_sense_are_refused(tmp_path: Path) -> None:
    two = _build(
        tmp_path, "c", "--runtime", "python3.12", "--runtime", "python3.13", "--arch", "arm64",
        "-o", str(tmp_path / "o"), "six",
    )  # fmt: skip
    assert two.returncode == 2 and "--layer" in two.stderr
    src = tmp_path / "src"
    src.mkdir()
    with_source = _build(
        tmp_path, "c", "--layer", "--runtime", "python3.12", "--arch", "arm64", "--source",
        str(src), "-o", str(tmp_path / "o"), "six",
    )  # fmt: skip
    assert with_source.returncode == 2 and "no handler source" in with_source.stderr
