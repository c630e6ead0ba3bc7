"""What people moving from aws-lambda-python-alpha's PythonFunction expect, construct by construct.

Template tests assert with ``aws_cdk.assertions.Template`` (bundling skipped); bundling tests run
a real synth of a small function whose dependency comes from a local wheel folder (no network).
The hook tests use POSIX shell commands, so they run where there is a POSIX shell.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions
from lambda_wheels_cdk.cdk.bundling import staged_dir
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import CommandHookError, UsageError
from lambda_wheels_cdk.install.environment import INDEX_VARIABLES
from tests.support.index_server import IndexServer
from tests.support.packages import make_sdist, make_wheel

pytestmark = pytest.mark.cdk

PY311, PY312 = lambda_.Runtime.PYTHON_3_11, lambda_.Runtime.PYTHON_3_12
FAKE_DOCKER = Path(__file__).resolve().parents[1] / "support" / "fake_docker.py"
posix_shell = pytest.mark.skipif(os.name == "nt", reason="the hook commands are POSIX shell")


@pytest.fixture(autouse=True)
def _no_host_index(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, _ in INDEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def service(tmp_path: Path) -> Path:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "index.py").write_text("import lwdemo\n\ndef handler(e, c):\n    return 1\n")
    (folder / "requirements.txt").write_text("lwdemo==1.0\n")
    make_wheel(tmp_path / "wheels", "lwdemo", "1.0")
    return folder


def _local(tmp_path: Path, **kwargs: Any) -> WheelBundlingOptions:
    """Options that install from the test's wheel folder only."""
    return WheelBundlingOptions(find_links=[str(tmp_path / "wheels")], no_index=True, **kwargs)


def _fn(app: cdk.App, id: str = "Fn", **kwargs: Any) -> PythonWheelFunction:
    stack = app.node.try_find_child("S") or cdk.Stack(app, "S")
    return PythonWheelFunction(stack, id, runtime=kwargs.pop("runtime", PY312), **kwargs)  # type: ignore[arg-type]


def _skip() -> cdk.App:
    return cdk.App(context={"aws:cdk:bundling-stacks": []})


def _synth(tmp_path: Path, name: str, **kwargs: Any) -> tuple[PythonWheelFunction, Path]:
    app = cdk.App(outdir=str(tmp_path / name))
    fn = _fn(app, **kwargs)
    app.synth()
    staged = staged_dir(fn)
    assert staged is not None
    return fn, staged


def _s3_keys(stack: cdk.Stack) -> dict[str, str]:
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    return {
        logical: res["Properties"]["Code"]["S3Key"]
        for logical, res in functions.items()
        if "S3Key" in res["Properties"]["Code"]
    }


class Hooks:
    """A plain object with the two methods of aws-lambda-python-alpha's ICommandHooks."""

    def __init__(self, before: list[str], after: list[str]) -> None:
        self.before, self.after = before, after
        self.calls: list[tuple[str, str, str]] = []

    def before_bundling(self, input_dir: str, output_dir: str) -> list[str]:
        self.calls.append(("before", input_dir, output_dir))
        return [c.format(input=input_dir, output=output_dir) for c in self.before]

    def after_bundling(self, input_dir: str, output_dir: str) -> list[str]:
        self.calls.append(("after", input_dir, output_dir))
        return [c.format(input=input_dir, output=output_dir) for c in self.after]


# -- command hooks ----------------------------------------------------------------------------


@posix_shell
def test_hooks_run_in_order_before_in_input_after_in_output(
    service: Path, tmp_path: Path, bundle_cache: Path
) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    hooks = Hooks(
        before=[
            f'pwd > "{probe}/before_cwd"',
            f'test ! -e "{{output}}/lwdemo" && echo first > "{probe}/order"',
            f'echo second >> "{probe}/order"',
        ],
        after=[
            f'pwd > "{probe}/after_cwd"',
            'test -f "{output}/lwdemo/__init__.py" && test -f "{output}/index.py"',
            "echo made-by-after > GENERATED.txt",
        ],
    )
    _, staged = _synth(
        tmp_path, "out", entry=str(service), bundling=_local(tmp_path, command_hooks=hooks)
    )
    assert (probe / "before_cwd").read_text().strip() == str(service)
    assert (probe / "order").read_text().split() == ["first", "second"]
    # CDK's output folder, renamed to the staged asset once bundling succeeded
    assert Path((probe / "after_cwd").read_text().strip()) == staged.with_name(
        staged.name + "-building"
    )
    assert (staged / "GENERATED.txt").read_text().strip() == "made-by-after"
    # construction asked for the commands (for the hash), synth with the real folders
    synth_calls = [c for c in hooks.calls if not c[2].startswith("<")]
    assert [c[0] for c in synth_calls] == ["before", "after"]
    assert all(c[1] == str(service) for c in synth_calls)


