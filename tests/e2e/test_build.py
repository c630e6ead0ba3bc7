"""`lambda-wheels build` against real PyPI: the bundle builder's promises (issue 3).

Fixture packages (markers, pure and native sdists) are built by the tests into a local
find-links folder; everything else comes from PyPI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from lambda_wheels_cdk.build.cache import BundleCache
from lambda_wheels_cdk.build.models import BuildOptions
from lambda_wheels_cdk.build.pipeline import build_bundle
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import LambdaWheelsError, NeedsDockerError
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.install.dists import read_distributions
from lambda_wheels_cdk.target.target import Target
from lambda_wheels_cdk.tree import FIXED_MTIME, digest_files, iter_files
from tests.support.packages import make_sdist, make_wheel

pytestmark = pytest.mark.e2e
FAKE_DOCKER = Path(__file__).resolve().parents[1] / "support" / "fake_docker.py"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(path))
    monkeypatch.setenv("LAMBDA_WHEELS_EVENTS", str(tmp_path / "events.jsonl"))
    return path


def _events(tmp_path: Path, kind: str) -> list[dict[str, object]]:
    path = tmp_path / "events.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if r["event"] == kind]


def _build(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["build", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", path
    return int.from_bytes(head[18:20], "little")


def test_pydantic_for_arm64_on_this_x86_64_host(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    manifest = _build(
        capsys, "--runtime", "python3.12", "--arch", "arm64", "-o", str(out), "pydantic"
    )
    so = out / "pydantic_core" / "_pydantic_core.cpython-312-aarch64-linux-gnu.so"
    assert so.is_file() and _elf_machine(so) == 183
    files = {rel for rel, _ in iter_files(out)}
    names = {rel.rsplit("/", 1)[-1] for rel in files}
    assert not {"INSTALLER", "direct_url.json", "REQUESTED"} & names
    # bytecode: only python3.12's (not this 3.11 host's), one beside each source file
    pycs = {rel for rel in files if rel.endswith(".pyc")}
    assert pycs and all(rel.endswith(".cpython-312.pyc") for rel in pycs)
    for rel in pycs:
        folder, _, name = rel.rpartition("__pycache__/")
        assert f"{folder}{name[: -len('.cpython-312.pyc')]}.py" in files, rel
    dists = {canonicalize_name(d["name"]): d for d in manifest["distributions"]}  # type: ignore[index,union-attr]
    assert (
        "manylinux" in dists["pydantic-core"]["wheel"]
        and "aarch64" in dists["pydantic-core"]["wheel"]
    )
    assert manifest["target"] == {
        "runtime": "python3.12",
        "architecture": "arm64",
        "python": "3.12",
        "glibc": "2.34",
    }


def test_progress_lines_say_what_the_build_is_doing(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--runtime", "python3.12", "--arch", "x86_64", "-o", str(tmp_path / "out"), "six"]
    assert main(["build", *argv]) == 0
    lines = capsys.readouterr().err.splitlines()
    stages = [line.split(": ", 1)[1] for line in lines if line.startswith("[lambda-wheels] out:")]
    stages = [s for s in stages if not s.startswith("ignoring host installer settings")]
    assert stages[0].startswith("installing 1 requirement for python3.12/x86_64 with uv"), lines
    assert any(s.startswith("resolved 1 package (") for s in stages), lines
    assert any(s.startswith("installed 1 package (") for s in stages), lines
    assert any(s.startswith("audit python3.12/x86_64: 0 errors") for s in stages), lines
    assert len(lines) <= 8, lines  # a few plain lines, no per-file chatter


def test_al2_build_fits_glibc_226(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--runtime", "python3.11", "--arch", "x86_64", "-o", str(out), "numpy", "cryptography"]
    manifest = _build(capsys, *argv)
    target = Target.for_runtime("python3.11", "x86_64")
    # numpy's newest releases have no wheel for glibc 2.26: the manifest says so, and warns
    numpy = next(d for d in manifest["distributions"] if d["name"] == "numpy")  # type: ignore[union-attr]
    assert "Amazon Linux 2 has glibc 2.26" in numpy["note"], numpy
    assert any(w.startswith("numpy ") for w in manifest["warnings"])  # type: ignore[union-attr]
    dists = read_distributions(out, target)
    assert {canonicalize_name(d.name) for d in dists} >= {"numpy", "cryptography"}
    for dist in dists:
        assert target.accepts(dist.wheel), dist.wheel
        assert not any(
            "manylinux_2_27" in t or "manylinux_2_28" in t
            for t in dist.tags
            if not target.accepts(t)
        ), dist.tags


def _pypi_files(name: str, version: str) -> list[str]:
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=60) as resp:
        data = json.load(resp)
    return [f["filename"] for f in data["releases"][version] if f["filename"].endswith(".whl")]


def test_newest_fitting_wheel_not_manylinux2014(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _build(capsys, "--runtime", "python3.12", "--arch", "arm64", "-o", str(out), "cryptography")
    target = Target.for_runtime("python3.12", "arm64")
    crypto = next(d for d in read_distributions(out, target) if d.name == "cryptography")
    ranks = [
        r
        for r in (target.best_rank(f) for f in _pypi_files("cryptography", crypto.version))
        if r is not None
    ]
    assert target.best_rank(crypto.wheel) == min(ranks)  # the best wheel of that release


@pytest.fixture
def marker_links(tmp_path: Path) -> Path:
    links = tmp_path / "links"
    make_wheel(
        links,
        "lw-fixture-app",
        requires=[
            'lw-fixture-dep-arm; platform_machine == "aarch64"',
            'lw-fixture-dep-x86; platform_machine == "x86_64"',
        ],
    )
    make_wheel(links, "lw-fixture-dep-arm")
    make_wheel(links, "lw-fixture-dep-x86")
    return links


def test_markers_are_evaluated_for_the_target_with_uv(
    tmp_path: Path, cache: Path, marker_links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _build(
        capsys,
        "--runtime",
        "python3.12",
        "--arch",
        "arm64",
        "-o",
        str(out),
        "--no-index",
        "--find-links",
        str(marker_links),
        "lw-fixture-app",
    )
    assert (out / "lw_fixture_dep_arm").is_dir()
    assert not (out / "lw_fixture_dep_x86").exists()


def test_pip_evaluates_markers_for_the_host(
    tmp_path: Path, cache: Path, marker_links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Documented pip behaviour: on this x86_64 host an arm64 build gets the x86_64 dependency."""
    out = tmp_path / "out"
    _build(
        capsys,
        "--runtime",
        "python3.12",
        "--arch",
        "arm64",
        "-o",
        str(out),
        "--installer",
        "pip",
        "--no-index",
        "--find-links",
        str(marker_links),
        "lw-fixture-app",
    )
    assert (out / "lw_fixture_dep_x86").is_dir()
    assert not (out / "lw_fixture_dep_arm").exists()


