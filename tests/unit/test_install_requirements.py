"""The requirements an install plan carries: their one requirements.txt rendering, and the
operations an install needs (hash-checking mode, pins, built wheels' hashes, re-pointed URLs).

Every expected text is a literal in the format pip documents for hash-checking mode
(``requirement \\`` then one ``--hash=algo:hex`` per continuation line).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lambda_wheels_cdk.errors import InputError
from lambda_wheels_cdk.inputs.requirement_lines import RequirementLine, Requirements
from lambda_wheels_cdk.inputs.spec import DependencySpec
from lambda_wheels_cdk.install import installers as install
from lambda_wheels_cdk.install.installers import InstallPlan, UvInstaller
from lambda_wheels_cdk.install.sdists import built_wheel_digests
from lambda_wheels_cdk.target.target import Target

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64
H3 = "sha256:" + "3" * 64
HASHED = DependencySpec(
    ("six==1.17.0; python_version >= '3'", "idna==3.10"),
    hashes={"six": (H1, H2), "idna": (H3,)},
)
HASHED_TEXT = (
    "six==1.17.0; python_version >= '3' \\\n"
    "    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\\n"
    "    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222\n"
    "idna==3.10 \\\n"
    "    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333\n"
)


def test_hash_checking_text_has_one_hash_per_continuation_line() -> None:
    reqs = HASHED.install_requirements()
    assert reqs.text() == HASHED_TEXT == HASHED.requirements_txt()
    assert reqs.hash_checking and HASHED.hash_checking
    assert [r.name for r in reqs] == ["six", "idna"]
    assert str(reqs.lines[0].requirement.marker) == 'python_version >= "3"'
    assert reqs.hashes_of("Six") == (H1, H2) and reqs.hashes_of("other") == ()


def test_hashes_are_all_or_nothing() -> None:
    """pip's hash-checking mode wants every requirement hashed: one without means none."""
    spec = DependencySpec(("six==1.17.0", "idna==3.10"), hashes={"six": (H1,)})
    reqs = spec.install_requirements()
    assert reqs.text() == "six==1.17.0\nidna==3.10\n"
    assert not reqs.hash_checking and reqs.hashes_of("six") == ()
    assert Requirements().text() == "" and not Requirements().hash_checking
    with pytest.raises(ValueError, match="every requirement"):
        Requirements((RequirementLine("six", (H1,)), RequirementLine("idna")))


def test_the_users_text_is_kept_as_it_is() -> None:
    line = "Django[Argon2] >= 4 ; python_version >= '3.10'"
    reqs = Requirements.of([line])
    assert reqs.text() == f"{line}\n"
    assert reqs.lines[0].name == "django"
    with pytest.raises(InputError, match="is not a valid requirement"):
        RequirementLine("./not a requirement")


def test_pins_carry_their_requirements_hashes() -> None:
    pins = HASHED.install_requirements().pinned({"six": "1.17.0", "idna": "3.10"})
    assert pins.text() == (
        "idna==3.10 \\\n"
        "    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333\n"
        "six==1.17.0 \\\n"
        "    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\\n"
        "    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222\n"
    )
    assert Requirements.of(["six"]).pinned({"six": "1.17.0"}).text() == "six==1.17.0\n"


def test_a_built_wheel_is_trusted_in_hash_checking_mode(tmp_path: Path) -> None:
    wheel = tmp_path / "IDNA-3.10-cp312-cp312-linux_aarch64.whl"
    wheel.write_bytes(b"")
    # the sha256 of no bytes at all (FIPS 180-4 test vector)
    empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert built_wheel_digests([wheel]) == {"idna": empty}
    trusted = HASHED.install_requirements().trusting({"idna": empty})
    assert trusted.text() == (
        "six==1.17.0; python_version >= '3' \\\n"
        "    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\\n"
        "    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222\n"
        "idna==3.10 \\\n"
        "    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333 \\\n"
        "    --hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    )
    plain = Requirements.of(["idna==3.10"])
    assert plain.trusting({"idna": empty}) is plain  # no hash-checking mode: nothing to add


def test_a_url_requirement_is_pointed_at_its_built_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    spec = DependencySpec(
        ("demo @ file:///src/demo ; python_version >= '3'", "six==1.17.0", "other"),
        local_paths={"demo": "/src/demo"},
    )
    moved = spec.install_requirements().pointing_at({"demo": wheel, "six": wheel})
    first, rest = moved.text().split("\n", 1)
    assert rest == "six==1.17.0\nother\n"  # no URL: left as they were
    # older packaging releases write ``name@ url``, newer ``name @ url``: compare the parts
    demo = Requirement(first)
    assert (demo.name, demo.url, str(demo.marker)) == (
        "demo",
        wheel.resolve().as_uri(),
        'python_version >= "3"',
    )
    assert first.startswith("demo") and first.endswith(' ; python_version >= "3"')


def test_the_installer_reads_the_rendered_text_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The file uv reads is the rendered text, a URL's credentials swapped for a variable."""
    seen: list[tuple[str, dict[str, str]]] = []

    def run_child(argv: list[str], *, env: dict[str, str], **_: object) -> str:
        seen.append((Path(argv[argv.index("-r") + 1]).read_text(), env))
        return ""

    monkeypatch.setattr(install, "run_child", run_child)
    url = "demo @ https://ci:s3cr3t@files.example/demo-1.0-py3-none-any.whl"
    reqs = Requirements.of([url, "six==1.17.0"], {"demo": (H1,), "six": (H2,)})
    plan = InstallPlan(Target.for_runtime("python3.12", "arm64"), reqs)
    UvInstaller("uv", environ={}, host_python="/usr/bin/python3").install(plan, tmp_path)
    text, env = seen[0]
    assert text == (
        "demo @ https://${LAMBDA_WHEELS_URL_CREDENTIALS_0}@files.example/"
        "demo-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
        "six==1.17.0 \\\n"
        "    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222\n"
    )
    assert env["LAMBDA_WHEELS_URL_CREDENTIALS_0"] == "ci:s3cr3t"
