#!/usr/bin/env python3
"""The lab of compose.yaml on Kubernetes: one namespace per student of a class roster.

    python3 tools/k8s.py ROSTER.csv                  # manifests under k8s/out/<student>/
    python3 tools/k8s.py ROSTER.csv --stdout | kubectl apply -f -
    python3 tools/k8s.py ROSTER.csv --image registry.example.edu/socklab/lab:2026 \\
        --ssh-service LoadBalancer --ssh-host lab.example.edu --storage-class standard

compose.yaml stays the one description of the lab.  This module reads it (YAML, with
Compose's ``${VAR:-default}`` interpolation; no Docker needed, so a teacher who has only
``kubectl`` can run it) and turns every host into Kubernetes objects, in the student's own
namespace ``socklab-<id>``:

* a **Deployment** of one pod per host (a volume of its own becomes a
  PersistentVolumeClaim), and a headless **Service** named like the host, listing the host's
  ports: inside the namespace ``ftp`` or ``tcp-server`` resolves to that pod's address, as a
  host name does on the Compose network, so FTP's passive and active data connections and
  UDP replies go to and come from the very address a client used;
* hosts that share a named volume (the AF_UNIX socket of unix-server and client) run as
  containers of **one pod** sharing an ``emptyDir``: an AF_UNIX socket file only connects
  processes of one kernel, and two pods may be scheduled on two nodes;
* the same least privilege as compose.yaml, key by key (see ``SERVICE_KEYS``);
* **NetworkPolicies**: nothing in or out of the namespace except DNS, and the student's SSH
  endpoint on the client host, published by a Service of type NodePort or LoadBalancer;
* **Secrets**: the lab CA and each server's certificate and key (from pki/, the same the
  lab image trusts), and the student's accounts with generated passwords, kept in
  ``<out>/<id>/accounts.keep`` so that running this again keeps them;
* the **class overlay**, tools/classroom.compose.yaml, as ``make class`` applies it: the
  client host runs sshd as the student.  Its bind mounts become Secrets (``ssh`` and
  ``shadow``) of the files tools/classroom.py writes for a class lab, here under
  ``<out>/<id>/`` (the host key is made once and kept there), and ``<out>/cards.txt`` tells
  each student how to log in.

Each compose key has one entry in ``SERVICE_KEYS`` (and ``HEALTHCHECK_KEYS``, ``TOP_KEYS``)
saying what it becomes; a key without an entry is an error naming the key and the host,
never silently dropped: a lab that looks the same but is not would be worse than none.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # `python3 -m tools.k8s` (make) or `python3 tools/k8s.py`: run the one copy of this
    # module that the other tools import, tools.k8s (see tools/__init__.py)
    if not __package__:     # run by its path: the checkout on sys.path, in place of tools/
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from tools.k8s import main
    sys.exit(main())

import argparse
import base64
import html
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable

from socklab.i18n import _
from socklab.roster import RosterError, Student, read_roster
from tools import classroom     # its sshd files and cards

ROOT = Path(__file__).resolve().parent.parent

COMPOSE_FILE = ROOT / "compose.yaml"
CLASS_OVERLAY = ROOT / "tools" / "classroom.compose.yaml"   # what `make class` adds: the client's sshd
DOCKERFILE = ROOT / "images" / "lab" / "Dockerfile"
PKI = ROOT / "pki"
OUT = ROOT / "k8s" / "out"
# a student's generated passwords, as JSON, beside the manifests (not .json or .yaml: kubectl -f
# reads those); keep it as safe as the Secrets themselves
KEPT = "accounts.keep"

ENTRY_HOST = "client"               # the host students enter (over SSH); its pod is named after it
DEFAULT_SSH_PORT = 2222             # the client's sshd, when neither its sshd_config nor compose.yaml names one
WORKSPACE = "./workspace"           # the one bind mount that means something in a cluster: the student's files
NAMESPACE_PREFIX = "socklab-"
APP = "socklab"

# What a container gets where compose.yaml says nothing: small, since a lab idles most of the time.
DEFAULT_REQUESTS = {"cpu": "10m", "memory": "32Mi"}
DEFAULT_LIMITS = {"cpu": "1", "memory": "256Mi"}
TMPFS_SIZE = "64Mi"
VOLUME_SIZE = "256Mi"               # each named volume (files, mail, news)
WORKSPACE_SIZE = "1Gi"

log = logging.getLogger("socklab.k8s")


class K8sError(Exception):
    """compose.yaml, the roster or the options cannot be turned into manifests; one line says why."""


# --------------------------------------------------------------------------- reading compose.yaml

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ``${VAR}``, ``$VAR``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}`` and ``$$`` for a dollar sign."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, arg, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        if name is None and bare is None:
            return "$"
        current = env.get(name or bare)
        if op in (":-", "-"):
            return arg if current is None or (op == ":-" and current == "") else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise K8sError(_("compose.yaml needs ${name}: {message}").format(name=name, message=arg))
            return current
        return current or ""

    return _VAR.sub(sub, value)


def load_compose(path: Path = COMPOSE_FILE, env: dict[str, str] | None = None) -> dict:
    """compose.yaml as Compose reads it: YAML (merge keys and anchors resolved), then interpolated."""
    import yaml     # Debian's python3-yaml (tools/install.py k8s) or the test environment's PyYAML

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise K8sError(_("cannot read {path}: {error}").format(path=path, error=exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise K8sError(_("{path} has no services").format(path=path))
    return interpolate(data, dict(os.environ) if env is None else env)


def merge(compose: dict, override: dict) -> dict:
    """*compose* with an override file on top, as ``docker-compose -f a -f b`` merges them:
    ``ports`` and ``expose`` add up, ``volumes`` replace those of the same path, mappings
    (``environment``, ``labels``) merge, anything else is replaced."""
    merged = {**compose, "services": dict(compose["services"])}
    for name, extra in (override.get("services") or {}).items():
        if name not in merged["services"]:
            raise K8sError(_("the override names host {host}, which compose.yaml has not").format(host=name))
        service = dict(merged["services"][name])
        for key, value in (extra or {}).items():
            old = service.get(key)
            if key in ("ports", "expose") and old:
                service[key] = list(old) + [v for v in value if v not in old]
            elif key == "volumes" and old:
                target = (lambda v: v.get("target") if isinstance(v, dict) else str(v).split(":")[1])
                service[key] = [v for v in old if target(v) not in {target(n) for n in value}] + list(value)
            elif isinstance(old, dict) and isinstance(value, dict):
                service[key] = {**old, **value}
            else:
                service[key] = value
        merged["services"][name] = service
    return merged


def class_lab(compose: dict, folder: Path) -> dict:
    """The lab of a class: *compose* with tools/classroom.compose.yaml on top, its bind mounts
    naming the sshd files of one student, in *folder* (see tools/classroom.py's write_ssh_files)."""
    return merge(compose, load_compose(CLASS_OVERLAY, env=classroom.ssh_env(folder)))


def image_users(dockerfile: Path = DOCKERFILE) -> dict[str, tuple[int, int]]:
    """The users the lab image creates, name -> (uid, gid), read from its Dockerfile.

    Kubernetes checks runAsNonRoot only against a numeric user, so compose's ``user:
    socklab`` becomes ``runAsUser: 1001`` here, from the same ``groupadd``/``useradd`` lines
    the image is built with.
    """
    text = dockerfile.read_text()
    groups = {name: int(gid) for gid, name in re.findall(r"groupadd --gid (\d+) ([a-z_][a-z0-9_-]*)", text)}
    users = {}
    for uid, group, name in re.findall(
            r"useradd --uid (\d+) --gid ([a-z0-9_-]+)\b[^&\n]*?\s([a-z_][a-z0-9_-]*)\s*(?:&&|\\|$)", text, re.M):
        users[name] = (int(uid), groups[group] if group in groups else int(group))
    return users


# --------------------------------------------------------------------------- one host, as Kubernetes sees it

@dataclass
class Host:
    """One compose service, translated: a container plus what its pod and Service need."""

    name: str
    container: dict = field(default_factory=dict)
    security: dict = field(default_factory=dict)         # the container's securityContext
    resources: dict = field(default_factory=lambda: {"requests": {}, "limits": {}})
    ports: list[tuple[int, str]] = field(default_factory=list)     # (port, TCP|UDP) inside the lab
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)   # (volume, path, read-only)
    tmpfs: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    user: tuple[int, int] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    grace: int | None = None
    probe_ports: list[tuple[int, str]] = field(default_factory=list)
    secret_mounts: list[tuple[str, str, str]] = field(default_factory=list)     # (Secret, key, path)
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)          # Secret -> key -> data


