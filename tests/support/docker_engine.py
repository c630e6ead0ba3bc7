"""A private Docker engine for the ``docker`` tests: ``dockerd`` started by the tests, arm64
emulation through binfmt_misc + qemu-user, and the SAM stand-in images loaded into it.

Needs root, ``dockerd`` and the ``docker`` CLI (Debian: ``apt-get install docker.io``) and, for
arm64, ``qemu-aarch64-static`` (``make test-setup``). The daemon is the tests' own: a socket in
a fresh folder under the system temp folder, its images and layers under
``<test cache>/dockerd`` (so the stand-ins survive between sessions), ``--bridge=none
--iptables=false``: it makes no network and touches no firewall rule; build containers run
with ``--network none``. It never talks to the user's own engine, whose images named like the
SAM images must not be replaced by stand-ins.

``LAMBDA_WHEELS_TEST_DOCKER_HOST=unix:///path/docker.sock`` uses an engine already started this
way instead (for quick reruns); nothing else is used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import sysroots

#: How to enable the tests, for every skip reason.
ENABLE = (
    "run `make test-docker` as root on Linux with docker.io (dockerd + docker CLI) and "
    "qemu-user-static installed (apt-get install docker.io qemu-user-static)"
)
BINFMT = Path("/proc/sys/fs/binfmt_misc")
#: binfmt_misc's registration of qemu-aarch64-static for aarch64 ELF executables; ``F`` opens
#: the interpreter at registration, so it works inside containers (other mount namespaces).
QEMU_AARCH64 = (
    r":qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
    r":\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
    ":{qemu}:F"
)


class Unavailable(RuntimeError):
    """No engine can be started here; the message says why and how to enable the tests."""


@dataclass
class Engine:
    """A running test engine: ``docker`` with ``env`` talks to it."""

    host: str  # DOCKER_HOST
    docker: str  # the docker CLI
    arm64: str | None  # why arm64 containers cannot run, or None when they can
    env: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.docker, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _answers(docker: str, env: Mapping[str, str]) -> bool:
    try:
        proc = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def docker_cli() -> str:
    """The docker CLI: Debian's (``/usr/bin/docker``, the client of its dockerd) first."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise Unavailable(f"no docker CLI on PATH: {ENABLE}")


def ensure_binfmt() -> str | None:
    """Register qemu-aarch64-static with binfmt_misc (flag F) when it is not; ``None`` when
    arm64 programs run, else why not."""
    entry = BINFMT / "qemu-aarch64"
    if not (BINFMT / "register").exists():
        if os.geteuid() != 0:
            return f"binfmt_misc is not mounted and we are not root ({ENABLE})"
        proc = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return f"cannot mount binfmt_misc: {proc.stderr.strip()}"
    if entry.is_file():
        text = entry.read_text()
        if "enabled" in text and "flags: F" in text:
            return None
        return f"{entry} exists without the F flag: `echo -1 > {entry}` and rerun"
    qemu = shutil.which(sysroots.QEMU)
    if qemu is None:
        return f"{sysroots.QEMU} is not installed ({ENABLE})"
    try:
        (BINFMT / "register").write_text(QEMU_AARCH64.format(qemu=qemu))
    except OSError as exc:
        return f"cannot register {qemu} with binfmt_misc: {exc}"
    return None


@contextlib.contextmanager
def engine(cache_dir: Path | None = None) -> Iterator[Engine]:
    """A running test engine (started here, stopped on exit).

    Raises:
        Unavailable: not Linux, not root, no dockerd, or the daemon did not come up.
    """
    docker = docker_cli()
    given = os.environ.get("LAMBDA_WHEELS_TEST_DOCKER_HOST")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    if given:
        env = {**base_env, "DOCKER_HOST": given}
        if not _answers(docker, env):
            raise Unavailable(f"LAMBDA_WHEELS_TEST_DOCKER_HOST={given}: no engine answers there")
        yield Engine(given, docker, ensure_binfmt(), env)
        return
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise Unavailable(f"the tests start their own dockerd, which needs root: {ENABLE}")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise Unavailable(f"dockerd is not installed: {ENABLE}")
    cache = (cache_dir or sysroots.default_cache_dir()) / "dockerd"
    cache.mkdir(parents=True, exist_ok=True)
    # one daemon per data root: a second session waits for the first
    with sysroots._lock(cache / ".lock"):
        run_dir = Path(tempfile.mkdtemp(prefix="lwd-"))  # short: a unix socket path
        host = f"unix://{run_dir / 'docker.sock'}"
        env = {**base_env, "DOCKER_HOST": host}
        log = cache / "dockerd.log"
        started = time.monotonic()
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.Popen(
                [
                    dockerd,
                    "--bridge=none",
                    "--iptables=false",
                    "--ip6tables=false",
                    f"--data-root={cache / 'data'}",
                    f"--exec-root={run_dir / 'exec'}",
                    f"--pidfile={run_dir / 'dockerd.pid'}",
                    f"--host={host}",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            while not _answers(docker, env):
                if proc.poll() is not None or time.monotonic() - started > 90:
                    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                    raise Unavailable(f"dockerd did not start ({' | '.join(tail)}): {ENABLE}")
                time.sleep(0.5)
            ready = Engine(host, docker, ensure_binfmt(), env)
            ready.timings["dockerd start"] = time.monotonic() - started
            yield ready
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(run_dir, ignore_errors=True)
