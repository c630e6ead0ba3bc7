"""The ``lambda-wheels`` command line, over the same core as the CDK constructs.

``main(argv) -> int``. A :class:`~lambda_wheels_cdk.errors.LambdaWheelsError` becomes a one-line
message on stderr and its ``exit_code`` (2 for bad input, 1 for a failed build or audit);
anything else is a bug and keeps its traceback.

This module never imports ``aws_cdk``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from .errors import LambdaWheelsError
from .events import plain_text
from .target.target import Target
from .version import __version__

if TYPE_CHECKING:
    from .build.models import BuildOptions, Manifest
    from .build.outdir import Protected
    from .events import Log
    from .inputs.spec import DependencySpec

Handler = Callable[[argparse.Namespace], int]


def _add_target_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        required=True,
        help="Lambda runtime, e.g. python3.12 (python3.9 ... python3.14)",
    )
    parser.add_argument("--arch", required=True, help="Lambda architecture: x86_64 or arm64")


def _add_layer_list(parser: argparse.ArgumentParser, metavar: str, help: str) -> None:
    """``--layer``, repeatable, in the order the function attaches its layers."""
    parser.add_argument("--layer", action="append", default=[], metavar=metavar, help=help)


# -- tags ------------------------------------------------------------------------------------


def _tags_args(p: argparse.ArgumentParser) -> None:
    _add_target_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON list of strings")
    p.add_argument(
        "--installer-args",
        choices=("pip", "uv"),
        help="print the arguments that make pip or uv install for this target instead",
    )


def _run_tags(args: argparse.Namespace) -> int:
    """print the wheel tags a Lambda runtime/architecture accepts, best first

    Print every wheel tag that runs on the target, best first.
    """
    target = Target.for_runtime(args.runtime, args.arch)
    if args.installer_args:
        values = target.pip_args() if args.installer_args == "pip" else target.uv_args()
        if args.installer_args == "uv" and not target.uv_platform_is_exact:
            print(f"note: {uv_platform_caveat(target)}", file=sys.stderr)
    else:
        values = [str(tag) for tag in target.tags()]
    if args.json:
        print(json.dumps(values, indent=2))
    elif args.installer_args:
        print(" ".join(values))
    else:
        print("\n".join(values))
    return 0


def uv_platform_caveat(target: Target) -> str:
    """What plain uv loses for a target whose glibc uv cannot name (Amazon Linux 2)."""
    from .index.view import uv_superset_platform

    uv_glibc = target.uv_platform.rsplit("_", 2)[-2:]
    first_lost = f"manylinux_{uv_glibc[0]}_{int(uv_glibc[1]) + 1}"
    return (
        f"uv cannot name the glibc of {target} ({target.glibc}): "
        f"--python-platform {target.uv_platform} never admits a wheel that is too new, but "
        f"skips the wheels tagged {first_lost} ... manylinux_{target.glibc.major}_"
        f"{target.glibc.minor} that fit, so uv may install an older release than fits. "
        "`lambda-wheels build` installs the newest fitting release: it runs uv with "
        f"--python-platform {uv_superset_platform(target)} against an index view that hides "
        f"every wheel above glibc {target.glibc}. With pip, `--installer-args pip` passes "
        "every tag that fits"
    )


# -- build -----------------------------------------------------------------------------------


def _build_args(p: argparse.ArgumentParser) -> None:
    _build_input_args(p)
    _build_output_args(p)
    _build_install_args(p)
    _build_bundle_args(p)
    _build_remote_args(p)


def _build_input_args(p: argparse.ArgumentParser) -> None:
    """The target and the dependency input."""
    p.add_argument(
        "--runtime",
        required=True,
        action="append",
        help="Lambda runtime, e.g. python3.12 (python3.9 ... python3.14); with --layer, repeat "
        "it for a layer that serves several runtimes",
    )
    p.add_argument("--arch", required=True, help="Lambda architecture: x86_64 or arm64")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument(
        "-r",
        "--requirements",
        metavar="FILE",
        help="requirements.txt, pyproject.toml, uv.lock, poetry.lock, Pipfile.lock or pylock.toml",
    )
    inputs.add_argument(
        "--project", metavar="DIR", help="a folder: its dependency input is auto-detected"
    )
    p.add_argument("requirement", nargs="*", metavar="REQ", help="requirement strings")
    p.add_argument("--source", metavar="DIR", help="handler source folder to copy into OUT")


def _build_output_args(p: argparse.ArgumentParser) -> None:
    """Where the bundle goes: a folder or a zip; a function bundle or a layer."""
    outputs = p.add_mutually_exclusive_group(required=True)
    outputs.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="bundle folder: created, or replaced whole when an earlier build wrote it (it "
        "holds .lambda-wheels-output) or it is empty",
    )
    outputs.add_argument(
        "--zip",
        metavar="OUT.zip",
        help="write the bundle as a deterministic zip instead (sorted entries, 1980 dates, "
        "modes Lambda honours): for SAM's CodeUri, Terraform's filename, the AWS CLI",
    )
    p.add_argument(
        "--layer",
        action="store_true",
        help="a layer: the dependencies under python/ (one install per --runtime, in "
        "python/lib/python3.X/site-packages when they differ), bytecode for each",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace OUT even when it holds files lambda-wheels did not write (they are "
        "deleted); never the source, inputs, caches, the working directory or home",
    )


def _build_install_args(p: argparse.ArgumentParser) -> None:
    """How dependencies are installed: installer, Docker for native sdists, indexes, extras."""
    p.add_argument("--installer", choices=("uv", "pip"), default="uv", help="default: uv")
    p.add_argument(
        "--docker", action="store_true", help="compile native sdists in the build image (Docker)"
    )
    p.add_argument(
        "--docker-image",
        metavar="IMAGE",
        help="with --docker: build native sdists in IMAGE instead of the runtime's SAM build "
        "image (it must run the target's Python as `python`, with pip)",
    )
    p.add_argument(
        "--docker-network",
        action="store_true",
        help="with --docker: give the build container the engine's default network (for "
        "build scripts that download files); default: --network none, everything is "
        "downloaded on this host and mounted read-only",
    )
    p.add_argument(
        "--no-sdists", action="store_true", help="never build sdists (their build code runs)"
    )
    p.add_argument("--index-url", metavar="URL", help="package index (default: PyPI)")
    p.add_argument("--extra-index-url", metavar="URL", action="append", default=[])
    p.add_argument("--find-links", metavar="PATH_OR_URL", action="append", default=[])
    p.add_argument("--no-index", action="store_true", help="use only --find-links")
    p.add_argument("--extra", action="append", default=[], help="optional-dependency extra")
    p.add_argument("--group", action="append", default=[], help="dependency group")
    p.add_argument(
        "--locked",
        action="store_true",
        help="uv.lock must match pyproject.toml (default: use the lock as it is, --frozen)",
    )


def _build_bundle_args(p: argparse.ArgumentParser) -> None:
    """What the bundle holds: source excludes, audit, caches, bytecode, slimming."""
    p.add_argument("--exclude", action="append", default=[], help="extra source exclude pattern")
    p.add_argument(
        "--follow-external-symlinks",
        action="store_true",
        help="copy what symbolic links in --source that leave it point to (default: refuse "
        "them; links inside it are always followed)",
    )
    p.add_argument("--audit", choices=("strict", "warn", "off"), default="strict")
    p.add_argument("--cache-dir", metavar="DIR", help="bundle cache (default: user cache dir)")
    p.add_argument(
        "--verify-cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hash cached files against the sha256 recorded when they were cached, before "
        "using them (about 0.3 s per 250 MB); default: on when CI=true",
    )
    p.add_argument(
        "--link-mode",
        choices=("link", "copy"),
        default="link",
        help="link: clone or hard-link installed files from uv's cache, like uv (default); "
        "copy: new copies with fixed file times",
    )
    _build_bytecode_args(p)
    p.add_argument(
        "--slim",
        action="store_true",
        help="remove test suites inside packages and type stubs from the dependencies "
        "(the manifest says what each rule removed)",
    )
    p.add_argument(
        "--exclude-runtime-packages",
        action="store_true",
        help="leave out boto3, botocore and s3transfer, which the Lambda runtime provides",
    )


def _build_bytecode_args(p: argparse.ArgumentParser) -> None:
    """Which bytecode the bundle holds, and the CPython that compiles it."""
    code = p.add_mutually_exclusive_group()
    code.add_argument(
        "--no-bytecode",
        dest="bytecode",
        action="store_const",
        const="none",
        default="all",
        help="ship no .pyc files (default: hash-based bytecode for every .py, compiled by a "
        "CPython of the runtime's version, so cold starts do not compile on Lambda)",
    )
    code.add_argument(
        "--no-source-bytecode",
        dest="bytecode",
        action="store_const",
        const="dependencies",
        help="compile the dependencies only, not the --source files",
    )
    p.add_argument(
        "--bytecode-interpreter",
        metavar="PYTHON",
        help="the CPython X.Y that compiles (default: found on PATH, pyenv, uv)",
    )
    p.add_argument(
        "--allow-python-download",
        action="store_true",
        help="let uv download a CPython of the runtime's version when none is found",
    )


def _build_remote_args(p: argparse.ArgumentParser) -> None:
    """The cache shared by every machine, and what is printed."""
    p.add_argument(
        "--remote-cache",
        metavar="S3_URL",
        help="s3://bucket/prefix of a cache shared by every machine: a local miss is looked up "
        "there, fresh builds are published (default: $LAMBDA_WHEELS_REMOTE_CACHE; needs "
        "lambda-wheels-cdk[s3])",
    )
    p.add_argument(
        "--remote-cache-mode",
        choices=("read-write", "read"),
        help="read: never publish (untrusted branches); default: read-write",
    )
    p.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="show installer commands")


def _run_build(args: argparse.Namespace) -> int:
    """install dependencies (and handler source) into a folder for a Lambda target

    Install dependencies for a Lambda runtime/architecture into OUT, audit them, and copy
    the handler source. Host pip/uv configuration files and PIP_*/UV_* settings are ignored,
    except index URLs (see README, 'Host configuration').
    """
    from .build.archive import write_zip
    from .events import Progress, human_size

    targets = _build_targets(args)
    spec = _build_spec(args)
    options = _build_options(args)
    zipped = Path(args.zip) if args.zip else None
    if zipped is not None:
        _check_zip(zipped, args, _excludes(args))
    shown = zipped if zipped is not None else Path(args.output)
    progress = Progress(shown.name or str(shown), verbose=args.verbose)
    with _staging(zipped, args.output) as out:
        manifests = _write(args, spec, targets, options, out, progress)
        if zipped is not None:
            size = write_zip(out, zipped)
            progress(f"wrote {zipped} ({human_size(size)} zipped)")
    _print_manifests(args, manifests, shown)
    return 0


def _build_targets(args: argparse.Namespace) -> list[Target]:
    """The targets of ``--runtime`` (several only for ``--layer``)."""
    from .errors import UsageError

    targets = list(dict.fromkeys(Target.for_runtime(r, args.arch) for r in args.runtime))
    if len(targets) > 1 and not args.layer:
        raise UsageError(
            "several --runtime values make a layer for each of them: add --layer, or build one "
            "function bundle per runtime"
        )
    if args.layer and args.source:
        raise UsageError(
            "--layer builds a layer of dependencies; a layer has no handler source: drop "
            "--source, or build the function bundle without --layer"
        )
    return targets


def _build_spec(args: argparse.Namespace) -> DependencySpec | None:
    """The dependencies: REQ strings, ``-r``, ``--project``, or found in ``--source``."""
    from .errors import UsageError
    from .inputs.detect import detect, load
    from .inputs.requirements import from_list

    if args.requirement and (args.requirements or args.project):
        raise UsageError("pass requirement strings or -r FILE / --project DIR, not both")
    if args.requirement:
        return from_list(args.requirement)
    given = args.requirements or args.project or None
    if not (given or args.source):
        raise UsageError("nothing to build: pass REQ ..., -r FILE, --project DIR or --source DIR")
    found = given or detect(Path(args.source))
    if not found:
        return None
    # one call for -r, --project and --source: the same extras, groups and --locked
    return load(found, extras=args.extra, groups=args.group, frozen=not args.locked)


def _build_options(args: argparse.Namespace) -> BuildOptions:
    """The command line's choices as the options model the constructs map onto too."""
    from .build.models import BuildOptions
    from .inputs.paths import absolute_find_links

    return BuildOptions.from_user(
        installer=args.installer,
        index_url=args.index_url,
        extra_index_urls=args.extra_index_url,
        find_links=absolute_find_links(args.find_links, (Path.cwd(),), what="--find-links"),
        no_index=args.no_index,
        docker=args.docker,
        docker_image=args.docker_image,
        docker_network=args.docker_network,
        allow_sdists=not args.no_sdists,
        audit=args.audit,
        cache_dir=args.cache_dir,
        link_mode=args.link_mode,
        bytecode=args.bytecode,
        bytecode_interpreter=args.bytecode_interpreter,
        allow_python_download=args.allow_python_download,
        slim=args.slim,
        exclude_runtime_packages=args.exclude_runtime_packages,
        remote_cache=args.remote_cache,
        remote_cache_mode=args.remote_cache_mode,
        verify_cache=args.verify_cache,
    )


