"""Prepare the tests' target interpreters: Debian CPython sysroots, and qemu for arm64.

Run ``python tests/support/sysroots.py`` (``make test-setup`` does). It

1. makes sure ``qemu-aarch64-static`` is on PATH: when it is not and we are root on a Debian-like
   host, ``apt-get install -y qemu-user-static`` (after ``apt-get update`` when apt knows no
   candidate);
2. builds one sysroot per entry of :data:`SUITES` under ``<cache>/<arch>-sysroot/<suite>``
   (``arm64-sysroot/bookworm``, ``x86_64-sysroot/sid``, ...): Debian's ``pythonX.Y-minimal`` +
   ``libpythonX.Y-stdlib`` for that architecture and their library dependency closure
   (``apt-cache depends --recurse``, minus :data:`NOT_NEEDED`), fetched with ``apt-get
   download`` and unpacked with ``dpkg-deb -x``; then byte-compiles its standard library (with
   any CPython of the same minor version that runs here, found as lambda-wheels finds a bytecode
   compiler: seconds natively instead of ~45 s under qemu) and checks that the sysroot's
   interpreter imports ssl, ctypes, sqlite3, decimal, ... the way lambda-wheels runs it.

How lambda-wheels runs a sysroot's interpreter (``smoke/interpreters.py``): a foreign architecture
under ``qemu-aarch64-static -cpu neoverse-n1 -L <sysroot>``; the host's own architecture through
the sysroot's loader, ``<sysroot>/lib64/ld-linux-x86-64.so.2 --library-path
<sysroot>/lib/x86_64-linux-gnu:<sysroot>/usr/lib/x86_64-linux-gnu <sysroot>/usr/bin/python3.14``,
because sid's glibc (2.43) is newer than a Debian 12 host's (2.36): the host's loader refuses the
binary (``GLIBC_2.38 not found``). CPython finds its prefix from ``argv[0]``: no ``PYTHONHOME``.

No CPython 3.14 is packaged for Debian 12 or 13 and none is on pyenv here, so python3.14 comes
from Debian's unstable suite (sid) for amd64 and arm64: ``python3.14`` 3.14.10-1 there when this
was written. sid moves: when it drops python3.14, point the suite at ``forky`` (Debian 14
testing) or at snapshot.debian.org via ``LAMBDA_WHEELS_DEBIAN_MIRROR``.

apt runs with a private configuration under ``<cache>/apt/<arch>-<suite>`` (its own sources
list, package lists, cache and an empty dpkg status, ``APT::Architecture=<arch>``): the host's
dpkg architectures and apt lists stay untouched (no ``dpkg --add-architecture``), the same recipe
works for a Debian release other than the host's (trixie for CPython 3.13 and sid for 3.14 on a
bookworm host), and no root is needed for this step. Measured here (2 cores): bookworm/3.11 = 29
packages, 12.5 MB of .deb; trixie/3.13 = 21 packages, 14 MB; sid/3.14 = 22 packages, 16 MB
(amd64) and 15 MB (arm64); each sysroot ~75 MB unpacked; the first preparation takes 14-25 s
for bookworm + trixie and ~20 s for both sid sysroots, later runs ~0.1 s (a stamp file per
sysroot). Installing qemu-user-static took ~10 s.

The sysroots' glibc (2.36 bookworm, 2.41 trixie, 2.43 sid) is newer than Lambda's (2.26 / 2.34):
these interpreters prove that binaries load for the architecture and Python version; the audit
checks glibc symbol versions.

``<cache>`` is ``$LAMBDA_WHEELS_TEST_CACHE``, else ``$XDG_CACHE_HOME/lambda-wheels-tests``
(``~/.cache/...``); it lives outside the work tree so CI's fresh clones reuse it. Exit status:
0 when ready; on failure 1 when ``CI=true`` or ``--strict`` (setup must fail loudly there), else
0 after printing which tests will be skipped. ``--print-env`` prints the
``LAMBDA_WHEELS_ARM64_SYSROOT=...`` and ``LAMBDA_WHEELS_X86_64_SYSROOT=...`` lines that make
``lambda-wheels smoke`` and ``build`` (bytecode) use the sysroots.
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
from dataclasses import dataclass, field, replace
from pathlib import Path

from lambda_wheels_cdk.smoke.interpreters import (
    SYSROOT_ENV,
    Compiler,
    Host,
    find_compiler,
    sysroot_interpreter,
)
from lambda_wheels_cdk.target.runtimes import LAMBDA_ARCH, WheelArch

#: Bump when the recipe changes: existing sysroots with another value are rebuilt. (Worktrees of
#: older commits share the cache: a bump makes them rebuild too.)
RECIPE = 2
QEMU = "qemu-aarch64-static"
STAMP = ".lambda-wheels-sysroot.json"
MIRROR = os.environ.get("LAMBDA_WHEELS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

#: Debian architecture name -> wheel architecture.
DEBIAN_ARCH: Mapping[str, WheelArch] = {"arm64": "aarch64", "amd64": "x86_64"}


@dataclass(frozen=True)
class Suite:
    """A Debian release, the CPython minor version it provides, and the Debian architecture."""

    name: str
    python: str
    arch: str = "arm64"

    @property
    def roots(self) -> tuple[str, ...]:
        return (f"python{self.python}-minimal", f"libpython{self.python}-stdlib", *LAMBDA_LIBS)

    @property
    def wheel_arch(self) -> WheelArch:
        return DEBIAN_ARCH[self.arch]

    @property
    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python.split(".")
        return int(major), int(minor)

    def __str__(self) -> str:
        return f"{self.name}/{self.arch} (CPython {self.python})"


#: Libraries Lambda's OS provides that manylinux wheels may link without bundling them
#: (LAMBDA-FACTS: libc/libm/... from glibc, libgcc_s, libstdc++, libz; libnsl on AL2): numpy >=
#: 2.3's aarch64 wheels need the system libstdc++.so.6, for one.
LAMBDA_LIBS = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g")


#: Debian 12 ships CPython 3.11, Debian 13 CPython 3.13, unstable (sid) CPython 3.14
#: (packages.debian.org). The amd64 sid sysroot comes before the arm64 one: its CPython, run
#: natively through its loader, compiles the arm64 one's standard library.
SUITES: tuple[Suite, ...] = (
    Suite("bookworm", "3.11"),
    Suite("trixie", "3.13"),
    Suite("sid", "3.14", "amd64"),
    Suite("sid", "3.14", "arm64"),
)

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
    """Preparing the interpreters failed; the message says why and what to do."""


@dataclass
class Report:
    """What :func:`prepare` did and found."""

    cache_dir: Path
    qemu: str | None = None
    #: (wheel architecture, "X.Y") -> sysroot
    sysroots: dict[tuple[WheelArch, str], Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def sysroot_dir(self, arch: WheelArch = "aarch64") -> Path:
        """The folder of ``arch`` sysroots (a value for :data:`SYSROOT_ENV`)."""
        return self.cache_dir / f"{LAMBDA_ARCH[arch]}-sysroot"

    @property
    def ready(self) -> bool:
        """arm64 emulation works: qemu and at least one aarch64 sysroot."""
        return self.qemu is not None and any(arch == "aarch64" for arch, _ in self.sysroots)

    def environ(self) -> dict[str, str]:
        """The sysroot variables that point lambda-wheels at these sysroots."""
        return {SYSROOT_ENV[arch]: str(self.sysroot_dir(arch)) for arch in SYSROOT_ENV}

    def host(self, base: Host | None = None) -> Host:
        """``base`` (default: this host) with :meth:`environ` in its environment."""
        base = Host.current() if base is None else base
        return replace(base, environ={**base.environ, **self.environ()})

    def describe(self) -> str:
        lines = [f"qemu: {self.qemu or 'missing'}"]
        for (arch, version), root in sorted(self.sysroots.items()):
            lines.append(f"{arch} CPython {version}: {root}/usr/bin/python{version}")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"time {k}: {v:.1f} s" for k, v in self.timings.items()]
        return "\n".join(lines)


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    given = environ.get("LAMBDA_WHEELS_TEST_CACHE")
    if given:
        return Path(given)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-wheels-tests"


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
        suites: the Debian releases and architectures to build sysroots from.
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
    for suite in suites:
        folder = report.sysroot_dir(suite.wheel_arch)
        folder.mkdir(parents=True, exist_ok=True)
        with _lock(folder / ".lock"):
            _prepare_sysroot(report, cache_dir, suite, build=build)
    return report


def _lock(path: Path) -> contextlib.AbstractContextManager[object]:
    """One builder at a time (make test-setup and a pytest session may overlap)."""
    try:
        from filelock import FileLock
    except ImportError:  # pragma: no cover - filelock is a dependency of the project
        return contextlib.nullcontext()
    return FileLock(str(path), timeout=1800)


def _prepare_sysroot(report: Report, cache_dir: Path, suite: Suite, *, build: bool) -> None:
    started = time.monotonic()
    root = report.sysroot_dir(suite.wheel_arch) / suite.name
    try:
        if _stamp_ok(root, suite):
            report.sysroots[(suite.wheel_arch, suite.python)] = root
        elif not build:
            report.problems.append(
                f"no {suite} sysroot at {root}; run `make test-setup` "
                "(python tests/support/sysroots.py)"
            )
        else:
            build_sysroot(suite, root, cache_dir / "apt" / f"{suite.arch}-{suite.name}", report)
            report.sysroots[(suite.wheel_arch, suite.python)] = root
    except SetupError as exc:
        report.problems.append(f"{suite}: {exc}")
    report.timings[f"sysroot {suite.name}/{suite.arch}"] = time.monotonic() - started


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
        stamp.get("recipe") == RECIPE
        and stamp.get("python") == suite.python
        and stamp.get("arch", "arm64") == suite.arch  # stamps before sid: arm64 only
        and python.is_file()
    )


def apt_options(apt_dir: Path, arch: str = "arm64") -> list[str]:
    """apt options that confine apt to ``apt_dir`` and make ``arch`` (Debian's name) its only
    architecture."""
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
    """The Debian packages ``roots`` need in ``suite`` for ``arch`` (Debian's name), found with
    a private apt configuration in ``apt_dir`` (made here): :func:`closure` of ``apt-cache
    depends``. The sysroots and the Docker suite's stand-in images share it."""
    for sub in ("lists/partial", "cache/archives/partial", "preferences.d"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "status").touch()
    (apt_dir / "sources.list").write_text(
        f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n", encoding="utf-8"
    )
    opts = apt_options(apt_dir, arch)
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


def build_sysroot(suite: Suite, root: Path, apt_dir: Path, report: Report) -> None:
    """Download, unpack, byte-compile and check one sysroot; replaces ``root`` atomically.

    ``report`` names the sysroots built so far (a CPython among them may compile this one's
    standard library)."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found: building a sysroot needs a Debian-like host")
    if not Path(KEYRING).is_file():
        raise SetupError(f"{KEYRING} missing: apt-get install debian-archive-keyring")
    packages = package_closure(apt_dir, suite.name, suite.roots, arch=suite.arch)
    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = root.parent.parent / "staging"  # same file system (rename), not among sysroots
    scratch.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{suite.name}-{suite.arch}-", dir=scratch))
    try:
        debs = staging / "debs"
        tree = staging / "root"
        debs.mkdir()
        tree.mkdir()
        _run(["apt-get", *apt_options(apt_dir, suite.arch), "-qq", "download", *packages], cwd=debs)
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
        host = _host_with(report, suite, tree)
        _compile_stdlib(tree, suite, host)
        # run as lambda-wheels runs it: its loader natively, or qemu -cpu neoverse-n1 -L
        runner = sysroot_interpreter(suite.python_tuple, suite.wheel_arch, host)
        if runner is not None:
            _run([*runner.command, "-I", "-S", "-c", f"import {CHECK_IMPORTS}"], timeout=300)
        elif suite.wheel_arch == host.arch:
            raise SetupError(f"no loader {tree}/lib64 or lib/ld-linux-*.so.* in the packages")
        size = sum(f.stat().st_size for f in debs.glob("*.deb"))
        stamp = {
            "recipe": RECIPE,
            "suite": suite.name,
            "python": suite.python,
            "arch": suite.arch,
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
    system: the ELF interpreter of Debian's binaries is ``/lib/ld-linux-aarch64.so.1`` (arm64) or
    ``/lib64/ld-linux-x86-64.so.2`` (amd64)."""
    for name in ("bin", "sbin", "lib", "lib64"):
        top, usr = tree / name, tree / "usr" / name
        if usr.is_dir() and not top.exists() and not top.is_symlink():
            top.symlink_to(Path("usr") / name)


def _host_with(report: Report, suite: Suite, tree: Path) -> Host:
    """This host with the sysroot variables pointing at the sysroots built so far, and ``tree``
    (the sysroot being built) first for its architecture."""
    host = report.host()
    variable = SYSROOT_ENV[suite.wheel_arch]
    environ = {**host.environ, variable: os.pathsep.join([str(tree), host.environ[variable]])}
    return replace(host, environ=environ)


def _compile_stdlib(tree: Path, suite: Suite, host: Host) -> None:
    """Write the standard library's ``.pyc`` files (Debian's packages ship none; its postinst
    compiles them): without them each start re-compiles what it imports.

    The compiler is any CPython of the suite's version that runs here, found as lambda-wheels
    finds a bytecode compiler (:func:`find_compiler`: PATH, pyenv, uv, then sysroots: this one
    or another architecture's through its loader, else this one under qemu). A plain executable
    compiles in parallel; a loader- or qemu-run one cannot (``compileall -j`` re-executes
    ``sys.executable``, which only its loader or qemu can start)."""
    stdlib = tree / "usr" / "lib" / f"python{suite.python}"
    exclude = r"[/\\](test|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data)[/\\]"
    found = find_compiler(suite.python_tuple, host=host)
    if not isinstance(found, Compiler):
        return
    parallel = ["-j0"] if len(found.command) == 1 else []
    command = [*found.command, "-I", "-m", "compileall", "-q", *parallel, "-x", exclude]
    _run([*command, str(stdlib)], check=False, timeout=900)  # a few files may not compile


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
    parser.add_argument("--print-env", action="store_true", help="print the sysroot variables")
    args = parser.parse_args(argv)
    strict = args.strict or os.environ.get("CI", "").lower() == "true"
    cache = args.cache_dir or default_cache_dir()
    started = time.monotonic()
    report = prepare(cache, install_qemu=not args.no_install)
    took = time.monotonic() - started
    complete = report.ready and not report.problems
    if args.print_env:
        for name, value in sorted(report.environ().items()):
            print(f"{name}={value}")
        return 0 if complete or not strict else 1
    print(f"test interpreters setup ({took:.1f} s):")
    print("  " + report.describe().replace("\n", "\n  "))
    if complete:
        return 0
    if report.ready:
        print("the tests run with the sysroots above; the others' tests are skipped.")
    else:
        print(
            "arm64 emulation is NOT available: the arm64 smoke tests will be skipped.",
            file=sys.stderr,
        )
    if strict:
        print("CI=true (or --strict): failing.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
