"""The bench's private lab and what runs beside it: load containers and the peers.

:class:`Testbed` starts nothing by itself; the bench asks it to, in this order:

* the bench lab, ``LAB=bench-<id>``, with ``make lab`` as a person would (its own network,
  volumes and block of host ports, so nobody's lab is touched);
* a load container (the lab image, as ``student``, no capabilities) that runs
  ``tools/bench_load.py`` against the lab's hosts by name;
* the peers, from Debian's packages in ``socklab/peers:bookworm`` (``images/peers``), on the
  same network: vsftpd beside ``ftp``; Postfix's smtp-sink (accepts and throws away) and
  Postfix delivering over LMTP to Dovecot (``tools/peers/postfix-dovecot.sh``) beside
  ``mail``; and a container of the peers image for ``smtp-source``, Postfix's SMTP load.

Everything it starts carries the label ``socklab.bench=<id>``; :meth:`Testbed.cleanup`
removes all of it, also after Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

from tools import lab as labtool, ports
from tools.bench.docker_stats import StatsSampler
from tools.measure import MeasureError, Progress, ToolError, sh

ROOT = labtool.ROOT
PEERS_IMAGE = "socklab/peers:bookworm"
PEERS_FOLDER = "images/peers"
COLD_BASE = "socklab/base:bench-cold"
COLD_LAB = "socklab/lab:bench-cold"
LABEL = "socklab.bench"                  # on every container and volume the bench creates
LOAD_SCRIPT = ROOT / "tools" / "bench_load.py"
PEER_CONF = ROOT / "tools" / "peers"
MAIL_PEER = "postfix-mail"               # the network alias of Postfix -> LMTP -> Dovecot


class Testbed:
    """The bench lab (``bench-<id>``), its cold twin (``benchcold-<id>``), load and peers."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.id = uuid.uuid4().hex[:6]
        self.lab = f"bench-{self.id}"
        self.cold_lab = f"benchcold-{self.id}"
        self.prefix = 0
        self.hosts: dict[str, dict] = {}          # service -> docker inspect of its container
        self.network = ""
        self.loader = ""                           # python load container (lab image)
        self.peer_loader = ""                      # smtp-source container (peers image)
        self.peers: dict[str, str] = {}            # "vsftpd"/"smtp-sink"/MAIL_PEER -> container id
        self.volumes: list[str] = []
        self.sampler = StatsSampler()              # memory of every container, while the bench runs
        self.last_output = ""                      # what the last make said

    # -- labs

    def lab_env(self, lab: str, **extra: str) -> dict[str, str]:
        env = {**os.environ, "LAB": lab, "LAB_PORT_PREFIX": str(self.prefix), **extra}
        for key in ("SOCKLAB_BASE_IMAGE", "SOCKLAB_LAB_IMAGE", "TCP_SERVER_CONCURRENT"):
            if key not in extra:
                env.pop(key, None)
        return env

    def make(self, target: str, lab: str, *, check: bool = True, **extra: str) -> float:
        """Run ``make <target>`` for *lab* (as a person would); return how long it took."""
        if shutil.which("make"):
            cmd = ["make", "--no-print-directory", "-C", str(ROOT), target]
        else:
            cmd = [sys.executable, str(ROOT / "tools" / "lab.py"), {"lab": "up"}.get(target, target)]
        started = time.perf_counter()
        res = subprocess.run(cmd, env=self.lab_env(lab, **extra), capture_output=True, text=True, timeout=900)
        elapsed = time.perf_counter() - started
        self.last_output = res.stdout
        if check and res.returncode != 0:
            raise ToolError(f"`make {target}` (LAB={lab}) failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        return elapsed

    def compose(self, *args: str, files: list[str] = (), **extra: str) -> None:
        """``docker compose`` for the bench lab, with compose.yaml and then *files* (overrides)."""
        cmd = [*labtool.compose_command(), "-p", labtool.project_name(self.lab), "-f", str(labtool.COMPOSE_FILE)]
        for f in files:
            cmd += ["-f", str(f)]
        env = {**labtool.compose_env(self.lab), **self.lab_env(self.lab, **extra)}   # the bench's port block
        sh([*cmd, *args], env=env, timeout=600)

    def refresh_hosts(self) -> None:
        self.hosts = {c["Config"]["Labels"]["com.docker.compose.service"]: c
                      for c in labtool.containers(self.lab)}

    def env_of(self, service: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.hosts[service]["Config"]["Env"] if "=" in item)

    def docker_run(self, *args: str) -> str:
        return sh(["docker", "run", "-d", "--label", f"{LABEL}={self.id}", *args]).stdout.strip()

    def volume(self, name: str) -> str:
        volume = f"socklab-bench-{self.id}-{name}"
        sh(["docker", "volume", "create", "--label", f"{LABEL}={self.id}", volume])
        self.volumes.append(volume)
        return volume

    # -- load and peers

    def bring_up(self, running: bool) -> None:
        """Start the bench lab (unless *running*), the load containers and the peers."""
        self.progress(f"the bench lab {self.lab}: starting the load containers and the peers ...")
        if not running:
            self.make("lab", self.lab)
        self.refresh_hosts()
        self.network = next(iter(self.hosts["client"]["NetworkSettings"]["Networks"]))
        self.loader = self.docker_run("--network", self.network, "--user", "student", "--cap-drop", "ALL",
                                      "-v", f"{LOAD_SCRIPT}:/bench/bench_load.py:ro",
                                      "--entrypoint", "sleep", labtool.LAB_IMAGE, "infinity")
        if "mail" in self.hosts:
            self.peer_loader = self.docker_run("--network", self.network, "--user", "nobody", "--cap-drop", "ALL",
                                               "--entrypoint", "sleep", PEERS_IMAGE, "infinity")
            self.peers["smtp-sink"] = self.docker_run(
                "--network", self.network, "--network-alias", "smtp-sink", "--hostname", "smtp-sink",
                PEERS_IMAGE, "tini", "--", "smtp-sink", "-u", "postfix", "-h", "smtp-sink.lab.test", ":25", "1024")
            accounts = self.env_of("mail").get("MAIL_ACCOUNTS") or "alice:password bob:password"
            self.peers[MAIL_PEER] = self.docker_run(
                "--network", self.network, "--network-alias", MAIL_PEER, "--hostname", f"{MAIL_PEER}.lab.test",
                "-e", f"MAIL_ACCOUNTS={accounts}", "-v", f"{self.volume('postfix-mail')}:/srv/mail",
                "-v", f"{PEER_CONF}:/etc/socklab-bench:ro",
                PEERS_IMAGE, "tini", "--", "sh", "/etc/socklab-bench/postfix-dovecot.sh")
            self.load("wait", "--host", "smtp-sink", "--port", "25")
            # Postfix's start-up checks take a while on a busy machine
            self.load("wait", "--host", MAIL_PEER, "--port", "25", "--seconds", "180")
            self.load("wait", "--host", MAIL_PEER, "--port", "143", "--seconds", "30")
        if "ftp" in self.hosts:
            env = self.env_of("ftp")
            cons, per_ip = self.ftp_limits()
            self.peers["vsftpd"] = self.docker_run(
                "--network", self.network, "--network-alias", "vsftpd", "--hostname", "vsftpd",
                "-e", f"FTP_USER={env.get('FTP_USER', 'student')}",
                "-e", f"FTP_PASSWORD={env.get('FTP_PASSWORD', 'password')}",
                "-v", f"{self.volume('vsftpd')}:/srv/ftp", "-v", f"{PEER_CONF}:/etc/socklab-bench:ro",
                PEERS_IMAGE, "tini", "--", "sh", "/etc/socklab-bench/vsftpd.sh",
                f"-omax_clients={cons}", f"-omax_per_ip={per_ip}")
            self.load("wait", "--host", "vsftpd", "--port", "21")

    def ftp_limits(self) -> tuple[int, int]:
        """The ftp host's connection limits (from its command line), for vsftpd to have the same."""
        cmd = self.hosts["ftp"]["Config"]["Cmd"] or []
        limits = {"--max-cons": 64, "--max-cons-per-ip": 16}       # ftp-server's defaults
        for i, arg in enumerate(cmd):
            key, _, value = arg.partition("=")
            if key in limits:
                limits[key] = int(value or cmd[i + 1])
        return limits["--max-cons"], limits["--max-cons-per-ip"]

    def load(self, *args: str) -> dict:
        """Run one measurement of tools/bench_load.py in the load container; its JSON result."""
        bound = float(args[args.index("--seconds") + 1]) if "--seconds" in args else 60.0
        try:
            res = sh(["docker", "exec", self.loader, "python3", "/bench/bench_load.py", *args],
                     check=False, timeout=bound + 60)
        except subprocess.TimeoutExpired:
            raise MeasureError(f"bench_load {args[0]} still running {bound + 60:.0f} s later") from None
        if res.returncode != 0:
            raise MeasureError(f"bench_load {args[0]}: {(res.stderr or res.stdout).strip()[-500:]}")
        return json.loads(res.stdout.strip().splitlines()[-1])

    def sampled(self) -> dict[str, str]:
        """What the memory sampler watches: ``{container id: host, or peer:<name>}``."""
        names = {c["Id"]: service for service, c in self.hosts.items()}
        names.update({cid: f"peer:{name}" for name, cid in self.peers.items()})
        return names

    def watch(self) -> None:
        """(Re)start the memory sampler on the current containers."""
        self.sampler.watch(self.sampled())

    # -- the end

    def remove_ours(self) -> None:
        """Remove the containers the bench started itself (load, peers, bare)."""
        ids = sh(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.id}"], check=False).stdout.split()
        if ids:
            sh(["docker", "rm", "-f", *ids], check=False)

    def remove_cold(self) -> None:
        sh(["docker", "image", "rm", "-f", COLD_LAB, COLD_BASE], check=False)

    def cleanup(self) -> None:
        self.sampler.stop()
        self.progress("cleaning up: bench containers, volumes, labs, cold images ...")
        self.remove_ours()
        for volume in self.volumes:
            sh(["docker", "volume", "rm", "-f", volume], check=False)
        if self.prefix:
            self.make("clean", self.lab, check=False)
            self.make("clean", self.cold_lab, check=False, SOCKLAB_LAB_IMAGE=COLD_LAB)
            ports.release(self.prefix)
        self.remove_cold()

