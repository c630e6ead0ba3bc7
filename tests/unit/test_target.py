"""The Lambda target model: runtime table, platforms, tags, accepts, installer flags."""

from __future__ import annotations

import re

import pytest
from packaging.tags import Tag

from lambda_wheels_cdk.errors import (
    DeprecatedRuntimeError,
    LambdaWheelsError,
    UnsupportedArchitectureError,
    UnsupportedRuntimeError,
)
from lambda_wheels_cdk.target.runtimes import RUNTIMES
from lambda_wheels_cdk.target.target import Target, all_targets

# runtime, expected glibc minor, OS -- one row per runtime (a new runtime adds a row here)
RUNTIME_ROWS = [
    ("python3.9", 26, "al2"),
    ("python3.10", 26, "al2"),
    ("python3.11", 26, "al2"),
    ("python3.12", 34, "al2023"),
    ("python3.13", 34, "al2023"),
    ("python3.14", 34, "al2023"),
]
ARCH_ROWS = [("x86_64", "x86_64", 5), ("arm64", "aarch64", 17)]
TARGET_ROWS = [(r, g, o, a, w, f) for (r, g, o) in RUNTIME_ROWS for (a, w, f) in ARCH_ROWS]


def test_table_has_exactly_the_rows_tested() -> None:
    assert list(RUNTIMES) == [row[0] for row in RUNTIME_ROWS]


@pytest.mark.parametrize(("runtime", "glibc", "os", "arch", "warch", "floor"), TARGET_ROWS)
def test_platforms_run_from_glibc_to_floor_with_aliases(
    runtime: str, glibc: int, os: str, arch: str, warch: str, floor: int, no_host_probes: None
) -> None:
    target = Target.for_runtime(runtime, arch)
    assert target.arch == warch and target.os.name == os and target.glibc.minor == glibc
    platforms = list(target.platforms())
    pep600 = [p for p in platforms if p.startswith("manylinux_")]
    assert pep600 == [f"manylinux_2_{n}_{warch}" for n in range(glibc, floor - 1, -1)]
    aliases = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    for alias, minor in aliases.items():
        name = f"{alias}_{warch}"
        if minor >= floor:
            assert platforms[platforms.index(f"manylinux_2_{minor}_{warch}") + 1] == name
        else:
            assert name not in platforms
    assert len(platforms) == len(set(platforms))
    assert not any(p.startswith("linux_") for p in platforms)


@pytest.mark.parametrize(("runtime", "glibc", "os", "arch", "warch", "floor"), TARGET_ROWS)
def test_tags_are_complete_and_ordered(
    runtime: str, glibc: int, os: str, arch: str, warch: str, floor: int, no_host_probes: None
) -> None:
    target = Target.for_runtime(runtime, arch)
    tags = [str(t) for t in target.tags()]
    cp = target.abi
    assert tags[0] == f"{cp}-{cp}-manylinux_2_{glibc}_{warch}"
    assert f"{cp}-abi3-manylinux_2_{floor}_{warch}" in tags
    assert f"cp32-abi3-manylinux_2_{glibc}_{warch}" in tags  # abi3 back to 3.2
    assert f"{cp}-none-manylinux_2_17_{warch}" in tags
    assert tags[-1] == "py30-none-any"
    assert "py3-none-any" in tags
    other = "aarch64" if warch == "x86_64" else "x86_64"
    assert not any(other in t for t in tags)
    assert not any(re.search(rf"manylinux_2_{glibc + 1}_", t) for t in tags)
    assert not any(
        t.split("-")[2].startswith(("macosx", "win", "linux_", "musllinux")) for t in tags
    )
    # each binary tag precedes the pure fallback
    assert tags.index(f"{cp}-{cp}-manylinux_2_17_{warch}") < tags.index("py3-none-any")


@pytest.mark.parametrize(("runtime", "glibc", "os", "arch", "warch", "floor"), TARGET_ROWS)
def test_same_plan_on_a_macos_arm64_host(
    runtime: str,
    glibc: int,
    os: str,
    arch: str,
    warch: str,
    floor: int,
    macos_arm64_host: None,
    no_host_probes: None,
) -> None:
    target = Target.for_runtime(runtime, arch)
    assert (
        next(str(t) for t in target.tags())
        == f"{target.abi}-{target.abi}-manylinux_2_{glibc}_{warch}"
    )
    assert target.uv_args()[-1].startswith(f"{warch}-manylinux_2_")
    assert "--platform" in target.pip_args()


def test_issue_examples_py311_x86_64() -> None:
    tags = [str(t) for t in Target.for_runtime("python3.11", "x86_64").tags()]
    assert tags[0] == "cp311-cp311-manylinux_2_26_x86_64"
    for tag in (
        "cp311-cp311-manylinux1_x86_64",
        "cp311-abi3-manylinux2014_x86_64",
        "py3-none-any",
    ):
        assert tag in tags
    assert not any("manylinux_2_27" in t for t in tags)


def test_issue_examples_py312_arm64() -> None:
    tags = [str(t) for t in Target.for_runtime("python3.12", "arm64").tags()]
    assert tags[0] == "cp312-cp312-manylinux_2_34_aarch64"
    assert "cp312-cp312-manylinux2014_aarch64" in tags
    assert not any("x86_64" in t or "manylinux_2_35" in t or "manylinux1" in t for t in tags)


