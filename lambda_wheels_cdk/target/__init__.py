"""Where a bundle runs: the Lambda runtime table and :class:`Target` (tags, installer flags).

Pure data and pure functions: nothing here looks at the build host.
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
