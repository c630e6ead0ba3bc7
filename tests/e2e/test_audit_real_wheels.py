"""The audit on real wheels from PyPI: wrong-platform trees fail, right-platform trees pass.

Wrong trees are made by unpacking one wheel downloaded for another platform (``pip download
--isolated --platform ...``); right trees by ``uv pip install --target`` for each target. Host
pip/uv settings never leak in: PIP_*/UV_* are dropped, ``UV_NO_CONFIG=1``, and pip runs
``--isolated`` with ``PIP_CONFIG_FILE=/dev/null`` (no global config file either). Downloaded
wheels are kept under the pytest cache; uv's own cache is shared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lambda_wheels_cdk.core.audit import AuditReport, audit
from lambda_wheels_cdk.core.elf import sniff
from lambda_wheels_cdk.core.target import Target

pytestmark = pytest.mark.e2e

INDEX = "https://pypi.org/simple"

#: Popular distributions with native code (the issue's list).
NATIVE = (
    "numpy",
    "pydantic",
    "cryptography",
    "orjson",
    "lxml",
    "pillow",
    "psycopg2-binary",
    "grpcio",
    "pyyaml",
    "regex",
    "msgpack",
    "bcrypt",
    "greenlet",
    "rpds-py",
    "charset-normalizer",
    "markupsafe",
    "zstandard",
)
CLEAN_TARGETS = [
    Target.for_runtime(f"python3.{minor}", arch)
    for minor in (9, 10, 11, 12, 13)
    for arch in ("x86_64", "arm64")
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(UV_NO_CONFIG="1", PIP_CONFIG_FILE=os.devnull)
    return env


def _run(argv: Sequence[str]) -> None:
    done = subprocess.run(
        list(argv), env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-4000:]}")


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


@pytest.fixture(scope="session")
def wheel_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache folder (kept between runs), or a session temp folder without it."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("lambda-wheels-audit-e2e")
    return Path(cache.mkdir("lambda-wheels-audit-e2e"))


def download(cache: Path, name: str, python: str, platforms: Sequence[str]) -> Path:
    """One wheel of ``name`` for a foreign platform, downloaded once into the pytest cache."""
    dest = cache / f"{name}-py{python}-{platforms[0]}"
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        argv = [sys.executable, "-m", "pip", "download", "--isolated", "--no-deps"]
        argv += ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
        for platform in platforms:
            argv += ["--platform", platform]
        argv += ["-d", str(dest), "--index-url", INDEX, name]
        _run(argv)
        wheels = sorted(dest.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def unpack(wheel: Path, tree: Path) -> Path:
    """Install a wheel's files the way an installer lays them out (purelib = platlib = root)."""
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tree)
    return tree


