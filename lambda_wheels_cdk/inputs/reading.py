"""Reading an input file and reporting its problems: every loader collects what is wrong
(:class:`Problems`) and raises one :class:`~lambda_wheels_cdk.errors.InputError` naming the
file, the line where known, what is wrong and what to do.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, Union

from ..errors import InputError
from .spec import first_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10 only
    import tomli as tomllib


PathLike = Union[str, "os.PathLike[str]"]
#: Extras, groups or categories asked for: names, never one bare string (:func:`names_given`).
Names = Sequence[str]
#: How many problems one error message lists before "... and N more".
_MAX_SHOWN: Final = 20
_TOML_LINE_RE: Final = re.compile(r"at line (\d+)")


class Problem(InputError):
    """One problem in an input, already phrased for the user.

    Loaders collect these and raise one :class:`InputError` listing them all; one that escapes
    is still an ``InputError`` with a complete message.
    """


class Unparsable(Problem):
    """A line that is not a requirement, an option or a comment at all.

    ``reason`` says why without quoting the line: it is what the user sees when the whole file
    does not look like a requirements file (it may be a credentials file named by ``-r``).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Problems:
    """Collects every problem in an input so the user sees them all at once."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise InputError(self.items[0])
        shown = "\n".join(f"  {item}" for item in self.items[:_MAX_SHOWN])
        more = len(self.items) - _MAX_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise InputError(f"{self.subject} has {len(self.items)} problems:\n{shown}{tail}")


def fail(message: str) -> NoReturn:
    raise InputError(message)


def read_input(path: Path, display: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        fail(f"{display}: file not found: check the path")
    except IsADirectoryError:
        fail(f"{display}: is a folder, not a file: name the file inside it")
    except (OSError, ValueError) as exc:
        fail(f"{display}: cannot be read ({exc}): check the path and its permissions")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{display}: is not UTF-8 text (bad byte at offset {exc.start}): save it as UTF-8")


def read_toml(path: Path, display: str) -> tuple[dict[str, Any], str]:
    text = read_input(path, display)
    return _parse_toml(text, display), text


def read_json(path: Path, display: str, fix: str) -> tuple[Any, str]:
    """The parsed JSON and the text of an input; ``fix`` ends the message when it is invalid."""
    text = read_input(path, display)
    try:
        return json.loads(text), text
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{display}:{line}" if line else display
        fail(f"{where}: not valid JSON ({first_line(exc)}): {fix}")


def _parse_toml(text: str, display: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        match = _TOML_LINE_RE.search(detail)
        where = f"{display}:{match.group(1)}" if match else display
        fail(f"{where}: not valid TOML ({detail}): fix the syntax or regenerate the file")


def _line_of(text: str, *needles: str) -> int | None:
    """1-based number of the first line containing every needle (for messages), if any."""
    for number, line in enumerate(text.splitlines(), 1):
        if all(n in line for n in needles):
            return number
    return None


def place(display: str, text: str, *needles: str) -> str:
    line = _line_of(text, *needles) if needles else None
    return f"{display}:{line}" if line else display


def names_given(values: Names, what: str) -> tuple[str, ...]:
    """Check an extras/groups argument: a sequence of names, never one bare string."""
    if isinstance(values, str):
        fail(f"{what} must be a list of names, not the string {values!r}: wrap it in [...]")
    items = tuple(values)
    for item in items:
        if not isinstance(item, str):
            fail(f"{what} must be names (strings), not {type_name(item)}")
    return items


def existing_file(path: PathLike, kind: str) -> Path:
    p = Path(path)
    try:
        if p.is_file():
            return Path(os.path.abspath(p))
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if exists:
        fail(f"{os.fspath(path)}: is not a file: pass the {kind} file itself")
    fail(
        f"{os.fspath(path)}: {kind} not found: check the path (relative paths are relative to "
        "the current folder) or create the file"
    )


def type_name(value: object) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def expect(value: object, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise Problem(
            f"{where}: {what} must be {_kind_name(kind)}, not {type_name(value)}: fix the file "
            "or regenerate it"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", list: "an array", dict: "a table", bool: "true/false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def str_list(value: object, where: str, what: str) -> list[str]:
    items = expect(value, list, where, what)
    for item in items:
        expect(item, str, where, f"each entry of {what}")
    return list(items)
