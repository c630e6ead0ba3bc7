"""Installers: execute one :class:`InstallPlan` into a folder, for a Lambda target.

Two installers, one plan:

* :class:`UvInstaller` (default): the ``uv`` binary from the ``uv`` PyPI package.
  ``uv pip install --target DIR --python-version X.Y --python-platform <arch>-manylinux_2_N
  --only-binary :all: --no-installer-metadata --no-compile-bytecode``. uv evaluates environment
  markers (``platform_machine == "aarch64"``) for the *target*.
* :class:`PipInstaller`: ``python -m pip install --target DIR --platform <every tag>
  --python-version X.Y --implementation cp --abi cpXY --only-binary=:all:``. pip selects the
  right wheels by tag, but evaluates environment markers for the *host*: on an x86_64 laptop a
  dependency guarded by ``platform_machine == "aarch64"`` is skipped for an arm64 target (and the
  x86_64 one is installed). Use it only when uv is not an option.

Index settings travel to the child through environment variables, never argv, so a token in an
index URL does not show in process listings; every message we build is redacted. The child
environment comes from :mod:`.hostenv` (host pip/uv configuration is not honoured).

The requirements and constraints files the installers read never hold a secret: a URL's
credentials are written as ``${LAMBDA_WHEELS_URL_CREDENTIALS_<n>}`` and the value is passed in
the child's environment (pip and uv both expand ``${NAME}`` in these files). The files live in
a private temp folder that is removed on exit and, after a kill, by the next build
(:mod:`.leftovers`); the installer dies with the process that started it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal, Protocol

from ..errors import BundleError, InstallError
from ..events import plain_text
from ..inputs.requirement_lines import Requirements
from ..inputs.spec import IndexSettings
from ..target.runtimes import DATACLASS_SLOTS
from ..target.target import Target
from ..urls import redact_text, secret_of, userinfo_in_text
from .environment import installer_environment
from .leftovers import TEMP_PREFIXES, owned_temp_dir, popen_dying_with_parent

#: How installed files relate to the installer's cache (see :attr:`InstallPlan.link_mode`).
LinkMode = Literal["link", "copy"]

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True, **DATACLASS_SLOTS)
class InstallPlan:
    """Everything an installer needs; the same plan gives the same tree with either installer.

    Attributes:
        target: where the bundle runs.
        requirements: what to install (each requirement with its ``--hash`` values in
            hash-checking mode); written as a requirements.txt only where an installer reads one.
        constraints: constraints text (may be empty).
        index: effective index settings (may hold credentials; never printed unredacted).
        wheelhouse: local folders of wheels we built (sdists), searched like ``--find-links``.
        source_build: canonical names that uv may build from sdists on the host (pure ones).
        no_deps: install exactly the requirements, no resolution of dependencies.
        python_platform: uv's ``--python-platform`` when it must differ from the target's own
            (behind a filtering index view, which already hides every wheel that does not fit).
        link_mode: ``"link"``: uv clones files from its cache where the file system can
            (APFS, btrfs, XFS: copy-on-write), else hard-links them, else copies (uv's
            ``--link-mode clone`` chain); ``"copy"``: every file is a new copy. pip always copies.
        refresh: re-download instead of reusing the installer's cache (uv ``--refresh``): used
            after a cache entry was found changed, since an in-place edit of a hard-linked file
            also changed uv's cached copy.
    """

    target: Target
    requirements: Requirements
    constraints: str = ""
    index: IndexSettings = field(default_factory=IndexSettings)
    wheelhouse: tuple[str, ...] = ()
    source_build: tuple[str, ...] = ()
    no_deps: bool = False
    python_platform: str | None = None
    link_mode: LinkMode = "link"
    refresh: bool = False

    def uv_target_args(self) -> list[str]:
        """``--python-version X.Y --python-platform ...`` for uv."""
        platform = self.python_platform or self.target.uv_platform
        return ["--python-version", self.target.python_version, "--python-platform", platform]


class Installer(Protocol):
    """Runs an :class:`InstallPlan` into ``dest`` (an empty folder)."""

    name: str

    def version(self) -> str:
        """A string that changes whenever the installer's behaviour may change (cache key)."""
        ...

    def install(
        self, plan: InstallPlan, dest: Path, *, log: Log = _quiet, progress: Log = _quiet
    ) -> None:
        """Install; ``log`` gets command lines, ``progress`` the installer's stages."""
        ...

    def child_env(self, plan: InstallPlan) -> dict[str, str]: ...

    def dry_run(self, plan: InstallPlan, *, log: Log = _quiet) -> list[tuple[str, str]]:
        """Resolve without installing: ``[(name, version), ...]``."""
        ...


