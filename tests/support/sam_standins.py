"""Local stand-ins for the SAM build images, for a Docker engine that cannot reach a registry.

``public.ecr.aws/sam/build-pythonX.Y:latest-x86_64|arm64`` (what lambda-wheels compiles native
sdists in, :attr:`Target.build_image`) cannot be pulled here: no container registry is
reachable. These images carry the same names and what a build needs: Debian's CPython of the
same minor version (3.11: bookworm, 3.13: trixie, 3.14: sid) with its headers, ``python3-pip``,
``gcc``, ``g++``, ``libc6-dev`` and Debian's ``ca-certificates`` (the public Mozilla bundle
only: nothing of the host's trust store goes in). ``python`` runs the target's minor version,
as in the SAM images.

Recipe: ``apt-get download`` of the packages' dependency closure for the image's architecture
with a private apt configuration (:mod:`tests.support.sysroots`), ``dpkg-deb -x`` into a
root folder, the bits a package's maintainer scripts would have made (merged-/usr links, the CA
bundle, ``/etc/passwd``, ``/tmp``, the standard library's bytecode), then ``docker import
--platform linux/<arch>`` of a tar of that folder: the image's metadata says its architecture,
so ``docker run --platform linux/arm64`` picks it (and runs it through binfmt + qemu-user).
Each image is also kept as a ``docker save`` tarball under ``<test cache>/sam-standins`` and
loaded from there into a daemon that lacks it.

How they differ from the real SAM images: Debian, not Amazon Linux; glibc 2.36 (bookworm), 2.41
(trixie) or newer, where Lambda has 2.26 (Amazon Linux 2) or 2.34 (Amazon Linux 2023); GCC 12+
where AL2's is 7. An extension compiled here may therefore need a newer glibc than the runtime
has: the audit must catch exactly that (and the tests check it does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import sysroots
from tests.support.sysroots import SetupError

#: Bump when the recipe changes: images (and saved tarballs) with another value are rebuilt.
RECIPE = 1
#: Set in every stand-in image (``docker image inspect``): which recipe made it.
MARKER = "LAMBDA_WHEELS_STANDIN"
#: Debian architecture names by Lambda/Docker architecture.
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
DOCKER_PLATFORM = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
#: The Debian release whose CPython is the image's (packages.debian.org).
SUITES = {"3.11": "bookworm", "3.13": "trixie", "3.14": "sid"}
#: Packages that make the closure bigger and that no build needs.
NOT_NEEDED = sysroots.NOT_NEEDED | {"dpkg", "install-info", "perl", "perl-modules-5.36"}
#: What a setup.py may call besides the compiler (the SAM images have them too).
TOOLS = ("dash", "bash", "coreutils", "make", "sed", "grep", "findutils", "tar", "gzip")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Standin:
    """One stand-in image: a CPython minor version for an architecture."""

    python: str  # "3.11"
    arch: str  # "x86_64" | "arm64"

    @property
    def suite(self) -> str:
        return SUITES[self.python]

    @property
    def name(self) -> str:
        """The SAM build image's name (as :attr:`Target.build_image` spells it)."""
        return f"public.ecr.aws/sam/build-python{self.python}:latest-{self.arch}"

    @property
    def platform(self) -> str:
        return DOCKER_PLATFORM[self.arch]

    @property
    def marker(self) -> str:
        return f"{self.suite}-{DEBIAN_ARCH[self.arch]}-recipe-{RECIPE}"

    @property
    def roots(self) -> tuple[str, ...]:
        py = f"python{self.python}"
        return (
            py,
            f"{py}-dev",
            "python3-pip",
            "gcc",
            "g++",
            "libc6-dev",
            "ca-certificates",
            *TOOLS,
        )


def default_cache_dir() -> Path:
    return sysroots.default_cache_dir() / "sam-standins"


def ensure_image(
    standin: Standin, docker: Sequence[str], cache_dir: Path | None = None
) -> dict[str, float]:
    """Make ``standin`` available in the engine ``docker`` talks to: already there, loaded from
    the saved tarball, or built (and saved). Returns what took how long.

    Raises:
        SetupError: it could not be built (the message says why).
    """
    cache = cache_dir or default_cache_dir()
    timings: dict[str, float] = {}
    if _marker(docker, standin.name) == standin.marker:
        return timings
    saved = cache / f"{standin.suite}-{DEBIAN_ARCH[standin.arch]}-r{RECIPE}.tar"
    cache.mkdir(parents=True, exist_ok=True)
    with sysroots._lock(cache / ".lock"):
        if saved.is_file():
            started = time.monotonic()
            _run([*docker, "load", "-i", str(saved)], timeout=600)
            timings["docker load"] = time.monotonic() - started
            if _marker(docker, standin.name) == standin.marker:
                return timings
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix="standin-", dir=cache))
        try:
            root = staging / "root"
            build_rootfs(standin, root, staging / "apt")
            timings["rootfs"] = time.monotonic() - started
            started = time.monotonic()
            _tar(root, staging / "rootfs.tar")
            shutil.rmtree(root)  # not part of the build context
            (staging / "Dockerfile").write_text(
                "FROM scratch\nADD rootfs.tar /\n"
                f"ENV PATH={PATH} LANG=C.UTF-8 {MARKER}={standin.marker}\n"
                'CMD ["python"]\n'
            )
            # the legacy builder: what every engine has (no buildx plugin needed); FROM
            # scratch runs nothing, so no emulation is needed to build a foreign image
            argv = [*docker, "build", "--platform", standin.platform, "-t", standin.name]
            _run([*argv, str(staging)], timeout=600, env={**os.environ, "DOCKER_BUILDKIT": "0"})
            partial = saved.with_suffix(".part")
            _run([*docker, "save", "-o", str(partial), standin.name], timeout=600)
            os.replace(partial, saved)
            timings["docker build + save"] = time.monotonic() - started
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if _marker(docker, standin.name) != standin.marker:
        raise SetupError(
            f"{standin.name} was built but `docker image inspect` does not show it for its architecture"
        )
    return timings


