"""A bundle cache shared by every machine: cache entries in S3, verified before use.

With ``--remote-cache s3://bucket/prefix`` (``LAMBDA_WHEELS_REMOTE_CACHE``, or
``remote_cache=`` on the constructs), a local cache miss looks the entry's key up in S3 before
installing, and an entry built here is published after it succeeds. The keys are the local
cache's (:func:`~lambda_wheels_cdk.build.cache.dependency_key`, the bytecode keys): pure
functions of inputs, target, installer, options and tool versions, the same on every machine.

Layout under ``s3://bucket/prefix/v1/``::

    <kind>/<key>.json          the entry's manifest: parts, per-file sha256, the local record
    parts/<sha256>             content-addressed pieces of one gzip'ed tar of the entry

Integrity: a reader downloads the manifest, then every part, checks each part's size and
sha256 *before* unpacking anything, unpacks only regular files and folders with relative,
clean names into a private folder, checks every file against its sha256, and only then moves
the folder into the local cache. Anything else (a tampered, truncated or missing part, a bad
manifest, a link, ``..``) is a miss with a warning: the bytes are never served. A publisher
uploads the parts first and the manifest last, so a reader never sees half an entry; parts are
named by their content, so concurrent publishers of one key cannot damage each other (the last
manifest wins, and every manifest names only complete parts).

Failure never fails a build that can still build locally: network errors, throttling, access
denied warn once (naming the missing permission) and the build goes on; after a connection
failure the remote cache is not asked again in this process. Credentials come from boto3's
standard chain (environment, profiles, SSO, instance roles) and appear in no key, manifest or
message; ``AWS_ENDPOINT_URL_S3`` points it at MinIO, LocalStack or moto.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .. import tree
from ..errors import UsageError
from ..events import Log, emit, quiet
from ..target.runtimes import DATACLASS_SLOTS

RemoteMode = Literal["read-write", "read"]
REMOTE_MODES: Final[tuple[RemoteMode, ...]] = ("read-write", "read")
Kind = Literal["deps", "pyc"]
#: The variables that set the remote cache when no option does.
URL_VARIABLE: Final = "LAMBDA_WHEELS_REMOTE_CACHE"
MODE_VARIABLE: Final = "LAMBDA_WHEELS_REMOTE_CACHE_MODE"
SCHEMA: Final = "v1"
#: Parts of an entry's archive: small enough to retry, large enough to keep requests few.
PART_SIZE: Final = 64 * 2**20
#: The most an entry may hold once unpacked (Lambda's limit is 250 MiB; a layer for several
#: runtimes holds several installs): more is refused before anything is written.
MAX_ENTRY_BYTES: Final = 2 * 2**30
#: The names of the local entry files the archive carries besides ``tree/``.
_ENTRY_FILES: Final = ("manifest.json", "record.json")


class RemoteCacheProblem(Exception):
    """Something went wrong with the remote cache: always a miss, never a failed build."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        #: The remote cache cannot work in this process (unreachable, no boto3 credentials...).
        self.permanent = permanent


@dataclass(frozen=True, **DATACLASS_SLOTS)
class RemoteCacheSettings:
    """Where the shared cache is and whether this machine may write to it.

    Attributes:
        bucket: the S3 bucket.
        prefix: the key prefix inside it (no leading or trailing ``/``).
        mode: ``"read-write"`` (default: look up, and publish fresh builds) or ``"read"``
            (look up only: for untrusted branches and forks).
    """

    bucket: str
    prefix: str = ""
    mode: RemoteMode = "read-write"

    @classmethod
    def parse(cls, url: str, mode: str | None = None) -> RemoteCacheSettings:
        """``s3://bucket/prefix`` and a mode.

        Raises:
            UsageError: not an ``s3://`` URL with a bucket, credentials in it, or another mode.
        """
        parts = urlsplit(url.strip())
        if parts.scheme != "s3" or not parts.netloc:
            raise UsageError(
                f"remote cache {url!r} is not an S3 URL: pass s3://BUCKET or s3://BUCKET/PREFIX "
                f"(--remote-cache / {URL_VARIABLE} / remote_cache=)"
            )
        if "@" in parts.netloc or parts.query or parts.fragment:
            raise UsageError(
                "the remote cache URL must be s3://BUCKET/PREFIX only: credentials come from "
                "the standard AWS chain (AWS_PROFILE, environment, SSO, instance roles)"
            )
        chosen = mode or "read-write"
        if chosen not in REMOTE_MODES:
            raise UsageError(
                f"remote cache mode {chosen!r} must be 'read-write' (default) or 'read'"
            )
        return cls(parts.netloc, parts.path.strip("/"), chosen)

    @classmethod
    def from_options(
        cls, url: str | None, mode: str | None, environ: Mapping[str, str]
    ) -> RemoteCacheSettings | None:
        """The option when given, else ``LAMBDA_WHEELS_REMOTE_CACHE(_MODE)``; ``None``: off."""
        url = url or environ.get(URL_VARIABLE) or None
        if not url:
            return None
        return cls.parse(url, mode or environ.get(MODE_VARIABLE) or None)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, SCHEMA, *parts) if p)


