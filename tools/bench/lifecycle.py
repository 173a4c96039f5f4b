"""Section *lifecycle*: ``make lab`` cold and warm, ``make down``; the floor is a bare container.

* **cold** -- ``make lab`` with no images at all: the base is built offline from Debian's
  packages (or, in a smoke run, only the lab image), then every host is started until
  healthy; the parts of that time come from what tools/lab.py says;
* **warm** -- ``make lab`` with the images built, beside ``docker run`` of one bare
  container of the lab image;
* **down** -- ``make down``, beside ``docker stop`` of that bare container.  The last
  ``make down`` is the bench lab's own, after all the load (:meth:`Lifecycle.last_down`).
"""

from __future__ import annotations

import re
import time

from tools import lab as labtool
from tools.bench.figures import Figures
from tools.bench.settings import Settings
from tools.bench.testbed import COLD_BASE, COLD_LAB, Testbed
from tools.measure import ToolError, sh


class Lifecycle:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings) -> None:
        self.bed, self.figures, self.s = bed, figures, s
        self.last_bare_stop: float | None = None    # the peer of the last make down

    def measure(self) -> None:
        """Every cold run, then every warm run; leaves the bench lab running."""
        cold = self.figures.fig("lifecycle.cold-up", "lifecycle",
                                "make lab, cold (no images) -> all healthy" if self.s.cold_base else
                                "make lab, cold (lab image only, base kept) -> all healthy", "s", "lower")
        for fid, what, _ in self.cold_steps():
            self.figures.fig(fid, "lifecycle", what, "s", "lower")
        warm = self.figures.fig("lifecycle.warm-up", "lifecycle", "make lab, warm (images built) -> all healthy",
                                "s", "lower", peer="bare docker run")
        down = self.figures.fig("lifecycle.down", "lifecycle", "make down", "s", "lower", peer="bare docker stop")
        bed, progress = self.bed, self.bed.progress
        for r in range(self.s.cold_runs):
            progress(f"lifecycle: cold make lab {r + 1}/{self.s.cold_runs} "
                     + ("(builds both images, the base from Debian's packages)" if self.s.cold_base
                        else "(builds the lab image; the base is kept)"))
            bed.remove_cold()
            base = COLD_BASE if self.s.cold_base else labtool.BASE_IMAGE
            try:
                t = self.figures.measure([cold], r, lambda: bed.make(
                    "lab", bed.cold_lab, SOCKLAB_BASE_IMAGE=base, SOCKLAB_LAB_IMAGE=COLD_LAB), errors=(ToolError,))
                cold.add(t)
                if t is not None:
                    parts = self.cold_parts(bed.last_output)
                    progress(f"  cold make lab: {t:.1f} s (" + ", ".join(
                        f"{self.figures[fid].what.split(': ')[-1]} {v:.0f} s" for fid, v in parts) + ")")
            finally:
                bed.make("clean", bed.cold_lab, check=False, SOCKLAB_LAB_IMAGE=COLD_LAB)
                bed.remove_cold()
        for r in range(self.s.runs):
            progress(f"lifecycle: bare container, warm make lab, make down {r + 1}/{self.s.runs}")
            started = time.perf_counter()
            cid = bed.docker_run("--network", "none", labtool.LAB_IMAGE, "sleep", "infinity")
            bare_start = time.perf_counter() - started
            # a moment for tini to take over its signals: a SIGTERM sent to PID 1 before that is
            # ignored, and docker stop would wait for its timeout (the lab's hosts are settled too)
            time.sleep(1)
            started = time.perf_counter()
            sh(["docker", "stop", "-t", "10", cid])
            bare_stop = time.perf_counter() - started
            sh(["docker", "rm", "-f", cid], check=False)
            t_up = bed.make("lab", bed.lab)
            warm.add(t_up, bare_start)
            if r + 1 < self.s.runs:
                t_down = bed.make("down", bed.lab)
                down.add(t_down, bare_stop)
            else:
                self.last_bare_stop = bare_stop     # the last make down comes after the load
            progress(f"  bare start {bare_start:.2f} s, stop {bare_stop:.2f} s; make lab {t_up:.1f} s"
                     + (f", make down {t_down:.1f} s" if r + 1 < self.s.runs else " (the bench lab now)"))

    def last_down(self) -> None:
        """The last ``make down`` of the lifecycle: the bench lab's, once its load is over."""
        self.bed.remove_ours()
        t_down = self.bed.make("down", self.bed.lab)
        self.figures["lifecycle.down"].add(t_down, self.last_bare_stop)
        self.bed.progress(f"lifecycle: make down {t_down:.1f} s")

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
            self.figures.fig(fid, "lifecycle", what, "s", "lower").add(float(m.group(1)) if m else None)
            if m:
                parts.append((fid, float(m.group(1))))
            else:
                self.figures.failed([self.figures[fid]], len(self.figures[fid].runs) - 1,
                                    f"make lab did not say {pattern!r}")
        return parts
