"""Find a CPython that can import a bundle built for a Lambda target, on this host.

This is the one module under ``core`` that looks at the host, and it only looks: it reads
``PATH``, pyenv's and uv's interpreter folders, and the sysroot settings, and never runs anything.
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

import os
import platform
import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Final, Optional, Union

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
    """

    system: str
    machine: str
    environ: Mapping[str, str]
    home: Path

    @classmethod
    def current(cls) -> Host:
        """The host this process runs on."""
        return cls(platform.system(), platform.machine(), dict(os.environ), Path.home())

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
    for folder in _path_entries(host):
        if folder.name == "shims":  # pyenv / asdf shims may run another version, or fail
            continue
        yield "PATH", folder / name
    for version_dir in _versions_under(_pyenv_root(host) / "versions", target, r"{v}\.(\d+)"):
        yield "pyenv", version_dir / "bin" / name
    pattern = r"cpython-{v}\.(\d+)-linux-" + re.escape(target.arch) + r"-gnu"
    for version_dir in _versions_under(_uv_python_dir(host), target, pattern):
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
        f"pyenv ({_pyenv_root(host)}/versions/{version}.*) and in uv's interpreters "
        f"({_uv_python_dir(host)}); install one, e.g. `pyenv install {version}`, "
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


def _path_entries(host: Host) -> list[Path]:
    return [Path(p) for p in host.environ.get("PATH", "").split(os.pathsep) if p]


def _which_first(names: tuple[str, ...], host: Host) -> str | None:
    path = host.environ.get("PATH", "")
    for name in names:
        found: Optional[str] = shutil.which(name, path=path)
        if found:
            return found
    return None


def _pyenv_root(host: Host) -> Path:
    root = host.environ.get("PYENV_ROOT")
    return Path(root) if root else host.home / ".pyenv"


def _uv_python_dir(host: Host) -> Path:
    given = host.environ.get("UV_PYTHON_INSTALL_DIR")
    if given:
        return Path(given)
    data = host.environ.get("XDG_DATA_HOME") or str(host.home / ".local" / "share")
    return Path(data) / "uv" / "python"


def _versions_under(folder: Path, target: Target, pattern: str) -> list[Path]:
    """Sub-folders of ``folder`` whose name matches ``pattern`` (``{v}`` = ``3\\.12``), newest
    patch release first."""
    regex = re.compile(pattern.format(v=re.escape(target.python_version)) + "$")
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
