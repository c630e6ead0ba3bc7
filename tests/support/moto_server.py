"""`cdk deploy` without AWS: a moto server on localhost, a sealed environment, and the checks.

Run ``python -m tests.support.moto_server`` from the repository root (``make deploy-local``
does). It

1. starts ``python -m moto.server`` on a free port and talks to it as ``http://localhost:PORT``
   (with ``127.0.0.1`` moto's CloudFormation cannot read the template from the bucket);
2. runs ``cdk bootstrap aws://123456789012/us-east-1`` (from an empty folder: in the repository
   root the CLI would also synthesize the app, without bundling, into ``./cdk.out``: ~10 s) and
   ``cdk deploy --require-approval never --all`` of the example app (``cdk.json``), with an
   isolated ``LAMBDA_WHEELS_CACHE_DIR`` and ``--output`` under a temporary folder;
3. with boto3, reads each deployed function and layer, downloads its zip from the bootstrap
   bucket, checks that the zip is the staged asset folder file for file (sha256 of every file)
   and that Lambda's ``CodeSha256`` is that zip's, and audits it for its target with
   :func:`lambda_wheels_cdk.audit.engine.audit` (a function together with its layers' zips).

Every child runs in :func:`sealed_env`: all ``AWS_*`` variables of the caller are dropped (real
credentials, profiles, ``AWS_CA_BUNDLE``), dummy credentials and ``AWS_ENDPOINT_URL`` are set,
config files point at ``os.devnull``, instance metadata, CDK telemetry, notices and the version
check are off, and :func:`run_cdk` refuses to start a CLI whose ``AWS_ENDPOINT_URL`` is not the
local server. The moto server gets a ``DOCKER_HOST`` that leads nowhere, so it never starts a
container or pulls an image. What moto does not emulate is listed in
``tests/deploy/test_moto_deploy.py``; :func:`check_deployment` takes the architecture and the
layers from the deployed template where moto drops them (``strict=False``).

``--keep`` leaves the server running (until Ctrl-C) for ``aws --endpoint-url ...`` exploring.
Exit status: 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
#: moto's default account; the bootstrap target.
ACCOUNT = "123456789012"
REGION = "us-east-1"
#: The example app's stack (construct id = artifact id = CloudFormation name by default).
STACK = "LambdaWheelsExample"


@dataclass(frozen=True)
class Expected:
    """What the example app promises for one function."""

    runtime: str
    #: Lambda spelling: ``x86_64`` / ``arm64``.
    arch: str
    #: Construct ids of the layers, in attach order.
    layers: tuple[str, ...] = ()


#: examples/app.py, by construct id.
EXAMPLE_FUNCTIONS: Mapping[str, Expected] = {
    "Api": Expected("python3.12", "arm64", ("SharedDeps",)),
    "Signer": Expected("python3.11", "x86_64"),
}
EXAMPLE_LAYERS = ("SharedDeps",)


# -- the server -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (the server retries when it loses the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``python -m moto.server`` in a child process; always stopped by :meth:`stop` / ``with``.

    Args:
        log: file that receives the server's output (requests and moto's tracebacks).
        startup_timeout: seconds to wait for the server to answer.
    """

    def __init__(self, log: Path, *, startup_timeout: float = 60.0) -> None:
        self.log = log
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        if not self.port:
            raise RuntimeError("the moto server is not running")
        return f"http://localhost:{self.port}"

    def start(self) -> MotoServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # Lambda invocations would start containers (and pull images): make Docker unreachable.
        env["DOCKER_HOST"] = "unix:///nonexistent/lambda-wheels-no-docker.sock"
        self._log_file = self.log.open("ab")
        try:
            for _attempt in range(3):
                self.port = free_port()
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                    stdin=subprocess.DEVNULL,
                    stdout=self._log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
                )
                if self._wait_ready():
                    return self
                self._terminate()
            raise RuntimeError(f"the moto server did not start:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False  # e.g. the port was taken in between
            conn = http.client.HTTPConnection("localhost", self.port, timeout=2)
            try:
                conn.request("GET", "/moto-api/")
                if conn.getresponse().status == 200:
                    return True
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        return False

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop the server (idempotent) and close its log."""
        self._terminate()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_bytes().replace(b"\0", b"").decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- environments and the CDK CLI -----------------------------------------------------------

#: Settings every CDK CLI run gets: no calls home (telemetry, notices, version check).
CDK_QUIET = {
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


def sealed_env(
    endpoint: str, base: Mapping[str, str] | None = None, **extra: str
) -> dict[str, str]:
    """The environment for a child process that must reach the emulator and nothing of AWS.

    Drops every ``AWS_*`` and ``CDK_DEFAULT_*`` variable of ``base`` (default: this process's
    environment), then sets dummy credentials, the region, ``AWS_ENDPOINT_URL``, config and
    credential files that are empty, and puts this interpreter's ``bin`` first on ``PATH``
    (``cdk.json`` runs ``python examples/app.py``).
    """
    if not endpoint.startswith("http://localhost:"):
        raise ValueError(f"not a local endpoint: {endpoint!r}")
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(("AWS_", "CDK_DEFAULT_"))}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "localhost", "127.0.0.1"]))
    env.update(
        CDK_QUIET,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


class CdkFailed(RuntimeError):
    """A CDK CLI run exited non-zero; the message holds the command and its output's tail."""


def run_cdk(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    endpoint: str | None,
    timeout: float = 900,
    capture: bool = True,
) -> str:
    """Run ``node_modules/.bin/cdk ARGS --no-notices``; returns its output (when captured).

    Args:
        endpoint: the emulator this run must talk to; ``None`` only for the opt-in real-AWS
            test. With an endpoint, ``env`` must carry exactly that ``AWS_ENDPOINT_URL`` and no
            profile; without one, ``env`` must not carry ``AWS_ENDPOINT_URL`` at all.

    Raises:
        CdkFailed: non-zero exit, or the CLI is missing.
    """
    if endpoint is not None:
        if env.get("AWS_ENDPOINT_URL") != endpoint or not endpoint.startswith("http://localhost:"):
            raise AssertionError(f"refusing to run cdk without AWS_ENDPOINT_URL={endpoint}")
        leaked = sorted(k for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if k in env)
        if leaked or env.get("AWS_ACCESS_KEY_ID") != "testing":
            raise AssertionError(f"refusing to run cdk with real credentials ({leaked})")
    elif "AWS_ENDPOINT_URL" in env:
        raise AssertionError("a real-AWS run must not carry AWS_ENDPOINT_URL")
    if not CDK.exists():
        raise CdkFailed(f"{CDK} is missing: run `npm ci` (make setup does)")
    command = [str(CDK), *args, "--no-notices"]
    # its own process group: on a timeout, Ctrl-C or a test failure the CLI *and* the app it
    # runs (python examples/app.py, jsii's node) are stopped, not left to finish on their own
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except BaseException:
            _stop_group(proc)
            raise
    output = output or ""
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-60:])
        raise CdkFailed(f"`cdk {' '.join(args)}` exited {proc.returncode} in {cwd}:\n{tail}")
    return output


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the process group we started for ``proc``, SIGKILL to what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def bootstrap(endpoint: str, env: Mapping[str, str], empty_dir: Path) -> str:
    """``cdk bootstrap aws://ACCOUNT/REGION`` from a folder without ``cdk.json`` (no synth)."""
    empty_dir.mkdir(parents=True, exist_ok=True)
    return run_cdk(
        ["bootstrap", f"aws://{ACCOUNT}/{REGION}"], cwd=empty_dir, env=env, endpoint=endpoint
    )


