"""Prepare emulated arm64 interpreters for the tests: qemu-user-static and aarch64 CPython sysroots.

Run ``python tests/support/arm64_sysroot.py`` (``make test-setup`` does). It

1. makes sure ``qemu-aarch64-static`` is on PATH: when it is not and we are root on a Debian-like
   host, ``apt-get install -y qemu-user-static`` (after ``apt-get update`` when apt knows no
   candidate);
2. builds one sysroot per entry of :data:`SUITES` under ``<cache>/arm64-sysroot/<suite>``:
   Debian's aarch64 ``pythonX.Y-minimal`` + ``libpythonX.Y-stdlib`` and their library dependency
   closure (``apt-cache depends --recurse``, minus :data:`NOT_NEEDED`), fetched with
   ``apt-get download`` and unpacked with ``dpkg-deb -x``; then byte-compiles its standard
   library (with a host CPython of the same minor version when there is one: seconds instead of
   ~45 s under qemu) and checks that ``qemu-aarch64-static -L <sysroot> python`` imports ssl,
   ctypes, sqlite3, decimal.

apt runs with a private configuration under ``<cache>/apt/<suite>`` (its own sources list,
package lists, cache and an empty dpkg status, ``APT::Architecture=arm64``): the host's dpkg
architectures and apt lists stay untouched (no ``dpkg --add-architecture``), the same recipe
works for a Debian release other than the host's (trixie for CPython 3.13 on a bookworm host),
and no root is needed for this step. Measured here (2 cores): bookworm/3.11 = 29 packages,
12.5 MB of .deb; trixie/3.13 = 21 packages, 14 MB; each sysroot ~75 MB unpacked; the first
preparation takes 14-25 s for both, later runs ~0.1 s (a stamp file per sysroot). Installing
qemu-user-static took ~10 s.

The sysroots' glibc (2.36 bookworm, 2.41 trixie) is newer than Lambda's (2.26 / 2.34): these
interpreters prove that binaries load for the architecture and Python version; the audit checks
glibc symbol versions.

``<cache>`` is ``$LAMBDA_WHEELS_TEST_CACHE``, else ``$XDG_CACHE_HOME/lambda-wheels-tests``
(``~/.cache/...``); it lives outside the work tree so CI's fresh clones reuse it. Exit status:
0 when ready; on failure 1 when ``CI=true`` or ``--strict`` (setup must fail loudly there), else
0 after printing why the arm64 tests will be skipped. ``--print-env`` prints the
``LAMBDA_WHEELS_ARM64_SYSROOT=...`` line that makes ``lambda-wheels smoke`` use the sysroots.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Bump when the recipe changes: existing sysroots with another value are rebuilt.
RECIPE = 2
QEMU = "qemu-aarch64-static"
STAMP = ".lambda-wheels-sysroot.json"
MIRROR = os.environ.get("LAMBDA_WHEELS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class Suite:
    """A Debian release and the CPython minor version whose aarch64 build it provides."""

    name: str
    python: str

    @property
    def roots(self) -> tuple[str, ...]:
        return (f"python{self.python}-minimal", f"libpython{self.python}-stdlib", *LAMBDA_LIBS)


#: Libraries Lambda's OS provides that manylinux wheels may link without bundling them
#: (LAMBDA-FACTS: libc/libm/... from glibc, libgcc_s, libstdc++, libz; libnsl on AL2): numpy >=
#: 2.3's aarch64 wheels need the system libstdc++.so.6, for one.
LAMBDA_LIBS = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g")


#: Debian 12 ships CPython 3.11, Debian 13 CPython 3.13 (packages.debian.org).
SUITES: tuple[Suite, ...] = (Suite("bookworm", "3.11"), Suite("trixie", "3.13"))

#: Dependencies an import test does not need (configuration, data and Arch: all packages that
#: pull in debconf, perl, ...). Everything else in the closure is unpacked.
NOT_NEEDED = frozenset(
    {
        "cdebconf",
        "debconf",
        "debconf-2.0",
        "media-types",
        "mime-support",
        "netbase",
        "perl-base",
        "readline-common",
        "tzdata",
        "tzdata-legacy",
    }
)

#: Modules whose import proves a sysroot complete (shared libraries and extension modules).
CHECK_IMPORTS = "ssl, ctypes, sqlite3, decimal, lzma, bz2, zlib, hashlib, json, uuid"


class SetupError(RuntimeError):
    """Preparing the emulated interpreters failed; the message says why and what to do."""


@dataclass
class Report:
    """What :func:`prepare` did and found."""

    cache_dir: Path
    qemu: str | None = None
    sysroots: dict[str, Path] = field(default_factory=dict)  # "3.11" -> sysroot
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sysroot_dir(self) -> Path:
        return self.cache_dir / "arm64-sysroot"

    @property
    def ready(self) -> bool:
        return self.qemu is not None and bool(self.sysroots)

    def describe(self) -> str:
        lines = [f"qemu: {self.qemu or 'missing'}"]
        for version, root in sorted(self.sysroots.items()):
            lines.append(f"aarch64 CPython {version}: {root}/usr/bin/python{version}")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"time {k}: {v:.1f} s" for k, v in self.timings.items()]
        return "\n".join(lines)


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    given = environ.get("LAMBDA_WHEELS_TEST_CACHE")
    if given:
        return Path(given)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-wheels-tests"


def ensure_sysroot(cache_dir: Path | None = None) -> Path | None:
    """Prepare qemu and the sysroots; return the folder of sysroots (a value for
    ``LAMBDA_WHEELS_ARM64_SYSROOT``), or ``None`` when arm64 emulation is not available here
    (the reasons are printed to stderr)."""
    report = prepare(cache_dir or default_cache_dir())
    if not report.ready:
        for problem in report.problems:
            print(f"arm64 setup: {problem}", file=sys.stderr)
        return None
    return report.sysroot_dir


def prepare(
    cache_dir: Path,
    *,
    install_qemu: bool = True,
    build: bool = True,
    suites: Sequence[Suite] = SUITES,
) -> Report:
    """Make qemu and one sysroot per suite available; never raises for a missing piece.

    Args:
        cache_dir: where the sysroots and apt's private state live.
        install_qemu: install qemu-user-static with apt-get when missing (root only).
        build: build missing sysroots (network); when false only report what is there.
        suites: the Debian releases to build sysroots from.
    """
    report = Report(cache_dir)
    started = time.monotonic()
    report.qemu = shutil.which(QEMU)
    if report.qemu is None and install_qemu:
        try:
            report.qemu = _install_qemu()
        except SetupError as exc:
            report.problems.append(str(exc))
    elif report.qemu is None:
        report.problems.append(f"{QEMU} is not on PATH ({_qemu_hint()})")
    report.timings["qemu"] = time.monotonic() - started
    report.sysroot_dir.mkdir(parents=True, exist_ok=True)
    with _lock(report.sysroot_dir / ".lock"):
        _prepare_sysroots(report, cache_dir, build=build, suites=suites)
    return report


def _lock(path: Path) -> contextlib.AbstractContextManager[object]:
    """One builder at a time (make test-setup and a pytest session may overlap)."""
    try:
        from filelock import FileLock
    except ImportError:  # pragma: no cover - filelock is a dependency of the project
        return contextlib.nullcontext()
    return FileLock(str(path), timeout=1800)


def _prepare_sysroots(
    report: Report, cache_dir: Path, *, build: bool, suites: Sequence[Suite]
) -> None:
    for suite in suites:
        started = time.monotonic()
        root = report.sysroot_dir / suite.name
        try:
            if _stamp_ok(root, suite):
                report.sysroots[suite.python] = root
            elif not build:
                report.problems.append(
                    f"no {suite.name} sysroot for aarch64 CPython {suite.python} at {root}; "
                    "run `make test-setup` (python tests/support/arm64_sysroot.py)"
                )
            else:
                build_sysroot(suite, root, cache_dir / "apt" / suite.name, qemu=report.qemu)
                report.sysroots[suite.python] = root
        except SetupError as exc:
            report.problems.append(f"{suite.name} / CPython {suite.python}: {exc}")
        report.timings[f"sysroot {suite.name}"] = time.monotonic() - started


# -- qemu ------------------------------------------------------------------------------------


def _qemu_hint() -> str:
    return "install it: apt-get install qemu-user-static (as root)"


def _install_qemu() -> str:
    if not sys.platform.startswith("linux") or shutil.which("apt-get") is None:
        raise SetupError(f"{QEMU} is not on PATH and this host has no apt-get; install qemu-user")
    if os.geteuid() != 0:
        raise SetupError(f"{QEMU} is not on PATH and we are not root: {_qemu_hint()}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = _run(["apt-cache", "policy", "qemu-user-static"], env=env, check=False)
    if "Candidate:" not in policy or "Candidate: (none)" in policy:
        _run(["apt-get", "update", "-qq"], env=env)
    install = ["apt-get", "-oDPkg::Lock::Timeout=300", "install", "-y", "-qq"]
    _run([*install, "--no-install-recommends", "qemu-user-static"], env=env)
    found = shutil.which(QEMU)
    if found is None:
        raise SetupError(f"apt-get installed qemu-user-static but {QEMU} is not on PATH")
    return found


# -- sysroots --------------------------------------------------------------------------------


def _stamp_ok(root: Path, suite: Suite) -> bool:
    try:
        stamp = json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    python = root / "usr" / "bin" / f"python{suite.python}"
    return (
        stamp.get("recipe") == RECIPE and stamp.get("python") == suite.python and python.is_file()
    )


def apt_options(apt_dir: Path, *, arch: str = "arm64") -> list[str]:
    """apt options that confine apt to ``apt_dir`` and make ``arch`` (a Debian architecture)
    its only one."""
    return [
        f"-oDir::Etc::sourcelist={apt_dir / 'sources.list'}",
        "-oDir::Etc::sourceparts=-",
        f"-oDir::Etc::preferencesparts={apt_dir / 'preferences.d'}",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        f"-oDir::State::status={apt_dir / 'status'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        f"-oAPT::Architecture={arch}",
        f"-oAPT::Architectures::={arch}",
        "-oDebug::NoLocking=1",
        "-oAcquire::Languages=none",
        *(["-oAPT::Sandbox::User=root"] if _is_root() else []),
    ]


def parse_depends(text: str) -> dict[str, list[list[str]]]:
    """Parse ``apt-cache depends --recurse`` output into package -> dependency groups.

    Each group lists alternatives (``|Depends: a`` then ``Depends: b`` is one group ``[a, b]``).
    The indented names under a dependency on a virtual package ``<v>`` are its providers; they
    become the groups of ``<v>``.
    """
    graph: dict[str, list[list[str]]] = {}
    current: str | None = None
    last: str | None = None
    pending: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current, last, pending = line.strip(), None, []
            graph.setdefault(current, [])
            continue
        if current is None:
            continue
        match = re.match(r"^ ([|\s])(?:PreDepends|Depends): (\S+)", line)
        if match:
            last = match.group(2)
            pending.append(last)
            if match.group(1) != "|":
                graph[current].append(pending)
                pending = []
        elif line.startswith("    ") and last is not None and last.startswith("<"):
            providers = graph.setdefault(last, [])
            if [line.strip()] not in providers:
                providers.append([line.strip()])
    return graph


def closure(
    graph: Mapping[str, list[list[str]]],
    roots: Iterable[str],
    *,
    not_needed: frozenset[str] = NOT_NEEDED,
) -> list[str]:
    """Real packages needed by ``roots``: first usable alternative of each group, providers
    for virtual packages, nothing in ``not_needed``."""
    needed: list[str] = []
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        bare = name.strip("<>")
        if name in seen or bare in not_needed:
            continue
        seen.add(name)
        if name.startswith("<"):  # virtual: take its first wanted provider
            providers = [g[0] for g in graph.get(name, []) if g[0] not in not_needed]
            stack.extend(providers[:1])
            continue
        needed.append(name)
        for group in graph.get(name, []):
            choice = next((alt for alt in group if alt.strip("<>") not in not_needed), None)
            if choice is not None:
                stack.append(choice)
    return sorted(needed)


def package_closure(
    apt_dir: Path,
    suite: str,
    roots: Sequence[str],
    *,
    arch: str = "arm64",
    not_needed: frozenset[str] = NOT_NEEDED,
) -> list[str]:
    """The Debian packages ``roots`` need in ``suite`` for ``arch``, found with a private apt
    configuration in ``apt_dir`` (made here): :func:`closure` of ``apt-cache depends``."""
    for sub in ("lists/partial", "cache/archives/partial", "preferences.d"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "status").touch()
    (apt_dir / "sources.list").write_text(
        f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n", encoding="utf-8"
    )
    opts = apt_options(apt_dir, arch=arch)
    _run(["apt-get", *opts, "-qq", "update"])
    depends = _run(
        [
            "apt-cache",
            *opts,
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *roots,
        ]
    )
    return closure(parse_depends(depends), roots, not_needed=not_needed)


def build_sysroot(suite: Suite, root: Path, apt_dir: Path, *, qemu: str | None) -> None:
    """Download, unpack, byte-compile and check one sysroot; replaces ``root`` atomically."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found: building a sysroot needs a Debian-like host")
    if not Path(KEYRING).is_file():
        raise SetupError(f"{KEYRING} missing: apt-get install debian-archive-keyring")
    packages = package_closure(apt_dir, suite.name, suite.roots)
    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = root.parent.parent / "staging"  # same file system (rename), not among sysroots
    scratch.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{suite.name}-", dir=scratch))
    try:
        debs = staging / "debs"
        tree = staging / "root"
        debs.mkdir()
        tree.mkdir()
        _run(["apt-get", *apt_options(apt_dir), "-qq", "download", *packages], cwd=debs)
        versions: dict[str, str] = {}
        for deb in sorted(debs.glob("*.deb")):
            name, version, _ = deb.name.split("_", 2)
            versions[name] = version.replace("%3a", ":")
            _run(["dpkg-deb", "-x", str(deb), str(tree)])
        missing = sorted(set(packages) - set(versions))
        if missing:
            raise SetupError(f"apt-get download did not fetch {', '.join(missing)}")
        _merge_usr(tree)
        python = tree / "usr" / "bin" / f"python{suite.python}"
        if not python.is_file():
            raise SetupError(f"{python.name} is not in the unpacked packages")
        _compile_stdlib(tree, suite, qemu)
        if qemu is not None:  # the CPU smoke uses for Lambda's Graviton2 (EMULATOR_CPU)
            emulated = [qemu, "-cpu", "neoverse-n1", "-L", str(tree), str(python)]
            _run([*emulated, "-I", "-S", "-c", f"import {CHECK_IMPORTS}"], timeout=300)
        size = sum(f.stat().st_size for f in debs.glob("*.deb"))
        stamp = {
            "recipe": RECIPE,
            "suite": suite.name,
            "python": suite.python,
            "mirror": MIRROR,
            "packages": versions,
            "deb_bytes": size,
        }
        (tree / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True), encoding="utf-8")
        shutil.rmtree(debs)
        if root.exists():
            shutil.rmtree(root)
        tree.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(apt_dir, ignore_errors=True)  # package lists go stale; the next build updates


