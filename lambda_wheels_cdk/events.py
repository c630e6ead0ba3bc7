"""Progress lines for people and machine-readable events for tests and benchmarks.

Progress goes to stderr in the style CDK users see during ``cdk synth`` (one line per stage,
no spinners, so CI logs stay readable). Events are JSON lines appended to the file named by
``LAMBDA_WHEELS_EVENTS`` when that variable is set: a synth run as a child of ``cdk`` can then
be checked for "how many installs happened" without timing anything.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

EVENTS_VARIABLE = "LAMBDA_WHEELS_EVENTS"

Log = Callable[[str], None]

#: ANSI/VT escape sequences: CSI (colours, cursor moves), OSC (titles, links), and the
#: two-byte ones. Children run with colour off; this is for the tools that colour anyway.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


#: A duration at the end of a message, as uv and pip print them: ``(412ms)``, ``(1.46s)``.
_OWN_TIME = re.compile(r"\(\d+(?:\.\d+)?\s*(?:ms|s|m|min)\)$")


def counted(count: int, noun: str) -> str:
    """``1 distribution``, ``2 distributions``, ``1,234 files`` (nouns that add an ``s``)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def human_size(size: int) -> str:
    """A byte count in IEC units, as uv prints them and as Lambda's 250 MiB limit is given:
    ``812 B``, ``38.8 KiB``, ``2.2 MiB``, ``1.1 GiB``."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def plain_text(text: str) -> str:
    """``text`` without terminal escape sequences: what we read from or repeat of a child's
    output never carries them (they would garble a log, a pipe or a parsed name)."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text


def emit(event: str, **data: object) -> None:
    """Append one event to ``$LAMBDA_WHEELS_EVENTS`` (no-op when unset)."""
    path = os.environ.get(EVENTS_VARIABLE)
    if not path:
        return
    record = {"event": event, "time": round(time.time(), 3), "pid": os.getpid(), **data}
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    # one write() of a short line in append mode: atomic enough across processes
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


class Progress:
    """Stage lines on stderr: ``[lambda-wheels] Api (python3.12/arm64): installing 4 requirements``.

    Args:
        label: what is being built (construct path or output folder).
        stream: where to write (default stderr).
        verbose: also print installer command lines.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = verbose
        self._start = time.monotonic()

    def __call__(self, message: str) -> None:
        self.stage(message)

    def stage(self, message: str) -> None:
        """One line; the time since the bundle started is added after the first second,
        unless the message carries a time of its own (an installer's ``resolved 12 packages
        (412ms)``): one number per line, never two."""
        elapsed = time.monotonic() - self._start
        timed = _OWN_TIME.search(message) is not None
        when = f" ({elapsed:.1f}s)" if elapsed >= 1.0 and not timed else ""
        line = plain_text(f"[lambda-wheels] {self.label}: {message}{when}")
        print(line, file=self.stream, flush=True)

    def detail(self, message: str) -> None:
        if self.verbose:
            line = plain_text(f"[lambda-wheels] {self.label}:   {message}")
            print(line, file=self.stream, flush=True)


def quiet(message: str) -> None:
    """A log that drops everything."""