@posix_shell
def test_a_failing_hook_fails_synth_naming_the_command_and_its_output(
    service: Path, tmp_path: Path, bundle_cache: Path
) -> None:
    marker = tmp_path / "never"
    hooks = Hooks(
        before=["true", "echo checking-things; echo broken >&2; exit 3", f'touch "{marker}"'],
        after=[],
    )
    app = cdk.App(outdir=str(tmp_path / "out"))
    with pytest.raises(CommandHookError) as info:
        _fn(app, entry=str(service), bundling=_local(tmp_path, command_hooks=hooks))
    message = str(info.value)
    assert "command_hooks.before_bundling command 2 of 3 failed (exit 3)" in message
    assert "echo checking-things; echo broken >&2; exit 3" in message
    assert "checking-things" in message and "broken" in message
    assert "lw-hook-" not in message  # our progress markers never show
    assert not marker.exists()


@posix_shell
def test_hooks_see_the_environment_and_its_secrets_stay_out_of_messages(
    service: Path, tmp_path: Path, bundle_cache: Path
) -> None:
    secret = "s3cr3t-hook-value-1234"
    probe = tmp_path / "env.txt"
    ok = Hooks(before=[f'echo "$LW_STAGE" > "{probe}"'], after=[])
    options = _local(
        tmp_path, command_hooks=ok, environment={"LW_STAGE": "prod", "API_TOKEN": secret}
    )
    _synth(tmp_path, "ok", entry=str(service), bundling=options)
    assert probe.read_text().strip() == "prod"

    leaky = Hooks(before=['echo "token is $API_TOKEN"; false'], after=[])
    options = _local(tmp_path, command_hooks=leaky, environment={"API_TOKEN": secret})
    with pytest.raises(CommandHookError) as info:
        _synth(tmp_path, "leak", entry=str(service), bundling=options)
    assert "token is ***" in str(info.value)
    assert secret not in str(info.value)


def test_hook_commands_enter_the_hash_but_not_the_checkout_path(
    service: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "elsewhere" / "svc"
    shutil.copytree(service, copy)

    def fingerprint(entry: Path, command: str) -> str | None:
        hooks = Hooks(before=[command + ' "{input}/x"'], after=[])
        fn = _fn(_skip(), entry=str(entry), bundling=_local(tmp_path, command_hooks=hooks))
        return fn.asset_hash

    base = fingerprint(service, "touch")
    assert fingerprint(copy, "touch") == base
    assert fingerprint(service, "rm -f") != base
    assert _fn(_skip(), entry=str(service), bundling=_local(tmp_path)).asset_hash != base


def test_hooks_must_return_a_list_of_commands(service: Path, tmp_path: Path) -> None:
    class Bad:
        def before_bundling(self, input_dir: str, output_dir: str) -> str:
            return "pytest"

        def after_bundling(self, input_dir: str, output_dir: str) -> list[str]:
            return []

    with pytest.raises(UsageError, match=r"before_bundling returned 'pytest'.*list"):
        _fn(_skip(), entry=str(service), bundling=_local(tmp_path, command_hooks=Bad()))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="has no before_bundling or after_bundling method"):
        WheelBundlingOptions(command_hooks=object())  # type: ignore[arg-type]


# -- environment ------------------------------------------------------------------------------


