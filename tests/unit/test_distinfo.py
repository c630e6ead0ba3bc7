"""RECORD is CSV: a path holding a comma is quoted, and every reader of it must say so.

Each consumer of an installed ``*.dist-info`` (sizes in the manifest, RECORD rewriting, the
bytecode's owners, ``exclude_runtime_packages``) is given a distribution with a file named
``data,v2.py``; the wheel spec writes its row as ``"pkg/data,v2.py",sha256=...,N``.
"""

from __future__ import annotations

from pathlib import Path

from lambda_wheels_cdk import distinfo, tree
from lambda_wheels_cdk.build.bytecode import groups
from lambda_wheels_cdk.build.slim import drop_runtime_provided
from lambda_wheels_cdk.install.dists import read_distributions
from lambda_wheels_cdk.target.target import Target

INIT = b"x = 1\n"
DATA = b"y = 22\n"


def _installed(root: Path, name: str = "demo") -> Path:
    """A distribution ``name`` 1.0 with ``name/__init__.py`` and ``name/data,v2.py``."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (root / name).mkdir()
    (root / name / "__init__.py").write_bytes(INIT)
    (root / name / "data,v2.py").write_bytes(DATA)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")
    (info / "RECORD").write_text(
        f"{name}/__init__.py,sha256=abc,{len(INIT)}\n"
        f'"{name}/data,v2.py",sha256=def,{len(DATA)}\n'
        f"{name}-1.0.dist-info/RECORD,,\n"
    )
    return info


def test_record_paths_read_quoted_paths() -> None:
    text = 'a/__init__.py,sha256=x,1\n\n"a/data,v2.py",sha256=y,2\na-1.dist-info/RECORD,,\n'
    assert distinfo.record_paths(text) == [
        "a/__init__.py",
        "a/data,v2.py",
        "a-1.dist-info/RECORD",
    ]


def test_record_line_quotes_only_what_needs_it() -> None:
    assert distinfo.record_line(["a/data,v2.py", "sha256=y", "2"]) == '"a/data,v2.py",sha256=y,2'
    assert distinfo.record_line(["a/b.py", "", ""]) == "a/b.py,,"


def test_manifest_sizes_count_a_path_with_a_comma(tmp_path: Path) -> None:
    info = _installed(tmp_path)
    (dist,) = read_distributions(tmp_path, Target.for_runtime("python3.12", "x86_64"))
    record_size = (info / "RECORD").stat().st_size
    assert (dist.files, dist.size) == (3, len(INIT) + len(DATA) + record_size)


def test_normalizing_keeps_the_row_of_a_path_with_a_comma(tmp_path: Path) -> None:
    info = _installed(tmp_path)
    tree.normalize_install(tmp_path)
    assert (tmp_path / "demo" / "data,v2.py").read_bytes() == DATA
    assert f'"demo/data,v2.py",sha256=def,{len(DATA)}' in (info / "RECORD").read_text()


def test_bytecode_owner_of_a_path_with_a_comma(tmp_path: Path) -> None:
    _installed(tmp_path)
    files = ["demo/__init__.py", "demo/data,v2.py"]
    assert groups(tmp_path, files) == {"demo-1.0": files}


def test_runtime_packages_are_removed_with_a_path_with_a_comma(tmp_path: Path) -> None:
    _installed(tmp_path, "boto3")
    assert drop_runtime_provided(tmp_path) == {"boto3": "1.0"}
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_broken_record_is_read_up_to_its_first_bad_row(tmp_path: Path) -> None:
    """A field over csv's 128 KiB limit is a row csv cannot read: the rows before it count,
    nothing raises."""
    info = _installed(tmp_path)
    good = f'demo/__init__.py,sha256=abc,{len(INIT)}\n"demo/data,v2.py",,\n'
    (info / "RECORD").write_text(good + f'"demo/{"x" * 200_000}",,\nlater.py,,\n')
    assert distinfo.read_record(info) == ["demo/__init__.py", "demo/data,v2.py"]
    (dist,) = read_distributions(tmp_path, Target.for_runtime("python3.12", "x86_64"))
    assert (dist.files, dist.size) == (2, len(INIT) + len(DATA))
