"""`cdk deploy` of the example app to moto, then the deployed zips are downloaded and audited.

No AWS account and no Docker: a moto server on ``http://localhost:PORT`` (a free port) stands in
for AWS. ``cdk bootstrap aws://123456789012/us-east-1`` (from an empty folder, so the CLI does
not synthesize the app into the repository's ``cdk.out`` first), then ``cdk deploy
--require-approval never --all`` from the repository root (``cdk.json``), with an isolated
``LAMBDA_WHEELS_CACHE_DIR`` and ``--output``. Then boto3 reads every function and layer,
downloads its zip from the bootstrap bucket and checks that it is the staged asset folder file
for file, that Lambda's ``CodeSha256`` is that zip's, and that it audits clean for its target
(Api: python3.12/arm64 with the SharedDeps layer; Signer: python3.11/x86_64; SharedDeps for
python3.12 and python3.13 on arm64). ``make deploy-local`` does the same from a terminal.

Safety: every CDK child runs in ``sealed_env`` (no ``AWS_*`` of the caller, dummy credentials,
``AWS_ENDPOINT_URL`` set and asserted before each start, config files ``os.devnull``, no
instance metadata, CDK telemetry, notices or version check); this process's ``AWS_*`` are
replaced the same way while the module runs; the moto server gets a ``DOCKER_HOST`` that leads
nowhere. The server is stopped at module teardown, also after a failure.

What moto (5.2.5, with CDK CLI 2.1148.1) does not do, each seen here and asserted by
:func:`test_moto_limits` and :func:`test_update_needs_direct_method` (when one of those asserts
fails, moto improved: update this list and the README; once Lambda keeps ``Architectures`` and
``Layers``, check with ``strict=True``):

* ``http://localhost:PORT``, not ``127.0.0.1``: with ``127.0.0.1`` the assets upload (path
  style) but ``CreateChangeSet`` fails with "The specified bucket does not exist": moto's
  CloudFormation reads the template's bucket from the host name of the ``TemplateURL``.

* ``AWS::Lambda::Function`` from CloudFormation keeps Code, Handler, Role, Runtime, MemorySize,
  Timeout, Environment (and a few more) but drops ``Architectures`` (the arm64 Api reports
  ``["x86_64"]``) and ``Layers`` (it reports none). The architecture and the layers are read
  from the deployed template (equal to ``cdk.out``'s) instead.
* ``AWS::Lambda::LayerVersion`` drops ``CompatibleArchitectures``; the stack resource has no
  ``PhysicalResourceId`` (the layer is named ``<stack>-<logical id>-<suffix>``);
  ``GetLayerVersionByArn`` answers 500 (not implemented); ``Content.Location`` is ``s3://``.
* ``GetFunction``'s ``Code.Location`` is a URL on the real ``awslambda-us-east-1-tasks`` bucket
  at amazonaws.com: never fetched. The zips come from the bootstrap bucket under the template's
  ``S3Key`` (equal to the asset manifest's); ``CodeSha256``, computed by moto from that object
  when the function was created, ties the function to it.
* Updating a stack: the default change-set method fails. The CLI deletes its previous
  ``cdk-deploy-change-set`` and waits for ``DescribeChangeSet`` to say ``ChangeSetNotFound``;
  moto answers a ``ValidationError`` ("Stack with id cdk-deploy-change-set does not exist"), or,
  when that change set is gone already, fails ``DeleteChangeSet`` with a 500
  (``UnboundLocalError`` in moto's ``delete_change_set``). ``--method=direct`` alone fails:
  the CLI sends ``UsePreviousValue`` for the ``BootstrapVersion`` parameter, moto answers 500
  (``KeyError``) and the CLI retries that for ~45 s (checked here with one boto3 call instead).
  ``--method=direct --no-previous-parameters`` works. Creating a stack through a change set
  works. After a code update moto keeps ``LastModified`` at the creation time.
* ``Invoke`` without Docker runs nothing: status 200, ``FunctionError: Handled``, payload
  ``error running docker: ...``. Imports of the deployed bundles are proven by the smoke tests
  (``tests/e2e``) and, on real Lambda, by ``test_real_aws.py``.

Timings here (2 cores; whole module ~35 s, ~41 s with uv's download cache empty): server start
~1 s, bootstrap ~3.5 s, deploy ~15 s (the app's synth, bundle cache cold, is most of it),
checks ~1.5 s, the update test ~12 s. ``test_update_needs_direct_method`` runs last (pytest keeps
file order): it changes the deployed Signer.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from tests.deploy.conftest import SUMMARY, LocalAws
from tests.support.moto_server import (
    ROOT,
    STACK,
    Aws,
    CdkFailed,
    DeploymentReport,
    bootstrap,
    check_deployment,
    deploy,
    run_cdk,
    stack_artifact,
)

pytestmark = [pytest.mark.cdk, pytest.mark.e2e, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Deployment:
    outdir: Path
    report: DeploymentReport


def _log_since(log: Path, offset: int, *, wait_for: str = "", timeout: float = 10) -> str:
    """The server's log from ``offset``; waits until ``wait_for`` appears (a traceback is
    written after the request's log line)."""
    deadline = time.monotonic() + timeout
    while True:
        with log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        if wait_for in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def _fail(local: LocalAws, exc: Exception) -> NoReturn:
    pytest.fail(f"{exc}\n--- moto log ({local.server.log}):\n{local.server.log_tail()}")


