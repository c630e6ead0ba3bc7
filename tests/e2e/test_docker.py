"""Native sdists compiled in a real Docker engine, for both architectures, proven by import.

``make test-docker`` (``pytest -m docker``): the tests start their own ``dockerd`` (root,
Debian's docker.io), register qemu-aarch64-static with binfmt_misc for arm64 containers and
load the SAM stand-in images (:mod:`tests.support.sam_standins`: Debian's CPython 3.11, gcc,
g++, the public CA bundle only; glibc 2.36). Elsewhere they skip and say how to enable them.

The daemon has no bridge network and build containers run with ``--network none``: every file a
build needs is downloaded on this host (its index settings and trust store; this network
re-signs HTTPS with a CA the images do not trust) and mounted read-only.

Real sdist-only packages from PyPI (checked on the index: no wheel of these releases at all):
``crcmod==1.7`` (a C extension, ``crcmod._crcfunext``) and ``mmh3==2.5.1`` (C++:
``mmh3module.cpp`` + ``MurmurHash3.cpp``). Their results come from published facts: CRC-32 of
``b"123456789"`` is ``0xCBF43926`` (the CRC catalogue's check value) and ``mmh3.hash("foo")``
is ``-156908512`` (mmh3's README).
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_wheels_cdk import cli
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import AuditError, NeedsDockerError, SdistBuildError
from lambda_wheels_cdk.target.target import Target
from tests.e2e.conftest import Require, Smoke
from tests.support import docker_engine, sam_standins
from tests.support.cli_errors import record_errors
from tests.support.packages import make_sdist

pytestmark = pytest.mark.docker

ARM311 = Target.for_runtime("python3.11", "arm64")
X86311 = Target.for_runtime("python3.11", "x86_64")
#: ELF e_machine values (the ELF specification's registry).
EM_X86_64, EM_AARCH64 = 62, 183
#: The glibc of the python3.11 runtime (Amazon Linux 2).
AL2_GLIBC = (2, 26)

HANDLER = """\
import sys

import crcmod._crcfunext  # the C extension itself, not crcmod's pure-Python fallback
import crcmod.predefined
import mmh3


def handler(event, context):
    crc32 = crcmod.predefined.mkCrcFun("crc-32")
    return {
        "crc32": crc32(b"123456789"),
        "crc_extension": sys.modules["crcmod.crcmod"]._usingExtension,
        "mmh3": mmh3.hash("foo"),
    }
"""


# -- the engine --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> Iterator[docker_engine.Engine]:
    try:
        with docker_engine.engine() as running:
            yield running
    except docker_engine.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def standins(engine: docker_engine.Engine) -> dict[str, str]:
    """Both python3.11 stand-ins in the engine: arch -> image name."""
    images = {}
    for arch in ("x86_64", "arm64"):
        standin = sam_standins.Standin("3.11", arch)
        try:
            docker = [engine.docker, "-H", engine.host]
            engine.timings.update(sam_standins.ensure_image(standin, docker))
        except sam_standins.SetupError as exc:
            pytest.skip(f"the stand-in image {standin.name} could not be built: {exc}")
        images[arch] = standin.name
    return images


@pytest.fixture
def arm64_containers(engine: docker_engine.Engine) -> None:
    """Skip (saying why) when the engine cannot run arm64 containers (no binfmt handler)."""
    if engine.arm64 is not None:
        pytest.skip(f"arm64 containers cannot run here: {engine.arm64}")


@pytest.fixture
def docker_log(
    tmp_path: Path, engine: docker_engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """``CDK_DOCKER`` = a wrapper script that logs each call and forwards it to ``docker``
    (what Finch, Podman and colima users do); returns the log."""
    log = tmp_path / "docker-calls.log"
    wrapper = tmp_path / "docker-wrapper"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{engine.docker}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CDK_DOCKER", str(wrapper))
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(tmp_path / "cache"))
    return log


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(HANDLER)
    return src


def _glibc_needed(path: Path) -> tuple[int, int]:
    """The newest ``GLIBC_x.y`` version an ELF file asks for (its .gnu.version_r)."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    newest = (0, 0)
    with path.open("rb") as fh:
        for section in ELFFile(fh).iter_sections():
            if not isinstance(section, GNUVerNeedSection):
                continue
            for _, auxes in section.iter_versions():
                for aux in auxes:
                    name = aux.name
                    if name.startswith("GLIBC_") and name[6:7].isdigit():
                        major, minor = name[6:].split(".")[:2]
                        newest = max(newest, (int(major), int(minor)))
    return newest


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", path
    return int.from_bytes(head[18:20], "little")


