"""pip requirements files (with ``-r``/``-c`` includes, ``--hash``, index options, ``${VAR}``
expansion) and inline requirement lists, read the way pip reads them.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from ..errors import InputError
from ..target.runtimes import DATACLASS_SLOTS
from ..urls import is_remote_url, is_url, quoted, redact_text
from .entries import (
    NAMED_REFERENCE_RE,
    BadRequirement,
    Entry,
    build_spec,
    check_hash,
    invalid_requirement,
    is_exact_pin,
    parse_requirement_text,
    resolve_local,
)
from .reading import (
    PathLike,
    Problem,
    Problems,
    Unparsable,
    existing_file,
    fail,
    read_input,
    type_name,
)
from .spec import DependencySpec, IndexSettings, dedupe, first_line

__all__ = ["from_list", "load_requirements_file"]

#: pip's comment rule: ``#`` at the start of a line or after whitespace.
_COMMENT_RE: Final = re.compile(r"(^|\s+)#.*$")
#: pip's environment variable rule: only ``${NAME}`` with upper case, digits and ``_``.
_ENV_VAR_RE: Final = re.compile(r"\$\{([A-Z0-9_]+)\}")
#: Options that take a value, by every spelling pip accepts -> our canonical spelling.
_VALUE_OPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "-r": "-r",
        "--requirement": "-r",
        "-c": "-c",
        "--constraint": "-c",
        "-i": "--index-url",
        "--index-url": "--index-url",
        "--extra-index-url": "--extra-index-url",
        "-f": "--find-links",
        "--find-links": "--find-links",
        "-e": "-e",
        "--editable": "-e",
        "--hash": "--hash",
    }
)
_FLAG_OPTIONS: Final = frozenset({"--no-index", "--require-hashes"})
#: pip options we understand but refuse, with what to do instead.
_UNSUPPORTED_OPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "--pre": "pin the pre-release you want (name==1.0rc1) instead",
        "--trusted-host": "serve the index over https instead",
        "--only-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--no-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--prefer-binary": "lambda-wheels chooses wheels for the Lambda target itself; remove it",
        "--config-settings": "build the wheel yourself and add its folder with --find-links",
        "-C": "build the wheel yourself and add its folder with --find-links",
        "--global-option": "build the wheel yourself and add its folder with --find-links",
        "--install-option": "build the wheel yourself and add its folder with --find-links",
        "--use-feature": "remove it",
    }
)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's ``join_lines``: ``\\`` continues a line; comment lines end a continuation."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        is_comment = bool(_COMMENT_RE.match(line))
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line
            if pending:
                pending.append(line)
                yield start, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                start = number
            pending.append(line.strip("\\"))
    if pending:
        yield start, "".join(pending)


def expand_env(line: str, expanded: dict[str, str] | None = None) -> str:
    """pip's ``${NAME}`` expansion; unset or empty variables stay as written.

    ``expanded`` (if given) collects value -> ``${NAME}`` so messages can be un-expanded.
    """

    def replace(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if not value:
            return match.group(0)
        if expanded is not None:
            expanded[value] = match.group(0)
        return value

    return _ENV_VAR_RE.sub(replace, line)


def _unexpand(message: str, expanded: Mapping[str, str]) -> str:
    """Put ``${NAME}`` back where an expanded value (maybe a secret) reached a message."""
    for value in sorted(expanded, key=len, reverse=True):
        if len(value) >= 3:
            message = message.replace(value, expanded[value])
    return message


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the requirement ends at the first token starting "-"."""
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return " ".join(tokens), ""


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Line:
    """Where a logical line is: how messages name it (``where``, ``shown``: the line as written,
    masked), the folder its paths start from (``base_note`` says which), whether it is in a
    constraints file, and the files that included it (``chain``)."""

    where: str
    shown: str
    base_dir: Path
    base_note: str
    constraint: bool
    chain: tuple[Path, ...]


