"""Bundle tree primitives: normalization, excludes, atomic replace, digests."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from lambda_wheels_cdk import tree


def _installed(root: Path) -> None:
    info = root / "demo-1.0.dist-info"
    info.mkdir(parents=True)
    (root / ".lock").write_bytes(b"")  # what `uv pip install --target` leaves behind
    (root / "demo").mkdir()
    (root / "demo" / "__init__.py").write_text("x = 1\n")
    (root / "demo" / "__pycache__").mkdir()
    (root / "demo" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (root / "bin").mkdir()
    (root / "bin" / "demo").write_bytes(b"#!/home/me/.venv/bin/python3.11\nimport demo\n")
    for name in ("INSTALLER", "REQUESTED", "direct_url.json"):
        (info / name).write_text("uv\n")
    (info / "METADATA").write_text("Name: demo\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        "demo/__init__.py,sha256=abc,6\n"
        "demo/__pycache__/__init__.cpython-311.pyc,,\n"
        "demo-1.0.dist-info/INSTALLER,,\n"
        "bin/demo,sha256=old,40\n"
        "demo-1.0.dist-info/RECORD,,\n"
    )


def test_normalize_install_removes_host_traces(tmp_path: Path) -> None:
    _installed(tmp_path)
    tree.normalize_install(tmp_path)
    files = {rel for rel, _ in tree.iter_files(tmp_path)}
    assert files == {
        "bin/demo",
        "demo/__init__.py",
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/RECORD",
    }
    script = (tmp_path / "bin" / "demo").read_bytes()
    assert script.startswith(b"#!/usr/bin/env python3\n")
    digest = base64.urlsafe_b64encode(hashlib.sha256(script).digest()).rstrip(b"=").decode()
    record = (tmp_path / "demo-1.0.dist-info" / "RECORD").read_text()
    assert f"bin/demo,sha256={digest},{len(script)}" in record
    assert "INSTALLER" not in record and "__pycache__" not in record
    assert all(p.stat().st_mtime == tree.FIXED_MTIME for _, p in tree.iter_files(tmp_path))


def test_normalized_trees_are_byte_identical(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _installed(a)
    _installed(b)
    tree.normalize_install(a)
    tree.normalize_install(b)
    assert tree.digest_files(a, tree.iter_files(a)) == tree.digest_files(b, tree.iter_files(b))
    assert tree.tree_record(a) == tree.tree_record(b)


@pytest.mark.parametrize(
    ("rel", "excluded"),
    [
        (".venv/lib/x.py", True),
        ("pkg/__pycache__/m.pyc", True),
        ("pkg/m.pyc", True),
        ("cdk.out/manifest.json", True),
        ("node_modules/a/index.js", True),
        ("pkg/module.py", False),
        ("venvironment.py", False),
    ],
)
def test_default_excludes(rel: str, excluded: bool) -> None:
    assert tree.matches_exclude(rel, tree.DEFAULT_EXCLUDES) is excluded


def test_source_files_apply_user_excludes(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    (tmp_path / "index.py").write_text("")
    (tmp_path / "notes.md").write_text("")
    files = [
        rel for rel, _ in tree.source_files(tmp_path, (*tree.DEFAULT_EXCLUDES, "tests", "*.md"))
    ]
    assert files == ["index.py"]


def test_atomic_replace_dir_replaces_whole(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "stale.txt").write_text("old")
    built = tree.temp_sibling(dest)
    (built / "new.txt").write_text("new")
    tree.atomic_replace_dir(built, dest)
    assert sorted(os.listdir(dest)) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_copy_tree_refuses_to_overwrite(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f.py").write_text("1")
    (dst / "a").mkdir(parents=True)
    (dst / "a" / "f.py").write_text("2")
    with pytest.raises(OSError, match="written twice"):
        tree.copy_tree(src, dst)


def test_stale_temp_siblings_are_swept(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    stale = tmp_path / ".out.lw-build-deadbeef"
    fresh = tmp_path / ".out.lw-build-cafebabe"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "f").write_text("x")
    os.utime(stale, (0, 0))
    made = tree.temp_sibling(dest, "build")
    assert not stale.exists() and fresh.exists() and made.exists()


def test_normalize_never_writes_into_files_shared_with_an_installer_cache(tmp_path: Path) -> None:
    """uv hard-links files from its cache: normalizing must leave the cache's copies alone."""
    cache, root = tmp_path / "uv-cache", tmp_path / "tree"
    _installed(cache)
    root.mkdir()
    for rel, path in tree.iter_files(cache):  # the installed tree is all hard links
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(path, root / rel)
    os.utime(cache / "demo" / "__init__.py", (1_600_000_000, 1_600_000_000))
    before = {rel: (p.read_bytes(), p.stat().st_mtime_ns) for rel, p in tree.iter_files(cache)}

    tree.normalize_install(root)

    after = {rel: (p.read_bytes(), p.stat().st_mtime_ns) for rel, p in tree.iter_files(cache)}
    assert after == before  # contents and times of every cache file unchanged
    # the tree still got its rewrites, as new files of its own with the fixed time
    script, record = root / "bin" / "demo", root / "demo-1.0.dist-info" / "RECORD"
    assert script.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert script.stat().st_nlink == 1 and record.stat().st_nlink == 1
    assert script.stat().st_mtime == tree.FIXED_MTIME
    assert "INSTALLER" not in record.read_text()
    # a shared file keeps the cache's time (changing it would change the cache's file)
    shared = root / "demo" / "__init__.py"
    assert shared.stat().st_nlink == 2
    assert shared.stat().st_mtime_ns == before["demo/__init__.py"][1]