def _refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> BaseException:
    """Run the CLI in-process; the exception it turned into its one-line error (exit 1)."""
    caught = record_errors(monkeypatch, ["build"])
    capsys.readouterr()
    assert cli.main(list(argv)) == 1
    err = capsys.readouterr().err
    assert len(caught) == 1 and f"error: {caught[0]}" in err
    return caught[0]


def _native_build_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    c_source: bytes,
) -> BaseException:
    """Build the native sdist ``name`` (one C file) with Docker for python3.11/x86_64 into
    ``tmp_path/out``; the error the build ended with."""
    links = tmp_path / "links"
    make_sdist(links, name, native=True, c_source=c_source)
    argv = ["build", "--docker", "--runtime", "python3.11", "--arch", "x86_64"]
    argv += ["-o", str(tmp_path / "out"), "--find-links", str(links), name]
    return _refused(monkeypatch, capsys, *argv)


def _build_c_and_cpp(
    tmp_path: Path, target: Target, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, object]]:
    out = tmp_path / "out"
    argv = ["build", "--docker", "--runtime", target.runtime, "--arch", target.lambda_arch]
    argv += ["--source", str(_source(tmp_path)), "-o", str(out), "--json"]
    assert main([*argv, "crcmod==1.7", "mmh3==2.5.1"]) == 0
    return out, json.loads(capsys.readouterr().out)


def _check_bundle(out: Path, manifest: dict[str, object], machine: int) -> None:
    origins = {d["name"]: d["origin"] for d in manifest["distributions"]}  # type: ignore[attr-defined]
    assert origins == {"crcmod": "sdist-docker", "mmh3": "sdist-docker"}
    extensions = sorted(out.rglob("*.so"))
    assert {p.name.split(".")[0] for p in extensions} == {"_crcfunext", "mmh3"}
    for so in extensions:
        assert _elf_machine(so) == machine, so
        assert (2, 0) < _glibc_needed(so) <= AL2_GLIBC, so


def _check_calls(log: Path, platform: str) -> None:
    calls = log.read_text().splitlines()
    runs = [c for c in calls if c.startswith("run ")]
    assert calls[0].startswith("image inspect") and len(runs) == 1
    run = runs[0]
    assert f"--platform {platform} --network none" in run
    assert ":/lambda-wheels/sdists:ro" in run and ":/lambda-wheels/wheelhouse:ro" in run
    assert "--no-index --find-links /lambda-wheels/wheelhouse" in run
    # nothing of the host's installer settings or any index reaches the container
    assert "http" not in run and "PIP_" not in run and "UV_" not in run
    assert [a for a in run.split() if a.startswith("-e")] == ["-e"]  # only HOME=/tmp
    assert " -e HOME=/tmp " in run


