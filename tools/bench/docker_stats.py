"""What the engine says about containers: memory (``docker stats``), CPU time, docker-proxy.

* :class:`StatsSampler` -- ``docker stats`` streaming in the background: each container's
  peak memory, per pass;
* :func:`stats_snapshot` -- one reading of every container's memory;
* :func:`cpu_used` -- CPU seconds each container has used so far (two readings: an average);
* :func:`proxy_memory` -- the docker-proxy processes that publish a lab's ports, which no
  container's figures include.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import socket
import subprocess
import threading
from pathlib import Path

from tools.measure import ToolError, sh

MiB = 1024 * 1024


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
    raise ToolError("cannot read MemTotal from /proc/meminfo")


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
            # SIGKILL: `docker stats` only reads, and it lets SIGTERM wait while it streams
            # (5 s and more per stop, measured), which every restart of a host paid
            self._proc.kill()
            self._proc.wait()
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
