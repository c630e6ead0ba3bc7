"""What a killed build leaves behind: installer children and temp folders.

A build killed with ``SIGKILL`` (an out-of-memory kill, a CI runner that gives up) runs no
``finally`` block. Two things would outlive it:

Children
    :func:`popen_dying_with_parent` starts an installer so that it dies with this process.
    Linux: the child asks the kernel for ``SIGKILL`` when its parent exits
    (``prctl(PR_SET_PDEATHSIG)``, set between ``fork`` and ``exec``; no extra process). Other
    systems (macOS, Windows, the BSDs) have no such call: the child runs under a small Python
    watchdog whose stdin is a pipe from this process; the operating system closes the pipe
    when this process dies, however it dies, and the watchdog then kills the child. Either
    way the child's own children (a build backend uv started) are not covered: they end when
    their work is done.

Temp folders
    :func:`owned_temp_dir` makes a private (``0700``) folder and, beside it, an *owner file*
    ``<folder>.owner`` that this process holds an exclusive lock on (``flock`` on POSIX,
    ``msvcrt.locking`` on Windows) for as long as the folder exists. The operating system
    releases the lock when the process dies, so :func:`sweep` -- run before every new folder
    is made -- removes exactly the folders whose owner is gone, however young, and never one
    in use, however old. Folders without an owner file (made by older versions) are removed
    once they are older than the caller's limit. Only folders and owner files that belong to
    the current user, and are not symbolic links, are touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from .. import tree

#: Suffix of the lock file beside each owned temp folder.
OWNER_SUFFIX: Final = ".owner"
#: Owned folders in the system temp folder: removed when their owner is gone.
#: Unmarked ones (older lambda-wheels versions) once they are an hour old.
UNMARKED_AFTER: Final = 3600.0
#: The folders lambda-wheels makes in the system temp folder, by use: installer workspaces and
#: bytecode compiles. Every build sweeps them all (:func:`sweep_temp`), whatever it goes on to do.
TEMP_PREFIXES: Final = {"uv": "lw-uv-", "pip": "lw-pip-", "pyc": "lw-pyc-"}

try:  # POSIX
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt as _msvcrt
except ImportError:
    _msvcrt = None  # type: ignore[assignment]


# -- owner locks -------------------------------------------------------------------------------


def _lock(path: str, *, create: bool) -> int | None:
    """Open ``path`` and lock it without waiting: the descriptor, or ``None`` when another
    process holds the lock (or the file is gone). ``create`` makes a new file (never an
    existing one, never through a symbolic link)."""
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    if create:
        flags |= os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        return None
    try:
        if _fcntl is not None:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        elif _msvcrt is not None:  # pragma: no cover - Windows
            _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
        else:  # pragma: no cover - no file locks: owned folders are swept by age only
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int, path: str) -> None:
    os.close(fd)  # releases the lock on every system
    with contextlib.suppress(OSError):
        os.unlink(path)


def _mine(st: os.stat_result) -> bool:
    """Not a symbolic link, and (POSIX) owned by this user."""
    if stat.S_ISLNK(st.st_mode):
        return False
    getuid: Callable[[], int] | None = getattr(os, "getuid", None)
    return getuid is None or st.st_uid == getuid()


def _remove_folder(path: str) -> None:
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and _mine(st):
            tree.remove_tree(Path(path))


def sweep(parent: Path, prefix: str, *, unmarked_after: float = UNMARKED_AFTER) -> list[str]:
    """Remove the ``prefix*`` folders of ``parent`` whose owner process is gone.

    Returns the names removed. Never raises: a folder that cannot be removed stays.
    """
    import time

    removed: list[str] = []
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(prefix)]
    except OSError:
        return removed
    names = {e.name for e in entries}
    now = time.time()
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not _mine(st):
            continue
        if entry.name.endswith(OWNER_SUFFIX):
            fd = _lock(entry.path, create=False)
            if fd is None:
                continue  # its owner is alive
            folder = entry.name[: -len(OWNER_SUFFIX)]
            try:
                _remove_folder(os.path.join(parent, folder))
            finally:
                _unlock(fd, entry.path)
            removed.append(folder)
        elif (
            stat.S_ISDIR(st.st_mode)
            and entry.name + OWNER_SUFFIX not in names
            and now - st.st_mtime > unmarked_after
        ):
            _remove_folder(entry.path)
            removed.append(entry.name)
    return removed


def sweep_temp() -> None:
    """Remove the :data:`TEMP_PREFIXES` folders of builds that were killed (owner gone)."""
    for prefix in TEMP_PREFIXES.values():
        sweep(Path(tempfile.gettempdir()), prefix)


@contextlib.contextmanager
def owned_temp_dir(
    prefix: str, parent: Path | None = None, *, unmarked_after: float = UNMARKED_AFTER
) -> Iterator[Path]:
    """A new private folder ``<parent>/<prefix><pid>-<random>``, removed on exit; folders of
    dead owners are swept first. ``parent`` defaults to the system temp folder. The folder may
    be renamed away before the end (it is then not removed)."""
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep(base, prefix, unmarked_after=unmarked_after)
    while True:
        name = f"{prefix}{os.getpid()}-{secrets.token_hex(6)}"
        owner = os.path.join(base, name + OWNER_SUFFIX)
        if not os.path.lexists(owner):
            break
    # The lock comes first: a sweeper that sees the folder sees a held lock (or, in the
    # instant between creating and locking the file, no folder yet).
    fd = _lock(owner, create=True)
    folder = base / name
    try:
        os.mkdir(folder, 0o700)
        try:
            yield folder
        finally:
            tree.remove_tree(folder)
    finally:
        if fd is not None:
            _unlock(fd, owner)


# -- children ----------------------------------------------------------------------------------

#: The watchdog a child runs under where there is no parent-death signal (see module doc).
_WATCHDOG: Final = """
import os, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    if child.poll() is None:
        child.kill()
threading.Thread(target=watch, daemon=True).start()
code = child.wait()
os._exit(code if code >= 0 else 128 - code)
"""

#: How children are tied to this process: "pdeathsig" (Linux), "watchdog", or "none".
GUARD: str = "pdeathsig" if sys.platform.startswith("linux") else "watchdog"
_PR_SET_PDEATHSIG: Final = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process exits (Linux)."""
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):  # pragma: no cover - not glibc/musl
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call took effect
            os._exit(1)

    return preexec


def popen_dying_with_parent(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """``subprocess.Popen(argv, **kwargs)`` for a child that must not outlive this process
    (see module docstring). ``kwargs`` must not set ``stdin`` or ``preexec_fn``: the child's
    stdin is empty."""
    argv = list(argv)
    if GUARD == "pdeathsig":
        preexec = _pdeathsig_preexec()
        if preexec is not None:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=preexec, **kwargs)
    elif GUARD == "watchdog" and sys.executable:
        watchdog = [sys.executable, "-I", "-S", "-c", _WATCHDOG, *argv]
        # the pipe's write end stays open here, unwritten, until the child has exited
        return subprocess.Popen(watchdog, stdin=subprocess.PIPE, **kwargs)
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kwargs)  # pragma: no cover


__all__ = [
    "OWNER_SUFFIX",
    "TEMP_PREFIXES",
    "owned_temp_dir",
    "popen_dying_with_parent",
    "sweep",
    "sweep_temp",
]
