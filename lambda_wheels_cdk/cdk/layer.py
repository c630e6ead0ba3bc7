"""PythonWheelLayer: a Lambda layer of dependencies built for each of its Python runtimes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..errors import InputError, UnsupportedArchitectureError, UsageError
from ..inputs.paths import lookup_bases
from ..target.runtimes import WheelArch
from ..target.target import Target
from .bundling import (
    EMPTY_ASSET_DIR,
    DependencyInput,
    WheelAsset,
    WheelLocalBundling,
    construct_with_code,
    resolve_input,
)
from .options import WheelBundlingOptions
from .target import synth_day, target_for, warn_if_deprecated


class PythonWheelLayer(lambda_.LayerVersion):
    """A layer holding dependencies installed for each compatible runtime on one architecture.

    With several runtimes the layer holds one install per Python version under
    ``python/lib/python3.X/site-packages`` (where Lambda looks for that version), or a single
    ``python/`` folder when every runtime's install is identical (pure or ``abi3`` wheels).

    Args:
        scope: the parent construct.
        id: the construct id.
        dependencies: a requirements/lock/pyproject file (or a folder to detect one in), or a
            list of requirement strings (required). A relative path is relative to the working
            directory; relative ``find_links`` are looked up in the dependency file's folder
            first, then in the working directory.
        compatible_runtimes: Lambda Python runtimes (python3.9 ... python3.14; required).
        compatible_architectures: exactly one architecture. Default: ``[Architecture.X86_64]``.
            Several raise an error: create one layer per architecture.
        bundling: :class:`WheelBundlingOptions`. Default: uv, wheels only, audit strict.
        **layer_options: every other ``aws_lambda.LayerVersionOptions`` keyword
            (``description``, ``layer_version_name``, ``license``, ``removal_policy``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dependencies: DependencyInput,
        compatible_runtimes: Sequence[lambda_.Runtime],
        compatible_architectures: Optional[Sequence[lambda_.Architecture]] = None,
        bundling: Optional[WheelBundlingOptions] = None,
        **layer_options: Any,
    ) -> None:
        what = f"PythonWheelLayer {id!r}"
        if "code" in layer_options:
            raise UsageError(
                f"{what}: 'code' is built by PythonWheelLayer from dependencies; use "
                "aws_lambda.LayerVersion to pass your own code"
            )
        if dependencies is None:
            raise InputError(
                f"{what}: dependencies is required: a requirements/lock file path or a list of "
                "requirement strings"
            )
        if not compatible_runtimes:
            raise UsageError(f"{what}: compatible_runtimes must list at least one Python runtime")
        arches = list(compatible_architectures or [lambda_.Architecture.X86_64])
        if len({a.name for a in arches}) != 1:
            names = ", ".join(a.name for a in arches)
            raise UnsupportedArchitectureError(
                f"{what}: compatible_architectures lists {names}, but a layer's binaries run on "
                "one architecture only; create one PythonWheelLayer per architecture (e.g. "
                "'DepsArm' with [Architecture.ARM_64] and 'DepsX86' with [Architecture.X86_64])"
            )
        targets: list[Target] = []
        for runtime in compatible_runtimes:
            t = target_for(runtime, arches[0], what=what)
            if t not in targets:
                targets.append(t)
        today = synth_day(scope)
        cwd = Path.cwd()
        resolved = resolve_input(dependencies, None, lookup_bases(cwd), what=what)
        # relative find_links: the dependency file's folder first, then the working directory
        home = resolved.path.parent if resolved.path is not None else None
        options = (bundling or WheelBundlingOptions()).with_absolute_paths(
            lookup_bases(home, cwd), what=what
        )
        asset_path = resolved.path.parent if resolved.path is not None else EMPTY_ASSET_DIR
        label = f"{id} ({', '.join(t.runtime for t in targets)}/{targets[0].lambda_arch})"
        asset = WheelAsset(
            label,
            "layer",
            tuple(targets),
            resolved,
            options,
            source=None,
            asset_path=asset_path,
            hook_input=home or cwd,
        )
        props: dict[str, Any] = {**layer_options, "compatible_architectures": [arches[0]]}
        props["compatible_runtimes"] = list(compatible_runtimes)
        bundler, asset_hash = construct_with_code(super().__init__, scope, id, asset, what, props)
        self.targets: tuple[Target, ...] = tuple(targets)
        warn_if_deprecated(self, targets, today)
        #: The asset hash given to CDK: lambda-wheels' fingerprint, or ``bundling.asset_hash``;
        #: ``None`` with ``asset_hash_type=OUTPUT`` (CDK hashes the bundle at synth).
        self.asset_hash: Optional[str] = asset_hash
        self._lw_bundler: WheelLocalBundling = bundler

    @property
    def target_arch(self) -> WheelArch:
        """The wheel architecture of every binary in the layer (``x86_64`` / ``aarch64``)."""
        return self.targets[0].arch