@pytest.fixture(scope="module")
def aws(local_aws: LocalAws) -> Iterator[Aws]:
    with Aws(endpoint=local_aws.endpoint, region="us-east-1") as clients:
        yield clients


@pytest.fixture(scope="module")
def deployed(local_aws: LocalAws, aws: Aws) -> Deployment:
    outdir = local_aws.work / "cdk.out"
    started = time.monotonic()
    try:
        bootstrap(local_aws.endpoint, local_aws.env, local_aws.work / "bootstrap")
        booted = time.monotonic()
        deploy(local_aws.endpoint, local_aws.env, outdir)
    except CdkFailed as exc:
        _fail(local_aws, exc)
    done = time.monotonic()
    report = check_deployment(
        aws, stack_artifact(outdir), local_aws.work / "downloads", strict=False
    )
    checked = time.monotonic()
    SUMMARY.append(
        f"bootstrap {booted - started:.1f} s, deploy {done - booted:.1f} s, "
        f"checks {checked - done:.1f} s"
    )
    SUMMARY.extend(report.lines())
    return Deployment(outdir, report)


def test_deployed_zips_are_the_audited_assets(deployed: Deployment) -> None:
    report = deployed.report
    assert report.problems == [], "\n".join(report.lines())
    items = report.items
    assert sorted(items) == ["Api", "SharedDeps", "Signer"]
    api, signer, layer = items["Api"], items["Signer"], items["SharedDeps"]
    assert (api.runtime, api.arch, api.layers) == ("python3.12", "arm64", ("SharedDeps",))
    assert (signer.runtime, signer.arch, signer.layers) == ("python3.11", "x86_64", ())
    assert (layer.runtimes, layer.arch) == (("python3.12", "python3.13"), "arm64")
    assert api.service["Handler"] == "app.handler"
    assert signer.service["Handler"] == "index.handler"
    assert (api.service["MemorySize"], api.service["Timeout"]) == (512, 10)
    assert "audit python3.12/arm64: 0 errors" in api.audit
    assert "audit python3.11/x86_64: 0 errors" in signer.audit
    assert "audit python3.13/arm64: 0 errors" in layer.audit
    # every asset went to the bootstrap bucket under its content hash
    for item in items.values():
        assert item.s3_key == item.asset_dir.name.removeprefix("asset.") + ".zip"


