"""The requirements an install runs with, as values: :class:`Requirements` of
:class:`RequirementLine`, and their one requirements.txt rendering (:meth:`Requirements.text`).

Each line keeps the user's text as it is (what the installer reads does not change) beside
its parsed form (canonical name, specifier, URL, marker) and its ``--hash`` values. The
operations an install needs (hash-checking mode, a pin with its hashes, a built wheel's hash
added, a direct URL pointed at a built wheel) are methods, so nothing re-parses a
requirements text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import InputError
from ..target.runtimes import DATACLASS_SLOTS
from ..urls import redact_text

__all__ = ["RequirementLine", "Requirements"]

#: What separates a requirement from each of its ``--hash`` options in the rendered text.
_CONTINUATION = " \\\n    "
_NO_HASHES: Mapping[str, Sequence[str]] = MappingProxyType({})


@dataclass(frozen=True, repr=False, **DATACLASS_SLOTS)
class RequirementLine:
    """One requirement: the user's PEP 508 text as it is, parsed, with its ``--hash`` values.

    Attributes:
        line: the requirement as the input gave it (``six==1.17.0; python_version >= '3'``).
        hashes: allowed ``algo:hex`` digests (hash-checking mode), else empty.
        requirement: ``line`` parsed by :mod:`packaging` (name, extras, specifier, URL, marker).

    Raises:
        InputError: ``line`` is not a PEP 508 requirement.
    """

    line: str
    hashes: tuple[str, ...] = ()
    requirement: Requirement = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", tuple(self.hashes))
        try:
            parsed = Requirement(self.line)
        except InvalidRequirement as exc:
            raise InputError(
                f"{redact_text(self.line)!r} is not a valid requirement ({exc}): fix it"
            ) from None
        object.__setattr__(self, "requirement", parsed)

    def __repr__(self) -> str:
        """Like the dataclass repr, with a URL's credentials masked (safe to log)."""
        return f"RequirementLine(line={redact_text(self.line)!r}, hashes={self.hashes!r})"

    @property
    def name(self) -> str:
        """The PEP 503 normalized name."""
        return str(canonicalize_name(self.requirement.name))

    def text(self) -> str:
        """The line for a requirements file: the requirement, then one ``--hash`` option per
        continuation line (without the final newline)."""
        return _CONTINUATION.join([self.line, *(f"--hash={h}" for h in self.hashes)])


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Requirements:
    """The requirements of an install, in order; every one hashed or none (hash-checking mode
    is all or nothing: pip and uv then want a hash for every requirement).

    Raises:
        ValueError: some lines have hashes and others not (build with :meth:`of`).
    """

    lines: tuple[RequirementLine, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if len({bool(r.hashes) for r in self.lines}) > 1:
            raise ValueError("either every requirement has hashes or none has")

    @classmethod
    def of(
        cls, lines: Iterable[str], hashes: Mapping[str, Sequence[str]] = _NO_HASHES
    ) -> Requirements:
        """``lines`` with the hashes of their names (canonical name -> digests), kept only
        when every line has some: otherwise the install does not check hashes at all."""
        plain = tuple(RequirementLine(line) for line in lines)
        hashed = tuple(replace(r, hashes=tuple(hashes.get(r.name, ()))) for r in plain)
        if hashed and all(r.hashes for r in hashed):
            return cls(hashed)
        return cls(plain)

    def __iter__(self) -> Iterator[RequirementLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def hash_checking(self) -> bool:
        """True when the install runs in hash-checking mode (every requirement is hashed)."""
        return bool(self.lines) and bool(self.lines[0].hashes)

    def hashes_of(self, name: str) -> tuple[str, ...]:
        """The ``--hash`` values of the requirement named ``name`` (empty when none)."""
        wanted = canonicalize_name(name)
        return next((r.hashes for r in self.lines if r.name == wanted and r.hashes), ())

    def pinned(self, versions: Mapping[str, str]) -> Requirements:
        """``name==version`` for each of ``versions`` (sorted by name), with the hashes of
        that name's requirement here (hash-checking mode verifies what gets built)."""
        return Requirements(
            tuple(
                RequirementLine(f"{name}=={version}", self.hashes_of(name))
                for name, version in sorted(versions.items())
            )
        )

    def trusting(self, digests: Mapping[str, str]) -> Requirements:
        """In hash-checking mode, each named requirement also allows the ``algo:hex`` digest
        given for its name (a wheel built from its hash-verified sdist); else unchanged."""
        if not self.hash_checking:
            return self
        return Requirements(
            tuple(
                replace(r, hashes=(*r.hashes, digests[r.name])) if r.name in digests else r
                for r in self.lines
            )
        )

    def pointing_at(self, wheels: Mapping[str, Path]) -> Requirements:
        """Each requirement with a URL whose name is in ``wheels`` (canonical name -> wheel)
        points at that wheel's ``file:`` URL instead; the rest is unchanged."""
        out = []
        for r in self.lines:
            wheel = wheels.get(r.name)
            if wheel is not None and r.requirement.url:
                moved = Requirement(r.line)
                moved.url = wheel.resolve().as_uri()
                r = replace(r, line=str(moved))
            out.append(r)
        return Requirements(tuple(out))

    def text(self) -> str:
        """The requirements.txt text ``uv pip install -r`` and ``pip install -r`` read: each
        requirement on its own line, followed by its ``--hash`` options, one per continuation
        line. No index lines: the installers get index settings another way, so credentials
        never reach this text through them."""
        return "".join(f"{r.text()}\n" for r in self.lines)
