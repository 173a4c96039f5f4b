#!/usr/bin/env python3
"""``make chaos``: fuzz, kill and fill up every server of a lab, and check that each one
keeps serving, loses nothing it acknowledged, and logs no traceback.

    python3 -m tools.chaos                       # the whole campaign (what `make chaos` runs)
    python3 -m tools.chaos --smoke               # every step once, small counts (a test runs this)
    python3 -m tools.chaos --sessions 500 --seconds 60 --seed 42
    python3 -m tools.chaos clean                 # remove what an interrupted campaign left behind

The steps (each on a private lab, ``LAB=chaos-<id>``, started and removed by this tool):

1. **fuzz** -- ``--sessions`` malformed sessions (default 10,000) against every line-protocol
   server: tcp-server, udp-server, ss-server, unix-server, FTP (plain and after AUTH TLS),
   SMTP on 25, 587 and 465, NNTP.  Random bytes, overlong lines and arguments, commands out
   of order, pipelined commands, TLS handshakes cut off, plaintext on TLS, resets
   (tools/chaos_load.py says exactly what).  The sessions come from a seeded generator;
   the seed is in the report, and ``chaos_load.py fuzz --target T --seed S --only N`` plays
   session N again.  Afterwards every server must answer a correct session, none may have
   restarted (``RestartCount`` and ``StartedAt`` unchanged), and no log may hold a traceback.
2. **flood** -- ``--flood`` idle connections (default 1,000) against FTP, SMTP, NNTP and a
   concurrent tcp-server, datagrams against udp-server: the limits must answer with the
   protocol's busy reply, and a well-behaved client from another address must be served
   within 1 s while the flood holds.  (tcp-server, ss-server and unix-server serve one
   client at a time, as in the chapter: a flood waits in their backlog, by design.)
3. **kill -9** during traffic -- the ftp host, the mail host, Dovecot alone, the news host:
   every upload answered 226, message answered 250 and article answered 240 must be there
   afterwards, byte for byte, nothing half-written under a final name, and the host must
   come back by itself (its restart policy).
4. **full disk** -- ftp, mail and news each on a small tmpfs volume: a store that does not
   fit gets the protocol's answer (FTP 452/552, SMTP 452, NNTP 436/441), what was stored
   before stays intact, and storing works again once space is freed.

All load runs in containers on the chaos lab's network (tools/chaos_load.py), never from
this host.  Output: progress on stderr, a table on stdout, every figure in
``chaos-results/chaos-<date>.json`` (and ``latest.json``).  Exit status 0 only if every
check passed.  Each flood, kill and full disk is one check: if it cannot be carried out
(a load container times out, a host does not start), :func:`tools.measure.attempt` records
that as a failed check and the campaign goes on with the next one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tools import lab as labtool, ports
from tools.chaos_load import FIRST_ACK
from tools.measure import Progress, ToolError, attempt
from tools.measure import sh as _sh

ROOT = labtool.ROOT

LABEL = "socklab.chaos"                  # on every container and volume the campaign creates
RESULTS = ROOT / "chaos-results"
LOAD_SCRIPT = ROOT / "tools" / "chaos_load.py"
SOCKLAB_UID = "1001"                     # the servers' user in the lab image

# fuzz target -> the lab host that serves it
TARGETS = {
    "tcp-server": "tcp-server", "udp-server": "udp-server", "ss-server": "ss-server",
    "unix-server": "unix-server", "ftp": "ftp", "ftp-tls": "ftp", "smtp-25": "mail",
    "smtp-587": "mail", "smtp-465": "mail", "nntp": "news",
}
# parallel sessions per target (FTP allows 16 connections per address, SMTP and NNTP 32)
CONCURRENCY = {"ftp": 10, "ftp-tls": 10}
# which load container (each has its own address) fuzzes which target: never two targets
# of one server from one address, so that no session is turned away by a per-address limit
LOADER_OF = {"tcp-server": 0, "udp-server": 1, "ss-server": 2, "unix-server": 1, "ftp": 0, "ftp-tls": 1,
             "smtp-25": 0, "smtp-587": 1, "smtp-465": 2, "nntp": 2}
LOG_RECORD = re.compile(r"^\d\d:\d\d:\d\d \S")       # "HH:MM:SS name: message", every server's format


class ChaosError(ToolError):
    """A check cannot be carried out (a load container fails, a host does not start); the
    campaign stops if it is the lab itself."""


@dataclasses.dataclass
class Settings:
    sessions: int = 10_000          # malformed sessions per target
    seconds: float = 330.0          # bound of the whole fuzz step (all targets at once)
    seed: int | None = None         # None: a fresh one (reported)
    flood: int = 1000               # idle connections per flood
    flood_hold: float = 2.0         # seconds the flood waits for the servers' answers
    kill_seconds: float = 12.0      # traffic around each kill -9
    kill_after: float = 3.0         # ... the kill comes this long after the first item went through
    disk_mb: int = 8                # the size of each full-disk volume
    recover_seconds: float = 90.0   # how long a killed host may take to be healthy again


class LoadRun:
    """A load of tools/chaos_load.py running beside the campaign, read as it goes: its
    :attr:`first_ack` is set when the server first acknowledges an item (or the load ends)."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_ack = threading.Event()
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe, into: list[str]) -> None:
        for line in pipe:
            into.append(line)
            if line.strip() == FIRST_ACK:
                self.first_ack.set()
        self.first_ack.set()            # ended: nothing more to wait for

    def finish(self, timeout: float) -> tuple[str, str]:
        """Wait for the load to end (killed after *timeout*); what it printed and its errors."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(10)
        return "".join(self._out), "".join(self._err)


SMOKE = Settings(sessions=100, seconds=60.0, flood=100, flood_hold=1.0, kill_seconds=3.0, kill_after=1.0)

progress = Progress("chaos")


def sh(cmd: list[str], *, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return _sh(cmd, check=check, timeout=timeout, error=ChaosError, **kw)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def log_scan(text: str) -> dict:
    """What a stretch of a server's log holds: lines, records, tracebacks, continuation lines."""
    lines = [line for line in text.split("\n") if line.strip()]     # records end with LF; a CR is inside one
    extra = [line for line in lines if not LOG_RECORD.match(line)]
    return {"lines": len(lines), "tracebacks": sum("Traceback (most recent call last)" in line for line in lines),
            "continuation_lines": len(extra), "examples": extra[:8]}


