"""Pipfile.lock: categories, sources, path and file entries, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_wheels_cdk.inputs.detect import load
from lambda_wheels_cdk.inputs.pipfile import load_pipfile_lock
from lambda_wheels_cdk.inputs.spec import IndexSettings
from tests.support.inputs import FIXTURES, SECRET, SIX_HASHES, error_of, make_project, write


def test_pipfile_lock_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERNAL_INDEX_TOKEN", SECRET)
    spec = load_pipfile_lock(FIXTURES / "pipfile" / "Pipfile.lock")
    assert spec.requirements == (
        'certifi==2026.10.19.post1; python_version >= "3.7"',
        'charset-normalizer==3.5.3; python_version >= "3.7"',
        'idna==3.20; python_version >= "3.8"',
        "orders-auth==1.4.2",
        "pysocks==1.7.1",
        'requests[socks]==2.32.3; python_version >= "3.8"',
        'urllib3==2.6.3; python_version >= "3.9"',
    )
    assert spec.index == IndexSettings(
        extra_index_urls=(f"https://__token__:{SECRET}@pkgs.example.com/simple",)
    )
    assert spec.locked and spec.hash_checking and len(spec.hashes["pysocks"]) == 3
    assert SECRET not in repr(spec) and SECRET not in json.dumps(spec.index.fingerprint_data())
    both = load(FIXTURES / "pipfile", groups=["dev"])
    assert both.names[-4:] == ("iniconfig", "packaging", "pluggy", "pytest")
    assert load(FIXTURES / "pipfile", groups=["develop"]).names == both.names


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"git": f"https://u:{SECRET}@github.com/o/r.git", "ref": "abc"},
            "'pkg' comes from a version control repository",
        ),
        ({"version": "*"}, "'pkg' is not pinned (version '*'): run `pipenv lock`"),
        ({"version": "==1.0", "markers": "python_version >>> '3'"}, "is not a valid marker"),
        ({"version": "==1.0", "hashes": "sha256:abc"}, "hashes must be an array"),
        ({"version": "==not a version!"}, "does not make a valid pin"),
        ({"path": "./nope"}, "'pkg' points to './nope', which does not exist"),
        ("==1.0", "'pkg' must be a table, not a string"),
    ],
)
def test_pipfile_lock_entry_errors(tmp_path: Path, entry: object, expected: str) -> None:
    data = {"_meta": {"sources": []}, "default": {"ok": {"version": "==1"}, "pkg": entry}}
    message = error_of(
        load_pipfile_lock, write(tmp_path, "Pipfile.lock", json.dumps(data, indent=4))
    )
    assert message.startswith("Pipfile.lock:") and expected in message and SECRET not in message


def test_pipfile_lock_path_and_file_entries(tmp_path: Path) -> None:
    make_project(tmp_path / "lib")
    data = {
        "_meta": {
            "sources": [
                {"name": "mirror", "url": "https://mirror.example.com/simple", "verify_ssl": True}
            ]
        },
        "default": {
            "my-lib": {"editable": True, "path": "./lib"},
            "remote": {
                "file": "https://h.example.com/remote-1.0-py3-none-any.whl",
                "hashes": [SIX_HASHES[0]],
            },
        },
    }
    spec = load_pipfile_lock(write(tmp_path, "Pipfile.lock", json.dumps(data)))
    assert spec.requirements == (
        f"my-lib @ {(tmp_path / 'lib').as_uri()}",
        "remote @ https://h.example.com/remote-1.0-py3-none-any.whl",
    )
    assert spec.index.index_url == "https://mirror.example.com/simple"


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (
            '{"_meta": {}, "default": {}}',
            {"categories": ["docs"]},
            "category 'docs' is not in the lock (categories: default)",
        ),
        ("[1, 2]", {}, "has no _meta section"),
        ('{\n  "_meta": {,\n}', {}, "Pipfile.lock:2: not valid JSON"),
    ],
)
def test_pipfile_lock_errors(
    tmp_path: Path, text: str, kwargs: dict[str, list[str]], expected: str
) -> None:
    assert expected in error_of(load_pipfile_lock, write(tmp_path, "Pipfile.lock", text), **kwargs)
