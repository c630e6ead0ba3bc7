"""Find a CPython that can import a bundle built for a Lambda target, on this host.

This is the one module under ``core`` that looks at the host. For smoke tests it only looks: it
reads ``PATH``, pyenv's and uv's interpreter folders, and the sysroot settings, and never runs
anything. For bytecode (:func:`find_compiler`) any CPython of the target's version will do, on
any OS and architecture; candidates are probed (run once) before they are trusted.
Every host fact comes in through a :class:`Host` value, so the search is a pure function of it
and tests pass a fake one (``Host.current()`` is the only place that reads the real host).

Where an interpreter comes from, in order:

1. Native (host architecture == target architecture, Linux only): ``pythonX.Y`` on ``PATH``
   (shims such as pyenv's ``shims/`` are skipped: they may point at another version), then
   pyenv (``$PYENV_ROOT`` or ``~/.pyenv``; ``versions/X.Y.N``, newest N first), then uv's managed
   interpreters (``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python``).
   When none of them has it, a sysroot's CPython (below) started by the sysroot's own dynamic
   loader: ``<sysroot>/lib64/ld-linux-x86-64.so.2 --library-path <sysroot>/lib/x86_64-linux-gnu:...
   <sysroot>/usr/bin/python3.14`` (:data:`LOADER`, :data:`LIBRARY_DIRS`). The loader, not the
   host's, runs it, so a sysroot whose glibc is newer than the host's works (Debian sid's
   CPython 3.14 on a Debian 12 host). No ``PYTHONHOME`` is needed (``-I`` would ignore it
   anyway): CPython finds its prefix from ``argv[0]``, which the loader sets to the sysroot's
   ``usr/bin/pythonX.Y``. That is also ``sys.executable``, which the host cannot run directly:
   code that re-executes it (``multiprocessing`` with spawn/forkserver) fails there.
2. Emulated (a foreign target architecture on Linux): ``qemu-<arch>-static`` (or ``qemu-<arch>``)
   on ``PATH`` running ``<sysroot>/usr/bin/pythonX.Y`` as ``qemu-aarch64-static -cpu neoverse-n1
   -L <sysroot> <sysroot>/usr/bin/python3.11`` (:data:`EMULATOR_CPU`).

Sysroots come from :data:`SYSROOT_ENV` (``LAMBDA_WHEELS_ARM64_SYSROOT``,
``LAMBDA_WHEELS_X86_64_SYSROOT``; ``os.pathsep`` separated; each entry is a sysroot or a folder
of sysroots), else from ``$XDG_CACHE_HOME/lambda-wheels/<arch>-sysroot`` (default
``~/.cache/...``), a folder of sysroots. ``tests/support/sysroots.py`` builds sysroots from
Debian's packages (``--print-env`` prints the variables to set).

macOS and Windows hosts find nothing: their CPython cannot load manylinux binaries, so a smoke
test there is skipped with a reason instead of pretending.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Final, Optional, Union

from ..events import Log, quiet
from ..target.runtimes import DATACLASS_SLOTS, LAMBDA_ARCH, WheelArch
from ..target.target import Target

#: ``platform.machine()`` spellings -> wheel architecture (Linux reports x86_64/aarch64, Windows
#: AMD64/ARM64, macOS x86_64/arm64).
HOST_MACHINE: Final[Mapping[str, WheelArch]] = MappingProxyType(
    {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
)

#: Environment variable naming the sysroots that hold a foreign-architecture CPython.
SYSROOT_ENV: Final[Mapping[WheelArch, str]] = MappingProxyType(
    {"aarch64": "LAMBDA_WHEELS_ARM64_SYSROOT", "x86_64": "LAMBDA_WHEELS_X86_64_SYSROOT"}
)

#: qemu user-mode emulators per target architecture, preferred first (Debian's
#: ``qemu-user-static`` ships the ``-static`` names; ``qemu-user`` the plain ones).
EMULATORS: Final[Mapping[WheelArch, tuple[str, ...]]] = MappingProxyType(
    {
        "aarch64": ("qemu-aarch64-static", "qemu-aarch64"),
        "x86_64": ("qemu-x86_64-static", "qemu-x86_64"),
    }
)

#: The CPU qemu emulates, per target architecture: Lambda's arm64 functions run on AWS Graviton2
#: (Neoverse N1, Armv8.2; Lambda docs, "Lambda instruction set architectures"), so a wheel
#: built for newer cores (SVE, Armv8.4+) fails here as it would there. qemu >= 6.2 knows it.
EMULATOR_CPU: Final[Mapping[WheelArch, str]] = MappingProxyType({"aarch64": "neoverse-n1"})

#: The dynamic loader a glibc binary names as its ELF interpreter (``PT_INTERP``), relative to
#: the root: System V x86-64 psABI (``/lib64/ld-linux-x86-64.so.2``) and glibc's aarch64 port
#: (``/lib/ld-linux-aarch64.so.1``). A sysroot's CPython is started by the sysroot's loader.
LOADER: Final[Mapping[WheelArch, str]] = MappingProxyType(
    {"x86_64": "lib64/ld-linux-x86-64.so.2", "aarch64": "lib/ld-linux-aarch64.so.1"}
)

#: A sysroot's library folders, given to its loader as ``--library-path`` (those that exist):
#: Debian's multiarch folders, then the ``lib64`` ones of Fedora and Amazon Linux.
LIBRARY_DIRS: Final[Mapping[WheelArch, tuple[str, ...]]] = MappingProxyType(
    {
        "x86_64": ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64"),
        "aarch64": ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib64", "usr/lib64"),
    }
)

#: What the probe prints: enough to trust an interpreter and to name its files.
_PROBE: Final = (
    "import sys, importlib.util, json; print(json.dumps({'impl': sys.implementation.name, "
    "'version': list(sys.version_info[:3]), 'magic': importlib.util.MAGIC_NUMBER.hex(), "
    "'tag': sys.implementation.cache_tag}))"
)

#: How to get an emulator (shown in skip reasons).
EMULATOR_HINT: Final = (
    "install qemu user-mode emulation (Debian/Ubuntu: apt-get install qemu-user-static)"
)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Host:
    """The facts about the build host that interpreter discovery reads.

    Attributes:
        system: ``platform.system()`` (``"Linux"``, ``"Darwin"``, ``"Windows"``).
        machine: ``platform.machine()`` as reported (``"x86_64"``, ``"AMD64"``, ``"arm64"``).
        environ: the environment (``PATH``, ``PYENV_ROOT``, sysroot variables, ...).
        home: the user's home folder (for ``~/.pyenv`` and ``~/.cache``).
        executable: this process's interpreter (``sys.executable``), if any.
        python: its minor version.
    """

    system: str
    machine: str
    environ: Mapping[str, str]
    home: Path
    executable: str = ""
    python: tuple[int, int] = (0, 0)

    @classmethod
    def current(cls) -> Host:
        """The host this process runs on."""
        return cls(
            platform.system(),
            platform.machine(),
            dict(os.environ),
            Path.home(),
            sys.executable,
            (sys.version_info[0], sys.version_info[1]),
        )

    @property
    def arch(self) -> WheelArch | None:
        """The host's wheel architecture, or ``None`` when it is not one Lambda has."""
        return HOST_MACHINE.get(self.machine.lower())


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Interpreter:
    """A command that starts a CPython for a target.

    Attributes:
        command: the argv prefix; the probe's arguments follow it. For an emulated interpreter
            ``("qemu-aarch64-static", "-cpu", "neoverse-n1", "-L", sysroot,
            f"{sysroot}/usr/bin/python3.11")``.
        python: the CPython minor version it runs (``(3, 11)``).
        arch: the wheel architecture it runs.
            For a sysroot's interpreter started by its own loader ``(f"{sysroot}/lib64/ld-linux-
            x86-64.so.2", "--library-path", "<library_path joined by ':'>", f"{sysroot}/usr/bin/
            python3.14")``.
        python: the CPython minor version it runs (``(3, 11)``).
        arch: the wheel architecture it runs.
        source: where it was found (``"PATH"``, ``"pyenv"``, ``"uv"``, ``"sysroot"``, ``"qemu"``,
            ``"given"``).
        emulator: the emulator's path when it runs under one, else ``None``.
        library_path: for an interpreter started by its sysroot's loader, the sysroot's library
            folders (the loader's ``--library-path``); else empty.
    """

    command: tuple[str, ...]
    python: tuple[int, int]
    arch: WheelArch
    source: str
    emulator: str | None = None
    library_path: tuple[str, ...] = ()

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    def argv(self, environ: Mapping[str, str]) -> tuple[str, ...]:
        """The command for a process whose environment is ``environ``.

        A loader given ``--library-path`` ignores ``LD_LIBRARY_PATH``, so for an interpreter
        started by its sysroot's loader the folders of ``environ``'s ``LD_LIBRARY_PATH`` follow
        the sysroot's in ``--library-path``: system libraries first, then the bundle's, as in
        Lambda's ``LD_LIBRARY_PATH``. Any other interpreter's command is returned as it is.
        """
        if not self.library_path:
            return self.command
        extra = [p for p in environ.get("LD_LIBRARY_PATH", "").split(":") if p]
        joined = ":".join([*self.library_path, *extra])
        return (self.command[0], "--library-path", joined, *self.command[3:])

    def describe(self) -> str:
        """The command as one would type it (``qemu-aarch64-static -cpu neoverse-n1 -L ...``)."""
        return " ".join(shlex.quote(part) for part in self.command)

    def __str__(self) -> str:
        return self.describe()

    @classmethod
    def given(cls, command: str | Path | tuple[str, ...], target: Target) -> Interpreter:
        """Wrap an interpreter the caller names (path or argv) as being for ``target``.

        The smoke probe still checks that it really is CPython ``target.python`` on
        ``target.arch`` before trusting it.
        """
        argv = (str(command),) if isinstance(command, (str, Path)) else tuple(command)
        return cls(argv, target.python, target.arch, source="given")


