"""PythonWheelFunction: a Lambda function whose bundle holds wheels for its runtime and arch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IValidation

from ..errors import InputError, UsageError
from ..inputs.paths import find_path, lookup_bases
from ..install.dists import Distribution, read_distributions
from ..target.runtimes import UNZIPPED_LIMIT_BYTES, unzipped_size_text
from ..target.target import Target
from ..tree import tree_size
from .bundling import (
    DependencyInput,
    WheelAsset,
    WheelLocalBundling,
    construct_with_code,
    resolve_input,
    staged_dir,
)
from .options import WheelBundlingOptions
from .target import synth_day, target_for, warn_if_deprecated


class PythonWheelFunction(lambda_.Function):
    """A Python Lambda function bundled with wheels that run on its runtime and architecture.

    Dependencies are installed for ``runtime`` + ``architecture`` (not for the machine running
    ``cdk synth``), audited, and staged as a CDK asset whose hash depends only on the inputs.

    Args:
        scope: the parent construct.
        id: the construct id.
        entry: folder with the handler source; copied into the bundle (with excludes). A
            relative path is relative to the working directory. Relative paths in
            ``dependencies``, ``find_links`` and inline requirement lists are looked up in
            ``entry`` first, then in the working directory.
        index: the handler file, relative to ``entry``. Default: ``index.py``. A nested path
            (``pkg/app.py``) gives the handler ``pkg.app.<handler>``.
        handler: the function in ``index``. Default: ``handler``.
        runtime: a Lambda Python runtime, python3.9 ... python3.14 (required).
        architecture: Default: ``Architecture.X86_64``.
        dependencies: Default: auto-detected in ``entry`` (pylock.toml, uv.lock, poetry.lock,
            Pipfile.lock, requirements.txt, pyproject.toml, in that order; none is fine). A
            string is a requirements/lock/pyproject file (or a folder to detect in); a list of
            strings is an inline requirement list.
        bundling: :class:`WheelBundlingOptions`. Default: uv, wheels only, audit strict.
        **function_options: every other ``aws_lambda.FunctionOptions`` keyword (``memory_size``,
            ``timeout``, ``environment``, ``layers``, ...). ``code`` is not accepted.

    Raises:
        UnsupportedRuntimeError / UnsupportedArchitectureError / InputError / UsageError: at
        construction, also when bundling is skipped.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        entry: str,
        runtime: lambda_.Runtime,
        index: str = "index.py",
        handler: str = "handler",
        architecture: Optional[lambda_.Architecture] = None,
        dependencies: DependencyInput = None,
        bundling: Optional[WheelBundlingOptions] = None,
        **function_options: Any,
    ) -> None:
        what = f"PythonWheelFunction {id!r}"
        for owned in ("code", "handler_name"):
            if owned in function_options:
                raise UsageError(
                    f"{what}: {owned!r} is set by PythonWheelFunction from entry/index/handler; "
                    "use aws_lambda.Function to pass your own code"
                )
        architecture = architecture or lambda_.Architecture.X86_64
        target = target_for(runtime, architecture, what=what)
        today = synth_day(scope)
        cwd = Path.cwd()
        entry_path = find_path(
            entry,
            lookup_bases(cwd),
            what=f"{what}: entry",
            kind="dir",
            hint=f"pass the folder that holds {index}",
        )
        handler_path = _handler(entry_path, index, handler, what)
        # relative paths: entry first (like aws-lambda-python-alpha), then the working directory
        bases = lookup_bases(entry_path, cwd)
        options = (bundling or WheelBundlingOptions()).with_absolute_paths(bases, what=what)
        resolved = resolve_input(dependencies, entry_path, bases, what=what)
        layers: Sequence[lambda_.ILayerVersion] = function_options.get("layers") or ()
        self._lw_target = target
        for layer in layers:
            _check_layer(what, target, layer)

        asset = WheelAsset(
            f"{id} ({target})",
            "function",
            (target,),
            resolved,
            options,
            source=entry_path,
            asset_path=entry_path,
            handler=handler_path,
            layers=tuple(layers),
            hook_input=entry_path,
        )
        props = {"handler": handler_path, "runtime": runtime, "architecture": architecture}
        props.update(function_options)
        bundler, asset_hash = construct_with_code(super().__init__, scope, id, asset, what, props)
        self.target: Target = target
        warn_if_deprecated(self, [target], today)
        #: The asset hash given to CDK: lambda-wheels' fingerprint, or ``bundling.asset_hash``;
        #: ``None`` with ``asset_hash_type=OUTPUT`` (CDK hashes the bundle at synth).
        self.asset_hash: Optional[str] = asset_hash
        self._lw_bundler: WheelLocalBundling = bundler
        self._lw_layers: list[lambda_.ILayerVersion] = list(layers)
        self.node.add_validation(_SizeValidation(self))

    def add_layers(self, *layers: lambda_.ILayerVersion) -> None:
        """Attach layers; PythonWheelLayers must be built for this function's arch and runtime."""
        target = getattr(self, "_lw_target", None)
        if target is not None:
            for layer in layers:
                _check_layer(f"PythonWheelFunction {self.node.id!r}", target, layer)
        if hasattr(self, "_lw_layers"):
            self._lw_layers.extend(layers)
        super().add_layers(*layers)

    def bundle_directories(self) -> list[Path]:
        """The staged bundle of this function, then of its PythonWheelLayers (synth only)."""
        dirs = [staged_dir(self)]
        from .layer import PythonWheelLayer

        for layer in self._lw_layers:
            if isinstance(layer, PythonWheelLayer):
                dirs.append(staged_dir(layer))
        return [d for d in dirs if d is not None]


