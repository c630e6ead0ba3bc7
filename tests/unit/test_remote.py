"""The remote cache's pure parts: URLs, packing and the unpacker's refusals, error words."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.core import remote
from lambda_wheels_cdk.core.bundle import BuildOptions
from lambda_wheels_cdk.core.remote import RemoteCacheProblem, RemoteCacheSettings
from lambda_wheels_cdk.errors import UsageError


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://b", "b", ""), ("s3://b/", "b", ""), ("s3://b/team/ci/", "b", "team/ci")],
)
def test_s3_urls(url: str, bucket: str, prefix: str) -> None:
    settings = RemoteCacheSettings.parse(url)
    assert (settings.bucket, settings.prefix, settings.mode) == (bucket, prefix, "read-write")
    assert settings.key("deps", "k.json") == "/".join(
        p for p in (prefix, "v1", "deps", "k.json") if p
    )


@pytest.mark.parametrize(
    "url", ["https://b/x", "b/prefix", "s3://", "s3://key:secret@b/x", "s3://b/x?token=1"]
)
def test_bad_urls_say_what_to_pass(url: str) -> None:
    with pytest.raises(UsageError, match="s3://BUCKET"):
        RemoteCacheSettings.parse(url)


def test_options_win_over_the_environment_and_modes_are_checked() -> None:
    env = {"LAMBDA_WHEELS_REMOTE_CACHE": "s3://env/p", "LAMBDA_WHEELS_REMOTE_CACHE_MODE": "read"}
    assert RemoteCacheSettings.from_options(None, None, {}) is None
    assert RemoteCacheSettings.from_options(None, None, env) == RemoteCacheSettings(
        "env", "p", "read"
    )
    chosen = RemoteCacheSettings.from_options("s3://opt", "read-write", env)
    assert chosen == RemoteCacheSettings("opt", "", "read-write")
    with pytest.raises(UsageError, match="'read'"):
        BuildOptions(remote_cache="s3://b", remote_cache_mode="write-only")
    with pytest.raises(UsageError, match="s3://BUCKET"):
        BuildOptions(remote_cache="http://b")


def _entry(root: Path) -> Path:
    (root / "tree" / "pkg").mkdir(parents=True)
    (root / "tree" / "pkg" / "__init__.py").write_text("A = 1\n")
    (root / "manifest.json").write_text('{"record": []}')
    return root


def test_pack_is_deterministic_and_unpack_gives_the_same_files(tmp_path: Path) -> None:
    entry = _entry(tmp_path / "entry")
    one, two = tmp_path / "one.tgz", tmp_path / "two.tgz"
    files = remote.pack(entry, one)
    assert remote.pack(entry, two) == files
    assert one.read_bytes() == two.read_bytes()
    assert set(files) == {"manifest.json", "tree/pkg/__init__.py"}
    out = tmp_path / "out"
    out.mkdir()
    remote.unpack(one, out, files, 10_000)
    assert (out / "tree/pkg/__init__.py").read_text() == "A = 1\n"


def _archive(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> dict[str, str]:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            if info.isfile():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return {m.name: hashlib.sha256(data).hexdigest() for m in members}


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _file("tree/../../escape.py"),
        _file("/etc/cron.d/evil"),
        _file("tree/a/../../../x"),
        _file("elsewhere/x.py"),
        _link("tree/passwd", "/etc/passwd"),
        _link("tree/up", "../../.."),
        _link("tree/hard", "/etc/passwd", tarfile.LNKTYPE),
    ],
    ids=[
        "dotdot",
        "absolute",
        "nested-dotdot",
        "outside-tree",
        "symlink",
        "symlink-up",
        "hardlink",
    ],
)
def test_unpack_refuses_anything_but_clean_regular_files(
    tmp_path: Path, member: tarfile.TarInfo
) -> None:
    archive = tmp_path / "a.tgz"
    files = _archive(archive, [member])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RemoteCacheProblem):
        remote.unpack(archive, out, files, 10_000)
    assert not (tmp_path / "escape.py").exists()
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_unpack_refuses_a_wrong_digest_and_too_many_bytes(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    files = _archive(archive, [_file("tree/a.py")])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RemoteCacheProblem, match="sha256"):
        remote.unpack(archive, out, {"tree/a.py": "0" * 64}, 10_000)
    out2 = tmp_path / "out2"
    out2.mkdir()
    with pytest.raises(RemoteCacheProblem, match="more than"):
        remote.unpack(archive, out2, files, 0)


def test_a_truncated_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    files = _archive(archive, [_file("tree/a.py")], data=bytes(range(256)) * 400)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RemoteCacheProblem, match="complete"):
        remote.unpack(archive, out, files, 10**9)


def test_without_boto3_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    cache = remote.RemoteCache(RemoteCacheSettings("b"))
    with pytest.raises(RemoteCacheProblem, match=r"lambda-wheels-cdk\[s3\]"):
        cache.client()


def test_access_denied_names_the_missing_permission() -> None:
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "x"}}, "GetObject")
    assert "s3:GetObject" in remote._describe(denied, "read")
    assert "s3:ListBucket" in remote._describe(denied, "read")
    assert "s3:PutObject" in remote._describe(denied, "write")
    slow = ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "PutObject")
    assert "throttling" in remote._describe(slow, "write")