# -- errors from installer output ------------------------------------------------------------

_WHEELS_REQUIRED = re.compile(r"Wheels are required for `([^`]+)`")
_NO_WHEELS = re.compile(
    r"(?:all versions of|only|and) `?([A-Za-z0-9][A-Za-z0-9._-]*)`?(?:==[^\s,]+)? "
    r"(?:has|have) no (?:usable )?wheels"
)
_PIP_NO_MATCH = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")
#: How uv (Rust io errors) and pip (Python OSError) spell a full disk / a refused write.
_DISK_FULL = re.compile(r"No space left on device|os error 28\b|\[Errno 28\]")
_NO_PERMISSION = re.compile(r"Permission denied \(os error 13\)|\[Errno 13\] Permission denied")
#: uv's first line, about the interpreter given as ``--python`` (the host's, which uv needs for
#: sdist builds only): next to a failure for another target it reads as if the host's Python
#: were the target, so it is left out of error messages (the message names the target).
_HOST_INTERPRETER = re.compile(
    r"^Using (?:CPython|Python) \S+ (?:interpreter|environment) at: .*\n?", re.M
)


class NoFittingWheelError(InstallError):
    """The resolver found requirements that exist only as sdists for this target."""

    def __init__(self, message: str, names: Sequence[str]) -> None:
        super().__init__(message)
        self.names = tuple(names)


#: Environment variables that carry index settings to each installer (never argv: tokens in
#: index URLs would show in process listings).
_INDEX_VARIABLES: dict[str, tuple[str, str, str]] = {
    # installer: (index_url, extra index URLs (space-separated), no-index flag)
    "uv": ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_NO_INDEX"),
    "pip": ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"),
}


def index_environment(index: IndexSettings, installer: str) -> dict[str, str]:
    """The variables that give ``installer`` (``"uv"`` or ``"pip"``) these index settings."""
    url_var, extra_var, no_index_var = _INDEX_VARIABLES[installer]
    env: dict[str, str] = {}
    if index.index_url:
        env[url_var] = index.index_url
    if index.extra_index_urls:
        env[extra_var] = " ".join(index.extra_index_urls)
    if index.no_index:
        env[no_index_var] = "1"
    return env


def secrets_of(index: IndexSettings) -> list[str]:
    """Every password/token embedded in the index settings' URLs."""
    found = (
        secret_of(url)
        for url in (index.index_url or "", *index.extra_index_urls, *index.find_links)
    )
    return [secret for secret in found if secret]


def sdist_only_names(output: str) -> list[str]:
    """Names uv/pip report as having no usable wheel for the target (empty if none)."""
    names = (
        _WHEELS_REQUIRED.findall(output)
        or _NO_WHEELS.findall(output)
        # pip says this both for sdist-only and for unknown names; the uv resolution that
        # follows tells them apart ("not found in the package registry")
        or _PIP_NO_MATCH.findall(output)
    )
    return list(dict.fromkeys(names))


# -- running a child ---------------------------------------------------------------------------


