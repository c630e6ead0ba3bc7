"""The pure core of lambda-wheels: targets, dependency inputs, installs, audit, bundles.

Nothing under ``lambda_wheels_cdk.core`` imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""

from __future__ import annotations

from .runtimes import RUNTIMES, UNZIPPED_LIMIT_BYTES
from .target import Target, all_targets, runtime_spec, wheel_arch

__all__ = [
    "RUNTIMES",
    "UNZIPPED_LIMIT_BYTES",
    "Target",
    "all_targets",
    "runtime_spec",
    "wheel_arch",
]