def _marker(docker: Sequence[str], image: str) -> str | None:
    """The recipe marker of a local image, with its architecture (``bookworm-arm64-recipe-1``
    only when the image is a stand-in AND its metadata says arm64); ``None``: no such image."""
    proc = subprocess.run(
        [*docker, "image", "inspect", "--format", "{{.Architecture}} {{json .Config.Env}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    arch, _, env = proc.stdout.strip().partition(" ")
    for item in json.loads(env or "null") or []:
        name, _, value = item.partition("=")
        if name == MARKER and value.split("-")[1:2] == [arch]:
            return str(value)
    return None


def build_rootfs(standin: Standin, root: Path, apt_dir: Path) -> None:
    """Unpack the image's packages into ``root`` and finish what their scripts would do."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found: building a stand-in image needs a Debian host")
    arch = DEBIAN_ARCH[standin.arch]
    packages = sysroots.package_closure(
        apt_dir, standin.suite, standin.roots, arch=arch, not_needed=NOT_NEEDED
    )
    opts = sysroots.apt_options(apt_dir, arch)
    debs = apt_dir / "debs"
    debs.mkdir()
    sysroots._run(["apt-get", *opts, "-qq", "download", *packages], cwd=debs, timeout=1200)
    root.mkdir(parents=True)
    got = set()
    for deb in sorted(debs.glob("*.deb")):
        got.add(deb.name.split("_", 1)[0])
        sysroots._run(["dpkg-deb", "-x", str(deb), str(root)])
    missing = sorted(set(packages) - got)
    if missing:
        raise SetupError(f"apt-get download did not fetch {', '.join(missing)}")
    sysroots._merge_usr(root)
    lib64 = root / "lib64"
    if (root / "usr" / "lib64").is_dir() and not lib64.exists() and not lib64.is_symlink():
        lib64.symlink_to("usr/lib64")
    _finish(standin, root)


def _finish(standin: Standin, root: Path) -> None:
    """What the packages' maintainer scripts and base-files would have set up."""
    python = root / "usr" / "bin" / f"python{standin.python}"
    if not python.is_file():
        raise SetupError(f"{python.name} is not in the unpacked packages")
    sh = root / "bin" / "sh"
    if not sh.exists() and not sh.is_symlink():
        sh.symlink_to("dash")
    local_bin = root / "usr" / "local" / "bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    (local_bin / "python").symlink_to(f"/usr/bin/python{standin.python}")
    # update-ca-certificates: the Mozilla bundle Debian ships, nothing else
    certs = sorted((root / "usr" / "share" / "ca-certificates" / "mozilla").glob("*.crt"))
    if not certs:
        raise SetupError("ca-certificates unpacked no certificate")
    bundle = root / "etc" / "ssl" / "certs" / "ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"".join(c.read_bytes().rstrip(b"\n") + b"\n" for c in certs))
    etc = root / "etc"
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for folder, mode in (("tmp", 0o1777), ("root", 0o700), ("var/tmp", 0o1777)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder).chmod(mode)
    # the .pyc files Debian's postinst writes: without them every emulated start compiles
    host = sysroots._host_python(standin.python)
    if host is not None:
        for folder in (f"usr/lib/python{standin.python}", "usr/lib/python3/dist-packages"):
            subprocess.run(
                [host, "-I", "-m", "compileall", "-q", "-j0", str(root / folder)],
                capture_output=True,
                check=False,
                timeout=900,
            )
    stamp = {"recipe": RECIPE, "suite": standin.suite, "python": standin.python}
    (etc / "lambda-wheels-standin.json").write_text(json.dumps(stamp, sort_keys=True) + "\n")


def _tar(root: Path, dest: Path) -> None:
    """A tar of ``root`` owned by root:root, links kept as links."""

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(dest, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name, filter=owned_by_root)


def _run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    return sysroots._run(argv, timeout=timeout, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="3.11", choices=sorted(SUITES))
    parser.add_argument("--arch", default="x86_64", choices=sorted(DEBIAN_ARCH))
    args = parser.parse_args(argv)
    standin = Standin(args.python, args.arch)
    with contextlib.suppress(KeyboardInterrupt):
        timings = ensure_image(standin, [os.environ.get("CDK_DOCKER") or "docker"])
        print(f"{standin.name}: ready {timings}")
        return 0
    return 130


if __name__ == "__main__":
    sys.exit(main())