def test_standins_carry_the_public_ca_bundle_only(
    standins: dict[str, str], engine: docker_engine.Engine
) -> None:
    """No certificate of this host's trust store that Debian's public bundle lacks (this
    network's re-signing CA) is in the images: a build that reached out would fail, as in a
    real SAM image behind such a proxy."""
    script = (
        "import glob, re, ssl\n"
        "pem = re.compile(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', re.S)\n"
        "def ders(text): return {ssl.PEM_cert_to_DER_cert(m) for m in pem.findall(text)}\n"
        "public = set().union(*(ders(open(p).read()) for p in "
        "glob.glob('/usr/share/ca-certificates/mozilla/*.crt')))\n"
        "ours = ders(open('/etc/ssl/certs/ca-certificates.crt').read())\n"
        "print(len(public), len(ours), ours <= public)"
    )
    image = standins["x86_64"]
    proc = engine.run("run", "--rm", "--network", "none", image, "python", "-c", script)
    assert proc.returncode == 0, proc.stderr
    public, ours, only_public = proc.stdout.split()
    assert int(public) > 100 and ours == public and only_public == "True"


# -- both architectures, proven by import -----------------------------------------------------


def test_arm64_c_and_cpp_sdists_compile_in_docker_and_import_under_qemu(
    tmp_path: Path,
    standins: dict[str, str],
    arm64_containers: None,
    docker_log: Path,
    arm64_python: Require,
    logged_smoke: Smoke,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's check: ``lambda-wheels build --docker --runtime python3.11 --arch arm64``."""
    # the host's index setting, with a credential (PyPI ignores it): used on this host only
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:s3cr3t@pypi.org/simple")
    out, manifest = _build_c_and_cpp(tmp_path, ARM311, capsys)
    _check_bundle(out, manifest, EM_AARCH64)
    _check_calls(docker_log, "linux/arm64")
    assert "s3cr3t" not in docker_log.read_text()
    result = logged_smoke(out, ARM311, handler="app.handler", interpreter=arm64_python(ARM311))
    assert result.status == "passed", result.summary()
    assert result.python is not None and result.python.endswith("on aarch64")
    assert result.handler_result == {"crc32": 0xCBF43926, "crc_extension": True, "mmh3": -156908512}


def test_x86_64_c_and_cpp_sdists_compile_in_docker_and_import_natively(
    tmp_path: Path,
    standins: dict[str, str],
    docker_log: Path,
    native_python: Require,
    logged_smoke: Smoke,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, manifest = _build_c_and_cpp(tmp_path, X86311, capsys)
    _check_bundle(out, manifest, EM_X86_64)
    _check_calls(docker_log, "linux/amd64")
    result = logged_smoke(out, X86311, handler="app.handler", interpreter=native_python(X86311))
    assert result.status == "passed", result.summary()
    assert result.handler_result == {"crc32": 0xCBF43926, "crc_extension": True, "mmh3": -156908512}


# -- what must fail, and how --------------------------------------------------------------------

#: An extension calling memfd_create, which glibc exports as GLIBC_2.27 (glibc's NEWS for 2.27;
#: its Versions files): it compiles in the stand-in (glibc 2.36) and cannot load on AL2 (2.26).
NEEDS_GLIBC_2_27 = b"""\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/mman.h>

static PyObject *memfd(PyObject *self, PyObject *args) {
    return PyLong_FromLong(memfd_create("lw", 0));
}

static PyMethodDef methods[] = {{"memfd", memfd, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
"""


def test_audit_rejects_an_extension_built_against_the_newer_glibc(
    tmp_path: Path,
    standins: dict[str, str],
    docker_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    error = _native_build_refused(
        tmp_path, monkeypatch, capsys, "lw-fixture-memfd", NEEDS_GLIBC_2_27
    )
    assert isinstance(error, AuditError)
    message = str(error)
    assert "_native.cpython-311-x86_64-linux-gnu.so needs GLIBC_2.27" in message
    assert "Amazon Linux 2 has 2.26" in message
    assert not out.exists()
    assert any(c.startswith("run ") for c in docker_log.read_text().splitlines())


def _sdist(folder: Path, root: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_build_requirement_asked_for_at_build_time_is_fetched_on_the_host(
    tmp_path: Path,
    standins: dict[str, str],
    docker_log: Path,
    native_python: Require,
    logged_smoke: Smoke,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A backend that asks for ``six`` only from ``get_requires_for_build_wheel`` (as
    scikit-build asks for cmake): the offline container says it is missing, the host fetches it
    into the wheelhouse and the container runs again."""
    backend = (
        "from setuptools import build_meta as _orig\n"
        "from setuptools.build_meta import *\n\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    return _orig.get_requires_for_build_wheel(config_settings) + ['six']\n\n"
        "def build_wheel(*args, **kwargs):\n"
        "    import six  # installed only because the hook asked for it\n"
        "    return _orig.build_wheel(*args, **kwargs)\n"
    )
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "backend"\n'
        'backend-path = ["."]\n\n[project]\nname = "lw-fixture-dynamic"\nversion = "1.0"\n'
    )
    setup = (
        "from setuptools import Extension, setup\n"
        "setup(packages=['lw_fixture_dynamic'], "
        "ext_modules=[Extension('lw_fixture_dynamic._native', ['lw_fixture_dynamic/_native.c'])])\n"
    )
    native = (
        "#include <Python.h>\n"
        'static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, NULL};\n'
        "PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&m); }\n"
    )
    links = tmp_path / "links"
    _sdist(
        links,
        "lw_fixture_dynamic-1.0",
        {
            "pyproject.toml": pyproject,
            "backend.py": backend,
            "setup.py": setup,
            "lw_fixture_dynamic/__init__.py": "",
            "lw_fixture_dynamic/_native.c": native,
            "PKG-INFO": "Metadata-Version: 2.1\nName: lw-fixture-dynamic\nVersion: 1.0\n",
        },
    )
    out = tmp_path / "out"
    argv = ["build", "--docker", "--runtime", "python3.11", "--arch", "x86_64", "-o", str(out)]
    assert main([*argv, "--find-links", str(links), "lw-fixture-dynamic"]) == 0
    err = capsys.readouterr().err
    assert "the build asked for six: fetched them; building again" in err
    runs = [c for c in docker_log.read_text().splitlines() if c.startswith("run ")]
    assert len(runs) == 2 and all("--network none" in r for r in runs)
    assert list(out.glob("lw_fixture_dynamic/_native.cpython-311-x86_64-linux-gnu.so"))
    interpreter = native_python(X86311)
    result = logged_smoke(
        out, X86311, modules=["lw_fixture_dynamic._native"], interpreter=interpreter
    )
    assert result.status == "passed", result.summary()
    assert "lw_fixture_dynamic._native" in result.imported


BROKEN_C = b"#include <Python.h>\nthis is not C;\n"


def test_compile_error_names_the_package_and_shows_the_compiler(
    tmp_path: Path,
    standins: dict[str, str],
    docker_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = _native_build_refused(tmp_path, monkeypatch, capsys, "lw-fixture-broken", BROKEN_C)
    assert isinstance(error, SdistBuildError)
    message = str(error)
    assert error.distributions == ("lw-fixture-broken",)
    assert message.startswith("lw-fixture-broken==1.0 failed to compile in ")
    assert "error:" in message  # gcc's own diagnostic
    assert "docker_image / --docker-image" in message.splitlines()[-1]
    assert "index" not in message.splitlines()[-1]


def test_unpullable_image_wrong_arch_image_and_stopped_engine_say_so(
    tmp_path: Path,
    standins: dict[str, str],
    docker_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """python3.12 has no stand-in and no registry is reachable: the real pull fails. Then the
    same through a socket no engine listens on. Neither sends the user to the package index."""
    argv = ["build", "--docker", "--runtime", "python3.12", "--arch", "x86_64"]
    argv += ["-o", str(tmp_path / "out"), "crcmod==1.7"]
    pulled = _refused(monkeypatch, capsys, *argv)
    assert isinstance(pulled, NeedsDockerError)
    message = str(pulled)
    assert pulled.distributions == ("crcmod",)
    assert "could not get the build image public.ecr.aws/sam/build-python3.12:latest-x86_64" in (
        message
    )
    assert "docker login public.ecr.aws" in message and "index" not in message
    assert "pull --platform linux/amd64 public.ecr.aws/sam/build-python3.12" in (
        docker_log.read_text()
    )

    # an image of the wrong architecture: never run under the target's name
    argv_arm = ["build", "--docker", "--runtime", "python3.11", "--arch", "arm64"]
    argv_arm += ["--docker-image", standins["x86_64"], "-o", str(tmp_path / "out"), "crcmod==1.7"]
    wrong = _refused(monkeypatch, capsys, *argv_arm)
    assert isinstance(wrong, NeedsDockerError)
    assert f"the image {standins['x86_64']} here is for linux/amd64, not linux/arm64" in str(wrong)
    assert "index" not in str(wrong)
    assert not [c for c in docker_log.read_text().splitlines() if c.startswith("run ")]

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    stopped = _refused(monkeypatch, capsys, *argv)
    assert isinstance(stopped, NeedsDockerError)
    message = str(stopped)
    assert stopped.distributions == ("crcmod",)
    assert "no Docker engine is running" in message and "start Docker" in message
    assert "index" not in message
    assert not (tmp_path / "out").exists()


# -- the CDK path --------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="the test engine runs on Linux")
def test_function_and_layer_with_docker_synthesize_and_cache(
    tmp_path: Path, standins: dict[str, str], arm64_containers: None, docker_log: Path
) -> None:
    """The issue's check: a ``PythonWheelFunction(docker=True)`` (arm64, crcmod) and a
    ``PythonWheelLayer`` (x86_64, mmh3) synthesize with the compiled extensions in their assets;
    a second synth is a cache hit that does not call Docker at all."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions

    entry = tmp_path / "svc"
    entry.mkdir()
    (entry / "index.py").write_text(
        "import crcmod._crcfunext\n\ndef handler(e, c):\n    return 1\n"
    )
    py311 = lambda_.Runtime.PYTHON_3_11

    def synth(name: str) -> dict[str, Path]:
        app = cdk.App(outdir=str(tmp_path / name))
        stack = cdk.Stack(app, "S")
        PythonWheelFunction(
            stack,
            "Fn",
            entry=str(entry),
            runtime=py311,
            architecture=lambda_.Architecture.ARM_64,
            dependencies=["crcmod==1.7"],
            bundling=WheelBundlingOptions(docker=True),
        )
        PythonWheelLayer(
            stack,
            "Deps",
            dependencies=["mmh3==2.5.1"],
            compatible_runtimes=[py311],
            bundling=WheelBundlingOptions(docker=True),
        )
        app.synth()
        assets = [p for p in (tmp_path / name).glob("asset.*") if p.is_dir()]
        assert len(assets) == 2
        return {"layer" if (p / "python").is_dir() else "function": p for p in assets}

    staged = synth("first")
    crc = next(staged["function"].glob("crcmod/_crcfunext.cpython-311-aarch64-linux-gnu.so"))
    assert _elf_machine(crc) == EM_AARCH64
    mmh3 = next(staged["layer"].rglob("mmh3.cpython-311-x86_64-linux-gnu.so"))
    assert _elf_machine(mmh3) == EM_X86_64
    calls = docker_log.read_text()
    assert "/asset-input" not in calls  # CDK's own Docker bundling never ran: ours did
    runs = [c for c in calls.splitlines() if c.startswith("run ")]
    assert len(runs) == 2 and all("--network none" in r for r in runs)
    assert sorted(r.split("--platform ")[1].split()[0] for r in runs) == [
        "linux/amd64",
        "linux/arm64",
    ]

    docker_log.unlink()
    again = synth("second")
    assert {k: p.name for k, p in again.items()} == {k: p.name for k, p in staged.items()}
    assert not docker_log.exists()  # the cache answered: Docker was not even asked
