#!/usr/bin/env python3
"""A stand-in for the `docker` CLI, for tests on machines without a Docker engine.

Point ``CDK_DOCKER`` at this file. For ``docker run`` it runs the container command **on the
host**: bind mounts (``-v HOST:CONTAINER[:opts]``) are mapped back to host paths in the command
and working directory, ``-e NAME`` variables are passed through, and ``python`` is replaced by a
host interpreter of the image's Python version (``build-python3.11`` -> ``python3.11`` from
PATH or pyenv).

What this proves: the exact command line lambda-wheels gives Docker (image, ``--platform``,
mounts, variables passed by name, the pip wheel invocation) is well formed and its output is
picked up, installed and audited. What it does NOT prove: that the SAM build image compiles the
sdist for the target OS/architecture -- the build runs on this host (x86_64, its own glibc), so
only an x86_64 target whose Python matches a host interpreter gives a loadable result.
``docker version`` answers like a client without an engine unless FAKE_DOCKER_ENGINE=1;
``docker image inspect`` reports every image present, for the architecture its tag names.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def _python_for(image: str) -> str:
    match = re.search(r"python(\d+)\.(\d+)", image)
    if not match:
        sys.exit(f"fake docker: cannot tell the Python version of image {image!r}")
    name = f"python{match[1]}.{match[2]}"
    found = shutil.which(name)
    if found:
        return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(root.glob(f"{match[1]}.{match[2]}.*/bin/{name}")):
        return str(candidate)
    sys.exit(f"fake docker: no host interpreter {name} for image {image!r}")


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_DOCKER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(" ".join(argv) + "\n")
    if not argv:
        return 1
    if argv[0] == "version":
        if os.environ.get("FAKE_DOCKER_ENGINE") == "1":
            print("99.0.0-fake")
            return 0
        print(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", file=sys.stderr
        )
        return 1
    if argv[:2] == ["image", "inspect"]:  # every image is "there", for the arch its tag names
        print("linux/arm64" if argv[-1].endswith("arm64") else "linux/amd64")
        return 0
    if argv[0] != "run":
        print(f"fake docker: unsupported command {argv[0]!r}", file=sys.stderr)
        return 1
    mounts: list[tuple[str, str]] = []
    env = dict(os.environ)
    workdir = None
    args = argv[1:]
    i = 0
    with_value = {"--platform", "-u", "--user", "--name", "--network", "--entrypoint"}
    while i < len(args) and args[i].startswith("-"):
        flag = args[i]
        if flag in ("-v", "--volume"):
            host, container = args[i + 1].split(":")[:2]
            mounts.append((container, host))
            i += 2
        elif flag in ("-w", "--workdir"):
            workdir = args[i + 1]
            i += 2
        elif flag in ("-e", "--env"):
            name, _, value = args[i + 1].partition("=")
            if _:
                env[name] = value
            i += 2
        elif flag in with_value:
            i += 2
        else:
            i += 1
    image, command = args[i], args[i + 1 :]

    def host_path(text: str) -> str:
        for container, host in sorted(mounts, key=lambda m: -len(m[0])):
            if text == container or text.startswith(container + "/"):
                return host + text[len(container) :]
        return text

    command = [host_path(a) for a in command]
    if command and command[0] == "python":
        command[0] = _python_for(image)
    cwd = host_path(workdir) if workdir else None
    return subprocess.call(command, cwd=cwd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
