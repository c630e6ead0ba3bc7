"""The S3 remote cache against a real S3 API: moto in server mode on localhost, reached through
``AWS_ENDPOINT_URL_S3`` by the real ``lambda-wheels`` CLI in child processes (no boto3 mock).

Each "machine" is its own bundle cache, uv cache and events file; packages come from the local
fixture index, so nothing leaves this host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.conftest import Packages, files_containing, tree_digest
from tests.support.index_server import IndexServer
from tests.support.moto_server import MotoServer, free_port

boto3 = pytest.importorskip("boto3")

BUCKET = "lw-remote-cache"
PREFIX = "team/ci"
#: The secret access key every machine uses: it must appear in no output, log or cache file.
SECRET = "lwS3cr3tAcc3ssK3y-7f1c9e-NEVER-PRINTED"
KEY_ID = "AKIALWREMOTETEST0001"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def s3(moto: MotoServer) -> Iterator[object]:
    client = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def index(packages: Packages) -> Iterator[IndexServer]:
    with IndexServer(packages.folder.iterdir()) as server:
        yield server


@dataclass
class Machine:
    """One CI runner: its own caches, events and output folders."""

    root: Path
    endpoint: str

    def env(self, **extra: str) -> dict[str, str]:
        import os

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "PIP_", "UV_", "LAMBDA_WHEELS_"))
        }
        env.update(
            AWS_ENDPOINT_URL_S3=self.endpoint,
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            LAMBDA_WHEELS_CACHE_DIR=str(self.root / "cache"),
            LAMBDA_WHEELS_EVENTS=str(self.root / "events.jsonl"),
            UV_CACHE_DIR=str(self.root / "uv-cache"),
        )
        env.update(extra)
        return env

    def command(self, index: IndexServer, out: str, *args: str) -> list[str]:
        """``lambda-wheels build`` of ``args`` for python3.12/x86_64 into ``out``."""
        build = [sys.executable, "-m", "lambda_wheels_cdk", "build", "-o", str(self.root / out)]
        target = ["--runtime", "python3.12", "--arch", "x86_64", "--index-url", index.url]
        return [*build, *target, *args]

    def build(
        self, index: IndexServer, out: str, *args: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """A build with ``--remote-cache`` (a child process, as in CI)."""
        argv = self.command(index, out, "--remote-cache", f"s3://{BUCKET}/{PREFIX}", *args)
        return subprocess.run(
            argv, env=self.env(**env), capture_output=True, text=True, timeout=300
        )

    def events(self, kind: str) -> list[dict[str, object]]:
        path = self.root / "events.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [r for r in rows if r["event"] == kind]


@pytest.fixture
def machines(tmp_path: Path, moto: MotoServer) -> Iterator[list[Machine]]:
    made: list[Machine] = []

    def make(name: str) -> Machine:
        m = Machine(tmp_path / name, moto.endpoint)
        m.root.mkdir()
        made.append(m)
        return m

    yield make  # type: ignore[misc]


def _objects(s3: object) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))  # type: ignore[attr-defined]


def test_published_on_one_machine_fetched_on_another_with_no_install(
    machines, s3, index: IndexServer
) -> None:
    a, b = machines("a"), machines("b")
    first = a.build(index, "out", "lw-app", "six")
    assert first.returncode == 0, first.stderr
    assert len(a.events("install-start")) == 1
    assert [e["kind"] for e in a.events("remote-publish")] == ["deps", "pyc"]
    keys = _objects(s3)
    assert any(k.startswith(f"{PREFIX}/v1/deps/") for k in keys)
    assert any(k.startswith(f"{PREFIX}/v1/parts/") for k in keys)

    second = b.build(index, "out", "lw-app", "six")
    assert second.returncode == 0, second.stderr
    assert b.events("install-start") == []
    assert b.events("bytecode-compile") == []
    assert [e["kind"] for e in b.events("remote-hit")] == ["deps", "pyc"]
    assert tree_digest(a.root / "out") == tree_digest(b.root / "out")
    assert list((b.root / "out").rglob("*.cpython-312.pyc"))

    # a third build on b is a plain local hit
    third = b.build(index, "again", "lw-app", "six")
    assert third.returncode == 0, third.stderr
    assert len(b.events("remote-hit")) == 2 and b.events("install-start") == []

    for m in (a, b):
        for text in (first.stdout + first.stderr, second.stdout + second.stderr):
            assert SECRET not in text
        assert files_containing(m.root, [SECRET.encode()]) == []


@pytest.mark.parametrize("damage", ["tamper", "delete"])
def test_a_damaged_part_is_a_miss_and_is_never_served(
    damage: str, machines, s3, index: IndexServer
) -> None:
    a, c = machines("a"), machines("c")
    assert a.build(index, "out", "lw-app").returncode == 0
    parts = [k for k in _objects(s3) if "/v1/parts/" in k]
    assert parts
    for part in parts:
        if damage == "tamper":
            body = s3.get_object(Bucket=BUCKET, Key=part)["Body"].read()
            evil = body[:-16] + b"LW-TAMPERED-BYTE"
            s3.put_object(Bucket=BUCKET, Key=part, Body=evil)
        else:
            s3.delete_object(Bucket=BUCKET, Key=part)
    result = c.build(index, "out", "lw-app")
    assert result.returncode == 0, result.stderr
    assert "warning: remote cache s3://" in result.stderr
    assert "digest" in result.stderr if damage == "tamper" else "missing" in result.stderr
    assert len(c.events("install-start")) == 1  # built locally instead
    assert c.events("remote-hit") == []
    assert tree_digest(a.root / "out") == tree_digest(c.root / "out")
    assert files_containing(c.root, [b"LW-TAMPERED-BYTE"]) == []


def test_two_concurrent_publishers_leave_a_valid_entry(machines, s3, index: IndexServer) -> None:
    a, b, c = machines("a"), machines("b"), machines("c")
    remote = ["--remote-cache", f"s3://{BUCKET}/{PREFIX}", "lw-app", "six"]
    procs = [
        subprocess.Popen(
            m.command(index, "out", *remote),
            env=m.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in (a, b)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "warning:" not in err
    fetched = c.build(index, "out", "lw-app", "six")
    assert fetched.returncode == 0, fetched.stderr
    assert c.events("install-start") == []
    assert tree_digest(a.root / "out") == tree_digest(c.root / "out")


def test_an_unreachable_endpoint_warns_once_and_builds(machines, index: IndexServer) -> None:
    a = machines("a")
    closed = f"http://127.0.0.1:{free_port()}"
    result = a.build(index, "out", "lw-app", AWS_ENDPOINT_URL_S3=closed)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "remote cache" in line]
    assert len(warnings) == 1, result.stderr
    assert "cannot reach S3" in warnings[0] and "AWS_ENDPOINT_URL_S3" in warnings[0]
    assert len(a.events("install-start")) == 1


def test_read_only_mode_fetches_but_never_publishes(machines, s3, index: IndexServer) -> None:
    a, b = machines("a"), machines("b")
    assert a.build(index, "out", "lw-app").returncode == 0
    before = _objects(s3)
    fetched = b.build(index, "out", "lw-app", "--remote-cache-mode", "read")
    assert fetched.returncode == 0 and b.events("install-start") == []
    fresh = b.build(index, "other", "six", "--remote-cache-mode", "read")
    assert fresh.returncode == 0 and len(b.events("install-start")) == 1
    assert b.events("remote-publish") == []
    assert _objects(s3) == before


def test_the_environment_variable_turns_it_on(machines, s3, index: IndexServer) -> None:
    a = machines("a")
    argv = a.command(index, "out", "six")
    env = a.env(LAMBDA_WHEELS_REMOTE_CACHE=f"s3://{BUCKET}/{PREFIX}")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert a.events("remote-publish")


_APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from lambda_wheels_cdk import PythonWheelFunction, WheelBundlingOptions

app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Remote")
PythonWheelFunction(
    stack, "Fn", entry=sys.argv[2], runtime=lambda_.Runtime.PYTHON_3_12,
    dependencies=["lw-app"],
    bundling=WheelBundlingOptions(index_url=sys.argv[3], remote_cache=sys.argv[4]),
)
app.synth()
"""


@pytest.mark.cdk
def test_the_constructs_option_shares_installs_between_machines(
    machines, s3, index: IndexServer, tmp_path: Path
) -> None:
    entry = tmp_path / "src"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    script = tmp_path / "app.py"
    script.write_text(_APP)
    outs = []
    for m in (machines("a"), machines("b")):
        out = m.root / "cdk.out"
        argv = [sys.executable, str(script), str(out), str(entry), index.url]
        proc = subprocess.run(
            [*argv, f"s3://{BUCKET}/{PREFIX}"], env=m.env(), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append((m, out))
    (a, _), (b, _) = outs
    assert len(a.events("install-start")) == 1 and a.events("remote-publish")
    assert b.events("install-start") == [] and b.events("remote-hit")
    assets = [sorted(p for p in out.glob("asset.*") if p.is_dir()) for _, out in outs]
    assert [p.name for p in assets[0]] == [p.name for p in assets[1]]
    assert tree_digest(assets[0][0]) == tree_digest(assets[1][0])