def _excludes(args: argparse.Namespace) -> tuple[str, ...]:
    from .tree import DEFAULT_EXCLUDES

    return (*DEFAULT_EXCLUDES, *args.exclude)


def _write(
    args: argparse.Namespace,
    spec: DependencySpec | None,
    targets: list[Target],
    options: BuildOptions,
    out: Path,
    progress: Log,
) -> tuple[Manifest, ...]:
    """Build the layer or the function bundle in ``out``: one manifest per target."""
    from .build.pipeline import build_bundle, build_layer

    inputs = _input_paths(args, options.index.find_links)
    if args.layer:
        return build_layer(
            spec, targets, out, options=options, log=progress, inputs=inputs, force=args.force
        )
    manifest = build_bundle(
        spec,
        targets[0],
        out,
        source=Path(args.source) if args.source else None,
        excludes=_excludes(args),
        follow_external_symlinks=args.follow_external_symlinks,
        options=options,
        log=progress,
        inputs=inputs,
        force=args.force,
    )
    return (manifest,)


def _print_manifests(args: argparse.Namespace, manifests: Sequence[Manifest], shown: Path) -> None:
    """``--json``: the manifest(s) on stdout; else one line per distribution, and a summary
    on stderr (the build already printed its notes as progress lines)."""
    from .events import counted, human_size

    if args.json:
        data = [m.to_json() for m in manifests]
        print(json.dumps(data if args.layer else data[0], indent=2))
        return
    for manifest in manifests:
        for dist in manifest.distributions:
            print(f"{dist.name}=={dist.version}  {dist.wheel}")
        print(
            f"{shown}: {counted(len(manifest.distributions), 'distribution')}, "
            f"{human_size(manifest.total_bytes)} for {manifest.target}",
            file=sys.stderr,
        )


