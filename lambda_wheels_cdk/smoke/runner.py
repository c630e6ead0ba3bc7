"""Smoke-import a bundle under the target's own CPython: does it really load there?

The audit proves a bundle's binaries fit the target on paper; :func:`smoke` proves it by
importing, in a clean interpreter of the target's Python version and architecture (natively, or
an aarch64 CPython under qemu), every top-level module of every distribution in the bundle and
its layers, plus the handler module, and optionally calling the handler with an event.

What the interpreter sees, and why:

- ``-I -S -B``: isolated (no ``PYTHON*`` variables, no user site, no script folder), no ``site``
  (so no host ``site-packages``/``dist-packages`` and none of their ``.pth`` hooks; Lambda
  itself puts ``/var/task`` and the layer folders on ``sys.path`` directly, so their ``.pth``
  files are not processed there either), and no bytecode written into the bundle.
- ``sys.path``: the bundle, then the layer folders in the order of Lambda's bootstrap
  (awslambdaric ``set_default_sys_path``: ``/var/task`` -> ``/opt/python/lib/pythonX.Y/
  site-packages`` -> ``/opt/python``), then the interpreter's standard library. Layers are
  extracted into ``/opt`` one after the other, so a later layer's files win: here later layers
  come first within each of the two folders (:func:`.plan.lambda_sys_path`).
- The environment is built from scratch (:func:`.plan.probe_env`): nothing of the host's
  ``PYTHON*``/``PIP_*``/``UV_*`` settings; ``LD_LIBRARY_PATH`` holds the bundle, its ``lib/``
  and the layers' ``lib/`` as on Lambda; the working folder is the bundle (``/var/task``).
- The runtime's own packages (boto3, botocore on Lambda) are not there: a bundle or handler that
  relies on them must ship them or ``skip`` the modules that import them.
- The handler is called as Lambda calls it, ``handler(event, context)``, with a stand-in context
  (``function_name``, ``aws_request_id``, ``get_remaining_time_in_millis()``, ...); its return
  value must be JSON (``Decimal`` becomes a float, as in Lambda's runtime).
- Emulated arm64 runs on the Graviton2 core Lambda uses (``-cpu neoverse-n1``), from a Debian
  sysroot whose glibc is newer than Lambda's: this proves the binaries load for the
  architecture and Python version; the audit checks glibc symbol versions.

The probe (:mod:`.probe`, a script shipped beside this module and run by path) reports through
a JSON-lines file, not stdout, so modules that print cannot confuse it, and it records each
module before importing it, so a crash or timeout names the culprit.
After importing, it checks that every loaded module came from the bundle, the layers or the
standard library: anything else is reported as an ``isolation`` failure.

A missing interpreter, one that does not start, or one that turns out to be another version or
architecture gives ``status="skipped"`` with a ``reason`` (what is missing, how to get it):
never a pass.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Optional, Union

from ..errors import UsageError
from ..target.runtimes import DATACLASS_SLOTS
from ..target.target import Target
from .interpreters import HOST_MACHINE, Finder, Interpreter, NotFound, find_interpreter
from .plan import ImportPlan, parse_handler, plan_imports, probe_env

Status = Literal["passed", "failed", "skipped"]
Stage = Literal["import", "handler", "isolation", "crash", "timeout"]

#: Default time limit for the probe process, in seconds. qemu runs CPython 5-20x slower than
#: native; importing pydantic + numpy under it takes a few seconds, a big bundle minutes.
DEFAULT_TIMEOUT: Final = 300.0

#: Interpreter flags: isolated, no site, no bytecode written (see the module docstring).
PYTHON_FLAGS: Final = ("-I", "-S", "-B")

_OUTPUT_TAIL: Final = 4000

# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Failure:
    """One thing that went wrong.

    Attributes:
        stage: ``import`` (a module raised), ``handler`` (calling it raised or returned a value
            Lambda cannot serialize), ``isolation`` (a module came from outside the bundle,
            layers and standard library), ``crash`` (the interpreter died) or ``timeout``.
        module: the module (or ``mod.func`` handler) concerned.
        distributions: the distributions that provide ``module`` (``"numpy 2.2.6"``), if any.
        error: the error text, e.g. ``ModuleNotFoundError: No module named
            'pydantic_core._pydantic_core'``.
        detail: the traceback, or the interpreter's last output for a crash.
    """

    stage: Stage
    module: str
    error: str
    distributions: tuple[str, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "module": self.module,
            "distributions": list(self.distributions),
            "error": self.error,
            "detail": self.detail,
        }


@dataclass(frozen=True, **DATACLASS_SLOTS)
class SmokeResult:
    """The outcome of :func:`smoke`.

    Attributes:
        status: ``passed``, ``failed`` or ``skipped`` (no usable interpreter; no verdict).
        target: the target smoked.
        interpreter: the command that ran (``qemu-aarch64-static ... python3.11``), or
            ``None`` when none was found.
        python: what the interpreter reported, e.g. ``CPython 3.11.2 on aarch64``.
        imported: modules that imported, in import order.
        failures: every failure (empty when passed).
        skipped_modules: modules not imported because the caller listed them in ``skip``.
        reason: for ``skipped``, what is missing and how to get it; for ``failed``, a summary.
        handler: the handler asked for (``app.handler``), or ``None``.
        handler_called: whether the handler was called and returned.
        handler_result: its return value (JSON), when called.
        duration: seconds the interpreter ran.
        output: the last part of the interpreter's stdout and stderr (diagnostics).
        notes: remarks that are not failures (shadowed distributions, path entries removed).
    """

    status: Status
    target: Target
    interpreter: str | None = None
    python: str | None = None
    imported: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()
    skipped_modules: tuple[str, ...] = ()
    reason: str = ""
    handler: str | None = None
    handler_called: bool = False
    handler_result: Any = None
    duration: float = 0.0
    output: str = ""
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` output)."""
        return {
            "status": self.status,
            "target": str(self.target),
            "runtime": self.target.runtime,
            "arch": self.target.lambda_arch,
            "interpreter": self.interpreter,
            "python": self.python,
            "imported": list(self.imported),
            "failures": [f.to_dict() for f in self.failures],
            "skipped_modules": list(self.skipped_modules),
            "reason": self.reason,
            "handler": self.handler,
            "handler_called": self.handler_called,
            "handler_result": self.handler_result,
            "duration": round(self.duration, 3),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Human-readable lines: verdict, interpreter, modules, failures, handler result."""
        head = f"smoke {self.target}: {self.status.upper() if self.failures else self.status}"
        lines = [head if not self.reason else f"{head}: {self.reason}"]
        if self.interpreter:
            ran = f"  interpreter: {self.interpreter}"
            if self.python:
                ran += f" ({self.python}, {self.duration:.1f} s)"
            lines.append(ran)
        if self.imported:
            lines.append(f"  imported {len(self.imported)}: {', '.join(self.imported)}")
        if self.skipped_modules:
            lines.append(f"  not imported (skip): {', '.join(self.skipped_modules)}")
        for failure in self.failures:
            owner = f" ({', '.join(failure.distributions)})" if failure.distributions else ""
            lines.append(f"  {failure.stage} {failure.module}{owner}: {_brief(failure.error)}")
        if self.handler_called:
            result = json.dumps(self.handler_result, sort_keys=True)
            lines.append(f"  handler {self.handler} returned: {result}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


# -- the probe -------------------------------------------------------------------------------

#: The script the target interpreter runs (standard library only, Python >= 3.9): its argument
#: is a folder holding ``config.json``; it appends one JSON object per line to
#: ``results.jsonl`` there (see its docstring).
PROBE: Final = Path(__file__).with_name("probe.py")


def probe_command(
    interpreter: Interpreter, workdir: Path, env: Mapping[str, str] | None = None
) -> list[str]:
    """The argv that runs :data:`PROBE` under ``interpreter`` in the environment ``env`` (an
    interpreter started by its sysroot's loader gets ``env``'s library folders as arguments:
    :meth:`Interpreter.argv`)."""
    return [*interpreter.argv(env or {}), *PYTHON_FLAGS, str(PROBE), str(workdir)]


def parse_records(text: str) -> list[dict[str, Any]]:
    """The probe's JSON-lines records; a torn last line (the interpreter died mid-write) is
    dropped."""
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                records.append(value)
    return records


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ProbeRun:
    """What the probe process left: its records, exit status and output."""

    records: tuple[Mapping[str, Any], ...]
    returncode: int | None  # None: killed after the time limit
    output: str = ""
    duration: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    start_error: str = ""  # the interpreter could not be started at all (OSError)


def interpret(
    run: ProbeRun, plan: ImportPlan, target: Target, interpreter: Interpreter
) -> SmokeResult:
    """Turn a probe run into a :class:`SmokeResult`. Pure."""
    described = interpreter.describe()
    common: dict[str, Any] = {
        "target": target,
        "interpreter": described,
        "handler": plan.handler,
        "skipped_modules": plan.skipped,
        "duration": run.duration,
        "output": run.output[-_OUTPUT_TAIL:],
    }
    start = next((r for r in run.records if r.get("event") == "start"), None)
    if start is None:
        why = run.start_error or _exit_text(run)
        tail = run.output.strip()[-600:]
        return SmokeResult(
            "skipped",
            reason=f"the interpreter did not start ({why})" + (f": {tail}" if tail else ""),
            **common,
        )
    python, mismatch = _started(start, target, described)
    if mismatch:
        return SmokeResult("skipped", python=python, reason=mismatch, **common)
    notes = list(plan.notes)
    if start.get("removed"):
        notes.append(f"removed from sys.path: {', '.join(map(str, start['removed']))}")
    seen = _Events.read(run.records, plan)
    if not seen.finished:
        seen.failures.append(_unfinished(run, plan, seen))
    status: Status = "failed" if seen.failures else "passed"
    reason = ""
    if seen.failures:
        broken = sorted({f.module for f in seen.failures})
        reason = f"{len(seen.failures)} failure(s): {', '.join(broken)}"
    return SmokeResult(
        status,
        python=python,
        imported=tuple(seen.imported),
        failures=tuple(seen.failures),
        reason=reason,
        handler_called=seen.handler_called,
        handler_result=seen.handler_result,
        notes=tuple(notes),
        **common,
    )


def _started(start: Mapping[str, Any], target: Target, described: str) -> tuple[str, str]:
    """The interpreter the probe reported (``CPython 3.12.1 on x86_64``), and why it is not
    the target's (empty when it is)."""
    impl = str(start.get("implementation", "?"))
    version = tuple(int(v) for v in start.get("version", ()))
    machine = str(start.get("machine", "?"))
    name = "CPython" if impl == "cpython" else impl
    python = f"{name} {'.'.join(map(str, version))} on {machine}"
    arch = HOST_MACHINE.get(machine)
    if impl != "cpython" or version[:2] != target.python or arch != target.arch:
        return python, (
            f"{described} runs {python}, not CPython {target.python_version} on "
            f"{target.arch}; point it at a matching interpreter"
        )
    return python, ""


@dataclass
class _Events:
    """What the probe's records say happened, in order."""

    imported: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    pending: str | None = None  # the module being imported when the records stop
    handler_called: bool = False
    handler_result: Any = None
    finished: bool = False

    @classmethod
    def read(cls, records: Iterable[Mapping[str, Any]], plan: ImportPlan) -> _Events:
        seen = cls()
        for record in records:
            event = record.get("event")
            if event == "importing":
                seen.pending = str(record.get("module"))
            elif event == "imported":
                seen.pending = None
                seen._imported(record, plan)
            elif event == "handler":
                seen.pending = None
                seen._handler(record, plan)
            elif event == "done":
                seen.finished = True
                seen.failures.extend(
                    Failure(
                        "isolation",
                        str(name),
                        f"loaded from {path}, outside the bundle, its layers and the standard "
                        "library",
                    )
                    for name, path in record.get("outside", ())
                )
        return seen

    def _imported(self, record: Mapping[str, Any], plan: ImportPlan) -> None:
        name = str(record.get("module"))
        if record.get("ok"):
            self.imported.append(name)
            return
        self.failures.append(
            Failure(
                "import",
                name,
                str(record.get("error", "")),
                plan.owners.get(name, ()),
                str(record.get("traceback", "")),
            )
        )

    def _handler(self, record: Mapping[str, Any], plan: ImportPlan) -> None:
        if record.get("ok"):
            self.handler_called = True
            self.handler_result = record.get("result")
            return
        self.failures.append(
            Failure(
                "handler",
                str(plan.handler),
                str(record.get("error", "")),
                detail=str(record.get("traceback", "")),
            )
        )


def _unfinished(run: ProbeRun, plan: ImportPlan, seen: _Events) -> Failure:
    """The probe never said it was done: a time-out or a crash, and what it was doing."""
    pending = seen.pending
    doing = f"importing {pending}" if pending else "after the last import"
    if pending is None and plan.handler and not seen.handler_called:
        doing = f"calling {plan.handler}"
    if run.returncode is None:
        return Failure(
            "timeout",
            pending or str(plan.handler or ""),
            f"timed out after {run.timeout:g} s while {doing}; emulated interpreters are "
            "slow: raise the time limit",
            plan.owners.get(pending or "", ()),
        )
    return Failure(
        "crash",
        pending or str(plan.handler or ""),
        f"the interpreter died while {doing} ({_exit_text(run)})",
        plan.owners.get(pending or "", ()),
        run.output.strip()[-2000:],
    )


def _brief(error: str) -> str:
    """A long, multi-line error (numpy's import advice) as its first and last lines."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if len(lines) <= 2:
        return " ".join(lines)
    return f"{lines[0]} ... {lines[-1]}"


def _exit_text(run: ProbeRun) -> str:
    code = run.returncode
    if code is None:
        return f"killed after {run.timeout:g} s"
    if code < 0:
        import signal

        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# -- running it ------------------------------------------------------------------------------


def run_probe(
    interpreter: Interpreter,
    plan: ImportPlan,
    *,
    cwd: Path,
    env: Mapping[str, str],
    event: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeRun:
    """Run :data:`PROBE` under ``interpreter`` in a scratch folder and collect what it wrote."""
    config = {
        "sys_path": list(plan.sys_path),
        "modules": list(plan.modules),
        "handler": list(parse_handler(plan.handler)) if plan.handler else None,
        "event": event,
    }
    workdir = Path(tempfile.mkdtemp(prefix="lambda-wheels-smoke-"))
    try:
        (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        (workdir / "results.jsonl").write_text("", encoding="utf-8")
        started = time.monotonic()
        returncode: Optional[int]
        try:
            proc = subprocess.run(
                probe_command(interpreter, workdir, env),
                cwd=str(cwd),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
            returncode, raw = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as exc:
            returncode, raw = None, exc.output if isinstance(exc.output, bytes) else b""
        except OSError as exc:
            return ProbeRun((), 127, start_error=f"{interpreter.command[0]}: {exc}")
        duration = time.monotonic() - started
        text = (workdir / "results.jsonl").read_text(encoding="utf-8", errors="replace")
        output = raw.decode("utf-8", errors="replace")
        return ProbeRun(
            tuple(parse_records(text)),
            returncode,
            output[-_OUTPUT_TAIL:],
            duration,
            timeout,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


InterpreterChoice = Union[Interpreter, Finder, None]


def smoke(
    bundle: str | Path,
    target: Target,
    *,
    layers: Sequence[str | Path] = (),
    handler: str | None = None,
    event: Any = None,
    interpreter: InterpreterChoice = None,
    skip: Iterable[str] = (),
    modules: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> SmokeResult:
    """Import a bundle (and its layers) under the target's CPython; optionally call the handler.

    Args:
        bundle: the function's code folder (what Lambda unpacks into ``/var/task``).
        target: the Lambda runtime and architecture.
        layers: layer folders (each holding ``python/...``), in the function's layer order.
        handler: ``module.function`` to import and call. Default: none called.
        event: the event passed to the handler (any JSON value). Default: ``{}``.
        interpreter: an :class:`Interpreter`, or a :data:`Finder` strategy called with
            ``target``. Default: :func:`~lambda_wheels_cdk.smoke.interpreters.find_interpreter`
            on this host (PATH, pyenv, uv; qemu plus a sysroot for a foreign architecture).
        skip: top-level module names not to import (modules known not to import standalone,
            e.g. ones that need the runtime's boto3). They are listed in the result.
        modules: more modules to import after the distributions' top-level ones (e.g. a lazily
            loaded extension such as ``cryptography.hazmat.bindings._rust``).
        timeout: seconds before the interpreter is killed. Default :data:`DEFAULT_TIMEOUT`.
        env: extra environment variables for the interpreter (on top of :func:`probe_env`).

    Returns:
        a :class:`SmokeResult`: ``passed``, ``failed`` (with every failure and its error text) or
        ``skipped`` (no usable interpreter; ``reason`` says what is missing and how to get it).

    Raises:
        InputError: the bundle or a layer folder is missing, or there is nothing to import.
        UsageError: ``handler`` is not ``module.function``, or ``event`` is not JSON.
    """
    bundle_path = Path(bundle).resolve()
    layer_paths = [Path(layer).resolve() for layer in layers]
    plan = plan_imports(
        bundle_path, target, layers=layer_paths, handler=handler, skip=skip, modules=modules
    )
    if handler is not None and event is None:
        event = {}
    try:
        json.dumps(event)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the event for {handler} is not JSON ({exc}); pass a JSON value") from exc
    found = _resolve(interpreter, target)
    if isinstance(found, NotFound):
        return SmokeResult(
            "skipped",
            target,
            reason=found.reason,
            handler=handler,
            skipped_modules=plan.skipped,
            notes=plan.notes,
        )
    run = run_probe(
        found,
        plan,
        cwd=bundle_path,
        env=probe_env(target, bundle_path, layer_paths, env),
        event=event,
        timeout=timeout,
    )
    return interpret(run, plan, target, found)


def _resolve(choice: InterpreterChoice, target: Target) -> Interpreter | NotFound:
    if choice is None:
        return find_interpreter(target)
    if isinstance(choice, Interpreter):
        return choice
    return choice(target)