@dataclass(frozen=True, **DATACLASS_SLOTS)
class NotFound:
    """No interpreter for ``target`` on this host: ``reason`` says what is missing and how to get
    it; ``tried`` lists the places looked at."""

    target: Target
    reason: str
    tried: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.reason


Lookup = Union[Interpreter, NotFound]
#: A discovery strategy: what :func:`lambda_wheels_cdk.smoke.runner.smoke` calls to get an
#: interpreter for a target. :func:`find_interpreter` is the default.
Finder = Callable[[Target], Lookup]


def find_interpreter(target: Target, host: Host | None = None) -> Lookup:
    """Find a CPython ``target.python`` for ``target.arch`` on ``host`` (default: this host).

    Returns:
        an :class:`Interpreter`, or :class:`NotFound` saying what is missing and how to get it.
        Never raises for a missing interpreter.
    """
    host = Host.current() if host is None else host
    version = target.python_version
    wanted = f"CPython {version} for {target.arch}"
    if host.system != "Linux":
        return NotFound(
            target,
            f"no {wanted} on a {host.system} host: Lambda's binaries need Linux; run the smoke "
            "test on Linux (CI, a container or a VM)",
        )
    host_arch = host.arch
    if host_arch == target.arch:
        return _find_native(target, host)
    if host_arch is None:
        return NotFound(target, f"no {wanted}: the host architecture {host.machine!r} is unknown")
    return _find_emulated(target, host)