@contextmanager
def _staging(zipped: Path | None, output: str | None) -> Iterator[Path]:
    """Where to build: ``-o OUT``, or for ``--zip`` a private folder beside the zip, removed
    afterwards."""
    if zipped is None:
        assert output is not None  # argparse: exactly one of -o and --zip
        yield Path(output)
        return
    from . import tree

    folder = tree.temp_sibling(zipped, "zip")
    try:
        yield folder / "bundle"
    finally:
        tree.remove_tree(folder)


def _check_zip(zipped: Path, args: argparse.Namespace, excludes: Sequence[str]) -> None:
    """Refuse a ``--zip`` path that is not ours to write, or that the next build would copy."""
    import os

    from .build.archive import check_zip_output
    from .errors import UsageError
    from .tree import matches_exclude

    check_zip_output(zipped, force=args.force)
    if args.source:
        source = os.path.realpath(args.source)
        real = os.path.realpath(zipped)
        if os.path.commonpath([source, real]) == source:
            rel = os.path.relpath(real, source).replace(os.sep, "/")
            if not matches_exclude(rel, excludes):
                raise UsageError(
                    f"--zip {zipped} is inside the --source folder, so the next build would copy "
                    f"the zip into the bundle; write it elsewhere, or --exclude /{rel}"
                )