class RequirementsReader:
    """Reads requirements files (with includes) or exported text into one spec."""

    def __init__(
        self, root_dir: Path, subject: str, *, strict_hashes: bool = True, inline: bool = False
    ) -> None:
        self.root_dir = root_dir
        self.strict_hashes = strict_hashes
        self.inline = inline
        self.problems = Problems(subject)
        self.requirements: list[Entry] = []
        self.constraints: list[Entry] = []
        self.index_url: tuple[str, str] | None = None
        self.extra_index_urls: list[str] = []
        self.find_links: list[str] = []
        self.no_index = False
        self.require_hashes: str | None = None

    def display(self, path: Path) -> str:
        try:
            rel = os.path.relpath(path, self.root_dir)
        except ValueError:  # another drive on Windows
            return path.name
        return Path(rel).as_posix()

    # -- files -------------------------------------------------------------------------------

    def read_file(
        self, path: Path, *, constraint: bool, chain: tuple[Path, ...], where: str, flag: str
    ) -> None:
        display = self.display(path)
        try:
            key = path.resolve()
        except (OSError, RuntimeError, ValueError):
            key = Path(os.path.abspath(path))
        if key in chain:
            loop = " -> ".join([*(self.display(p) for p in chain), display])
            self.problems.add(
                f"{where}: {flag} {display} includes a file that is already being read "
                f"({loop}): remove the line that closes the loop"
            )
            return
        try:
            is_file = path.is_file()
        except (OSError, ValueError):
            is_file = False
        if not is_file:
            self.problems.add(
                f"{where}: {flag} {display}: file not found (include paths are relative to the "
                "including file's folder): fix the path"
            )
            return
        try:
            text = read_input(path, display)
        except InputError as exc:
            self.problems.add(str(exc))
            return
        self.read_text(
            text,
            display=display,
            base_dir=path.parent,
            constraint=constraint,
            chain=(*chain, key),
            included_by=f"{flag} on {where}",
        )

    def read_text(
        self,
        text: str,
        *,
        display: str,
        base_dir: Path,
        constraint: bool = False,
        chain: tuple[Path, ...] = (),
        included_by: str | None = None,
    ) -> None:
        """Read every line; problems are added once the whole text was seen.

        A text with more lines that are not requirements, options or comments at all than
        lines that are does not look like a requirements file (``-r ~/.aws/credentials``): it
        gets one problem that quotes none of its lines.
        """
        understood = 0
        found: list[tuple[int, str, str | None]] = []  # (line, message, Unparsable.reason)
        for number, raw in _logical_lines(text):
            written = _COMMENT_RE.sub("", raw).strip()
            if not written:
                continue
            where = f"{display}:{number}"
            expanded: dict[str, str] = {}
            line = expand_env(written, expanded)
            first_new = len(self.problems.items)
            try:
                at = self.line_at(where, written, display, base_dir, constraint, chain)
                self.read_line(line, at)
                understood += 1
            except Unparsable as problem:
                found.append((number, _unexpand(str(problem), expanded), problem.reason))
            except Problem as problem:
                understood += 1
                found.append((number, _unexpand(str(problem), expanded), None))
            if expanded:  # problems found through this line (includes too) lose the values
                items = self.problems.items
                items[first_new:] = [_unexpand(item, expanded) for item in items[first_new:]]
        unparsable = [(number, reason) for number, _, reason in found if reason is not None]
        if not self.inline and len(unparsable) > understood:
            number, reason = unparsable[0]
            check = (
                f"check the path of the {included_by}"
                if included_by
                else "check that this is the file you meant"
            )
            others = understood + len(unparsable) - 1
            what = f"line {number} is no requirement, option or comment ({reason})"
            if others:
                what += f", and neither are {len(unparsable) - 1} of its {others} other lines"
            self.problems.add(
                f"{display}:{number}: {display} does not look like a requirements file: {what} "
                f"(no line is shown: such a file may hold secrets); {check}, or fix line {number}"
            )
            return
        for _, message, _ in found:
            self.problems.add(message)

    # -- one line ----------------------------------------------------------------------------

    def line_at(
        self,
        where: str,
        written: str,
        display: str,
        base_dir: Path,
        constraint: bool,
        chain: tuple[Path, ...],
    ) -> _Line:
        """The place of a line ``written`` so (before ${VAR} expansion: what messages show)."""
        base_note = (
            f"paths are relative to {base_dir}"
            if self.inline
            else f"paths are relative to the folder of {display}"
        )
        return _Line(where, quoted(written), base_dir, base_note, constraint, chain)

    def read_line(self, line: str, at: _Line) -> None:
        """Handle one logical line: a requirement (with its ``--hash`` options) or options."""
        args, option_text = _split_args_options(line)
        try:
            tokens = shlex.split(option_text) if option_text else []
        except ValueError as exc:
            raise Unparsable(
                f"{at.where}: cannot read the options in {at.shown} ({exc}): fix the quoting",
                f"options that cannot be read: {exc}",
            ) from None
        options = self.parse_options(tokens, at)
        if args:
            self.read_requirement(args, options, at)
            return
        if self.inline:
            raise Problem(
                f"{at.where}: {at.shown} is not a requirement: only requirements (optionally "
                "with --hash) can be listed inline; put options in a requirements file"
            )
        for name, value in options:
            self.apply_option(name, value or "", at)

    def read_requirement(self, args: str, options: list[tuple[str, str | None]], at: _Line) -> None:
        where, shown = at.where, at.shown
        misplaced = [name for name, _ in options if name != "--hash"]
        if misplaced:
            raise Problem(
                f"{where}: {misplaced[0]} cannot follow a requirement ({shown}); only --hash "
                f"can: put {misplaced[0]} on a line of its own"
            )
        hashes = []
        for _, value in options:
            try:
                hashes.append(check_hash(value or ""))
            except ValueError:
                raise Problem(
                    f"{where}: --hash={value} in {shown} is not 'sha256:<64 hex digits>' "
                    "(or sha384/sha512): copy the hash again"
                ) from None
        try:
            req, local, is_dir = parse_requirement_text(args, at.base_dir, at.base_note)
        except BadRequirement as exc:
            if exc.reason is None:
                raise Problem(f"{where}: {shown} {exc.tail}") from None
            raise Unparsable(f"{where}: {shown} {exc.tail}", exc.reason) from None
        except ValueError as exc:  # urllib on a malformed URL
            detail = first_line(exc)
            raise Unparsable(
                f"{where}: {shown} {invalid_requirement(detail).tail}", f"invalid URL: {detail}"
            ) from None
        entry = Entry(req, where, list(dedupe(hashes)), local, is_dir)
        if at.constraint:
            self.add_constraint(entry, shown, named=bool(NAMED_REFERENCE_RE.match(args)))
        else:
            self.requirements.append(entry)

    def parse_options(self, tokens: list[str], at: _Line) -> list[tuple[str, str | None]]:
        where, shown = at.where, at.shown
        options: list[tuple[str, str | None]] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if token.startswith("--"):
                name, eq, value = token.partition("=")
                attached = bool(eq)
            elif token.startswith("-") and len(token) > 1:
                name, value = token[:2], token[2:]
                attached = bool(value)
            else:
                raise Unparsable(
                    f"{where}: unexpected {quoted(token)} in {shown}: an option takes one "
                    "value; put each requirement on a line of its own",
                    "a value where an option should be",
                )
            if name in _VALUE_OPTIONS:
                if not attached:
                    if index >= len(tokens):
                        raise Problem(f"{where}: {name} needs a value ({shown}): add it")
                    value = tokens[index]
                    index += 1
                options.append((_VALUE_OPTIONS[name], value))
            elif name in _FLAG_OPTIONS:
                if attached:
                    raise Problem(f"{where}: {name} takes no value ({shown}): remove it")
                options.append((name, None))
            elif name in _UNSUPPORTED_OPTIONS:
                raise Problem(
                    f"{where}: {name} is not supported in a Lambda bundle's requirements "
                    f"({shown}): {_UNSUPPORTED_OPTIONS[name]}"
                )
            else:
                raise Unparsable(
                    f"{where}: unknown option {quoted(name)} ({shown}): remove it or fix "
                    "its spelling (supported: -r, -c, --hash, -i/--index-url, --extra-index-url, "
                    "-f/--find-links, --no-index, --require-hashes)",
                    "an unknown option",
                )
        return options

    def apply_option(self, name: str, value: str, at: _Line) -> None:
        where, shown = at.where, at.shown
        if name in ("-r", "-c"):
            if is_url(value):
                raise Problem(
                    f"{where}: {name} by URL is not supported ({shown}): download the file, "
                    "check it in next to this one and include it by path"
                )
            if not value.strip():
                raise Problem(f"{where}: {name} needs a file name ({shown}): add it")
            self.read_file(
                at.base_dir / value,
                constraint=at.constraint or name == "-c",
                chain=at.chain,
                where=where,
                flag=name,
            )
        elif name == "--index-url":
            url = self.index_location(value, at, option=name)
            if self.index_url is not None and self.index_url[0] != url:
                raise Problem(
                    f"{where}: a second, different --index-url ({shown}; the first is at "
                    f"{self.index_url[1]}): keep one and list the other with --extra-index-url"
                )
            self.index_url = (url, where)
        elif name == "--extra-index-url":
            url = self.index_location(value, at, option=name)
            if url not in self.extra_index_urls:
                self.extra_index_urls.append(url)
        elif name == "--find-links":
            location = self.find_links_location(value, at)
            if location not in self.find_links:
                self.find_links.append(location)
        elif name == "--no-index":
            self.no_index = True
        elif name == "--require-hashes":
            self.require_hashes = where
        elif name == "-e":
            raise Problem(
                f"{where}: editable requirement {shown} is not supported: an editable install "
                "links to a source folder that does not exist inside a Lambda bundle; write "
                f"{quoted(value)} (without -e) to have the project built into a wheel and "
                "installed (pure-Python projects only)"
            )
        elif name == "--hash":
            raise Problem(
                f"{where}: --hash must follow its requirement on the same line ({shown}): join "
                "the lines with a trailing backslash"
            )

    @staticmethod
    def index_location(value: str, at: _Line, *, option: str) -> str:
        try:
            parts = urlsplit(value) if is_url(value) else None
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https", "file"):
            raise Problem(
                f"{at.where}: {option} needs an http(s) URL ({at.shown}): write it as "
                "https://host/simple"
            )
        return value

    @staticmethod
    def find_links_location(value: str, at: _Line) -> str:
        if is_remote_url(value):
            if value.split(":", 1)[0].lower() not in ("http", "https"):
                raise Problem(
                    f"{at.where}: --find-links needs an http(s) URL or a local folder ({at.shown})"
                )
            return value
        try:
            path = resolve_local(value, at.base_dir)
            exists = path.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            raise Problem(
                f"{at.where}: --find-links {quoted(value)} does not exist (paths are relative "
                "to the file's folder): create it or fix the path"
            )
        return str(path)

    def add_constraint(self, entry: Entry, shown: str, *, named: bool) -> None:
        if entry.hashes:
            raise Problem(
                f"{entry.where}: --hash in a constraints file ({shown}) is not supported: put "
                "the hashes on the requirement line in the requirements file"
            )
        if entry.req.url and not named:
            raise Problem(
                f"{entry.where}: a constraint must name a package ({shown}): write "
                "'name==version' (or 'name @ URL')"
            )
        if entry.req.extras:
            raise Problem(
                f"{entry.where}: constraints cannot have extras ({shown}): remove the [...]"
            )
        self.constraints.append(entry)

    # -- result ------------------------------------------------------------------------------

    def check_hashes(self) -> None:
        hashed = [e for e in self.requirements if e.hashes]
        for entry in hashed:
            if entry.is_dir:
                self.problems.add(
                    f"{entry.where}: {entry.name!r} is a local folder, which cannot be "
                    "hash-checked: build it into a wheel and hash that, or remove its --hash"
                )
            elif not is_exact_pin(entry):
                self.problems.add(
                    f"{entry.where}: {entry.name!r} has --hash but is not pinned with '==' "
                    "(hash-checking mode needs exact versions): pin the version the hashes "
                    "belong to"
                )
        if not self.strict_hashes or not (hashed or self.require_hashes):
            return
        reason = (
            f"--require-hashes is set ({self.require_hashes})"
            if self.require_hashes and not hashed
            else "other requirements have one"
        )
        for entry in self.requirements:
            if not entry.hashes:
                self.problems.add(
                    f"{entry.where}: {entry.name!r} has no --hash, but {reason} (pip's "
                    "hash-checking mode needs a hash on every requirement): add its "
                    "--hash=sha256:... (`uv pip compile --generate-hashes` writes them) or "
                    "remove every --hash"
                )

    def result(self, origin: str, *, locked: bool) -> DependencySpec:
        self.check_hashes()
        self.problems.raise_if_any()
        return build_spec(
            self.requirements,
            self.constraints,
            IndexSettings(
                index_url=self.index_url[0] if self.index_url else None,
                extra_index_urls=tuple(self.extra_index_urls),
                find_links=tuple(self.find_links),
                no_index=self.no_index,
            ),
            origin=origin,
            locked=locked,
        )