# -- native ----------------------------------------------------------------------------------


def native_candidates(target: Target, host: Host) -> Iterator[tuple[str, Path]]:
    """Every place a native ``pythonX.Y`` may be, preferred first, as ``(source, path)``.

    Yields paths whether or not they exist; :func:`find_interpreter` takes the first that does.
    """
    name = f"python{target.python_version}"
    for folder in path_entries(host):
        if folder.name == "shims":  # pyenv / asdf shims may run another version, or fail
            continue
        yield "PATH", folder / name
    for version_dir in versions_under(pyenv_root(host) / "versions", target.python, r"{v}\.(\d+)"):
        yield "pyenv", version_dir / "bin" / name
    pattern = r"cpython-{v}\.(\d+)-linux-" + re.escape(target.arch) + r"-gnu"
    for version_dir in versions_under(uv_python_dir(host), target.python, pattern):
        yield "uv", version_dir / "bin" / name


def _find_native(target: Target, host: Host) -> Lookup:
    tried: list[str] = []
    for source, path in native_candidates(target, host):
        if _is_executable_file(path):
            return Interpreter((str(path),), target.python, target.arch, source=source)
        tried.append(str(path))
    from_sysroot = sysroot_interpreter(target.python, target.arch, host)
    if from_sysroot is not None:
        return from_sysroot
    version = target.python_version
    sysroots = list(sysroot_candidates(target.arch, host))
    tried += [str(root / "usr" / "bin" / f"python{version}") for root in sysroots]
    return NotFound(
        target,
        f"no CPython {version} for {target.arch} found: looked for python{version} on PATH, in "
        f"pyenv ({pyenv_root(host)}/versions/{version}.*), in uv's interpreters "
        f"({uv_python_dir(host)}) and in sysroots ({_looked(sysroots)}); install one, e.g. "
        f"`pyenv install {version}`, `uv python install {version}` or `apt-get install "
        f"python{version}`, or set {SYSROOT_ENV[target.arch]} to a root filesystem holding "
        f"{LOADER[target.arch]} and usr/bin/python{version} (the project's "
        "tests/support/sysroots.py builds one from Debian packages)",
        tuple(tried),
    )