def deploy(
    endpoint: str,
    env: Mapping[str, str],
    outdir: Path,
    *,
    app_dir: Path = ROOT,
    update: bool = False,
    capture: bool = True,
) -> str:
    """``cdk deploy --require-approval never --all`` of the app in ``app_dir`` (its cdk.json).

    ``update=True`` adds ``--method=direct --no-previous-parameters``: moto fails an update
    through a change set and one that reuses the previous ``BootstrapVersion`` parameter.
    """
    args = ["deploy", "--require-approval", "never", "--all", "--output", str(outdir)]
    if update:
        args += ["--method=direct", "--no-previous-parameters"]
    return run_cdk(args, cwd=app_dir, env=env, endpoint=endpoint, capture=capture)


# -- boto3 ----------------------------------------------------------------------------------


class Aws:
    """boto3 clients for one account and region (moto's or a real one), closed together."""

    def __init__(self, *, endpoint: str | None, region: str, session: Any = None) -> None:
        import boto3

        if session is None:
            if endpoint is None:
                raise ValueError("a session is required for real AWS")
            session = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
            )
        self.endpoint = endpoint
        self.region = region
        self._session = session
        self._clients: dict[tuple[str, int | None], Any] = {}

    def client(self, service: str, *, attempts: int | None = None) -> Any:
        """A cached client; ``attempts`` caps botocore's retries (moto answers 500 to what it
        has not implemented, and retrying that only costs time)."""
        key = (service, attempts)
        if key not in self._clients:
            from botocore.config import Config

            config = Config(retries={"max_attempts": attempts}) if attempts else None
            self._clients[key] = self._session.client(
                service, region_name=self.region, endpoint_url=self.endpoint, config=config
            )
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Aws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- what was synthesized -------------------------------------------------------------------