def load_requirements_file(path: PathLike, *, _seen: tuple[Path, ...] = ()) -> DependencySpec:
    """Read a pip requirements file, following its ``-r`` / ``-c`` includes.

    Understands what pip does in a requirements file that matters for a bundle: comments,
    blank lines, ``\\`` continuations, ``${VAR}`` expansion, ``-r``/``-c`` includes (relative to
    the including file), ``--hash`` (all requirements or none), ``-i/--index-url``,
    ``--extra-index-url``, ``-f/--find-links`` (relative paths against the file's folder),
    ``--no-index``, ``--require-hashes`` and path/URL requirements.

    Args:
        path: the requirements file.
        _seen: files already being read (include-cycle detection; internal).

    Raises:
        InputError: the file is missing or unreadable, or has problems; every problem is
            listed as ``file:line: what is wrong: what to do``. Editable (``-e``) lines,
            unknown options and partially hashed files are problems.
    """
    file = existing_file(path, "requirements file")
    reader = RequirementsReader(file.parent, file.name)
    text = read_input(file, file.name)
    try:
        key = file.resolve()
    except (OSError, RuntimeError, ValueError):
        key = Path(os.path.abspath(file))
    reader.read_text(text, display=file.name, base_dir=file.parent, chain=(*_seen, key))
    return reader.result(file.name, locked=False)


