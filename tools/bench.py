#!/usr/bin/env python3
"""``make bench``: how fast the lab comes up, how much memory it takes and how its servers
hold up under load -- side by side with real peers, measured in one run on this machine.

    python3 tools/bench.py              # the whole bench (what `make bench` runs)
    python3 tools/bench.py --smoke      # every figure once, with tiny counts (a test runs this)
    python3 tools/bench.py --runs 5     # more runs per figure
    python3 tools/bench.py clean        # remove what an interrupted bench left behind

What is measured (each section only if its hosts are in compose.yaml):

* **lifecycle** -- ``make lab`` from nothing (no images: the base is built offline from
  Debian's packages) and again with the images built, until every host is healthy;
  ``make down``; beside them the floor: starting and stopping one bare container.
* **footprint** -- memory of every lab container (``docker stats``) at idle and at its peak
  under the load below; the total per lab; how many labs fit in this machine's memory.
* **sockets** -- round trips per second and p50/p99 latency with 1 and 32 clients, for
  tcp-server one client at a time and concurrent, ss-server and udp-server (and UDP loss).
* **ftp** -- 100 MB STOR and RETR, 300 clients logging in at once; against vsftpd.
* **smtp** -- messages accepted per second on port 25 with Postfix's ``smtp-source`` as the
  load (1 and 16 connections, 1 kB and 100 kB); against Postfix's ``smtp-sink``; and
  delivered per second end to end (accepted until visible in IMAP).
* **news** -- POSTs and ARTICLE fetches per second with 1 and 16 readers; OVER of 1,000.

How, so that the figures mean something:

* Everything runs in a private lab (``LAB=bench-...``) with its own network, volumes and
  port block; cold ``make lab`` builds images under names of its own
  (``socklab/base:bench-cold``, ``socklab/lab:bench-cold``), so nobody's lab is touched.
  All of it is removed at the end, also after Ctrl-C.
* The peers (vsftpd, smtp-sink) come from Debian's packages in ``socklab/peers:bookworm``,
  built like the base image (``images/peers/packages.txt``), and run on the same network.
* Load generators (tools/bench_load.py, and smtp-source) run in containers on the bench
  lab's network and talk to lab hosts by name -- never to any other address. Each is
  bounded in count and in time; times are taken inside the load container.
* Each figure is the median of ``--runs`` runs, with min and max. A run is one pass over
  every section, and in each pass socklab and its peer are measured back to back, so each
  ratio socklab/peer is computed pair by pair within one pass.

Output: progress on stderr, the table on stdout, and every figure with the machine, the
versions and the date in ``bench-results/bench-<date>.json`` (and ``latest.json``); the
README's "Bench" section explains how to read it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lab as labtool  # noqa: E402  (tools/lab.py: builds images, knows labs)

PEERS_IMAGE = "socklab/peers:bookworm"
PEERS_FOLDER = "images/peers"
COLD_BASE = "socklab/base:bench-cold"
COLD_LAB = "socklab/lab:bench-cold"
LABEL = "socklab.bench"                  # on every container and volume the bench creates
RESULTS = ROOT / "bench-results"
LOAD_SCRIPT = ROOT / "tools" / "bench_load.py"
PEER_CONF = ROOT / "tools" / "peers"
MiB = 1024 * 1024
SECTIONS = ("lifecycle", "footprint", "sockets", "ftp", "smtp", "news")


class BenchError(Exception):
    """The bench cannot go on (an image does not build, the lab does not start, ...)."""


class MeasureError(Exception):
    """One measurement failed; its figure is marked failed and the bench goes on."""


# --------------------------------------------------------------------------- settings

@dataclasses.dataclass
class Settings:
    """How much load, and how many runs. Every count is also bounded by a time."""

    runs: int = 3
    cold_runs: int = 3              # each builds both images from Debian's packages
    cold_base: bool = True          # False: keep the base image, build only the lab image (smoke)
    # sockets: round trips per client, for 1 client and for 32 clients
    socket_clients: tuple = (1, 32)
    tcp_messages: tuple = (1000, 40)
    ss_messages: tuple = (300, 10)
    udp_messages: tuple = (1000, 40)
    socket_seconds: float = 15.0
    # ftp
    ftp_size: int = 100_000_000
    ftp_logins: int = 300
    ftp_login_seconds: float = 20.0   # the login storm's bound: who is not in by then, is not counted
    ftp_seconds: float = 60.0
    # smtp: (connections, message size) -> messages
    smtp_loads: tuple = ((1, 1000, 40), (16, 1000, 160), (1, 100_000, 15), (16, 100_000, 48))
    smtp_e2e: tuple = (16, 1000, 80)
    smtp_seconds: float = 60.0
    # news
    news_posts: tuple = ((1, 40), (16, 160))
    news_over: int = 1000
    news_fetches: tuple = ((1, 400), (16, 40))          # (readers, fetches each)
    news_seconds: float = 30.0


SMOKE = Settings(
    runs=1, cold_runs=1, cold_base=False,
    tcp_messages=(20, 2), ss_messages=(10, 1), udp_messages=(20, 2), socket_seconds=10.0,
    ftp_size=1_000_000, ftp_logins=20, ftp_login_seconds=10.0, ftp_seconds=30.0,
    smtp_loads=((1, 1000, 5), (16, 1000, 16), (1, 100_000, 2), (16, 100_000, 16)), smtp_e2e=(16, 1000, 16),
    news_posts=((1, 5), (16, 16)), news_over=50, news_fetches=((1, 10), (16, 2)),
)


# --------------------------------------------------------------------------- figures

def stats(values: list) -> dict | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": values}


@dataclasses.dataclass
class Figure:
    """One measured quantity: socklab's value in every run, and its peer's in the same run."""

    id: str
    section: str
    what: str
    unit: str
    better: str                    # "higher" or "lower"
    peer: str | None = None
    runs: list = dataclasses.field(default_factory=list)
    peer_runs: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)

    def add(self, value, peer_value=None) -> None:
        self.runs.append(value)
        if self.peer:
            self.peer_runs.append(peer_value)

    def ratios(self) -> list:
        return [a / b if a is not None and b else None for a, b in zip(self.runs, self.peer_runs)]

    def complete(self) -> bool:
        ok = stats(self.runs) is not None
        return ok and (not self.peer or stats(self.ratios()) is not None)

    def as_json(self) -> dict:
        return {"id": self.id, "section": self.section, "what": self.what, "unit": self.unit,
                "better": self.better, "socklab": stats(self.runs),
                "peer": ({"name": self.peer, **(stats(self.peer_runs) or {"runs": self.peer_runs})}
                         if self.peer else None),
                "ratio": stats(self.ratios()) if self.peer else None,
                "errors": self.errors}


def upstream(version: str) -> str:
    """Debian's '3.0.3-13+b2' -> '3.0.3' (the JSON keeps the whole version)."""
    return version.split(":")[-1].split("-")[0]


