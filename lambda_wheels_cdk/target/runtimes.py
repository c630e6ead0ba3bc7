"""Facts about the Lambda Python runtimes, as data.

Tables only: no host probing, no thresholds in code. A new Lambda runtime is one row in
:data:`RUNTIMES` (plus one row in the tests); check it against the AWS runtime page
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html

AWS spells architectures ``x86_64`` / ``arm64`` (the CDK boundary); wheels spell them
``x86_64`` / ``aarch64`` (inside). :data:`WHEEL_ARCH` is the one place that converts.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final, Literal

if sys.version_info >= (3, 10):
    DATACLASS_SLOTS: Final[dict[str, bool]] = {"slots": True}
else:  # pragma: no cover - Python 3.9 has no dataclass(slots=...)
    DATACLASS_SLOTS = {}

OsName = Literal["al2", "al2023"]
WheelArch = Literal["x86_64", "aarch64"]
LambdaArch = Literal["x86_64", "arm64"]


@dataclass(frozen=True, order=True, **DATACLASS_SLOTS)
class Version2:
    """A two-part version such as glibc 2.26 or GLIBCXX 3.4 (the third part lives elsewhere)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


Glibc = Version2


@dataclass(frozen=True, **DATACLASS_SLOTS)
class OsSpec:
    """The base OS of a runtime: what binaries may link against without bundling it."""

    name: OsName
    title: str
    glibc: Glibc
    #: Highest ``GLIBCXX_3.4.N`` symbol version its libstdc++.so.6 provides (N).
    glibcxx: int
    #: Highest ``CXXABI_1.3.N`` symbol version its libstdc++.so.6 provides (N).
    cxxabi: int


#: Sources: AWS "Amazon Linux 2023 vs Amazon Linux 2: glibc, gcc and binutils" (AL2 glibc 2.26,
#: GCC 7.3; AL2023 glibc 2.34, GCC 11); GCC's libstdc++ ABI history (GCC 7.x ships
#: libstdc++.so.6.0.24 = GLIBCXX_3.4.24 / CXXABI_1.3.11; GCC 11.x ships 6.0.29 = GLIBCXX_3.4.29 /
#: CXXABI_1.3.13). The Lambda AL2023 image may carry a newer libstdc++; 3.4.29 is the safe ceiling.
OPERATING_SYSTEMS: Final[Mapping[OsName, OsSpec]] = MappingProxyType(
    {
        "al2": OsSpec("al2", "Amazon Linux 2", Glibc(2, 26), glibcxx=24, cxxabi=11),
        "al2023": OsSpec("al2023", "Amazon Linux 2023", Glibc(2, 34), glibcxx=29, cxxabi=13),
    }
)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class RuntimeSpec:
    """One Lambda Python runtime: its interpreter and the OS it runs on."""

    name: str
    python: tuple[int, int]
    os: OsName

    @property
    def os_spec(self) -> OsSpec:
        return OPERATING_SYSTEMS[self.os]

    @property
    def glibc(self) -> Glibc:
        return self.os_spec.glibc


#: The supported Lambda Python runtimes (AWS Lambda runtimes page, "Supported runtimes").
RUNTIMES: Final[Mapping[str, RuntimeSpec]] = MappingProxyType(
    {
        "python3.9": RuntimeSpec("python3.9", (3, 9), "al2"),  # Amazon Linux 2
        "python3.10": RuntimeSpec("python3.10", (3, 10), "al2"),  # Amazon Linux 2
        "python3.11": RuntimeSpec("python3.11", (3, 11), "al2"),  # Amazon Linux 2
        "python3.12": RuntimeSpec("python3.12", (3, 12), "al2023"),  # Amazon Linux 2023
        "python3.13": RuntimeSpec("python3.13", (3, 13), "al2023"),  # Amazon Linux 2023
        "python3.14": RuntimeSpec("python3.14", (3, 14), "al2023"),  # Amazon Linux 2023
    }
)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Lifecycle:
    """When Lambda deprecates a runtime and blocks functions that use it (Lambda docs, "Runtime
    deprecation"): from ``deprecated`` no security patches and no technical support; from
    ``create_blocked`` no new functions on it; from ``update_blocked`` no updates of existing
    ones either. ``None``: not announced. Dates are UTC days."""

    deprecated: date | None
    create_blocked: date | None = None
    update_blocked: date | None = None

    @classmethod
    def of(cls, deprecated: str, create: str | None = None, update: str | None = None) -> Lifecycle:
        """From ISO dates (``"2026-10-31"``), as the table below writes them."""

        def day(text: str | None) -> date | None:
            return date.fromisoformat(text) if text else None

        return cls(day(deprecated), day(create), day(update))

    def deprecated_on(self, today: date) -> bool:
        return self.deprecated is not None and today >= self.deprecated


