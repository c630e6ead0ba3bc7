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
2. Emulated (a foreign target architecture on Linux): ``qemu-<arch>-static`` (or ``qemu-<arch>``)
   on ``PATH`` running ``<sysroot>/usr/bin/pythonX.Y`` as ``qemu-aarch64-static -cpu neoverse-n1
   -L <sysroot> <sysroot>/usr/bin/python3.11`` (:data:`EMULATOR_CPU`). Sysroots come from
   :data:`SYSROOT_ENV` (``os.pathsep`` separated; each entry is a sysroot or a folder of
   sysroots), else from ``$XDG_CACHE_HOME/lambda-wheels/<arch>-sysroot`` (default
   ``~/.cache/...``), a folder of sysroots. ``tests/support/arm64_sysroot.py`` builds sysroots
   from Debian's packages (``--print-env`` prints the variable to set).

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

from .events import Log, quiet
from .runtimes import _SLOTS, LAMBDA_ARCH, WheelArch
from .target import Target

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


@dataclass(frozen=True, **_SLOTS)
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


@dataclass(frozen=True, **_SLOTS)
class Interpreter:
    """A command that starts a CPython for a target.

    Attributes:
        command: the argv prefix; the probe's arguments follow it. For an emulated interpreter
            ``("qemu-aarch64-static", "-cpu", "neoverse-n1", "-L", sysroot,
            f"{sysroot}/usr/bin/python3.11")``.
        python: the CPython minor version it runs (``(3, 11)``).
        arch: the wheel architecture it runs.
        source: where it was found (``"PATH"``, ``"pyenv"``, ``"uv"``, ``"qemu"``, ``"given"``).
        emulator: the emulator's path when it runs under one, else ``None``.
    """

    command: tuple[str, ...]
    python: tuple[int, int]
    arch: WheelArch
    source: str
    emulator: str | None = None

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

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


@dataclass(frozen=True, **_SLOTS)
class NotFound:
    """No interpreter for ``target`` on this host: ``reason`` says what is missing and how to get
    it; ``tried`` lists the places looked at."""

    target: Target
    reason: str
    tried: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.reason


Lookup = Union[Interpreter, NotFound]
#: A discovery strategy: what :func:`lambda_wheels_cdk.core.smoke.smoke` calls to get an
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
    version = target.python_version
    return NotFound(
        target,
        f"no CPython {version} for {target.arch} found: looked for python{version} on PATH, in "
        f"pyenv ({pyenv_root(host)}/versions/{version}.*) and in uv's interpreters "
        f"({uv_python_dir(host)}); install one, e.g. `pyenv install {version}`, "
        f"`uv python install {version}` or `apt-get install python{version}`",
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


def _find_emulated(target: Target, host: Host) -> Lookup:
    version = target.python_version
    name = f"python{version}"
    emulator = _which_first(EMULATORS[target.arch], host)
    sysroots = list(sysroot_candidates(target.arch, host))
    python = next(
        (root for root in sysroots if _is_executable_file(root / "usr" / "bin" / name)), None
    )
    if emulator is not None and python is not None:
        interpreter = python / "usr" / "bin" / name
        cpu = EMULATOR_CPU.get(target.arch)
        return Interpreter(
            (emulator, *(("-cpu", cpu) if cpu else ()), "-L", str(python), str(interpreter)),
            target.python,
            target.arch,
            source="qemu",
            emulator=emulator,
        )
    env = SYSROOT_ENV[target.arch]
    missing: list[str] = []
    if emulator is None:
        missing.append(f"no {' or '.join(EMULATORS[target.arch])} on PATH ({EMULATOR_HINT})")
    if python is None:
        looked = ", ".join(str(p) for p in sysroots[:4]) or "nothing"
        missing.append(
            f"no {target.arch} sysroot with usr/bin/{name} (looked in {looked}); set {env} to "
            f"a root filesystem holding CPython {version} for {target.arch} (the project's "
            "tests/support/arm64_sysroot.py builds one from Debian packages)"
        )
    return NotFound(
        target,
        f"no CPython {version} for {target.arch} on this {host.arch} host: " + "; ".join(missing),
        tuple(str(p / "usr" / "bin" / name) for p in sysroots),
    )


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


@dataclass(frozen=True, **_SLOTS)
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


@dataclass(frozen=True, **_SLOTS)
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


def compiler_available(python: tuple[int, int], host: Host | None = None) -> bool:
    """Is there a file that may be a CPython ``python``? (No subprocess: usable at construction.)"""
    host = Host.current() if host is None else host
    return any(
        len(argv) > 1 or _is_executable(Path(argv[0]))
        for _, argv in compiler_candidates(python, host)
    )


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
    uv's managed interpreters, ``uv python find``; with ``allow_download``, ``uv python
    install`` last.
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
    if allow_download:
        found_by_uv = _uv_python(python, host, install=True, log=log)
        if isinstance(found_by_uv, Compiler):
            return found_by_uv
    return NoCompiler(
        python,
        f"no CPython {version} on this machine (looked on PATH, in pyenv "
        f"({pyenv_root(host)}/versions), in uv's interpreters ({uv_python_dir(host)}) and with "
        f"`uv python find {version}`"
        + ("; " + "; ".join(tried[:3]) if tried else "")
        + f"). Install one (`uv python install {version}`, `pyenv install {version}`, "
        f"python.org or your package manager), or allow lambda-wheels to download one "
        "(allow_python_download=True / --allow-python-download)",
    )


def _uv_python(python: tuple[int, int], host: Host, *, install: bool, log: Log) -> CompilerLookup:
    """``uv python find X.Y`` (or ``install`` then ``find``): uv knows more places than we do."""
    from .install import find_uv

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