def from_list(
    requirements: Sequence[str], *, origin: str = "inline list", base_dir: PathLike | None = None
) -> DependencySpec:
    """Build a spec from requirement strings (``["requests>=2", "numpy==2.2.6"]``).

    Each item is one requirement as it would appear on a requirements-file line, optionally
    with ``--hash`` options; nothing is expanded.

    Args:
        requirements: the requirement strings.
        origin: how messages name the list.
        base_dir: folder that relative path requirements are resolved against (default: the
            current folder).

    Raises:
        InputError: an item is not a string, not a valid requirement, or an option.
    """
    if isinstance(requirements, str):
        fail(f"{origin}: expected a list of requirement strings, not one string: wrap it in [...]")
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    reader = RequirementsReader(folder, origin, inline=True)
    for number, item in enumerate(requirements, 1):
        where = f"{origin} item {number}"
        if not isinstance(item, str):
            reader.problems.add(f"{where}: expected a requirement string, not {type_name(item)}")
            continue
        written = item.strip()
        if not written or "\n" in written or "\r" in written:
            reader.problems.add(
                f"{where}: {redact_text(item)!r} is not one requirement: give one per item"
            )
            continue
        try:
            reader.read_line(written, reader.line_at(where, written, origin, folder, False, ()))
        except Problem as problem:
            reader.problems.add(str(problem))
    return reader.result(origin, locked=False)
