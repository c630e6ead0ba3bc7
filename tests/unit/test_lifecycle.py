"""Lambda's runtime lifecycle: the dates as data, the warning text, and the CLI's warning line.

Every date below is a literal from the Lambda documentation ("Building Lambda functions with
Python", supported runtimes table; LAMBDA-FACTS.md "Runtime lifecycle"), and every "today" is
passed in: no test reads the clock.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.target.runtimes import LIFECYCLE, RUNTIMES, lifecycle_warning

D = date.fromisoformat
#: The day this was written: python3.9 and python3.10 are deprecated, python3.10's creation is
#: blocked (since 2026-11-30), nothing is update-blocked yet.
TODAY = D("2026-12-04")

# runtime, deprecated, create blocked, update blocked -- one row per runtime
LIFECYCLE_ROWS = [
    ("python3.9", "2025-12-15", "2027-02-01", "2027-03-03"),
    ("python3.10", "2026-10-31", "2026-11-30", "2027-01-15"),
    ("python3.11", "2027-06-30", None, None),
    ("python3.12", "2028-10-31", "2028-11-30", "2029-01-10"),
    ("python3.13", "2029-06-30", "2029-07-31", "2029-08-31"),
    ("python3.14", "2029-06-30", None, "2029-08-31"),
]


def test_every_runtime_has_exactly_the_dates_tested() -> None:
    assert list(LIFECYCLE) == list(RUNTIMES) == [row[0] for row in LIFECYCLE_ROWS]
    for runtime, deprecated, create, update in LIFECYCLE_ROWS:
        life = LIFECYCLE[runtime]
        assert life.deprecated == D(deprecated)
        assert life.create_blocked == (D(create) if create else None)
        assert life.update_blocked == (D(update) if update else None)


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12", "python3.13", "python3.14"])
def test_supported_runtimes_get_no_warning(runtime: str) -> None:
    assert lifecycle_warning(runtime, TODAY) is None


def test_a_deprecated_runtime_names_its_dates_and_where_to_go() -> None:
    warning = lifecycle_warning("python3.9", TODAY)
    assert warning is not None
    assert "python3.9 is deprecated on AWS Lambda since 2025-12-15" in warning
    assert "creating functions from 2027-02-01 and updating them from 2027-03-03" in warning
    assert warning.endswith("move to python3.14")


def test_python310_creation_blocked_is_a_warning_that_says_updates_still_work() -> None:
    warning = lifecycle_warning("python3.10", TODAY)
    assert warning is not None
    assert "deprecated on AWS Lambda since 2026-10-31" in warning
    assert "creating new functions on it is blocked since 2026-11-30" in warning
    assert "existing functions can still be updated until 2027-01-15" in warning


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-10-30", None),  # the day before the deprecation
        ("2026-10-31", "Lambda blocks creating functions from 2026-11-30"),
        ("2026-11-29", "and updating them from 2027-01-15"),
        ("2026-11-30", "blocked since 2026-11-30"),
        ("2027-01-14", "can still be updated until 2027-01-15"),
        ("2027-01-15", "deploying to a function on python3.10 fails"),
    ],
)
def test_python310_across_its_dates(today: str, expected: str | None) -> None:
    warning = lifecycle_warning("python3.10", D(today))
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning


def test_unannounced_block_dates_and_no_newer_runtime() -> None:
    warning = lifecycle_warning("python3.11", D("2027-06-30"))
    assert warning is not None and "has not announced when it blocks" in warning
    late = lifecycle_warning("python3.14", D("2029-06-30"))  # every runtime deprecated
    assert late is not None and "move to" not in late
    assert lifecycle_warning("python3.8", TODAY) is None  # refused elsewhere, not in the table


def _warnings(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        (["tags"], 0),
        (["audit", "{bundle}"], 0),
        (["smoke", "{bundle}", "--handler", "app.f", "--python", "/nonexistent/python"], 3),
        (["build", "-o", "{out}"], 2),  # nothing to build: fails for that, after the warning
    ],
    ids=["tags", "audit", "smoke", "build"],
)
def test_cli_warns_on_a_deprecated_runtime_and_does_not_fail_for_it(
    command: list[str], exit_code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "app.py").write_text("X = 1\n")
    argv = [part.format(bundle=bundle, out=tmp_path / "out") for part in command]

    assert main([*argv, "--runtime", "python3.10", "--arch", "x86_64"], today=TODAY) == exit_code
    warnings = _warnings(capsys)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"lambda-wheels {argv[0]}: warning: python3.10 is deprecated")
    assert "blocked since 2026-11-30" in warnings[0]

    # the same command for a supported runtime: the same exit status, no warning
    assert main([*argv, "--runtime", "python3.12", "--arch", "x86_64"], today=TODAY) == exit_code
    assert _warnings(capsys) == []


def test_a_layer_for_several_runtimes_warns_once_per_deprecated_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["build", "--layer", "-o", str(tmp_path / "out"), "--arch", "x86_64"]
    runtimes = ["python3.9", "python3.10", "python3.12", "python3.10"]
    argv += [part for runtime in runtimes for part in ("--runtime", runtime)]
    assert main(argv, today=TODAY) == 2  # nothing to build, after the warnings
    warnings = _warnings(capsys)
    assert [w.split(": warning: ")[1].split(" is deprecated")[0] for w in warnings] == [
        "python3.9",
        "python3.10",
    ]
