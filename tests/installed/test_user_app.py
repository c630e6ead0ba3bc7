"""A user's own CDK app, outside the repository, with the installed wheel and the real ``cdk``
CLI (issue 14, "Checked by").

The app lives in a folder whose path has a space, is run by ``cdk synth`` from that folder with
the virtual environment's ``python`` first on ``PATH`` (an activated venv), ``FORCE_COLOR=1``
(CI systems and shells set it) and ``-o`` (``--output``) pointing at a folder the user chose.
It has a ``PythonWheelLayer`` with an inline dependency list and a ``PythonWheelFunction``
whose only requirement ships nothing but a pure sdist (``docopt==0.6.2``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CDK

APP = """\
import sys

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

import lambda_wheels_cdk
from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer

print(f"lambda_wheels_cdk from {lambda_wheels_cdk.__file__}", file=sys.stderr)
app = cdk.App()
stack = cdk.Stack(app, "UserApp")
py312, arm64 = lambda_.Runtime.PYTHON_3_12, lambda_.Architecture.ARM_64
deps = PythonWheelLayer(
    stack, "Deps", dependencies=["six==1.17.0"],
    compatible_runtimes=[py312], compatible_architectures=[arm64],
)
PythonWheelFunction(
    stack, "Hello", entry="services/hello", runtime=py312, architecture=arm64, layers=[deps]
)
app.synth()
"""

HANDLER = '''\
"""Usage: hello [--name=NAME]"""
import docopt
import six


def handler(event, context):
    return {"args": docopt.docopt(__doc__, argv=[]), "six": six.__version__}
'''


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def _user_app(root: Path) -> Path:
    app = root / "my cdk app"
    (app / "services" / "hello").mkdir(parents=True)
    (app / "app.py").write_text(APP)
    (app / "cdk.json").write_text(json.dumps({"app": "python app.py"}))
    (app / "services" / "hello" / "index.py").write_text(HANDLER)
    (app / "services" / "hello" / "requirements.txt").write_text("docopt==0.6.2\n")
    return app


def _assets(outdir: Path) -> dict[str, Path]:
    """Resource type -> its staged asset folder, from the synthesized template."""
    template = json.loads((outdir / "UserApp.template.json").read_text())
    found = {}
    for resource in template["Resources"].values():
        path = resource.get("Metadata", {}).get("aws:asset:path")
        if path:
            found[resource["Type"]] = outdir / path
    return found


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.cdk
@pytest.mark.e2e
def test_a_users_own_app_synthesizes_with_the_installed_wheel_and_the_cdk_cli(
    installed_venv: Path, tmp_path: Path
) -> None:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `npm ci` (make test does)")
    app = _user_app(tmp_path)
    outdir = tmp_path / "chosen output" / "cdk.out"
    env = {
        **os.environ,
        "PATH": f"{_bin(installed_venv)}{os.pathsep}{os.environ['PATH']}",
        "FORCE_COLOR": "1",
        "LAMBDA_WHEELS_CACHE_DIR": str(tmp_path / "bundle cache"),  # a real install
        "LAMBDA_WHEELS_EVENTS": str(tmp_path / "events.jsonl"),
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [str(CDK), "synth", "--no-notices", "-o", str(outdir)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    site = installed_venv / "lib"
    assert f"lambda_wheels_cdk from {site}" in proc.stderr, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if "[lambda-wheels]" in line]
    assert ours and not [line for line in ours if "\x1b" in line], ours
    assert any("no fitting wheel for docopt==0.6.2; building" in line for line in ours), ours

    assets = _assets(outdir)
    function, layer = assets["AWS::Lambda::Function"], assets["AWS::Lambda::LayerVersion"]
    files = _files(function)
    assert {"index.py", "requirements.txt", "docopt.py"} <= files, sorted(files)
    info = function / "docopt-0.6.2.dist-info"
    assert (info / "WHEEL").read_text().count("Tag: py3-none-any") == 1
    assert {"METADATA", "RECORD", "WHEEL"} <= {p.name for p in info.iterdir()}
    assert not [f for f in files if f.startswith("bin/")], sorted(files)
    # bytecode (on by default) for python3.12 only, one beside each module, the handler included
    assert sorted(f for f in files if f.endswith(".pyc")) == [
        "__pycache__/docopt.cpython-312.pyc",
        "__pycache__/index.cpython-312.pyc",
    ]
    layer_files = _files(layer)
    assert {"python/six.py", "python/six-1.17.0.dist-info/METADATA"} <= layer_files
    assert not [f for f in layer_files if not f.startswith("python/")], sorted(layer_files)
    # the function imports on its target's Python (the build host's 3.x runs pure code the same)
    code = f"import sys; sys.path[:0] = [{str(function)!r}, {str(layer / 'python')!r}]; " + (
        "import index; print(index.handler({}, None))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "'six': '1.17.0'" in result and "'--name': None" in result, result


def test_the_installed_cli_builds_an_sdist_only_requirement_with_colour_forced(
    installed_venv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "my bundle"
    proc = subprocess.run(
        [str(_bin(installed_venv) / "lambda-wheels"), "build", "--runtime", "python3.12",
         "--arch", "arm64", "-o", str(out), "docopt==0.6.2"],
        env={**os.environ, "FORCE_COLOR": "0", "LAMBDA_WHEELS_CACHE_DIR": str(tmp_path / "c")},
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"\x1b" not in proc.stdout + proc.stderr
    line = proc.stdout.decode().splitlines()[0]
    assert line.startswith("docopt==0.6.2  docopt-0.6.2-") and line.endswith("-none-any.whl")
    assert (out / "docopt.py").is_file()


def test_the_package_under_test_is_the_installed_wheel(installed_venv: Path) -> None:
    import lambda_wheels_cdk

    package = Path(lambda_wheels_cdk.__file__).resolve()
    assert installed_venv in package.parents and "site-packages" in package.parts
    # the file the editable install hid: the wheel must carry it
    assert (package.parent / "cdk" / "empty_asset").is_dir()
