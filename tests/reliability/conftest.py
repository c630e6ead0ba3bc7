"""Fixtures for the reliability and security tests (issue 8).

Everything here is offline unless a test says otherwise: fixture wheels and sdists are built
once per session and served by a local simple index (:mod:`tests.support.index_server`).
Each test gets its own bundle cache, uv/pip download caches and events file, and a host
environment without index settings (``PIP_INDEX_URL``, ``UV_DEFAULT_INDEX``, ...) so that the
machine running the tests cannot redirect an install.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from lambda_wheels_cdk import cli
from lambda_wheels_cdk.tree import digest_files, iter_files
from tests.support.cli_errors import record_errors
from tests.support.index_server import IndexServer
from tests.support.packages import make_sdist, make_wheel

#: The secret used by every credential test; grep targets. Base64 forms are checked too.
TOKEN = "lwT0KEN-9f3a7c-s3cr3t"
TOKEN2 = "lwT0KEN-rotated-44b1e0"
USER = "ci"
#: Environment variable the hooked sdists' build backend appends to (proof their code ran).
SENTINEL_VARIABLE = "LW_TEST_SDIST_SENTINEL"

_HOST_INDEX_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "NETRC",
    "LAMBDA_WHEELS_CACHE_DIR",
    "LAMBDA_WHEELS_EVENTS",
    "CDK_DOCKER",
    SENTINEL_VARIABLE,
)


def secret_forms(*tokens: str) -> list[bytes]:
    """Every spelling of a token that must never appear: plain, and inside Basic auth."""
    forms: list[bytes] = []
    for token in tokens:
        forms.append(token.encode())
        forms.append(base64.b64encode(f"{USER}:{token}".encode()))
    return forms


def files_containing(root: Path, needles: Sequence[bytes]) -> list[str]:
    """Relative paths of files under ``root`` whose bytes contain any needle."""
    found: list[str] = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                continue
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


# -- isolation ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _HOST_INDEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Workspace:
    """Per-test cache, events file and uv/pip caches (set in the environment)."""

    root: Path
    cache: Path
    events_file: Path

    @property
    def deps(self) -> Path:
        return self.cache / "v1" / "deps"

    def events(self, kind: str | None = None) -> list[dict[str, object]]:
        if not self.events_file.exists():
            return []
        rows = [json.loads(line) for line in self.events_file.read_text().splitlines()]
        return [r for r in rows if kind is None or r["event"] == kind]

    def cache_entries(self) -> list[Path]:
        return sorted(self.deps.iterdir()) if self.deps.is_dir() else []


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    cache = tmp_path / "lw-cache"
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(cache))
    monkeypatch.setenv("LAMBDA_WHEELS_EVENTS", str(events))
    # installer download caches of this test only, and no retries against failing servers
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("UV_HTTP_TIMEOUT", "20")
    return Workspace(tmp_path, cache, events)


# -- fixture packages --------------------------------------------------------------------------


#: An in-tree PEP 517 backend (``requires = []``: needs no index) that builds one wheel.
_BACKEND = """
import base64, hashlib, os, zipfile

NAME, VERSION, TAG, LABEL = {name!r}, {version!r}, {tag!r}, {label!r}
FILES = {files!r}  # path -> hex

