"""Host configuration isolation: what reaches the installer and what does not."""

from __future__ import annotations

import os

from lambda_wheels_cdk.install.environment import (
    ignored_variables,
    index_settings_from_env,
    installer_environment,
)

HOST = {
    "PATH": "/usr/bin",
    "HOME": "/home/me",
    "SSL_CERT_FILE": "/etc/ssl/certs/ca.pem",
    "PIP_FIND_LINKS": "/opt/wheels",
    "PIP_CONSTRAINT": "/etc/xdg/pip/constraints.txt",
    "PIP_NO_BINARY": ":all:",
    "PIP_CERT": "/etc/ssl/certs/ca.pem",
    "PIP_INDEX_URL": "https://user:s3cret@private.example/simple",
    "UV_INDEX": "https://extra.example/simple https://more.example/simple",
    "UV_FIND_LINKS": "/opt/more-wheels",
    "UV_CACHE_DIR": "/tmp/uvcache",
    "UV_INDEX_PRIVATE_PASSWORD": "tok",
    "UV_PRERELEASE": "allow",
    "PYTHONPATH": "/somewhere",
    "VIRTUAL_ENV": "/venv",
}


def test_shaping_variables_do_not_reach_the_installer() -> None:
    env = installer_environment(HOST)
    for name in (
        "PIP_FIND_LINKS",
        "PIP_CONSTRAINT",
        "PIP_NO_BINARY",
        "UV_FIND_LINKS",
        "UV_PRERELEASE",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "PIP_INDEX_URL",
        "UV_INDEX",
    ):
        assert name not in env, name
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["UV_NO_CONFIG"] == "1"
    assert env["UV_PYTHON_DOWNLOADS"] == "never"


def test_transport_cache_and_credentials_pass_through() -> None:
    env = installer_environment(HOST)
    for name in (
        "PATH",
        "HOME",
        "SSL_CERT_FILE",
        "PIP_CERT",
        "UV_CACHE_DIR",
        "UV_INDEX_PRIVATE_PASSWORD",
    ):
        assert env[name] == HOST[name]


def test_explicit_extra_wins() -> None:
    env = installer_environment(HOST, {"UV_DEFAULT_INDEX": "https://mine.example/simple"})
    assert env["UV_DEFAULT_INDEX"] == "https://mine.example/simple"


def test_index_variables_are_read_as_settings() -> None:
    found = index_settings_from_env(HOST)
    assert found.index_url == "https://user:s3cret@private.example/simple"
    assert found.extra_index_urls == ("https://extra.example/simple", "https://more.example/simple")
    assert found.sources == ("PIP_INDEX_URL", "UV_INDEX")


def test_uv_default_index_wins_over_pip_index_url() -> None:
    found = index_settings_from_env(
        {"PIP_INDEX_URL": "https://a/simple", "UV_DEFAULT_INDEX": "https://b/simple"}
    )
    assert found.index_url == "https://b/simple"


def test_ignored_variables_are_named_without_values() -> None:
    ignored = ignored_variables(HOST)
    assert ignored == (
        "PIP_CONSTRAINT",
        "PIP_FIND_LINKS",
        "PIP_NO_BINARY",
        "UV_FIND_LINKS",
        "UV_PRERELEASE",
    )
    assert not any("/opt" in name for name in ignored)