@dataclass(frozen=True)
class StackArtifact:
    """One stack of a cloud assembly (``cdk.out``)."""

    outdir: Path
    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    #: asset hash -> its entry in ``<artifact>.assets.json``.
    assets: dict[str, Any]


def stack_artifacts(outdir: Path) -> list[StackArtifact]:
    """The stacks of a cloud assembly, with their templates and asset manifests."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = []
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((outdir / props["templateFile"]).read_text())
        assets_file = outdir / f"{artifact_id}.assets.json"
        assets = json.loads(assets_file.read_text())["files"] if assets_file.exists() else {}
        stacks.append(
            StackArtifact(
                outdir, artifact_id, props.get("stackName", artifact_id), template, assets
            )
        )
    return stacks


def stack_artifact(outdir: Path, artifact_id: str = STACK) -> StackArtifact:
    for stack in stack_artifacts(outdir):
        if stack.artifact_id == artifact_id:
            return stack
    raise LookupError(f"{outdir} holds no stack {artifact_id!r}")


# -- what was deployed ----------------------------------------------------------------------


@dataclass
class Deployed:
    """One function or layer: what the template says, what the service reports, the zip."""

    construct: str
    kind: str  # "function" | "layer"
    logical_id: str
    physical_id: str
    #: The staged asset folder (``cdk.out/asset.<hash>``).
    asset_dir: Path
    s3_key: str
    zip_path: Path
    #: Function: the service's configuration; layer: ``GetLayerVersion``.
    service: dict[str, Any]
    runtime: str = ""
    arch: str = ""
    layers: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    audit: str = ""


@dataclass
class DeploymentReport:
    """Every deployed function and layer, what was checked, and every problem found."""

    items: dict[str, Deployed] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: What the service does not report and was taken from the template instead.
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for item in self.items.values():
            size = item.zip_path.stat().st_size / 1e6 if item.zip_path.exists() else 0.0
            if item.kind == "function":
                layers = ", ".join(item.layers) or "no layers"
                what = f"{item.runtime}/{item.arch} {item.service.get('Handler')} + {layers}"
            else:
                what = f"layer for {', '.join(item.runtimes)}/{item.arch}"
            out.append(f"{item.construct}: {what}; {size:.1f} MB = {item.asset_dir.name}")
            out += [f"    {line}" for line in item.audit.splitlines()]
        out += [f"note: {note}" for note in self.notes]
        out += [f"PROBLEM: {problem}" for problem in self.problems]
        return out


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _download(aws: Aws, bucket: str, key: str, dest: Path) -> bytes:
    response = aws.client("s3").get_object(Bucket=bucket, Key=key)
    with contextlib.closing(response["Body"]) as body:
        data: bytes = body.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return data


def _asset_destination(stack: StackArtifact, asset_hash: str, account: str, region: str) -> Any:
    entry = stack.assets[asset_hash]
    (destination,) = entry["destinations"].values()
    bucket = destination["bucketName"]
    for name, value in (("${AWS::AccountId}", account), ("${AWS::Region}", region)):
        bucket = bucket.replace(name, value)
    return bucket, destination["objectKey"]


def compare_zip_to_folder(zip_path: Path, folder: Path) -> list[str]:
    """Differences between a zip and a folder: file list, content (sha256), executable bit."""
    problems = []
    on_disk: dict[str, Path] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            on_disk[path.relative_to(folder).as_posix()] = path
    with zipfile.ZipFile(zip_path) as zf:
        members = {info.filename: info for info in zf.infolist() if not info.is_dir()}
        missing = sorted(set(on_disk) - set(members))
        extra = sorted(set(members) - set(on_disk))
        if missing:
            problems.append(f"{zip_path.name}: {len(missing)} staged files missing: {missing[:5]}")
        if extra:
            problems.append(f"{zip_path.name}: {len(extra)} files not in the asset: {extra[:5]}")
        for name in sorted(set(members) & set(on_disk)):
            local = on_disk[name]
            if (
                hashlib.sha256(zf.read(name)).digest()
                != hashlib.sha256(local.read_bytes()).digest()
            ):
                problems.append(f"{zip_path.name}: {name} differs from {local}")
            zip_exec = bool((members[name].external_attr >> 16) & 0o100)
            if zip_exec != bool(local.stat().st_mode & 0o100):
                problems.append(f"{zip_path.name}: {name} executable bit differs")
    if not on_disk:
        problems.append(f"{folder} is empty")
    return problems


def _resource_ids(aws: Aws, stack_name: str) -> dict[str, str]:
    cfn = aws.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in resources
        if "LogicalResourceId" in r  # moto also lists the stack itself, without one
    }


def _find_layer_version(aws: Aws, stack_name: str, logical_id: str, physical: str) -> str:
    """The layer version ARN; moto leaves a layer's PhysicalResourceId empty and names the layer
    ``<stack>-<logical id>-<suffix>``."""
    if physical.startswith("arn:"):
        return physical
    lam = aws.client("lambda")
    prefix = f"{stack_name}-{logical_id}-"
    for layer in lam.list_layers()["Layers"]:
        if layer["LayerName"].startswith(prefix):
            arn: str = layer["LatestMatchingVersion"]["LayerVersionArn"]
            return arn
    raise LookupError(f"no deployed layer named {prefix}*")


def _layer_version(aws: Aws, arn: str) -> dict[str, Any]:
    # GetLayerVersionByArn is not implemented by moto: split the ARN instead
    name, version = arn.rsplit(":", 1)
    response = aws.client("lambda").get_layer_version(
        LayerName=name.rsplit(":", 1)[1], VersionNumber=int(version)
    )
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def check_deployment(
    aws: Aws,
    stack: StackArtifact,
    downloads: Path,
    *,
    account: str = ACCOUNT,
    stack_name: str | None = None,
    strict: bool = True,
    expected: Mapping[str, Expected] = EXAMPLE_FUNCTIONS,
    expected_layers: Sequence[str] = EXAMPLE_LAYERS,
) -> DeploymentReport:
    """Check a deployed stack against its cloud assembly; gathers every problem.

    For every ``AWS::Lambda::Function`` / ``LayerVersion`` of the template: the deployed template
    equals the synthesized one; the zip in the bootstrap bucket (key from the template, equal to
    the asset manifest's) is the staged asset folder file for file; the service's
    ``CodeSha256`` is that zip's; runtime, handler, architecture and layers match the template
    and ``expected``; every function zip audits clean (with its layers' zips) for its target,
    every layer zip for each of its runtimes.

    Args:
        strict: the service must report ``Architectures``, ``Layers`` and a layer's
            ``CompatibleArchitectures`` as the template says (real AWS). ``False`` (moto) takes
            them from the template when the service reports moto's defaults, with a note.
    """
    from lambda_wheels_cdk.audit.engine import audit
    from lambda_wheels_cdk.target.target import Target

    report = DeploymentReport()
    problems = report.problems
    name = stack_name or stack.stack_name
    cfn, lam = aws.client("cloudformation"), aws.client("lambda")

    body = cfn.get_template(StackName=name)["TemplateBody"]
    deployed_template = json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))
    if deployed_template != stack.template:
        problems.append(f"the deployed template of {name} is not {stack.artifact_id}'s in cdk.out")
    physical_ids = _resource_ids(aws, name)
    by_logical: dict[str, str] = {}

    for logical_id, resource in stack.template["Resources"].items():
        rtype = resource["Type"]
        if rtype not in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            continue
        meta, props = resource.get("Metadata", {}), resource["Properties"]
        construct = meta.get("aws:cdk:path", logical_id).split("/")[1]
        by_logical[logical_id] = construct
        kind = "function" if rtype == "AWS::Lambda::Function" else "layer"
        code = props["Code"] if kind == "function" else props["Content"]
        asset_dir = stack.outdir / meta["aws:asset:path"]
        asset_hash = meta["aws:asset:path"].removeprefix("asset.")
        bucket, key = _asset_destination(stack, asset_hash, account, aws.region)
        if code.get("S3Key") != key:
            problems.append(f"{construct}: template S3Key {code.get('S3Key')} != asset {key}")
        zip_path = downloads / f"{construct}.zip"
        data = _download(aws, bucket, key, zip_path)
        problems += [f"{construct}: {p}" for p in compare_zip_to_folder(zip_path, asset_dir)]
        physical = physical_ids.get(logical_id, "")
        if kind == "function":
            service = lam.get_function_configuration(FunctionName=physical)
            service.pop("ResponseMetadata", None)
            sha = service.get("CodeSha256")
        else:
            arn = _find_layer_version(aws, name, logical_id, physical)
            service = _layer_version(aws, arn)
            physical = arn
            sha = service["Content"].get("CodeSha256")
        if sha != _b64_sha256(data):
            problems.append(f"{construct}: the service's CodeSha256 is not the bucket's zip")
        report.items[construct] = Deployed(
            construct, kind, logical_id, physical, asset_dir, key, zip_path, service
        )

    for item in report.items.values():
        props = stack.template["Resources"][item.logical_id]["Properties"]
        if item.kind == "function":
            _check_function(item, props, by_logical, report, strict, expected)
        else:
            _check_layer(item, props, report, strict)

    found = {i.construct for i in report.items.values() if i.kind == "function"}
    if found != set(expected):
        problems.append(f"functions deployed: {sorted(found)}, expected {sorted(expected)}")
    layers = {i.construct for i in report.items.values() if i.kind == "layer"}
    if layers != set(expected_layers):
        problems.append(f"layers deployed: {sorted(layers)}, expected {sorted(expected_layers)}")

    for item in report.items.values():
        if item.kind == "function":
            target = Target.for_runtime(item.runtime, item.arch)
            zips = [report.items[c].zip_path for c in item.layers if c in report.items]
            result = audit(item.zip_path, target, layers=zips)
            item.audit = result.summary()
            problems += [f"{item.construct}: {f.path}: {f.reason}" for f in result.errors]
        else:
            summaries = []
            for runtime in item.runtimes:
                result = audit(item.zip_path, Target.for_runtime(runtime, item.arch), kind="layer")
                summaries.append(result.summary())
                problems += [f"{item.construct}: {f.path}: {f.reason}" for f in result.errors]
            item.audit = "\n".join(summaries)
    return report


def _check_function(
    item: Deployed,
    props: Mapping[str, Any],
    by_logical: Mapping[str, str],
    report: DeploymentReport,
    strict: bool,
    expected: Mapping[str, Expected],
) -> None:
    service, problems, c = item.service, report.problems, item.construct
    for key in ("Runtime", "Handler"):
        if service.get(key) != props.get(key):
            problems.append(f"{c}: {key} {service.get(key)!r}, template {props.get(key)!r}")
    arches = props.get("Architectures", ["x86_64"])
    layer_refs = [ref["Ref"] for ref in props.get("Layers", [])]
    layers = tuple(by_logical.get(ref, ref) for ref in layer_refs)
    item.runtime, item.arch, item.layers = props["Runtime"], arches[0], layers

    reported_arches = service.get("Architectures", ["x86_64"])
    if reported_arches != arches:
        if strict or reported_arches != ["x86_64"]:
            problems.append(f"{c}: Architectures {reported_arches}, template {arches}")
        else:
            report.notes.append(f"{c}: the service reports {reported_arches}; template {arches}")
    reported_layers = [layer["Arn"] for layer in service.get("Layers", [])]
    if len(reported_layers) != len(layers):
        if strict or reported_layers:
            problems.append(f"{c}: layers {reported_layers}, template {list(layers)}")
        else:
            report.notes.append(f"{c}: the service reports no layers; template {list(layers)}")
    else:
        for construct, arn in zip(layers, reported_layers):
            layer = report.items.get(construct)
            if layer is not None and arn != layer.physical_id:
                problems.append(f"{c}: layer {arn}, expected {construct} {layer.physical_id}")

    want = expected.get(c)
    if want is not None and (item.runtime, item.arch, item.layers) != (
        want.runtime,
        want.arch,
        want.layers,
    ):
        problems.append(
            f"{c}: deployed as {item.runtime}/{item.arch} with layers {list(item.layers)}; the "
            f"example app says {want.runtime}/{want.arch} with {list(want.layers)}"
        )


def _check_layer(
    item: Deployed, props: Mapping[str, Any], report: DeploymentReport, strict: bool
) -> None:
    service, problems, c = item.service, report.problems, item.construct
    runtimes = tuple(props.get("CompatibleRuntimes", ()))
    arches = props.get("CompatibleArchitectures", ["x86_64"])
    item.runtimes, item.arch = runtimes, arches[0]
    if tuple(service.get("CompatibleRuntimes", ())) != runtimes:
        problems.append(f"{c}: CompatibleRuntimes {service.get('CompatibleRuntimes')}")
    reported = service.get("CompatibleArchitectures")
    if reported != props.get("CompatibleArchitectures"):
        if strict or reported:
            problems.append(f"{c}: CompatibleArchitectures {reported}, template {arches}")
        else:
            report.notes.append(f"{c}: the service reports no CompatibleArchitectures; {arches}")


# -- make deploy-local ----------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[deploy-local] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the server until Ctrl-C")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lambda-wheels-deploy-local-"))
    started = time.monotonic()
    try:
        with MotoServer(work / "moto.log") as server:
            endpoint = server.endpoint
            env = sealed_env(endpoint, LAMBDA_WHEELS_CACHE_DIR=str(work / "cache"))
            # this process's boto3 gets the same sealed settings
            for key in [k for k in os.environ if k.startswith("AWS_")]:
                del os.environ[key]
            os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
            _say(f"moto server at {endpoint} (log {server.log}); work folder {work}")
            try:
                bootstrap(endpoint, env, work / "bootstrap")
                _say(f"bootstrapped aws://{ACCOUNT}/{REGION} ({time.monotonic() - started:.0f} s)")
                outdir = work / "cdk.out"
                deploy(endpoint, env, outdir, capture=False)
                _say(f"deployed {STACK} ({time.monotonic() - started:.0f} s)")
                with Aws(endpoint=endpoint, region=REGION) as aws:
                    report = check_deployment(
                        aws, stack_artifact(outdir), work / "downloads", strict=False
                    )
            except CdkFailed as exc:
                _say(f"{exc}\nmoto log ({server.log}):\n{server.log_tail()}")
                return 1
            for line in report.lines():
                print(line)
            took = time.monotonic() - started
            if report.problems:
                _say(f"FAILED: {len(report.problems)} problems ({took:.0f} s)")
            else:
                _say(f"OK: the deployed zips are the staged assets and audit clean ({took:.0f} s)")
            if args.keep:
                _say(
                    f"the server keeps running; Ctrl-C stops it (the work folder stays). Try:\n"
                    f"  AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing "
                    f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={REGION} "
                    "aws lambda list-functions"
                )
                with contextlib.suppress(KeyboardInterrupt):
                    signal.pause()
            return 1 if report.problems else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