def test_environment_reaches_host_sdist_builds(
    service: Path, tmp_path: Path, bundle_cache: Path
) -> None:
    from tests.reliability.conftest import SENTINEL_VARIABLE, make_hooked_sdist

    make_hooked_sdist(tmp_path / "wheels", "lw-env-probe", label="built-with-env")
    sentinel = tmp_path / "sentinel.txt"
    options = _local(tmp_path, environment={SENTINEL_VARIABLE: str(sentinel)})
    _, staged = _synth(
        tmp_path, "out", entry=str(service), dependencies=["lw-env-probe"], bundling=options
    )
    assert (staged / "lw_env_probe" / "__init__.py").is_file()
    assert "built-with-env" in sentinel.read_text()


def test_environment_index_url_is_used_and_its_credentials_stay_out(
    service: Path, tmp_path: Path, bundle_cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "served", "lwdemo", "1.0")
    token, other = "envT0KEN-91b2c3", "envT0KEN-rotated-77"
    with IndexServer([wheel], auth=("ci", token)) as index:
        options = WheelBundlingOptions(
            environment={"PIP_INDEX_URL": index.url_with_credentials("ci", token)}
        )
        fn, staged = _synth(tmp_path, "out", entry=str(service), bundling=options)
        assert (staged / "lwdemo" / "__init__.py").is_file()
        assert index.requests_to("/simple/lwdemo/")
    rotated = WheelBundlingOptions(
        environment={"PIP_INDEX_URL": f"http://ci:{other}@{index.netloc}/simple"}
    )
    assert _fn(_skip(), entry=str(service), bundling=rotated).asset_hash == fn.asset_hash
    elsewhere = WheelBundlingOptions(environment={"PIP_INDEX_URL": "https://other.example/simple"})
    assert _fn(_skip(), entry=str(service), bundling=elsewhere).asset_hash != fn.asset_hash
    printed = capfd.readouterr()
    assert token not in printed.out + printed.err
    assert token not in repr(options)
    template = (tmp_path / "out" / "S.template.json").read_text()
    assert token not in template


def test_other_environment_values_do_not_change_the_hash(service: Path, tmp_path: Path) -> None:
    hashes = {
        _fn(
            _skip(), entry=str(service), bundling=_local(tmp_path, environment={"STAGE": v})
        ).asset_hash
        for v in ("dev", "prod")
    }
    assert len(hashes) == 1
    with pytest.raises(UsageError, match="environment has invalid entries"):
        WheelBundlingOptions(environment={"A=B": "x"})


# -- asset hash --------------------------------------------------------------------------------