def read_output(
    proc: subprocess.Popen[str],
    secrets: Sequence[str],
    on_line: Callable[[str], None] | None,
    *,
    on_abort: Callable[[], None] | None = None,
) -> str:
    """Read a child's output to its end and wait for it: each line goes to ``on_line`` as it
    arrives, and the whole is returned, credentials masked and escape codes removed. Ctrl-C,
    SIGTERM in the CLI or a failing callback kill the child (then ``on_abort`` runs)."""
    lines: list[str] = []
    with proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
                if on_line is not None:
                    on_line(plain_text(redact_text(line.rstrip("\r\n"), secrets)))
        except BaseException:
            proc.kill()
            if on_abort is not None:
                on_abort()
            raise
    return plain_text(redact_text("".join(lines), secrets))


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    secrets: Sequence[str],
    what: str,
    log: Log,
    on_line: Callable[[str], None] | None = None,
    stdout_only: bool = False,
) -> str:
    """Run a child with its output captured (stdout and stderr in one stream, in order).

    ``on_line`` sees each output line (credentials masked) as it arrives: live progress.
    ``stdout_only``: return stdout alone (a machine-readable report); stderr, read from a temp
    file so neither pipe can fill, still goes into an error. Escape codes are removed from
    everything before it is read or repeated (children run with colour off; this is for tools
    that colour anyway).
    """
    log(redact_text(" ".join(argv), secrets))
    with tempfile.TemporaryFile() if stdout_only else contextlib.nullcontext() as errors:
        try:
            proc = popen_dying_with_parent(
                argv,
                env=dict(env),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=errors if errors is not None else subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            raise InstallError(f"could not start {what} ({argv[0]}): {exc}") from None
        output = read_output(proc, secrets, on_line)
        stderr = ""
        if errors is not None:
            errors.seek(0)
            stderr = errors.read().decode("utf-8", errors="replace")
    if proc.returncode != 0:
        text = plain_text(redact_text(stderr, secrets)) + output
        names = sdist_only_names(text)
        detail = _HOST_INTERPRETER.sub("", text).strip()
        if names:
            raise NoFittingWheelError(f"{what} found no fitting wheel:\n{detail}", names)
        if _DISK_FULL.search(text):
            raise BundleError(
                f"{what} failed: the disk is full:\n{detail}\nFree space, or point the bundle "
                "cache (--cache-dir / LAMBDA_WHEELS_CACHE_DIR) and the installer's cache "
                "(UV_CACHE_DIR / PIP_CACHE_DIR) at a disk with room"
            )
        if _NO_PERMISSION.search(text):
            raise BundleError(
                f"{what} failed: permission denied:\n{detail}\nCheck the permissions of the "
                "folders named above, or choose another cache folder (--cache-dir)"
            )
        raise InstallError(f"{what} failed (exit {proc.returncode}):\n{detail}")
    return output


def _shared_args(plan: InstallPlan, con: Path | None) -> list[str]:
    """Flags uv and pip spell alike: constraints, find-links, hash checking, no-deps."""
    args: list[str] = []
    if con is not None:
        args += ["-c", str(con)]
    for link in (*plan.index.find_links, *plan.wheelhouse):
        args += ["--find-links", link]
    if plan.requirements.hash_checking:
        args.append("--require-hashes")
    if plan.no_deps:
        args.append("--no-deps")
    return args


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Workspace:
    """A private temp folder holding the plan's requirements/constraints files, and the
    variables that hold the credentials those files name (see module docstring)."""

    folder: Path
    req: Path
    con: Path | None
    env: Mapping[str, str]


@contextlib.contextmanager
def _workspace(plan: InstallPlan, prefix: str) -> Iterator[_Workspace]:
    with owned_temp_dir(prefix) as work:
        env: dict[str, str] = {}
        req = _write_private(
            work / "requirements.txt", _without_credentials(plan.requirements.text(), env)
        )
        con: Path | None = None
        if plan.constraints.strip():
            text = _without_credentials(plan.constraints, env)
            con = _write_private(work / "constraints.txt", text)
        yield _Workspace(work, req, con, env)


class _ChildRunner:
    """What uv and pip share: run a command for a plan in its isolated environment."""

    name: str

    def child_env(self, plan: InstallPlan) -> dict[str, str]:
        raise NotImplementedError

    def _call(
        self,
        argv: Sequence[str],
        plan: InstallPlan,
        work: _Workspace,
        what: str,
        log: Log,
        progress: Log | None = None,
        *,
        stdout_only: bool = False,
    ) -> str:
        return run_child(
            argv,
            env={**self.child_env(plan), **work.env},
            cwd=work.folder,
            secrets=secrets_of(plan.index),
            what=f"{self.name} ({what})",
            log=log,
            on_line=None if progress is None else _progress_lines(progress),
            stdout_only=stdout_only,
        )


#: The installers' own stage lines, retold as progress (uv's summary lines, downloads of big
#: files, pip's "Installing collected packages").
_STAGES: Final = (
    (re.compile(r"^Resolved (\d+ packages?) in (\S+)"), "resolved {0} ({1})"),
    (re.compile(r"^Prepared (\d+ packages?) in (\S+)"), "downloaded and unpacked {0} ({1})"),
    (re.compile(r"^Installed (\d+ packages?) in (\S+)"), "installed {0} ({1})"),
    (re.compile(r"^\s*Downloading (\S+) \(([^)]+)\)$"), "downloading {0} ({1})"),
    (re.compile(r"^Installing collected packages: (.+)$"), "installing {0}"),
)


def _progress_lines(progress: Log) -> Callable[[str], None]:
    """Turn an installer's output lines into a few progress lines (the rest stays quiet)."""

    def on_line(line: str) -> None:
        for pattern, template in _STAGES:
            match = pattern.match(line)
            if match:
                progress(template.format(*match.groups()))
                return

    return on_line


#: The variables that carry URL credentials to the installers (``${NAME}`` in their files).
CREDENTIAL_VARIABLE: Final = "LAMBDA_WHEELS_URL_CREDENTIALS_{}"


def _without_credentials(text: str, env: dict[str, str]) -> str:
    """``text`` with every URL's ``user:password@`` replaced by a ``${VARIABLE}`` that ``env``
    (updated here) holds. Userinfo already written as a variable is left as it is."""

    def swap(userinfo: str) -> str:
        if "${" in userinfo:
            return userinfo
        name = next((k for k, v in env.items() if v == userinfo), None)
        if name is None:
            name = CREDENTIAL_VARIABLE.format(len(env))
            env[name] = userinfo
        return f"${{{name}}}"

    return userinfo_in_text(text, swap)


def _write_private(path: Path, text: str) -> Path:
    """Write a new file readable by its owner only (``0600`` on POSIX)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as fh:
        fh.write(text.encode("utf-8"))
    return path


# -- uv ----------------------------------------------------------------------------------------

#: Every uv command: no colour whatever the environment says (``FORCE_COLOR`` set to anything,
#: ``0`` included, turns uv's colour on), no progress bars.
UV_PLAIN_OUTPUT: Final = ("--color", "never", "--no-progress")


def find_uv() -> str:
    """The uv binary shipped by the ``uv`` PyPI package (a runtime dependency)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError) as exc:  # pragma: no cover - broken install
        raise InstallError(
            f"the uv binary was not found ({exc}); reinstall lambda-wheels-cdk "
            "(it depends on the 'uv' package) or pass installer='pip'"
        ) from None