class Chaos:
    def __init__(self, settings: Settings, *, smoke: bool = False) -> None:
        self.s = settings
        self.smoke = smoke
        self.id = uuid.uuid4().hex[:6]
        self.lab = f"chaos-{self.id}"
        self.seed = settings.seed if settings.seed is not None else random.randrange(1, 2**31)
        self.prefix = 0
        self.hosts: dict[str, dict] = {}
        self.network = ""
        self.loader = ""
        self.prober = ""
        self.loaders: list[str] = []
        self.volumes: list[str] = []
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.doc: dict = {"fuzz": {}, "flood": {}, "kill": {}, "disk": {}, "logs": {}, "failures": []}

    # -- plumbing

    def fail(self, what: str) -> None:
        self.doc["failures"].append(what)
        progress(f"  FAILED: {what}")

    def check(self, what: str, carry_out) -> dict:
        """One check of the campaign: its result, or ``{"error": ...}`` and a failed check
        when it cannot be carried out."""
        errors: list[str] = []
        result = attempt(carry_out, lambda why: (errors.append(why), self.fail(f"{what}: {why.splitlines()[0]}")),
                         (ChaosError, subprocess.TimeoutExpired))
        return result if result is not None else {"error": errors[0] if errors else "failed"}

    def lab_env(self) -> dict[str, str]:
        env = {**os.environ, "LAB": self.lab, "LAB_PORT_PREFIX": str(self.prefix)}
        for key in ("SOCKLAB_BASE_IMAGE", "SOCKLAB_LAB_IMAGE", "TCP_SERVER_CONCURRENT"):
            env.pop(key, None)
        return env

    def make(self, target: str, *, check: bool = True) -> None:
        if shutil.which("make"):
            cmd = ["make", "--no-print-directory", "-C", str(ROOT), target]
        else:
            cmd = [sys.executable, str(ROOT / "tools" / "lab.py"), {"lab": "up"}.get(target, target)]
        res = subprocess.run(cmd, env=self.lab_env(), capture_output=True, text=True, timeout=900)
        if check and res.returncode != 0:
            raise ChaosError(f"`make {target}` (LAB={self.lab}) failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")

    def refresh(self) -> None:
        self.hosts = {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in labtool.containers(self.lab)}

    def state(self) -> dict[str, tuple]:
        """(RestartCount, StartedAt) of every lab host."""
        self.refresh()
        return {name: (c["RestartCount"], c["State"]["StartedAt"]) for name, c in self.hosts.items()}

    def docker_run(self, *args: str) -> str:
        return sh(["docker", "run", "-d", "--label", f"{LABEL}={self.id}", *args]).stdout.strip()

    def load(self, *args: str, container: str | None = None, input: str | None = None,
             timeout: float = 120) -> dict:
        """One command of tools/chaos_load.py in a load container; its JSON (last line)."""
        cmd = ["docker", "exec", *(["-i"] if input is not None else []), container or self.loader,
               "python3", "/chaos/chaos_load.py", *args]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        except subprocess.TimeoutExpired:
            raise ChaosError(f"chaos_load {args[0]} still running after {timeout:.0f} s") from None
        if res.returncode != 0 or not res.stdout.strip():
            raise ChaosError(f"chaos_load {' '.join(args[:3])}: {(res.stderr or res.stdout).strip()[-800:]}")
        return json.loads(res.stdout.strip().splitlines()[-1])

    def logs(self, host: str, since: str) -> str:
        res = sh(["docker", "logs", "--since", since, self.hosts[host]["Id"]], check=False)
        return res.stdout + res.stderr

    def wait_recovered(self, host: str, before: str, target: str) -> dict:
        """After a kill: until the host has started anew, is healthy, and answers *target*."""
        t0 = time.monotonic()
        deadline = t0 + self.s.recover_seconds
        restarted = healthy = None
        while time.monotonic() < deadline:
            c = json.loads(sh(["docker", "inspect", self.hosts[host]["Id"]]).stdout)[0]
            if restarted is None and c["State"]["StartedAt"] != before and c["State"]["Status"] == "running":
                restarted = time.monotonic() - t0
            if restarted is not None:       # ready: its healthcheck's probe passes (tools/lab.py)
                try:
                    labtool.wait_ready(self.lab, [host], timeout=max(1.0, deadline - time.monotonic()))
                    healthy = time.monotonic() - t0
                except labtool.LabError:
                    pass
                break
            time.sleep(0.2)
        answer = self.load("check", "--target", target, "--retry", "--seconds", "30", timeout=60) \
            if healthy is not None else {"ok": False, "error": "not healthy in time"}
        served = time.monotonic() - t0 if answer.get("ok") else None
        return {"restarted_after_s": _r(restarted), "healthy_after_s": _r(healthy), "served_after_s": _r(served)}

    # -- the whole campaign

    def run(self) -> int:
        labtool.check_docker()
        progress(f"socklab chaos {'(smoke) ' if self.smoke else ''}on {os.cpu_count()} cores; seed {self.seed}; "
                 f"private lab {self.lab}")
        progress("building what is missing: socklab/base, socklab/lab ...")
        labtool.build(hosts=labtool.services())
        self.prefix = ports.free_port_prefix()
        try:
            progress(f"starting the lab {self.lab} ...")
            self.make("lab")
            self.refresh()
            self.network = next(iter(self.hosts["client"]["NetworkSettings"]["Networks"]))
            unix_volume = next(m["Name"] for m in self.hosts["unix-server"]["Mounts"] if m.get("Name"))
            common = ["--network", self.network, "--user", "student", "--cap-drop", "ALL",
                      "--ulimit", "nofile=8192:8192", "-v", f"{LOAD_SCRIPT}:/chaos/chaos_load.py:ro",
                      "--entrypoint", "sleep", labtool.LAB_IMAGE, "infinity"]
            self.loader = self.docker_run("-v", f"{unix_volume}:/run/socklab", *common)
            self.prober = self.docker_run("-v", f"{unix_volume}:/run/socklab", *common)
            self.loaders = [self.loader, self.prober, self.docker_run("-v", f"{unix_volume}:/run/socklab", *common)]
            self.fuzz()
            self.flood()
            self.kills()
            self.disks()
            self.scan_all_logs()
        finally:
            self.cleanup()
        return self.report()

    # -- 1. fuzz

    def fuzz(self) -> None:
        progress(f"fuzz: {self.s.sessions} malformed sessions against each of {len(TARGETS)} targets "
                 f"(at most {self.s.seconds:.0f} s) ...")
        before = self.state()
        since = now_rfc3339()
        t0 = time.monotonic()

        def one(target: str) -> dict:
            return self.load("fuzz", "--target", target, "--sessions", str(self.s.sessions),
                             "--seconds", str(self.s.seconds), "--seed", str(self.seed),
                             "--concurrency", str(CONCURRENCY.get(target, 16)), timeout=self.s.seconds + 120,
                             container=self.loaders[LOADER_OF[target]])

        with concurrent.futures.ThreadPoolExecutor(len(TARGETS)) as pool:
            results = dict(zip(TARGETS, pool.map(one, TARGETS)))
        elapsed = time.monotonic() - t0
        after = self.state()
        sessions_per_host: dict[str, int] = {}
        for target, res in results.items():
            sessions_per_host[TARGETS[target]] = sessions_per_host.get(TARGETS[target], 0) + res["sessions"]
        scans = {host: log_scan(self.logs(host, since)) for host in set(TARGETS.values())}
        for target, res in results.items():
            host = TARGETS[target]
            check = self.load("check", "--target", target, "--retry", "--seconds", "10", timeout=60)
            restarted = before[host] != after[host]
            scan = scans[host]
            entry = {**res, "host": host, "correct_session_after": check, "restarted": restarted,
                     "restart_count": after[host][0] - before[host][0],
                     "host_log": {k: scan[k] for k in ("lines", "tracebacks", "continuation_lines")},
                     "log_lines_per_session": round(scan["lines"] / max(1, sessions_per_host[host]), 2)}
            self.doc["fuzz"][target] = entry
            ok = check.get("ok") and not restarted and not scan["tracebacks"] and not scan["continuation_lines"]
            busy = res["client_side_errors"].get("Busy", 0)
            if busy > res["sessions"] // 100:
                self.fail(f"fuzz {target}: {busy} sessions turned away by a connection limit (not fuzzed)")
            if res["sessions"] < self.s.sessions:
                self.fail(f"fuzz {target}: only {res['sessions']} of {self.s.sessions} sessions in {self.s.seconds:.0f} s")
            if not check.get("ok"):
                self.fail(f"fuzz {target}: no correct session afterwards: {check.get('error')}")
            if restarted:
                self.fail(f"fuzz {target}: {host} restarted")
            if scan["tracebacks"] or scan["continuation_lines"]:
                self.fail(f"fuzz {target}: {host} logged {scan['tracebacks']} traceback(s), "
                          f"{scan['continuation_lines']} continuation line(s): {scan['examples'][:3]}")
            progress(f"  {target:<12} {res['sessions']:>6} sessions in {res['seconds']:.0f} s; "
                     f"afterwards {'served' if check.get('ok') else 'NOT SERVED'}; "
                     f"{'RESTARTED' if restarted else 'no restart'}; {scan['tracebacks']} tracebacks"
                     f"{'' if ok else '  <-- FAILED'}")
        self.doc["fuzz_seconds"] = round(elapsed, 1)

    # -- 2. floods

    def flood(self) -> None:
        progress(f"flood: {self.s.flood} idle connections per server, a well-behaved client meanwhile ...")
        before = self.state()
        since = now_rfc3339()
        tcp = self.hosts["tcp-server"]["Id"]
        # tcp-server of the lab serves one client at a time (the chapter's loop); its
        # concurrent mode, the one with a connection limit, is started beside it
        sh(["docker", "exec", "-d", tcp, "tcp-server", "--concurrent", "--port", "9999"])
        self.load("check", "--target", "tcp-server", "--port", "9999", "--retry", "--seconds", "10",
                  container=self.prober, timeout=30)
        plans = [  # (name, target, port, what the limit must answer)
            ("ftp", "ftp", None, "421"),
            ("smtp (mail:25)", "smtp-25", None, "421"),
            ("nntp (news)", "nntp", None, "400"),
            ("tcp-server --concurrent", "tcp-server", "9999", "error: server busy"),
            ("udp-server", "udp-server", None, None),
            ("tcp-server (one at a time)", "tcp-server", None, None),
            ("ss-server (one at a time)", "ss-server", None, None),
        ]
        for name, target, port, busy in plans:
            self.doc["flood"][name] = self.check(f"flood {name}", lambda: self.one_flood(name, target, port, busy))
        after = self.state()
        for host in ("ftp", "mail", "news", "tcp-server", "udp-server", "ss-server"):
            scan = log_scan(self.logs(host, since))
            self.doc["logs"][f"flood:{host}"] = {k: scan[k] for k in ("lines", "tracebacks", "continuation_lines")}
            if before[host] != after[host]:
                self.fail(f"flood: {host} restarted")
            if scan["tracebacks"] or scan["continuation_lines"]:
                self.fail(f"flood: {host} logged {scan['tracebacks']} traceback(s): {scan['examples'][:3]}")

    def one_flood(self, name: str, target: str, port: str | None, busy: str | None) -> dict:
        marker = f"/tmp/release-{uuid.uuid4().hex[:8]}"
        args = ["docker", "exec", self.loader, "python3", "/chaos/chaos_load.py", "flood", "--target", target,
                "--connections", str(self.s.flood), "--hold", str(self.s.flood_hold), "--seconds", "60",
                "--release", marker, *(["--port", port] if port else []),
                # one client at a time: the backlog is full after a few; stop trying soon
                "--open-seconds", "10" if busy is not None else "2"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            held = proc.stdout.readline()          # {"held": n}: the flood is in place
            sequential = busy is None and target != "udp-server"
            probe = self.load("check", "--target", target, *(["--port", port] if port else []),
                              *(["--retry", "--seconds", "1"] if not sequential else []),
                              container=self.prober, timeout=60) if held else {"ok": False, "error": "no flood"}
        finally:
            sh(["docker", "exec", self.loader, "touch", marker], check=False)
            out, err = proc.communicate(timeout=90)
        result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err[-500:]}
        after = time.monotonic()
        recovered = self.load("check", "--target", target, *(["--port", port] if port else []),
                              "--retry", "--seconds", "60", container=self.prober, timeout=90)
        result["recovered_after_s"] = _r(time.monotonic() - after) if recovered.get("ok") else None
        result["probe"] = probe
        result["busy_reply"] = busy
        first = result.get("first_line", {})
        busy_count = sum(n for line, n in first.items() if busy and line.startswith(busy)) if busy else None
        result["busy_replies"] = busy_count
        verdict = "ok"
        if busy is not None:
            if not busy_count:
                verdict = f"no {busy!r} reply to the flood"
            elif not probe.get("ok") or probe.get("seconds", 9) + probe.get("waited", 9) > 1.0:
                verdict = f"well-behaved client not served within 1 s: {probe}"
        elif target == "udp-server":
            if not probe.get("ok"):
                verdict = f"well-behaved client not served: {probe}"
        if not recovered.get("ok"):
            verdict = f"not serving after the flood: {recovered.get('error')}"
        result["verdict"] = verdict
        if verdict != "ok":
            self.fail(f"flood {name}: {verdict}")
        progress(f"  {name:<28} {result.get('connected', result.get('datagrams', 0))} held; "
                 f"answers {first}; probe {'served in %.2f s' % probe['seconds'] if probe.get('ok') else 'waits (backlog)'}"
                 f"{'' if verdict == 'ok' else '  <-- ' + verdict}")
        return result

    # -- 3. kill -9

    def kills(self) -> None:
        progress(f"kill -9 during traffic ({self.s.kill_seconds:.0f} s each) ...")
        plans = [  # (name, host, load, verify, check target, how to kill)
            ("ftp host", "ftp", "ftp-uploads", "ftp-verify", "ftp", "host"),
            ("mail host", "mail", "smtp-sends", "smtp-verify", "smtp-25", "host"),
            ("dovecot alone", "mail", "smtp-sends", "smtp-verify", "smtp-25", "dovecot"),
            ("news host", "news", "nntp-posts", "nntp-verify", "nntp", "host"),
        ]
        for name, host, load, verify, target, how in plans:
            self.doc["kill"][name] = self.check(f"kill {name}",
                                                lambda: self.one_kill(name, host, load, verify, target, how))

    def one_kill(self, name: str, host: str, load: str, verify: str, target: str, how: str) -> dict:
        tag = f"k{uuid.uuid4().hex[:6]}"
        self.refresh()
        before = self.hosts[host]["State"]["StartedAt"]
        restarts = self.hosts[host]["RestartCount"]
        load_run = LoadRun(["docker", "exec", self.loader, "python3", "/chaos/chaos_load.py", load, "--tag", tag,
                            "--seconds", str(self.s.kill_seconds)])
        load_run.first_ack.wait(timeout=self.s.kill_seconds + 60)    # traffic flows (or the load ended)
        time.sleep(self.s.kill_after)
        cid = self.hosts[host]["Id"]
        if how == "dovecot":
            kill = sh(["docker", "exec", "-u", "socklab", cid, "sh", "-c",
                       "kill -9 $(cat /tmp/socklab-mail/dovecot/master.pid)"], check=False)
        else:
            # every process of the host's user, at once: the server dies as in a crash, and
            # its init (tini) exits with it -- docker restarts the host by its policy
            kill = sh(["docker", "exec", "-u", "socklab", cid, "sh", "-c", "kill -9 -1"], check=False)
        killed_at = time.monotonic()
        recovery = self.wait_recovered(host, before, target)
        out, err = load_run.finish(timeout=self.s.kill_seconds + 120)
        acked = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"acked": [], "error": err[-500:]}
        checked = self.load(verify, "--tag", tag, input=json.dumps(acked), timeout=300)
        self.refresh()
        leftovers = None
        if host == "ftp":
            res = sh(["docker", "exec", cid, "ls", "-A", "/srv/ftp/.uploads"], check=False)
            leftovers = res.stdout.split()
        result = {"tag": tag, "kill": how, "kill_exit": kill.returncode, "tried": acked.get("tried"),
                  "acknowledged": len(acked.get("acked", [])), "client_errors": acked.get("errors"),
                  "present": checked.get("present"), "lost": checked.get("lost"),
                  "half_written": checked.get("half_written"), "duplicates": checked.get("duplicates"),
                  "journal_left": leftovers, "restarts": self.hosts[host]["RestartCount"] - restarts,
                  **recovery, "measured_from_kill_s": _r(time.monotonic() - killed_at)}
        problems = []
        if not result["acknowledged"]:
            problems.append("nothing was acknowledged around the kill")
        if result["lost"]:
            problems.append(f"{len(result['lost'])} acknowledged item(s) lost")
        if result["half_written"]:
            problems.append(f"{len(result['half_written'])} half-written item(s) under a final name")
        if leftovers:
            problems.append(f"journal not cleaned: {leftovers}")
        if result["restarts"] < 1 or recovery["served_after_s"] is None:
            problems.append("the host did not come back by itself")
        for p in problems:
            self.fail(f"kill {name}: {p}")
        progress(f"  {name:<14} {result['acknowledged']} acknowledged, {len(result['lost'] or [])} lost, "
                 f"{len(result['half_written'] or [])} half-written; back in {recovery['served_after_s']} s"
                 f"{'' if not problems else '  <-- FAILED'}")
        return result

    # -- 4. full disk

    def disks(self) -> None:
        progress(f"full disk: ftp, mail and news each on a {self.s.disk_mb} MB volume ...")
        image = labtool.LAB_IMAGE
        plans = [  # (protocol, alias, mount point, command, environment, item size, expected codes)
            ("ftp", "ftp-full", "/srv/ftp", ["ftp-server", "--name", "ftp-full", "--no-tls", "--no-anonymous"],
             ["FTP_USER=student", "FTP_PASSWORD=password"], 512 * 1024, ("452", "552")),
            ("smtp", "mail-full", "/srv/mail", ["mail-host"], ["MAIL_ACCOUNTS=alice:password bob:password"],
             256 * 1024, ("452",)),
            ("nntp", "news-full", "/var/spool/news", ["news-server", "--spool", "/var/spool/news"], [],
             200 * 1024, ("436", "441")),
        ]
        for protocol, alias, mount, command, env, size, codes in plans:
            self.doc["disk"][protocol] = self.check(
                f"disk {protocol}", lambda: self.one_disk(image, protocol, alias, mount, command, env, size, codes))

    def one_disk(self, image, protocol, alias, mount, command, env, size, codes) -> dict:
        volume = f"socklab-chaos-{self.id}-{alias}"
        sh(["docker", "volume", "create", "--label", f"{LABEL}={self.id}", "--driver", "local",
            "--opt", "type=tmpfs", "--opt", "device=tmpfs",
            "--opt", f"o=size={self.s.disk_mb}m,uid={SOCKLAB_UID},gid={SOCKLAB_UID}", volume])
        self.volumes.append(volume)
        cid = self.docker_run("--network", self.network, "--network-alias", alias, "--hostname", alias,
                              "--user", "socklab", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                              "--security-opt", "no-new-privileges:true",
                              "--sysctl", "net.ipv4.ip_unprivileged_port_start=0",
                              *[x for e in env for x in ("-e", e)], "-v", f"{volume}:{mount}", image, *command)
        target = {"ftp": "ftp", "smtp": "smtp-25", "nntp": "nntp"}[protocol]
        result: dict = {"volume_mb": self.s.disk_mb}
        try:
            up = self.load("check", "--target", target, "--host", alias, "--retry", "--seconds", "60", timeout=90)
            if not up.get("ok"):
                raise ChaosError(f"{alias} did not start: {up.get('error')}\n"
                                 + sh(["docker", "logs", "--tail", "20", cid], check=False).stdout)
            since = now_rfc3339()
            # room to give back later: a 1 MB file of the server's user on the volume
            sh(["docker", "exec", "-u", "socklab", cid, "sh", "-c",
                f"head -c 1048576 /dev/zero > {mount}/chaos-filler"])
            tag = f"d{uuid.uuid4().hex[:6]}"
            fill = self.load("fill", "--protocol", protocol, "--host", alias, "--tag", tag, "--size", str(size),
                             "--count", "200", "--seconds", "120", timeout=200)
            refusal = fill.get("refusal") or ""
            intact = self.load("fill-verify", "--protocol", protocol, "--host", alias, "--tag", tag,
                               "--size", str(size), input=json.dumps(fill), timeout=200)
            sh(["docker", "exec", "-u", "socklab", cid, "rm", "-f", f"{mount}/chaos-filler"])
            more = self.load("fill", "--protocol", protocol, "--host", alias, "--tag", tag, "--size", str(size),
                             "--first", str(len(fill["stored"])), "--count", "1", "--seconds", "60", timeout=90)
            scan = log_scan(sh(["docker", "logs", "--since", since, cid], check=False).stdout)
            result.update({"stored_before_full": len(fill["stored"]), "refusal": refusal,
                           "expected": list(codes), "damaged": intact.get("damaged"),
                           "stored_after_freeing": len(more["stored"]), "refusal_after_freeing": more.get("refusal"),
                           "log": {k: scan[k] for k in ("lines", "tracebacks", "continuation_lines")},
                           "log_examples": [line for line in scan.get("examples", [])][:3]})
            problems = []
            if not refusal.startswith(codes):
                problems.append(f"a full disk was answered {refusal!r}, not {'/'.join(codes)}")
            if intact.get("damaged"):
                problems.append(f"{len(intact['damaged'])} item(s) stored before were damaged")
            if len(more["stored"]) != 1:
                problems.append(f"storing did not resume after space was freed: {more.get('refusal')}")
            if scan["tracebacks"] or scan["continuation_lines"]:
                problems.append(f"{scan['tracebacks']} traceback(s) in the log: {scan['examples'][:3]}")
            for p in problems:
                self.fail(f"disk {protocol}: {p}")
            progress(f"  {protocol:<5} {len(fill['stored'])} stored, then {refusal[:90]!r}; "
                     f"{'intact' if not intact.get('damaged') else 'DAMAGED'}; "
                     f"{'resumed' if len(more['stored']) == 1 else 'NOT resumed'}{'' if not problems else '  <-- FAILED'}")
        finally:
            sh(["docker", "rm", "-f", cid], check=False)
        return result

    # -- the end

    def scan_all_logs(self) -> None:
        """The whole run, every host: no traceback anywhere."""
        self.refresh()
        for host, c in self.hosts.items():
            res = sh(["docker", "logs", c["Id"]], check=False)
            scan = log_scan(res.stdout + res.stderr)
            self.doc["logs"][f"all:{host}"] = {k: scan[k] for k in ("lines", "tracebacks", "continuation_lines")}
            if scan["tracebacks"]:
                self.fail(f"{host}: {scan['tracebacks']} traceback(s) in its log: {scan['examples'][:3]}")

    def cleanup(self) -> None:
        progress("cleaning up: load containers, volumes, the lab ...")
        ids = sh(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.id}"], check=False).stdout.split()
        if ids:
            sh(["docker", "rm", "-f", *ids], check=False)
        for volume in self.volumes:
            sh(["docker", "volume", "rm", "-f", volume], check=False)
        if self.prefix:
            self.make("clean", check=False)
            ports.release(self.prefix)

    def report(self) -> int:
        finished = datetime.datetime.now(datetime.timezone.utc)
        doc = {"socklab_chaos": 1, "lab": self.lab, "id": self.id, "date": self.started.isoformat(timespec="seconds"),
               "duration_s": round((finished - self.started).total_seconds(), 1), "smoke": self.smoke,
               "seed": self.seed, "settings": dataclasses.asdict(self.s), "machine": machine(),
               "replay": "docker exec <a container on the lab network> python3 chaos_load.py fuzz "
                         f"--target TARGET --seed {self.seed} --only N",
               **self.doc, "summary": summary(self.doc)}
        RESULTS.mkdir(exist_ok=True)
        path = Path(os.environ.get("SOCKLAB_CHAOS_JSON") or
                    RESULTS / f"chaos-{self.started:%Y%m%d-%H%M%S}{'-smoke' if self.smoke else ''}.json")
        path.write_text(json.dumps(doc, indent=1) + "\n")
        if not self.smoke and "SOCKLAB_CHAOS_JSON" not in os.environ:
            (RESULTS / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(render(doc))
        print(f"\nevery figure, with the seed and the machine: {path}")
        if doc["failures"]:
            print(f"chaos: {len(doc['failures'])} check(s) failed:", *doc["failures"], sep="\n  ", file=sys.stderr)
            return 1
        return 0


def _r(value) -> float | None:
    return None if value is None else round(value, 2)


def machine() -> dict:
    info = json.loads(sh(["docker", "info", "--format", "{{json .}}"], check=False).stdout or "{}")
    return {"cores": os.cpu_count(), "docker": info.get("ServerVersion"), "kernel": os.uname().release}


def summary(doc: dict) -> dict:
    """Per server: sessions tried, crashes, restarts, tracebacks, acknowledged items lost, recovery."""
    servers: dict[str, dict] = {}

    def row(host: str) -> dict:
        return servers.setdefault(host, {"sessions": 0, "crashes": 0, "restarts_unasked": 0, "tracebacks": 0,
                                         "acknowledged": 0, "lost": 0, "recover_s": None})

    for target, f in doc["fuzz"].items():
        r = row(f["host"])
        r["sessions"] += f["sessions"]
        r["crashes"] += f["restart_count"]
        r["restarts_unasked"] += int(f["restarted"])
    for key, scan in doc["logs"].items():
        if key.startswith("all:") and (key[4:] in servers or scan["tracebacks"]):
            row(key[4:])["tracebacks"] = scan["tracebacks"]
    for name, k in doc["kill"].items():
        r = row({"ftp host": "ftp", "mail host": "mail", "dovecot alone": "mail", "news host": "news"}[name])
        r["acknowledged"] += k.get("acknowledged") or 0
        r["lost"] += len(k.get("lost") or []) + len(k.get("half_written") or [])
        if k.get("served_after_s") is not None:
            r["recover_s"] = max(r["recover_s"] or 0, k["served_after_s"])
    return servers


def render(doc: dict) -> str:
    lines = [f"socklab chaos, {doc['date']} ({doc['duration_s'] / 60:.1f} min{', smoke' if doc['smoke'] else ''}), "
             f"seed {doc['seed']}", ""]
    lines.append(f"{'server':<12} {'sessions':>9} {'crashes':>8} {'restarts':>9} {'tracebacks':>11} "
                 f"{'acked':>6} {'lost':>5} {'recover':>8}")
    for host, r in sorted(doc["summary"].items()):
        lines.append(f"{host:<12} {r['sessions']:>9} {r['crashes']:>8} {r['restarts_unasked']:>9} {r['tracebacks']:>11} "
                     f"{r['acknowledged']:>6} {r['lost']:>5} "
                     f"{(str(r['recover_s']) + ' s') if r['recover_s'] is not None else '-':>8}")
    lines += ["", "fuzz (per target): sessions, seconds, log lines per session, served afterwards"]
    for target, f in doc["fuzz"].items():
        lines.append(f"  {target:<12} {f['sessions']:>6} in {f['seconds']:>5.0f} s  {f['log_lines_per_session']:>5} lines/session  "
                     f"{'yes' if f['correct_session_after'].get('ok') else 'NO'}")
    lines += ["", "flood: idle connections held, what they were told, a well-behaved client meanwhile"]
    for name, f in doc["flood"].items():
        probe = f.get("probe", {})
        lines.append(f"  {name:<28} {f.get('connected', f.get('datagrams', 0)):>5}  {json.dumps(f.get('first_line', {}))[:60]:<60} "
                     f"{'%.3f s' % probe['seconds'] if probe.get('ok') else 'waits (one at a time)'}")
    lines += ["", "kill -9 during traffic: acknowledged, lost, half-written, back in"]
    for name, k in doc["kill"].items():
        lines.append(f"  {name:<14} {k.get('acknowledged', 0):>5} {len(k.get('lost') or []):>5} "
                     f"{len(k.get('half_written') or []):>5}  {k.get('served_after_s')} s")
    lines += ["", "full disk: stored, the answer when full, intact, resumed after freeing"]
    for name, d in doc["disk"].items():
        lines.append(f"  {name:<5} {d.get('stored_before_full', '-'):>4}  {str(d.get('refusal', d.get('error', '')))[:80]:<80} "
                     f"{'intact' if not d.get('damaged') else 'DAMAGED'}  {'yes' if d.get('stored_after_freeing') == 1 else 'NO'}")
    lines += ["", "PASSED: every check" if not doc["failures"] else f"FAILED: {len(doc['failures'])} check(s)"]
    return "\n".join(lines)


def clean_leftovers() -> int:
    """Remove the containers, volumes and labs of interrupted campaigns."""
    ids = sh(["docker", "ps", "-aq", "--filter", f"label={LABEL}"], check=False).stdout.split()
    if ids:
        sh(["docker", "rm", "-f", *ids], check=False)
    vols = sh(["docker", "volume", "ls", "-q", "--filter", f"label={LABEL}"], check=False).stdout.split()
    if vols:
        sh(["docker", "volume", "rm", "-f", *vols], check=False)
    projects = set()
    out = sh(["docker", "ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}'], check=False).stdout
    projects |= {p for p in out.split() if p.startswith("socklab-chaos-")}
    for project in sorted(projects):
        lab = project.removeprefix("socklab-")
        subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py"), "clean"], env={**os.environ, "LAB": lab},
                       capture_output=True)
    print(f"chaos: removed {len(ids)} container(s), {len(vols)} volume(s), the labs {', '.join(sorted(projects)) or '(none)'}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["clean"]:
        return clean_leftovers()
    p = argparse.ArgumentParser(prog="chaos", description="Fuzz, kill and fill up every server of a private lab.")
    p.add_argument("--smoke", action="store_true", help="every step once, with small counts (about 2 minutes)")
    p.add_argument("--sessions", type=int, help="malformed sessions per target (default: 10000)")
    p.add_argument("--seconds", type=float, help="bound of the fuzz step, all targets at once (default: 330)")
    p.add_argument("--seed", type=int, help="the generator's seed (default: a fresh one, reported)")
    p.add_argument("--flood", type=int, help="idle connections per flood (default: 1000)")
    p.add_argument("--kill-seconds", type=float, help="traffic around each kill -9 (default: 12)")
    a = p.parse_args(argv)
    s = dataclasses.replace(SMOKE if a.smoke else Settings())
    for field, value in (("sessions", a.sessions), ("seconds", a.seconds), ("seed", a.seed), ("flood", a.flood),
                         ("kill_seconds", a.kill_seconds)):
        if value is not None:
            setattr(s, field, value)
    try:
        return Chaos(s, smoke=a.smoke).run()
    except ChaosError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 1
    except labtool.LabError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
