"""Build native sdists into wheels inside the runtime's build image, with the ``docker`` CLI.

Used only for requirements that have no fitting wheel *and* contain native code. The image is
the SAM build image of the target runtime and architecture
(``public.ecr.aws/sam/build-python3.12:latest-arm64``, ``--platform linux/arm64``), so the
compiled extension links against the target OS's glibc. The binary is the one CDK uses:
``$CDK_DOCKER`` or ``docker``. What Docker builds is audited like every other file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import InstallError, NeedsDockerError
from ..events import Log, emit, quiet
from ..inputs.spec import IndexSettings
from ..target.target import Target
from ..urls import redact_text
from .environment import installer_environment
from .installers import index_environment, secrets_of

#: Where the wheelhouse is mounted inside the container (CDK's bundling convention).
CONTAINER_OUTPUT = "/asset-output"
#: Where local find-links folders are mounted (read-only), one numbered folder each.
CONTAINER_FIND_LINKS = "/lambda-wheels/find-links"


def docker_binary(environ: Mapping[str, str]) -> str:
    """``$CDK_DOCKER`` (what CDK itself runs) or ``docker``."""
    return environ.get("CDK_DOCKER") or "docker"


def build_wheels_in_docker(
    pins: Mapping[str, str],
    target: Target,
    wheelhouse: Path,
    *,
    index: IndexSettings,
    hashes: Mapping[str, Sequence[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    log: Log = quiet,
    image: str | None = None,
) -> list[Path]:
    """Build ``{name: version}`` from sdists into ``wheelhouse`` in the target's build image
    (or in ``image`` when given).

    Index settings reach the container as ``PIP_*`` variables passed by name (``-e NAME``), so
    credentials never appear on the command line.

    Raises:
        NeedsDockerError: the docker binary is missing or there is no engine.
        InstallError: the build inside the container failed.
    """
    host_env = dict(os.environ if environ is None else environ)
    image = image or target.build_image
    binary = docker_binary(host_env)
    names = sorted(pins)
    if shutil.which(binary) is None and not Path(binary).is_file():
        raise NeedsDockerError(
            f"{', '.join(names)} must be compiled for {target} but the Docker CLI "
            f"'{binary}' was not found; install Docker (or set CDK_DOCKER), or pin versions "
            "that ship manylinux wheels for the target",
            names,
        )
    wheelhouse.mkdir(parents=True, exist_ok=True)
    reqs = wheelhouse / ".docker-requirements.txt"
    lines = []
    for name in names:
        line = f"{name}=={pins[name]}"
        for digest in (hashes or {}).get(name, ()):
            line += f" --hash={digest}"
        lines.append(line)
    reqs.write_text("\n".join(lines) + "\n", encoding="utf-8")

    child = index_environment(index, "pip")  # pip runs inside the build image
    mounts: list[str] = []
    links_args: list[str] = []
    remote_links: list[str] = []
    for i, link in enumerate(index.find_links):
        local = Path(link)
        if "://" not in link and local.is_dir():
            # local find-links folders are mounted read-only at a fixed place
            mounts += ["-v", f"{local.resolve()}:{CONTAINER_FIND_LINKS}/{i}:ro"]
            links_args += ["--find-links", f"{CONTAINER_FIND_LINKS}/{i}"]
        else:
            remote_links.append(link)
    if remote_links:
        child["PIP_FIND_LINKS"] = " ".join(remote_links)
    env = installer_environment(host_env, child)

    argv = [
        binary,
        "run",
        "--rm",
        "--platform",
        target.docker_platform,
        "-v",
        f"{wheelhouse}:{CONTAINER_OUTPUT}:z",
        *mounts,
        "-w",
        CONTAINER_OUTPUT,
    ]
    if hasattr(os, "getuid"):  # POSIX: files in the mount should belong to the user (like CDK)
        argv += ["-u", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
    for name in sorted(child):
        argv += ["-e", name]
    argv += [
        image,
        "python",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--disable-pip-version-check",
        "--wheel-dir",
        CONTAINER_OUTPUT,
        *links_args,
        "-r",
        f"{CONTAINER_OUTPUT}/.docker-requirements.txt",
    ]
    secrets = secrets_of(index)
    log(f"building {', '.join(names)} from source in {image} (Docker)")
    emit("docker-build", target=str(target), distributions=names)
    try:
        proc = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise NeedsDockerError(
            f"could not run Docker ('{binary}'): {exc}; install Docker or set CDK_DOCKER", names
        ) from None
    finally:
        reqs.unlink(missing_ok=True)
    output = redact_text(proc.stdout + proc.stderr, secrets)
    if proc.returncode != 0:
        if proc.returncode == DOCKER_RUN_FAILED and _REGISTRY_FAILURE.search(output):
            raise NeedsDockerError(
                f"{', '.join(names)} must be compiled for {target} in Docker, but Docker could "
                f"not get the build image {image} ({_last_line(output)}); check the image name"
                f"{'' if image == target.build_image else ' (docker_image / --docker-image)'}, "
                f"your access to its registry (`docker login {image.split('/', 1)[0]}`) and the "
                f"network, or pull it yourself (`docker pull --platform {target.docker_platform} "
                f"{image}`) and retry; or pin versions that ship manylinux wheels for the target",
                names,
            )
        if "Cannot connect to the Docker daemon" in output or "docker daemon" in output.lower():
            raise NeedsDockerError(
                f"{', '.join(names)} must be compiled for {target} in Docker, but no Docker "
                f"engine is running ({output.strip().splitlines()[-1]}); start Docker, or pin "
                "versions that ship manylinux wheels for the target",
                names,
            )
        raise InstallError(
            f"building {', '.join(names)} in {image} failed "
            f"(exit {proc.returncode}):\n{output.strip()}"
        )
    built = sorted(wheelhouse.glob("*.whl"))
    missing = [n for n in names if not any(_wheel_name(w) == n for w in built)]
    if missing:
        raise InstallError(
            f"Docker build finished but produced no wheel for {', '.join(missing)}:\n{output}"
        )
    return built


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


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("See 'docker")]
    return (useful or lines or ["no output"])[-1]


def _wheel_name(path: Path) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(path.name.split("-", 1)[0])
