"""Example CDK app: an arm64 function, an Amazon Linux 2 x86_64 function and a shared layer.

Run from the repository root: ``make synth`` (or ``npx cdk synth`` in the virtualenv).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer


class WheelsExampleStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)

        # orjson ships one binary per Python version: the layer holds an install per runtime
        shared = PythonWheelLayer(
            self,
            "SharedDeps",
            dependencies="examples/layers/shared/requirements.txt",
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="orjson for python3.12 and python3.13 on arm64",
        )

        # pydantic + numpy on Graviton, Amazon Linux 2023 (glibc 2.34)
        PythonWheelFunction(
            self,
            "Api",
            entry="examples/services/api",
            index="app.py",
            handler="handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            layers=[shared],
            memory_size=512,
            timeout=cdk.Duration.seconds(10),
        )

        # cryptography on python3.11 x86_64, Amazon Linux 2 (glibc 2.26)
        PythonWheelFunction(
            self,
            "Signer",
            entry="examples/services/signer",
            runtime=lambda_.Runtime.PYTHON_3_11,
            architecture=lambda_.Architecture.X86_64,
        )


app = cdk.App()
# `cdk deploy -c stackName=...` deploys the app under another CloudFormation stack name (the
# real-AWS test gives each run its own stack); the construct id, and cdk.out's file names, stay.
WheelsExampleStack(app, "LambdaWheelsExample", stack_name=app.node.try_get_context("stackName"))
app.synth()
