"""Where a bundle runs, and which wheels fit there.

Everything here is a pure function of the runtime tables: the tag set is built with
``packaging.tags.cpython_tags`` / ``compatible_tags`` with every argument passed explicitly.
``sys_tags()`` and ``platform_tags()`` describe the *running* interpreter (the build host) and
are never called.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import (
    DeprecatedRuntimeError,
    UnsupportedArchitectureError,
    UnsupportedRuntimeError,
    UsageError,
)
from .runtimes import (
    BUILD_IMAGE_TEMPLATE,
    DATACLASS_SLOTS,
    DEPRECATED_RUNTIMES,
    DOCKER_ARCH,
    DOCKER_PLATFORM,
    LAMBDA_ARCH,
    LEGACY_MANYLINUX,
    MANYLINUX_FLOOR,
    RUNTIMES,
    UV_MANYLINUX_GLIBC,
    WHEEL_ARCH,
    Glibc,
    LambdaArch,
    OsSpec,
    RuntimeSpec,
    WheelArch,
)

_SUPPORTED_RUNTIMES = ", ".join(RUNTIMES)
_SUPPORTED_ARCHES = ", ".join(sorted({LAMBDA_ARCH[a] for a in WHEEL_ARCH.values()}))


def runtime_spec(runtime: str) -> RuntimeSpec:
    """Look up a Lambda runtime name (``python3.12``).

    Raises:
        DeprecatedRuntimeError: the runtime is a deprecated Python runtime (python3.8 and older).
        UnsupportedRuntimeError: anything else that is not in :data:`RUNTIMES`.
    """
    name = runtime.strip().lower()
    spec = RUNTIMES.get(name)
    if spec is not None:
        return spec
    if name in DEPRECATED_RUNTIMES:
        raise DeprecatedRuntimeError(
            f"runtime {runtime!r} is deprecated by AWS Lambda and not supported; "
            f"move the function to one of: {_SUPPORTED_RUNTIMES}"
        )
    kind = "not a Python runtime" if not name.startswith("python") else "not a known Python runtime"
    raise UnsupportedRuntimeError(
        f"runtime {runtime!r} is {kind}; lambda-wheels supports: {_SUPPORTED_RUNTIMES}"
    )


def wheel_arch(architecture: str) -> WheelArch:
    """Convert an AWS architecture name (``x86_64``, ``arm64``) to the wheel spelling.

    Raises:
        UnsupportedArchitectureError: the name is not a Lambda architecture.
    """
    arch = WHEEL_ARCH.get(architecture.strip().lower())
    if arch is None:
        raise UnsupportedArchitectureError(
            f"architecture {architecture!r} is not a Lambda architecture; use one of: "
            f"{_SUPPORTED_ARCHES}"
        )
    return arch


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Target:
    """Where a bundle runs: Lambda runtime (interpreter and OS) and wheel architecture."""

    runtime: str
    arch: WheelArch

    @classmethod
    def for_runtime(cls, runtime: str, arch: str) -> Target:
        """Build a target from Lambda's names, e.g. ``Target.for_runtime("python3.12", "arm64")``.

        Raises:
            UnsupportedRuntimeError: unknown, deprecated or non-Python runtime.
            UnsupportedArchitectureError: unknown architecture.
        """
        return cls(runtime_spec(runtime).name, wheel_arch(arch))

    # -- facts -------------------------------------------------------------------------------

    @property
    def spec(self) -> RuntimeSpec:
        return RUNTIMES[self.runtime]

    @property
    def python(self) -> tuple[int, int]:
        return self.spec.python

    @property
    def python_version(self) -> str:
        """``"3.12"``."""
        return "{}.{}".format(*self.python)

    @property
    def os(self) -> OsSpec:
        return self.spec.os_spec

    @property
    def glibc(self) -> Glibc:
        return self.spec.glibc

    @property
    def lambda_arch(self) -> LambdaArch:
        """The AWS spelling of the architecture (``arm64``)."""
        return LAMBDA_ARCH[self.arch]

    @property
    def abi(self) -> str:
        """The CPython ABI tag, ``cp312``."""
        return "cp{}{}".format(*self.python)

    def __str__(self) -> str:
        return f"{self.runtime}/{self.lambda_arch}"

    # -- tags --------------------------------------------------------------------------------

    def platforms(self) -> Iterator[str]:
        """Every manylinux platform tag that runs here, newest glibc first.

        Runs from ``manylinux_2_<glibc>_<arch>`` down to the architecture's floor (2_5 for
        x86_64, 2_17 for aarch64); each legacy alias (``manylinux2014`` ...) comes right after
        its PEP 600 twin. ``linux_<arch>`` (unaudited host builds) is never included.
        """
        floor = MANYLINUX_FLOOR[self.arch]
        for minor in range(self.glibc.minor, floor.minor - 1, -1):
            glibc = Glibc(self.glibc.major, minor)
            yield f"manylinux_{glibc.major}_{glibc.minor}_{self.arch}"
            legacy = LEGACY_MANYLINUX.get(glibc)
            if legacy is not None:
                yield f"{legacy}_{self.arch}"

    def tags(self) -> Iterator[Tag]:
        """Every tag a wheel may carry to run here, best first. Never inspects the host."""
        platforms = list(self.platforms())
        yield from cpython_tags(self.python, [self.abi], platforms)
        yield from compatible_tags(self.python, self.abi, platforms)

    def tag_priority(self, tag: Tag) -> int | None:
        """The position of ``tag`` in :meth:`tags` (0 is best), or ``None`` if it does not fit."""
        return _tag_ranks(self).get(tag)

    def accepts(self, wheel: str | Tag) -> bool:
        """Does a wheel fit this target?

        Args:
            wheel: a wheel filename (``numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl``),
                a tag string, possibly compressed
                (``cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64``), or a
                :class:`packaging.tags.Tag`.

        Raises:
            UsageError: the string is neither a valid wheel filename nor a tag.
        """
        return self.best_rank(wheel) is not None

    def best_rank(self, wheel: str | Tag) -> int | None:
        """Best (lowest) :meth:`tag_priority` among a wheel's tags; ``None`` if none fits."""
        ranks = _tag_ranks(self)
        found = [ranks[t] for t in _wheel_tags(wheel) if t in ranks]
        return min(found) if found else None

    # -- installer flags ---------------------------------------------------------------------

    def pip_args(self) -> list[str]:
        """Arguments that make ``pip install`` select wheels for this target.

        pip matches each ``--platform`` literally, so every compatible platform tag is passed,
        newest first. pip still evaluates environment markers (``platform_machine``,
        ``sys_platform``) against the *host*; prefer uv.
        """
        args: list[str] = []
        for platform in self.platforms():
            args += ["--platform", platform]
        args += [
            "--python-version",
            self.python_version,
            "--implementation",
            "cp",
            "--abi",
            self.abi,
            "--only-binary=:all:",
        ]
        return args

    @property
    def uv_platform(self) -> str:
        """The ``--python-platform`` value for uv: the newest uv-known glibc not above ours.

        uv knows 2_17, 2_28 and 2_31 ... 2_40 only. For Amazon Linux 2 (glibc 2.26) that is
        ``manylinux_2_17``: uv then skips wheels tagged only ``manylinux_2_24`` ... ``_2_26``
        (they would fit) and may pick an older release. It never picks a wheel that needs a
        newer glibc.
        """
        usable = [g for g in UV_MANYLINUX_GLIBC if g <= self.glibc]
        if not usable:  # pragma: no cover - every runtime in the table has glibc >= 2.17
            raise UsageError(f"uv cannot express a glibc ceiling of {self.glibc} for {self}")
        best = max(usable)
        return f"{self.arch}-manylinux_{best.major}_{best.minor}"

    @property
    def uv_platform_is_exact(self) -> bool:
        """Whether uv's platform value covers exactly our glibc ceiling (no fitting wheel lost)."""
        return self.uv_platform.endswith(f"_{self.glibc.major}_{self.glibc.minor}")

    def uv_args(self) -> list[str]:
        """Arguments that make ``uv pip install`` resolve and select wheels for this target.

        uv evaluates environment markers for the target platform, unlike pip.
        """
        return ["--python-version", self.python_version, "--python-platform", self.uv_platform]

    # -- Docker ------------------------------------------------------------------------------

    @property
    def build_image(self) -> str:
        """The SAM build image for this runtime and architecture."""
        major, minor = self.python
        return BUILD_IMAGE_TEMPLATE.format(
            major=major, minor=minor, docker_arch=DOCKER_ARCH[self.arch]
        )

    @property
    def docker_platform(self) -> str:
        """``linux/amd64`` or ``linux/arm64``."""
        return DOCKER_PLATFORM[self.arch]