@dataclass
class Context:
    """What the key handlers need besides the key's value."""

    users: dict[str, tuple[int, int]]
    named_volumes: set[str]
    files: Path | None = None       # the student's folder: bind mounts of files in it become Secrets


def _duration(value, where: str) -> int:
    """A Compose duration ("2s", "1m30s", "500ms", 20) in whole seconds, at least 1."""
    if isinstance(value, (int, float)):
        return max(1, math.ceil(value))
    total, rest = 0.0, str(value).strip()
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", rest):
        total += float(number) * units[unit]
    if not rest or re.sub(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", "", rest):
        raise K8sError(_("{where}: {value!r} is not a duration").format(where=where, value=value))
    return max(1, math.ceil(total))


def _memory(value, where: str) -> str:
    """Compose's byte sizes (256m, 1g, 1048576) as a Kubernetes quantity (256Mi, 1Gi, 1048576)."""
    m = re.fullmatch(r"(\d+)\s*([bkmg]?)b?", str(value).strip().lower())
    if not m:
        raise K8sError(_("{where}: {value!r} is not a size").format(where=where, value=value))
    return m.group(1) + {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi"}[m.group(2)]


def _cpus(value, where: str) -> str:
    try:
        millis = round(float(value) * 1000)
    except (TypeError, ValueError):
        millis = 0
    if millis <= 0:
        raise K8sError(_("{where}: {value!r} is not a number of CPUs").format(where=where, value=value))
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def _port_numbers(text: str, where: str) -> list[int]:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise K8sError(_("{where}: port {port!r} is not a number or a range").format(where=where, port=text))
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    return list(range(first, last + 1))


def parse_port(spec, where: str) -> list[tuple[int, str]]:
    """The container side of a Compose port: "127.0.0.1:20088:8888/udp" -> [(8888, "UDP")].

    On the Compose network every port of a host is reachable; what a port mapping adds is a
    publication on the Docker host, which has no counterpart here (students come in over SSH).
    """
    if isinstance(spec, dict):
        target, proto = spec.get("target"), spec.get("protocol", "tcp")
        if target is None:
            raise K8sError(_("{where}: a port without target").format(where=where))
        return [(p, proto.upper()) for p in _port_numbers(str(target), where)]
    text, _sep, proto = str(spec).partition("/")
    container = text.rsplit(":", 1)[-1]
    if (proto or "tcp").lower() not in ("tcp", "udp"):
        raise K8sError(_("{where}: protocol {proto!r} (tcp or udp)").format(where=where, proto=proto))
    return [(p, (proto or "tcp").upper()) for p in _port_numbers(container, where)]


# --------------------------------------------------------------------------- the table of compose keys

def _image(host: Host, value, ctx: Context) -> None:
    host.container["image"] = value


def _command(host: Host, value, ctx: Context) -> None:
    # compose's command replaces the image's CMD and keeps its ENTRYPOINT (tini): Kubernetes' args
    host.container["args"] = list(value) if isinstance(value, list) else ["sh", "-c", value]


def _entrypoint(host: Host, value, ctx: Context) -> None:
    host.container["command"] = list(value) if isinstance(value, list) else ["sh", "-c", value]


def _environment(host: Host, value, ctx: Context) -> None:
    if isinstance(value, list):
        value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    host.container["env"] = [{"name": k, "value": "" if v is None else str(v)} for k, v in value.items()]


def _user(host: Host, value, ctx: Context) -> None:
    name, _sep, group = str(value).partition(":")
    if name.isdigit():
        uid = int(name)
        gid = int(group) if group.isdigit() else uid
    elif name in ctx.users:
        uid, gid = ctx.users[name]
    else:
        raise K8sError(_("host {host}: user {user!r} is not created by {dockerfile}").format(
            host=host.name, user=name, dockerfile=DOCKERFILE.relative_to(ROOT)))
    if uid == 0:
        raise K8sError(_("host {host}: runs as root, which Kubernetes' runAsNonRoot refuses").format(host=host.name))
    host.user = (uid, gid)


def _working_dir(host: Host, value, ctx: Context) -> None:
    host.container["workingDir"] = value


def _hostname(host: Host, value, ctx: Context) -> None:
    host.hostname = value


def _volumes(host: Host, value, ctx: Context) -> None:
    for spec in value:
        if isinstance(spec, dict):
            source, target, ro = spec.get("source"), spec.get("target"), bool(spec.get("read_only"))
        else:
            parts = str(spec).split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else None
            ro = len(parts) > 2 and "ro" in parts[2].split(",")
        if not target:
            raise K8sError(_("host {host}: volume {spec!r} names no path").format(host=host.name, spec=spec))
        if source == WORKSPACE or source == WORKSPACE + "/":
            host.mounts.append(("workspace", target, ro))
        elif source in ctx.named_volumes:
            host.mounts.append((source, target, ro))
        elif ctx.files and Path(source).is_relative_to(ctx.files) and Path(source) != ctx.files:
            _secret_mount(host, Path(source), target, ctx.files)
        else:
            raise K8sError(_("host {host}: volume {spec!r}: only named volumes and {workspace} have a "
                             "meaning in a cluster").format(host=host.name, spec=spec, workspace=WORKSPACE))


def _secret_mount(host: Host, source: Path, target: str, folder: Path) -> None:
    """A bind mount of the student's own files: a Secret named after the file or folder
    (``ssh``, ``shadow``), each file mounted by itself (``subPath``).

    File by file, not the folder as a whole: a Secret volume is a world-writable tmpfs of
    symbolic links, and sshd's StrictModes refuses an authorized_keys file in a folder
    anyone may write to.  Mounted file by file, the folder is the image's (root, 0755).
    """
    name = source.relative_to(folder).parts[0]
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    if not source.exists() or not files:
        raise K8sError(_("host {host}: {path} has no files to mount").format(host=host.name, path=source))
    for path in files:
        key = path.name
        host.secrets.setdefault(name, {})[key] = path.read_bytes()
        host.secret_mounts.append((name, key, f"{target.rstrip('/')}/{key}" if source.is_dir() else target))


def _tmpfs(host: Host, value, ctx: Context) -> None:
    host.tmpfs += [str(v).split(":")[0] for v in ([value] if isinstance(value, str) else value)]


def _ports(host: Host, value, ctx: Context) -> None:
    for spec in value:
        host.ports += parse_port(spec, f"host {host.name}")


def _cap_drop(host: Host, value, ctx: Context) -> None:
    host.security.setdefault("capabilities", {})["drop"] = [str(c).upper() for c in value]


def _cap_add(host: Host, value, ctx: Context) -> None:
    host.security.setdefault("capabilities", {})["add"] = [str(c).upper() for c in value]


def _security_opt(host: Host, value, ctx: Context) -> None:
    for opt in value:
        if re.fullmatch(r"no-new-privileges(:true|=true)?", str(opt)):
            host.security["allowPrivilegeEscalation"] = False
        else:
            raise K8sError(_("host {host}: security_opt {opt!r} has no Kubernetes translation in "
                             "tools/k8s.py").format(host=host.name, opt=opt))


def _read_only(host: Host, value, ctx: Context) -> None:
    host.security["readOnlyRootFilesystem"] = bool(value)


def _sysctls(host: Host, value, ctx: Context) -> None:
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    host.sysctls.update({k: str(v) for k, v in value.items()})


def _labels(host: Host, value, ctx: Context) -> None:
    # free text (what the host is) fits annotations, not labels.  socklab.accounts is left out:
    # it names compose.yaml's passwords, and here each student has their own (the accounts Secret)
    host.annotations.update({k.replace("socklab.", "socklab/", 1): str(v) for k, v in value.items()
                             if k != "socklab.accounts"})


def _restart(host: Host, value, ctx: Context) -> None:
    if value not in ("always", "unless-stopped"):
        raise K8sError(_("host {host}: restart {value!r}: a Deployment always restarts its pod "
                         "(use always or unless-stopped)").format(host=host.name, value=value))


def _networks(host: Host, value, ctx: Context) -> None:
    if len(value) != 1:
        raise K8sError(_("host {host}: on {count} networks; a namespace is one network").format(
            host=host.name, count=len(value)))


def _stop_grace_period(host: Host, value, ctx: Context) -> None:
    host.grace = _duration(value, f"host {host.name}: stop_grace_period")


def _pids_limit(host: Host, value, ctx: Context) -> None:
    # The Pod API has no per-pod process limit: the kubelet's podPidsLimit (--pod-max-pids) is
    # cluster-wide.  Recorded for the teacher; the README says how to set it.
    host.annotations["socklab/pids-limit"] = str(value)


def _mem_limit(host: Host, value, ctx: Context) -> None:
    host.resources["limits"]["memory"] = _memory(value, f"host {host.name}: mem_limit")


def _mem_reservation(host: Host, value, ctx: Context) -> None:
    host.resources["requests"]["memory"] = _memory(value, f"host {host.name}: mem_reservation")


def _cpus_key(host: Host, value, ctx: Context) -> None:
    host.resources["limits"]["cpu"] = _cpus(value, f"host {host.name}: cpus")


def _cpu_shares(host: Host, value, ctx: Context) -> None:
    # Docker's weight, 1024 for one CPU's share: the same weight Kubernetes derives from a request
    host.resources["requests"]["cpu"] = _cpus(int(value) / 1024, f"host {host.name}: cpu_shares")


def _memswap_limit(host: Host, value, ctx: Context) -> None:
    """Nothing to write: a pod does not swap unless the node allows it (NodeSwap), and then only
    as much as its memory request allows."""


def _expose(host: Host, value, ctx: Context) -> None:
    for spec in value:
        host.ports += parse_port(spec, f"host {host.name}")


def _depends_on(host: Host, value, ctx: Context) -> None:
    """No start order in Kubernetes: readiness probes and clients that retry take its place."""


def _healthcheck(host: Host, value, ctx: Context) -> None:
    where = f"host {host.name}: healthcheck"
    for key in value:
        if key not in HEALTHCHECK_KEYS:
            raise K8sError(_("{where}: key {key!r} has no Kubernetes translation in tools/k8s.py "
                             "(known: {known})").format(where=where, key=key, known=", ".join(HEALTHCHECK_KEYS)))
    test = value.get("test")
    if value.get("disable") or test in (None, ["NONE"]):
        return
    if isinstance(test, str):
        command = ["sh", "-c", test]
    elif test[0] == "CMD":
        command = list(test[1:])
    elif test[0] == "CMD-SHELL":
        command = ["sh", "-c", " ".join(test[1:])]
    else:
        raise K8sError(_("{where}: test {test!r}").format(where=where, test=test))
    period = _duration(value.get("interval", "30s"), where)
    probe = {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": _duration(value.get("timeout", "30s"), where),
        "failureThreshold": int(value.get("retries", 3)),
    }
    start_period = _duration(value["start_period"], where) if "start_period" in value else 0
    # healthy: ready for the Service; unhealthy (retries failures in a row): restarted
    host.container["readinessProbe"] = dict(probe)
    host.container["livenessProbe"] = dict(probe)
    if "start_interval" in value or start_period:
        every = _duration(value.get("start_interval", value.get("interval", "5s")), where)
        host.container["startupProbe"] = {**probe, "periodSeconds": every,
                                          "failureThreshold": max(1, math.ceil(max(start_period, every) / every))
                                          + int(value.get("retries", 3))}
    if command[:1] == ["lab-probe"] and len(command) > 2 and command[1] in ("tcp", "udp"):
        host.probe_ports += [(int(p), command[1].upper()) for p in command[2:] if p.isdigit()]


# key -> what it becomes.  Every key compose.yaml may use is here, or `make k8s` stops.
SERVICE_KEYS: dict[str, Callable[[Host, object, Context], None]] = {
    "image": _image,                          # the container's image (--image overrides it for a registry)
    "command": _command,                      # args (the image's ENTRYPOINT, tini, stays)
    "entrypoint": _entrypoint,                # command
    "environment": _environment,              # env; passwords come from the student's Secret
    "user": _user,                            # runAsUser/runAsGroup, numeric, from the image's Dockerfile
    "working_dir": _working_dir,              # workingDir
    "hostname": _hostname,                    # the pod's hostname
    "volumes": _volumes,                      # PVC, emptyDir shared in one pod, the workspace PVC, or a
                                              # Secret (the class overlay's files of the student)
    "tmpfs": _tmpfs,                          # emptyDir in memory
    "ports": _ports,                          # containerPorts and the Service's ports (not published)
    "expose": _expose,                        # the same
    "cap_drop": _cap_drop,                    # securityContext.capabilities.drop
    "cap_add": _cap_add,                      # securityContext.capabilities.add
    "security_opt": _security_opt,            # no-new-privileges -> allowPrivilegeEscalation: false
    "read_only": _read_only,                  # readOnlyRootFilesystem
    "sysctls": _sysctls,                      # the pod's securityContext.sysctls
    "labels": _labels,                        # annotations (socklab/about)
    "restart": _restart,                      # a Deployment: restartPolicy Always
    "networks": _networks,                    # the namespace is the one network
    "stop_grace_period": _stop_grace_period,  # terminationGracePeriodSeconds
    "pids_limit": _pids_limit,                # annotation socklab/pids-limit (the kubelet's podPidsLimit)
    "mem_limit": _mem_limit,                  # resources.limits.memory
    "mem_reservation": _mem_reservation,      # resources.requests.memory
    "cpus": _cpus_key,                        # resources.limits.cpu
    "cpu_shares": _cpu_shares,                # resources.requests.cpu (1024 = one CPU)
    "memswap_limit": _memswap_limit,          # nothing: pods do not swap by default
    "healthcheck": _healthcheck,              # readiness, liveness (and startup) probes
    "depends_on": _depends_on,                # nothing: no start order in Kubernetes
}
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "retries", "start_period", "start_interval", "disable")
# top-level keys; x-* extension fields are YAML anchors, already merged where used
TOP_KEYS = ("services", "networks", "volumes", "version", "name")
NETWORK_KEYS = ("driver", "name")
VOLUME_KEYS = ("name",)


def translate(name: str, service: dict, ctx: Context) -> Host:
    """One compose service as a :class:`Host`; an unknown key is a :class:`K8sError`."""
    host = Host(name)
    for key, value in service.items():
        handler = SERVICE_KEYS.get(key)
        if handler is None:
            raise K8sError(_("compose.yaml: host {host}: key {key!r} has no Kubernetes translation in "
                             "tools/k8s.py; add it to SERVICE_KEYS").format(host=name, key=key))
        handler(host, value, ctx)
    if host.user is None:
        raise K8sError(_("host {host}: no user; Kubernetes' runAsNonRoot needs one").format(host=name))
    return host


def read_lab(compose: dict, users: dict[str, tuple[int, int]], files: Path | None = None) -> list[Host]:
    """Every host of the lab, in compose.yaml's order, after checking the top-level keys.

    Bind mounts of files in the folder *files* become Secrets; none other has a meaning.
    """
    for key in compose:
        if key not in TOP_KEYS and not str(key).startswith("x-"):
            raise K8sError(_("compose.yaml: top-level key {key!r} has no Kubernetes translation in "
                             "tools/k8s.py").format(key=key))
    for kind, known in (("networks", NETWORK_KEYS), ("volumes", VOLUME_KEYS)):
        for name, spec in (compose.get(kind) or {}).items():
            for key in spec or {}:
                if key not in known or (key == "driver" and spec[key] != "bridge"):
                    raise K8sError(_("compose.yaml: {kind} {name}: key {key!r} has no Kubernetes "
                                     "translation in tools/k8s.py").format(kind=kind, name=name, key=key))
    ctx = Context(users, set(compose.get("volumes") or {}), files)
    return [translate(name, service or {}, ctx) for name, service in compose["services"].items()]


# --------------------------------------------------------------------------- pods: hosts that share a volume

def pods(hosts: list[Host]) -> dict[str, list[Host]]:
    """Pod name -> its hosts.  Hosts that mount the same named volume share one pod.

    The pod is named after the host students enter when it is among them, else after its
    first host; the others are its extra containers.
    """
    owner = {h.name: h.name for h in hosts}

    def find(n: str) -> str:
        while owner[n] != n:
            n = owner[n]
        return n

    users_of: dict[str, list[str]] = {}
    for h in hosts:
        for volume, _path, _ro in h.mounts:
            if volume != "workspace":
                users_of.setdefault(volume, []).append(h.name)
    for names in users_of.values():
        for other in names[1:]:
            owner[find(other)] = find(names[0])
    groups: dict[str, list[Host]] = {}
    for h in hosts:
        groups.setdefault(find(h.name), []).append(h)
    named = {}
    for members in groups.values():
        lead = next((h for h in members if h.name == ENTRY_HOST), members[0])
        named[lead.name] = [lead] + [h for h in members if h is not lead]
    return named


def shared_volumes(hosts: list[Host]) -> set[str]:
    """Named volumes mounted by more than one host (they live as an emptyDir in one pod)."""
    count: dict[str, int] = {}
    for h in hosts:
        for volume in {m[0] for m in h.mounts}:
            count[volume] = count.get(volume, 0) + 1
    return {v for v, n in count.items() if n > 1 and v != "workspace"}


# --------------------------------------------------------------------------- secrets: accounts and certificates

@dataclass
class Accounts:
    """A student's passwords, generated once and kept in ``<out>/<id>/accounts.keep``."""

    values: dict[str, str]

    @classmethod
    def load_or_make(cls, path: Path, lab_env: dict[str, str], student: Student) -> "Accounts":
        """The passwords kept at *path*, with a new one for each that is not there yet.

        *lab_env* is what compose.yaml's hosts are given (FTP_USER, MAIL_ACCOUNTS, ...): the
        same user names, each with a password of its own instead of compose.yaml's -- for
        every variable named ``*PASSWORD`` and every account of ``MAIL_ACCOUNTS``.  With an
        SSH key in the roster the student logs in with it; without one, with STUDENT_PASSWORD.
        """
        kept = {}
        if path.exists():
            try:
                kept = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise K8sError(_("{path}: cannot read the kept passwords ({error}); delete it to make "
                                 "new ones").format(path=path, error=exc)) from None

        def password(key: str) -> str:
            # the classroom's kind: typed from the card, and never read as an option (-p -x...)
            return kept.get(key) or classroom.new_password()

        values = {}
        for name, value in sorted(lab_env.items()):
            if name.endswith("PASSWORD"):       # every password a host is given: the student's own
                values[name] = password(name)
            elif name.endswith("_USER"):        # and who logs in with it, beside it
                values[name] = value
        if student.ssh_key:
            values["SSH_AUTHORIZED_KEYS"] = student.ssh_key + "\n"
        else:
            # typed from a card: the classroom's kind of password (no 0/o, 1/l/i)
            values["STUDENT_PASSWORD"] = kept.get("STUDENT_PASSWORD") or classroom.new_password()
        mail = []
        for entry in lab_env.get("MAIL_ACCOUNTS", "").replace(",", " ").split():
            user = entry.split(":", 1)[0]
            mail.append(f"{user}:{password('MAIL_PASSWORD_' + user)}")
            values["MAIL_PASSWORD_" + user] = mail[-1].split(":", 1)[1]
        values["MAIL_ACCOUNTS"] = " ".join(mail)
        return cls(values)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def tls_files(pki: Path, hosts: list[Host]) -> dict[str, bytes]:
    """ca.crt and <host>.crt/.key for every host that has them in *pki*."""
    if not (pki / "ca.crt").exists():
        raise K8sError(_("no lab CA in {pki}: run `make images` first (it makes the CA and builds the image "
                         "you push to the cluster)").format(pki=pki))
    files = {"ca.crt": (pki / "ca.crt").read_bytes()}
    for h in hosts:
        for suffix in ("crt", "key"):
            path = pki / "hosts" / f"{h.name}.{suffix}"
            if path.exists():
                files[f"{h.name}.{suffix}"] = path.read_bytes()
    return files


# --------------------------------------------------------------------------- the manifests

@dataclass
class Options:
    image: str | None = None
    ssh_service: str = "NodePort"             # or LoadBalancer
    ssh_from: str = ""                        # a CIDR allowed to reach SSH; "" = anywhere
    storage_class: str | None = None
    ssh_host: str = ""                        # what the cards name as the host: a node, the load balancer


def namespace_of(student: Student) -> str:
    return NAMESPACE_PREFIX + student.id.replace("_", "-")


def _labels_for(student: Student, pod: str | None = None) -> dict:
    labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": APP, "socklab/student": student.id}
    if pod:
        labels["socklab/host"] = pod
    return labels


def _meta(name: str, ns: str, labels: dict, annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": ns, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _container(h: Host, pod_volumes: dict[str, str], secret_keys: set[str], entry: bool,
               tls: dict[str, bytes], opts: Options) -> dict:
    c = {"name": h.name, **h.container}
    if opts.image:
        c["image"] = opts.image
    env = []
    for var in c.get("env", []):
        if var["name"] in secret_keys:          # a password (or who has one): from the student's Secret
            env.append({"name": var["name"], "valueFrom": {"secretKeyRef": {"name": "accounts", "key": var["name"]}}})
        else:
            env.append(var)
    if env:
        c["env"] = env
    ports = list(dict.fromkeys(h.ports + h.probe_ports))
    if ports:
        c["ports"] = [{"containerPort": p, "protocol": proto} for p, proto in ports]
    sec = {"runAsNonRoot": True, "runAsUser": h.user[0], "runAsGroup": h.user[1],
           "allowPrivilegeEscalation": True, "readOnlyRootFilesystem": False,
           "seccompProfile": {"type": "RuntimeDefault"}}
    sec.update(h.security)
    if "drop" not in sec.get("capabilities", {}):
        raise K8sError(_("host {host}: compose.yaml drops no capabilities (cap_drop: [ALL])").format(host=h.name))
    c["securityContext"] = sec
    resources = {"requests": {**DEFAULT_REQUESTS, **h.resources["requests"]},
                 "limits": {**DEFAULT_LIMITS, **h.resources["limits"]}}
    for kind in ("cpu", "memory"):              # a request above its limit is refused by the API server
        if kind in h.resources["limits"] and kind not in h.resources["requests"]:
            resources["requests"][kind] = min(resources["requests"][kind], resources["limits"][kind], key=_quantity)
    c["resources"] = resources
    mounts = [{"name": pod_volumes[v], "mountPath": path, **({"readOnly": True} if ro else {})}
              for v, path, ro in h.mounts]
    mounts += [{"name": f"tmp-{h.name}-{i}", "mountPath": path} for i, path in enumerate(h.tmpfs)]
    if entry or f"{h.name}.key" in tls:
        mounts.append({"name": f"tls-{h.name}", "mountPath": "/etc/socklab/tls", "readOnly": True})
    mounts += [{"name": f"secret-{name}", "mountPath": path, "subPath": key, "readOnly": True}
               for name, key, path in h.secret_mounts]
    if mounts:
        c["volumeMounts"] = mounts
    return c


def _quantity(q: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?", q)
    return float(m.group(1)) * {None: 1, "m": 0.001, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3}[m.group(2)]


def student_manifests(student: Student, hosts: list[Host], accounts: Accounts, tls: dict[str, bytes],
                      ssh_port: int, opts: Options) -> list[dict]:
    """Every object of one student's lab, namespace first."""
    ns = namespace_of(student)
    out: list[dict] = [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": {
            **_labels_for(student),
            # every pod but the client meets the "restricted" Pod Security Standard; the client
            # keeps NET_RAW and NET_ADMIN for tcpdump, as in compose.yaml: warn and audit, not enforce
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted"},
            "annotations": {"socklab/student-name": student.name}},
    }]
    out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": _meta("accounts", ns, _labels_for(student)),
                "data": {k: _b64(v) for k, v in sorted(accounts.values.items())}})
    out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": _meta("lab-tls", ns, _labels_for(student)),
                "data": {k: _b64(v) for k, v in sorted(tls.items())}})
    for name, data in sorted({n: d for h in hosts for n, d in h.secrets.items()}.items()):
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": _meta(name, ns, _labels_for(student)),
                    "data": {k: _b64(v) for k, v in sorted(data.items())}})
    shared = shared_volumes(hosts)
    workspace_pod = next((lead for lead, members in pods(hosts).items()
                          if any(m[0] == "workspace" and not m[2] for h in members for m in h.mounts)), None)
    for volume in sorted({m[0] for h in hosts for m in h.mounts} - shared):
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": _meta(volume, ns, _labels_for(student)),
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": WORKSPACE_SIZE if volume == "workspace"
                                                        else VOLUME_SIZE}},
                             **({"storageClassName": opts.storage_class} if opts.storage_class else {})}})
    for lead, members in pods(hosts).items():
        volumes, pod_volumes = [], {}
        for v in dict.fromkeys(m[0] for h in members for m in h.mounts):
            pod_volumes[v] = v
            claim = {"claimName": v}
            if all(ro for h in members for name, _path, ro in h.mounts if name == v):
                # read-only for the whole pod: the kubelet then leaves its files' group alone
                # (fsGroup would make the student's workspace socklab's in student-server)
                claim["readOnly"] = True
            volumes.append({"name": v, "emptyDir": {}} if v in shared
                           else {"name": v, "persistentVolumeClaim": claim})
        for h in members:
            volumes += [{"name": f"tmp-{h.name}-{i}", "emptyDir": {"medium": "Memory", "sizeLimit": TMPFS_SIZE}}
                        for i in range(len(h.tmpfs))]
            entry = h.name == ENTRY_HOST
            if entry or f"{h.name}.key" in tls:
                items = ["ca.crt"] if entry else ["ca.crt", f"{h.name}.crt", f"{h.name}.key"]
                # optional: false is Kubernetes' default, said aloud: podman 4.3's kube play needs it
                volumes.append({"name": f"tls-{h.name}", "secret": {
                    "secretName": "lab-tls", "defaultMode": 0o440, "optional": False,
                    "items": [{"key": k, "path": k} for k in items]}})
            # sshd's files: root's, readable by the pod's fsGroup (the student's group); sshd
            # refuses a host key group-readable only when the key is its own user's
            for name in dict.fromkeys(n for n, _key, _path in h.secret_mounts):
                volumes.append({"name": f"secret-{name}", "secret": {
                    "secretName": name, "defaultMode": 0o440, "optional": False}})
        # a pod has one network namespace: its hosts' sysctls hold for all of them (the client
        # thus gets ip_unprivileged_port_start=0 beside unix-server, as Docker gives every container)
        sysctls: dict[str, str] = {}
        for h in members:
            for k, v in h.sysctls.items():
                if sysctls.get(k, v) != v:
                    raise K8sError(_("hosts of pod {pod} want sysctl {key} both {a} and {b}").format(
                        pod=lead, key=k, a=sysctls[k], b=v))
                sysctls[k] = v
        head = members[0]
        secret_keys = set(accounts.values)
        # fsGroup: the volumes belong to the group of the pod's first host, as a fresh Docker
        # volume takes the owner of the image's folder; the kubelet sets it when the top differs
        pod_security = {"runAsNonRoot": True, "fsGroup": head.user[1], "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": {"type": "RuntimeDefault"}}
        if sysctls:
            pod_security["sysctls"] = [{"name": k, "value": v} for k, v in sorted(sysctls.items())]
        spec = {
            "hostname": head.hostname or lead,
            "enableServiceLinks": False,         # no *_SERVICE_HOST variables: names are what the lab uses
            "automountServiceAccountToken": False,
            "securityContext": pod_security,
            "containers": [_container(h, pod_volumes, secret_keys, h.name == ENTRY_HOST, tls, opts)
                           for h in members],
        }
        grace = max([h.grace for h in members if h.grace] or [0])
        if grace:
            spec["terminationGracePeriodSeconds"] = grace
        if volumes:
            spec["volumes"] = volumes
        uses_workspace = any(m[0] == "workspace" for h in members for m in h.mounts)
        if uses_workspace and workspace_pod and lead != workspace_pod:
            # the workspace is ReadWriteOnce: a second pod mounts it only on the same node
            spec["affinity"] = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"socklab/host": workspace_pod}},
                "topologyKey": "kubernetes.io/hostname"}]}}
        annotations = {}
        for h in members:
            for k, v in h.annotations.items():
                annotations[k if h is head else f"{k}.{h.name}"] = v
        out.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta(lead, ns, _labels_for(student, lead), annotations),
            "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                     "selector": {"matchLabels": {"socklab/host": lead}},
                     "template": {"metadata": {"labels": _labels_for(student, lead), "annotations": annotations},
                                  "spec": spec}},
        })
        for h in members:
            ports = list(dict.fromkeys(h.ports + h.probe_ports))
            # headless: the name is the pod's address, not a virtual one; and, as on the Compose
            # network, the name resolves before the host is healthy (clients retry, as there)
            service = {"clusterIP": "None", "selector": {"socklab/host": lead},
                       "publishNotReadyAddresses": True}
            if ports:
                service["ports"] = [{"name": f"{proto.lower()}-{p}", "port": p, "targetPort": p, "protocol": proto}
                                    for p, proto in ports]
            out.append({"apiVersion": "v1", "kind": "Service",
                        "metadata": _meta(h.name, ns, _labels_for(student, lead)), "spec": service})
    ssh = {"type": opts.ssh_service, "selector": {"socklab/host": ENTRY_HOST},
           "ports": [{"name": "ssh", "port": ssh_port, "targetPort": ssh_port, "protocol": "TCP"}]}
    if opts.ssh_from:
        # the student's own address reaches the pod (not a node's), so the policy below can check it
        ssh["externalTrafficPolicy"] = "Local"
        if opts.ssh_service == "LoadBalancer":
            ssh["loadBalancerSourceRanges"] = [opts.ssh_from]
    out.append({"apiVersion": "v1", "kind": "Service",
                "metadata": _meta(f"{ENTRY_HOST}-ssh", ns, _labels_for(student, ENTRY_HOST)), "spec": ssh})
    out += network_policies(student, ssh_port, opts)
    return out


