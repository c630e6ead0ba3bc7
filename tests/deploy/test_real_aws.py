"""Opt-in: `cdk deploy` of the example app to a real AWS account, invoke both functions, destroy.

Never runs by default. It runs only when ``LAMBDA_WHEELS_REAL_AWS=1`` is set and boto3 finds
credentials and a region (``AWS_PROFILE`` / ``AWS_REGION`` or any other boto3 source); before
that opt-in nothing is asked of boto3 and nothing touches the network. Otherwise it skips and
says why. ``AWS_ENDPOINT_URL`` must not be set (that would deploy to an emulator: see
``test_moto_deploy.py``). Run it with::

    LAMBDA_WHEELS_REAL_AWS=1 AWS_PROFILE=sandbox AWS_REGION=eu-west-1 \\
        .venv/bin/python -m pytest tests/deploy/test_real_aws.py -rA

The account and region must be bootstrapped (``cdk bootstrap aws://ACCOUNT/REGION``; CDK's own
error says so otherwise) and the caller needs what ``cdk deploy`` needs, plus
``lambda:InvokeFunction``, ``lambda:Get*`` and ``s3:GetObject`` on the bootstrap bucket.

What it does: STS ``GetCallerIdentity``; ``cdk synth -c stackName=LambdaWheelsE2E-<8 hex>``
(isolated ``LAMBDA_WHEELS_CACHE_DIR`` and ``--output``); ``cdk deploy --app <that cdk.out>``;
the same checks as the moto test, strict this time (Lambda must report ``arm64`` and the
attached layer itself); invokes Api (numpy + pydantic-core on arm64 with orjson from the layer:
``statusCode`` 200 and the mean of the readings) and Signer (cryptography on x86_64 Amazon Linux
2: a 64-byte Ed25519 signature); then ``cdk destroy --force`` whatever happened. The assets stay
in the bootstrap bucket, as after any ``cdk deploy``. Cost: a few cents.

Stack name: ``examples/app.py`` reading ``-c stackName`` gives every run its own stack. Until it
does, the stack is ``LambdaWheelsExample``, and the test refuses to run when a stack of that name
already exists in the account (it would update it and then destroy it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_server import (
    CDK_QUIET,
    ROOT,
    Aws,
    CdkFailed,
    StackArtifact,
    check_deployment,
    run_cdk,
    stack_artifact,
)

pytestmark = [pytest.mark.cdk, pytest.mark.e2e, pytest.mark.timeout(1800)]

OPT_IN = "LAMBDA_WHEELS_REAL_AWS"


@dataclass(frozen=True)
class RealAws:
    aws: Aws
    account: str
    region: str


@pytest.fixture
def real_aws() -> Iterator[RealAws]:
    """The caller's account, or a skip with the reason (no network before the opt-in)."""
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(
            f"deploys to a real AWS account: opt in with {OPT_IN}=1 and credentials + region "
            "for a bootstrapped account"
        )
    endpoints = sorted(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))
    if endpoints:
        pytest.skip(f"{', '.join(endpoints)} set: unset it to deploy to real AWS")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session()
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        pytest.skip(f"{OPT_IN}=1 but boto3 cannot load credentials: {exc}")
    if credentials is None:
        pytest.skip(
            f"{OPT_IN}=1 but boto3 finds no credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)"
        )
    region = session.region_name
    if not region:
        pytest.skip(f"{OPT_IN}=1 but no region: set AWS_REGION")
    with Aws(endpoint=None, region=region, session=session) as aws:
        try:
            account = aws.client("sts").get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            pytest.skip(f"{OPT_IN}=1 but STS GetCallerIdentity fails: {exc}")
        yield RealAws(aws, account, region)


def _env(real: RealAws, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        CDK_QUIET,
        AWS_REGION=real.region,
        AWS_DEFAULT_REGION=real.region,
        LAMBDA_WHEELS_CACHE_DIR=str(work / "cache"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _stack_exists(real: RealAws, name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        stacks = real.aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)


def _invoke(real: RealAws, function: str, event: dict[str, Any]) -> Any:
    lam = real.aws.client("lambda")
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode(), LogType="Tail")
    with contextlib.closing(response["Payload"]) as stream:
        payload = stream.read().decode()
    log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    assert "FunctionError" not in response, f"{function} failed: {payload}\n{log}"
    return json.loads(payload)


def _deploy_and_check(
    real: RealAws, stack: StackArtifact, app: list[str], env: dict[str, str], work: Path
) -> None:
    run_cdk(
        ["deploy", *app, "--require-approval", "never", "--all"],
        cwd=work,
        env=env,
        endpoint=None,
        timeout=1500,
    )
    report = check_deployment(real.aws, stack, work / "downloads", account=real.account)
    assert report.problems == [], "\n".join(report.lines())
    print("\n".join(report.lines()))
    api, signer = report.items["Api"].physical_id, report.items["Signer"].physical_id

    result = _invoke(real, api, {"sensor": "lambda-wheels", "values": [1.0, 2.0, 4.0]})
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"]) == {"sensor": "lambda-wheels", "mean": pytest.approx(7 / 3)}

    result = _invoke(real, signer, {"message": "lambda-wheels"})
    assert result == {"statusCode": 200, "signature_bytes": 64}


def test_deploy_invoke_destroy(real_aws: RealAws, tmp_path: Path) -> None:
    unique = f"LambdaWheelsE2E-{secrets.token_hex(4)}"
    outdir = tmp_path / "cdk.out"
    env = _env(real_aws, tmp_path)
    run_cdk(
        ["synth", "--quiet", "-c", f"stackName={unique}", "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        endpoint=None,
    )
    stack = stack_artifact(outdir)
    name = stack.stack_name
    where = f"account {real_aws.account} ({real_aws.region})"
    if name != unique and _stack_exists(real_aws, name):
        pytest.fail(
            f"examples/app.py ignores -c stackName, and a stack {name!r} already exists in "
            f"{where}: refusing to update and then destroy it. Delete it or make the app read "
            "the stackName context"
        )
    app = ["--app", str(outdir)]
    try:
        _deploy_and_check(real_aws, stack, app, env, tmp_path)
    except BaseException:
        with contextlib.suppress(CdkFailed):
            _destroy(app, env, tmp_path, name, where)
        raise
    _destroy(app, env, tmp_path, name, where)


def _destroy(app: list[str], env: dict[str, str], work: Path, name: str, where: str) -> None:
    try:
        run_cdk(
            ["destroy", *app, "--force", "--all"], cwd=work, env=env, endpoint=None, timeout=1500
        )
    except CdkFailed as exc:
        print(f"cdk destroy failed: delete stack {name} in {where} by hand\n{exc}", file=sys.stderr)
        raise
