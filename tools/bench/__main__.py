"""``python3 -m tools.bench``: the bench's command line, and the order of its sections."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
from pathlib import Path

import tools.bench
from tools import lab as labtool, ports
from tools.bench import report
from tools.bench.figures import Figures
from tools.bench.footprint import Footprint
from tools.bench.ftp import FTP
from tools.bench.lifecycle import Lifecycle
from tools.bench.mail import Mail
from tools.bench.news import News
from tools.bench.settings import SECTIONS, SMOKE, Settings
from tools.bench.sockets import HOSTS as SOCKET_HOSTS, Sockets
from tools.bench.testbed import PEERS_FOLDER, PEERS_IMAGE, Testbed
from tools.measure import Progress, ToolError

# the load sections, run once per pass, and the hosts each needs
PASSES = (("sockets", SOCKET_HOSTS), ("ftp", {"ftp"}), ("smtp", {"mail"}), ("news", {"news"}))


class Bench:
    """One bench run: lifecycle, then the bench lab with its peers, memory at idle, the load
    sections pass after pass, memory under load, idle CPU and stopped -> ready (healthchecks
    as configured, then every 2 s), the last ``make down``."""

    def __init__(self, settings: Settings, *, smoke: bool = False, sections=SECTIONS) -> None:
        self.s, self.smoke, self.sections = settings, smoke, set(sections)
        self.progress = Progress("bench")
        self.bed = Testbed(self.progress)
        self.figures = Figures(self.progress)
        self.skipped: list[dict] = []
        self.started = datetime.datetime.now(datetime.timezone.utc)

    def run(self) -> int:
        bed, s = self.bed, self.s
        labtool.check_docker()
        self.progress(f"socklab bench {'(smoke) ' if self.smoke else ''}on {os.cpu_count()} cores; "
                      f"{s.runs} run(s) per figure; private labs {bed.lab}, {bed.cold_lab}")
        self.progress("building what is missing (not timed): socklab/base, socklab/lab, socklab/peers ...")
        services = set(labtool.services())
        labtool.build(hosts=sorted(services))
        labtool.build_base(PEERS_IMAGE, PEERS_FOLDER)
        try:
            bed.prefix = ports.free_port_prefix()
        except labtool.LabError as exc:
            raise ToolError(str(exc)) from exc
        versions = report.collect_versions()
        lifecycle = Lifecycle(bed, self.figures, s)
        footprint = Footprint(bed, self.figures, s, self.smoke)
        sections = {"sockets": Sockets(bed, self.figures, s), "ftp": FTP(bed, self.figures, s, versions),
                    "smtp": Mail(bed, self.figures, s, versions), "news": News(bed, self.figures, s)}
        try:
            if "lifecycle" in self.sections:
                lifecycle.measure()                 # leaves the bench lab running
            bed.bring_up(running="lifecycle" in self.sections)
            if "footprint" in self.sections:
                footprint.idle()
                bed.watch()
            for r in range(s.runs):
                bed.sampler.pass_no = r
                self.progress(f"pass {r + 1}/{s.runs}")
                for name, needs in PASSES:
                    if name not in self.sections:
                        continue
                    if not needs <= services:
                        self.skip(name, f"{', '.join(sorted(needs - services))} missing from compose.yaml", r)
                        continue
                    sections[name].measure(r)
            bed.sampler.stop()
            if "footprint" in self.sections:
                footprint.under_load()
                footprint.healthcheck_cost()        # last: it leaves the hosts with 2 s healthchecks
            if "lifecycle" in self.sections:
                lifecycle.last_down()
        finally:
            bed.cleanup()
        return report.write(self.started, self.smoke, s, versions, self.figures, self.skipped)

    def skip(self, section: str, why: str, r: int) -> None:
        if r == 0:
            self.skipped.append({"section": section, "why": why})
            self.progress(f"  {section}: skipped, {why}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="make bench", description=tools.bench.__doc__.split("\n\n")[0])
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
            return report.clean_leftovers()
        if args.verb == "show":
            path = Path(args.file or report.RESULTS / "latest.json")
            if not path.exists():
                raise ToolError(f"no {path}: run `make bench` first")
            print(report.render(json.loads(path.read_text())))
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
    except (ToolError, labtool.LabError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted (what it had started is removed)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
