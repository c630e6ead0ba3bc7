"""CDK asset code for wheel bundles: CDK's own bundling mechanism over the core pipeline.

``Code.from_asset(path, asset_hash=<fingerprint>, asset_hash_type=CUSTOM,
bundling=BundlingOptions(local=<WheelLocalBundling>, image=<build image for the arch>))``.

The asset hash is a fingerprint of the dependency inputs, the target(s), the options, the tool
versions and the handler source's contents, computed without absolute paths or credentials. It
is identical on every machine and from any checkout path, so CDK reuses a staged asset and an
unchanged app re-synthesizes without installing anything. Installs happen in ``try_bundle`` at
synth, through the bundle cache (functions and layers with the same dependencies and target
share one install).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..build.cache import BundleCache, dependency_key, effective_index
from ..build.models import DependencyBuild
from ..build.pipeline import Builder
from ..errors import InputError, LambdaWheelsError
from ..events import Progress, counted
from ..inputs.detect import detect, load
from ..inputs.paths import find_path
from ..inputs.requirements import from_list
from ..inputs.spec import DependencySpec
from ..smoke.interpreters import compiler_available as bytecode_available
from ..target.target import Target
from ..tree import digest_files, source_files
from .hooks import STAGES, Stage, commands_of, run_commands, secret_values
from .options import WheelBundlingOptions

#: A dependency input: a file/folder path, a list of requirement strings, or None (auto-detect).
DependencyInput = Optional[Union[str, Sequence[str]]]


@dataclass(frozen=True)
class ResolvedInput:
    """A dependency input found at construction: where it came from and how to load it."""

    path: Path | None  # a file; None for an inline list or no dependencies
    requirements: tuple[str, ...] | None  # an inline list
    base_dir: Path | None = None  # where an inline list's relative paths resolve

    def describe(self) -> str:
        if self.requirements is not None:
            return "inline list"
        return self.path.name if self.path else "no dependencies"

    def load(self, options: WheelBundlingOptions) -> DependencySpec | None:
        if self.requirements is not None:
            return from_list(self.requirements, base_dir=self.base_dir)
        if self.path is None:
            return None
        return load(
            self.path, extras=options.extras, groups=options.groups, frozen=not options.locked
        )

    def fingerprint(self, options: WheelBundlingOptions) -> tuple[str, DependencySpec | None]:
        """Content fingerprint without running a subprocess (usable at construction), and the
        parsed spec when parsing needed none (``None`` for uv.lock and for no dependencies)."""
        if self.path is not None and self.path.name == "uv.lock":
            # `uv export` is a pure function of uv.lock + pyproject.toml and the flags
            h = hashlib.sha256(b"uv.lock\0")
            for name in ("uv.lock", "pyproject.toml"):
                f = self.path.parent / name
                h.update(name.encode() + b"\0" + (f.read_bytes() if f.is_file() else b""))
            h.update(
                json.dumps([list(options.extras), list(options.groups), options.locked]).encode()
            )
            return h.hexdigest(), None
        spec = self.load(options)
        return (spec.fingerprint() if spec is not None else "none"), spec


def resolve_input(
    dependencies: DependencyInput, entry: Path | None, bases: Sequence[Path], *, what: str
) -> ResolvedInput:
    """Turn the construct's ``dependencies`` argument into a :class:`ResolvedInput`.

    ``None`` auto-detects in ``entry``; a string is a file or folder path, and a list of
    strings an inline requirement list. Relative paths (also those inside an inline list) are
    looked up in ``bases`` in order (:func:`~lambda_wheels_cdk.inputs.paths.find_path`).

    Raises:
        InputError: the path exists in none of ``bases`` (every absolute path tried is named).
    """
    if dependencies is None:
        found = detect(entry) if entry is not None else None
        return ResolvedInput(found, None)
    if isinstance(dependencies, str):
        path = find_path(
            dependencies,
            bases,
            what=f"{what}: dependencies",
            hint="pass the path of a requirements.txt, pyproject.toml or lock file (or of its "
            "folder), or a list of requirements",
        )
        if path.is_dir():
            found = detect(path)
            if found is None:
                raise InputError(
                    f"{what}: {str(path)!r} holds no requirements.txt, pyproject.toml or lock "
                    "file; pass the file itself or a list of requirements"
                )
            return ResolvedInput(found, None)
        return ResolvedInput(path, None)
    reqs = tuple(dependencies)
    if not all(isinstance(r, str) for r in reqs):
        raise InputError(f"{what}: dependencies must be a path or a list of requirement strings")
    return ResolvedInput(None, reqs, _inline_base(reqs, bases, what))


def _inline_base(reqs: tuple[str, ...], bases: Sequence[Path], what: str) -> Path | None:
    """The first of ``bases`` in which every relative path of an inline list exists."""
    if len(bases) < 2:
        return bases[0] if bases else None
    errors: list[str] = []
    for base in bases:
        try:
            from_list(reqs, base_dir=base)
        except InputError as exc:
            errors.append(str(exc))
            continue
        return base
    if len(set(errors)) == 1:
        return bases[0]  # not about paths: loading reports it with the first base
    raise InputError(f"{what}: " + "; and ".join(errors))


@dataclass(frozen=True)
class WheelAsset:
    """What one construct's code asset is made of: the single description that the asset hash,
    the local bundling and ``Code.from_asset`` all read.

    Attributes:
        label: how progress lines and errors name the construct (``"Fn (python3.12/arm64)"``).
        kind: ``"function"`` (packages at the root, with the handler's source) or ``"layer"``
            (packages under ``python/``).
        targets: one for a function; a layer's compatible runtimes, one arch.
        resolved: the dependency input.
        options: the construct's bundling options, with absolute paths.
        source: the handler's folder copied into a function bundle (``None`` for a layer).
        asset_path: the folder CDK's ``Code.from_asset`` points at.
        handler: a function's ``module.function`` (the smoke test imports it).
        layers: the function's layers (their staged folders join the smoke test).
        hook_input: the ``command_hooks`` input folder.
    """

    label: str
    kind: Literal["function", "layer"]
    targets: tuple[Target, ...]
    resolved: ResolvedInput
    options: WheelBundlingOptions
    source: Path | None
    asset_path: Path
    handler: str | None = None
    layers: tuple[Any, ...] = ()
    hook_input: Path | None = None

    @functools.cached_property
    def inputs(self) -> tuple[str, DependencySpec | None]:
        """The dependency input's fingerprint and, when reading it needed no subprocess, its
        spec (:meth:`ResolvedInput.fingerprint`): read once, at construction."""
        return self.resolved.fingerprint(self.options)

    def spec(self) -> DependencySpec | None:
        """The dependency input as a spec, for the install at synth (read at construction when
        that needed no subprocess; a ``uv.lock`` is exported now)."""
        _, spec = self.inputs
        return spec if spec is not None else self.resolved.load(self.options)

    def fingerprint(self) -> str:
        """The custom asset hash: inputs + targets + options + tool versions + source contents
        (+ the command hooks' text, when there are hooks)."""
        options, source, targets = self.options, self.source, self.targets
        spec_fp, spec = self.inputs
        index = effective_index(spec or from_list([]), options.build_options, options.environ())
        parts: dict[str, Any] = {
            "kind": self.kind,
            "deps": [dependency_key(spec_fp, t, options.build_options, index) for t in targets],
            "excludes": list(options.all_excludes) if source is not None else [],
            "source": digest_files(
                source,
                source_files(
                    source,
                    options.all_excludes,
                    follow_external_symlinks=options.follow_external_symlinks,
                ),
            )
            if source is not None
            else None,
        }
        if options.command_hooks is not None:
            parts["hooks"] = _hook_text(options, self.hook_input)
        mode = options.build_options.bytecode
        if mode != "none":
            # which bytecode the bundle will hold (no subprocess here: a look for the
            # interpreter file); when one appears later, the asset changes and is deployed again
            parts["bytecode"] = {
                "mode": mode,
                "pythons": sorted(
                    t.python_version
                    for t in set(targets)
                    if options.bytecode_interpreter or bytecode_available(t.python)
                ),
            }
        blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


#: What ``output_dir`` is when the hooks are asked for their commands at construction (CDK
#: chooses the real folder only once it knows the hash).
HOOK_OUTPUT_PLACEHOLDER = "<output_dir>"


def _hook_text(options: WheelBundlingOptions, hook_input: Path | None) -> dict[str, list[str]]:
    """The hooks' commands, with the absolute input folder written as ``<input_dir>`` (the
    hash must not depend on where the app is checked out)."""
    hooks = options.command_hooks
    assert hooks is not None
    given = str(hook_input) if hook_input is not None else ""
    out: dict[str, list[str]] = {}
    for stage in STAGES:
        commands = commands_of(hooks, stage, given, HOOK_OUTPUT_PLACEHOLDER)
        out[stage] = [c.replace(given, "<input_dir>") if given else c for c in commands]
    return out


@jsii.implements(cdk.ILocalBundling)
class WheelLocalBundling:
    """Runs the core pipeline on the host when CDK stages the asset (at synth).

    It never declines (``try_bundle`` returns ``True`` or raises): the core itself uses Docker
    for the native sdists that need it, so CDK never has to run a whole container build.
    A failure is kept in :attr:`error` so the construct can re-raise our own exception type
    (jsii turns exceptions raised in callbacks into generic errors).
    """

    def __init__(self, asset: WheelAsset) -> None:
        self.asset = asset
        self.error: LambdaWheelsError | None = None
        self.builds: tuple[DependencyBuild, ...] = ()

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        """Bundle into CDK's ``output_dir``; ``options`` (CDK's Docker settings) are unused."""
        try:
            self._bundle(Path(output_dir))
        except LambdaWheelsError as exc:
            self.error = exc
            raise
        return True

    def _bundle(self, out: Path) -> None:
        asset, options = self.asset, self.asset.options
        progress = Progress(asset.label)
        environ = options.environ()
        self._run_hooks("before_bundling", out, environ, progress)
        cache = BundleCache(options.cache_dir)
        builder = Builder(options.build_options, cache, environ, progress)
        self.builds = builds = builder.install(asset.spec(), asset.targets)
        if asset.kind == "function":
            builder.write_function(
                out,
                asset.targets[0],
                builds[0] if builds else None,
                asset.source,
                options.all_excludes,
                what=asset.label,
                follow_external_symlinks=options.follow_external_symlinks,
                atomic=False,
            )
        elif builds:
            builder.write_layer(out, builds, what=asset.label, atomic=False)
        dists = counted(sum(len(b.distributions) for b in builds), "distribution")
        progress(f"bundled {dists} for {', '.join(map(str, asset.targets))}")
        self._run_hooks("after_bundling", out, environ, progress)
        if options.smoke:
            self._smoke(out, progress)

    def _run_hooks(
        self, stage: Stage, out: Path, environ: dict[str, str], progress: Progress
    ) -> None:
        """``command_hooks``: *before* runs in the input folder, *after* in the output folder
        (where aws-lambda-python-alpha's Docker bundling runs them)."""
        hooks = self.asset.options.command_hooks
        if hooks is None:
            return
        input_dir = str(self.asset.hook_input) if self.asset.hook_input is not None else os.getcwd()
        run_commands(
            stage,
            commands_of(hooks, stage, input_dir, str(out)),
            cwd=input_dir if stage == "before_bundling" else str(out),
            environ=environ,
            secrets=secret_values(self.asset.options.environment or {}),
            label=self.asset.label,
            log=progress,
        )

    def _smoke(self, out: Path, progress: Progress) -> None:
        """Import the bundle under the target's CPython (``smoke=True``)."""
        from ..errors import SmokeError
        from ..smoke.runner import smoke

        for target in self.asset.targets:
            if self.asset.kind == "function":
                layer_dirs = [d for d in map(staged_dir, self.asset.layers) if d is not None]
                module = self.asset.handler.rsplit(".", 1)[0] if self.asset.handler else None
                result = smoke(out, target, layers=layer_dirs, modules=[module] if module else [])
            else:
                empty = out.parent / f".{out.name}.smoke-empty"
                empty.mkdir(exist_ok=True)
                try:
                    result = smoke(empty, target, layers=[out])
                finally:
                    empty.rmdir()
            if result.status == "failed":
                raise SmokeError(
                    f"{self.asset.label}: smoke import failed for {target}:\n{result.summary()}"
                )
            progress(f"smoke {result.status} for {target}: {result.reason or result.interpreter}")


def construct_with_code(
    init: Callable[..., None],
    scope: Construct,
    id: str,
    asset: WheelAsset,
    what: str,
    props: dict[str, Any],
) -> tuple[WheelLocalBundling, str | None]:
    """Run a CDK construct's ``init`` (``super().__init__``) with the code of ``asset`` and the
    other construct ``props``; errors about the inputs start with ``what``.

    CDK runs our ``try_bundle`` inside ``init`` through jsii, which turns a Python exception
    into a generic ``RuntimeError``; the bundler kept the original, and it is re-raised.
    Returns the bundler and the asset hash given to CDK (:func:`wheel_code`).
    """
    code, bundler, asset_hash = wheel_code(asset, what=what)
    try:
        init(scope, id, code=code, **props)
    except Exception:
        if bundler.error is not None:
            raise bundler.error from None
        raise
    return bundler, asset_hash


def wheel_code(
    asset: WheelAsset, *, what: str
) -> tuple[lambda_.AssetCode, WheelLocalBundling, str | None]:
    """``Code.from_asset`` with our local bundling and the asset hash the options ask for.

    Returns the code, the bundler and the asset hash given to CDK: lambda-wheels' fingerprint
    (default), the user's ``asset_hash``, or ``None`` with ``asset_hash_type=OUTPUT`` (CDK
    hashes the bundle at synth).

    Raises:
        InputError: the dependency input cannot be read (the message starts with ``what``).
    """
    try:
        return _wheel_code(asset)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


def _wheel_code(asset: WheelAsset) -> tuple[lambda_.AssetCode, WheelLocalBundling, str | None]:
    options = asset.options
    asset_hash: str | None
    if options.hash_kind == "custom":
        asset_hash, hash_type = options.asset_hash, cdk.AssetHashType.CUSTOM
    elif options.hash_kind == "output":
        asset_hash, hash_type = None, cdk.AssetHashType.OUTPUT
        asset.inputs  # noqa: B018  # read (and so validate) the inputs at construction all the same
    else:
        asset_hash = asset.fingerprint()
        hash_type = cdk.AssetHashType.CUSTOM
    first = asset.targets[0]
    image = options.image
    bundler = WheelLocalBundling(asset)
    code = lambda_.Code.from_asset(
        str(asset.asset_path),
        asset_hash=asset_hash,
        asset_hash_type=hash_type,
        bundling=cdk.BundlingOptions(
            image=image
            if isinstance(image, cdk.DockerImage)
            else cdk.DockerImage.from_registry(image or first.build_image),
            platform=first.docker_platform,
            # jsii passes CDK's BundlingOptions struct positionally; its stub spells it as kwargs
            local=cast(cdk.ILocalBundling, bundler),
        ),
    )
    return code, bundler, asset_hash


#: An empty folder shipped with the package: the asset source of layers with inline lists.
EMPTY_ASSET_DIR = Path(__file__).with_name("empty_asset")


def staged_dir(construct: Construct) -> Path | None:
    """Where CDK staged a construct's code asset in this synth (``None`` if not staged)."""
    asset = construct.node.try_find_child("Code")
    path = getattr(asset, "asset_path", None)
    if not path:
        return None
    staged = Path(path)
    if not staged.is_absolute():
        staged = Path(cdk.Stage.of(construct).asset_outdir) / staged  # type: ignore[union-attr]
    return staged if staged.is_dir() else None