# -- emulated --------------------------------------------------------------------------------


def sysroot_candidates(arch: WheelArch, host: Host) -> Iterator[Path]:
    """Folders that may be an ``arch`` root filesystem, preferred first.

    Each entry of the :data:`SYSROOT_ENV` variable counts as a sysroot and as a folder of
    sysroots (its sub-folders, sorted, hidden ones skipped); when the variable is unset, the
    default folder of sysroots ``$XDG_CACHE_HOME/lambda-wheels/<arch>-sysroot`` is used the
    same way.
    """
    value = host.environ.get(SYSROOT_ENV[arch], "")
    entries = [Path(p) for p in value.split(os.pathsep) if p]
    if not entries:
        entries = [default_sysroot_dir(arch, host)]
    for entry in entries:
        yield entry
        if entry.is_dir():
            children = (c for c in entry.iterdir() if c.is_dir() and not c.name.startswith("."))
            yield from sorted(children)


def default_sysroot_dir(arch: WheelArch, host: Host) -> Path:
    """``$XDG_CACHE_HOME/lambda-wheels/arm64-sysroot`` (``~/.cache`` when unset)."""
    cache = host.environ.get("XDG_CACHE_HOME") or str(host.home / ".cache")
    return Path(cache) / "lambda-wheels" / f"{LAMBDA_ARCH[arch]}-sysroot"


def sysroot_interpreter(python: tuple[int, int], arch: WheelArch, host: Host) -> Interpreter | None:
    """CPython ``python`` for ``arch`` from the first sysroot that has it, as this host can run
    it, or ``None`` (looks only; runs nothing).

    On a Linux host of the same architecture the sysroot's own loader starts it (source
    ``"sysroot"``; a sysroot without :data:`LOADER` does not count); on a Linux host of another
    architecture qemu does (source ``"qemu"``; ``None`` without an emulator on ``PATH``).
    """
    if host.system != "Linux" or host.arch is None:
        return None
    name = "python{}.{}".format(*python)
    roots = [r for r in sysroot_candidates(arch, host) if _is_executable_file(r / "usr/bin" / name)]
    if host.arch == arch:
        for root in roots:
            loader = _inside(root, LOADER[arch])
            if _is_executable_file(loader):
                libs = _library_dirs(root, arch)
                command = (
                    str(loader),
                    "--library-path",
                    ":".join(libs),
                    str(root / "usr/bin" / name),
                )
                return Interpreter(command, python, arch, source="sysroot", library_path=libs)
        return None
    emulator = _which_first(EMULATORS[arch], host)
    if emulator is None or not roots:
        return None
    cpu = EMULATOR_CPU.get(arch)
    command = (emulator, *(("-cpu", cpu) if cpu else ()), "-L", str(roots[0]))
    return Interpreter(
        (*command, str(roots[0] / "usr/bin" / name)), python, arch, source="qemu", emulator=emulator
    )


