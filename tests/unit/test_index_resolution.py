"""Which releases fit a target, and the explanation of a silent downgrade (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import Version

from lambda_wheels_cdk.errors import UsageError
from lambda_wheels_cdk.index.pages import IndexFile
from lambda_wheels_cdk.index.resolution import (
    explain_release,
    explain_version,
    fitting_wheels,
    newest_release,
    python_fits,
    wheel_fits,
    wheel_versions_fitting,
)
from lambda_wheels_cdk.target.target import Target, all_targets

AL2_X86 = Target.for_runtime("python3.11", "x86_64")
AL2_ARM = Target.for_runtime("python3.11", "arm64")


def whl(name: str, version: str, tag: str, **kw: Any) -> IndexFile:
    filename = f"{name}-{version}-{tag}.whl"
    return IndexFile(filename, f"https://files.example/{filename}", **kw)


def sdist(name: str, version: str, **kw: Any) -> IndexFile:
    return IndexFile(
        f"{name}-{version}.tar.gz", f"https://files.example/{name}-{version}.tar.gz", **kw
    )


NUMPY_LIKE = [
    whl("numpy", "2.2.6", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"),
    whl("numpy", "2.2.6", "cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64"),
    whl("numpy", "2.2.6", "cp311-cp311-macosx_14_0_arm64"),
    sdist("numpy", "2.2.6"),
    whl("numpy", "2.3.0", "cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64"),
    whl("numpy", "2.3.0", "cp311-cp311-manylinux_2_28_aarch64"),
    whl("numpy", "2.3.0", "cp311-cp311-musllinux_1_2_x86_64"),
    sdist("numpy", "2.3.0"),
    whl("numpy", "2.5.0", "cp312-cp312-manylinux_2_27_x86_64", requires_python=">=3.12"),
    sdist("numpy", "2.5.0", requires_python=">=3.12"),
    whl("numpy", "2.6.0rc1", "cp311-cp311-manylinux_2_17_x86_64"),
]


def test_numpy_like_downgrade_is_explained() -> None:
    explanation = explain_release("numpy", "2.2.6", NUMPY_LIKE, AL2_X86)
    assert explanation.newest == "2.5.0" and explanation.newest_fitting == "2.2.6"
    assert [(s.version, s.kind) for s in explanation.skipped] == [
        ("2.5.0", "requires-python"),
        ("2.3.0", "glibc"),
    ]
    assert explanation.skipped[1].needs_glibc == "2.27"
    assert explanation.message == (
        "numpy 2.5.0 is newer but requires Python >=3.12 (python3.11 is Python 3.11); "
        "numpy 2.3.0 has no wheel for python3.11/x86_64: its Linux wheels need manylinux_2_27+ "
        "(Amazon Linux 2 has glibc 2.26); installed 2.2.6, the newest release with a fitting wheel"
    )
    record = explanation.to_dict()
    assert record["skipped"][1] == {
        "version": "2.3.0",
        "kind": "glibc",
        "reason": explanation.skipped[1].reason,
        "needs_glibc": "2.27",
    }


def test_the_spec_example_shape() -> None:
    files = [f for f in NUMPY_LIKE if f.version != Version("2.5.0")]
    message = explain_release("numpy", "2.2.6", files, AL2_X86).message
    assert message == (
        "numpy 2.3.0 is newer but has no wheel for python3.11/x86_64: its Linux wheels need "
        "manylinux_2_27+ (Amazon Linux 2 has glibc 2.26); installed 2.2.6, the newest release "
        "with a fitting wheel"
    )


@pytest.mark.parametrize(
    ("files", "kind", "fragment"),
    [
        (
            [sdist("demo", "2.0")],
            "sdist-only",
            "has no wheel for python3.11/x86_64: it is sdist-only",
        ),
        (
            [whl("demo", "2.0", "py3-none-any", yanked=True, yanked_reason="oops")],
            "yanked",
            "is yanked (oops)",
        ),
        (
            [
                whl("demo", "2.0", "cp312-cp312-manylinux_2_17_x86_64"),
                whl("demo", "2.0", "cp313-cp313-manylinux_2_17_x86_64"),
            ],
            "python",
            "its wheels are for cp312, cp313 only",
        ),
        (
            [
                whl("demo", "2.0", "cp311-cp311-musllinux_1_1_x86_64"),
                whl("demo", "2.0", "cp311-cp311-linux_x86_64"),
            ],
            "platform",
            "only linux_x86_64, musllinux_1_1_x86_64 wheels",
        ),
        (
            [
                whl("demo", "2.0", "cp311-cp311-macosx_11_0_arm64"),
                whl("demo", "2.0", "cp311-cp311-win_amd64"),
            ],
            "platform",
            "no manylinux x86_64 wheel (wheels for Windows, macOS)",
        ),
        (
            [whl("demo", "2.0", "cp311-cp311-manylinux_2_17_aarch64")],
            "platform",
            "(wheels for Linux on other architectures)",
        ),
        (
            [whl("demo", "2.0", "py3-none-any", requires_python=">=3.13")],
            "requires-python",
            "requires Python >=3.13 (python3.11 is Python 3.11)",
        ),
        (
            [whl("demo", "2.0", "py3-none-any")],
            "not-selected",
            "has a wheel for python3.11/x86_64 that the resolver did not select",
        ),
    ],
)
def test_each_reason(files: list[IndexFile], kind: str, fragment: str) -> None:
    installed = whl("demo", "1.0", "py3-none-any")
    explanation = explain_release("demo", "1.0", [installed, *files], AL2_X86)
    (skipped,) = explanation.skipped
    assert skipped.kind == kind
    assert fragment in skipped.reason
    assert explanation.message is not None and explanation.message.startswith(
        "demo 2.0 is newer but "
    )


def test_held_back_by_a_pin_says_so() -> None:
    files = [whl("demo", v, "py3-none-any") for v in ("1.0", "2.0")]
    message = explain_release("demo", "1.0", files, AL2_X86).message
    assert message is not None
    assert message.endswith(
        "installed 1.0 although 2.0 has a fitting wheel (a pin, a constraint or another "
        "requirement held it back)"
    )


def test_nothing_newer_means_no_message() -> None:
    explanation = explain_release("numpy", "2.2.6", NUMPY_LIKE[:4], AL2_X86)
    assert explanation.message is None and not explanation.held_back


def test_prereleases_count_only_for_a_prerelease() -> None:
    assert newest_release(NUMPY_LIKE) == Version("2.5.0")
    assert newest_release(NUMPY_LIKE, prereleases=True) == Version("2.6.0rc1")
    assert [
        s.version for s in explain_release("numpy", "2.6.0rc1", NUMPY_LIKE, AL2_X86).skipped
    ] == []
    assert "2.6.0rc1" not in [
        s.version for s in explain_release("numpy", "2.2.6", NUMPY_LIKE, AL2_X86).skipped
    ]
    with pytest.raises(UsageError, match="not a valid version of numpy"):
        explain_release("numpy", "not.a.version!", NUMPY_LIKE, AL2_X86)


def test_fitting_versions_per_arch() -> None:
    assert wheel_versions_fitting(NUMPY_LIKE, AL2_X86) == [Version("2.6.0rc1"), Version("2.2.6")]
    assert wheel_versions_fitting(NUMPY_LIKE, AL2_ARM) == [Version("2.2.6")]
    al2023 = Target.for_runtime("python3.12", "arm64")
    assert wheel_versions_fitting(NUMPY_LIKE, al2023) == []
    yanked = [whl("demo", "1.0", "py3-none-any", yanked=True)]
    assert wheel_versions_fitting(yanked, AL2_X86) == [] and newest_release(yanked) is None


def test_fitting_wheels_best_tag_first() -> None:
    files = [
        whl("demo", "1.0", "py3-none-any"),
        whl("demo", "1.0", "cp311-cp311-manylinux_2_17_x86_64"),
        whl("demo", "1.0", "cp311-cp311-manylinux_2_24_x86_64"),
        whl("demo", "1.0", "cp311-cp311-manylinux_2_28_x86_64"),
    ]
    assert [f.filename.split("-", 2)[2] for f in fitting_wheels(files, AL2_X86)] == [
        "cp311-cp311-manylinux_2_24_x86_64.whl",
        "cp311-cp311-manylinux_2_17_x86_64.whl",
        "py3-none-any.whl",
    ]


@pytest.mark.parametrize("target", list(all_targets()), ids=str)
def test_glibc_edge_for_every_target(target: Target) -> None:
    g = target.glibc.minor
    cp = target.abi
    at_ceiling = whl("demo", "1.0", f"{cp}-{cp}-manylinux_2_{g}_{target.arch}")
    above = whl("demo", "2.0", f"{cp}-{cp}-manylinux_2_{g + 1}_{target.arch}")
    assert wheel_versions_fitting([at_ceiling, above], target) == [Version("1.0")]
    reason = explain_version(Version("2.0"), [above], target)
    assert reason.kind == "glibc" and reason.needs_glibc == f"2.{g + 1}"
    assert f"({target.os.title} has glibc 2.{g})" in reason.reason


TAG_SAMPLES = [
    "py3-none-any",
    "py2.py3-none-any",
    "cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64",
    "cp311-cp311-manylinux_2_24_aarch64",
    "cp312-cp312-manylinux_2_34_aarch64",
    "cp312-cp312-manylinux_2_35_aarch64",
    "cp313-cp313-manylinux_2_28_x86_64",
    "cp311-cp311-linux_x86_64",
    "cp311-cp311-musllinux_1_2_aarch64",
    "cp311-cp311-macosx_11_0_universal2",
    "cp311-cp311-win_amd64",
    "cp310-cp310-MANYLINUX_2_17_X86_64",
    "cp311-none-any",
]


@pytest.mark.parametrize("target", list(all_targets()), ids=str)
def test_wheel_fits_is_target_accepts(target: Target) -> None:
    """The quick pre-test never changes the answer of Target.accepts."""
    for tag in TAG_SAMPLES:
        filename = f"demo-1.0-{tag}.whl"
        assert wheel_fits(filename, target) == target.accepts(filename), filename
    assert not wheel_fits("not-a-wheel.whl", target)


def test_python_fits() -> None:
    assert python_fits(None, AL2_X86) and python_fits(">=3.8,<4", AL2_X86)
    assert not python_fits(">=3.12", AL2_X86)
    assert python_fits("this is not a specifier", AL2_X86)