def uv_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder uv keeps its cache in, as uv reports it (``uv cache dir``, with the same
    environment as an install: ``UV_CACHE_DIR`` is honoured); ``None`` when uv cannot say."""
    env = installer_environment(os.environ if environ is None else environ)
    try:
        proc = subprocess.run(
            [find_uv(), "cache", "dir", *UV_PLAIN_OUTPUT],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, InstallError):
        return None
    path = proc.stdout.strip()
    return Path(path) if proc.returncode == 0 and path else None


class UvInstaller(_ChildRunner):
    """Install with uv; markers are evaluated for the target."""

    name = "uv"

    def __init__(
        self,
        uv: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        host_python: str | None = None,
    ) -> None:
        self.uv = uv or find_uv()
        self._environ = os.environ if environ is None else environ
        self.host_python = host_python or sys.executable
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            out = subprocess.run(
                [self.uv, "--version"], capture_output=True, text=True, check=False
            ).stdout
            self._version = out.strip() or "uv (unknown version)"
        return self._version

    def child_env(self, plan: InstallPlan) -> dict[str, str]:
        """The installer's environment: isolated from host config, index settings set."""
        extra = index_environment(plan.index, "uv")
        # a filtering index view listens on 127.0.0.1: never send uv there through a proxy
        from ..index.view import with_no_proxy

        return with_no_proxy(installer_environment(self._environ, extra))

    def _pip_install(self, work: _Workspace, into: Path, *options: str) -> list[str]:
        """``uv pip install --target INTO`` of the plan's requirements file with the host's
        interpreter (uv needs one to build sdists), plain output and no uv configuration, then
        ``options``."""
        return [
            self.uv,
            "pip",
            "install",
            "--target",
            str(into),
            *UV_PLAIN_OUTPUT,
            "--python",
            self.host_python,
            "--no-config",
            "-r",
            str(work.req),
            *options,
        ]

    def install(
        self, plan: InstallPlan, dest: Path, *, log: Log = _quiet, progress: Log = _quiet
    ) -> None:
        with _workspace(plan, TEMP_PREFIXES["uv"]) as work:
            argv = self._pip_install(
                work,
                dest.resolve(),
                *_for_target(plan, work),
                *_UV_FILES_ONLY,
                "--link-mode",
                "clone" if plan.link_mode == "link" else "copy",
                *(["--refresh"] if plan.refresh else []),
            )
            self._call(argv, plan, work, f"installing for {plan.target}", log, progress)

    def install_host_build(self, plan: InstallPlan, dest: Path, *, log: Log = _quiet) -> None:
        """Build ``plan.source_build`` from sdists for the *host* interpreter, into ``dest``.

        Used to find out whether an sdist is pure; the result is inspected, never shipped.
        Constraints, dependencies and the wheelhouse do not take part.
        """
        alone = replace(plan, wheelhouse=(), no_deps=True)
        with _workspace(plan, TEMP_PREFIXES["uv"]) as work:
            argv = self._pip_install(
                work,
                dest.resolve(),
                *_shared_args(alone, None),
                *_UV_FILES_ONLY,
                *_no_binary(plan),
            )
            self._call(
                argv, plan, work, f"building {', '.join(plan.source_build)} on the host", log
            )

    def dry_run(self, plan: InstallPlan, *, log: Log = _quiet) -> list[tuple[str, str]]:
        import json

        with _workspace(plan, TEMP_PREFIXES["uv"]) as work:
            report = ["--dry-run", "--output-format", "json"]
            argv = self._pip_install(
                work, work.folder / "target", *report, *_for_target(plan, work)
            )
            out = self._call(
                argv, plan, work, f"resolving for {plan.target}", log, stdout_only=True
            )
        try:
            data = json.loads(out)
        except json.JSONDecodeError:
            raise InstallError(f"uv's dry-run output was not JSON:\n{out}") from None
        return [
            (str(c["name"]), str(c["version"]))
            for c in data.get("changes", [])
            if c.get("action") == "installed"
        ]

    def build_wheel(self, plan: InstallPlan, project: str, out: Path, *, log: Log = _quiet) -> Path:
        """Build a local project folder or sdist file into one wheel in ``out`` (made here),
        with the host's interpreter and the plan's index settings for its build requirements.

        Raises:
            InstallError: the build failed, or gave other than one wheel.
        """
        out.mkdir(parents=True, exist_ok=True)
        argv = [self.uv, "build", "--wheel", "--no-config", "--python", self.host_python]
        run_child(
            [*argv, "--out-dir", str(out), project],
            env=self.child_env(plan),
            cwd=out,
            secrets=secrets_of(plan.index),
            what=f"uv (building the local project {project})",
            log=log,
        )
        built = sorted(out.glob("*.whl"))
        if len(built) != 1:
            raise InstallError(
                f"building the local project {project} gave {len(built)} wheels instead "
                "of one; check its build configuration"
            )
        return built[0]


