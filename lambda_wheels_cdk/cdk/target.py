"""AWS CDK runtime/architecture objects -> core :class:`Target`."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from ..core.target import Target
from ..errors import UnsupportedArchitectureError, UnsupportedRuntimeError


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