def network_policies(student: Student, ssh_port: int, opts: Options) -> list[dict]:
    """Nothing in or out but within the namespace, DNS, and SSH to the client host."""
    ns, labels = namespace_of(student), _labels_for(student)
    same_namespace = [{"podSelector": {}}]
    ssh_from = [{"ipBlock": {"cidr": opts.ssh_from}}] if opts.ssh_from else []
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("default-deny", ns, labels),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("within-the-lab", ns, labels),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                  "ingress": [{"from": same_namespace}], "egress": [{"to": same_namespace}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("dns", ns, labels),
         "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                  "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
                                          "kubernetes.io/metadata.name": "kube-system"}},
                                      "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                              "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("ssh-in", ns, labels),
         "spec": {"podSelector": {"matchLabels": {"socklab/host": ENTRY_HOST}}, "policyTypes": ["Ingress"],
                  "ingress": [{**({"from": ssh_from} if ssh_from else {}),
                               "ports": [{"protocol": "TCP", "port": ssh_port}]}]}},
    ]


def ssh_port_of(hosts: list[Host]) -> int:
    """The client's sshd port: the ``Port`` of its sshd_config (the class overlay's), else
    the first TCP port compose.yaml gives the client (ports, expose, or what its
    healthcheck probes), else 2222."""
    entry = next((h for h in hosts if h.name == ENTRY_HOST), None)
    if entry is None:
        raise K8sError(_("compose.yaml has no host {host} for students to enter").format(host=ENTRY_HOST))
    for files in entry.secrets.values():
        m = re.search(rb"^Port (\d+)", files.get("sshd_config", b""), re.M)
        if m:
            return int(m.group(1))
    tcp = [p for p, proto in entry.ports + entry.probe_ports if proto == "TCP"]
    return tcp[0] if tcp else DEFAULT_SSH_PORT