def _handler(entry: Path, index: str, handler: str, what: str) -> str:
    rel = PurePosixPath(index.replace("\\", "/"))
    if rel.suffix != ".py" or rel.is_absolute() or ".." in rel.parts:
        raise InputError(
            f"{what}: index {index!r} must be a .py file inside entry (e.g. 'index.py' or "
            "'pkg/app.py')"
        )
    if not (entry / rel).is_file():
        raise InputError(
            f"{what}: index file {index!r} was not found in entry {str(entry)!r}; create it or "
            "pass index='<file>.py'"
        )
    module = ".".join(rel.with_suffix("").parts)
    if not all(part.isidentifier() for part in rel.with_suffix("").parts):
        raise InputError(
            f"{what}: index {index!r} is not importable as a module ({module!r}); rename it"
        )
    if not handler.isidentifier():
        raise InputError(f"{what}: handler {handler!r} is not a Python function name")
    return f"{module}.{handler}"


def _check_layer(what: str, target: Target, layer: lambda_.ILayerVersion) -> None:
    from .layer import PythonWheelLayer

    if not isinstance(layer, PythonWheelLayer):
        return
    problems = []
    if layer.target_arch != target.arch:
        problems.append(
            f"layer {layer.node.id!r} is built for {layer.targets[0].lambda_arch} but the "
            f"function runs on {target.lambda_arch}; create one PythonWheelLayer per "
            "architecture and attach the matching one"
        )
    if target.runtime not in {t.runtime for t in layer.targets}:
        listed = ", ".join(t.runtime for t in layer.targets)
        problems.append(
            f"layer {layer.node.id!r} lists runtimes {listed} but the function runs "
            f"{target.runtime}; add {target.runtime} to the layer's compatible_runtimes"
        )
    if problems:
        raise UsageError(f"{what}: " + "; ".join(problems))


#: Sizes of staged asset folders: CDK never changes a folder once staged under its hash, and a
#: layer shared by many functions would otherwise be walked once per function on every synth.
_STAGED_SIZES: dict[Path, int] = {}


def _staged_size(folder: Path) -> int:
    size = _STAGED_SIZES.get(folder)
    if size is None:
        size = _STAGED_SIZES[folder] = tree_size(folder)
    return size


@jsii.implements(IValidation)
class _SizeValidation:
    """At synth: function + its PythonWheelLayers must fit Lambda's 250 MiB unzipped."""

    def __init__(self, function: PythonWheelFunction) -> None:
        self.function = function

    def validate(self) -> list[str]:
        dirs = self.function.bundle_directories()
        if not dirs:
            return []
        total = sum(_staged_size(d) for d in dirs)
        if total <= UNZIPPED_LIMIT_BYTES:
            return []
        dists: list[Distribution] = []
        for d in dirs:
            for root in (
                d,
                *sorted(d.glob("python")),
                *sorted(d.glob("python/lib/*/site-packages")),
            ):
                dists.extend(read_distributions(root, self.function.target))
        largest = sorted(dists, key=lambda x: x.size, reverse=True)[:10]
        listing = ", ".join(f"{x.name} {x.size / 2**20:.1f} MiB" for x in largest)
        return [
            unzipped_size_text(
                f"PythonWheelFunction {self.function.node.id!r}: the function and its layers",
                total,
                verb="are",
            )
            + f". Largest distributions: {listing}. Remove dependencies, move some to another "
            "function, or use a container image"
        ]