def _merge_usr(tree: Path) -> None:
    """Recreate the merged-/usr symlinks (``/lib -> usr/lib`` ...) that base-files makes on a real
    system: the ELF interpreter of Debian's binaries is ``/lib/ld-linux-aarch64.so.1``."""
    for name in ("bin", "sbin", "lib"):
        top, usr = tree / name, tree / "usr" / name
        if usr.is_dir() and not top.exists() and not top.is_symlink():
            top.symlink_to(Path("usr") / name)


def _compile_stdlib(tree: Path, suite: Suite, qemu: str | None) -> None:
    """Write the standard library's ``.pyc`` files (Debian's packages ship none; its postinst
    compiles them): without them each emulated start re-compiles what it imports."""
    stdlib = tree / "usr" / "lib" / f"python{suite.python}"
    exclude = r"[/\\](test|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data)[/\\]"
    host = _host_python(suite.python)
    if host is not None:
        command = [host, "-I", "-m", "compileall", "-q", "-j0", "-x", exclude, str(stdlib)]
    elif qemu is not None:  # multiprocessing cannot re-exec itself under qemu: no -j
        python = str(tree / "usr" / "bin" / f"python{suite.python}")
        command = [qemu, "-L", str(tree), python, "-I", "-m", "compileall", "-q"]
        command += ["-x", exclude, str(stdlib)]
    else:
        return
    _run(command, check=False, timeout=900)  # a few files may not compile: that is fine