#: Lambda's schedule per runtime: Lifecycle.of(deprecated, create blocked, update blocked).
#: These dates move (python3.9's block dates moved several times; python3.10's deprecation moved
#: from 2026-06-30 to 2026-10-31), so re-check the live table and edit the row:
#: [P] Lambda docs, "Building Lambda functions with Python", supported runtimes table
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); [E] endoflife.date/aws-lambda;
#: [R] later reports of the
#: python3.9 block dates (Lambda runtimes page copies, a re:Post answer). Sureness as in
#: LAMBDA-FACTS.md: V verified from the named source, I inferred, U unverified.
LIFECYCLE: Final[Mapping[str, Lifecycle]] = MappingProxyType(
    {
        "python3.9": Lifecycle.of("2025-12-15", "2027-02-01", "2027-03-03"),  # P V; blocks R U
        "python3.10": Lifecycle.of("2026-10-31", "2026-11-30", "2027-01-15"),  # P V
        "python3.11": Lifecycle.of("2027-06-30"),  # P V; block dates not announced
        "python3.12": Lifecycle.of("2028-10-31", "2028-11-30", "2029-01-10"),  # P V
        "python3.13": Lifecycle.of("2029-06-30", "2029-07-31", "2029-08-31"),  # P V
        # [E] endoflife.date/aws-lambda: support ends 2029-06-30, deprecated support (updates)
        # ends 2029-08-31; the create block is not in our sources yet
        "python3.14": Lifecycle.of("2029-06-30", None, "2029-08-31"),  # P E V; create U
    }
)


def lifecycle_warning(runtime: str, today: date) -> str | None:
    """What to tell a user of ``runtime`` on ``today`` (a UTC day, passed in: this module reads
    no clock), or ``None`` while Lambda has not deprecated it (or for a runtime not in
    :data:`LIFECYCLE`).

    A deprecated runtime is a warning, never an error, whatever the date: a build stays
    reproducible when the clock moves, and the dates themselves move. Once creating functions
    is blocked, the warning says that a deploy that creates (or replaces) a function fails while
    updates of existing functions still work until the update block; once updates are blocked
    too, that every deploy to a function on it fails.
    """
    life = LIFECYCLE.get(runtime)
    if life is None or not life.deprecated_on(today):
        return None
    create, update = life.create_blocked, life.update_blocked
    said = [
        f"{runtime} is deprecated on AWS Lambda since {life.deprecated} (no more security "
        "patches, no technical support)"
    ]
    if update is not None and today >= update:
        said.append(
            f"Lambda blocks creating functions on it since {create or update} and updating them "
            f"since {update}: deploying to a function on {runtime} fails"
        )
    elif create is not None and today >= create:
        said.append(
            f"creating new functions on it is blocked since {create}: a deploy that creates (or "
            "replaces) a function fails; existing functions can still be updated "
            + (f"until {update}" if update else "until an update block not yet announced")
        )
    elif create is not None or update is not None:
        blocks = [f"creating functions from {create}"] if create else []
        blocks += [f"updating them from {update}"] if update else []
        said.append("Lambda blocks " + " and ".join(blocks))
    else:
        said.append("Lambda has not announced when it blocks functions on it")
    current = [n for n in RUNTIMES if n not in LIFECYCLE or not LIFECYCLE[n].deprecated_on(today)]
    newest = max(current, key=lambda name: RUNTIMES[name].python, default=None)
    if newest is not None:
        said.append(f"move to {newest}")
    return "; ".join(said)


