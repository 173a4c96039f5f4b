"""A lab for tests, started the way students start theirs: ``python3 -m tools.lab up`` (``make lab``).

tools/lab.py runs Compose on compose.yaml, builds what is missing and waits until every host
is ready (its healthcheck's probe passes), so tests run exactly the lab of ``make lab``.
What a test lab adds, through the environment tools/lab.py and compose.yaml already read:

* a lab name of its own (``LAB=t...``): its own Compose project, network and fresh volumes;
* a free block of 100 host ports (``LAB_PORT_PREFIX``), below the blocks of labs started
  with ``make lab``;
* a fresh, empty workspace folder (``LAB_WORKSPACE``) instead of the student's, so
  tests never write into ``workspace/``;
* a Compose of choice (``SOCKLAB_COMPOSE=v1|v2``), for the tests that run under both.

``Lab`` then reaches its hosts by service name: run a command in one (``exec``), read its
log, stop, start, restart or kill it, and remove everything at the end (``close``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tools import lab as labtool, ports

ROOT = Path(__file__).resolve().parent.parent


def need_docker(who: str = "the integration tests") -> None:
    """Fail (never skip) when no Docker engine answers: a skipped check is one that cannot fail."""
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"{who} need a Docker engine and `docker info` failed:\n" + probe.stderr.strip()
                    + "\nStart dockerd and run the tests again.", pytrace=False)


def docker_ids(*args: str) -> set[str]:
    """What ``docker ARGS`` lists, one word each (``docker_ids("volume", "ls", "-q", ...)``)."""
    return set(subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.split())


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


class Lab:
    """One lab of compose.yaml, started with tools/lab.py for tests.  Use as a context manager.

    *port_prefix* and *workspace* name those of a lab already made (a :class:`LabPool`'s);
    by default the lab gets a free port block and a fresh workspace of its own.
    """

    def __init__(self, name: str | None = None, compose: str | None = None, *,
                 port_prefix: int | None = None, workspace: Path | None = None) -> None:
        self.tools = labtool
        self.name = name or f"t{uuid.uuid4().hex[:8]}"
        self.project = self.tools.project_name(self.name)
        self.port_prefix = port_prefix or ports.free_port_prefix()      # as bench and chaos labs get theirs
        self._own_workspace = None if workspace else tempfile.TemporaryDirectory(prefix="socklab-test-")
        self._workspace = Path(workspace or self._own_workspace.name)
        os.chmod(self._workspace, 0o777)       # the client's student user writes here
        self.env = {**os.environ, "LAB": self.name, "LAB_PORT_PREFIX": str(self.port_prefix),
                    "LAB_WORKSPACE": str(self._workspace)}
        if compose:
            self.env["SOCKLAB_COMPOSE"] = compose
        self.docker = docker.from_env()
        self.up_output = ""

    # -- the lab tool

    def lab_tool(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """``python3 -m tools.lab ARGS`` for this lab (``make ARGS`` with this lab's settings)."""
        return subprocess.run([sys.executable, "-m", "tools.lab", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)

    def up(self) -> "Lab":
        result = self.lab_tool("up")
        self.up_output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"`python3 -m tools.lab up` failed for test lab {self.name}:\n{self.up_output[-6000:]}"
                               f"\n--- the hosts' logs\n{self.all_logs()[-6000:]}")
        return self

    def close(self) -> None:
        self.lab_tool("clean")
        ports.release(self.port_prefix)
        if self._own_workspace:
            self._own_workspace.cleanup()

    def __enter__(self) -> "Lab":
        try:
            return self.up()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    # -- what runs

    @property
    def services(self) -> list[str]:
        """The hosts of this lab, as Compose labelled them."""
        return sorted({c.labels["com.docker.compose.service"] for c in self._all()})

    def running(self) -> set[str]:
        """The hosts whose container runs now."""
        return {c.labels["com.docker.compose.service"] for c in self._all() if c.status == "running"}

    def _all(self) -> list:
        return self.docker.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"})

    def container(self, service: str):
        """*service*'s container (docker-py), read now: its ``attrs`` are current."""
        found = self.docker.containers.list(all=True, filters={"label": [
            f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]})
        if not found:
            raise KeyError(f"test lab {self.name} has no host {service}")
        return found[0]

    @property
    def network(self):
        """The lab network (docker-py), the one network every host is on."""
        nets = self.container("client").attrs["NetworkSettings"]["Networks"]
        return self.docker.networks.get(next(iter(nets)))

    @property
    def workspace(self) -> Path:
        """The folder mounted as the student's workspace (client: rw, student-server: ro)."""
        return self._workspace

    def host_port(self, service: str, port: int, proto: str = "tcp") -> int:
        binds = self.container(service).attrs["NetworkSettings"]["Ports"][f"{port}/{proto}"]
        return int(binds[0]["HostPort"])

    # -- using a host

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

    def wait_logged(self, service: str, *needles: str, timeout: float = 30.0) -> str:
        """*service*'s log once it holds every one of *needles*, or as it is after *timeout* s."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs(service)
            if all(n in text for n in needles) or time.monotonic() > deadline:
                return text
            time.sleep(0.1)

    def all_logs(self, tail: int = 30) -> str:
        """The last *tail* log lines of every host, for a failure's report."""
        parts = []
        for c in self._all():
            text = c.logs(tail=tail).decode("utf-8", "replace")
            parts.append(f"--- {c.labels.get('com.docker.compose.service', c.name)} ({c.status})\n{text}")
        return "\n".join(parts)

    def wait_ready(self, service: str, timeout: float = 120.0) -> float:
        """Until *service* runs and its healthcheck's probe passes (tools/lab.py's readiness)."""
        return self.tools.wait_ready(self.name, [service], timeout=timeout)

    def _compose(self, *args: str) -> None:
        result = self.lab_tool("compose", *args, timeout=180)
        assert result.returncode == 0, f"compose {' '.join(args)}: {result.stdout}{result.stderr}"

    def stop(self, service: str) -> None:
        """Stop *service* as Compose does (SIGTERM, then its stop_grace_period)."""
        self._compose("stop", service)

    def start(self, service: str) -> None:
        self._compose("start", service)
        self.wait_ready(service)

    def restart(self, service: str) -> None:
        self._compose("restart", service)
        self.wait_ready(service)

    def kill(self, service: str) -> None:
        """SIGKILL the whole container: nothing gets to clean up."""
        self.container(service).kill()