def _host_python(version: str) -> str | None:
    """A native CPython ``version`` (its bytecode format is the target's: same magic number)."""
    if "{}.{}".format(*sys.version_info[:2]) == version:
        return sys.executable
    try:
        from lambda_wheels_cdk.core.interpreters import Interpreter, find_interpreter
        from lambda_wheels_cdk.core.target import Target
    except ImportError:
        return None
    import platform

    try:
        target = Target.for_runtime(f"python{version}", platform.machine())
    except ValueError:
        return None
    found = find_interpreter(target)
    return found.command[0] if isinstance(found, Interpreter) else None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> str:
    """Run a command and return its stdout; with ``check``, a failure raises :class:`SetupError`
    carrying the end of its output."""
    try:
        proc = subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{' '.join(command[:3])} ...: {exc}") from exc
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise SetupError(f"`{' '.join(command[:4])} ...` failed ({proc.returncode}): {tail}")
    return proc.stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: see module doc")
    parser.add_argument("--strict", action="store_true", help="fail when not ready (CI=true)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install qemu")
    parser.add_argument("--print-env", action="store_true", help="print the sysroot variable")
    args = parser.parse_args(argv)
    strict = args.strict or os.environ.get("CI", "").lower() == "true"
    cache = args.cache_dir or default_cache_dir()
    started = time.monotonic()
    report = prepare(cache, install_qemu=not args.no_install)
    took = time.monotonic() - started
    if args.print_env:
        print(f"LAMBDA_WHEELS_ARM64_SYSROOT={report.sysroot_dir}")
        return 0 if report.ready or not strict else 1
    print(f"arm64 test setup ({took:.1f} s):")
    print("  " + report.describe().replace("\n", "\n  "))
    if report.ready and not report.problems:
        return 0
    if report.ready:
        print("arm64 tests run with the sysroots above; the others are skipped.")
        return 1 if strict else 0
    print(
        "arm64 emulation is NOT available: the arm64 smoke tests will be skipped.", file=sys.stderr
    )
    if strict:
        print("CI=true (or --strict): failing.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
