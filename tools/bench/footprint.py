"""Section *footprint*: memory and CPU of the lab at idle and under load, and what they cost.

* memory of every host at idle (``docker stats``) and at its peak while the other sections
  load the lab (:meth:`Footprint.idle`, :meth:`Footprint.under_load`); the docker-proxy
  processes of the published ports, which no container's figure includes; the total, and
  how many labs fit in this machine's memory;
* CPU of the whole lab at idle -- healthchecks and timers are all a lab does when nobody
  uses it -- and how many idle labs fit in this machine's cores;
* the same idle CPU, and the time from a stopped lab to every host ready, **as configured**
  (compose.yaml's healthcheck interval) **and with healthchecks every 2 s** (a compose
  override file), side by side in one run, after the load sections: what the healthcheck
  interval costs at idle and what it buys at start-up;
* the size of the images on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from tools import lab as labtool
from tools.bench.docker_stats import MiB, cpu_used, mem_total, proxy_memory, stats_snapshot
from tools.bench.figures import Figure, Figures
from tools.bench.settings import Settings
from tools.bench.testbed import PEERS_IMAGE, Testbed
from tools.measure import MeasureError, ToolError, sh

FREQUENT = 2                              # seconds: the healthcheck interval the lab had before it was made rare
WHEN = {"idle": "at idle", "load": "under load"}


class Footprint:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings, smoke: bool) -> None:
        self.bed, self.figures, self.s, self.smoke = bed, figures, s, smoke
        self.proxies = 0.0                         # bytes: the lab's docker-proxy processes (at idle)

    def mem_figure(self, when: str, name: str) -> Figure:
        what = "at idle" if when == "idle" else "at its peak under load"
        return self.figures.fig(f"footprint.{when}.{name}", "footprint", f"memory of {name} {what}", "MiB", "lower",
                                peer="vsftpd" if name == "ftp" and "vsftpd" in self.bed.peers else None)

    # -- at idle

    def idle(self) -> None:
        bed, fig = self.bed, self.figures.fig
        bed.progress("footprint: memory at idle (docker stats) ...")
        time.sleep(2 if self.smoke else 5)         # let the hosts settle after their start
        for name in sorted(bed.hosts):              # the table shows each host at idle, then under load
            self.mem_figure("idle", name)
            self.mem_figure("load", name)
        fig("footprint.proxies", "footprint", "docker-proxy processes of its published ports (outside the "
            "containers)", "MiB", "lower")
        for when in ("idle", "load"):
            fig(f"footprint.{when}.total", "footprint", f"memory of the whole lab {WHEN[when]}"
                + (" (sum of the peaks)" if when == "load" else "") + ", docker-proxy included", "MiB", "lower")
        for when in ("idle", "load"):
            fig(f"footprint.{when}.fit", "footprint", f"labs that fit in {mem_total() / 2**30:.1f} GiB, "
                + ("at idle" if when == "idle" else "all under load"), "labs", "higher")
        for r in range(self.s.runs):
            snap = stats_snapshot(bed.sampled())
            proxies = proxy_memory(bed.prefix)
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
        for image, what in ((labtool.LAB_IMAGE, "lab image"), (labtool.BASE_IMAGE, "base image (in it)"),
                            (PEERS_IMAGE, "peers image (bench only)")):
            size = int(sh(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout.strip())
            fig(f"footprint.image.{image.split('/')[1].split(':')[0]}", "footprint",
                f"{what} {image}, on disk", "MB", "lower").add(size / 1e6)

    def cpu_share(self, window: float) -> float:
        """The lab's hosts' CPU over *window* seconds at idle, in % of one core."""
        ids = [c["Id"] for c in self.bed.hosts.values()]
        started, before = time.monotonic(), cpu_used(ids)
        time.sleep(max(0.0, window - (time.monotonic() - started)))
        after, elapsed = cpu_used(ids), time.monotonic() - started
        if not before or set(before) != set(after):
            raise MeasureError("the engine's stats API did not answer")
        return sum(after[c] - before[c] for c in after) / elapsed * 100

    def checked_hosts(self) -> dict[str, float]:
        """The hosts that have a healthcheck, and its interval in seconds."""
        out = {}
        for name, c in self.bed.hosts.items():
            check = c["Config"].get("Healthcheck") or {}
            if check.get("Test") and check["Test"][0] != "NONE":
                out[name] = check.get("Interval", 30e9) / 1e9
        return out

    def ready_after_start(self, files: list[str]) -> float:
        """Stop every host, then ``compose start`` and wait until all are ready: seconds."""
        self.bed.compose("stop", files=files)
        started = time.perf_counter()
        self.bed.compose("start", files=files)
        labtool.wait_ready(self.bed.lab, timeout=300)
        return time.perf_counter() - started

    def healthcheck_cost(self) -> None:
        """Idle CPU and stopped -> ready, as configured and with healthchecks every 2 s.

        Run last, after the load sections: both variants see the same lab (the same volumes,
        filled by the load), and the hosts recreated with the 2 s override need not be
        recreated back -- ``make down`` comes next.
        """
        bed, figures = self.bed, self.figures
        time.sleep(2 if self.smoke else 5)         # let the hosts settle after the load
        intervals = self.checked_hosts()
        configured = max(intervals.values(), default=0.0)
        peer = f"healthchecks every {FREQUENT} s"
        cpu = figures.fig("footprint.idle.cpu", "footprint", "CPU of the whole lab at idle (healthchecks, timers), "
                          f"healthchecks as configured (every {configured:g} s)", "% of a core", "lower", peer=peer)
        cpu_fit = figures.fig("footprint.idle.cpu-fit", "footprint", f"labs that fit in {os.cpu_count()} cores, "
                              "by CPU at idle", "labs", "higher", peer=peer)
        ready = figures.fig("footprint.ready", "footprint", "stopped lab -> every host ready (compose start, "
                            "then tools/lab.py's wait)", "s", "lower", peer=peer)
        # a window that holds at least one healthcheck of each host, as configured
        window = self.s.idle_cpu_window or min(max(10.0, configured + 1), 65.0)
        override = Path(tempfile.mkdtemp(prefix="socklab-bench-")) / "healthchecks-2s.json"
        override.write_text(json.dumps(
            {"services": {name: {"healthcheck": {"interval": f"{FREQUENT}s"}} for name in intervals}}))
        got: dict[str, list] = {"configured": [], "frequent": []}
        frequent_window = self.s.idle_cpu_window or 10.0        # a few healthchecks of every host
        for label, files, win in (("configured", [], window), ("frequent", [str(override)], frequent_window)):
            bed.progress("footprint: idle CPU and stopped -> ready, healthchecks "
                         + (f"as configured (every {configured:g} s; {win:g} s windows)" if not files
                            else f"every {FREQUENT} s (a compose override)"))
            if files:                               # recreate the hosts with the override
                bed.compose("up", "-d", files=files)
                labtool.wait_ready(bed.lab, timeout=300)
                bed.refresh_hosts()
            for r in range(self.s.runs):
                share = figures.measure([cpu, cpu_fit], r, lambda: self.cpu_share(win), where=label)
                took = figures.measure([ready], r, lambda: self.ready_after_start(files), where=label,
                                       errors=(MeasureError, ToolError, labtool.LabError))
                bed.refresh_hosts()
                got[label].append((share, took))
                bed.progress(f"  {label}: idle CPU {share if share is None else round(share, 2)} % of a core; "
                             f"stopped -> ready {took if took is None else round(took, 1)} s")
        for (share, took), (share2, took2) in zip(got["configured"], got["frequent"]):
            cpu.add(share, share2)
            cpu_fit.add(os.cpu_count() * 100 / share if share else None,
                        os.cpu_count() * 100 / share2 if share2 else None)
            ready.add(took, took2)
        override.unlink()
        override.parent.rmdir()

    # -- under load

    def under_load(self) -> None:
        """The peaks the sampler saw in each pass of the load sections."""
        bed = self.bed
        for r in range(self.s.runs):
            peaks = {name: used for (p, name), used in bed.sampler.peaks.items() if p == r}
            total = self.proxies
            for name in sorted(bed.hosts):
                used = peaks.get(name)
                total += used or 0.0
                peer = peaks.get("peer:vsftpd") if name == "ftp" and "vsftpd" in bed.peers else None
                self.mem_figure("load", name).add(used / MiB if used else None, peer / MiB if peer else None)
            if any(peaks.get(name) is None for name in bed.hosts):
                total = 0.0                       # a host without a sample: no total either
            self.figures["footprint.load.total"].add(total / MiB if total else None)
            self.figures["footprint.load.fit"].add(mem_total() / total if total else None)

