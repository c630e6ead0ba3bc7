"""Fixtures for the deploy tests: a moto server per module, and this process sealed off AWS.

The moto server is a child process (``tests/support/moto_server.py``), stopped at module
teardown whatever happened. While it runs, this process's ``AWS_*`` variables are replaced by
the sealed ones (dummy credentials, ``AWS_ENDPOINT_URL``, empty config files), so boto3 here
cannot reach a real account either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.moto_server import MotoServer, sealed_env

#: Lines for the terminal summary: the CI log shows what was deployed, audited, and how long.
SUMMARY: list[str] = []


@dataclass(frozen=True)
class LocalAws:
    """A running moto server and the environment for children that talk to it."""

    server: MotoServer
    endpoint: str
    env: dict[str, str]
    work: Path


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    work = tmp_path_factory.mktemp("deploy-local")
    with MotoServer(work / "moto.log") as server, pytest.MonkeyPatch.context() as mp:
        env = sealed_env(server.endpoint, LAMBDA_WHEELS_CACHE_DIR=str(work / "cache"))
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(key)
        for key, value in env.items():
            if key.startswith("AWS_"):
                mp.setenv(key, value)
        yield LocalAws(server, server.endpoint, env, work)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("cdk deploy to moto: deployed zips, audits, timings")
        for line in SUMMARY:
            terminalreporter.write_line(line)
