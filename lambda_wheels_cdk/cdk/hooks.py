"""Command hooks: shell commands before and after bundling, as aws-lambda-python-alpha runs them.

``aws-lambda-python-alpha``'s ``ICommandHooks`` returns lists of shell commands from
``before_bundling(input_dir, output_dir)`` and ``after_bundling(input_dir, output_dir)``;
``PythonFunction`` chains each list with ``&&`` in one shell (``bash -c`` in its build image).
Its released Docker bundling runs the *before* commands in the input folder (CDK's container
working directory), then copies the source and installs, then ``cd``s to the output folder and
runs the *after* commands. lambda-wheels runs them the same way, on the host: one shell per
list (``bash -c``, or ``sh -c`` where there is no bash, ``cmd /c`` on Windows), in order,
stopping at the first command that fails. The shell's output is kept and shown, with the
failed command, when it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from ..errors import CommandHookError, UsageError
from ..events import Log
from ..urls import redact_text

Stage = Literal["before_bundling", "after_bundling"]
STAGES: tuple[Stage, Stage] = ("before_bundling", "after_bundling")

#: Lines of a failed hook's output kept in the error (the end is where the failure is).
OUTPUT_LINES = 60

#: Environment variable names whose values are masked in hook output.
_SECRET_NAME = re.compile(r"(?i)(TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|AUTH|API_?KEY|PRIVATE)")


@runtime_checkable
class CommandHooks(Protocol):
    """What ``command_hooks`` takes: the two methods of aws-lambda-python-alpha's
    ``ICommandHooks`` (an object implementing that interface works as it is).

    Each returns the shell commands to run (an empty list runs nothing).
    """

    def before_bundling(self, input_dir: str, output_dir: str) -> Sequence[str]: ...

    def after_bundling(self, input_dir: str, output_dir: str) -> Sequence[str]: ...


def check_hooks(hooks: object) -> None:
    """Raise :class:`UsageError` unless ``hooks`` has both methods."""
    missing = [name for name in STAGES if not callable(getattr(hooks, name, None))]
    if missing:
        raise UsageError(
            f"command_hooks {type(hooks).__name__!r} has no {' or '.join(missing)} method: "
            "give an object with before_bundling(input_dir, output_dir) and "
            "after_bundling(input_dir, output_dir), each returning a list of shell commands"
        )


def commands_of(hooks: CommandHooks, stage: Stage, input_dir: str, output_dir: str) -> list[str]:
    """The commands ``hooks`` returns for ``stage`` (empty strings dropped, as CDK does).

    Raises:
        UsageError: the hook did not return a list of strings.
    """
    result = getattr(hooks, stage)(input_dir, output_dir)
    if result is None:
        return []
    if isinstance(result, str) or not all(isinstance(c, str) for c in result):
        raise UsageError(
            f"command_hooks.{stage} returned {result!r}; it must return a list of shell "
            "command strings, e.g. ['pytest']"
        )
    return [c for c in result if c.strip()]


def secret_values(environment: Mapping[str, str]) -> list[str]:
    """Values of ``environment`` that are masked wherever lambda-wheels prints hook output."""
    return [v for k, v in environment.items() if _SECRET_NAME.search(k) and len(v) >= 4]


def _shell(chain: str) -> tuple[list[str] | str, bool]:
    """The shell command for ``chain``: (argv or string, shell=...)."""
    if os.name == "nt":
        return chain, True  # cmd.exe /c, as aws-lambda-python-alpha uses on Windows
    bash = shutil.which("bash")
    return [bash or "/bin/sh", "-c", chain], False


def run_commands(
    stage: Stage,
    commands: Sequence[str],
    *,
    cwd: str,
    environ: Mapping[str, str],
    secrets: Iterable[str] = (),
    label: str,
    log: Log,
) -> None:
    """Run ``commands`` chained with ``&&`` in one shell in ``cwd``.

    Raises:
        CommandHookError: a command failed: the message names it, its exit status, and the
            end of the shell's output (credentials masked).
    """
    if not commands:
        return
    marker = f"lw-hook-{uuid.uuid4().hex[:12]}-done-"
    # after each command, print a marker: on failure, the markers seen tell which one failed
    chain = " && ".join(f"{command} && echo {marker}{i}" for i, command in enumerate(commands))
    argv, shell = _shell(chain)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            shell=shell,
            cwd=cwd,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    except OSError as exc:
        raise CommandHookError(
            f"{label}: command_hooks.{stage}: cannot start a shell ({exc}); install bash or "
            "remove the hook"
        ) from None
    output = proc.stdout.decode("utf-8", errors="replace")
    done = {int(n) for n in re.findall(re.escape(marker) + r"(\d+)", output)}
    output = re.sub(re.escape(marker) + r"\d+\r?\n?", "", output)
    output = redact_text(output, secrets)
    if proc.returncode != 0:
        failed = next((i for i in range(len(commands)) if i not in done), len(commands) - 1)
        tail = output.rstrip().splitlines()[-OUTPUT_LINES:]
        shown = "\n".join(f"  | {line}" for line in tail) if tail else "  (no output)"
        raise CommandHookError(
            f"{label}: command_hooks.{stage} command {failed + 1} of {len(commands)} failed "
            f"(exit {proc.returncode}) in {cwd}: {redact_text(commands[failed], secrets)}\n"
            f"{shown}\nFix the command or what it checks; the asset was not staged."
        )
    seconds = time.monotonic() - started
    count = len(commands)
    log(f"{stage}: {count} command{'s' * (count != 1)} ran ({seconds:.1f}s)")
