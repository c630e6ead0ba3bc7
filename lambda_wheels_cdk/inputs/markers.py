"""Partial evaluation of environment markers: decide the ``extra`` / ``extras`` /
``dependency_groups`` conditions from what was asked for and keep every other condition for the
installer, which evaluates them for the *target*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Union

from packaging.markers import Marker

from ..target.runtimes import DATACLASS_SLOTS
from .spec import canon

# Hand-written: packaging's Marker only evaluates a whole marker to a bool for one complete
# environment; no library decides some variables and gives back the rest as a marker.
_MARKER_TOKEN_RE: Final = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) |
        (?P<str>'[^']*'|"[^"]*") |
        (?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b) |
        (?P<bool>and\b|or\b) |
        (?P<var>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _MAtom:
    lhs: tuple[bool, str]  # (is_variable, text)
    op: str
    rhs: tuple[bool, str]


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _MJoin:
    kind: str  # "and" | "or"
    items: tuple[_MNode, ...]


_MNode = Union[_MAtom, _MJoin]
_MResult = Union[bool, _MAtom, _MJoin]


def _marker_tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _MARKER_TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read marker near {text[position:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, " ".join(value.split()) if kind == "op" else value))
        position = match.end()
    return tokens


class _MarkerParser:
    def __init__(self, text: str) -> None:
        self.tokens = _marker_tokens(text)
        self.position = 0

    def parse(self) -> _MNode:
        node = self.parse_join("or")
        if self.position != len(self.tokens):
            raise ValueError("trailing tokens in marker")
        return node

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("marker ends early")
        self.position += 1
        return token

    def parse_join(self, kind: str) -> _MNode:
        inner = "and" if kind == "or" else None
        items = [self.parse_join(inner) if inner else self.parse_atom()]
        while self.peek() == ("bool", kind):
            self.take()
            items.append(self.parse_join(inner) if inner else self.parse_atom())
        return items[0] if len(items) == 1 else _MJoin(kind, tuple(items))

    def parse_atom(self) -> _MNode:
        kind, value = self.take()
        if kind == "lp":
            node = self.parse_join("or")
            if self.take()[0] != "rp":
                raise ValueError("unbalanced parentheses in marker")
            return node
        lhs = self.value(kind, value)
        op_kind, op = self.take()
        if op_kind != "op":
            raise ValueError("expected an operator in marker")
        rhs = self.value(*self.take())
        return _MAtom(lhs, op, rhs)

    @staticmethod
    def value(kind: str, value: str) -> tuple[bool, str]:
        if kind == "var":
            return True, value
        if kind == "str":
            return False, value[1:-1]
        raise ValueError("expected a variable or a string in marker")


def _decide_atom(
    atom: _MAtom, extras: frozenset[str] | None, groups: frozenset[str] | None
) -> bool | None:
    """Truth of an ``extra``/``extras``/``dependency_groups`` atom; ``None`` for other atoms."""
    for var, val in ((atom.lhs, atom.rhs), (atom.rhs, atom.lhs)):
        if not var[0] or val[0]:
            continue
        name = var[1]
        if name == "extra" and extras is not None:
            if atom.op in ("==", "!="):
                hit = canon(val[1]) in extras
                return hit if atom.op == "==" else not hit
            return False
        if name in ("extras", "dependency_groups") and var is atom.rhs:
            chosen = extras if name == "extras" else groups
            if chosen is not None and atom.op in ("in", "not in"):
                hit = canon(val[1]) in chosen
                return hit if atom.op == "in" else not hit
    return None


def _fold(
    node: _MNode, extras: frozenset[str] | None, groups: frozenset[str] | None, seen: list[bool]
) -> _MResult:
    if isinstance(node, _MAtom):
        decided = _decide_atom(node, extras, groups)
        if decided is None:
            return node
        seen.append(True)
        return decided
    absorbing = node.kind == "or"  # True absorbs "or", False absorbs "and"
    kept: list[_MNode] = []
    for item in node.items:
        value = _fold(item, extras, groups, seen)
        if isinstance(value, bool):
            if value is absorbing:
                return absorbing
            continue
        kept.append(value)
    if not kept:
        return not absorbing
    return kept[0] if len(kept) == 1 else _MJoin(node.kind, tuple(kept))


def quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


def _render(node: _MNode) -> str:
    if isinstance(node, _MAtom):
        lhs = node.lhs[1] if node.lhs[0] else quote(node.lhs[1])
        rhs = node.rhs[1] if node.rhs[0] else quote(node.rhs[1])
        return f"{lhs} {node.op} {rhs}"
    parts = []
    for item in node.items:
        text = _render(item)
        if node.kind == "and" and isinstance(item, _MJoin) and item.kind == "or":
            text = f"({text})"
        parts.append(text)
    return f" {node.kind} ".join(parts)


def resolve_marker(
    marker: str,
    *,
    extras: frozenset[str] | None = None,
    groups: frozenset[str] | None = None,
) -> tuple[bool | str, bool]:
    """Decide the extra/group conditions of a (valid) marker.

    Returns ``(result, touched)``: ``result`` is ``True`` (always), ``False`` (never) or the
    remaining marker text; ``touched`` says whether any extra/group condition was present.
    """
    try:
        node = _MarkerParser(marker).parse()
    except ValueError:  # pragma: no cover - every marker packaging accepts parses here
        return str(Marker(marker)), False
    seen: list[bool] = []
    value = _fold(node, extras, groups, seen)
    if isinstance(value, bool):
        return value, bool(seen)
    return str(Marker(_render(value))), bool(seen)