def elf_files(tree: Path, under: str) -> list[str]:
    found = []
    for path in sorted((tree / under).rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                if sniff(f.read(64)) == "elf":
                    found.append(path.relative_to(tree).as_posix())
    return found


# -- wrong platforms fail ---------------------------------------------------------------------


def test_macos_pydantic_core_in_a_python312_x86_64_tree(wheel_cache: Path, tmp_path: Path) -> None:
    wheel = download(wheel_cache, "pydantic_core", "3.12", ["macosx_11_0_arm64"])
    report = audit(unpack(wheel, tmp_path), Target.for_runtime("python3.12", "x86_64"))
    macho = [f for f in report.errors if f.code == "macho"]
    assert [f.path for f in macho] == ["pydantic_core/_pydantic_core.cpython-312-darwin.so"]
    (finding,) = macho
    assert finding.distribution is not None and finding.distribution.startswith("pydantic_core ")
    assert "is a macOS (Mach-O arm64) binary" in finding.reason
    assert "lambda-wheels build --runtime python3.12 --arch x86_64" in finding.fix
    assert any(f.code == "wheel-tag" for f in report.errors)
    assert not report.ok


def test_x86_64_numpy_in_an_arm64_tree(wheel_cache: Path, tmp_path: Path) -> None:
    wheel = download(
        wheel_cache, "numpy", "3.12", ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64"]
    )
    tree = unpack(wheel, tmp_path)
    report = audit(tree, Target.for_runtime("python3.12", "arm64"))
    machine = sorted(f.path for f in report.errors if f.code == "elf-machine")
    binaries = elf_files(tree, "numpy") + elf_files(tree, "numpy.libs")
    assert machine == sorted(binaries) and len(machine) > 5
    for f in report.errors:
        if f.code == "elf-machine":
            assert "is an x86_64 ELF binary; python3.12/arm64 Lambda runs aarch64 code" in f.reason
    assert {f.code for f in report.errors} == {"elf-machine", "wheel-tag"}


def test_cryptography_for_a_newer_glibc_in_a_python311_tree(
    wheel_cache: Path, tmp_path: Path
) -> None:
    wheel = download(
        wheel_cache, "cryptography", "3.11", ["manylinux_2_34_x86_64", "manylinux_2_28_x86_64"]
    )
    report = audit(unpack(wheel, tmp_path), Target.for_runtime("python3.11", "x86_64"))
    glibc = [f for f in report.errors if f.code == "glibc"]
    assert glibc, report.format_text()
    for f in glibc:
        assert re.search(r"needs GLIBC_2\.(2[7-9]|3\d), Amazon Linux 2 has 2\.26", f.reason)
        assert f.path.startswith("cryptography/")
        assert "or move the function to python3.12" in f.fix


def test_cpython311_extension_in_a_python312_tree(wheel_cache: Path, tmp_path: Path) -> None:
    wheel = download(wheel_cache, "msgpack", "3.11", ["manylinux_2_17_x86_64"])
    tree = unpack(wheel, tmp_path)
    report = audit(tree, Target.for_runtime("python3.12", "x86_64"))
    suffix = sorted(f.path for f in report.errors if f.code == "ext-suffix")
    assert suffix == sorted(p for p in elf_files(tree, "msgpack") if ".cpython-311-" in p)
    assert suffix
    for f in report.errors:
        if f.code == "ext-suffix":
            assert "built for CPython 3.11; python3.12 imports only" in f.reason


def test_cli_audits_a_zip_with_json(wheel_cache: Path, tmp_path: Path) -> None:
    wheel = download(
        wheel_cache, "numpy", "3.12", ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64"]
    )
    bundle = tmp_path / "some.zip"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
        z.writestr("app.py", "import numpy\n")
    script = str(Path(sys.executable).with_name("lambda-wheels"))
    argv = [script, "audit", str(bundle), "--runtime", "python3.12", "--arch", "arm64", "--json"]
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["target"] == {"runtime": "python3.12", "arch": "arm64", "wheel_arch": "aarch64"}
    assert data["ok"] is False and data["errors"] > 5
    codes = {f["code"] for f in data["findings"]}
    assert codes == {"elf-machine", "wheel-tag"}
    assert not any(p.name != "some.zip" for p in tmp_path.iterdir())  # nothing extracted
    # the same zip is clean for the platform it was built for
    argv[argv.index("arm64")] = "x86_64"
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["errors"] == 0


# -- right platforms pass (no false positives) -----------------------------------------------------


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Target, Path]]:
    """Target -> a tree of NATIVE installed for it by uv (built on first use)."""
    trees: _Trees = _Trees(tmp_path_factory.mktemp("trees"))
    yield trees
    shutil.rmtree(trees.root, ignore_errors=True)


class _Trees(dict[Target, Path]):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, target: Target) -> Path:
        dest = self.root / f"{target.runtime}-{target.arch}"
        _run(
            [
                _uv(),
                "pip",
                "install",
                "--quiet",
                "--target",
                str(dest),
                "--python-version",
                target.python_version,
                "--python-platform",
                target.uv_platform,
                "--only-binary",
                ":all:",
                "--no-compile-bytecode",
                "--index-url",
                INDEX,
                *NATIVE,
            ]
        )
        self[target] = dest
        return dest


def _assert_clean(report: AuditReport) -> None:
    assert report.errors == (), report.format_text()


@pytest.mark.parametrize("target", CLEAN_TARGETS, ids=lambda t: str(t).replace("/", "-"))
def test_trees_installed_for_the_target_audit_clean(
    installed: dict[Target, Path], target: Target
) -> None:
    tree = installed[target]
    report = audit(tree, target)
    _assert_clean(report)
    names = {label.split(" ")[0].lower().replace("_", "-") for label, _ in report.distributions}
    assert set(NATIVE) <= names
    assert len(elf_files(tree, ".")) >= len(NATIVE)  # binaries were there to audit


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_a_multi_runtime_layer_audits_clean_for_each_runtime(
    installed: dict[Target, Path], tmp_path: Path, arch: str
) -> None:
    layer = tmp_path / "layer"
    runtimes = ("python3.12", "python3.13")
    for runtime in runtimes:
        target = Target.for_runtime(runtime, arch)
        site = layer / "python" / "lib" / f"python{target.python_version}" / "site-packages"
        shutil.copytree(installed[target], site, copy_function=os.link)
    sizes = set()
    for runtime in runtimes:
        report = audit(layer, Target.for_runtime(runtime, arch), kind="layer")
        # two full installs may well pass 250 MiB together: that is the only error to report;
        # raw uv leaves console scripts whose '#!' names this machine's Python (warnings)
        assert {f.code for f in report.findings} <= {"size", "script-shebang"}, report.format_text()
        assert {f.code for f in report.warnings} <= {"script-shebang"}, report.format_text()
        sizes.add(report.total_bytes)
    assert len(sizes) == 1  # every subtree counts for size, whichever one is audited
    older = audit(layer, Target.for_runtime("python3.11", arch), kind="layer")
    assert {(f.severity, f.code) for f in older.findings} - {
        ("error", "size"),
        ("warning", "script-shebang"),
    } == {("warning", "layout")}
