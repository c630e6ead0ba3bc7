"""Deciding extra / extras / dependency_groups conditions of markers, keeping the rest."""

from __future__ import annotations

import pytest
from packaging.markers import Marker

from lambda_wheels_cdk.inputs.markers import resolve_marker


@pytest.mark.parametrize(
    ("marker", "extras", "groups", "expected"),
    [
        ('extra == "socks"', {"socks"}, None, True),
        ('extra == "socks"', set(), None, False),
        ('extra != "socks"', set(), None, True),
        ('extra == "Sub_Extra"', {"sub-extra"}, None, True),
        ('python_version < "3.10" and extra == "x"', {"x"}, None, 'python_version < "3.10"'),
        ('python_version < "3.10" and extra == "x"', set(), None, False),
        (
            '(extra == "a" or extra == "b") and sys_platform == "linux"',
            {"b"},
            None,
            'sys_platform == "linux"',
        ),
        (
            'extra == "a" or python_version >= "3.12" and os_name == "nt"',
            set(),
            None,
            'python_version >= "3.12" and os_name == "nt"',
        ),
        (
            '(os_name == "nt" or os_name == "posix") and extra == "a"',
            {"a"},
            None,
            'os_name == "nt" or os_name == "posix"',
        ),
        (
            "'dev' in dependency_groups and sys_platform == 'win32'",
            None,
            {"dev"},
            'sys_platform == "win32"',
        ),
        ("'dev' not in dependency_groups", None, {"dev"}, False),
        ("'socks' in extras", {"socks"}, None, True),
        ('sys_platform == "linux"', {"x"}, {"y"}, 'sys_platform == "linux"'),
        ('extra == "x"', None, None, 'extra == "x"'),
    ],
)
def test_marker_decisions(
    marker: str, extras: set[str] | None, groups: set[str] | None, expected: object
) -> None:
    result, _ = resolve_marker(
        str(Marker(marker)),
        extras=None if extras is None else frozenset(extras),
        groups=None if groups is None else frozenset(groups),
    )
    assert result == (str(Marker(expected)) if isinstance(expected, str) else expected)