def test_host_find_links_are_not_honoured(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host_links = tmp_path / "host-links"
    make_wheel(host_links, "six", "99.0")  # would win if PIP_FIND_LINKS/UV_FIND_LINKS leaked in
    monkeypatch.setenv("PIP_FIND_LINKS", str(host_links))
    monkeypatch.setenv("UV_FIND_LINKS", str(host_links))
    manifest = _build(
        capsys, "--runtime", "python3.12", "--arch", "x86_64", "-o", str(tmp_path / "o"), "six"
    )
    six = next(d for d in manifest["distributions"] if d["name"] == "six")  # type: ignore[union-attr]
    assert six["version"] != "99.0"


def test_pure_sdist_is_built_native_sdist_needs_docker(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = tmp_path / "links"
    make_sdist(links, "lw-fixture-pure", native=False)
    make_sdist(links, "lw-fixture-native", native=True)
    target = Target.for_runtime("python3.11", "x86_64")
    options = BuildOptions(index=IndexSettings(find_links=(str(links),)))

    out = tmp_path / "pure"
    manifest = build_bundle(from_list(["lw-fixture-pure"]), target, out, options=options)
    pure = next(d for d in manifest.distributions if d.name == "lw-fixture-pure")
    assert pure.origin == "sdist-host" and (out / "lw_fixture_pure" / "__init__.py").is_file()

    with pytest.raises(NeedsDockerError, match="lw-fixture-native") as info:
        build_bundle(
            from_list(["lw-fixture-native", "lw-fixture-pure"]),
            target,
            tmp_path / "n",
            options=options,
        )
    assert info.value.distributions == ("lw-fixture-native",)
    assert not (tmp_path / "n").exists()

    # with Docker on, through the stand-in (runs the container command on this host)
    monkeypatch.setenv("CDK_DOCKER", str(FAKE_DOCKER))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    docker = BuildOptions(index=IndexSettings(find_links=(str(links),)), docker=True)
    out = tmp_path / "docker"
    manifest = build_bundle(from_list(["lw-fixture-native"]), target, out, options=docker)
    native = next(d for d in manifest.distributions if d.name == "lw-fixture-native")
    assert native.origin == "sdist-docker"
    assert list((out / "lw_fixture_native").glob("_native.cpython-311-x86_64-linux-gnu.so"))
    call = (tmp_path / "docker.log").read_text()
    run = next(line for line in call.splitlines() if line.startswith("run --rm "))
    assert "--platform linux/amd64 --network none" in run
    assert "public.ecr.aws/sam/build-python3.11:latest-x86_64" in call


def test_same_inputs_twice_identical_and_no_second_install(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "index.cpython-311.pyc").write_bytes(b"x")
    args = ["--runtime", "python3.12", "--arch", "arm64", "--source", str(src), "orjson", "six"]
    first = _build(capsys, *args, "-o", str(tmp_path / "a"))
    second = _build(capsys, *args, "-o", str(tmp_path / "b"))
    assert len(_events(tmp_path, "install-start")) == 1
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    a, b = tmp_path / "a", tmp_path / "b"
    assert digest_files(a, iter_files(a)) == digest_files(b, iter_files(b))
    assert (a / "index.py").is_file()
    # the source's own (host) bytecode is never copied; ours is for python3.12
    assert not (a / "__pycache__" / "index.cpython-311.pyc").exists()
    assert (a / "__pycache__" / "index.cpython-312.pyc").is_file()


def test_a_changed_cache_entry_is_rebuilt(tmp_path: Path, cache: Path) -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    spec = from_list(["six"])
    build_bundle(spec, target, tmp_path / "a")
    entry = next((cache / "v1" / "deps").iterdir())
    (entry / "tree" / "six.py").write_text("raise SystemExit('tampered')\n")
    build_bundle(spec, target, tmp_path / "b")
    assert len(_events(tmp_path, "install-start")) == 2
    assert "tampered" not in (tmp_path / "b" / "six.py").read_text()


def test_link_mode_shares_uv_cache_files_without_changing_them(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default links uv's cached files (like uv does) and never modifies one of them."""
    uv_cache = tmp_path / "uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    target = Target.for_runtime("python3.12", "x86_64")
    spec = from_list(["six==1.17.0", "orjson==3.11.4"])

    def uv_files() -> dict[tuple[int, int], tuple[str, int, int]]:
        out = {}
        for rel, path in iter_files(uv_cache / "archive-v0"):
            st = path.stat()
            out[(st.st_dev, st.st_ino)] = (rel, st.st_size, st.st_mtime_ns)
        return out

    build_bundle(spec, target, tmp_path / "warm")  # fills uv's cache
    before = uv_files()
    digests_before = {
        rel: digest_files(uv_cache, [(rel, uv_cache / "archive-v0" / rel)])
        for rel, _, _ in before.values()
    }
    linked = tmp_path / "linked"
    build_bundle(spec, target, linked, options=BuildOptions(cache_dir=str(tmp_path / "c1")))
    copied = tmp_path / "copied"
    build_bundle(
        spec,
        target,
        copied,
        options=BuildOptions(cache_dir=str(tmp_path / "c2"), link_mode="copy"),
    )
    # uv's cached files: same inodes, sizes, times and contents as before both builds
    assert uv_files() == before
    assert {
        rel: digest_files(uv_cache, [(rel, uv_cache / "archive-v0" / rel)])
        for rel, _, _ in before.values()
    } == digests_before
    # the default shares files with uv's cache (hard links on this ext4 host, or clones)
    shared = [p for _, p in iter_files(linked) if (p.stat().st_dev, p.stat().st_ino) in before]
    assert shared, "no file of the bundle is shared with uv's cache"
    # "copy" shares nothing with uv's cache and fixes every file's time
    assert not [p for _, p in iter_files(copied) if (p.stat().st_dev, p.stat().st_ino) in before]
    assert {p.stat().st_mtime for _, p in iter_files(copied)} == {FIXED_MTIME}
    # the same bundle either way
    assert digest_files(linked, iter_files(linked)) == digest_files(copied, iter_files(copied))


def test_an_edit_through_a_shared_file_is_repaired_from_a_fresh_download(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing into a bundle file in place also writes into uv's cached copy (a hard link):
    the changed cache entry is rebuilt with uv --refresh, so the rebuild is clean."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    target = Target.for_runtime("python3.12", "x86_64")
    spec = from_list(["six==1.17.0"])
    build_bundle(spec, target, tmp_path / "a")
    original = (tmp_path / "a" / "six.py").read_bytes()
    with (tmp_path / "a" / "six.py").open("r+b") as fh:  # in place, like an editor keeping links
        fh.write(b"raise SystemExit('tampered')\n")
    build_bundle(spec, target, tmp_path / "b")
    assert len(_events(tmp_path, "cache-invalid")) == 1
    assert len(_events(tmp_path, "install-start")) == 2
    assert (tmp_path / "b" / "six.py").read_bytes() == original


def test_killed_build_leaves_nothing_half_written(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "out"
    argv = [
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
        "pandas",
    ]
    env = dict(os.environ, UV_CACHE_DIR=str(tmp_path / "uv-cache"))  # cold: slow enough to kill
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not _events(tmp_path, "install-start") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]
    deps = cache / "v1" / "deps"
    assert not deps.exists() or not any(deps.iterdir())
    assert BundleCache(cache).lookup("0" * 64, Target.for_runtime("python3.12", "x86_64")) is None
    assert (
        main(["build", "--runtime", "python3.12", "--arch", "x86_64", "-o", str(out), "six"]) == 0
    )
    assert (out / "six.py").is_file()


def test_docker_path_in_hash_checking_mode(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash-pinned native sdist is verified inside the container and its wheel is trusted."""
    import hashlib

    from lambda_wheels_cdk.inputs.detect import load

    links = tmp_path / "links"
    sdist = make_sdist(links, "lw-fixture-native", native=True)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"lw-fixture-native==1.0 --hash=sha256:{digest}\n")
    monkeypatch.setenv("CDK_DOCKER", str(FAKE_DOCKER))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    target = Target.for_runtime("python3.11", "x86_64")
    options = BuildOptions(index=IndexSettings(find_links=(str(links),)), docker=True)
    manifest = build_bundle(load(reqs), target, tmp_path / "out", options=options)
    assert [d.origin for d in manifest.distributions] == ["sdist-docker"]

    reqs.write_text(f"lw-fixture-native==1.0 --hash=sha256:{'0' * 64}\n")
    with pytest.raises(LambdaWheelsError, match=r"(?i)hash"):
        build_bundle(load(reqs), target, tmp_path / "bad", options=options)
    assert not (tmp_path / "bad").exists()


def test_relative_cache_dir_and_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Installers run in their own working folder: relative paths must still land right."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", "rel-cache")
    manifest = _build(capsys, "--runtime", "python3.12", "--arch", "x86_64", "-o", "rel-out", "six")
    assert (tmp_path / "rel-out" / "six.py").is_file()
    assert [d["name"] for d in manifest["distributions"]] == ["six"]  # type: ignore[union-attr]
    assert (tmp_path / "rel-cache" / "v1" / "deps").is_dir()