def _input_paths(args: argparse.Namespace, find_links: Sequence[str]) -> list[Protected]:
    """The local files and folders a build reads, which its output folder must not replace."""

    from .build.outdir import Protected

    named = [("the -r file", args.requirements), ("the --project folder", args.project)]
    named += [("the --find-links folder", link) for link in find_links if "://" not in link]
    return [Protected(what, Path(path)) for what, path in named if path]


# -- audit -----------------------------------------------------------------------------------


def _audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="the bundle: a folder or a .zip")
    _add_target_args(p)
    _add_layer_list(p, "PATH", "a layer the function uses (folder or .zip); repeat in attach order")
    p.add_argument(
        "--kind",
        choices=("function", "layer"),
        default="function",
        help="what PATH is (default: function: packages at its root; a layer has them under "
        "python/)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_audit(args: argparse.Namespace) -> int:
    """check that every binary in a bundle (folder or .zip) runs on a Lambda target

    Audit a function bundle or layer (a folder, or a .zip read in place) and its layers for
    a Lambda runtime/architecture: ELF machine and class, glibc/libstdc++ symbol versions,
    needed shared libraries, macOS/Windows binaries, extension-module names, WHEEL tags and
    the 250 MiB unzipped limit. Exit 0 when there is no error (warnings allowed), 1 when
    there are errors, 2 on bad input.
    """
    from .audit.engine import audit

    target = Target.for_runtime(args.runtime, args.arch)
    report = audit(args.path, target, layers=args.layer, kind=args.kind)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.format_text())
    return 0 if report.ok else 1