# -- packing ---------------------------------------------------------------------------------


def pack(entry: Path, out: Path) -> dict[str, str]:
    """Write ``entry`` (``tree/`` and its json files) as one deterministic gzip'ed tar to
    ``out``: sorted names, no owners, the recorded times and modes. Returns ``{name: sha256}``
    of every file in it."""
    digests: dict[str, str] = {}
    names = [n for n in _ENTRY_FILES if (entry / n).is_file()]
    names += [f"tree/{rel}" for rel, _ in tree.iter_files(entry / "tree")]
    with (
        open(out, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in names:
            path = entry / name
            st = path.stat()
            info = tarfile.TarInfo(name)
            info.size = st.st_size
            info.mtime = tree.FIXED_MTIME  # the reader restamps: machine times stay out
            info.mode = st.st_mode & 0o777
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                tar.addfile(info, _Hashing(fh, h))
            digests[name] = h.hexdigest()
    return digests


class _Hashing(io.RawIOBase):
    """A reader that hashes what it reads (one pass for the tar and the digest)."""

    def __init__(self, fh: Any, digest: Any) -> None:
        self._fh, self._digest = fh, digest

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._fh.read(size)
        self._digest.update(data)
        return data

    def readable(self) -> bool:
        return True


def unpack(archive: Path, dest: Path, files: Mapping[str, str], limit: int) -> None:
    """Unpack ``archive`` into ``dest`` (empty), accepting exactly ``files`` ({name: sha256}):
    regular files with relative, clean names, each with its sha256; nothing else.

    Raises:
        RemoteCacheProblem: anything else in the archive, a digest or a size that does not
            match, or more than ``limit`` bytes.
    """
    seen: set[str] = set()
    total = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    raise RemoteCacheProblem(f"it holds {name!r}, which is not a regular file")
                if not _clean(name) or name not in files or name in seen:
                    raise RemoteCacheProblem(f"it holds {name!r}, which its manifest does not list")
                total += member.size
                if total > limit:
                    raise RemoteCacheProblem(f"it unpacks to more than {limit:,} bytes")
                target = dest.joinpath(*name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                h = hashlib.sha256()
                with open(target, "xb") as out:
                    while chunk := source.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != files[name]:
                    raise RemoteCacheProblem(f"{name!r} does not match its sha256")
                os.chmod(target, member.mode & 0o777)
                os.utime(target, (member.mtime, member.mtime))
                seen.add(name)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise RemoteCacheProblem(f"it is not a complete archive ({exc})") from None
    missing = set(files) - seen
    if missing:
        raise RemoteCacheProblem(f"{len(missing)} listed files are missing, e.g. {min(missing)!r}")
    tree.set_folder_modes(dest / "tree") if (dest / "tree").is_dir() else None


def restamp(entry: Path) -> None:
    """Make a fetched entry this machine's: the fixed time on every file, and the local
    record (sizes, times, modes: what a local lookup checks) rewritten to match."""
    times = (tree.FIXED_MTIME, tree.FIXED_MTIME)
    for _, path in tree.iter_files(entry / "tree"):
        os.utime(path, times)
    for name in _ENTRY_FILES:
        path = entry / name
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if "record" in data:
                data["record"] = tree.tree_record(entry / "tree")
                path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _clean(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and "\\" not in name
        and all(part not in ("", ".", "..") for part in name.split("/"))
        and (name in _ENTRY_FILES or name.startswith("tree/"))
    )


# -- the remote cache ------------------------------------------------------------------------


class RemoteCache:
    """S3 behind the local cache: :meth:`fetch` on a miss, :meth:`publish` after a build.

    Every failure is a :class:`RemoteCacheProblem` caught here: told once through ``log`` and
    turned into a miss (or a skipped publish).
    """

    def __init__(self, settings: RemoteCacheSettings, *, log: Log = quiet, client: Any = None):
        self.settings = settings
        self.log = log
        self._client = client
        self._disabled: str | None = None
        self._told: set[str] = set()

    # -- the client

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise RemoteCacheProblem(
                    "the remote cache needs boto3: pip install 'lambda-wheels-cdk[s3]'",
                    permanent=True,
                ) from None
            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                user_agent_extra="lambda-wheels-cdk",
            )
            try:
                self._client = boto3.session.Session().client("s3", config=config)
            except Exception as exc:
                raise RemoteCacheProblem(_describe(exc, "connect"), permanent=True) from None
        return self._client

    def _warn(self, message: str, *, permanent: bool = False) -> None:
        if permanent:
            self._disabled = message
        if message not in self._told:
            self._told.add(message)
            self.log(f"warning: remote cache {self.settings.url}: {message}; building locally")
        emit("remote-error", message=message)

    # -- reading

    def fetch(self, kind: Kind, key: str, work: Path) -> bool:
        """Download, verify and unpack the entry ``key`` into the empty folder ``work``.

        Returns ``False`` for a miss (absent, or anything wrong with it: warned).
        """
        if self._disabled is not None:
            return False
        try:
            manifest = self._get_json(self.settings.key(kind, f"{key}.json"))
            if manifest is None:
                emit("remote-miss", kind=kind, key=key)
                return False
            archive = work.parent / f"{work.name}.download"
            try:
                self._download_parts(manifest, archive)
                unpack(archive, work, manifest["files"], MAX_ENTRY_BYTES)
            finally:
                archive.unlink(missing_ok=True)
            restamp(work)
        except RemoteCacheProblem as exc:
            self._warn(f"entry {kind}/{key[:16]}: {exc}", permanent=exc.permanent)
            for child in list(work.iterdir()) if work.is_dir() else ():
                tree.remove_tree(child) if child.is_dir() else child.unlink()
            return False
        except (KeyError, TypeError, ValueError) as exc:
            self._warn(f"entry {kind}/{key[:16]} has a malformed manifest ({exc})")
            return False
        emit("remote-hit", kind=kind, key=key)
        return True

    def _get_json(self, key: str) -> dict[str, Any] | None:
        data = self._get(key, missing_ok=True)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise RemoteCacheProblem(f"its manifest is not JSON ({exc})") from None
        if not isinstance(value, dict) or value.get("schema") != SCHEMA:
            raise RemoteCacheProblem("its manifest is not a lambda-wheels v1 manifest")
        return value

    def _download_parts(self, manifest: Mapping[str, Any], archive: Path) -> None:
        parts = manifest["parts"]
        total = sum(int(p["size"]) for p in parts)
        if total > MAX_ENTRY_BYTES:
            raise RemoteCacheProblem(f"its archive is {total:,} bytes, over the limit")
        with open(archive, "wb") as out:
            for part in parts:
                digest, size = str(part["sha256"]), int(part["size"])
                data = self._get(self.settings.key("parts", digest), missing_ok=True)
                if data is None:
                    raise RemoteCacheProblem(f"its part {digest[:16]} is missing")
                if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                    raise RemoteCacheProblem(
                        f"its part {digest[:16]} does not match the digest recorded at publish"
                    )
                out.write(data)

    def _get(self, key: str, *, missing_ok: bool) -> bytes | None:
        try:
            body = self.client().get_object(Bucket=self.settings.bucket, Key=key)["Body"]
            data: bytes = body.read()
            return data
        except Exception as exc:
            if missing_ok and _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise RemoteCacheProblem(_describe(exc, "read"), permanent=_is_permanent(exc)) from None

    # -- writing

    def publish(self, kind: Kind, key: str, entry: Path) -> None:
        """Upload the local entry ``entry`` under ``key``: parts first, the manifest last.

        Does nothing in read mode or once the remote cache failed in this process.
        """
        if self.settings.mode != "read-write" or self._disabled is not None:
            return
        try:
            with tempfile.TemporaryDirectory(prefix="lw-remote-") as tmp:
                archive = Path(tmp) / "entry.tar.gz"
                files = pack(entry, archive)
                parts = list(self._upload_parts(archive))
            manifest = {"schema": SCHEMA, "kind": kind, "key": key, "parts": parts, "files": files}
            body = json.dumps(manifest, sort_keys=True, indent=1).encode()
            self._put(self.settings.key(kind, f"{key}.json"), body)
        except RemoteCacheProblem as exc:
            self._warn(f"publishing {kind}/{key[:16]}: {exc}", permanent=exc.permanent)
            return
        emit("remote-publish", kind=kind, key=key, parts=len(parts))

    def _upload_parts(self, archive: Path) -> Iterator[dict[str, Any]]:
        with open(archive, "rb") as fh:
            for data in iter(lambda: fh.read(PART_SIZE), b""):
                digest = hashlib.sha256(data).hexdigest()
                self._put(self.settings.key("parts", digest), data)
                yield {"sha256": digest, "size": len(data)}

    def _put(self, key: str, data: bytes) -> None:
        try:
            self.client().put_object(Bucket=self.settings.bucket, Key=key, Body=data)
        except Exception as exc:
            raise RemoteCacheProblem(
                _describe(exc, "write"), permanent=_is_permanent(exc)
            ) from None


# -- errors ------------------------------------------------------------------------------------


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(code or "")
    return ""


def _is_permanent(exc: BaseException) -> bool:
    """Failures that will not go away by the next request in this process."""
    name = type(exc).__name__
    return name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "NoRegionError",
        "ProxyConnectionError",
        "SSLError",
    ) or _code(exc) in (
        "AccessDenied",
        "403",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "NoSuchBucket",
        "ExpiredToken",
    )


def _describe(exc: BaseException, action: Literal["read", "write", "connect"]) -> str:
    """What went wrong, in words a user acts on (never credentials: botocore puts none in its
    messages, and only the class, the code and the bucket are used)."""
    code, name = _code(exc), type(exc).__name__
    permission = "s3:GetObject" if action == "read" else "s3:PutObject"
    if code in ("AccessDenied", "403"):
        extra = (
            " (and s3:ListBucket on the bucket, without which a missing key also answers 403)"
            if action == "read"
            else ""
        )
        return f"access denied: the AWS identity in use needs {permission} on the prefix{extra}"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return f"the AWS credentials were refused ({code}): refresh them (aws sso login, ...)"
    if code == "NoSuchBucket":
        return "the bucket does not exist: check the --remote-cache URL"
    if code in ("SlowDown", "503", "Throttling", "RequestLimitExceeded"):
        return f"S3 is throttling requests ({code})"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found (AWS_PROFILE, environment, SSO or an instance role)"
    if name == "NoRegionError":
        return "no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION)"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ProxyConnectionError"):
        return f"cannot reach S3 ({name}): check the network, proxy and AWS_ENDPOINT_URL_S3"
    return f"{name}{f' ({code})' if code else ''}"


#: One remote cache object per settings in a process: warnings are said once, and a remote
#: that failed for good is not asked again by the next bundle of the same synth.
_OPEN: dict[RemoteCacheSettings, RemoteCache] = {}


def remote_for(settings: RemoteCacheSettings | None, log: Log = quiet) -> RemoteCache | None:
    """The process's :class:`RemoteCache` for ``settings`` (``None`` when there are none)."""
    if settings is None:
        return None
    found = _OPEN.get(settings)
    if found is None:
        found = _OPEN[settings] = RemoteCache(settings, log=log)
    return found


__all__ = [
    "REMOTE_MODES",
    "RemoteCache",
    "RemoteCacheProblem",
    "RemoteCacheSettings",
    "pack",
    "remote_for",
    "restamp",
    "unpack",
]