def test_moto_limits(deployed: Deployment, aws: Aws) -> None:
    """The limits listed in the module docstring, as seen on this deployment."""
    items = deployed.report.items
    api, layer, signer = items["Api"], items["SharedDeps"], items["Signer"]
    stale = "moto changed: update the module docstring and the README"
    # Architectures and Layers from CloudFormation are dropped
    assert api.service.get("Architectures") == ["x86_64"], stale
    assert api.service.get("Layers", []) == [], stale
    assert "CompatibleArchitectures" not in layer.service, stale
    assert sorted(deployed.report.notes) == [
        "Api: the service reports ['x86_64']; template ['arm64']",
        "Api: the service reports no layers; template ['SharedDeps']",
        "SharedDeps: the service reports no CompatibleArchitectures; ['arm64']",
    ]
    # the layer's stack resource has no physical id; GetLayerVersionByArn is not implemented
    cfn = aws.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=STACK, LogicalResourceId=layer.logical_id)
    assert "PhysicalResourceId" not in resources["StackResources"][0], stale
    assert layer.service["Content"]["Location"] == "s3://", stale
    with pytest.raises(ClientError) as excinfo:
        aws.client("lambda", attempts=1).get_layer_version_by_arn(Arn=layer.physical_id)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500, stale
    # Code.Location points at a real AWS bucket (never fetched here)
    location = aws.client("lambda").get_function(FunctionName=signer.physical_id)["Code"]
    url = urlparse(location["Location"])
    assert url.hostname == "awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com", stale
    assert url.path == f"/{signer.s3_key}"
    # Invoke needs Docker (the server's DOCKER_HOST leads nowhere)
    response = aws.client("lambda").invoke(FunctionName=signer.physical_id, Payload=b"{}")
    with contextlib.closing(response["Payload"]) as stream:
        payload = stream.read().decode()
    assert (response["StatusCode"], response.get("FunctionError")) == (200, "Handled"), stale
    assert payload.startswith("error running docker"), (stale, payload)


def test_update_needs_direct_method(
    deployed: Deployment, local_aws: LocalAws, aws: Aws, tmp_path: Path
) -> None:
    """A changed handler is deployed as an update: only with ``--method=direct
    --no-previous-parameters``. Runs last: it changes the deployed Signer."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copytree(
        ROOT / "examples", checkout / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "cdk.json", checkout / "cdk.json")
    with (checkout / "examples" / "services" / "signer" / "index.py").open("a") as fh:
        fh.write("\n# changed by test_update_needs_direct_method\n")
    outdir = tmp_path / "cdk.out"
    env = local_aws.env
    try:
        run_cdk(
            ["synth", "--quiet", "--output", str(outdir)],
            cwd=checkout,
            env=env,
            endpoint=local_aws.endpoint,
        )
    except CdkFailed as exc:
        _fail(local_aws, exc)
    app = ["--app", str(outdir), "--require-approval", "never", "--all"]
    log = local_aws.server.log
    # The CLI deletes its old change set, then waits for DescribeChangeSet to say
    # ChangeSetNotFound; moto answers a ValidationError (or, when that change set is gone
    # already, fails DeleteChangeSet with a 500: UnboundLocalError).
    before = log.stat().st_size
    with pytest.raises(CdkFailed) as failed:
        run_cdk(["deploy", *app], cwd=tmp_path, env=env, endpoint=local_aws.endpoint)
    seen = str(failed.value) + _log_since(log, before)
    assert "Stack with id cdk-deploy-change-set does not exist" in seen or (
        "UnboundLocalError" in seen
    ), f"moto changed: update the module docstring\n{seen}"
    # `--method=direct` alone sends UpdateStack with UsePreviousValue for BootstrapVersion,
    # which moto fails with a 500 (KeyError). Made here with boto3: the CLI would retry the 500
    # for ~45 s (7 attempts, not configurable).
    template = (outdir / f"{STACK}.template.json").read_text()
    before = log.stat().st_size
    with pytest.raises((ClientError, ResponseParserError)):  # moto's HTML 500 page
        aws.client("cloudformation", attempts=1).update_stack(
            StackName=STACK,
            TemplateBody=template,
            Parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
    key_error = "KeyError: 'BootstrapVersion'"
    assert key_error in _log_since(log, before, wait_for=key_error), "moto changed: update docs"
    try:
        run_cdk(
            ["deploy", *app, "--method=direct", "--no-previous-parameters"],
            cwd=tmp_path,
            env=env,
            endpoint=local_aws.endpoint,
        )
    except CdkFailed as exc:
        _fail(local_aws, exc)

    report = check_deployment(aws, stack_artifact(outdir), tmp_path / "downloads", strict=False)
    assert report.problems == [], "\n".join(report.lines())
    old, new = deployed.report.items, report.items
    assert new["Signer"].s3_key != old["Signer"].s3_key
    assert new["Signer"].service["CodeSha256"] != old["Signer"].service["CodeSha256"]
    # the same inputs from another checkout path: same assets, code untouched
    for name in ("Api", "SharedDeps"):
        assert new[name].s3_key == old[name].s3_key
    assert new["Api"].service["CodeSha256"] == old["Api"].service["CodeSha256"]
    stale = "moto changed: update the module docstring"
    assert new["Signer"].service["LastModified"] == old["Signer"].service["LastModified"], stale