def _find_emulated(target: Target, host: Host) -> Lookup:
    found = sysroot_interpreter(target.python, target.arch, host)
    if found is not None:
        return found
    version = target.python_version
    name = f"python{version}"
    emulator = _which_first(EMULATORS[target.arch], host)
    sysroots = list(sysroot_candidates(target.arch, host))
    python = next(
        (root for root in sysroots if _is_executable_file(root / "usr" / "bin" / name)), None
    )
    env = SYSROOT_ENV[target.arch]
    missing: list[str] = []
    if emulator is None:
        missing.append(f"no {' or '.join(EMULATORS[target.arch])} on PATH ({EMULATOR_HINT})")
    if python is None:
        missing.append(
            f"no {target.arch} sysroot with usr/bin/{name} (looked in {_looked(sysroots)}); set "
            f"{env} to a root filesystem holding CPython {version} for {target.arch} (the "
            "project's tests/support/sysroots.py builds one from Debian packages)"
        )
    return NotFound(
        target,
        f"no CPython {version} for {target.arch} on this {host.arch} host: " + "; ".join(missing),
        tuple(str(p / "usr" / "bin" / name) for p in sysroots),
    )


def _looked(sysroots: list[Path]) -> str:
    return ", ".join(str(p) for p in sysroots[:4]) or "nothing"


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, where an absolute symbolic link as its last part means the sysroot's
    file, not the host's (bookworm's ``/lib64/ld-linux-x86-64.so.2 ->
    /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2``); relative links resolve inside by themselves."""
    path = root / relative
    for _ in range(16):
        link = os.readlink(path) if path.is_symlink() else ""
        if not os.path.isabs(link):
            return path
        path = root / link.lstrip("/")
    return path


def _library_dirs(root: Path, arch: WheelArch) -> tuple[str, ...]:
    """The :data:`LIBRARY_DIRS` of ``root`` that exist, each folder once (merged-/usr links make
    ``lib/...`` and ``usr/lib/...`` one folder)."""
    found: dict[str, str] = {}
    for name in LIBRARY_DIRS[arch]:
        folder = root / name
        if folder.is_dir():
            found.setdefault(os.path.realpath(folder), str(folder))
    return tuple(found.values())


# -- helpers ---------------------------------------------------------------------------------


def path_entries(host: Host) -> list[Path]:
    return [Path(p) for p in host.environ.get("PATH", "").split(os.pathsep) if p]


def _which_first(names: tuple[str, ...], host: Host) -> str | None:
    path = host.environ.get("PATH", "")
    for name in names:
        found: Optional[str] = shutil.which(name, path=path)
        if found:
            return found
    return None


def pyenv_root(host: Host) -> Path:
    root = host.environ.get("PYENV_ROOT")
    return Path(root) if root else host.home / ".pyenv"


def uv_python_dir(host: Host) -> Path:
    given = host.environ.get("UV_PYTHON_INSTALL_DIR")
    if given:
        return Path(given)
    data = host.environ.get("XDG_DATA_HOME") or str(host.home / ".local" / "share")
    return Path(data) / "uv" / "python"


def versions_under(folder: Path, python: tuple[int, int], pattern: str) -> list[Path]:
    """Sub-folders of ``folder`` whose name matches ``pattern`` (``{v}`` = ``3\\.12``), newest
    patch release first."""
    regex = re.compile(pattern.format(v=re.escape("{}.{}".format(*python))) + "$")
    try:
        children = list(folder.iterdir())
    except OSError:
        return []
    found: list[tuple[int, Path]] = []
    for child in children:
        match = regex.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return [path for _, path in sorted(found, key=lambda item: (-item[0], item[1].name))]


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# -- a compiler: any CPython of the version, any architecture ------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Compiler:
    """A CPython of one minor version that writes bytecode for it.

    Attributes:
        command: the argv prefix that starts it.
        python: its minor version, ``(3, 12)``.
        version: its full version, ``"3.12.1"``.
        magic: its bytecode magic number (hex): enters every cache key.
        cache_tag: the tag in pyc names (``cpython-312``).
        source: where it was found (``current``, ``PATH``, ``pyenv``, ``uv``, ``given``).
    """

    command: tuple[str, ...]
    python: tuple[int, int]
    version: str
    magic: str
    cache_tag: str
    source: str

    def describe(self) -> str:
        return f"CPython {self.version} ({self.source}: {' '.join(self.command)})"


@dataclass(frozen=True, **DATACLASS_SLOTS)
class NoCompiler:
    """No CPython of ``python`` here: ``reason`` says where we looked and how to get one."""

    python: tuple[int, int]
    reason: str


CompilerLookup = Union[Compiler, NoCompiler]


def compiler_candidates(
    python: tuple[int, int], host: Host
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every command that may start a CPython ``python``, preferred first (pure: looks only).

    Any architecture and any OS will do: bytecode does not depend on them. Yields
    ``(source, argv)`` whether or not the file exists; :func:`find_compiler` probes them.
    """
    version = "{}.{}".format(*python)
    if host.python == python and host.executable:
        yield "current", (host.executable,)
    windows = host.system == "Windows"
    names = (f"python{version}.exe", f"python{version}") if windows else (f"python{version}",)
    for folder in path_entries(host):
        if folder.name == "shims":  # pyenv / asdf shims may run another version, or fail
            continue
        for name in names:
            yield "PATH", (str(folder / name),)
    if windows:
        launcher = shutil.which("py", path=host.environ.get("PATH", ""))
        if launcher:
            yield "py launcher", (launcher, f"-{version}")
    for folder in versions_under(pyenv_root(host) / "versions", python, r"{v}\.(\d+)"):
        yield "pyenv", (str(folder / ("python.exe" if windows else f"bin/python{version}")),)
    for folder in versions_under(uv_python_dir(host), python, r"cpython-{v}\.(\d+)-.*"):
        yield "uv", (str(folder / ("python.exe" if windows else f"bin/python{version}")),)


