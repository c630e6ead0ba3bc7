"""AWS CDK runtime/architecture objects -> core :class:`Target`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone

from aws_cdk import Annotations
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..errors import UnsupportedArchitectureError, UnsupportedRuntimeError, UsageError
from ..target.runtimes import lifecycle_warning
from ..target.target import Target

#: CDK context key: the UTC day the runtime-deprecation warning is computed for, as
#: ``YYYY-MM-DD`` (``cdk synth -c lambda-wheels:today=2026-12-04``). Default: today's date.
TODAY_CONTEXT = "lambda-wheels:today"


def target_for(
    runtime: lambda_.Runtime, architecture: lambda_.Architecture, *, what: str
) -> Target:
    """Validate a CDK runtime + architecture for a Python wheel bundle.

    Raises:
        UnsupportedRuntimeError: not a Python runtime, or one lambda-wheels does not support.
        UnsupportedArchitectureError: an architecture Lambda does not offer.
    """
    if not isinstance(runtime, lambda_.Runtime):
        raise UnsupportedRuntimeError(
            f"{what}: runtime must be an aws_lambda.Runtime such as Runtime.PYTHON_3_12, "
            f"not {runtime!r}"
        )
    if not isinstance(architecture, lambda_.Architecture):
        raise UnsupportedArchitectureError(
            f"{what}: architecture must be aws_lambda.Architecture.X86_64 or ARM_64, "
            f"not {architecture!r}"
        )
    try:
        return Target.for_runtime(runtime.name, architecture.name)
    except (UnsupportedRuntimeError, UnsupportedArchitectureError) as exc:
        raise type(exc)(f"{what}: {exc}") from None


def synth_day(scope: Construct) -> date:
    """The UTC day runtime deprecation is judged on: the :data:`TODAY_CONTEXT` context value seen
    from ``scope``, else today.

    Raises:
        UsageError: the context value is not an ISO date.
    """
    given = scope.node.try_get_context(TODAY_CONTEXT)
    if not given:
        return datetime.now(timezone.utc).date()
    try:
        return date.fromisoformat(str(given))
    except ValueError:
        raise UsageError(
            f"the context value {TODAY_CONTEXT}={given!r} is not a date; pass YYYY-MM-DD"
        ) from None


def warn_if_deprecated(construct: Construct, targets: Iterable[Target], today: date) -> None:
    """Add a synth warning on ``construct`` for each target runtime Lambda has deprecated on
    ``today``, naming the dates (:func:`~lambda_wheels_cdk.target.runtimes.lifecycle_warning`).
    Never an error, also once creating functions is blocked. Its id,
    ``lambda-wheels:deprecated-runtime:<runtime>``, can be acknowledged
    (``Annotations.of(construct).acknowledge_warning(id)``)."""
    for runtime in dict.fromkeys(target.runtime for target in targets):
        warning = lifecycle_warning(runtime, today)
        if warning:
            Annotations.of(construct).add_warning_v2(
                f"lambda-wheels:deprecated-runtime:{runtime}", warning
            )