def test_replace_file_keeps_the_mode_and_leaves_other_links(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"old")
    os.chmod(a, 0o755)
    os.link(a, b)
    tree.replace_file(str(b), b"new")
    assert a.read_bytes() == b"old" and b.read_bytes() == b"new"
    if os.name == "posix":
        assert b.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] in (["a", "b"], ["b", "a"])


# -- excludes: the rules of `rsync --exclude`, which aws-lambda-python-alpha's assetExcludes use --

_TREE = (
    "index.py",
    "notes.md",
    "tests/test_a.py",
    "tests/fixtures/data.json",
    "pkg/__init__.py",
    "pkg/build",
    "pkg/tests/test_b.py",
    "docs/readme.md",
    "docs/api/ref.md",
    "build/out.txt",
    "shared_real/util.py",
)
_ALL = {*_TREE, "linked/util.py"}  # linked -> shared_real (a symlink, followed like rsync -L)

#: Files rsync 3.2.7 copies with `rsync -rL --exclude=PATTERN src/ out/` from that tree
#: (measured), written as what it leaves out.
_RSYNC_LEAVES_OUT = {
    "tests": {"tests/test_a.py", "tests/fixtures/data.json", "pkg/tests/test_b.py"},
    "/tests": {"tests/test_a.py", "tests/fixtures/data.json"},
    "tests/": {"tests/test_a.py", "tests/fixtures/data.json", "pkg/tests/test_b.py"},
    "build/": {"build/out.txt"},
    "build": {"build/out.txt", "pkg/build"},
    "*.md": {"notes.md", "docs/readme.md", "docs/api/ref.md"},
    "docs/*.md": {"docs/readme.md"},
    "docs/**.md": {"docs/readme.md", "docs/api/ref.md"},
    "docs/**": {"docs/readme.md", "docs/api/ref.md"},
    "docs/***": {"docs/readme.md", "docs/api/ref.md"},
    "pkg/tests": {"pkg/tests/test_b.py"},
    "/pkg/tests": {"pkg/tests/test_b.py"},
    "fixtures/data.json": {"tests/fixtures/data.json"},
    "t?sts": {"tests/test_a.py", "tests/fixtures/data.json", "pkg/tests/test_b.py"},
    "[bd]*": {
        "build/out.txt",
        "pkg/build",
        "docs/readme.md",
        "docs/api/ref.md",
        "tests/fixtures/data.json",
    },
}


@pytest.fixture
def exclude_tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for rel in _TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "linked").symlink_to("shared_real", target_is_directory=True)
    return root


@pytest.mark.parametrize(("pattern", "left_out"), sorted(_RSYNC_LEAVES_OUT.items()))
def test_excludes_follow_rsync(exclude_tree: Path, pattern: str, left_out: set[str]) -> None:
    files = {rel for rel, _ in tree.source_files(exclude_tree, [pattern])}
    assert files == _ALL - left_out


def test_excludes_match_the_real_rsync_where_there_is_one(
    exclude_tree: Path, tmp_path: Path
) -> None:
    import shutil
    import subprocess

    rsync = shutil.which("rsync")
    if rsync is None:
        pytest.skip("rsync is not installed (the literal table above still applies)")
    for pattern in _RSYNC_LEAVES_OUT:
        out = tmp_path / "rsync-out"
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(
            [rsync, "-rL", f"--exclude={pattern}", f"{exclude_tree}/", f"{out}/"], check=True
        )
        copied = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        ours = {rel for rel, _ in tree.source_files(exclude_tree, [pattern])}
        assert ours == copied, pattern


def test_a_symlink_loop_is_not_followed_forever(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("")
    (tmp_path / "pkg" / "again").symlink_to(tmp_path, target_is_directory=True)
    assert [rel for rel, _ in tree.source_files(tmp_path, ())] == ["pkg/m.py"]