def fmt(v) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def cell(values: list, unit: str = "") -> str:
    s = stats(values)
    if s is None:
        return "FAILED"
    unit = f" {unit}" if unit else ""
    if len([v for v in values if v is not None]) == 1:
        return f"{fmt(s['median'])}{unit}"
    return f"{fmt(s['median'])}{unit} ({fmt(s['min'])}-{fmt(s['max'])})"


# --------------------------------------------------------------------------- small helpers

_T0 = time.monotonic()


def progress(msg: str) -> None:
    t = int(time.monotonic() - _T0)
    print(f"bench [{t // 60:02d}:{t % 60:02d}] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str], *, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise BenchError(f"`{' '.join(map(str, cmd))}` failed (exit {res.returncode}):\n"
                         f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return res


def free_port_prefix() -> int:
    """A LAB_PORT_PREFIX whose 100 host ports are free (the bench lab publishes ports too)."""
    try:
        return labtool.free_port_prefix()
    except labtool.LabError as exc:
        raise BenchError(str(exc)) from exc


def parse_size(text: str) -> float:
    """'12.5MiB' -> bytes (docker stats' units)."""
    m = re.fullmatch(r"([\d.]+)\s*([KMGT]?i?B)", text.strip())
    if not m:
        return 0.0
    scale = {"B": 1, "KiB": 1024, "MiB": MiB, "GiB": 1024 * MiB, "TiB": MiB * MiB,
             "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m.group(2)]
    return float(m.group(1)) * scale


def mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise BenchError("cannot read MemTotal from /proc/meminfo")


# --------------------------------------------------------------------------- memory sampling

class StatsSampler:
    """``docker stats`` streaming in the background: the peak memory of each container.

    Peaks are kept per pass (``self.pass_no``), so that "under load" has one value per run.
    """

    LINE = re.compile(r"([0-9a-f]{12}) (\S+) ([\d.]+\s*[KMGT]?i?B) /")

    def __init__(self) -> None:
        self.pass_no = 0
        self.peaks: dict[tuple[int, str], float] = {}
        self.names: dict[str, str] = {}          # short id -> what it is
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def watch(self, names: dict[str, str]) -> None:
        """(Re)start sampling these containers: ``{container id: name to report}``."""
        self.stop()
        self.names = {cid[:12]: name for cid, name in names.items()}
        self._proc = subprocess.Popen(["docker", "stats", "--format", "{{.ID}} {{.Name}} {{.MemUsage}}",
                                       *names], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, args=(self._proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            for cid, _, usage in self.LINE.findall(line):
                name = self.names.get(cid)
                if name:
                    key = (self.pass_no, name)
                    self.peaks[key] = max(self.peaks.get(key, 0.0), parse_size(usage))

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None


def proxy_memory(prefix: int) -> float:
    """Memory (PSS, bytes) of the docker-proxy processes that publish ports PPP00-PPP99.

    Docker publishes each host port with a process of its own, outside every container, so
    ``docker stats`` never shows it; a lab publishes dozens (an FTP passive range is one
    port each).  PSS shares the program's pages fairly between the processes.
    """
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if not args[0].endswith(b"docker-proxy") or b"-host-port" not in args:
                continue
            if int(args[args.index(b"-host-port") + 1]) // 100 != prefix:
                continue
            try:
                text, key = (proc / "smaps_rollup").read_text(), "Pss:"
            except OSError:
                text, key = (proc / "status").read_text(), "VmRSS:"
            total += next(int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith(key))
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return total


def cpu_used(ids) -> dict[str, float]:
    """CPU time (seconds) each container has used so far, from the engine's stats API.

    ``docker stats`` shows a percentage over about a second, too short for hosts whose only
    work at idle is a healthcheck every 2 s; two of these readings give the exact average.
    """
    import http.client

    class UnixHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                              .removeprefix("unix://"))

    def one(cid: str) -> tuple[str, float | None]:
        conn = UnixHTTP("localhost")
        try:
            conn.request("GET", f"/containers/{cid}/stats?stream=false&one-shot=true")
            body = json.loads(conn.getresponse().read())
            return cid, body["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
        except (OSError, ValueError, KeyError, TypeError):
            return cid, None
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(max(1, len(ids))) as pool:   # the engine takes ~1 s for each
        return {cid: used for cid, used in pool.map(one, ids) if used is not None}


def stats_snapshot(ids: dict[str, str]) -> dict[str, float]:
    """One ``docker stats --no-stream``: memory in bytes of each container, by name."""
    out = sh(["docker", "stats", "--no-stream", "--format", "{{.ID}} {{.Name}} {{.MemUsage}}", *ids]).stdout
    short = {cid[:12]: name for cid, name in ids.items()}
    return {short[cid]: parse_size(usage) for cid, _, usage in StatsSampler.LINE.findall(out) if cid in short}


# --------------------------------------------------------------------------- the bench

class Bench:
    def __init__(self, settings: Settings, *, smoke: bool = False, sections=SECTIONS) -> None:
        self.s = settings
        self.smoke = smoke
        self.sections = set(sections)
        self.id = uuid.uuid4().hex[:6]
        self.lab = f"bench-{self.id}"
        self.cold_lab = f"benchcold-{self.id}"
        self.prefix = 0
        self.figures: dict[str, Figure] = {}
        self.skipped: list[dict] = []
        self.hosts: dict[str, dict] = {}          # service -> docker inspect of its container
        self.network = ""
        self.loader = ""                           # python load container (lab image)
        self.peer_loader = ""                      # smtp-source container (peers image)
        self.peers: dict[str, str] = {}            # "vsftpd"/"smtp-sink" -> container id
        self.volumes: list[str] = []
        self.sampler = StatsSampler()
        self.proxies = 0.0                         # bytes: the lab's docker-proxy processes
        self.last_bare_stop: float | None = None
        self.last_output = ""                      # what the last make said
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.versions: dict = {}
        self.machine: dict = {}

    # -- figures

    def fig(self, id: str, section: str, what: str, unit: str, better: str, peer: str | None = None) -> Figure:
        if id not in self.figures:
            self.figures[id] = Figure(id, section, what, unit, better, peer)
        return self.figures[id]

    def failed(self, ids: list[str], run: int, why: str) -> None:
        for fid in ids:
            f = self.figures.get(fid)
            if f is not None:
                f.errors.append(f"run {run + 1}: {why}")
        progress(f"  FAILED: {why.splitlines()[0][:200]}")

    # -- labs and containers

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
            raise BenchError(f"`make {target}` (LAB={lab}) failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        return elapsed

    def docker_run(self, *args: str) -> str:
        return sh(["docker", "run", "-d", "--label", f"{LABEL}={self.id}", *args]).stdout.strip()

    def refresh_hosts(self) -> None:
        self.hosts = {c["Config"]["Labels"]["com.docker.compose.service"]: c
                      for c in labtool.containers(self.lab)}

    def env_of(self, service: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.hosts[service]["Config"]["Env"] if "=" in item)

    # -- the whole run

    def run(self) -> int:
        labtool.check_docker()
        progress(f"socklab bench {'(smoke) ' if self.smoke else ''}on {os.cpu_count()} cores; "
                 f"{self.s.runs} run(s) per figure; private labs {self.lab}, {self.cold_lab}")
        progress("building what is missing (not timed): socklab/base, socklab/lab, socklab/peers ...")
        services = labtool.services()
        labtool.build(hosts=services)
        labtool.build_base(PEERS_IMAGE, PEERS_FOLDER)
        self.prefix = free_port_prefix()
        self.versions = self.collect_versions()
        try:
            if "lifecycle" in self.sections:
                self.lifecycle()
            self.bring_up()
            if "footprint" in self.sections:
                self.footprint_idle()
                self.sampler.watch(self.sampled())
            for r in range(self.s.runs):
                self.sampler.pass_no = r
                progress(f"pass {r + 1}/{self.s.runs}")
                for section in ("sockets", "ftp", "smtp", "news"):
                    if section in self.sections:
                        getattr(self, section)(r, services)
            self.sampler.stop()
            if "footprint" in self.sections:
                self.footprint_load()
            if "lifecycle" in self.sections:
                self.last_down()
        finally:
            self.sampler.stop()
            self.cleanup()
        return self.report()

    # -- lifecycle

    def lifecycle(self) -> None:
        cold = self.fig("lifecycle.cold-up", "lifecycle",
                        "make lab, cold (no images) -> all healthy" if self.s.cold_base else
                        "make lab, cold (lab image only, base kept) -> all healthy", "s", "lower")
        for fid, what, _ in self.cold_steps():
            self.fig(fid, "lifecycle", what, "s", "lower")
        warm = self.fig("lifecycle.warm-up", "lifecycle", "make lab, warm (images built) -> all healthy", "s",
                        "lower", peer="bare docker run")
        down = self.fig("lifecycle.down", "lifecycle", "make down", "s", "lower", peer="bare docker stop")
        for r in range(self.s.cold_runs):
            progress(f"lifecycle: cold make lab {r + 1}/{self.s.cold_runs} "
                     + ("(builds both images, the base from Debian's packages)" if self.s.cold_base
                        else "(builds the lab image; the base is kept)"))
            self.remove_cold()
            base = COLD_BASE if self.s.cold_base else labtool.BASE_IMAGE
            try:
                t = self.make("lab", self.cold_lab, SOCKLAB_BASE_IMAGE=base, SOCKLAB_LAB_IMAGE=COLD_LAB)
                cold.add(t)
                parts = self.cold_parts(self.last_output)
                progress(f"  cold make lab: {t:.1f} s ("
                         + ", ".join(f"{self.figures[fid].what.split(': ')[-1]} {v:.0f} s" for fid, v in parts) + ")")
            except BenchError as exc:
                cold.add(None)
                self.failed([cold.id], r, str(exc))
            finally:
                self.make("clean", self.cold_lab, check=False, SOCKLAB_LAB_IMAGE=COLD_LAB)
                self.remove_cold()
        for r in range(self.s.runs):
            progress(f"lifecycle: bare container, warm make lab, make down {r + 1}/{self.s.runs}")
            started = time.perf_counter()
            cid = self.docker_run("--network", "none", labtool.LAB_IMAGE, "sleep", "infinity")
            bare_start = time.perf_counter() - started
            # a moment for tini to take over its signals: a SIGTERM sent to PID 1 before that is
            # ignored, and docker stop would wait for its timeout (the lab's hosts are settled too)
            time.sleep(1)
            started = time.perf_counter()
            sh(["docker", "stop", "-t", "10", cid])
            bare_stop = time.perf_counter() - started
            sh(["docker", "rm", "-f", cid], check=False)
            t_up = self.make("lab", self.lab)
            warm.add(t_up, bare_start)
            if r + 1 < self.s.runs:
                t_down = self.make("down", self.lab)
                down.add(t_down, bare_stop)
            else:
                self.last_bare_stop = bare_stop     # the last make down comes after the load
            progress(f"  bare start {bare_start:.2f} s, stop {bare_stop:.2f} s; make lab {t_up:.1f} s"
                     + (f", make down {t_down:.1f} s" if r + 1 < self.s.runs else " (the bench lab now)"))

    def last_down(self) -> None:
        """The last ``make down`` of the lifecycle: the bench lab's, once its load is over."""
        self.remove_ours()
        t_down = self.make("down", self.lab)
        self.figures["lifecycle.down"].add(t_down, self.last_bare_stop)
        progress(f"lifecycle: make down {t_down:.1f} s")

    def cold_steps(self) -> list[tuple[str, str, str]]:
        """The steps of a cold make lab: figure id, what, and what tools/lab.py says when done."""
        steps = [("lifecycle.cold-image", "of which: building the lab image", rf"built {re.escape(COLD_LAB)} in (\d+) s"),
                 ("lifecycle.cold-start", "of which: starting the hosts until healthy", r"all hosts healthy in (\d+) s")]
        if self.s.cold_base:
            steps.insert(0, ("lifecycle.cold-base", "of which: building the base from Debian's packages",
                             rf"built {re.escape(COLD_BASE)} in (\d+) s"))
        return steps

    def cold_parts(self, said: str) -> list[tuple[str, float]]:
        """Where a cold make lab spent its time, from what tools/lab.py said (whole seconds)."""
        parts = []
        for fid, what, pattern in self.cold_steps():
            m = re.search(pattern, said)
            self.fig(fid, "lifecycle", what, "s", "lower").add(float(m.group(1)) if m else None)
            if m:
                parts.append((fid, float(m.group(1))))
            else:
                self.failed([fid], len(self.figures[fid].runs) - 1, f"make lab did not say {pattern!r}")
        return parts

    def remove_cold(self) -> None:
        sh(["docker", "image", "rm", "-f", COLD_LAB, COLD_BASE], check=False)

    # -- the bench lab, its load containers and the peers

    def bring_up(self) -> None:
        progress(f"the bench lab {self.lab}: starting the load containers and the peers ...")
        if "lifecycle" not in self.sections:      # else the last warm make lab left it running
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
            self.load("wait", "--host", "smtp-sink", "--port", "25")
        if "ftp" in self.hosts:
            volume = f"socklab-bench-{self.id}-vsftpd"
            sh(["docker", "volume", "create", "--label", f"{LABEL}={self.id}", volume])
            self.volumes.append(volume)
            env = self.env_of("ftp")
            cons, per_ip = self.ftp_limits()
            self.peers["vsftpd"] = self.docker_run(
                "--network", self.network, "--network-alias", "vsftpd", "--hostname", "vsftpd",
                "-e", f"FTP_USER={env.get('FTP_USER', 'student')}",
                "-e", f"FTP_PASSWORD={env.get('FTP_PASSWORD', 'password')}",
                "-v", f"{volume}:/srv/ftp", "-v", f"{PEER_CONF}:/etc/socklab-bench:ro",
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
        names = {c["Id"]: service for service, c in self.hosts.items()}
        names.update({cid: f"peer:{name}" for name, cid in self.peers.items()})
        return names

    # -- footprint

    def footprint_idle(self) -> None:
        progress("footprint: memory at idle (docker stats) ...")
        time.sleep(2 if self.smoke else 5)         # let the hosts settle after their start
        for name in sorted(self.hosts):             # the table shows each host at idle, then under load
            self.mem_figure("idle", name)
            self.mem_figure("load", name)
        self.fig("footprint.proxies", "footprint", "docker-proxy processes of its published ports (outside the "
                 "containers)", "MiB", "lower")
        for when in ("idle", "load"):
            self.fig(f"footprint.{when}.total", "footprint", f"memory of the whole lab {self.WHEN[when]}"
                     + (" (sum of the peaks)" if when == "load" else "") + ", docker-proxy included", "MiB", "lower")
        for when in ("idle", "load"):
            self.fig(f"footprint.{when}.fit", "footprint", f"labs that fit in {mem_total() / 2**30:.1f} GiB, "
                     + ("at idle" if when == "idle" else "all under load"), "labs", "higher")
        cpu = self.fig("footprint.idle.cpu", "footprint", "CPU of the whole lab at idle (healthchecks, timers)",
                       "% of a core", "lower")
        cpu_fit = self.fig("footprint.idle.cpu-fit", "footprint", f"labs that fit in {os.cpu_count()} cores, "
                           "by CPU at idle", "labs", "higher")
        lab_ids = [c["Id"] for c in self.hosts.values()]
        window = 4.0
        for r in range(self.s.runs):
            started, before = time.monotonic(), cpu_used(lab_ids)
            snap = stats_snapshot(self.sampled())
            proxies = proxy_memory(self.prefix)
            self.figures["footprint.proxies"].add(proxies / MiB)
            self.proxies = proxies
            total = proxies
            for name, used in sorted(snap.items()):
                if name.startswith("peer:"):
                    continue
                total += used
                self.mem_figure("idle", name).add(used / MiB, snap.get("peer:vsftpd", 0) / MiB
                                                  if name == "ftp" and "peer:vsftpd" in snap else None)
            self.figures["footprint.idle.total"].add(total / MiB)
            self.figures["footprint.idle.fit"].add(mem_total() / total if total else None)
            time.sleep(max(0.0, window - (time.monotonic() - started)))
            after, elapsed = cpu_used(lab_ids), time.monotonic() - started
            if before and set(before) == set(after):
                share = sum(after[c] - before[c] for c in after) / elapsed * 100
                cpu.add(share)
                cpu_fit.add(os.cpu_count() * 100 / share if share else None)
            else:
                cpu.add(None)
                cpu_fit.add(None)
                self.failed([cpu.id, cpu_fit.id], r, "the engine's stats API did not answer")
        for image, what in ((labtool.LAB_IMAGE, "lab image"), (labtool.BASE_IMAGE, "base image (in it)"),
                            (PEERS_IMAGE, "peers image (bench only)")):
            size = int(sh(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout.strip())
            self.fig(f"footprint.image.{image.split('/')[1].split(':')[0]}", "footprint",
                     f"{what} {image}, on disk", "MB", "lower").add(size / 1e6)

    WHEN = {"idle": "at idle", "load": "under load"}

    def mem_figure(self, when: str, name: str) -> Figure:
        what = "at idle" if when == "idle" else "at its peak under load"
        return self.fig(f"footprint.{when}.{name}", "footprint", f"memory of {name} {what}", "MiB", "lower",
                        peer="vsftpd" if name == "ftp" and "vsftpd" in self.peers else None)

    def footprint_load(self) -> None:
        for r in range(self.s.runs):
            peaks = {name: used for (p, name), used in self.sampler.peaks.items() if p == r}
            total = self.proxies
            for name in sorted(self.hosts):
                used = peaks.get(name)
                total += used or 0.0
                peer = peaks.get("peer:vsftpd") if name == "ftp" and "vsftpd" in self.peers else None
                self.mem_figure("load", name).add(used / MiB if used else None, peer / MiB if peer else None)
            if any(peaks.get(name) is None for name in self.hosts):
                total = 0.0                       # a host without a sample: no total either
            self.figures["footprint.load.total"].add(total / MiB if total else None)
            self.figures["footprint.load.fit"].add(mem_total() / total if total else None)

    # -- sockets

    def sockets(self, r: int, services: list[str]) -> None:
        if not {"tcp-server", "udp-server", "ss-server"} <= set(services):
            return self.skip("sockets", "tcp-server, udp-server or ss-server missing from compose.yaml", r)
        modes = [False, True] if r % 2 == 0 else [True, False]   # one switch of tcp-server per pass
        self.socket_server(r, modes[0])
        self.socket_load(r, "ss", "ss-server", "ss-server, a connection per message",
                         ["tcp", "--per-connection"], self.s.ss_messages)
        self.socket_load(r, "udp", "udp-server", "udp-server", ["udp"], self.s.udp_messages)
        self.socket_server(r, modes[1])

    def socket_server(self, r: int, concurrent: bool) -> None:
        key, what = (("tcp-conc", "tcp-server, concurrent") if concurrent
                     else ("tcp-seq", "tcp-server, one client at a time"))
        try:
            self.tcp_mode(concurrent)
        except BenchError as exc:
            ids = [f"sockets.{key}.c{c}.{k}" for c in self.s.socket_clients for k in ("rate", "p50", "p99")]
            self.socket_figures(key, what, udp=False)
            for fid in ids:
                self.figures[fid].add(None)
            return self.failed(ids, r, str(exc))
        self.socket_load(r, key, "tcp-server", what, ["tcp"], self.s.tcp_messages)

    def tcp_mode(self, concurrent: bool) -> None:
        """Restart the bench lab's tcp-server one client at a time or concurrent, as a student would."""
        log = "concurrent (a thread per client)" if concurrent else "one client at a time"
        logs = sh(["docker", "logs", self.hosts["tcp-server"]["Id"]], check=False)
        if log in logs.stdout + logs.stderr:
            return
        progress(f"  restarting tcp-server: TCP_SERVER_CONCURRENT={'1' if concurrent else ''}")
        env = self.lab_env(self.lab, TCP_SERVER_CONCURRENT="1" if concurrent else "")
        sh([sys.executable, str(ROOT / "tools" / "lab.py"), "compose", "up", "-d", "tcp-server"], env=env)
        labtool.wait_ready(self.lab, timeout=60)
        self.refresh_hosts()
        self.sampler.watch(self.sampled())
        logs = sh(["docker", "logs", self.hosts["tcp-server"]["Id"]], check=False)
        if log not in logs.stdout + logs.stderr:
            raise BenchError(f"tcp-server did not start {log} (TCP_SERVER_CONCURRENT in compose.yaml?)")

    def socket_figures(self, key: str, what: str, udp: bool) -> None:
        for c in self.s.socket_clients:
            who = f"{what}, {c} client{'s' if c > 1 else ''}"
            self.fig(f"sockets.{key}.c{c}.rate", "sockets", f"{who}: round trips", "round trips/s", "higher")
            self.fig(f"sockets.{key}.c{c}.p50", "sockets", f"{who}: latency p50", "ms", "lower")
            self.fig(f"sockets.{key}.c{c}.p99", "sockets", f"{who}: latency p99", "ms", "lower")
            if udp:
                self.fig(f"sockets.{key}.c{c}.loss", "sockets", f"{who}: datagrams lost", "%", "lower")

    def socket_load(self, r: int, key: str, host: str, what: str, kind: list[str], messages: tuple) -> None:
        udp = kind[0] == "udp"
        self.socket_figures(key, what, udp)
        for clients, count in zip(self.s.socket_clients, messages):
            ids = [f"sockets.{key}.c{clients}.{k}" for k in ("rate", "p50", "p99", "loss")[:4 if udp else 3]]
            try:
                res = self.load(*kind, "--host", host, "--clients", str(clients), "--messages", str(count),
                                "--seconds", str(self.s.socket_seconds))
                if not res["done"]:
                    raise MeasureError(f"no round trip completed ({res})")
            except MeasureError as exc:
                for fid in ids:
                    self.figures[fid].add(None)
                self.failed(ids, r, f"{host}, {clients} clients: {exc}")
                continue
            self.figures[ids[0]].add(res["rate"])
            self.figures[ids[1]].add(res["p50_ms"])
            self.figures[ids[2]].add(res["p99_ms"])
            if udp:
                self.figures[ids[3]].add(100.0 * res["loss"])
            note = f", lost {100 * res['loss']:.2f}%" if udp else f", errors {res['errors']}"
            progress(f"  {what}, {clients} client{'s' if clients > 1 else ''}: {res['rate']:,.0f} round trips/s, "
                     f"p50 {res['p50_ms']} ms, "
                     f"p99 {res['p99_ms']} ms{note}")

    # -- ftp

    def ftp(self, r: int, services: list[str]) -> None:
        if "ftp" not in services:
            return self.skip("ftp", "no ftp host in compose.yaml", r)
        env = self.env_of("ftp")
        user, password = env.get("FTP_USER", "student"), env.get("FTP_PASSWORD", "password")
        peer = f"vsftpd {upstream(self.versions.get('vsftpd', ''))}".strip()
        mb = self.s.ftp_size / 1e6
        order = ["ftp", "vsftpd"] if r % 2 == 0 else ["vsftpd", "ftp"]
        for direction in ("stor", "retr"):
            f = self.fig(f"ftp.{direction}", "ftp", f"{direction.upper()} of {mb:g} MB", "MB/s", "higher", peer=peer)
            got = {}
            for host in order:
                try:
                    got[host] = self.load("ftp-transfer", "--host", host, "--direction", direction, "--size",
                                          str(self.s.ftp_size), "--user", user, "--password", password,
                                          "--seconds", str(self.s.ftp_seconds))["rate"]
                except MeasureError as exc:
                    got[host] = None
                    self.failed([f.id], r, f"{host}: {exc}")
            f.add(got["ftp"], got["vsftpd"])
            progress(f"  {direction.upper()} {mb:g} MB: ftp {fmt(got['ftp'])} MB/s, vsftpd {fmt(got['vsftpd'])} MB/s")
        n, bound = self.s.ftp_logins, self.s.ftp_login_seconds
        storm = f"{n} clients log in at once"
        rate = self.fig("ftp.logins.rate", "ftp", f"{storm}: logins", "logins/s", "higher", peer=peer)
        done = self.fig("ftp.logins.done", "ftp", f"{storm}: logged in within {bound:g} s", "clients",
                        "higher", peer=peer)
        p99 = self.fig("ftp.logins.p99", "ftp", f"{storm}: login time p99 (of those logged in)", "ms",
                       "lower", peer=peer)
        got = {}
        for host in order:
            try:
                res = self.load("ftp-logins", "--host", host, "--clients", str(n), "--user", user,
                                "--password", password, "--seconds", str(bound))
                if not res["done"]:
                    raise MeasureError(f"nobody logged in ({res.get('first_error')})")
                got[host] = res
                progress(f"  {n} logins at {host}: {res['done']} in after {res['seconds']:.2f} s "
                         f"({res['rate']:.0f}/s), p99 {res['p99_ms']:.0f} ms, {res['refused']} refused and retried")
            except MeasureError as exc:
                got[host] = None
                self.failed([rate.id, done.id, p99.id], r, f"{host}: {exc}")
        pick = (lambda h, k: got[h][k] if got.get(h) else None)
        rate.add(pick("ftp", "rate"), pick("vsftpd", "rate"))
        done.add(pick("ftp", "done"), pick("vsftpd", "done"))
        p99.add(pick("ftp", "p99_ms"), pick("vsftpd", "p99_ms"))

    # -- smtp

    def accounts(self) -> list[tuple[str, str]]:
        text = self.env_of("mail").get("MAIL_ACCOUNTS") or "alice:password bob:password"
        return [tuple(a.split(":", 1)) for a in text.split() if ":" in a]

    def smtp_source(self, host: str, sessions: int, size: int, count: int, to: str) -> tuple[float, float]:
        """Run Postfix's smtp-source against host:25; its start and end (epoch seconds, in the container)."""
        script = 'start=$(date +%s.%N); timeout "$0" smtp-source "$@"; rc=$?; echo "$start $(date +%s.%N) $rc"'
        res = sh(["docker", "exec", self.peer_loader, "sh", "-c", script, str(int(self.s.smtp_seconds)),
                  "-d", "-s", str(sessions), "-m", str(count), "-l", str(size), "-M", "bench.lab.test",
                  "-f", "bench@lab.test", "-t", to, f"{host}:25"], check=False, timeout=self.s.smtp_seconds + 30)
        fields = res.stdout.split()
        if len(fields) < 3 or fields[-1] != "0":
            raise MeasureError(f"smtp-source against {host} failed: {(res.stderr or res.stdout).strip()[-300:]}")
        return float(fields[-3]), float(fields[-2])

    def smtp(self, r: int, services: list[str]) -> None:
        if "mail" not in services:
            return self.skip("smtp", "no mail host in compose.yaml", r)
        accounts = self.accounts()
        to = f"{accounts[0][0]}@lab.test"
        peer = f"smtp-sink, Postfix {upstream(self.versions.get('postfix', ''))}".strip(", ")
        order = ["mail", "smtp-sink"] if r % 2 == 0 else ["smtp-sink", "mail"]
        for sessions, size, count in self.s.smtp_loads:
            f = self.fig(f"smtp.accept.c{sessions}.{size // 1000}k", "smtp",
                         f"smtp-source, {sessions} connection{'s' if sessions > 1 else ''}, {size // 1000} kB "
                         f"messages: accepted", "msg/s", "higher", peer=peer)
            got = {}
            for host in order:
                try:
                    start, end = self.smtp_source(host, sessions, size, count, to)
                    got[host] = count / (end - start)
                except MeasureError as exc:
                    got[host] = None
                    self.failed([f.id], r, str(exc))
            f.add(got["mail"], got["smtp-sink"])
            progress(f"  smtp-source -s {sessions} -l {size}: mail {fmt(got['mail'])} msg/s, "
                     f"smtp-sink {fmt(got['smtp-sink'])} msg/s")
        self.smtp_e2e(r, accounts[-1])

    def smtp_e2e(self, r: int, account: tuple[str, str]) -> None:
        sessions, size, count = self.s.smtp_e2e
        f = self.fig("smtp.e2e", "smtp", f"end to end, {sessions} connections, {size // 1000} kB: accepted -> "
                     "visible in IMAP", "msg/s", "higher")
        user, password = account
        watcher = subprocess.Popen(
            ["docker", "exec", self.loader, "python3", "/bench/bench_load.py", "imap-watch", "--host", "mail",
             "--user", user, "--password", password, "--want", str(count), "--seconds", str(self.s.smtp_seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = watcher.stdout.readline()
            if not ready.startswith("READY"):
                raise MeasureError(f"the IMAP watcher did not start: {ready.strip()} {watcher.stderr.read()[-300:]}")
            start, _ = self.smtp_source("mail", sessions, size, count, f"{user}@lab.test")
            out, err = watcher.communicate(timeout=self.s.smtp_seconds + 30)
            if watcher.returncode != 0:
                raise MeasureError(f"IMAP watcher: {err.strip()[-300:]}")
            res = json.loads(out.strip().splitlines()[-1])
            if not res["done"]:
                raise MeasureError(f"only {res['seen']} of {count} messages visible in IMAP")
            rate = count / (res["reached_at"] - start)
            f.add(rate)
            progress(f"  end to end: {count} messages visible in IMAP at {rate:.1f} msg/s")
        except (MeasureError, subprocess.TimeoutExpired, ValueError) as exc:
            f.add(None)
            self.failed([f.id], r, str(exc))
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()

    # -- news

    def news(self, r: int, services: list[str]) -> None:
        if "news" not in services:
            return self.skip("news", "no news host in compose.yaml", r)
        group = "lab.test"
        for clients, count in self.s.news_posts:
            f = self.fig(f"news.post.c{clients}", "news", f"POST, {clients} poster{'s' if clients > 1 else ''}",
                         "posts/s", "higher")
            try:
                res = self.load("nntp-post", "--host", "news", "--group", group, "--clients", str(clients),
                                "--articles", str(count), "--seconds", str(self.s.news_seconds))
                if res["errors"]:
                    raise MeasureError(f"{res['errors']} posters failed: {res['first_error']}")
                f.add(res["rate"])
                progress(f"  POST with {clients} poster{'s' if clients > 1 else ''}: {res['rate']:.1f}/s, p99 {res['p99_ms']} ms")
            except MeasureError as exc:
                f.add(None)
                self.failed([f.id], r, str(exc))
        n = self.s.news_over
        over = self.fig("news.over", "news", f"OVER of {n:,} articles", "s", "lower")
        try:
            have = self.load("nntp-group", "--host", "news", "--group", group)["count"]
            if have < n:
                progress(f"  posting {n - have} articles first, so that {group} holds {n:,} (not timed)")
                self.load("nntp-post", "--host", "news", "--group", group, "--clients", "8",
                          "--articles", str(n - have), "--seconds", "120")
            res = self.load("nntp-over", "--host", "news", "--group", group, "--articles", str(n))
            if res["done"] < n:
                raise MeasureError(f"OVER gave {res['done']} lines, not {n}")
            over.add(res["seconds"])
            progress(f"  OVER of {n} articles: {res['seconds'] * 1000:.0f} ms")
        except MeasureError as exc:
            over.add(None)
            self.failed([over.id], r, str(exc))
        for clients, fetches in self.s.news_fetches:
            f = self.fig(f"news.article.c{clients}", "news",
                         f"ARTICLE fetches, {clients} reader{'s' if clients > 1 else ''}", "articles/s", "higher")
            try:
                res = self.load("nntp-article", "--host", "news", "--group", group, "--clients", str(clients),
                                "--fetches", str(fetches), "--articles", str(n), "--seconds", str(self.s.news_seconds))
                if res["errors"] or not res["done"]:
                    raise MeasureError(f"{res['errors']} readers failed: {res['first_error']}")
                f.add(res["rate"])
                progress(f"  ARTICLE with {clients} reader{'s' if clients > 1 else ''}: {res['rate']:.0f}/s, p99 {res['p99_ms']} ms")
            except MeasureError as exc:
                f.add(None)
                self.failed([f.id], r, str(exc))

    def skip(self, section: str, why: str, r: int) -> None:
        if r == 0:
            self.skipped.append({"section": section, "why": why})
            progress(f"  {section}: skipped, {why}")

    # -- the end

    def remove_ours(self) -> None:
        """Remove the containers the bench started itself (load, peers, bare)."""
        ids = sh(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.id}"], check=False).stdout.split()
        if ids:
            sh(["docker", "rm", "-f", *ids], check=False)

    def cleanup(self) -> None:
        progress("cleaning up: bench containers, volumes, labs, cold images ...")
        self.remove_ours()
        for volume in self.volumes:
            sh(["docker", "volume", "rm", "-f", volume], check=False)
        if self.prefix:
            self.make("clean", self.lab, check=False)
            self.make("clean", self.cold_lab, check=False, SOCKLAB_LAB_IMAGE=COLD_LAB)
        self.remove_cold()

    def collect_versions(self) -> dict:
        versions = {}
        for image, packages in ((labtool.LAB_IMAGE, ["python3", "python3-pyftpdlib", "python3-aiosmtpd",
                                                     "dovecot-core"]),
                                (PEERS_IMAGE, ["vsftpd", "postfix"])):
            out = sh(["docker", "run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", image, "-W",
                      "-f", "${Package} ${Version}\\n", *packages], check=False).stdout
            for line in out.splitlines():
                name, _, version = line.partition(" ")
                versions[name] = version
        versions["socklab"] = sh(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], check=False).stdout.strip()
        return versions

    def machine_info(self) -> dict:
        info = json.loads(sh(["docker", "info", "--format", "{{json .}}"]).stdout)
        os_name = platform.platform()
        try:
            os_name = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                           if "=" in line)["PRETTY_NAME"].strip('"')
        except (OSError, KeyError):
            pass
        compose = " ".join(labtool.compose_command())
        compose_version = sh([*labtool.compose_command(), "version", "--short"], check=False).stdout.strip()
        return {"cores": os.cpu_count(), "memory_bytes": mem_total(), "memory_gib": round(mem_total() / 2**30, 1),
                "os": os_name, "kernel": platform.release(), "docker": info.get("ServerVersion"),
                "storage_driver": info.get("Driver"), "cgroup": f"{info.get('CgroupDriver')} v{info.get('CgroupVersion')}",
                "compose": f"{compose} {compose_version}", "python_host": platform.python_version()}

    def report(self) -> int:
        finished = datetime.datetime.now(datetime.timezone.utc)
        self.machine = self.machine_info()
        doc = {"socklab_bench": 1, "date": self.started.isoformat(timespec="seconds"),
               "duration_s": round((finished - self.started).total_seconds(), 1),
               "smoke": self.smoke, "machine": self.machine, "versions": self.versions,
               "settings": dataclasses.asdict(self.s),
               "figures": [f.as_json() for f in self.figures.values()], "skipped": self.skipped}
        RESULTS.mkdir(exist_ok=True)
        path = Path(os.environ.get("SOCKLAB_BENCH_JSON") or
                    RESULTS / f"bench-{self.started:%Y%m%d-%H%M%S}{'-smoke' if self.smoke else ''}.json")
        path.write_text(json.dumps(doc, indent=1) + "\n")
        if not self.smoke and "SOCKLAB_BENCH_JSON" not in os.environ:
            (RESULTS / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(render(doc))
        print(f"\nevery figure, with the machine and versions: {path}")
        failed = [f.id for f in self.figures.values() if not f.complete()]
        if failed:
            print(f"bench: {len(failed)} figure(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0


# --------------------------------------------------------------------------- the table

def render(doc: dict) -> str:
    """The readable table of a bench result (also: ``tools/bench.py show FILE``)."""
    m, v = doc["machine"], doc["versions"]
    runs = doc["settings"]["runs"]
    lines = [f"socklab bench {v.get('socklab', '')}, {doc['date']} ({doc['duration_s'] / 60:.1f} min"
             f"{', smoke' if doc.get('smoke') else ''})",
             f"machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}, "
             f"Docker {m['docker']} ({m['storage_driver']}, cgroup {m['cgroup']}), {m['compose']}",
             (f"each figure: median of {runs} runs (min-max); ratio = socklab / peer, run by run" if runs > 1 else
              "each figure: one run; ratio = socklab / peer")
             + f" (cold make lab: {doc['settings']['cold_runs']} run{'s' if doc['settings']['cold_runs'] > 1 else ''})",
             ""]
    rows = [("", "figure", "socklab", "peer", "", "socklab/peer")]
    section = None
    order = {name: i for i, name in enumerate(SECTIONS)}
    for f in sorted(doc["figures"], key=lambda f: order.get(f["section"], len(order))):   # stable
        if f["section"] != section:
            section = f["section"]
            rows.append((section.upper(), "", "", "", "", ""))
        mine = cell(f["socklab"]["runs"] if f["socklab"] else [None], f["unit"])
        peer_name = peer_val = ratio = ""
        if f["peer"]:
            peer_name = f["peer"]["name"]
            peer_val = cell(f["peer"]["runs"], f["unit"])
            ratio = cell(f["ratio"]["runs"], "x").replace(" x", "x") if f["ratio"] else "FAILED"
        rows.append(("", f["what"], mine, peer_name, peer_val, ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        if row[0]:
            lines.append(row[0])
            continue
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row[1:], widths[1:])).rstrip())
    for s in doc.get("skipped", []):
        lines.append(f"{s['section'].upper()}: not measured, {s['why']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- clean

def clean_leftovers() -> int:
    """Remove every container, volume, network and image a bench left behind."""
    ids = sh(["docker", "ps", "-aq", "--filter", f"label={LABEL}"]).stdout.split()
    projects = set()
    for kind in ("ps -a", "volume ls", "network ls"):
        out = sh(["docker", *kind.split(), "--format", '{{.Label "com.docker.compose.project"}}'], check=False).stdout
        projects |= {p for p in out.split() if p.startswith(("socklab-bench-", "socklab-benchcold-"))}
    for project in sorted(projects):
        ids += sh(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"]).stdout.split()
    if ids:
        sh(["docker", "rm", "-f", *ids], check=False)
    for project in sorted(projects):
        for kind in ("network", "volume"):
            names = sh(["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                       check=False).stdout.split()
            if names:
                sh(["docker", kind, "rm", *names], check=False)
    vols = sh(["docker", "volume", "ls", "-q", "--filter", f"label={LABEL}"], check=False).stdout.split()
    if vols:
        sh(["docker", "volume", "rm", "-f", *vols], check=False)
    sh(["docker", "image", "rm", "-f", COLD_LAB, COLD_BASE], check=False)
    print(f"bench: removed {len(ids)} container(s), the labs {', '.join(sorted(projects)) or '(none)'}, "
          f"{len(vols)} volume(s) and the cold images")
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    p.add_argument("verb", nargs="?", default="run", choices=["run", "clean", "show"],
                   help="run the bench (default), clean up after an interrupted one, or show a JSON result")
    p.add_argument("file", nargs="?", help="show: the JSON file (default: bench-results/latest.json)")
    p.add_argument("--smoke", action="store_true", help="every figure once, with tiny counts")
    p.add_argument("--runs", type=int, help="runs per figure (default: 3; smoke: 1)")
    p.add_argument("--cold-runs", type=int, help="runs of cold make lab (default: as --runs)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"measure only these (default: all of {','.join(SECTIONS)})")
    args = p.parse_args(argv)
    try:
        if args.verb == "clean":
            return clean_leftovers()
        if args.verb == "show":
            path = Path(args.file or RESULTS / "latest.json")
            if not path.exists():
                raise BenchError(f"no {path}: run `make bench` first")
            print(render(json.loads(path.read_text())))
            return 0
        settings = dataclasses.replace(SMOKE if args.smoke else Settings())
        if args.runs:
            settings.runs = settings.cold_runs = args.runs
        if args.cold_runs:
            settings.cold_runs = args.cold_runs
        sections = [x.strip() for x in args.sections.split(",") if x.strip()]
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
        return Bench(settings, smoke=args.smoke, sections=sections).run()
    except (BenchError, labtool.LabError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted (what it had started is removed)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
