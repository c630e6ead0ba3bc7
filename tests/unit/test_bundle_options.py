"""BuildOptions.link_mode: validated, and part of the cache key only when not the default."""

from __future__ import annotations

import pytest

from lambda_wheels_cdk.build.pipeline import BuildOptions, dependency_key
from lambda_wheels_cdk.errors import UsageError
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.target import Target

TARGET = Target.for_runtime("python3.12", "arm64")


def test_link_mode_copy_is_its_own_cache_entry_and_link_keeps_the_old_keys() -> None:
    index = IndexSettings()
    default = dependency_key("inputs", TARGET, BuildOptions(), index)
    assert dependency_key("inputs", TARGET, BuildOptions(link_mode="link"), index) == default
    assert dependency_key("inputs", TARGET, BuildOptions(link_mode="copy"), index) != default


def test_an_unknown_link_mode_names_the_choices() -> None:
    with pytest.raises(UsageError, match="'link' \\(default\\) or 'copy'"):
        BuildOptions(link_mode="symlink")  # type: ignore[arg-type]
