"""Build native sdists into wheels inside the runtime's build image, with the ``docker`` CLI.

Used only for requirements that have no fitting wheel *and* contain native code. The image is
the SAM build image of the target runtime and architecture
(``public.ecr.aws/sam/build-python3.12:latest-arm64``, ``--platform linux/arm64``), so the
compiled extension links against the target OS's glibc. The binary is the one CDK uses:
``$CDK_DOCKER`` or ``docker`` (Finch, Podman and colima work when their CLI takes ``run``
with ``--rm``, ``--platform``, ``--network none``, ``-v HOST:CONTAINER:ro``, ``-u`` and ``-w``).

What runs where:

* **on the host** (:mod:`.wheelhouse`): the sdists and the wheels of their build
  requirements for the target are resolved and downloaded with the host's index settings,
  credentials, proxies and trust store;
* **in the container**: ``pip wheel --no-index --find-links <wheelhouse> --no-deps <sdists>``
  with ``--network none``; the sdists and the wheelhouse are mounted read-only, the output
  folder read-write. Nothing of the host's environment, no index URL and no credential enters
  the container or its command line. ``network=True`` (``docker_network``) gives the container
  the engine's default network for builds whose own scripts download something; pip still
  installs build requirements only from the wheelhouse.

What Docker builds is audited like every other file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from ..errors import NeedsDockerError, SdistBuildError
from ..events import Log, emit, plain_text, quiet
from ..index.client import SimpleIndexClient
from ..inputs.spec import IndexSettings
from ..target.target import Target
from .installers import InstallPlan, UvInstaller, read_output, secrets_of
from .leftovers import popen_dying_with_parent
from .wheelhouse import BuildInputs, Fetcher

#: Where the built wheels are written inside the container (CDK's bundling convention).
CONTAINER_OUTPUT = "/asset-output"
#: Where the sdists to build are mounted (read-only).
CONTAINER_SDISTS = "/lambda-wheels/sdists"
#: Where the wheelhouse of build requirements is mounted (read-only).
CONTAINER_WHEELHOUSE = "/lambda-wheels/wheelhouse"
#: How many times a build that reports a missing build requirement is retried with it fetched.
_MAX_RETRIES = 3


def docker_binary(environ: Mapping[str, str]) -> str:
    """``$CDK_DOCKER`` (what CDK itself runs) or ``docker``."""
    return environ.get("CDK_DOCKER") or "docker"


def docker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The Docker CLI's own environment: the host's (``DOCKER_HOST``, ``DOCKER_CONFIG``, ...)
    without any installer or index variable. The container gets none of it."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(("PIP_", "UV_", "LAMBDA_WHEELS_URL_CREDENTIALS_"))
    }


def build_wheels_in_docker(
    pins: Mapping[str, str],
    plan: InstallPlan,
    uv: UvInstaller,
    wheelhouse: Path,
    *,
    index: IndexSettings,
    environ: Mapping[str, str] | None = None,
    log: Log = quiet,
    detail: Log = quiet,
    image: str | None = None,
    network: bool = False,
) -> list[Path]:
    """Build ``{name: version}`` from sdists into ``wheelhouse`` in the target's build image
    (or in ``image`` when given).

    Args:
        pins: the distributions to build and their versions.
        plan: the install's plan: its target, the index uv resolves build requirements with,
            and the ``--hash`` values each sdist must match (hash-checking mode).
        uv: resolves the build requirements for the target on the host.
        wheelhouse: where the built wheels go (made here); its parent holds the fetched inputs.
        index: the index settings the host downloads with (may hold credentials).
        environ: the host environment for the Docker CLI and the downloads.
        image: the image to build in. Default: the target's SAM build image.
        network: give the container the engine's default network instead of none.

    Raises:
        NeedsDockerError: the Docker CLI is missing, no engine answers, or the image cannot be
            pulled.
        SdistBuildError: the build inside the container failed (compiler output included).
        InstallError: an sdist or build requirement cannot be fetched for the target.
    """
    host_env = dict(os.environ if environ is None else environ)
    target = plan.target
    image = image or target.build_image
    names: list[str] = sorted(canonicalize_name(n) for n in pins)
    binary = _docker_cli(host_env, target, names)
    env = docker_environment(host_env)
    # the engine and the image first: a stopped engine or an unpullable image must not be
    # reported as (or hidden behind) a download problem
    ensure_image(binary, env, image, target, names, log=log, detail=detail)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with SimpleIndexClient(index, environ=host_env) as client:
        inputs = Fetcher(client, plan, uv).build_inputs(
            pins, wheelhouse.parent / f"{wheelhouse.name}-inputs", log=detail
        )
        return _build(
            inputs,
            pins,
            target,
            wheelhouse,
            binary=binary,
            env=env,
            image=image,
            network=network,
            secrets=secrets_of(index),
            log=log,
            detail=detail,
        )


def _docker_cli(environ: Mapping[str, str], target: Target, names: list[str]) -> str:
    """The Docker CLI to run (:func:`docker_binary`).

    Raises:
        NeedsDockerError: it is not installed.
    """
    binary = docker_binary(environ)
    if shutil.which(binary) is None and not Path(binary).is_file():
        raise NeedsDockerError(
            f"{', '.join(names)} must be compiled for {target} but the Docker CLI "
            f"'{binary}' was not found; install Docker (or set CDK_DOCKER), or pin versions "
            "that ship manylinux wheels for the target",
            names,
        )
    return binary


def ensure_image(
    binary: str,
    env: Mapping[str, str],
    image: str,
    target: Target,
    names: list[str],
    *,
    log: Log = quiet,
    detail: Log = quiet,
) -> None:
    """Check that an engine answers and has ``image`` (pulled for the target's platform when
    it has not).

    Raises:
        NeedsDockerError: no engine answers, or the image cannot be pulled (the message names
            the image and what to do: never the package index).
    """
    default_image = image == target.build_image
    platform = target.docker_platform
    inspect = [binary, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", image]
    returncode, output = _call(inspect, binary=binary, env=env, names=names)
    if returncode == 0 and output.strip() == platform:
        return
    local = output.strip() if returncode == 0 else None  # there, for another platform
    if _NO_ENGINE.search(output):
        _raise_for_engine(DOCKER_RUN_FAILED, output, names, target, image, binary, default_image)
    if returncode != 0 and _REGISTRY_FAILURE.search(output):  # a CLI that pulls on inspect
        _raise_for_engine(DOCKER_RUN_FAILED, output, names, target, image, binary, default_image)
    log(f"pulling {image} for {platform}")
    pull = [binary, "pull", "--platform", platform, image]
    detail(" ".join(pull))
    returncode, output = _call(pull, binary=binary, env=env, names=names, timeout=3600)
    if returncode == 0:
        return
    if _NO_ENGINE.search(output):
        _raise_for_engine(DOCKER_RUN_FAILED, output, names, target, image, binary, default_image)
    message = _pull_failed(output, names, target, image, default_image)
    if local:
        message = (
            f"{', '.join(names)} must be compiled for {target} in Docker, but the image "
            f"{image} here is for {local}, not {platform}, and Docker could not pull it for "
            f"{platform} ({_last_line(output)}); build or pull the image for {platform} "
            f"(`docker build --platform {platform}` ...), or pin versions that ship manylinux "
            "wheels for the target"
        )
    raise NeedsDockerError(message, names)


def _call(
    argv: Sequence[str],
    *,
    binary: str,
    env: Mapping[str, str],
    names: list[str],
    timeout: float = 120,
) -> tuple[int, str]:
    """Run a short Docker CLI command: its exit status and output (stdout, then stderr)."""
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NeedsDockerError(
            f"{', '.join(names)} must be compiled in Docker, but '{' '.join(argv[:3])}' did "
            f"not answer within {timeout:.0f} s; check that the engine runs ('{binary}' "
            "version) and retry",
            names,
        ) from None
    except OSError as exc:
        raise NeedsDockerError(
            f"could not run Docker ('{binary}'): {exc}; install Docker or set CDK_DOCKER", names
        ) from None
    return proc.returncode, plain_text(proc.stdout + proc.stderr)


def _build(
    inputs: BuildInputs,
    pins: Mapping[str, str],
    target: Target,
    out: Path,
    *,
    binary: str,
    env: Mapping[str, str],
    image: str,
    network: bool,
    secrets: Sequence[str],
    log: Log,
    detail: Log,
) -> list[Path]:
    """Run the container (again when it reports a build requirement the wheelhouse lacks)."""
    default_image = image == target.build_image
    for attempt in range(_MAX_RETRIES + 1):
        todo = {n: p for n, p in inputs.sdists.items() if _built(out, n) is None}
        listed = ", ".join(f"{n}=={pins.get(n, '?')}" for n in sorted(todo))
        if attempt == 0:
            log(f"compiling {listed} in {image} (Docker, {target.docker_platform})")
        argv = container_command(
            binary, target, image, inputs, sorted(todo.values()), out, network=network
        )
        emit(
            "docker-build",
            target=str(target),
            distributions=sorted(todo),
            image=image,
            platform=target.docker_platform,
            network=network,
        )
        started = time.monotonic()
        returncode, output = _run(argv, binary=binary, env=env, secrets=secrets, detail=detail)
        detail(f"the container exited {returncode} after {time.monotonic() - started:.1f} s")
        if returncode == 0:
            break
        names = sorted(todo)
        _raise_for_engine(returncode, output, names, target, image, binary, default_image)
        missing = missing_requirements(output)
        if missing and attempt < _MAX_RETRIES:
            added = inputs.add(missing, log=detail)
            if added:
                log(f"the build asked for {', '.join(missing)}: fetched them; building again")
                continue
        failed = failed_distributions(output, names)
        raise SdistBuildError(
            _failure_message(failed, pins, target, image, returncode, output, missing, network),
            failed,
        )
    return _built_wheels(inputs, out, image, output)


def _built_wheels(inputs: BuildInputs, out: Path, image: str, output: str) -> list[Path]:
    """The wheel of each sdist, after a build that succeeded.

    Raises:
        SdistBuildError: pip said it succeeded but some wheel is not there.
    """
    wheels = {name: _built(out, name) for name in sorted(inputs.sdists)}
    missing = [name for name, wheel in wheels.items() if wheel is None]
    if missing:
        raise SdistBuildError(
            f"the build in {image} finished but produced no wheel for "
            f"{', '.join(missing)} (its last line: {_last_line(output)}); this is a bug "
            "in lambda-wheels or in the image's pip: please report it with the output of "
            "--verbose",
            missing,
        )
    return [wheel for wheel in wheels.values() if wheel is not None]


def container_command(
    binary: str,
    target: Target,
    image: str,
    inputs: BuildInputs,
    sdists: Sequence[Path],
    out: Path,
    *,
    network: bool = False,
) -> list[str]:
    """The ``docker run`` command line: mounts, platform, user, no network, ``pip wheel``.

    Every value is a path or a fixed flag: no environment variable of the host, no index URL
    and no credential.
    """
    argv = [
        binary,
        "run",
        "--rm",
        "--name",
        f"lambda-wheels-build-{uuid.uuid4().hex[:12]}",
        "--platform",
        target.docker_platform,
        *([] if network else ["--network", "none"]),
        # `z`: SELinux hosts (Podman, Fedora's Docker) relabel the folders for the container
        "-v",
        f"{inputs.sdist_dir.resolve()}:{CONTAINER_SDISTS}:ro,z",
        "-v",
        f"{inputs.wheelhouse.resolve()}:{CONTAINER_WHEELHOUSE}:ro,z",
        "-v",
        f"{out.resolve()}:{CONTAINER_OUTPUT}:z",
        "-w",
        CONTAINER_OUTPUT,
    ]
    if hasattr(os, "getuid"):  # POSIX: files in the mount should belong to the user (like CDK)
        argv += ["-u", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
    argv += [
        image,
        "python",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--find-links",
        CONTAINER_WHEELHOUSE,
        "--wheel-dir",
        CONTAINER_OUTPUT,
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--no-color",
        "--progress-bar",
        "off",
        *(f"{CONTAINER_SDISTS}/{sdist.name}" for sdist in sdists),
    ]
    return argv


def _run(
    argv: Sequence[str],
    *,
    binary: str,
    env: Mapping[str, str],
    secrets: Sequence[str],
    detail: Log,
) -> tuple[int, str]:
    """Run ``docker run``; its exit status and output (stdout and stderr, in order)."""
    detail(" ".join(argv))
    try:
        proc = popen_dying_with_parent(
            argv,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        names: list[str] = []
        raise NeedsDockerError(
            f"could not run Docker ('{binary}'): {exc}; install Docker or set CDK_DOCKER", names
        ) from None
    # interrupted: the container must not build on (killing the client leaves it running)
    output = read_output(
        proc, secrets, detail, on_abort=lambda: _remove_container(binary, argv, env)
    )
    return proc.returncode, output


def _remove_container(binary: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """``docker rm -f`` the container of ``argv`` (killing the client leaves it running)."""
    name = argv[argv.index("--name") + 1]
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            [binary, "rm", "-f", name],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )


def _built(out: Path, name: str) -> Path | None:
    """The wheel built for ``name`` in ``out``, if any."""
    for wheel in sorted(out.glob("*.whl")):
        if canonicalize_name(wheel.name.split("-", 1)[0]) == name:
            return wheel
    return None


# -- reading what went wrong ---------------------------------------------------------------

#: ``docker run``'s exit status when the daemon could not start the container (the command in
#: it never ran): a missing image, a refused pull, no engine.
DOCKER_RUN_FAILED = 125
#: How the Docker daemon reports that it could not pull an image (pull access, an unknown tag
#: or manifest, a registry rate limit or login, a registry it cannot reach).
_REGISTRY_FAILURE = re.compile(
    r"pull access denied|manifest unknown|manifest for \S+ not found|no matching manifest|"
    r"toomanyrequests|unauthorized|denied: |failed to resolve reference|error pulling image|"
    r"Error response from daemon: (?:Get|Head) \"https?://|repository does not exist",
    re.IGNORECASE,
)
#: How Docker, Podman and Finch say that no engine answers.
_NO_ENGINE = re.compile(
    r"Cannot connect to the Docker daemon|Is the docker daemon running|"
    r"error during connect|Cannot connect to Podman|podman\.socket|"
    r"Finch VM|the VM is not running",
    re.IGNORECASE,
)
#: The kernel refusing a foreign binary: no binfmt_misc handler (qemu-user) for the arch.
_NO_EMULATION = re.compile(r"exec format error", re.IGNORECASE)
_EMULATION_HINT = (
    "an arm64 image on an x86_64 host (or the reverse) needs emulation: Docker Desktop, Finch "
    "and colima have it; on Linux register qemu-user with binfmt_misc (`docker run "
    "--privileged --rm tonistiigi/binfmt --install arm64`, or the qemu-user-static package)"
)
#: pip's words for a build requirement the (offline) wheelhouse lacks.
_MISSING_REQUIREMENT = re.compile(
    r"No matching distribution found for (\S+)|"
    r"Could not find a version that satisfies the requirement (\S+)"
)
#: pip's summary of the sdists that failed (``Failed to build a b``), and the one line per
#: failure of older and newer pips.
_FAILED_TO_BUILD = re.compile(r"^(?:ERROR: )?Failed to build ([^\n]+?)\s*$", re.M)
_FAILED_WHEEL = re.compile(
    r"Failed building wheel for ([A-Za-z0-9][A-Za-z0-9._-]*)|"
    r"Failed to build '?([A-Za-z0-9][A-Za-z0-9._-]*)'? when getting requirements"
)
#: pip's line for each sdist it starts on (the last one is where a fatal error happened).
_PROCESSING = re.compile(rf"Processing {re.escape(CONTAINER_SDISTS)}/(\S+)")
#: Lines of the build's output kept in an error message (the end of it).
_TAIL_LINES = 60


def _raise_for_engine(
    returncode: int,
    output: str,
    names: list[str],
    target: Target,
    image: str,
    binary: str,
    default_image: bool,
) -> None:
    """The container never ran: no engine, or no image. Raise :class:`NeedsDockerError`."""
    if _NO_EMULATION.search(output):
        raise NeedsDockerError(
            f"{', '.join(names)} must be compiled for {target} in Docker, but the engine "
            f"cannot run {target.docker_platform} programs ({_last_line(output)}); "
            f"{_EMULATION_HINT}, or pin versions that ship manylinux wheels for the target",
            names,
        )
    if returncode != DOCKER_RUN_FAILED:
        return
    if _REGISTRY_FAILURE.search(output):
        raise NeedsDockerError(_pull_failed(output, names, target, image, default_image), names)
    if _NO_ENGINE.search(output):
        raise NeedsDockerError(
            f"{', '.join(names)} must be compiled for {target} in Docker, but no Docker "
            f"engine is running ({_last_line(output)}); start Docker (or the engine "
            f"CDK_DOCKER names: '{binary}'), or pin versions that ship manylinux wheels for "
            "the target",
            names,
        )
    raise NeedsDockerError(
        f"{', '.join(names)} must be compiled for {target} in Docker, but '{binary} run' "
        f"could not start the container ({_last_line(output)}); check that the engine runs "
        f"and can run {target.docker_platform} images ({_EMULATION_HINT}), or pin versions "
        "that ship manylinux wheels for the target",
        names,
    )


def _pull_failed(
    output: str, names: list[str], target: Target, image: str, default_image: bool
) -> str:
    return (
        f"{', '.join(names)} must be compiled for {target} in Docker, but Docker could "
        f"not get the build image {image} ({_last_line(output)}); check the image name"
        f"{'' if default_image else ' (docker_image / --docker-image)'}, "
        f"your access to its registry (`docker login {image.split('/', 1)[0]}`) and the "
        f"network, or pull it yourself (`docker pull --platform {target.docker_platform} "
        f"{image}`) and retry; or pin versions that ship manylinux wheels for the target"
    )


def missing_requirements(output: str) -> list[str]:
    """Build requirements pip could not find in the wheelhouse (``cmake>=3.15``), in order."""
    found = [a or b for a, b in _MISSING_REQUIREMENT.findall(output)]
    return list(dict.fromkeys(r.rstrip(".") for r in found))


def failed_distributions(output: str, names: Sequence[str]) -> list[str]:
    """Which of ``names`` pip reports as failed (all of them when it does not say)."""
    wanted = {canonicalize_name(n) for n in names}
    said: set[str] = set()
    for match in _FAILED_TO_BUILD.finditer(output):
        said |= {canonicalize_name(n.strip("',")) for n in match.group(1).split()}
    for a, b in _FAILED_WHEEL.findall(output):
        said.add(canonicalize_name(a or b))
    processed = _PROCESSING.findall(output)
    if not said & wanted and processed:  # a fatal error: the sdist pip was processing
        said.add(canonicalize_name(processed[-1].split("-", 1)[0]))
    return sorted(said & wanted) or sorted(wanted)


def _failure_message(
    failed: Sequence[str],
    pins: Mapping[str, str],
    target: Target,
    image: str,
    returncode: int,
    output: str,
    missing: Sequence[str],
    network: bool,
) -> str:
    lines = output.strip().splitlines()
    tail = "\n".join(lines[-_TAIL_LINES:])
    cut = f"(last {_TAIL_LINES} of {len(lines)} lines)\n" if len(lines) > _TAIL_LINES else ""
    listed = ", ".join(f"{n}=={pins.get(n, '?')}" for n in failed)
    if missing:
        step = (
            f"The build needs {', '.join(missing)}, which no index lists for {target}: pin a "
            "release of the package whose build does not need it, or build the wheel yourself "
            "and pass its folder with --find-links / find_links"
        )
    else:
        step = (
            "The build's own output above says why (often a missing system library or header: "
            "build an image FROM the build image with it installed and pass it with "
            "docker_image / --docker-image"
            + (
                ""
                if network
                else "; a build that downloads files needs docker_network=True / --docker-network"
            )
            + f"), or pin a version that ships a manylinux wheel for {target}"
        )
    return (
        f"{listed} failed to compile in {image} (Docker, {target.docker_platform}, exit "
        f"{returncode}):\n{cut}{tail}\n{step}."
    )


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("See 'docker", "Run 'docker"))]
    return (useful or lines or ["no output"])[-1]


__all__ = [
    "CONTAINER_OUTPUT",
    "build_wheels_in_docker",
    "container_command",
    "docker_binary",
    "docker_environment",
    "failed_distributions",
    "missing_requirements",
]