# -- smoke -----------------------------------------------------------------------------------

#: ``lambda-wheels smoke`` exit status per result (2 is bad input, as for every command).
SMOKE_EXIT = {"passed": 0, "failed": 1, "skipped": 3}


def _smoke_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="BUNDLE", help="the function's code folder (/var/task)")
    _add_target_args(p)
    _add_layer_list(
        p, "DIR", "a layer folder (holding python/...); repeat in the function's layer order"
    )
    p.add_argument(
        "--handler",
        dest="lambda_handler",
        metavar="MODULE.FUNCTION",
        help="import and call this handler, e.g. app.handler (default: none called)",
    )
    p.add_argument(
        "--event", metavar="JSON", help="the handler's event: JSON text or @FILE (default: {})"
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="MODULE",
        help="a top-level module not to import (e.g. one that needs the runtime's boto3)",
    )
    p.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="one more module to import, e.g. a lazily loaded extension (repeatable)",
    )
    p.add_argument(
        "--python",
        metavar="COMMAND",
        help="use this interpreter instead of searching: a path, or a command such as "
        "'qemu-aarch64-static -L /sysroot /sysroot/usr/bin/python3.11'",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="kill the interpreter after this long (default: 300; qemu is slow)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _run_smoke(args: argparse.Namespace) -> int:
    """import a bundle under the target's own CPython (arm64: under qemu) and call it

    Import every top-level module of every distribution in BUNDLE and its layers, plus the
    handler module, in a clean CPython of the target's version and architecture (-I -S -B;
    sys.path = bundle, then layers as Lambda orders them): a native interpreter from PATH,
    pyenv or uv, or an aarch64 CPython under 'qemu-aarch64-static -cpu neoverse-n1 -L
    SYSROOT' (SYSROOT from LAMBDA_WHEELS_ARM64_SYSROOT). Optionally call the handler with an
    event. Prints the interpreter that ran. Exit 0 passed, 1 failed, 2 bad input, 3 skipped:
    no interpreter for the target on this host (the reason says what to install); a skip is
    never a pass.
    """
    import shlex

    from .errors import InputError, UsageError
    from .smoke.interpreters import Interpreter
    from .smoke.runner import DEFAULT_TIMEOUT, smoke

    target = Target.for_runtime(args.runtime, args.arch)
    event = None
    if args.event is not None:
        if args.lambda_handler is None:
            raise UsageError("--event is passed to the handler: add --handler MODULE.FUNCTION")
        text = args.event
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read the event file {text[1:]}: {exc}") from exc
        try:
            event = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                f"--event is not JSON ({exc}); pass e.g. '{{\"key\": 1}}' or @event.json"
            ) from exc
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    interpreter = None
    if args.python:
        interpreter = Interpreter.given(tuple(shlex.split(args.python)), target)
    result = smoke(
        args.bundle,
        target,
        layers=args.layer,
        handler=args.lambda_handler,
        event=event,
        interpreter=interpreter,
        skip=args.skip,
        modules=args.modules,
        timeout=timeout,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.summary())
    return SMOKE_EXIT[result.status]