def sysroot_compilers(python: tuple[int, int], host: Host) -> Iterator[tuple[str, tuple[str, ...]]]:
    """CPythons ``python`` in sysroots that this host can run, as ``(source, argv)`` (pure:
    looks only): the host architecture's through its loader first (native speed), then the
    other's under qemu. :func:`find_compiler` tries them after the user's own interpreters.

    A power-user option: sysroots are found where :func:`sysroot_candidates` looks
    (``LAMBDA_WHEELS_X86_64_SYSROOT``, ``LAMBDA_WHEELS_ARM64_SYSROOT``, or
    ``~/.cache/lambda-wheels/<arch>-sysroot``), e.g. a Debian sid root for a CPython that no
    package manager of the host offers yet.
    """
    arches = sorted(SYSROOT_ENV, key=lambda arch: arch != host.arch)
    for arch in arches:
        found = sysroot_interpreter(python, arch, host)
        if found is not None:
            yield found.source, found.command


def compiler_available(python: tuple[int, int], host: Host | None = None) -> bool:
    """Is there a file that may be a CPython ``python``? (No subprocess: usable at construction.)"""
    host = Host.current() if host is None else host
    return any(
        len(argv) > 1 or _is_executable(Path(argv[0]))
        for _, argv in compiler_candidates(python, host)
    ) or any(True for _ in sysroot_compilers(python, host))