#: Python runtimes Lambda has deprecated (AWS Lambda runtimes page, "Deprecated runtimes").
#: We refuse them: their OS (Amazon Linux 1 / AL2 with Python 3.8) no longer receives fixes and
#: new functions cannot be created with them.
DEPRECATED_RUNTIMES: Final[frozenset[str]] = frozenset(
    {"python2.7", "python3.6", "python3.7", "python3.8"}
)

#: AWS architecture name (and accepted spellings) -> wheel architecture.
WHEEL_ARCH: Final[Mapping[str, WheelArch]] = MappingProxyType(
    {
        "x86_64": "x86_64",  # Lambda Architecture.X86_64
        "arm64": "aarch64",  # Lambda Architecture.ARM_64 (Graviton)
        "aarch64": "aarch64",  # the wheel spelling, accepted as input
    }
)

#: Wheel architecture -> AWS architecture name (for messages and the CDK boundary).
LAMBDA_ARCH: Final[Mapping[WheelArch, LambdaArch]] = MappingProxyType(
    {"x86_64": "x86_64", "aarch64": "arm64"}
)

#: Oldest manylinux glibc per architecture (PEP 600 / PEP 599: manylinux1 for x86_64 is glibc
#: 2.5; aarch64 first appears in manylinux2014 = glibc 2.17).
MANYLINUX_FLOOR: Final[Mapping[WheelArch, Glibc]] = MappingProxyType(
    {"x86_64": Glibc(2, 5), "aarch64": Glibc(2, 17)}
)

#: Legacy manylinux names and the PEP 600 tag each aliases (PEP 600, "Legacy manylinux tags").
LEGACY_MANYLINUX: Final[Mapping[Glibc, str]] = MappingProxyType(
    {Glibc(2, 17): "manylinux2014", Glibc(2, 12): "manylinux2010", Glibc(2, 5): "manylinux1"}
)

#: glibc versions uv's ``--python-platform`` can name (uv CLI reference, ``--python-platform``:
#: ``x86_64-manylinux_2_17``, ``_2_28``, ``_2_31`` ... ``_2_40``). There is no 2_26: Amazon Linux 2
#: targets fall back to 2_17 with uv's own platform filter (see ``Target.uv_platform``).
UV_MANYLINUX_GLIBC: Final[tuple[Glibc, ...]] = (
    Glibc(2, 17),
    Glibc(2, 28),
    *(Glibc(2, n) for n in range(31, 41)),
)

#: Lambda's limit on function + layers, unzipped (AWS Lambda quotas page).
UNZIPPED_LIMIT_BYTES: Final = 262_144_000
#: How every message names that limit.
UNZIPPED_LIMIT: Final = f"Lambda's 250 MiB limit ({UNZIPPED_LIMIT_BYTES:,} bytes)"


def unzipped_size_text(what: str, total: int, *, verb: str = "is") -> str:
    """The one wording of an unzipped size against :data:`UNZIPPED_LIMIT_BYTES`, shared by the
    build, the synth-time check and the audit (each adds what is largest and what to do):
    ``the bundle out would be 262.5 MiB unzipped, over Lambda's 250 MiB limit (262,144,000
    bytes)``, or ``... 84% of Lambda's 250 MiB limit ...`` when it fits."""
    share = f"{total / UNZIPPED_LIMIT_BYTES:.0%} of"
    relation = "over" if total > UNZIPPED_LIMIT_BYTES else share
    return f"{what} {verb} {total / 2**20:.1f} MiB unzipped, {relation} {UNZIPPED_LIMIT}"


#: The SAM build images CDK uses for Python bundling (public.ecr.aws/sam/build-pythonX.Y).
BUILD_IMAGE_TEMPLATE: Final = "public.ecr.aws/sam/build-python{major}.{minor}:latest-{docker_arch}"
DOCKER_ARCH: Final[Mapping[WheelArch, str]] = MappingProxyType(
    {"x86_64": "x86_64", "aarch64": "arm64"}
)
DOCKER_PLATFORM: Final[Mapping[WheelArch, str]] = MappingProxyType(
    {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
)
