"""What a bench run leaves: the JSON of every figure, the readable table, and nothing else.

* :func:`write` -- ``bench-results/bench-<date>.json`` (and ``latest.json``) with the
  machine, the versions and every figure, run by run; then the table on stdout;
* :func:`render` -- the table of a JSON result (``python3 -m tools.bench show FILE``);
* :func:`clean_leftovers` -- ``python3 -m tools.bench clean``: every container, volume,
  network and image an interrupted bench left behind.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import sys
from pathlib import Path

from tools import lab as labtool
from tools.bench.docker_stats import mem_total
from tools.bench.figures import Figures, cell
from tools.bench.settings import SECTIONS
from tools.bench.testbed import COLD_BASE, COLD_LAB, LABEL, PEERS_IMAGE, ROOT
from tools.measure import sh

RESULTS = ROOT / "bench-results"


def collect_versions() -> dict:
    versions = {}
    for image, packages in ((labtool.LAB_IMAGE, ["python3", "python3-pyftpdlib", "python3-aiosmtpd",
                                                 "dovecot-core"]),
                            (PEERS_IMAGE, ["vsftpd", "postfix", "dovecot-core"])):
        out = sh(["docker", "run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", image, "-W",
                  "-f", "${Package} ${Version}\\n", *packages], check=False).stdout
        for line in out.splitlines():
            name, _, version = line.partition(" ")
            versions[name] = version
    versions["socklab"] = sh(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], check=False).stdout.strip()
    return versions


def machine_info() -> dict:
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


def write(started: datetime.datetime, smoke: bool, settings, versions: dict, figures: Figures,
          skipped: list[dict]) -> int:
    """Write the JSON, print the table; exit status 1 if any figure failed."""
    finished = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info()
    doc = {"socklab_bench": 1, "date": started.isoformat(timespec="seconds"),
           "duration_s": round((finished - started).total_seconds(), 1),
           "smoke": smoke, "machine": machine, "versions": versions,
           "settings": dataclasses.asdict(settings),
           "figures": [f.as_json() for f in figures], "skipped": skipped}
    RESULTS.mkdir(exist_ok=True)
    path = Path(os.environ.get("SOCKLAB_BENCH_JSON") or
                RESULTS / f"bench-{started:%Y%m%d-%H%M%S}{'-smoke' if smoke else ''}.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    if not smoke and "SOCKLAB_BENCH_JSON" not in os.environ:
        (RESULTS / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(render(doc))
    print(f"\nevery figure, with the machine and versions: {path}")
    failed = [f.id for f in figures if not f.complete()]
    if failed:
        print(f"bench: {len(failed)} figure(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def render(doc: dict) -> str:
    """The readable table of a bench result (also: ``python3 -m tools.bench show FILE``)."""
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
