"""Processes for kill tests, read from Linux's ``/proc`` (tests using them skip elsewhere)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HAS_PROC = sys.platform.startswith("linux") and Path("/proc/self/stat").is_file()


@dataclass(frozen=True)
class Process:
    """A process as ``/proc`` shows it; ``start`` tells a reused pid from the same process."""

    pid: int
    ppid: int
    start: int
    state: str
    command: str


def _read(pid: int) -> Process | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid ..." -- comm may hold spaces and parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    command = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return Process(pid, int(fields[1]), int(fields[19]), fields[0], command)


def processes() -> list[Process]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = _read(int(name))
            if proc is not None:
                found.append(proc)
    return found


def descendants(pid: int) -> list[Process]:
    """Every live process below ``pid`` (children, their children, ...)."""
    everything = processes()
    found: list[Process] = []
    parents = {pid}
    while True:
        new = [p for p in everything if p.ppid in parents and p not in found]
        if not new:
            return found
        found += new
        parents |= {p.pid for p in new}


def alive(proc: Process) -> bool:
    """Still running: same pid and start time, and not a zombie waiting to be reaped."""
    now = _read(proc.pid)
    return now is not None and now.start == proc.start and now.state not in ("Z", "X")


def wait_for(condition: Callable[[], object], timeout: float, step: float = 0.01) -> bool:
    """Poll ``condition`` until it is true (returns True) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
