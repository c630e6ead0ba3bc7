"""Every exception lambda-wheels raises on purpose.

One root, :class:`LambdaWheelsError`; each leaf also inherits the builtin that fits, so
callers that catch ``ValueError`` or ``OSError`` keep working. Every message says what was
wrong, for which input, and what to do next.

``exit_code`` is what the CLI returns for the error: 2 for bad input or usage (the command
line or a file it names must change), 1 for a build that ran and failed.
"""

from __future__ import annotations

from collections.abc import Iterable


class LambdaWheelsError(Exception):
    """Root of every error raised on purpose by lambda-wheels."""

    exit_code: int = 1


class UsageError(LambdaWheelsError, ValueError):
    """The caller passed something that cannot work; the message says what to pass instead."""

    exit_code = 2


class UnsupportedRuntimeError(UsageError):
    """The runtime is not a Python runtime that Lambda offers today."""


class DeprecatedRuntimeError(UnsupportedRuntimeError):
    """The runtime is a Python runtime that Lambda no longer supports for new functions."""


class UnsupportedArchitectureError(UsageError):
    """The architecture is not one Lambda offers (x86_64, arm64)."""


class InputError(UsageError):
    """A dependency input (requirements file, lock file, entry folder) is missing or malformed."""


class InstallError(LambdaWheelsError, RuntimeError):
    """The installer (uv or pip) failed; the message carries its own explanation."""


class NeedsDockerError(InstallError):
    """Some requirements ship only sdists with native code and Docker bundling is off."""

    def __init__(self, message: str, distributions: Iterable[str]) -> None:
        super().__init__(message)
        self.distributions: tuple[str, ...] = tuple(distributions)


class SdistBuildError(InstallError):
    """Building sdists into wheels failed (a compiler error in the build image, a missing
    build requirement); ``distributions`` names them and the message shows the build's output
    and the next step."""

    def __init__(self, message: str, distributions: Iterable[str]) -> None:
        super().__init__(message)
        self.distributions: tuple[str, ...] = tuple(distributions)


class AuditError(LambdaWheelsError, RuntimeError):
    """The audit found files that cannot run on the target; ``report`` holds every finding."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class SmokeError(LambdaWheelsError, RuntimeError):
    """A bundle failed to import under the target's CPython (``smoke=True``)."""


class CommandHookError(LambdaWheelsError, RuntimeError):
    """A ``command_hooks`` command failed; the message names it and shows its output."""


class BundleError(LambdaWheelsError, OSError):
    """Writing the bundle or its cache entry failed (disk full, permissions, ...)."""


class IndexUnavailableError(InstallError):
    """A package index or find-links location could not be read (unreachable, HTTP error, or
    not a simple-API page). ``url`` is the location with credentials masked; ``status`` is the
    HTTP status when there was one."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class DownloadHashMismatchError(InstallError):
    """A file downloaded from an index does not match the hash the index published for it."""
