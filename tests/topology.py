"""Start the lab that compose.yaml describes, for tests, with testcontainers' core API.

compose.yaml is the only list of the lab's hosts.  This module reads it and starts the
same hosts -- same image, command, user, capabilities, volumes, healthchecks, ports -- on a
fresh network with fresh volumes, so a test session never touches a running ``make lab``
and never drifts from it.  It understands the part of the Compose format that socklab
uses and refuses anything else loudly: a key it does not know would otherwise be
silently ignored and the tests would run a different lab than students do.

Two things differ from ``make lab``, on purpose:

* host ports use a free block of 100 ports (``LAB_PORT_PREFIX``) picked for the session;
* a bind mount of a folder of the repository (``./workspace``) gets a fresh temporary
  folder instead, so tests never write into a student's workspace.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml
from testcontainers.core.container import DockerContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.network import Network

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"

# The Compose keys this harness turns into container settings; anything else is an error.
KNOWN_KEYS = {
    "image", "command", "entrypoint", "environment", "user", "working_dir", "hostname",
    "domainname", "volumes", "tmpfs", "ports", "cap_drop", "cap_add", "security_opt",
    "read_only", "sysctls", "labels", "restart", "healthcheck", "depends_on", "networks",
    "stop_grace_period", "stop_signal", "init", "ulimits", "pids_limit", "shm_size",
    "mem_limit", "cpus",
}


def load_tools_lab():
    """tools/lab.py, the driver behind ``make lab`` (it builds the images for both)."""
    spec = importlib.util.spec_from_file_location("socklab_tools_lab", ROOT / "tools" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if name is None:
            return "$"
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return arg if unset else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise ValueError(f"compose.yaml needs ${name}: {arg}")
            return current
        return current or ""

    return _VAR.sub(sub, value)


def load_services(env: dict[str, str]) -> dict[str, dict]:
    """The services of compose.yaml, with anchors merged and variables substituted."""
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    services = interpolate(doc["services"], env)
    for name, svc in services.items():
        unknown = set(svc) - KNOWN_KEYS
        if unknown:
            raise ValueError(f"tests/topology.py does not understand {sorted(unknown)} of service "
                             f"{name} in compose.yaml; teach it, so tests run the lab students run")
    return services


def _seconds(text) -> float:
    """'2s', '1m30s', '500ms' -> seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    total = 0.0
    for amount, unit in re.findall(r"([\d.]+)(ms|us|s|m|h)", text):
        total += float(amount) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def _env_dict(environment) -> dict[str, str]:
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v) for k, v in environment.items()}
    result = {}
    for item in environment or []:
        key, _, val = item.partition("=")
        result[key] = val
    return result


def _ports(specs) -> dict[str, tuple[str, int]]:
    """'127.0.0.1:20030-20049:20030-20049/tcp' -> {'20030/tcp': ('127.0.0.1', 20030), ...}."""
    result = {}
    for spec in specs or []:
        spec, _, proto = str(spec).partition("/")
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"publish ports as IP:HOST:CONTAINER (got {spec!r})")
        ip, host, inner = parts
        hosts, inners = _range(host), _range(inner)
        if len(hosts) != len(inners):
            raise ValueError(f"port ranges of different length in {spec!r}")
        for h, i in zip(hosts, inners):
            result[f"{i}/{proto or 'tcp'}"] = (ip, h)
    return result


def _range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


