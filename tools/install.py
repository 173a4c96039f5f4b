#!/usr/bin/env python3
"""What a fresh machine needs for socklab beyond Docker, make and Python -- and installing it.

    python3 tools/install.py test          # what `make test` needs (python3-venv, podman); the Makefile calls this
    python3 tools/install.py k8s           # what `make k8s` needs (python3-yaml)
    python3 tools/install.py lab           # what `make lab` may need (mmdebstrap, only where no registry answers)
    python3 tools/install.py ci            # everything (make, python3-venv, mmdebstrap, podman, ...); .ci/run calls this
    python3 tools/install.py --check [..]  # only report what is present and what is missing

``NEEDS`` below is the one list of those pieces: how each is detected, its Debian package,
why it is needed and which command needs it.  As root on Debian or Ubuntu a missing piece is
installed with apt-get, after one line saying what and why; otherwise one line gives the exact
command to run, and the exit status is 1.  Nothing is installed when everything is there.

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
    file: str = ""            # ... or as this file (a helper program off PATH)

    def present(self, python: str) -> bool:
        if self.executable and not shutil.which(self.executable):
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

# What each command needs, for the command line: the name, and who it is said to be for.
TARGETS: dict[str, tuple[str, list[str]]] = {
    "lab": ("make lab", ["mmdebstrap"]),
    "test": ("make test", ["python3-venv", "podman", "catatonit", "netavark", "aardvark-dns"]),
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
           say: Callable[[str], None] = say) -> list[str]:
    """Make sure the pieces *names* (packages of ``NEEDS``) are there; install them if need be.

    *command* is what needs them (said to the user; default: each piece's ``needed_by``),
    *why* overrides the pieces' own reasons.  Returns the packages installed (none when all
    were there).  Raises ``NotInstalled`` with a one-line message when something is missing
    and cannot be installed here: not root, no apt-get, or apt-get failed.
    """
    python = python or sys.executable
    geteuid = geteuid or os.geteuid
    lacking = missing(names, python=python)
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
    if lacking:
        packages = [need.package for need in lacking]
        if shutil.which("apt-get"):
            say("to install what is missing, run: {install}".format(
                install=manual_command(packages, geteuid=geteuid)))
        else:
            say("no apt-get here: install {what} with this system's package manager".format(
                what=", ".join(need.what for need in lacking)))
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
        if target not in TARGETS:
            parser.error(f"unknown target {target!r}: choose from {', '.join(TARGETS)}")
    names = list(dict.fromkeys(n for t in targets for n in TARGETS[t][1]))
    if args.check:
        return 1 if check(names, python=args.python) else 0
    command = " and ".join(dict.fromkeys(TARGETS[t][0] for t in targets))
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