#: What uv leaves out of an installed tree: its installer metadata files (``INSTALLER``,
#: ``REQUESTED``) and bytecode (compiled later for the target's Python, when asked).
_UV_FILES_ONLY: Final = ("--no-installer-metadata", "--no-compile-bytecode")


def _for_target(plan: InstallPlan, work: _Workspace) -> list[str]:
    """Resolve for the plan's target: its Python version and platform, the shared flags, and
    wheels only but for the named sdists."""
    return [*plan.uv_target_args(), *_shared_args(plan, work.con), *_uv_binary_policy(plan)]


def _no_binary(plan: InstallPlan) -> list[str]:
    """``--no-binary NAME`` for each sdist the plan builds on the host."""
    return [arg for name in plan.source_build for arg in ("--no-binary", name)]


def _uv_binary_policy(plan: InstallPlan) -> list[str]:
    """Wheels only, except the named (pure) sdists we decided to build on the host.

    uv reads ``--only-binary :all: --no-binary NAME`` as "wheels for everything but NAME".
    """
    return ["--only-binary", ":all:", *_no_binary(plan)]


# -- pip ---------------------------------------------------------------------------------------


class PipInstaller(_ChildRunner):
    """Install with pip and every platform tag. Markers are evaluated for the HOST (see module)."""

    name = "pip"

    def __init__(
        self, python: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.python = python or sys.executable
        self._environ = os.environ if environ is None else environ
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            proc = subprocess.run(
                [self.python, "-m", "pip", "--version"],
                capture_output=True,
                text=True,
                check=False,
                env=installer_environment(self._environ),
            )
            if proc.returncode != 0:
                raise InstallError(
                    f"installer='pip' needs pip in {self.python}: {proc.stderr.strip()}; "
                    f"run '{self.python} -m ensurepip' or use installer='uv'"
                )
            self._version = proc.stdout.split(" from ")[0].strip()
        return self._version

    def child_env(self, plan: InstallPlan) -> dict[str, str]:
        """The installer's environment: isolated from host config, index settings set."""
        return installer_environment(self._environ, index_environment(plan.index, "pip"))

    def _pip(self, command: str, *options: str) -> list[str]:
        """``python -m pip COMMAND --no-color OPTIONS``."""
        return [self.python, "-m", "pip", command, "--no-color", *options]

    def _args(self, plan: InstallPlan, req: Path, con: Path | None) -> list[str]:
        args = [*plan.target.pip_args(), "-r", str(req)]
        if plan.wheelhouse:
            # wheels we built for this target (Docker) carry linux_<arch>; we audit them
            args[:0] = ["--platform", f"linux_{plan.target.arch}"]
        return args + _shared_args(plan, con)

    def install(
        self, plan: InstallPlan, dest: Path, *, log: Log = _quiet, progress: Log = _quiet
    ) -> None:
        self.version()
        with _workspace(plan, TEMP_PREFIXES["pip"]) as work:
            argv = self._pip(
                "install",
                "--target",
                str(dest.resolve()),
                "--no-compile",
                "--no-warn-script-location",
                "--disable-pip-version-check",
                *self._args(plan, work.req, work.con),
            )
            self._call(argv, plan, work, f"installing for {plan.target}", log, progress)

    def dry_run(self, plan: InstallPlan, *, log: Log = _quiet) -> list[tuple[str, str]]:
        import json

        with _workspace(plan, TEMP_PREFIXES["pip"]) as work:
            report = work.folder / "report.json"
            argv = self._pip(
                "install",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                "--target",
                str(work.folder / "target"),
                *self._args(plan, work.req, work.con),
            )
            self._call(argv, plan, work, f"resolving for {plan.target}", log)
            data = json.loads(report.read_text(encoding="utf-8"))
        return [
            (str(item["metadata"]["name"]), str(item["metadata"]["version"]))
            for item in data.get("install", [])
        ]

    def build_wheels(self, plan: InstallPlan, wheelhouse: Path, *, log: Log = _quiet) -> list[Path]:
        """Build the plan's requirements from their sdists into wheels in ``wheelhouse`` (made
        here), without their dependencies: pip refuses sdists when it installs with
        ``--platform``, so it installs these wheels instead. The plan's index settings apply,
        and in hash-checking mode its hashes; the wheels in ``wheelhouse``, sorted."""
        wheelhouse.mkdir(parents=True, exist_ok=True)
        with _workspace(plan, TEMP_PREFIXES["pip"]) as work:
            argv = self._pip(
                "wheel",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--wheel-dir",
                str(wheelhouse),
                "-r",
                str(work.req),
            )
            self._call(argv, plan, work, "building pure sdists", log)
        return sorted(wheelhouse.glob("*.whl"))


def make_installer(name: str, *, environ: Mapping[str, str] | None = None) -> Installer:
    """``"uv"`` (default) or ``"pip"``."""
    if name == "uv":
        return UvInstaller(environ=environ)
    if name == "pip":
        return PipInstaller(environ=environ)
    from ..errors import UsageError

    raise UsageError(f"installer {name!r} is not supported; use 'uv' (default) or 'pip'")


__all__ = [
    "InstallPlan",
    "Installer",
    "NoFittingWheelError",
    "PipInstaller",
    "UvInstaller",
    "make_installer",
    "read_output",
    "run_child",
    "sdist_only_names",
    "secrets_of",
    "uv_cache_dir",
]