@dataclass
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __str__(self) -> str:      # shown when an assertion about the result fails
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Topology:
    """The lab of compose.yaml, started for a test session.  Use as a context manager."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.tools = load_tools_lab()
        self.port_prefix = self.tools.free_port_prefix()
        self.env = {**os.environ, "LAB_PORT_PREFIX": str(self.port_prefix),
                    "SOCKLAB_LAB_IMAGE": self.tools.LAB_IMAGE}
        self.services = load_services(self.env)
        self.docker = docker.from_env()
        self.network: Network | None = None
        self.volumes: dict[str, str] = {}
        self.containers: dict[str, DockerContainer] = {}
        self._tmpdirs: list[tempfile.TemporaryDirectory] = []
        self.binds: dict[str, str] = {}

    # -- starting

    def up(self) -> "Topology":
        self.tools.build(hosts=list(self.services))
        self.network = Network(docker_network_kw={"labels": {"socklab.test": self.id}}).create()
        for name in self._start_order():
            # recorded before it starts, so that close() removes it even if starting fails
            self.containers[name] = self._container(name, self.services[name])
            self.containers[name].start()
        for name in self.services:
            self.wait_healthy(name)
        return self

    def _start_order(self) -> list[str]:
        order, seen = [], set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            deps = self.services[name].get("depends_on") or []
            for dep in deps if isinstance(deps, list) else list(deps):
                visit(dep)
            order.append(name)

        for name in self.services:
            visit(name)
        return order

    def _volume(self, name: str) -> str:
        if name not in self.volumes:
            vol = self.docker.volumes.create(name=f"socklab-test-{self.id}-{name}",
                                             labels={"socklab.test": self.id})
            self.volumes[name] = vol.name
        return self.volumes[name]

    def _container(self, name: str, svc: dict) -> DockerContainer:
        c = DockerContainer(svc["image"]).with_network(self.network).with_network_aliases(name)
        kwargs: dict = {"hostname": svc.get("hostname", name),
                        "labels": {**{k: str(v) for k, v in (svc.get("labels") or {}).items()},
                                   "socklab.test": self.id, "socklab.service": name}}
        if "command" in svc:
            cmd = svc["command"]
            c.with_command(cmd if isinstance(cmd, list) else shlex.split(cmd))
        if "entrypoint" in svc:
            kwargs["entrypoint"] = svc["entrypoint"]
        for key, val in _env_dict(svc.get("environment")).items():
            c.with_env(key, val)
        for spec in svc.get("volumes") or []:
            source, target, *mode = spec.split(":")
            if source.startswith((".", "/")):
                source = self._bind_source(source)
            else:
                source = self._volume(source)
            c.with_volume_mapping(source, target, mode[0] if mode else "rw")
        for key, arg in (("user", "user"), ("working_dir", "working_dir"), ("domainname", "domainname"),
                         ("cap_drop", "cap_drop"), ("cap_add", "cap_add"), ("security_opt", "security_opt"),
                         ("read_only", "read_only"), ("init", "init"), ("pids_limit", "pids_limit"),
                         ("shm_size", "shm_size"), ("stop_signal", "stop_signal")):
            if key in svc:
                kwargs[arg] = svc[key]
        if "mem_limit" in svc:
            kwargs["mem_limit"] = svc["mem_limit"]
        if "cpus" in svc:
            kwargs["nano_cpus"] = int(float(svc["cpus"]) * 1e9)
        if "sysctls" in svc:
            kwargs["sysctls"] = {k: str(v) for k, v in svc["sysctls"].items()}
        if "tmpfs" in svc:
            mounts = svc["tmpfs"] if isinstance(svc["tmpfs"], list) else [svc["tmpfs"]]
            c.tmpfs.update({m.split(":")[0]: (m.split(":", 1)[1] if ":" in m else "") for m in mounts})
        if "restart" in svc and svc["restart"] != "no":
            kwargs["restart_policy"] = {"Name": svc["restart"]}
        if "ulimits" in svc:
            kwargs["ulimits"] = [docker.types.Ulimit(name=k, soft=v["soft"], hard=v["hard"]) if isinstance(v, dict)
                                 else docker.types.Ulimit(name=k, soft=v, hard=v) for k, v in svc["ulimits"].items()]
        if "healthcheck" in svc:
            hc = svc["healthcheck"]
            kwargs["healthcheck"] = {
                "test": hc["test"],
                "interval": int(_seconds(hc.get("interval", "30s")) * 1e9),
                "timeout": int(_seconds(hc.get("timeout", "30s")) * 1e9),
                "retries": int(hc.get("retries", 3)),
                "start_period": int(_seconds(hc.get("start_period", "0s")) * 1e9),
            }
        # with_bind_ports() cannot name the host IP; docker-py takes (ip, port) directly
        c.ports.update(_ports(svc.get("ports")))
        return c.with_kwargs(**kwargs)

    def _bind_source(self, source: str) -> str:
        """A folder of the repository gets one fresh folder, shared by every host that mounts it."""
        if source.startswith("/"):
            return source
        if source not in self.binds:
            tmp = tempfile.TemporaryDirectory(prefix="socklab-test-")
            self._tmpdirs.append(tmp)
            os.chmod(tmp.name, 0o777)       # the client's student user writes here
            self.binds[source] = tmp.name
        return self.binds[source]

    @property
    def workspace(self) -> Path:
        """The folder mounted as the student's workspace (client: rw, student-server: ro)."""
        return Path(self.binds["./workspace"])

    # -- using

    def container(self, service: str):
        return self.containers[service].get_wrapped_container()

    def wait_healthy(self, service: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        c = self.container(service)
        while True:
            c.reload()
            state = c.attrs["State"]
            health = state.get("Health", {}).get("Status")
            if state["Status"] == "running" and health in (None, "healthy"):
                return
            if state["Status"] in ("exited", "dead") or time.monotonic() > deadline:
                raise RuntimeError(f"{service} is {health or state['Status']}; its log:\n{self.logs(service)[-3000:]}")
            time.sleep(0.3)

    def exec(self, service: str, argv, *, user: str | None = None, input: str | None = None,
             env: dict[str, str] | None = None, timeout: float = 120) -> ExecResult:
        """Run *argv* in *service*'s container, as its user unless *user* is given."""
        argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        env = dict(env or {})
        if input is not None:
            env["SOCKLAB_TEST_INPUT"] = input
            argv = ["sh", "-c", 'printf "%s" "$SOCKLAB_TEST_INPUT" | "$@"', "sh", *argv]
        argv = ["timeout", "--kill-after=5", str(int(timeout)), *argv]
        code, (out, err) = self.container(service).exec_run(argv, user=user or "", environment=env, demux=True)
        return ExecResult(code, (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"))

    def exec_background(self, service: str, argv, *, user: str | None = None) -> None:
        """Start *argv* in *service*'s container and return at once (it ends with the container)."""
        argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        self.container(service).exec_run(argv, user=user or "", detach=True)

    def logs(self, service: str) -> str:
        return self.container(service).logs().decode("utf-8", "replace")

    def host_port(self, service: str, port: int, proto: str = "tcp") -> int:
        c = self.container(service)
        c.reload()
        binds = c.attrs["NetworkSettings"]["Ports"][f"{port}/{proto}"]
        return int(binds[0]["HostPort"])

    def grace(self, service: str) -> int:
        """Seconds ``docker stop`` waits after SIGTERM: compose's stop_grace_period (default 10 s)."""
        return int(_seconds(self.services[service].get("stop_grace_period", "10s")))

    def stop(self, service: str) -> None:
        self.container(service).stop(timeout=self.grace(service))

    def start(self, service: str) -> None:
        self.container(service).start()
        self.wait_healthy(service)

    def restart(self, service: str) -> None:
        self.container(service).restart(timeout=self.grace(service))
        self.wait_healthy(service)

    def kill(self, service: str) -> None:
        """SIGKILL the whole container: nothing gets to clean up."""
        self.container(service).kill()

    # -- ending

    def close(self) -> None:
        for c in self.containers.values():
            try:
                c.get_wrapped_container().remove(force=True, v=True)
            except ContainerStartException:     # never created
                pass
            except docker.errors.APIError:
                pass
        if self.network is not None:
            try:
                self.network.remove()
            except docker.errors.APIError:
                pass
        for vol in self.volumes.values():
            try:
                self.docker.volumes.get(vol).remove(force=True)
            except docker.errors.APIError:
                pass
        for tmp in self._tmpdirs:
            tmp.cleanup()

    def __enter__(self) -> "Topology":
        try:
            return self.up()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()
