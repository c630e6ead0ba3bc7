"""Record the exception a ``lambda-wheels`` command raised, which ``cli.main`` turns into its
one-line error and exit status (tests check the exception's type and the printed message)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterable

import pytest

from lambda_wheels_cdk import cli


def record_errors(
    monkeypatch: pytest.MonkeyPatch, commands: Iterable[str] = ("tags", "build", "audit")
) -> list[BaseException]:
    """Wrap the handlers of ``commands``; the returned list collects what they raise."""
    caught: list[BaseException] = []
    chosen = set(commands)

    def wrap(original: cli.Handler) -> cli.Handler:
        @functools.wraps(original)  # the docstring is the command's --help
        def handler(args: argparse.Namespace) -> int:
            try:
                return original(args)
            except BaseException as exc:
                caught.append(exc)
                raise

        return handler

    monkeypatch.setattr(
        cli,
        "_COMMANDS",
        tuple(
            (name, add, wrap(run) if name in chosen else run) for name, add, run in cli._COMMANDS
        ),
    )
    return caught