def generate(students: list[Student], compose: dict, *, users: dict[str, tuple[int, int]], pki: Path,
             state: Path, opts: Options) -> dict[str, list[dict]]:
    """Student id -> the objects of that student's lab (compose.yaml with the class overlay).

    Passwords, sshd's files and host key are kept under *state*/<id>/.
    """
    hosts = read_lab(compose, users)
    tls = tls_files(pki, hosts)
    seen: dict[str, str] = {}
    for s in students:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace_of(s)):
            raise K8sError(_("student id {id!r} cannot name a Kubernetes namespace: it must end with a "
                             "letter or digit").format(id=s.id))
        if namespace_of(s) in seen:
            raise K8sError(_("students {a} and {b} would share namespace {ns}").format(
                a=seen[namespace_of(s)], b=s.id, ns=namespace_of(s)))
        seen[namespace_of(s)] = s.id
    lab_env = {var["name"]: var["value"] for h in hosts for var in h.container.get("env", [])}
    result = {}
    for s in students:
        folder = state / s.id
        kept = folder / KEPT
        accounts = Accounts.load_or_make(kept, lab_env, s)
        accounts.save(kept)
        try:
            classroom.write_ssh_files(ssh_record(s, accounts), folder, owner=None)
        except classroom.ClassError as exc:
            raise K8sError(str(exc)) from None
        student_hosts = read_lab(class_lab(compose, folder.resolve()), users, files=folder.resolve())
        result[s.id] = student_manifests(s, student_hosts, accounts, tls, ssh_port_of(student_hosts), opts)
    return result


