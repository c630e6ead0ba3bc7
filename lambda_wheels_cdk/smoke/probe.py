"""The smoke probe: imports a bundle's modules inside a CPython of the *target's* version.

This file is executed as a script by another interpreter (``python3.12 -I -S -B probe.py
WORK``, :func:`.runner.probe_command`), never imported by lambda-wheels itself: it uses the
standard library only and the syntax of Python 3.9, the oldest Lambda runtime.

Input: ``WORK/config.json`` (the only argument is the folder): ``sys_path`` (the bundle's and
the layers' folders, in Lambda's order), ``modules`` (to import, in order), ``handler``
(``[module, function]`` or null) and ``event`` (the handler's argument).

Output: one JSON object per line appended to ``WORK/results.jsonl`` (not stdout: modules that
print cannot confuse it), each module recorded before it is imported, so a crash or a timeout
names the culprit. Events: ``start`` (the interpreter, what was removed from ``sys.path``),
``importing``/``imported``, ``handler``, ``done`` (modules loaded from outside the bundle, its
layers and the standard library). It leaves with ``os._exit`` (no atexit hooks, no thread
joins).
"""

from __future__ import annotations

# every import before the bundle is on sys.path: it cannot shadow them
import importlib
import json
import os
import platform
import site
import sys
import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


def _emit(out: TextIO, **record: Any) -> None:
    out.write(json.dumps(record, default=repr) + "\n")
    out.flush()


def _is_site(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return "site-packages" in parts or "dist-packages" in parts


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class Context:
    """The stand-in for the context object Lambda passes to a handler."""

    function_name = "lambda-wheels-smoke"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:lambda-wheels-smoke"
    memory_limit_in_mb = "128"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/lambda-wheels-smoke"
    log_stream_name = "smoke"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return 300000


def _json_default(value: object) -> float:
    """What Lambda's runtime does with a ``Decimal`` in a handler's result: a float."""
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{value!r} is not JSON serializable")


def _call_handler(out: TextIO, handler: list[str], event: Any, failed: set[str]) -> None:
    modname, func = handler
    if modname in failed:
        _emit(out, event="handler", ok=False, error=f"not called: importing {modname} failed")
        return
    try:
        fn = getattr(sys.modules[modname], func)
        result = fn(event, Context())
        text = json.dumps(result, default=_json_default)
    except BaseException as exc:
        _emit(
            out,
            event="handler",
            ok=False,
            error=f"{type(exc).__name__}: {exc}",
            traceback=_trace(exc),
        )
    else:
        _emit(out, event="handler", ok=True, result=json.loads(text))


def _outside(allowed: list[str]) -> list[list[str]]:
    """Loaded modules whose file is outside ``allowed`` (this script, ``__main__``, aside)."""
    outside = []
    for name, module in sorted(sys.modules.items()):
        if name == "__main__":
            continue
        try:
            path = getattr(module, "__file__", None)
        except Exception:  # lazy-module proxies may raise anything
            continue
        if not isinstance(path, str):
            continue
        norm = os.path.normcase(os.path.abspath(path))
        if not any(norm == a or norm.startswith(a.rstrip(os.sep) + os.sep) for a in allowed):
            outside.append([name, path])
    return outside


def main(work: str) -> None:
    with open(os.path.join(work, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    out = open(os.path.join(work, "results.jsonl"), "a", encoding="utf-8")  # noqa: SIM115
    cwd = os.getcwd()
    initial = list(sys.path)
    base = [p for p in initial if p and os.path.abspath(p) != cwd and not _is_site(p)]
    removed = [p for p in initial if p not in base]
    sys.path[:] = list(cfg["sys_path"]) + base
    allowed = [os.path.normcase(os.path.abspath(p)) for p in sys.path]
    _emit(
        out,
        event="start",
        implementation=sys.implementation.name,
        version=list(sys.version_info[:3]),
        machine=platform.machine(),
        executable=sys.executable,
        sys_path=list(sys.path),
        removed=removed,
    )
    site.setquit()  # the builtins Lambda's site provides
    site.setcopyright()
    site.sethelper()
    failed: set[str] = set()
    for name in cfg["modules"]:
        _emit(out, event="importing", module=name)
        try:
            importlib.import_module(name)
        except BaseException as exc:
            failed.add(name)
            _emit(
                out,
                event="imported",
                module=name,
                ok=False,
                error=f"{type(exc).__name__}: {exc}",
                traceback=_trace(exc),
            )
        else:
            _emit(out, event="imported", module=name, ok=True)
    if cfg.get("handler"):
        _call_handler(out, cfg["handler"], cfg.get("event"), failed)
    _emit(out, event="done", outside=_outside(allowed))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