def test_asset_hash_replaces_the_fingerprint(service: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.py").write_text("def handler(e, c):\n    return 2\n")
    app = _skip()
    a = _fn(app, "A", entry=str(service), bundling=WheelBundlingOptions(asset_hash="release-42"))
    b = _fn(app, "B", entry=str(other), bundling=WheelBundlingOptions(asset_hash="release-42"))
    c = _fn(app, "C", entry=str(other), bundling=WheelBundlingOptions(asset_hash="release-43"))
    d = _fn(app, "D", entry=str(other))
    stack = cdk.Stack.of(a)
    keys = _s3_keys(stack)
    key = {fn: keys[stack.get_logical_id(fn.node.default_child)] for fn in (a, b, c, d)}  # type: ignore[arg-type]
    assert key[a] == key[b]
    assert len({key[a], key[c], key[d]}) == 3
    assert a.asset_hash == "release-42" and d.asset_hash not in (None, "release-42")


def test_asset_hash_type_is_checked(service: Path) -> None:
    with pytest.raises(UsageError, match="must be CUSTOM"):
        WheelBundlingOptions(asset_hash="x", asset_hash_type=cdk.AssetHashType.SOURCE)
    with pytest.raises(UsageError, match="CUSTOM needs asset_hash"):
        WheelBundlingOptions(asset_hash_type=cdk.AssetHashType.CUSTOM)
    assert WheelBundlingOptions(asset_hash="x", asset_hash_type=cdk.AssetHashType.CUSTOM)


@posix_shell
def test_output_hash_follows_what_the_hooks_write(
    service: Path, tmp_path: Path, bundle_cache: Path
) -> None:
    """SOURCE (default) cannot see what a hook writes; OUTPUT hashes the bundle itself."""

    def staged_name(kind: cdk.AssetHashType | None, value: str, name: str) -> str:
        hooks = Hooks(before=[], after=['echo "$LW_VALUE" > version.txt'])
        options = _local(
            tmp_path, command_hooks=hooks, environment={"LW_VALUE": value}, asset_hash_type=kind
        )
        fn, staged = _synth(tmp_path, name, entry=str(service), bundling=options)
        assert (staged / "version.txt").read_text().strip() == value
        if kind == cdk.AssetHashType.OUTPUT:
            assert fn.asset_hash is None
        return staged.name

    output = cdk.AssetHashType.OUTPUT
    assert staged_name(output, "1", "o1") == staged_name(output, "1", "o2")
    assert staged_name(output, "1", "o3") != staged_name(output, "2", "o4")
    assert staged_name(None, "1", "s1") == staged_name(None, "2", "s2")


# -- build image -------------------------------------------------------------------------------


@pytest.mark.e2e  # the sdist's build requirements (setuptools) come from PyPI
@pytest.mark.skipif(sys.platform != "linux", reason="the Docker stand-in compiles on Linux")
def test_image_overrides_the_docker_build_image(
    tmp_path: Path, bundle_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = tmp_path / "native-svc"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(e, c):\n    return 1\n")
    make_sdist(tmp_path / "wheels", "lw-fixture-native", native=True)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("CDK_DOCKER", str(FAKE_DOCKER))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    image = "registry.example/team/build-python3.11:pinned"

    def native(**kwargs: Any) -> WheelBundlingOptions:
        return WheelBundlingOptions(find_links=[str(tmp_path / "wheels")], docker=True, **kwargs)

    def build(name: str, image: Any) -> tuple[PythonWheelFunction, Path]:
        options = native(image=image)
        return _synth(
            tmp_path,
            name,
            entry=str(entry),
            runtime=PY311,
            dependencies=["lw-fixture-native"],
            bundling=options,
        )

    fn, staged = build("custom", image)
    assert f" {image} python -m pip wheel" in log.read_text()
    assert "public.ecr.aws/sam" not in log.read_text()
    assert list((staged / "lw_fixture_native").glob("_native.cpython-311-*.so"))
    as_object = _fn(
        _skip(),
        entry=str(entry),
        runtime=PY311,
        dependencies=["lw-fixture-native"],
        bundling=native(image=cdk.DockerImage.from_registry(image)),
    )
    assert as_object.asset_hash == fn.asset_hash
    default = _fn(
        _skip(),
        entry=str(entry),
        runtime=PY311,
        dependencies=["lw-fixture-native"],
        bundling=native(),
    )
    assert default.asset_hash != fn.asset_hash
    with pytest.raises(UsageError, match="also pass docker=True"):
        WheelBundlingOptions(image=image)

    log.unlink()
    out = tmp_path / "cli-out"
    argv = ["build", "--runtime", "python3.11", "--arch", "x86_64", "-o", str(out)]
    argv += [
        "--find-links",
        str(tmp_path / "wheels"),
        "--docker",
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    assert main([*argv, "--docker-image", image, "lw-fixture-native"]) == 0
    assert f" {image} python -m pip wheel" in log.read_text()


# -- layers take the same options ---------------------------------------------------------------


@posix_shell
def test_layer_hooks_and_asset_hash(service: Path, tmp_path: Path, bundle_cache: Path) -> None:
    probe = tmp_path / "layer-probe"
    hooks = Hooks(before=[f'pwd > "{probe}"'], after=["test -d python"])
    app = cdk.App(outdir=str(tmp_path / "layer-out"))
    options = _local(tmp_path, command_hooks=hooks)
    layer = PythonWheelLayer(
        cdk.Stack(app, "L"),
        "Deps",
        dependencies=str(service),
        compatible_runtimes=[PY312],
        bundling=options,
    )
    app.synth()
    assert probe.read_text().strip() == str(service)
    assert layer.asset_hash and re.fullmatch(r"[0-9a-f]{64}", layer.asset_hash)
    custom = PythonWheelLayer(
        cdk.Stack(_skip(), "L"),
        "Deps",
        dependencies=["lwdemo"],
        compatible_runtimes=[PY312],
        bundling=WheelBundlingOptions(asset_hash="layer-v7"),
    )
    assert custom.asset_hash == "layer-v7"