def ssh_record(student: Student, accounts: "Accounts"):
    """The classroom's record of *student*'s SSH login: password (or key), no port block of its own."""
    return classroom.LabRecord(student.id, student.name, 0, accounts.values.get("STUDENT_PASSWORD", ""),
                                  student.ssh_key)


def write_cards(manifests: dict[str, list[dict]], students: list[Student], state: Path,
                opts: Options) -> tuple[Path, Path]:
    """<state>/cards.txt and cards.html: a card per student to hand out, as `make class` writes.

    The port is the one of the Service client-ssh: a NodePort, which the cluster picks at
    `kubectl apply` (the cards say where to read it), or on a LoadBalancer's address the
    sshd port.  ``--ssh-host`` names the host, else the cards say where to find it.
    """
    records, ports = [], {}
    for s in students:
        records.append(ssh_record(s, Accounts.load_or_make(state / s.id / KEPT, {}, s)))
        [service] = [o for o in manifests[s.id] if o["kind"] == "Service"
                     and o["metadata"]["name"] == f"{ENTRY_HOST}-ssh"]
        ports[s.id] = "NODEPORT" if opts.ssh_service == "NodePort" else str(service["spec"]["ports"][0]["port"])
    notes = []
    if opts.ssh_service == "NodePort":
        host = opts.ssh_host or "NODE"
        notes.append(_("NODEPORT: the port that `kubectl get service -n socklab-<id> client-ssh` shows "
                       "after `kubectl apply` (30000-32767)."))
        if not opts.ssh_host:
            notes.append(_("NODE: the address of any node of the cluster."))
    else:
        host = opts.ssh_host or "LOADBALANCER"
        if not opts.ssh_host:
            notes.append(_("LOADBALANCER: the EXTERNAL-IP that `kubectl get service -n socklab-<id> "
                           "client-ssh` shows after `kubectl apply`."))
    text = "".join(n + "\n" for n in notes) + ("\n" if notes else "") + classroom.cards_text(records, host, ports)
    page = classroom.cards_html(records, host, ports).replace(
        "<body>\n", "<body>\n" + "".join(f"<p>{html.escape(n)}</p>\n" for n in notes), 1)
    state.mkdir(parents=True, exist_ok=True)
    text_path, html_path = state / "cards.txt", state / "cards.html"
    for path, body in ((text_path, text), (html_path, page)):
        path.touch(mode=0o600)
        path.write_text(body)
    return text_path, html_path


