"""PythonWheelFunction / PythonWheelLayer: templates and construction-time validation.

Bundling is skipped here (``aws:cdk:bundling-stacks = []``): these tests are about what the
constructs put in the template and what they refuse. Bundling is tested in test_synth.py.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match, Template

from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions
from lambda_wheels_cdk.errors import (
    InputError,
    UnsupportedArchitectureError,
    UnsupportedRuntimeError,
    UsageError,
)

pytestmark = pytest.mark.cdk


def _stack(app: cdk.App) -> cdk.Stack:
    return cdk.Stack(app, "Test")


def test_function_template(no_bundling_app: cdk.App, entry: Path) -> None:
    stack = _stack(no_bundling_app)
    PythonWheelFunction(
        stack,
        "Fn",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        memory_size=256,
        environment={"STAGE": "test"},
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "index.handler",
            "MemorySize": 256,
            "Environment": {"Variables": {"STAGE": "test"}},
        },
    )


def test_nested_index_gives_dotted_handler(no_bundling_app: cdk.App, entry: Path) -> None:
    stack = _stack(no_bundling_app)
    PythonWheelFunction(
        stack,
        "Fn",
        entry=str(entry),
        index="pkg/app.py",
        handler="main",
        runtime=lambda_.Runtime.PYTHON_3_11,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "pkg.app.main", "Runtime": "python3.11", "Architectures": ["x86_64"]},
    )


def test_layer_template_and_attachment(no_bundling_app: cdk.App, entry: Path) -> None:
    stack = _stack(no_bundling_app)
    layer = PythonWheelLayer(
        stack,
        "Deps",
        dependencies=["orjson"],
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13],
        compatible_architectures=[lambda_.Architecture.ARM_64],
    )
    PythonWheelFunction(
        stack,
        "Fn",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.ARM_64,
        layers=[layer],
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.12", "python3.13"], "CompatibleArchitectures": ["arm64"]},
    )
    layer_id = stack.get_logical_id(layer.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties("AWS::Lambda::Function", {"Layers": [{"Ref": layer_id}]})
    assert [str(t) for t in layer.targets] == ["python3.12/arm64", "python3.13/arm64"]


def test_asset_hash_is_independent_of_absolute_path(tmp_path: Path, entry: Path) -> None:
    import shutil

    copy = tmp_path / "elsewhere" / "deeper" / "svc"
    shutil.copytree(entry, copy)
    (entry / "requirements.txt").write_text("six==1.16.0\n")
    (copy / "requirements.txt").write_text("six==1.16.0\n")
    hashes = []
    for folder in (entry, copy):
        app = cdk.App(context={"aws:cdk:bundling-stacks": []})
        fn = PythonWheelFunction(
            cdk.Stack(app, "S"), "Fn", entry=str(folder), runtime=lambda_.Runtime.PYTHON_3_12
        )
        hashes.append(fn.asset_hash)
    assert hashes[0] == hashes[1]
    (copy / "index.py").write_text("def handler(e, c):\n    return 2\n")
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    changed = PythonWheelFunction(
        cdk.Stack(app, "S"), "Fn", entry=str(copy), runtime=lambda_.Runtime.PYTHON_3_12
    )
    assert changed.asset_hash != hashes[0]


def test_asset_hash_ignores_index_credentials(entry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = []
    for token in ("first-token", "second-token"):
        monkeypatch.setenv("PIP_INDEX_URL", f"https://ci:{token}@pkgs.example/simple")
        app = cdk.App(context={"aws:cdk:bundling-stacks": []})
        fn = PythonWheelFunction(
            cdk.Stack(app, "S"),
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            dependencies=["six"],
        )
        hashes.append(fn.asset_hash)
    assert hashes[0] == hashes[1]
    monkeypatch.setenv("PIP_INDEX_URL", "https://ci:first-token@other.example/simple")
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    fn = PythonWheelFunction(
        cdk.Stack(app, "S"),
        "Fn",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_12,
        dependencies=["six"],
    )
    assert fn.asset_hash != hashes[0]


# -- refusals ----------------------------------------------------------------------------------


def test_non_python_runtime(no_bundling_app: cdk.App, entry: Path) -> None:
    with pytest.raises(UnsupportedRuntimeError, match=r"nodejs20.x.*python3.12"):
        PythonWheelFunction(
            _stack(no_bundling_app), "Fn", entry=str(entry), runtime=lambda_.Runtime.NODEJS_20_X
        )


def test_deprecated_runtime(no_bundling_app: cdk.App, entry: Path) -> None:
    with pytest.raises(UnsupportedRuntimeError, match="deprecated"):
        PythonWheelFunction(
            _stack(no_bundling_app), "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_8
        )


def test_missing_entry(no_bundling_app: cdk.App, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"entry .*nope.*: no such folder; looked for"):
        PythonWheelFunction(
            _stack(no_bundling_app),
            "Fn",
            entry=str(tmp_path / "nope"),
            runtime=lambda_.Runtime.PYTHON_3_12,
        )


def test_missing_index(no_bundling_app: cdk.App, entry: Path) -> None:
    with pytest.raises(InputError, match=r"index file 'main.py' was not found"):
        PythonWheelFunction(
            _stack(no_bundling_app),
            "Fn",
            entry=str(entry),
            index="main.py",
            runtime=lambda_.Runtime.PYTHON_3_12,
        )


def test_code_is_rejected(no_bundling_app: cdk.App, entry: Path) -> None:
    with pytest.raises(UsageError, match="'code' is set by PythonWheelFunction"):
        PythonWheelFunction(
            _stack(no_bundling_app),
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            code=lambda_.Code.from_inline("x"),
        )


def test_missing_dependency_file(no_bundling_app: cdk.App, entry: Path) -> None:
    with pytest.raises(InputError, match=r"dependencies .*missing.txt.*: no such file or folder"):
        PythonWheelFunction(
            _stack(no_bundling_app),
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            dependencies=str(entry / "missing.txt"),
        )


def test_layer_of_wrong_architecture(no_bundling_app: cdk.App, entry: Path) -> None:
    stack = _stack(no_bundling_app)
    layer = PythonWheelLayer(
        stack,
        "Deps",
        dependencies=["orjson"],
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        compatible_architectures=[lambda_.Architecture.X86_64],
    )
    with pytest.raises(UsageError, match="built for x86_64 but the function runs on arm64"):
        PythonWheelFunction(
            stack,
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            layers=[layer],
        )
    fn = PythonWheelFunction(
        stack,
        "Fn2",
        entry=str(entry),
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
    )
    with pytest.raises(UsageError, match="one PythonWheelLayer per architecture"):
        fn.add_layers(layer)


def test_layer_missing_the_function_runtime(no_bundling_app: cdk.App, entry: Path) -> None:
    stack = _stack(no_bundling_app)
    layer = PythonWheelLayer(
        stack, "Deps", dependencies=["orjson"], compatible_runtimes=[lambda_.Runtime.PYTHON_3_12]
    )
    with pytest.raises(UsageError, match=r"add python3.13 to the layer's compatible_runtimes"):
        PythonWheelFunction(
            stack, "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_13, layers=[layer]
        )


def test_layer_with_two_architectures(no_bundling_app: cdk.App) -> None:
    with pytest.raises(UnsupportedArchitectureError, match="one PythonWheelLayer per architecture"):
        PythonWheelLayer(
            _stack(no_bundling_app),
            "Deps",
            dependencies=["orjson"],
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
        )


def test_bad_bundling_option() -> None:
    with pytest.raises(UsageError, match="installer 'poetry' is not supported"):
        WheelBundlingOptions(installer="poetry")  # type: ignore[arg-type]


def test_validation_happens_even_when_bundling_is_skipped(
    no_bundling_app: cdk.App, entry: Path
) -> None:
    stack = _stack(no_bundling_app)
    assert not stack.bundling_required
    with pytest.raises(InputError):
        PythonWheelFunction(
            stack, "Fn", entry=str(entry), index="x.py", runtime=lambda_.Runtime.PYTHON_3_12
        )


def test_lazy_exports_match_all() -> None:
    import lambda_wheels_cdk

    for name in lambda_wheels_cdk.__all__:
        assert getattr(lambda_wheels_cdk, name) is not None
    _ = Match  # assertions helpers are importable alongside


# -- runtime lifecycle: a synth warning, never an error ---------------------------------------


def _dated_app(tmp_path: Path, today: str) -> cdk.App:
    context = {"aws:cdk:bundling-stacks": [], "lambda-wheels:today": today}
    return cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)


def test_a_deprecated_runtime_warns_at_synth_naming_its_dates(tmp_path: Path, entry: Path) -> None:
    stack = _stack(_dated_app(tmp_path, "2026-12-04"))
    PythonWheelFunction(stack, "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_10)
    PythonWheelFunction(stack, "Current", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_12)
    annotations = Annotations.from_stack(stack)
    annotations.has_warning(
        "/Test/Fn",
        Match.string_like_regexp(
            r"python3\.10 is deprecated on AWS Lambda since 2026-10-31.*creating new functions "
            r"on it is blocked since 2026-11-30.*can still be updated until 2027-01-15.*"
            r"\[ack: lambda-wheels:deprecated-runtime:python3\.10\]"
        ),
    )
    annotations.has_no_warning("/Test/Current", Match.any_value())
    annotations.has_no_error("*", Match.any_value())
    Template.from_stack(stack).resource_count_is("AWS::Lambda::Function", 2)


def test_a_layer_warns_once_per_deprecated_runtime(tmp_path: Path) -> None:
    stack = _stack(_dated_app(tmp_path, "2026-12-04"))
    runtimes = [
        lambda_.Runtime.PYTHON_3_9,
        lambda_.Runtime.PYTHON_3_10,
        lambda_.Runtime.PYTHON_3_12,
    ]
    PythonWheelLayer(stack, "Deps", dependencies=["six"], compatible_runtimes=runtimes)
    warnings = Annotations.from_stack(stack).find_warning("/Test/Deps", Match.any_value())
    texts = sorted(str(w.entry.data) for w in warnings)
    assert len(texts) == 2, texts
    assert "python3.10 is deprecated on AWS Lambda since 2026-10-31" in texts[0]
    assert "python3.9 is deprecated on AWS Lambda since 2025-12-15" in texts[1]


def test_before_the_deprecation_date_there_is_no_warning(tmp_path: Path, entry: Path) -> None:
    stack = _stack(_dated_app(tmp_path, "2026-10-30"))
    PythonWheelFunction(stack, "Fn", entry=str(entry), runtime=lambda_.Runtime.PYTHON_3_10)
    Annotations.from_stack(stack).has_no_warning("*", Match.any_value())


def test_a_bad_today_context_is_refused(tmp_path: Path, entry: Path) -> None:
    with pytest.raises(UsageError, match=r"lambda-wheels:today='soon' is not a date; pass YYYY"):
        PythonWheelFunction(
            _stack(_dated_app(tmp_path, "soon")),
            "Fn",
            entry=str(entry),
            runtime=lambda_.Runtime.PYTHON_3_12,
        )