@functools.cache
def probe(command: tuple[str, ...], python: tuple[int, int], source: str) -> Compiler | str:
    """Run ``command`` and trust it only if it is CPython ``python``; else why not."""
    try:
        proc = subprocess.run(
            [*command, "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        data = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return f"{' '.join(command)}: {exc}"
    if not isinstance(data, dict):
        return f"{' '.join(command)}: exit {proc.returncode} {proc.stderr.strip()[:200]}"
    found = tuple(data["version"][:2])
    if data["impl"] != "cpython" or found != python:
        return f"{' '.join(command)} is {data['impl']} {'.'.join(map(str, found))}"
    return Compiler(
        command=command,
        python=python,
        version=".".join(map(str, data["version"])),
        magic=str(data["magic"]),
        cache_tag=str(data["tag"]),
        source=source,
    )


def find_compiler(
    python: tuple[int, int],
    *,
    host: Host | None = None,
    given: str | None = None,
    allow_download: bool = False,
    log: Log = quiet,
) -> CompilerLookup:
    """A working CPython ``python`` on this host, or why there is none.

    Order: ``given`` (the user's choice, and only it), this interpreter, ``PATH``, pyenv,
    uv's managed interpreters, ``uv python find``, then sysroots (:func:`sysroot_compilers`);
    with ``allow_download``, ``uv python install`` last.
    """
    version = "{}.{}".format(*python)
    if given:
        found = probe((given,), python, "given")
        if isinstance(found, Compiler):
            return found
        return NoCompiler(python, f"the bytecode interpreter {given!r} cannot be used: {found}")
    host = Host.current() if host is None else host
    tried: list[str] = []
    for source, argv in compiler_candidates(python, host):
        if len(argv) == 1 and not _is_executable(Path(argv[0])):
            continue
        found = probe(argv, python, source)
        if isinstance(found, Compiler):
            return found
        tried.append(found)
    found_by_uv = _uv_python(python, host, install=False, log=log)
    if isinstance(found_by_uv, Compiler):
        return found_by_uv
    for source, argv in sysroot_compilers(python, host):
        found = probe(argv, python, source)
        if isinstance(found, Compiler):
            return found
        tried.append(found)
    if allow_download:
        found_by_uv = _uv_python(python, host, install=True, log=log)
        if isinstance(found_by_uv, Compiler):
            return found_by_uv
    return NoCompiler(
        python,
        f"no CPython {version} on this machine (looked on PATH, in pyenv "
        f"({pyenv_root(host)}/versions), in uv's interpreters ({uv_python_dir(host)}), with "
        f"`uv python find {version}` and in sysroots"
        + ("; " + "; ".join(tried[:3]) if tried else "")
        + f"). Install one (`uv python install {version}`, `pyenv install {version}`, "
        f"python.org or your package manager), or allow lambda-wheels to download one "
        "(allow_python_download=True / --allow-python-download)",
    )


def _uv_python(python: tuple[int, int], host: Host, *, install: bool, log: Log) -> CompilerLookup:
    """``uv python find X.Y`` (or ``install`` then ``find``): uv knows more places than we do."""
    from ..install.installers import find_uv

    version = "{}.{}".format(*python)
    env = {k: v for k, v in host.environ.items() if not k.startswith("UV_PYTHON_PREFERENCE")}
    env["NO_COLOR"] = "1"
    try:
        uv = find_uv()
        if install:
            log(f"downloading CPython {version} for bytecode (uv python install {version})")
            subprocess.run(
                [uv, "python", "install", "--no-config", version],
                env=env,
                capture_output=True,
                timeout=900,
                check=True,
                stdin=subprocess.DEVNULL,
            )
        proc = subprocess.run(
            [uv, "python", "find", "--no-config", "--no-project", version],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, LookupError) as exc:
        return NoCompiler(python, f"uv python {'install' if install else 'find'}: {exc}")
    path = proc.stdout.strip()
    if proc.returncode != 0 or not path:
        return NoCompiler(python, f"uv python find {version}: not found")
    found = probe((path,), python, "uv python install" if install else "uv python find")
    return found if isinstance(found, Compiler) else NoCompiler(python, found)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