def dump(objects: list[dict]) -> str:
    """YAML documents, written out in full (no anchors and aliases: each object reads alone)."""
    import yaml

    class Plain(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):      # libyaml's, where there, is 10x faster
        def ignore_aliases(self, data):
            return True

    return "".join("---\n" + yaml.dump(o, Dumper=Plain, sort_keys=False, default_flow_style=False, allow_unicode=True)
                   for o in objects)


def write(manifests: dict[str, list[dict]], out: Path) -> list[Path]:
    """One file per kind of object under *out*/<id>/, named so that `kubectl apply -f` applies
    the namespace first."""
    order = {"Namespace": "00-namespace", "Secret": "10-secrets", "PersistentVolumeClaim": "20-volumes",
             "Deployment": "30-hosts", "Service": "40-services", "NetworkPolicy": "50-network-policies"}
    written = []
    for sid, objects in manifests.items():
        folder = out / sid
        folder.mkdir(parents=True, exist_ok=True)
        for kind, stem in order.items():
            chosen = [o for o in objects if o["kind"] == kind]
            path = folder / f"{stem}.yaml"
            if chosen:
                if kind == "Secret":
                    path.touch(mode=0o600)
                path.write_text(dump(chosen))
                written.append(path)
            elif path.exists():
                path.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="socklab: %(message)s")
    parser = argparse.ArgumentParser(prog="tools/k8s.py", description=_(
        "Write Kubernetes manifests for a class: one namespace per student, the lab of compose.yaml in each."))
    parser.add_argument("roster", nargs="?", help=_("the class roster (CSV: student id, name, optional SSH public key)"))
    parser.add_argument("--out", type=Path, default=OUT, help=_("where to write (default: k8s/out)"))
    parser.add_argument("--stdout", action="store_true",
                        help=_("print every manifest instead, for `kubectl apply -f -`"))
    parser.add_argument("--image", help=_("the lab image as the cluster pulls it (default: compose.yaml's)"))
    parser.add_argument("--ssh-service", choices=["NodePort", "LoadBalancer"], default="NodePort",
                        help=_("how the students' SSH endpoints are published (default: NodePort)"))
    parser.add_argument("--ssh-from", default="", help=_("only this CIDR may connect over SSH (default: anyone)"))
    parser.add_argument("--storage-class", help=_("the storage class of the volumes (default: the cluster's)"))
    parser.add_argument("--ssh-host", default="", help=_("the host name the students' cards give: a node's "
                                                          "address, or the load balancer's"))
    args = parser.parse_args(argv)
    if not args.roster:
        print("socklab: " + _("name the class roster: make k8s ROSTER=class.csv (columns: student id, name, "
                              "optional SSH public key)"), file=sys.stderr)
        return 2
    try:
        students = read_roster(args.roster)
        opts = Options(image=args.image, ssh_service=args.ssh_service, ssh_from=args.ssh_from,
                       storage_class=args.storage_class, ssh_host=args.ssh_host)
        manifests = generate(students, load_compose(), users=image_users(), pki=PKI, state=args.out, opts=opts)
        text_path, _html_path = write_cards(manifests, students, args.out, opts)
    except (RosterError, K8sError) as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        print("socklab: " + _("{module} is missing: run `python3 tools/install.py k8s`").format(module=exc.name),
              file=sys.stderr)
        return 1
    if args.stdout:
        sys.stdout.write("".join(dump(objects) for objects in manifests.values()))
    else:
        write(manifests, args.out)
        log.info(_("wrote the labs of {count} students under {out}; apply with: kubectl apply -R -f {out}").format(
            count=len(manifests), out=args.out))
    log.info(_("cards for the students: {cards}").format(cards=text_path))
    return 0