if LABEL is not None and os.environ.get({variable!r}):
    with open(os.environ[{variable!r}], "a", encoding="utf-8") as fh:
        fh.write(LABEL + "\\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = NAME.replace("-", "_")
    info = f"{{dist}}-{{VERSION}}.dist-info"
    files = {{path: bytes.fromhex(data) for path, data in FILES.items()}}
    files[info + "/METADATA"] = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n".encode()
    pure = "true" if TAG.endswith("-none-any") else "false"
    files[info + "/WHEEL"] = (
        f"Wheel-Version: 1.0\\nGenerator: lw-tests\\nRoot-Is-Purelib: {{pure}}\\nTag: {{TAG}}\\n"
    ).encode()
    filename = f"{{dist}}-{{VERSION}}-{{TAG}}.whl"
    rows = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
        zf.writestr(info + "/RECORD", "\\n".join([*rows, info + "/RECORD,,"]) + "\\n")
    return filename
"""


def backend_source(
    name: str,
    version: str,
    *,
    files: Mapping[str, bytes],
    tag: str = "py3-none-any",
    label: str | None = None,
) -> str:
    """The source of an in-tree build backend whose wheel holds ``files`` and is tagged
    ``tag``; with ``label``, importing it appends ``label`` to ``$LW_TEST_SDIST_SENTINEL``."""
    hexed = {path: data.hex() for path, data in files.items()}
    return _BACKEND.format(
        name=name, version=version, tag=tag, label=label, files=hexed, variable=SENTINEL_VARIABLE
    )


def make_hooked_sdist(folder: Path, name: str, version: str = "1.0", *, label: str) -> Path:
    """A pure sdist with an in-tree PEP 517 backend: building it appends ``label`` to the file
    named by ``$LW_TEST_SDIST_SENTINEL``, so a test can prove whether its build code ran.
    Needs nothing from an index (``requires = []``)."""
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    module = {f"{dist}/__init__.py": f"BUILT_BY = {label!r}\n".encode()}
    backend = backend_source(name, version, files=module, label=label)
    pyproject = (
        '[build-system]\nrequires = []\nbuild-backend = "lw_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    content = {
        f"{root}/pyproject.toml": pyproject.encode(),
        f"{root}/lw_backend.py": backend.encode(),
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, data in sorted(content.items()):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return path


@dataclass(frozen=True)
class Packages:
    """Fixture distributions, one folder (served by :class:`IndexServer` or as find-links)."""

    folder: Path
    evil_hooked: Path  # same file name as lw-hooked's sdist, other build code

    def file(self, prefix: str) -> Path:
        return next(p for p in sorted(self.folder.iterdir()) if p.name.startswith(prefix))


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    folder = tmp_path_factory.mktemp("lw-packages")
    for version in ("1.16.0", "1.17.0"):
        make_wheel(
            folder, "six", version, files={"six.py": f"__version__ = {version!r}\n".encode()}
        )
    make_wheel(folder, "lw-app", requires=["lw-dep==1.0"])
    make_wheel(folder, "lw-dep", "1.0")
    make_wheel(folder, "lw-dep", "2.0")
    make_wheel(folder, "lw-uses-hooked", requires=["lw-hooked"])
    # many small files: a build that spends time normalizing, recording and copying
    make_wheel(
        folder,
        "lw-many",
        files={f"lw_many/m{i:04d}.py": (f"X = {i}\n" * 40).encode() for i in range(1500)},
    )
    make_hooked_sdist(folder, "lw-hooked", label="good")
    make_sdist(folder, "lw-native", native=True)
    evil = make_hooked_sdist(tmp_path_factory.mktemp("lw-evil"), "lw-hooked", label="EVIL")
    return Packages(folder, evil)


@pytest.fixture
def index(packages: Packages, ws: Workspace) -> Iterator[IndexServer]:
    """The fixture packages on a local index without auth."""
    with IndexServer(packages.folder.iterdir()) as server:
        yield server


@pytest.fixture
def auth_index(packages: Packages, ws: Workspace) -> Iterator[IndexServer]:
    """The fixture packages on a local index that requires ``ci:TOKEN`` (Basic auth)."""
    with IndexServer(packages.folder.iterdir(), auth=(USER, TOKEN)) as server:
        yield server


# -- the CLI -----------------------------------------------------------------------------------


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    error: BaseException | None  # the exception the command raised (caught by main), if any


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[object]:
    """``run_cli(*argv) -> CliRun``: ``lambda_wheels_cdk.cli.main`` in-process, recording the
    exception that ``main`` turned into a message and exit status."""
    caught = record_errors(monkeypatch)

    def run(*argv: str) -> CliRun:
        caught.clear()
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return CliRun(code, out, err, caught[0] if caught else None)

    yield run


# -- assertions --------------------------------------------------------------------------------


def tree_digest(root: Path) -> str:
    return digest_files(root, iter_files(root))


def assert_nothing_written(out: Path, ws: Workspace | None = None) -> None:
    """No output folder, no temp folder beside it, no cache entry."""
    assert not out.exists(), f"{out} exists after a failed build"
    leftovers = sorted(p.name for p in out.parent.glob(f".{out.name}.lw-*"))
    assert leftovers == [], f"temp folders left beside {out}: {leftovers}"
    if ws is not None:
        assert ws.cache_entries() == [], f"cache entries after a failed build: {ws.cache_entries()}"


def finished_assets(outdir: Path) -> list[str]:
    """Staged CDK asset folders that are not CDK's ``-building``/``-error`` leftovers."""
    if not outdir.is_dir():
        return []
    return sorted(
        p.name
        for p in outdir.iterdir()
        if p.name.startswith("asset.")
        and p.is_dir()
        and not p.name.endswith(("-building", "-error"))
    )


def build_command(out: Path, index_url: str, *reqs: str) -> list[str]:
    """``lambda-wheels build`` for python3.12/x86_64 against ``index_url``, as a subprocess argv."""
    return [
        sys.executable,
        "-m",
        "lambda_wheels_cdk",
        "build",
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--index-url",
        index_url,
        "-o",
        str(out),
        *reqs,
    ]
