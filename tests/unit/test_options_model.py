"""One options model: ``lambda-wheels build``'s flags and ``WheelBundlingOptions``' fields map
onto :class:`BuildOptions` through the same :meth:`BuildOptions.from_user` (issue 17: the two
mappings had drifted). The same choices, made through either shell, give equal options."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

from lambda_wheels_cdk.build import pipeline
from lambda_wheels_cdk.build.models import BuildOptions
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.inputs.spec import IndexSettings


class _Captured(Exception):
    def __init__(self, options: BuildOptions) -> None:
        self.options = options


def _cli_options(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> BuildOptions:
    def capture(*args: Any, options: BuildOptions, **kwargs: Any) -> None:
        raise _Captured(options)

    monkeypatch.setattr(pipeline, "build_bundle", capture)
    with pytest.raises(_Captured) as caught:
        main(argv)
    return caught.value.options


def test_every_choice_reaches_the_build_the_same_way_from_the_cli_and_the_constructs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    cache = tmp_path / "cache"
    # every option away from its default, written out by hand (no value from the code)
    expected = BuildOptions(
        installer="pip",
        index=IndexSettings(
            index_url="https://idx.example/simple",
            extra_index_urls=("https://more.example/simple",),
            find_links=(str(wheels),),
            no_index=True,
        ),
        docker=True,
        docker_image="my/image:1",
        docker_network=True,
        allow_sdists=False,
        audit="warn",
        cache_dir=str(cache),
        link_mode="copy",
        bytecode="none",
        bytecode_interpreter="/opt/python3.12/bin/python3.12",
        allow_python_download=True,
        slim=True,
        exclude_runtime_packages=True,
        remote_cache="s3://bucket/prefix",
        remote_cache_mode="read",
        verify_cache=True,
    )
    argv = [
        "build", "--runtime", "python3.12", "--arch", "arm64", "-o", str(tmp_path / "out"),
        "--installer", "pip", "--index-url", "https://idx.example/simple",
        "--extra-index-url", "https://more.example/simple", "--find-links", str(wheels),
        "--no-index", "--docker", "--docker-image", "my/image:1", "--docker-network",
        "--no-sdists", "--audit", "warn", "--cache-dir", str(cache), "--link-mode", "copy",
        "--no-bytecode", "--bytecode-interpreter", "/opt/python3.12/bin/python3.12",
        "--allow-python-download", "--slim", "--exclude-runtime-packages",
        "--remote-cache", "s3://bucket/prefix", "--remote-cache-mode", "read", "--verify-cache",
        "six",
    ]  # fmt: skip
    assert _cli_options(argv, monkeypatch) == expected

    from lambda_wheels_cdk import WheelBundlingOptions

    construct = WheelBundlingOptions(
        installer="pip",
        index_url="https://idx.example/simple",
        extra_index_urls=["https://more.example/simple"],
        find_links=[str(wheels)],
        no_index=True,
        docker=True,
        image="my/image:1",
        docker_network=True,
        allow_sdists=False,
        audit="warn",
        cache_dir=str(cache),
        link_mode="copy",
        bytecode=False,
        bytecode_interpreter="/opt/python3.12/bin/python3.12",
        allow_python_download=True,
        slim=True,
        exclude_runtime_packages=True,
        remote_cache="s3://bucket/prefix",
        remote_cache_mode="read",
        verify_cache=True,
    )
    assert construct.build_options == expected


def test_every_build_option_is_a_user_option_of_both_shells() -> None:
    """A new BuildOptions field must be offered by from_user (and so by the constructs, whose
    fields are checked against it, and by a CLI flag, the test above)."""
    from lambda_wheels_cdk import WheelBundlingOptions

    user = set(inspect.signature(BuildOptions.from_user).parameters)
    build = {f.name for f in dataclasses.fields(BuildOptions)} - {"index"}
    assert build <= user
    assert {"index_url", "extra_index_urls", "find_links", "no_index"} <= user
    fields = {f.name for f in dataclasses.fields(WheelBundlingOptions)}
    assert user - {"docker_image"} <= fields and "image" in fields
