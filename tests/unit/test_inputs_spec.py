"""DependencySpec and IndexSettings: credentials masked in every output, merging, fingerprints
(independent of locations and tokens, dependent on content), value semantics.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.detect import load
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.inputs.spec import DependencySpec, IndexSettings
from lambda_wheels_cdk.urls import redact_text, redact_url
from tests.support.inputs import SECRET, SIX_HASHES, error_of, make_project, write


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@host/simple", "https://user:***@host/simple"),
        ("https://tok@host", "https://***@host"),
        (
            "https://__token__:pypi-AgE@pkgs.example.com/simple/",
            "https://__token__:***@pkgs.example.com/simple/",
        ),
        ("https://u:p@ss@host/x?y=1", "https://u:***@host/x?y=1"),
        ("https://user:@host/", "https://user:***@host/"),
        ("git+https://u:p@github.com/o/r.git@v1", "git+https://u:***@github.com/o/r.git@v1"),
        ("https://host/simple", "https://host/simple"),
        ("https://host/path@not-userinfo", "https://host/path@not-userinfo"),
        ("/abs/local/path", "/abs/local/path"),
        ("not a url at all", "not a url at all"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_every_url_in_a_line() -> None:
    text = f"--index-url https://u:{SECRET}@a/simple and x @ https://{SECRET}@b/x.whl"
    redacted = redact_text(text)
    assert SECRET not in redacted
    assert "https://u:***@a/simple" in redacted and "https://***@b/x.whl" in redacted


# -- IndexSettings ----------------------------------------------------------------------------


FILE_INDEX = IndexSettings(
    index_url="https://file/simple",
    extra_index_urls=("https://a/simple", "https://b/simple"),
    find_links=("/wheels",),
    no_index=False,
)


@pytest.mark.parametrize(
    ("base", "explicit", "expected"),
    [
        (FILE_INDEX, IndexSettings(), FILE_INDEX),
        (
            FILE_INDEX,
            IndexSettings(
                index_url="https://explicit/simple",
                extra_index_urls=("https://b/simple", "https://c/simple"),
            ),
            IndexSettings(
                "https://explicit/simple",
                ("https://b/simple", "https://c/simple", "https://a/simple"),
                ("/wheels",),
                False,
            ),
        ),
        (
            IndexSettings(no_index=True, find_links=("/w",)),
            IndexSettings(index_url="https://explicit/simple"),
            IndexSettings("https://explicit/simple", (), ("/w",), False),
        ),
        (
            IndexSettings(no_index=True),
            IndexSettings(extra_index_urls=("https://x/simple",)),
            IndexSettings(None, ("https://x/simple",), (), True),
        ),
        (
            FILE_INDEX,
            IndexSettings(no_index=True),
            IndexSettings(
                "https://file/simple", ("https://a/simple", "https://b/simple"), ("/wheels",), True
            ),
        ),
    ],
)
def test_index_settings_merged(
    base: IndexSettings, explicit: IndexSettings, expected: IndexSettings
) -> None:
    assert base.merged(explicit) == expected


def test_index_settings_redacted_and_repr_hide_secrets() -> None:
    index = IndexSettings(
        index_url=f"https://__token__:{SECRET}@pkgs/simple",
        extra_index_urls=(f"https://{SECRET}@extra/simple",),
        find_links=(f"https://u:{SECRET}@links/",),
    )
    red = index.redacted()
    assert red == IndexSettings(
        "https://__token__:***@pkgs/simple",
        ("https://***@extra/simple",),
        ("https://u:***@links/",),
    )
    assert SECRET not in repr(index) and SECRET not in str(index)
    assert SECRET not in json.dumps(index.fingerprint_data())


def test_index_fingerprint_drops_credentials_entirely() -> None:
    one = IndexSettings(
        index_url="https://u:one@pkgs/simple", extra_index_urls=("https://tok1@x/simple",)
    )
    two = IndexSettings(
        index_url="https://u:two@pkgs/simple", extra_index_urls=("https://tok2@x/simple",)
    )
    assert one.fingerprint_data() == two.fingerprint_data()
    assert one.fingerprint_data()["index_url"] == "https://pkgs/simple"
    other_host = IndexSettings(index_url="https://u:one@other/simple")
    assert other_host.fingerprint_data() != one.fingerprint_data()


def test_find_links_folder_fingerprint_is_its_content_not_its_path(tmp_path: Path) -> None:
    for folder in ("a/wheels", "b/deep/wheels"):
        write(tmp_path, f"{folder}/six-1.17.0-py2.py3-none-any.whl", "wheel bytes")
        write(tmp_path, f"{folder}/notes.txt", "ignored: not a distribution")
    a = IndexSettings(find_links=(str(tmp_path / "a/wheels"),)).fingerprint_data()
    b = IndexSettings(find_links=(str(tmp_path / "b/deep/wheels"),)).fingerprint_data()
    assert a == b and str(tmp_path) not in json.dumps(a)
    write(tmp_path, "b/deep/wheels/notes.txt", "changed, still ignored")
    assert IndexSettings(find_links=(str(tmp_path / "b/deep/wheels"),)).fingerprint_data() == a
    write(tmp_path, "b/deep/wheels/six-1.17.0-py2.py3-none-any.whl", "other wheel bytes")
    assert IndexSettings(find_links=(str(tmp_path / "b/deep/wheels"),)).fingerprint_data() != a
    as_url = IndexSettings(find_links=((tmp_path / "a/wheels").as_uri(),)).fingerprint_data()
    assert as_url == a


def test_missing_find_links_folder_is_an_input_error(tmp_path: Path) -> None:
    message = error_of(IndexSettings(find_links=(str(tmp_path / "nope"),)).fingerprint_data)
    assert "does not exist" in message and "--find-links" in message


# -- fingerprint ------------------------------------------------------------------------------


def build_tree(root: Path, *, version: str = "1.17.0", token: str = "tok-1") -> Path:
    make_project(root / "libs" / "shared")
    write(root, "wheels/internal-1.0-py3-none-any.whl", "internal wheel")
    write(
        root,
        "requirements.txt",
        f"--index-url https://__token__:{token}@pkgs.example.com/simple\n"
        "--find-links ./wheels\n"
        f"six=={version}\n"
        "./libs/shared\n"
        "internal\n",
    )
    return root / "requirements.txt"


def test_fingerprint_is_stable_across_locations_and_tokens(tmp_path: Path) -> None:
    base = load(build_tree(tmp_path / "checkout-a")).fingerprint()
    assert load(build_tree(tmp_path / "elsewhere" / "checkout b")).fingerprint() == base
    assert load(build_tree(tmp_path / "c", token="rotated-token")).fingerprint() == base
    assert load(build_tree(tmp_path / "d", version="1.16.0")).fingerprint() != base
    changed = tmp_path / "e"
    build_tree(changed)
    write(changed, "libs/shared/src/mod.py", "VALUE = 2\n")
    assert load(changed / "requirements.txt").fingerprint() != base
    ignored = tmp_path / "f"
    build_tree(ignored)
    write(ignored, "libs/shared/__pycache__/mod.cpython-312.pyc", "bytecode")
    write(ignored, "libs/shared/.venv/lib/x.py", "a virtualenv")
    assert load(ignored / "requirements.txt").fingerprint() == base
    wheels = tmp_path / "g"
    build_tree(wheels)
    write(wheels, "wheels/internal-1.1-py3-none-any.whl", "a new wheel")
    assert load(wheels / "requirements.txt").fingerprint() != base


def test_fingerprint_ignores_origin_and_hash_order_but_not_content(tmp_path: Path) -> None:
    a = DependencySpec(("six==1.17.0",), hashes={"six": SIX_HASHES}, origin="requirements.txt")
    b = DependencySpec(
        ("six==1.17.0",), hashes={"six": SIX_HASHES[::-1]}, origin="uv.lock", locked=True
    )
    assert a.fingerprint() == b.fingerprint()
    c = DependencySpec(("six==1.17.0",), hashes={"six": SIX_HASHES[:1]})
    assert c.fingerprint() != a.fingerprint()
    d = DependencySpec(("six==1.17.0",), constraints=("idna<4",), hashes={"six": SIX_HASHES})
    assert d.fingerprint() != a.fingerprint()
    e = DependencySpec(("six==1.17.0; python_version >= '3'",), hashes={"six": SIX_HASHES})
    assert e.fingerprint() != a.fingerprint()
    assert len(a.fingerprint()) == 64 and int(a.fingerprint(), 16) >= 0


def test_fingerprint_of_direct_url_drops_credentials() -> None:
    one = from_list(["p @ https://u:one@h/p-1.0-py3-none-any.whl"])
    two = from_list(["p @ https://u:two@h/p-1.0-py3-none-any.whl"])
    assert one.fingerprint() == two.fingerprint()
    assert one.redacted().requirements == ("p @ https://u:***@h/p-1.0-py3-none-any.whl",)


def test_fingerprint_of_a_vanished_local_path(tmp_path: Path) -> None:
    make_project(tmp_path / "lib")
    spec = from_list(["./lib"], base_dir=tmp_path)
    shutil.rmtree(tmp_path / "lib")
    assert "no longer exists" in error_of(spec.fingerprint)


# -- DependencySpec ----------------------------------------------------------------------------


def test_spec_value_semantics() -> None:
    lists = DependencySpec(["six", "idna", "six"], hashes={"six": ["sha256:" + "0" * 64]})  # type: ignore[arg-type, dict-item]
    spec = lists
    assert spec.requirements == ("six", "idna", "six") and spec.names == ("six", "idna")
    assert spec.hashes["six"] == ("sha256:" + "0" * 64,)
    assert not spec.hash_checking  # idna has none
    assert spec == DependencySpec(("six", "idna", "six"), hashes={"six": ("sha256:" + "0" * 64,)})
    with pytest.raises(AttributeError):
        spec.origin = "x"  # type: ignore[misc]
    assert DependencySpec(()).requirements_txt() == "" and not DependencySpec(()).hash_checking
    message = error_of(DependencySpec, ("six", f"bad=== @ https://u:{SECRET}@h"), origin="x")
    assert message.startswith("x: ") and SECRET not in message
