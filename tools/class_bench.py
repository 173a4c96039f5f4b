"""`make class-bench`: how many idle labs one server holds.

Starts N class labs (20 by default) the way `make class` does, from a roster of made-up
students in a folder of its own (.lab/class-bench, port prefixes from 500 up, so a real
class in classroom/ is never touched), and measures

* the time from nothing to every lab ready (every host healthy, sshd answering);
* memory per lab: what its containers use (cgroup memory, less inactive file cache) plus
  what it costs on the host (its containerd shims and docker-proxy, by PSS), and the drop of the
  machine's MemAvailable, divided by N;
* idle CPU per lab: the CPU time of its containers and shims over a quiet minute, plus
  the extra CPU time dockerd and containerd spend while the labs idle, divided by N;

then how many labs fit by memory (RAM less 2 GiB for the system) and by CPU (all
cores busy), and removes every lab it started -- also when interrupted.  Results:
bench-results/class-bench.json and a summary on the terminal.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from socklab.roster import Student
from tools import classroom, lab

ROOT = Path(__file__).resolve().parent.parent

CGROUP = Path("/sys/fs/cgroup")
TICK = os.sysconf("SC_CLK_TCK")


def cgroup_file(kind: str, cid: str, name: str) -> Path | None:
    for path in (CGROUP / kind / "docker" / cid / name, CGROUP / "system.slice" / f"docker-{cid}.scope" / name,
                 CGROUP / "docker" / cid / name):
        if path.exists():
            return path
    return None


def container_memory(cid: str) -> int:
    """Bytes a container uses, as docker stats counts them (usage less inactive file cache)."""
    v1 = cgroup_file("memory", cid, "memory.usage_in_bytes")
    stat_path = cgroup_file("memory", cid, "memory.stat")
    if v1 is None:
        v1 = cgroup_file("", cid, "memory.current")
    if v1 is None:
        return 0
    usage = int(v1.read_text())
    stats = dict(line.split() for line in stat_path.read_text().splitlines()) if stat_path else {}
    inactive = int(stats.get("total_inactive_file", stats.get("inactive_file", 0)))
    return max(0, usage - inactive)


def container_cpu_ns(cid: str) -> int:
    v1 = cgroup_file("cpuacct", cid, "cpuacct.usage")
    if v1:
        return int(v1.read_text())
    v2 = cgroup_file("", cid, "cpu.stat")
    if v2:
        stats = dict(line.split() for line in v2.read_text().splitlines())
        return int(stats.get("usage_usec", 0)) * 1000
    return 0


def processes() -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                pass
    return out


def proc_rss(pid: int) -> int:
    """The proportional set size of a process: its own pages, and its share of shared ones."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def proc_cpu_ns(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // TICK
    except (OSError, IndexError, ValueError):
        return 0


def engine_pids() -> list[int]:
    return [pid for pid, cmd in processes() if re.match(r"\S*(dockerd|containerd)( |$)", cmd)]


def lab_host_pids(container_ids: list[str], ssh_ports: list[int]) -> list[int]:
    """The shims of these containers and the docker-proxy of these ports."""
    ids = set(container_ids)
    ports = {str(p) for p in ssh_ports}
    pids = []
    for pid, cmd in processes():
        m = re.search(r"containerd-shim\S* .*-id (\w+)", cmd)
        if m and m.group(1) in ids:
            pids.append(pid)
        m = re.search(r"docker-proxy .*-host-port (\d+)", cmd)
        if m and m.group(1) in ports:
            pids.append(pid)
    return pids


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pids: list[int], cids: list[str]) -> float:
    return (sum(proc_cpu_ns(p) for p in pids) + sum(container_cpu_ns(c) for c in cids)) / 1e9


def measure_idle(pids: list[int], cids: list[str], seconds: float) -> float:
    """Cores used on average by these processes and containers over *seconds*."""
    before, t0 = cpu_seconds(pids, cids), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pids, cids) - before) / (time.monotonic() - t0)


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv and argv[0].strip() else int(os.environ.get("CLASS_LABS") or 20)
    settle = float(os.environ.get("CLASS_BENCH_SETTLE") or 30)
    window = float(os.environ.get("CLASS_BENCH_WINDOW") or 60)
    def interrupted(signum, frame):
        raise KeyboardInterrupt         # `timeout` or `kill`: remove the labs all the same
    signal.signal(signal.SIGTERM, interrupted)
    classroom.CLASSROOM = ROOT / ".lab" / "class-bench"
    classroom.FIRST_PREFIX = 500
    lab.check_docker()
    lab.build()
    students = [Student(f"bench-{n:03d}", f"Bench {n}") for n in range(1, count + 1)]
    classroom.CLASSROOM.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    result: dict = {"labs": count, "cores": cores, "mem_total": mem_total(),
                    "jobs": classroom.jobs(), "settle_s": settle, "window_s": window,
                    "healthchecks": classroom.healthchecks()}
    try:
        engine = engine_pids()
        result["engine_idle_cores_before"] = round(measure_idle(engine, [], window / 2), 4)
        avail_before = mem_available()
        records = classroom.records_for(students)
        for r in records:
            classroom.prepare_folder(r)
        started = time.monotonic()
        progress = classroom.Progress(len(records))
        errors = classroom.run_parallel(records, classroom.start_one, progress, classroom.jobs())
        result["up_s"] = round(time.monotonic() - started, 1)
        result["failed"] = errors
        time.sleep(settle)
        cids = [c["Id"] for r in records for c in lab.containers(r.id)]
        host_pids = lab_host_pids(cids, [r.ssh_port for r in records])
        result["containers"] = len(cids)
        container_mem = sum(container_memory(c) for c in cids)
        host_mem = sum(proc_rss(p) for p in host_pids)
        result["mem_per_lab_containers_mib"] = round(container_mem / count / 2**20, 1)
        result["mem_per_lab_host_processes_mib"] = round(host_mem / count / 2**20, 1)
        result["mem_per_lab_memavailable_mib"] = round((avail_before - mem_available()) / count / 2**20, 1)
        result["idle_cores_labs"] = round(measure_idle(host_pids, cids, window), 4)
        result["engine_idle_cores_during"] = round(measure_idle(engine_pids(), [], window / 2), 4)
        engine_extra = max(0.0, result["engine_idle_cores_during"] - result["engine_idle_cores_before"])
        per_lab_cpu = (result["idle_cores_labs"] + engine_extra) / count
        per_lab_mem = max(result["mem_per_lab_containers_mib"] + result["mem_per_lab_host_processes_mib"],
                          result["mem_per_lab_memavailable_mib"]) * 2**20
        result["idle_cpu_per_lab_percent_of_core"] = round(100 * per_lab_cpu, 2)
        result["mem_per_lab_mib"] = round(per_lab_mem / 2**20, 1)
        result["labs_per_host_by_memory"] = int((24 * 2**30 - 2 * 2**30) // per_lab_mem) if per_lab_mem else None
        result["labs_per_host_by_cpu"] = int(2 / per_lab_cpu) if per_lab_cpu else None
    finally:
        classroom.say(f"removing the {count} bench labs ...")
        classroom.down(delete=True)
        subprocess.run(["rm", "-rf", str(classroom.CLASSROOM)])
    out = ROOT / "bench-results" / "class-bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for key, value in result.items():
        print(f"  {key:36} {value}")
    print(f"socklab: {out}")
    return 1 if result.get("failed") else 0