# -- entry point -----------------------------------------------------------------------------

#: The commands: name, the function that adds its options, and its handler, whose docstring is
#: its help (the first line in the list of commands, the rest as its description).
_COMMANDS: tuple[tuple[str, Callable[[argparse.ArgumentParser], None], Handler], ...] = (
    ("tags", _tags_args, _run_tags),
    ("build", _build_args, _run_build),
    ("audit", _audit_args, _run_audit),
    ("smoke", _smoke_args, _run_smoke),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-wheels",
        description="Install, audit and check Python dependencies for AWS Lambda targets.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, add_args, run in _COMMANDS:
        # no docstrings under `python -OO`: the commands work, without their help texts
        summary, _, description = (inspect.getdoc(run) or "").partition("\n\n")
        p = sub.add_parser(name, help=summary or None, description=description or None)
        add_args(p)
        p.set_defaults(handler=run)
    return parser


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, ``kill``) ends the command like Ctrl-C does: ``finally``
    blocks run, so temp folders are removed and the installer is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Exit status when the reader of our output went away (``lambda-wheels tags | head -1``):
#: what a shell reports for a tool that SIGPIPE ended (128 + 13), as ``yes | head -1`` does.
BROKEN_PIPE_EXIT = 141


def main(argv: Sequence[str] | None = None, *, today: date | None = None) -> int:
    """Run the command line; ``today`` (UTC) dates the runtime-deprecation warning (default: the
    clock)."""
    try:
        code = _main(argv, today or datetime.now(timezone.utc).date())
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # stop quietly, like a tool SIGPIPE ends: no traceback, nothing more written
        _discard_output()
        return BROKEN_PIPE_EXIT


def _main(argv: Sequence[str] | None, today: date) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    _warn_if_deprecated(args, today)
    try:
        with _cleanup_on_sigterm():
            return handler(args)
    except LambdaWheelsError as exc:
        print(f"lambda-wheels {args.command}: error: {plain_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"lambda-wheels {args.command}: interrupted", file=sys.stderr)
        return 130


def _warn_if_deprecated(args: argparse.Namespace, today: date) -> None:
    """A ``warning:`` line on stderr for each ``--runtime`` Lambda has deprecated (never a
    failure). ``build --layer`` takes several runtimes."""
    from .target.runtimes import lifecycle_warning

    given = getattr(args, "runtime", None) or []
    runtimes = [given] if isinstance(given, str) else list(given)
    for runtime in dict.fromkeys(r.strip().lower() for r in runtimes):
        warning = lifecycle_warning(runtime, today)
        if warning:
            print(f"lambda-wheels {args.command}: warning: {warning}", file=sys.stderr)


def _discard_output() -> None:
    """Point stdout and stderr at the null device, so that flushing them at exit cannot fail
    again (Python would print "Exception ignored ... BrokenPipeError")."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        # not a real file descriptor (tests, IDEs): nothing to protect
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
