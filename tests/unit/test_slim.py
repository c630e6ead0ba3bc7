"""Opt-in trimming: test suites inside packages, type stubs, runtime-provided packages."""

from __future__ import annotations

from pathlib import Path

from lambda_wheels_cdk.build import slim


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _write(root: Path, rels: list[str]) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def test_slim_removes_package_tests_and_stubs_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "pandas/__init__.py",
            "pandas/tests/test_a.py",
            "pandas/tests/io/data/table.csv",
            "numpy/_core/tests/test_b.py",
            "numpy/testing/__init__.py",
            "django/test/__init__.py",
            "tests/__init__.py",  # a top-level package of its own
            "pkg/__init__.pyi",
            "pkg/py.typed",
            "pkg/mod.py",
            "six.pyi",
            "pkg-1.0.dist-info/RECORD",
        ],
    )
    removed = slim.slim(tmp_path)
    assert _files(tmp_path) == [
        "django/test/__init__.py",
        "numpy/testing/__init__.py",
        "pandas/__init__.py",
        "pkg-1.0.dist-info/RECORD",
        "pkg/mod.py",
        "tests/__init__.py",
    ]
    assert removed == {"tests": (3, 3 * 6), "stubs": (3, 3 * 6)}


def test_slim_rules_are_separate(tmp_path: Path) -> None:
    _write(tmp_path, ["pkg/tests/t.py", "pkg/m.pyi"])
    assert slim.slim(tmp_path, ["stubs"]) == {"stubs": (1, 6)}
    assert _files(tmp_path) == ["pkg/tests/t.py"]


def _dist(root: Path, name: str, version: str, files: list[str], requires: list[str] = ()) -> None:  # type: ignore[assignment]
    _write(root, files)
    info = root / f"{name}-{version}.dist-info"
    info.mkdir()
    meta = [f"Name: {name}", f"Version: {version}", *[f"Requires-Dist: {r}" for r in requires]]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    rows = [f"{f},," for f in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_runtime_provided_packages_leave_and_what_others_need_stays(tmp_path: Path) -> None:
    _dist(
        tmp_path, "boto3", "1.40.0", ["boto3/__init__.py"], ["botocore", "jmespath", "s3transfer"]
    )
    _dist(
        tmp_path,
        "botocore",
        "1.40.0",
        ["botocore/__init__.py", "botocore/data/x.json"],
        ["jmespath", "urllib3"],
    )
    _dist(tmp_path, "s3transfer", "0.13.0", ["s3transfer/__init__.py"])
    _dist(tmp_path, "jmespath", "1.0.1", ["jmespath/__init__.py"])
    _dist(tmp_path, "urllib3", "2.5.0", ["urllib3/__init__.py"])
    _dist(tmp_path, "mylib", "1.0", ["mylib.py"], ["jmespath>=1"])
    removed = slim.drop_runtime_provided(tmp_path)
    assert removed == {"boto3": "1.40.0", "botocore": "1.40.0", "s3transfer": "0.13.0"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jmespath",
        "jmespath-1.0.1.dist-info",
        "mylib-1.0.dist-info",
        "mylib.py",
        "urllib3",
        "urllib3-2.5.0.dist-info",
    ]


def test_jmespath_goes_too_when_nothing_else_needs_it(tmp_path: Path) -> None:
    _dist(tmp_path, "boto3", "1.40.0", ["boto3/__init__.py"], ["jmespath"])
    _dist(tmp_path, "jmespath", "1.0.1", ["jmespath/__init__.py"])
    assert slim.drop_runtime_provided(tmp_path) == {"boto3": "1.40.0", "jmespath": "1.0.1"}
    assert list(tmp_path.iterdir()) == []