def all_targets() -> Iterator[Target]:
    """Every supported runtime x architecture, in table order."""
    for runtime in RUNTIMES:
        for arch in LAMBDA_ARCH:
            yield Target(runtime, arch)


@functools.cache
def _tag_ranks(target: Target) -> dict[Tag, int]:
    ranks: dict[Tag, int] = {}
    for tag in target.tags():
        ranks.setdefault(tag, len(ranks))
    return ranks


def _wheel_tags(wheel: str | Tag) -> frozenset[Tag]:
    if isinstance(wheel, Tag):
        return frozenset({wheel})
    text = wheel.strip()
    name = text.replace("\\", "/").rsplit("/", 1)[-1]
    if name.endswith(".whl"):
        try:
            return parse_wheel_filename(name)[3]
        except InvalidWheelFilename as exc:
            raise UsageError(
                f"{name!r} is not a valid wheel filename ({exc}); expected "
                "name-version-python-abi-platform.whl"
            ) from None
    if text.count("-") != 2:
        raise UsageError(
            f"{text!r} is neither a wheel filename nor a tag; expected e.g. "
            "'cp312-cp312-manylinux_2_17_x86_64' or 'pkg-1.0-py3-none-any.whl'"
        )
    try:
        return parse_tag(text)
    except ValueError as exc:  # packaging.tags.InvalidTag: an empty or malformed component
        raise UsageError(
            f"{text!r} is not a valid tag ({exc}); expected e.g. "
            "'cp312-cp312-manylinux_2_17_x86_64' or 'pkg-1.0-py3-none-any.whl'"
        ) from None
