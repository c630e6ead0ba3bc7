"""The ``lambda-wheels`` command line, over the same core as the CDK constructs.

``main(argv) -> int``. A :class:`~lambda_wheels_cdk.errors.LambdaWheelsError` becomes a one-line
message on stderr and its ``exit_code`` (2 for bad input, 1 for a failed build or audit);
anything else is a bug and keeps its traceback.

This module never imports ``aws_cdk``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .core.target import Target
from .errors import LambdaWheelsError

Handler = Callable[[argparse.Namespace], int]


def _add_target_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        required=True,
        help="Lambda runtime, e.g. python3.12 (python3.9 ... python3.14)",
    )
    parser.add_argument("--arch", required=True, help="Lambda architecture: x86_64 or arm64")


# -- tags ------------------------------------------------------------------------------------


def _add_tags(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tags",
        help="print the wheel tags a Lambda runtime/architecture accepts, best first",
        description="Print every wheel tag that runs on the target, best first.",
    )
    _add_target_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON list of strings")
    p.add_argument(
        "--installer-args",
        choices=("pip", "uv"),
        help="print the arguments that make pip or uv install for this target instead",
    )
    p.set_defaults(handler=_run_tags)


def _run_tags(args: argparse.Namespace) -> int:
    target = Target.for_runtime(args.runtime, args.arch)
    if args.installer_args:
        values = target.pip_args() if args.installer_args == "pip" else target.uv_args()
    else:
        values = [str(tag) for tag in target.tags()]
    if args.json:
        print(json.dumps(values, indent=2))
    elif args.installer_args:
        print(" ".join(values))
    else:
        print("\n".join(values))
    return 0


# -- entry point -----------------------------------------------------------------------------

_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_tags,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-wheels",
        description="Install, audit and check Python dependencies for AWS Lambda targets.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except LambdaWheelsError as exc:
        print(f"lambda-wheels {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"lambda-wheels {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
