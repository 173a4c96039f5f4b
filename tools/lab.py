#!/usr/bin/env python3
"""Build, start, stop and describe a socklab lab.  ``make lab`` and friends call this.

    python3 tools/lab.py up       # build what is missing, start every host, wait, print the map
    python3 tools/lab.py down     # stop and remove this lab's containers and network (keeps volumes)
    python3 tools/lab.py clean    # the same, and remove this lab's volumes (mail, files, news)
    python3 tools/lab.py build    # only build the images (and the lab certificate authority)
    python3 tools/lab.py map      # print the lab map of a running lab
    python3 tools/lab.py shell    # a shell in the client container
    python3 tools/lab.py logs     # follow the servers' logs
    python3 tools/lab.py check [TASK]   # lab-check in the client: check the student's exercises
    python3 tools/lab.py impair [HOST=h LOSS=30% RATE=1mbit]   # make a host's link worse (tools/impair.py)
    python3 tools/lab.py heal [HOST=h]  # and well again
    python3 tools/lab.py capture [HOST] [--seconds N] [--count N] [--live]   # record a host's traffic (tools/capture.py)
    python3 tools/lab.py ladder [FILE.pcap]   # draw a capture as a ladder diagram

Several labs live side by side: ``LAB=alice`` names a second lab with its own compose
project, network, volumes and a block of host ports of its own.  Only the standard library
is used, so a fresh machine needs nothing but Python 3, Docker and a Compose.

The images, with no registry needed:

* ``socklab/base:bookworm`` -- Debian bookworm with ``images/base/packages.txt``, built
  ``FROM debian:bookworm-slim`` where a registry answers, else by ``mmdebstrap | docker
  import``.  Both honour the same list, so both give the same packages.
* ``socklab/lab:<checkout>`` -- socklab installed on the base without any network access
  (``images/lab/Dockerfile``), plus the lab certificate authority and host certificates.

Each image carries a label with a hash of what it was built from; when that still matches,
nothing is built again, so a warm ``make lab`` goes straight to starting the hosts.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # `python3 -m tools.lab` (make) or `python3 tools/lab.py`: run the one copy of this module
    # that every other tool imports, tools.lab, never a second one named __main__
    if not __package__:     # run by its path: the checkout on sys.path, in place of tools/
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from tools.lab import main
    sys.exit(main(sys.argv[1:]))

import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import zlib

# Messages in the user's language: socklab/i18n.py (standard library only) from this checkout.
# On the host the compiled Chinese catalog lives in .lab/locale (see host_catalog()).
from socklab import i18n
from socklab.i18n import _
from tools import impair, install     # install: what a fresh machine needs, and installing it

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"
# SOCKLAB_BASE_IMAGE / SOCKLAB_LAB_IMAGE name other images, e.g. for a cold build beside
# the usual ones (tools/bench/ measures `make lab` from nothing that way)
BASE_IMAGE = os.environ.get("SOCKLAB_BASE_IMAGE") or "socklab/base:bookworm"
# The lab image is tagged per checkout: two clones on one machine (each with its own lab
# CA in pki/) never overwrite each other's image.
LAB_IMAGE = (os.environ.get("SOCKLAB_LAB_IMAGE")
             or "socklab/lab:" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12])
PACKAGES = ROOT / "images" / "base" / "packages.txt"
PKI = ROOT / "pki"      # the lab CA (ca.crt, ca.key) and hosts/<host>.{crt,key}; never committed
DEBIAN_MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
# What the lab image is built from (images/lab/Dockerfile COPYs these; .dockerignore agrees).
LAB_INPUTS = ["images/lab", "socklab", "services", "clients", "pyproject.toml", "pki/ca.crt", "pki/hosts"]
DEFAULT_LAB = "socklab"
DEFAULT_PORT_PREFIX = 200


class LabError(Exception):
    """Something the user has to fix; printed as one paragraph, exit status 1."""


def say(msg: str) -> None:
    print(f"socklab: {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def docker_build(args: list[str]) -> None:
    """`docker build`, quiet when it works (the classic builder's notices are noise), loud when not."""
    res = subprocess.run(["docker", "build", *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if res.returncode != 0:
        raise LabError(f"`docker build {' '.join(args)}` failed:\n{res.stdout[-4000:]}{res.stderr[-4000:]}")


def output(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- the engine

def check_docker() -> None:
    """Fail with a clear message when no Docker engine answers."""
    if not shutil.which("docker"):
        raise LabError("the docker command is not installed (Docker Engine is needed).")
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.strip():
        raise LabError("cannot reach the Docker engine: `docker info` failed:\n  "
                       + (probe.stderr.strip() or probe.stdout.strip()).replace("\n", "\n  ")
                       + "\nStart it (`systemctl start docker`, or `dockerd &` as root) and try again.")


COMPOSES = {"v2": ["docker", "compose"], "v1": ["docker-compose"]}


def compose_command() -> list[str]:
    """``docker compose`` (v2) where present, else ``docker-compose`` (v1).

    ``SOCKLAB_COMPOSE=v1`` or ``v2`` insists on one (the tests run the lab under both).
    """
    choice = os.environ.get("SOCKLAB_COMPOSE", "").strip().lower()
    if choice and choice not in COMPOSES:
        raise LabError(f"SOCKLAB_COMPOSE={choice!r}: use v1 (docker-compose) or v2 (docker compose).")
    for name in [choice] if choice else ["v2", "v1"]:
        if compose_available(name):
            return list(COMPOSES[name])
    if choice:
        raise LabError(f"SOCKLAB_COMPOSE={choice}, but `{' '.join(COMPOSES[choice])}` is not installed "
                       "(as root, `python3 tools/install.py test` installs both Composes).")
    raise LabError("neither `docker compose` nor `docker-compose` is installed "
                   "(on Debian: apt-get install docker-compose).")


@functools.lru_cache(maxsize=None)
def compose_available(name: str) -> bool:
    """Is Compose *name* (``v1`` or ``v2``) installed and working?  (Asked once.)"""
    cmd = COMPOSES[name]
    if not shutil.which(cmd[0]):
        return False
    return subprocess.run([*cmd, "version"], capture_output=True).returncode == 0


# --------------------------------------------------------------------------- lab identity

def lab_name() -> str:
    name = os.environ.get("LAB", "").strip().lower()
    if name and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,30}", name):
        raise LabError(f"LAB={name!r}: use letters, digits, '-' or '_' (up to 31 characters).")
    return name or DEFAULT_LAB


def project_name(lab: str) -> str:
    """The Compose project of *lab*: ``socklab-<lab>``.

    The default lab's project carries this checkout: ``socklab-<first 6 hex digits of the
    SHA-256 of its path>``, so that two clones on one machine, each with its default lab,
    never take over each other's containers (each has its own image and CA).
    """
    return default_project() if lab == DEFAULT_LAB else f"{DEFAULT_LAB}-{lab}"


CHECKOUT_PROJECT = f"{DEFAULT_LAB}-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]
LEGACY_PROJECT = DEFAULT_LAB        # the default lab's project before it carried the checkout
_default_project: list[str] = []


def default_project() -> str:
    """:data:`CHECKOUT_PROJECT` -- or ``socklab`` while a default lab that this checkout
    started under that older name still exists (so `make down` still finds it)."""
    if not _default_project:
        name = CHECKOUT_PROJECT
        try:
            res = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={LEGACY_PROJECT}",
                                  "--format", '{{.Label "com.docker.compose.project.working_dir"}}'],
                                 capture_output=True, text=True, timeout=20)
            if str(ROOT) in res.stdout.split("\n"):
                name = LEGACY_PROJECT
        except (OSError, subprocess.TimeoutExpired):
            pass
        _default_project.append(name)
    return _default_project[0]


def port_prefix(lab: str) -> int:
    """The first three digits of every host port of this lab (ports PPP00 to PPP99).

    The default lab uses 200 (tcp-server on 127.0.0.1:20088, ...); another lab gets a
    prefix from 201 to 299 derived from its name, or ``LAB_PORT_PREFIX`` if set.
    """
    if os.environ.get("LAB_PORT_PREFIX"):
        value = int(os.environ["LAB_PORT_PREFIX"])
        if not 100 <= value <= 640:
            raise LabError("LAB_PORT_PREFIX must be from 100 to 640 (host ports PPP00-PPP99).")
        return value
    if lab == DEFAULT_LAB:
        return DEFAULT_PORT_PREFIX
    return DEFAULT_PORT_PREFIX + 1 + zlib.crc32(lab.encode()) % 99


def compose_env(lab: str) -> dict[str, str]:
    env = dict(os.environ)
    # the client host speaks the host's language (compose.yaml passes SOCKLAB_LANG to it)
    if not env.get("SOCKLAB_LANG"):
        env["SOCKLAB_LANG"] = i18n.language_from_environment(env)
    env["LAB_PORT_PREFIX"] = str(port_prefix(lab))
    env["COMPOSE_PROJECT_NAME"] = project_name(lab)
    env["SOCKLAB_LAB_IMAGE"] = LAB_IMAGE
    return env


def compose(lab: str, *args: str, **kw) -> subprocess.CompletedProcess:
    cmd = compose_command() + ["-p", project_name(lab), "-f", str(COMPOSE_FILE), *args]
    return subprocess.run(cmd, env=compose_env(lab), cwd=ROOT, **kw)


def services() -> list[str]:
    """The hosts compose.yaml declares (asked of Compose, so the file is read in one place)."""
    res = compose(lab_name(), "config", "--services", capture_output=True, text=True)
    if res.returncode != 0:
        raise LabError(f"compose.yaml does not parse:\n{res.stderr}")
    return res.stdout.split()


# --------------------------------------------------------------------------- images

def digest(paths: list[str], extra: str = "") -> str:
    """A hash of the files under *paths* (names and contents) and *extra*."""
    h = hashlib.sha256(extra.encode())
    for rel in paths:
        top = ROOT / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc" or ".egg-info" in str(f):
                continue
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_label(image: str, label: str) -> str | None:
    res = subprocess.run(["docker", "image", "inspect", image, "--format",
                          "{{index .Config.Labels \"" + label + "\"}}"], capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def package_list(path: Path = PACKAGES) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def debian_image() -> str:
    """The image images/base/Dockerfile starts FROM: debian:bookworm-slim, or SOCKLAB_DEBIAN_IMAGE."""
    return os.environ.get("SOCKLAB_DEBIAN_IMAGE") or "debian:bookworm-slim"


def registry_answers() -> bool:
    """Is :func:`debian_image` here already, or can it be pulled (within 60 s)?"""
    if subprocess.run(["docker", "image", "inspect", debian_image()], capture_output=True).returncode == 0:
        return True
    try:
        return subprocess.run(["docker", "pull", "-q", debian_image()], capture_output=True,
                              timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def build_base(image: str = BASE_IMAGE, folder: str = "images/base") -> None:
    """Build *image* from the Debian packages in *folder*/packages.txt.

    The lab's base by default; tools/bench/ builds its peers image (images/peers) so too.
    Where a registry answers, images/base/Dockerfile installs the list on bookworm-slim;
    elsewhere mmdebstrap does -- one package list, two ways to the same packages.
    """
    want = digest([folder, "images/base/Dockerfile"])
    if image_label(image, "socklab.base") == want:
        return
    how = os.environ.get("SOCKLAB_BASE_FROM") or ("registry" if registry_answers() else "mmdebstrap")
    started = time.monotonic()
    if how == "registry":
        say(f"building {image} FROM {debian_image()} ...")
        docker_build(["-f", str(ROOT / "images" / "base" / "Dockerfile"), "--label", f"socklab.base={want}",
                      "--build-arg", f"DEBIAN_IMAGE={debian_image()}", "-t", image, str(ROOT / folder)])
    elif how == "mmdebstrap":
        try:
            install.ensure(["mmdebstrap"], command="make lab",
                           why="no registry answers, so the base image is built from Debian's packages with it")
        except install.NotInstalled as exc:
            raise LabError(str(exc)) from None
        say(f"no registry: building {image} with mmdebstrap from Debian's packages ...")
        debstrap = subprocess.Popen(
            ["mmdebstrap", "--variant=minbase", "--quiet",
             "--aptopt=APT::Install-Recommends \"false\"",
             # what the slim image's apt-get clean leaves: no caches, no lists
             "--customize-hook=chroot \"$1\" apt-get clean",
             "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/*",
             "--include=" + ",".join(package_list(ROOT / folder / "packages.txt")), "bookworm", "-",
             *DEBIAN_MIRRORS],
            stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "--change", f"LABEL socklab.base={want}",
             "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", "CMD [\"bash\"]", "-", image],
            stdin=debstrap.stdout, stdout=subprocess.DEVNULL)
        debstrap.stdout.close()
        if debstrap.wait() != 0 or imported.returncode != 0:
            raise LabError("building the base image with mmdebstrap failed (see the messages above).")
    else:
        raise LabError("SOCKLAB_BASE_FROM must be 'registry' or 'mmdebstrap'.")
    say(f"built {image} in {time.monotonic() - started:.0f} s")


def build_pki(hosts: list[str]) -> None:
    """The lab certificate authority and a certificate for every host, made once per checkout.

    The base image's openssl does the work, so the host needs no openssl of its own. The CA
    key stays in pki/ on the host; the images get the CA certificate and host certificates.
    """
    (PKI / "hosts").mkdir(parents=True, exist_ok=True)
    missing = [h for h in hosts if not (PKI / "hosts" / f"{h}.crt").exists()]
    if (PKI / "ca.crt").exists() and not missing:
        return
    say(f"making the lab certificate authority and certificates for: {' '.join(missing)}")
    run(["docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
         "-v", f"{PKI}:/pki", "-v", f"{ROOT / 'images' / 'lab' / 'make-pki.sh'}:/make-pki.sh:ro",
         BASE_IMAGE, "sh", "/make-pki.sh", "/pki", *missing], stdout=subprocess.DEVNULL)


def build_lab() -> None:
    want = digest(LAB_INPUTS, extra=image_label(BASE_IMAGE, "socklab.base") or "")
    if image_label(LAB_IMAGE, "socklab.inputs") == want:
        return
    say(f"building {LAB_IMAGE} ...")
    started = time.monotonic()
    docker_build(["-f", "images/lab/Dockerfile", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                  "--label", f"socklab.inputs={want}", "-t", LAB_IMAGE, "."])
    if "SOCKLAB_LAB_IMAGE" not in os.environ:
        # also as socklab/lab:latest, which compose.yaml names when used without tools/lab.py
        run(["docker", "tag", LAB_IMAGE, "socklab/lab:latest"])
    say(f"built {LAB_IMAGE} in {time.monotonic() - started:.0f} s")
    # the image it replaced, now nameless, is of no use to anyone
    subprocess.run(["docker", "image", "prune", "--force", "--filter", "label=socklab.inputs"],
                   capture_output=True)


def build(hosts: list[str] | None = None) -> None:
    """Build what is missing: the base image, the lab CA and host certificates, the lab image.

    One build at a time per checkout: several labs started at once (the tests' parallel
    workers, ``make class``) would otherwise each make a CA and certificates into the same
    pki/ and mix one run's certificate with another's key.  The others wait on a lock file,
    then find everything built.
    """
    check_docker()
    with build_lock():
        build_base()
        build_pki(hosts if hosts is not None else services())
        build_lab()


@contextlib.contextmanager
def build_lock():
    """Hold this checkout's build lock (.lab/build.lock) for the duration of the ``with``.

    Not re-entrant: code inside :func:`build` must not take it again."""
    (ROOT / ".lab").mkdir(exist_ok=True)
    with open(ROOT / ".lab" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- a running lab

def containers(lab: str) -> list[dict]:
    ids = output(["docker", "ps", "-aq", "--filter",
                  f"label=com.docker.compose.project={project_name(lab)}"]).split()
    return inspect_containers(ids)


def inspect_containers(ids: list[str]) -> list[dict]:
    """`docker inspect` of the containers *ids* that still exist (one may go meanwhile)."""
    if not ids:
        return []
    res = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True)
    return json.loads(res.stdout or "[]")


def probe_command(container: dict) -> list[str] | None:
    """The readiness probe of a lab host: its compose healthcheck ``test``, as Docker has it.

    compose.yaml's ``healthcheck: test:`` is the one definition of "this host is ready";
    :func:`wait_ready` runs the same command with ``docker exec`` at once instead of waiting
    for Docker's next (rare) healthcheck.  None: the host has no healthcheck (running is ready).
    """
    test = ((container.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return list(test)


def waiting_probe(probe: list[str] | None, seconds: float) -> list[str]:
    """*probe* as one command that asks again and again inside the host, for up to *seconds*.

    The lab's own probe waits by itself (``lab-probe --wait``: every 50 ms, reading /proc/net
    with shell built-ins), so one ``docker exec`` per host covers the whole wait -- each exec
    costs the engine tens of milliseconds of CPU, a try inside the host next to nothing.  Any
    other healthcheck command is tried once per exec.
    """
    if not probe:
        return ["true"]
    if probe[0] == "lab-probe" and probe[1:2] != ["--wait"]:
        return ["lab-probe", "--wait", str(max(1, int(seconds))), *probe[1:]]
    return probe


def _wait_one(container: dict, deadline: float, pause: float) -> str | None:
    """Wait until one host runs and its probe passes; None when ready, else why not.

    Usually a single ``docker exec`` of :func:`waiting_probe` answers.  When it cannot (the
    host is not running yet, or restarts), the host's state decides: stopped for good is an
    error with its last log lines; otherwise try again after *pause* seconds (growing to 0.5).
    """
    cid, probe = container["Id"], probe_command(container)
    while True:
        left = deadline - time.monotonic()
        try:        # a probe that passes answers for the state too (docker exec needs it running)
            if subprocess.run(["docker", "exec", cid, *waiting_probe(probe, left)], capture_output=True,
                              timeout=max(1.0, left + 5)).returncode == 0:
                return None
        except subprocess.TimeoutExpired:
            pass
        state = json.loads(output(["docker", "inspect", "--format", "{{json .State}}", cid]))
        if state["Status"] in ("exited", "dead") and not state.get("Restarting"):
            logs = subprocess.run(["docker", "logs", "--tail", "20", cid], capture_output=True, text=True)
            raise LabError(f"host {_service(container)} stopped (exit code {state['ExitCode']}); "
                           "its last log lines:\n" + logs.stdout + logs.stderr)
        if time.monotonic() > deadline:
            return f"{_service(container)} ({state['Status']}, probe: {' '.join(probe or ['-'])})"
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)       # a host slow to start is not asked ever faster


def _service(container: dict) -> str:
    return container["Config"]["Labels"].get("com.docker.compose.service", container["Name"].lstrip("/"))


def wait_ready(lab: str, services: list[str] | None = None, timeout: float = 180.0,
               pause: float = 0.1) -> float:
    """Wait until every host of *lab* (or only *services*) is ready; return the seconds waited.

    Ready means: the container runs and its healthcheck command (see :func:`probe_command`)
    succeeds when run now with ``docker exec``.  Every host is probed in parallel, each by one
    exec that waits inside the host (:func:`waiting_probe`), so the lab is ready within 50 ms
    of its slowest server's listen() -- while Docker's own healthcheck runs rarely
    (compose.yaml), which keeps an idle lab cheap.  A host that stops is reported with its last log lines;
    after *timeout* seconds, those still not ready.
    """
    started = time.monotonic()
    deadline = started + timeout
    hosts = [c for c in containers(lab) if services is None or _service(c) in services]
    missing = set(services or []) - {_service(c) for c in hosts}
    if missing:
        raise LabError(f"lab '{lab}' has no host {', '.join(sorted(missing))}.")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        waiting = [w for w in pool.map(lambda c: _wait_one(c, deadline, pause), hosts) if w]
    if waiting:
        raise LabError(f"still not ready after {timeout:.0f} s: {', '.join(waiting)}. See `make logs`.")
    return time.monotonic() - started


def lab_map(lab: str) -> str:
    """The lab map: every host, what it is, its ports on the lab network and on 127.0.0.1.

    In the user's language: what a host is (compose.yaml's ``socklab.about``) is looked up in
    the catalog too; accounts, names and ports are shown as they are.
    """
    from clients.mail_common import pad    # terminal columns: a Chinese character takes two
    rows = []
    running = containers(lab)
    # hosts made worse by `make impair`: read back from each (tools/impair.py), marked below
    impaired = impair.in_effect(lab, running, LAB_IMAGE)
    for c in running:
        labels = c["Config"]["Labels"]
        name = labels.get("com.docker.compose.service", c["Name"].lstrip("/"))
        published = []
        ports = (c["NetworkSettings"].get("Ports") or {}).items()
        for inner, binds in sorted(ports, key=lambda p: (int(p[0].split("/")[0]), p[0])):
            for b in binds or []:
                published.append(f"{b['HostIp']}:{b['HostPort']}->{inner}")
        about = labels.get("socklab.about", "")
        rows.append((name, _(about) if about else "", labels.get("socklab.accounts", ""),
                     _compress(published)))
    rows.sort()
    lines = [_("socklab lab '{lab}' (compose project {project}), all hosts healthy:").format(
        lab=lab, project=project_name(lab)), ""]
    width = max([len(row[0]) for row in rows] + [12])
    for name, about, accounts, published in rows:
        lines.append(f"  {name:<{width}} {about}")
        if published:
            lines.append(f"  {'':<{width}} " + _("host ports: {ports}").format(ports=published))
        if accounts:
            lines.append(f"  {'':<{width}} " + _("accounts: {accounts}").format(accounts=accounts))
        if name in impaired:
            lines.append(f"  {'':<{width}} " + impair.map_line(impaired[name]))
    lab_env = "" if lab == DEFAULT_LAB else f"LAB={lab} "
    footer = [
        (_("a shell on the client host:"),
         _("{command}   (then e.g. `tcp-client`, `ftp-client --help`)").format(command=f"{lab_env}make shell")),
        (_("the servers' logs:"), f"{lab_env}make logs"),
        (_("stop this lab:"), f"{lab_env}make down"),
        (_("the lab CA certificate:"), str(PKI / "ca.crt")),
        (_("your code:"), _("{folder}  =  /home/student/workspace in the client").format(folder=ROOT / "workspace")),
    ]
    lines.append("")
    lines += [f"  {pad(label, 30)} {value}" for label, value in footer]
    return "\n".join(lines)


def host_catalog() -> None:
    """Make sure the host has a compiled Chinese catalog when the user reads Chinese.

    socklab.i18n finds it in .lab/locale.  The host's GNU msgfmt compiles the .po when there
    is one; otherwise the socklab.mo compiled in the built lab image is copied out of it,
    once per image.  Without either (no msgfmt, no image yet) messages stay in English.
    """
    if i18n.language() != "zh":
        return
    po = ROOT / "socklab" / "locale" / "zh_CN" / "LC_MESSAGES" / "socklab.po"
    mo = i18n.HOST_LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "socklab.mo"
    if not po.exists():
        return
    msgfmt = shutil.which("msgfmt")
    if msgfmt:
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            mo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([msgfmt, "-o", str(mo), str(po)], capture_output=True)
    elif shutil.which("docker"):
        image = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", LAB_IMAGE],
                               capture_output=True, text=True).stdout.strip()
        stamp = mo.with_name("socklab.mo.image")
        if image and not (mo.exists() and stamp.exists() and stamp.read_text() == image):
            copied = subprocess.run(
                ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", LAB_IMAGE, "-c",
                 "import sys, socklab.i18n as i; "
                 "sys.stdout.buffer.write((i.LOCALE_DIR / 'zh_CN/LC_MESSAGES/socklab.mo').read_bytes())"],
                capture_output=True)
            if copied.returncode == 0 and copied.stdout:
                mo.parent.mkdir(parents=True, exist_ok=True)
                mo.write_bytes(copied.stdout)
                stamp.write_text(image)
    i18n.set_language("zh")         # read the catalog again, now that it is there


def make_help() -> str:
    """`make help`: the Makefile's targets and their `## ` descriptions, in the user's language."""
    lines = [_("socklab -- a network-programming lab on a private Docker network"), ""]
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([a-z0-9-]+):.*## (.*)", line)
        if m:
            lines.append(f"{'  make ' + m.group(1):<20}{_(m.group(2).strip())}")
    lines += ["", "  LAB=name make lab   " + _("a second, separate lab (own network, volumes, host ports)")]
    return "\n".join(lines)


def _compress(published: list[str]) -> str:
    """Shorten a long run of one-to-one ports (an FTP passive range) to ``first..last``."""
    singles, ranges = [], {}
    for p in published:
        m = re.fullmatch(r"(.*):(\d+)->(\d+)/(\w+)", p)
        if m and m.group(2) == m.group(3):
            ranges.setdefault((m.group(1), m.group(4)), []).append(int(m.group(2)))
        else:
            singles.append(p)
    for (ip, proto), ports in ranges.items():
        ports.sort()
        if len(ports) > 2 and ports[-1] - ports[0] == len(ports) - 1:
            singles.append(f"{ip}:{ports[0]}-{ports[-1]}->{ports[0]}-{ports[-1]}/{proto}")
        else:
            singles += [f"{ip}:{p}->{p}/{proto}" for p in ports]
    return ", ".join(singles)


def clashing_lab(lab: str) -> str | None:
    """Another running lab (or anything else) that publishes a port in this lab's block."""
    prefix = port_prefix(lab)
    for c in inspect_containers(output(["docker", "ps", "-q"]).split()):
        owner = c["Config"]["Labels"].get("com.docker.compose.project", c["Name"].lstrip("/"))
        if owner == project_name(lab):
            continue
        for binds in (c["NetworkSettings"].get("Ports") or {}).values():
            if any(int(b["HostPort"]) // 100 == prefix for b in binds or []):
                return owner
    return None


def prepare_workspace() -> None:
    """workspace/ is the student's (uid 1000 in the client): make sure they can write there."""
    workspace = ROOT / "workspace"
    workspace.mkdir(exist_ok=True)
    if os.getuid() == 0 and workspace.stat().st_uid != 1000:
        os.chown(workspace, 1000, 1000)     # run as root, the folder would be root's alone


def up() -> None:
    lab = lab_name()
    check_docker()
    build()
    host_catalog()
    prepare_workspace()
    other = clashing_lab(lab)
    if other:
        raise LabError(_("lab {other} already uses host ports {first}-{last}; "
                         "choose others with LAB_PORT_PREFIX=NNN (100-640).").format(
            other=other, first=f"{port_prefix(lab)}00", last=f"{port_prefix(lab)}99"))
    say(_("starting lab '{lab}' ...").format(lab=lab))
    started = time.monotonic()
    before = containers(lab)        # hosts compose leaves running keep their namespace: healed below
    if compose(lab, "up", "-d", "--remove-orphans").returncode != 0:
        raise LabError(_("compose could not start the lab (see above)."))
    wait_ready(lab)
    impair.heal_kept(lab, before, containers(lab), LAB_IMAGE)   # no `make impair` left behind
    say(_("all hosts healthy in {seconds:.0f} s").format(seconds=time.monotonic() - started))
    print()
    print(lab_map(lab))


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "help"
    host_catalog()
    try:
        lab = lab_name()
        if verb == "up":
            up()
        elif verb == "build":
            build()
        elif verb == "down":
            check_docker()
            impair.forget(lab)     # the namespaces go with the containers
            return compose(lab, "down", "--remove-orphans").returncode
        elif verb == "clean":
            check_docker()
            impair.forget(lab)
            return compose(lab, "down", "--remove-orphans", "--volumes").returncode
        elif verb in ("impair", "heal"):    # tools/impair.py: one host's link made worse, or well again
            check_docker()
            return impair.main(verb, argv[1:], lab=lab, hosts=services(), running=containers(lab),
                                        image=LAB_IMAGE)
        elif verb == "map":
            check_docker()
            if not containers(lab):
                raise LabError(_("lab '{lab}' is not running; start it with `make lab`.").format(lab=lab))
            print(lab_map(lab))
        elif verb == "shell":
            check_docker()
            env = compose_env(lab)
            cmd = compose_command() + ["-p", project_name(lab), "-f", str(COMPOSE_FILE), "exec",
                                       "-e", f"SOCKLAB_LANG={env['SOCKLAB_LANG']}", "client", "bash", "-l"]
            os.chdir(ROOT)
            os.execvpe(cmd[0], cmd, env)
        elif verb == "logs":
            check_docker()
            return compose(lab, "logs", "--follow", "--tail", "50").returncode
        elif verb == "check":            # lab-check in the client: the student's exercises
            check_docker()
            if not containers(lab):
                raise LabError(f"lab '{lab}' is not running; start it with `make lab`, then check.")
            lang = os.environ.get("SOCKLAB_LANG", "")
            return compose(lab, "exec", "-T", "-e", f"SOCKLAB_LANG={lang}", "client",
                           "lab-check", *argv[1:]).returncode
        elif verb in ("capture", "ladder"):     # a host's traffic and its ladder diagram (tools/capture.py)
            from tools import capture     # only here: it imports this module
            return capture.main(argv)
        elif verb == "make-help":        # `make help`, in the user's language
            print(make_help())
        elif verb == "compose":          # any other compose command, for this lab
            check_docker()
            return compose(lab, *argv[1:]).returncode
        else:
            print(__doc__)
            return 0 if verb == "help" else 2
    except LabError as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"socklab: `{' '.join(map(str, exc.cmd))}` failed (exit {exc.returncode}).", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