@pytest.mark.parametrize(
    ("runtime", "arch", "wheel", "fits"),
    [
        (
            "python3.11",
            "x86_64",
            "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            True,
        ),
        (
            "python3.11",
            "x86_64",
            "numpy-2.5.5-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
            False,
        ),
        (
            "python3.11",
            "x86_64",
            "greenlet-3.5.6-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
            True,
        ),
        ("python3.11", "x86_64", "numpy-2.2.6-cp311-cp311-macosx_14_0_arm64.whl", False),
        ("python3.11", "x86_64", "numpy-2.2.6-cp311-cp311-win_amd64.whl", False),
        ("python3.11", "x86_64", "numpy-2.2.6-cp311-cp311-musllinux_1_2_x86_64.whl", False),
        ("python3.11", "x86_64", "foo-1.0-cp311-cp311-linux_x86_64.whl", False),
        ("python3.12", "x86_64", "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl", False),
        ("python3.12", "x86_64", "cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl", True),
        ("python3.11", "x86_64", "cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl", False),
        ("python3.12", "arm64", "cryptography-46.0.0-cp311-abi3-manylinux_2_34_aarch64.whl", True),
        ("python3.12", "arm64", "cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl", False),
        ("python3.12", "arm64", "orjson-3.0-cp312-cp312-manylinux1_x86_64.whl", False),
        ("python3.13", "arm64", "requests-2.32.0-py3-none-any.whl", True),
        ("python3.9", "arm64", "six-1.16.0-py2.py3-none-any.whl", True),
        ("python3.12", "arm64", "pkg-1.0-cp313-abi3-manylinux_2_17_aarch64.whl", False),
        ("python3.13", "x86_64", "pkg-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", False),
    ],
)
def test_accepts(runtime: str, arch: str, wheel: str, fits: bool, no_host_probes: None) -> None:
    assert Target.for_runtime(runtime, arch).accepts(wheel) is fits


def test_accepts_tags_and_compressed_tag_sets() -> None:
    t = Target.for_runtime("python3.11", "x86_64")
    assert t.accepts("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
    assert t.accepts(Tag("py3", "none", "any"))
    assert not t.accepts("cp311-cp311-manylinux_2_28_x86_64")
    with pytest.raises(LambdaWheelsError, match="neither a wheel filename nor a tag"):
        t.accepts("garbage")
    with pytest.raises(LambdaWheelsError, match="not a valid wheel filename"):
        t.accepts("not-a.whl")


def test_best_rank_prefers_newest_glibc() -> None:
    t = Target.for_runtime("python3.12", "arm64")
    new = t.best_rank("x-1-cp312-cp312-manylinux_2_34_aarch64.whl")
    old = t.best_rank("x-1-cp312-cp312-manylinux2014_aarch64.whl")
    pure = t.best_rank("x-1-py3-none-any.whl")
    assert new is not None and old is not None and pure is not None
    assert new < old < pure


@pytest.mark.parametrize(
    ("runtime", "message_part", "error"),
    [
        ("nodejs20.x", "not a Python runtime", UnsupportedRuntimeError),
        ("python3.8", "deprecated", DeprecatedRuntimeError),
        ("python2.7", "deprecated", DeprecatedRuntimeError),
        ("python3.99", "not a known Python runtime", UnsupportedRuntimeError),
    ],
)
def test_bad_runtimes_list_what_is_supported(runtime: str, message_part: str, error: type) -> None:
    with pytest.raises(error, match=message_part) as info:
        Target.for_runtime(runtime, "x86_64")
    assert "python3.9, python3.10, python3.11, python3.12, python3.13, python3.14" in str(
        info.value
    )
    assert isinstance(info.value, ValueError)


def test_bad_arch_lists_what_is_supported() -> None:
    with pytest.raises(UnsupportedArchitectureError, match="arm64, x86_64"):
        Target.for_runtime("python3.12", "ppc64le")


def test_runtime_and_arch_spellings_are_normalised() -> None:
    assert Target.for_runtime(" Python3.12 ", "ARM64") == Target.for_runtime(
        "python3.12", "aarch64"
    )


@pytest.mark.parametrize(
    ("runtime", "arch", "platform", "exact"),
    [
        ("python3.11", "x86_64", "x86_64-manylinux_2_17", False),
        ("python3.9", "arm64", "aarch64-manylinux_2_17", False),
        ("python3.12", "arm64", "aarch64-manylinux_2_34", True),
        ("python3.14", "x86_64", "x86_64-manylinux_2_34", True),
    ],
)
def test_uv_args(runtime: str, arch: str, platform: str, exact: bool) -> None:
    t = Target.for_runtime(runtime, arch)
    assert t.uv_args() == ["--python-version", t.python_version, "--python-platform", platform]
    assert t.uv_platform_is_exact is exact


def test_pip_args_pass_every_platform_in_order() -> None:
    t = Target.for_runtime("python3.12", "arm64")
    args = t.pip_args()
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    # PEP 600: AL2023's glibc 2.34 down to aarch64's floor 2.17, newest first, then the legacy
    # alias of 2_17 (PEP 599's manylinux2014); pip matches each --platform literally
    expected = [f"manylinux_2_{minor}_aarch64" for minor in range(34, 16, -1)]
    assert platforms == [*expected, "manylinux2014_aarch64"]
    assert args[-7:] == [
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        "--abi",
        "cp312",
        "--only-binary=:all:",
    ]


def test_build_image_is_arch_aware() -> None:
    assert Target.for_runtime("python3.12", "arm64").build_image == (
        "public.ecr.aws/sam/build-python3.12:latest-arm64"
    )
    assert Target.for_runtime("python3.9", "x86_64").docker_platform == "linux/amd64"


def test_all_targets_covers_the_table() -> None:
    assert [(t.runtime, t.arch) for t in all_targets()] == [
        (runtime, arch)
        for runtime in [
            "python3.9",
            "python3.10",
            "python3.11",
            "python3.12",
            "python3.13",
            "python3.14",
        ]
        for arch in ["x86_64", "aarch64"]  # the wheel arch: arm64 is aarch64
    ]
