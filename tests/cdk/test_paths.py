"""Relative paths in construct arguments, from a working directory that is not the app's folder.

The rule (README, "Relative paths"): a function looks a relative path up in its ``entry``
first (as aws-lambda-python-alpha reads dependency files from ``entry``), then in the working
directory (as CDK resolves asset paths); a layer looks in its dependency file's folder, then
the working directory. Errors name every absolute path tried. Every test runs from an "odd"
working directory: a sibling folder that holds none of the inputs.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions
from lambda_wheels_cdk.cdk.bundling import staged_dir
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import InputError
from tests.support.packages import make_wheel

pytestmark = pytest.mark.cdk

PY312 = lambda_.Runtime.PYTHON_3_12


@pytest.fixture
def odd_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "somewhere-else"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """An entry folder with a handler, a requirements file and a local wheel folder."""
    folder = tmp_path / "app" / "handler"
    folder.mkdir(parents=True)
    (folder / "index.py").write_text("import lwpathdemo\n\ndef handler(e, c):\n    return 1\n")
    (folder / "requirements.txt").write_text("lwpathdemo==1.0\n")
    make_wheel(folder / "wheels", "lwpathdemo", "1.0")
    return folder


def _fn(app: cdk.App, **kwargs: object) -> PythonWheelFunction:
    return PythonWheelFunction(cdk.Stack(app, "S"), "Fn", runtime=PY312, **kwargs)  # type: ignore[arg-type]


def _skip() -> cdk.App:
    return cdk.App(context={"aws:cdk:bundling-stacks": []})


def test_dependencies_file_is_found_in_entry_first(service: Path, odd_cwd: Path) -> None:
    relative = _fn(_skip(), entry=str(service), dependencies="requirements.txt")
    absolute = _fn(_skip(), entry=str(service), dependencies=str(service / "requirements.txt"))
    assert relative.asset_hash == absolute.asset_hash


def test_dependencies_file_falls_back_to_the_working_directory(
    service: Path, odd_cwd: Path
) -> None:
    (odd_cwd / "deps").mkdir()
    (odd_cwd / "deps" / "requirements.txt").write_text("six==1.17.0\n")
    from_cwd = _fn(_skip(), entry=str(service), dependencies="deps/requirements.txt")
    from_entry = _fn(_skip(), entry=str(service), dependencies="requirements.txt")
    assert from_cwd.asset_hash != from_entry.asset_hash


def test_missing_dependencies_file_names_every_path_tried(service: Path, odd_cwd: Path) -> None:
    with pytest.raises(InputError) as info:
        _fn(_skip(), entry=str(service), dependencies="reqs/missing.txt")
    message = str(info.value)
    assert str(service / "reqs" / "missing.txt") in message
    assert str(odd_cwd / "reqs" / "missing.txt") in message
    assert "'Fn'" in message


def test_missing_entry_names_the_absolute_path(odd_cwd: Path) -> None:
    with pytest.raises(InputError, match="entry") as info:
        _fn(_skip(), entry="handler")
    assert str(odd_cwd / "handler") in str(info.value)


def test_relative_entry_resolves_against_the_working_directory(
    service: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(service.parent)
    fn = _fn(_skip(), entry="handler", dependencies="requirements.txt")
    assert fn.asset_hash == _fn(_skip(), entry=str(service)).asset_hash


def test_find_links_is_found_in_entry_and_installs(
    service: Path, odd_cwd: Path, bundle_cache: Path
) -> None:
    app = cdk.App(outdir=str(odd_cwd / "cdk.out"))
    options = WheelBundlingOptions(find_links=["wheels"], no_index=True)
    fn = _fn(app, entry=str(service), dependencies="requirements.txt", bundling=options)
    app.synth()
    staged = _staged(fn)
    assert (staged / "lwpathdemo" / "__init__.py").is_file()
    assert (staged / "index.py").is_file()


def test_inline_list_paths_are_found_in_entry(
    service: Path, odd_cwd: Path, bundle_cache: Path
) -> None:
    app = cdk.App(outdir=str(odd_cwd / "cdk.out"))
    fn = _fn(
        app,
        entry=str(service),
        dependencies=["./wheels/lwpathdemo-1.0-py3-none-any.whl"],
        bundling=WheelBundlingOptions(no_index=True),
    )
    app.synth()
    staged = _staged(fn)
    assert (staged / "lwpathdemo" / "__init__.py").is_file()


def test_missing_find_links_names_every_path_tried(service: Path, odd_cwd: Path) -> None:
    options = WheelBundlingOptions(find_links=["vendor"], no_index=True)
    with pytest.raises(InputError) as info:
        _fn(_skip(), entry=str(service), dependencies=["six"], bundling=options)
    assert str(service / "vendor") in str(info.value)
    assert str(odd_cwd / "vendor") in str(info.value)


def test_layer_looks_in_its_dependency_folder_then_the_working_directory(
    service: Path, odd_cwd: Path, bundle_cache: Path
) -> None:
    app = cdk.App(outdir=str(odd_cwd / "cdk.out"))
    layer = PythonWheelLayer(
        cdk.Stack(app, "L"),
        "Deps",
        dependencies=str(service / "requirements.txt"),
        compatible_runtimes=[PY312],
        bundling=WheelBundlingOptions(find_links=["wheels"], no_index=True),
    )
    app.synth()
    staged = _staged(layer)
    assert (staged / "python" / "lwpathdemo" / "__init__.py").is_file()
    with pytest.raises(InputError) as info:
        PythonWheelLayer(
            cdk.Stack(_skip(), "L"),
            "Deps",
            dependencies="requirements.txt",
            compatible_runtimes=[PY312],
        )
    assert str(odd_cwd / "requirements.txt") in str(info.value)


def test_relative_cache_dir_is_fixed_at_construction(
    service: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache_dir relative to the app's folder stays there when the app synthesizes later
    from another working directory."""
    monkeypatch.chdir(service.parent)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    options = WheelBundlingOptions(find_links=["wheels"], no_index=True, cache_dir="lw-cache")
    _fn(app, entry="handler", dependencies="requirements.txt", bundling=options)
    elsewhere = tmp_path / "later"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app.synth()
    assert (service.parent / "lw-cache" / "v1" / "deps").is_dir()
    assert not (elsewhere / "lw-cache").exists()


def test_cli_missing_find_links_names_the_absolute_path(
    odd_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["build", "--runtime", "python3.12", "--arch", "x86_64", "-o", "out"]
    assert main([*argv, "--no-index", "--find-links", "vendor", "six"]) == 2
    assert str(odd_cwd / "vendor") in capsys.readouterr().err
    assert not (odd_cwd / "out").exists()


def _staged(construct: PythonWheelFunction | PythonWheelLayer) -> Path:
    staged = staged_dir(construct)
    assert staged is not None, "the asset was not staged"
    return staged
