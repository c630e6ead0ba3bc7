"""``pyproject.toml``: PEP 621 ``[project].dependencies``, its extras, and PEP 735 dependency
groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from packaging.markers import Marker
from packaging.requirements import Requirement

from ..urls import redact_text
from .entries import BadRequirement, Entry, parse_requirement_text
from .inputfile import InputFile
from .reading import Names, PathLike, Problem, expect, names_given, str_list
from .spec import DependencySpec, canon

__all__ = ["load_pyproject"]


def resolve_groups(
    table: Mapping[str, Any], wanted: Sequence[str], where: str
) -> list[tuple[str, str]]:
    """PEP 735: the requirement strings of ``wanted`` groups, with ``include-group``.

    Returns ``(requirement, group)`` pairs: the text as written (for the line in messages, and
    path requirements) and the group it is in. ``packaging.dependency_groups`` returns parsed
    requirements only, and needs packaging >= 26.1 (Python >= 3.10).
    """
    by_name: dict[str, str] = {}
    for key in table:
        by_name.setdefault(canon(key), key)
    out: list[tuple[str, str]] = []

    def visit(group: str, stack: tuple[str, ...]) -> None:
        norm = canon(group)
        if norm in stack:
            loop = " -> ".join([*stack, norm])
            raise Problem(f"{where}: [dependency-groups] include a loop ({loop}): break it")
        key = by_name.get(norm)
        if key is None:
            known = ", ".join(sorted(table)) or "none"
            raise Problem(
                f"{where}: dependency group {group!r} is not defined (groups: {known}): add it "
                "to [dependency-groups] or ask for an existing one"
            )
        items = expect(table[key], list, where, f"[dependency-groups].{key}")
        for item in items:
            if isinstance(item, str):
                out.append((item, key))
            elif isinstance(item, dict) and set(item) == {"include-group"}:
                included = expect(item["include-group"], str, where, "include-group")
                visit(included, (*stack, norm))
            else:
                raise Problem(
                    f"{where}: [dependency-groups].{key} entries must be requirement strings or "
                    '{include-group = "name"} tables: fix the entry'
                )

    for group in wanted:
        visit(group, ())
    return out


def optional_dependencies(project: dict[str, Any], display: str) -> dict[str, Any]:
    """``[project.optional-dependencies]`` (PEP 621): extra -> requirement strings."""
    table = project.get("optional-dependencies", {})
    optional: dict[str, Any] = expect(table, dict, display, "[project.optional-dependencies]")
    return optional


def load_pyproject(path: PathLike, *, extras: Names = (), groups: Names = ()) -> DependencySpec:
    """Read ``[project].dependencies`` (plus extras and PEP 735 dependency groups if asked).

    ``[project.optional-dependencies]`` entries that name the project itself
    (``myapp[aws]``) are expanded; the project itself is not installed (its code is the
    function's source). Tool-specific sources such as ``[tool.uv.sources]`` are not read: use
    the tool's lock file for those.

    Raises:
        InputError: missing file, invalid TOML, dynamic or Poetry-only dependencies, an unknown
            extra or group, or invalid requirements (each with file:line where known).
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    pyproject = InputFile.toml(path, "pyproject.toml")
    with pyproject.gathering():
        project = _static_project(pyproject)
        reader = _Requirements(pyproject, project)
        reader.add_extras(extras)
        reader.add_groups(groups)
        reader.read_pending()
    return pyproject.spec(locked=False)


def _static_project(pyproject: InputFile) -> dict[str, Any]:
    """``[project]``, when its dependencies can be read without building the project."""
    data, display = pyproject.data, pyproject.display
    project: dict[str, Any] = expect(data.get("project", {}), dict, display, "[project]")
    has_deps = "dependencies" in project
    if not has_deps and "dependencies" in project.get("dynamic", []):
        raise Problem(
            f"{pyproject.place('dynamic')}: [project].dependencies is dynamic, so it cannot be "
            "read without building the project: list the dependencies statically or use a "
            "requirements or lock file"
        )
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    poetry_deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if not has_deps and isinstance(poetry_deps, dict) and set(poetry_deps) - {"python"}:
        raise Problem(
            f"{display}: the dependencies are in [tool.poetry.dependencies], which only "
            "Poetry resolves: run `poetry lock` and use poetry.lock"
        )
    return project


#: A requirement still to read: its text, the table it is in, the marker of the extra that
#: brought it in (a self-reference ``myapp[aws] ; marker``).
_Pending = tuple[str, str, Union[str, None]]


class _Requirements:
    """The requirements of ``[project]``: its dependencies, the extras asked for, and the extras
    its self-references (``myapp[aws]``) name, read into the input file's entries."""

    def __init__(self, pyproject: InputFile, project: dict[str, Any]) -> None:
        self.pyproject = pyproject
        display = pyproject.display
        name = project.get("name")
        self.project_name = canon(name) if isinstance(name, str) and name else None
        self.pending: list[_Pending] = [
            (item, "[project].dependencies", None)
            for item in str_list(project.get("dependencies", []), display, "dependencies")
        ]
        self.optional = optional_dependencies(project, display)
        self.by_extra = {canon(k): k for k in self.optional}
        self.seen_extras: set[str] = set()

    def add_extras(self, extras: Sequence[str]) -> None:
        """Queue the requirements of the extras asked for; a problem for each unknown one."""
        display = self.pyproject.display
        for extra in extras:
            norm = canon(extra)
            if norm in self.seen_extras:
                continue
            self.seen_extras.add(norm)
            key = self.by_extra.get(norm)
            if key is None:
                known = ", ".join(sorted(self.optional)) or "none"
                self.pyproject.problems.add(
                    f"{display}: extra {extra!r} is not in [project.optional-dependencies] "
                    f"(extras: {known}): ask for an existing one"
                )
                continue
            self.pending += self._extra_items(key, None)

    def add_groups(self, groups: Sequence[str]) -> None:
        """Queue the requirements of the PEP 735 dependency groups asked for."""
        data, display = self.pyproject.data, self.pyproject.display
        table = expect(data.get("dependency-groups", {}), dict, display, "[dependency-groups]")
        if groups:
            self.pending += [
                (item, f"[dependency-groups].{group}", None)
                for item, group in resolve_groups(table, groups, display)
            ]

    def _extra_items(self, key: str, marker: str | None) -> list[_Pending]:
        what = f"[project.optional-dependencies].{key}"
        items = str_list(self.optional[key], self.pyproject.display, what)
        return [(item, what, marker) for item in items]

    def read_pending(self) -> None:
        """Parse every queued requirement into an entry; a self-reference queues its extras."""
        pyproject = self.pyproject
        base_note = f"paths are relative to the folder of {pyproject.display}"
        while self.pending:
            item, what, outer_marker = self.pending.pop(0)
            where = pyproject.place(item) if item.strip() else pyproject.display
            try:
                req, local, is_dir = parse_requirement_text(item, pyproject.folder, base_note)
            except BadRequirement as exc:
                pyproject.problems.add(f"{where}: {redact_text(item)!r} in {what} {exc.tail}")
                continue
            if outer_marker:
                combined = f"({outer_marker})" + (f" and ({req.marker})" if req.marker else "")
                req.marker = Marker(combined)
            if req.name == self.project_name:
                self._self_reference(req, item, where)
                continue
            pyproject.entries.append(Entry(req, where, [], local, is_dir))

    def _self_reference(self, req: Requirement, item: str, where: str) -> None:
        """Install the extras a requirement on the project itself names, not the project."""
        for extra in sorted(req.extras):
            key = self.by_extra.get(extra)
            if key is None:
                self.pyproject.problems.add(
                    f"{where}: {item!r} names extra {extra!r} of this project, which is not "
                    "defined: fix the name"
                )
                continue
            if extra in self.seen_extras:
                continue
            self.seen_extras.add(extra)
            self.pending += self._extra_items(key, str(req.marker) if req.marker else None)
