#!/usr/bin/env python3
"""``make capture`` and ``make ladder``: record a lab host's traffic, draw it as a ladder diagram.

    python3 tools/lab.py capture [HOST] [--seconds N] [--count N] [--live]
    python3 tools/lab.py ladder [FILE.pcap]

``make capture HOST=ftp`` records everything that goes in and out of ``ftp`` (also with other
hosts than the client) until Ctrl-C, for ``SECONDS=n`` or ``COUNT=n`` packets, into
``workspace/captures/ftp-<time>.pcap``, then prints a summary and the ladder diagram, whose
picture (SVG and PNG) is saved beside the file.  ``LIVE=1`` also streams the capture to
standard output, for Wireshark: ``make capture HOST=ftp LIVE=1 | wireshark -k -i -``.

The server hosts keep no capabilities at all.  tcpdump runs in a short-lived helper
container of the lab image that joins the host's network namespace
(``docker run --network container:<id>``), is given only what opening a capture needs, and
is removed afterwards, also after Ctrl-C.

Standard library only (like tools/lab.py); the ladder itself (dpkt) is drawn by
``lab-ladder`` in a lab-image container on the lab's network, where the lab's names resolve.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # `python3 -m tools.capture` (make) or `python3 tools/capture.py`: run the one copy of this
    # module that the other tools import, tools.capture (see tools/__init__.py)
    if not __package__:     # run by its path: the checkout on sys.path, in place of tools/
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from tools.capture import main
    sys.exit(main(sys.argv[1:]))

import argparse
import json
import os
import subprocess
import threading
import uuid
from typing import IO, Callable

from socklab.i18n import _
from socklab.see.capture import Recording, capture_name, record, tcpdump_args
from tools import lab as labtool

ROOT = Path(__file__).resolve().parent.parent

CAPTURES = ROOT / "workspace" / "captures"


def inspect(container_id: str) -> dict:
    res = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"docker inspect {container_id}: {res.stderr.strip()}")
    return json.loads(res.stdout)[0]


def helper_argv(container_id: str, image: str, name: str, *, count: int | None = None,
                interface: str = "eth0", bpf: str | None = None) -> list[str]:
    """The ``docker run`` of the capture helper, in the network namespace of *container_id*.

    Why these privileges: the image's tcpdump has the file capabilities cap_net_raw and
    cap_net_admin (for the student in the client).  A file-capability program cannot even
    start where a capability it names is missing from the bounding set, so it would need
    NET_ADMIN -- the right to reconfigure the server's network -- for the whole capture.
    Instead the helper runs a copy without file capabilities (``cp`` drops them) as root with
    NET_RAW, which is all that opening a packet socket takes, plus SETUID and SETGID: root's
    tcpdump always drops to its own user ``tcpdump`` once the capture is open, and it needs
    those two to do that.  From then on tcpdump runs as ``tcpdump`` with no capability at all.
    Nothing is added to the server container: its CapAdd stays empty, its CapDrop ALL.
    """
    return ["docker", "run", "--rm", "--name", name, "--label", "socklab.capture=1",
            "--network", f"container:{container_id}",
            "--cap-drop", "ALL", "--cap-add", "NET_RAW", "--cap-add", "SETUID", "--cap-add", "SETGID",
            "--security-opt", "no-new-privileges", "--user", "0:0",
            "--read-only", "--tmpfs", "/tmp:exec,size=16m", "--pids-limit", "16",
            # tcpdump itself is the container's first process (no tini): `docker kill --signal
            # INT` reaches it straight from the engine, whereas tini, root without CAP_KILL,
            # could not pass a signal on to tcpdump once that runs as the user tcpdump
            "--entrypoint", "/bin/sh",
            image, "-c", 'cp /usr/bin/tcpdump /tmp/tcpdump && exec /tmp/tcpdump -Z tcpdump "$@"', "tcpdump",
            *tcpdump_args(count=count, interface=interface, bpf=bpf)]


def capture(container_id: str, path: Path, *, image: str | None = None, seconds: float | None = None,
            count: int | None = None, live: IO[bytes] | None = None, ready: threading.Event | None = None,
            stop: threading.Event | None = None, interface: str = "eth0", bpf: str | None = None,
            on_listening: Callable[[str], None] | None = None) -> Recording:
    """Record the traffic of the container *container_id* into *path* (a pcap).

    Ends after *seconds*, *count* packets, when *stop* is set, or on Ctrl-C; *ready* is set
    once tcpdump listens.  The helper container is removed whatever happens.
    """
    image = image or inspect(container_id)["Image"]
    name = f"socklab-capture-{uuid.uuid4().hex[:10]}"

    def interrupt(_proc) -> None:       # tini in the helper passes SIGINT on to tcpdump
        subprocess.run(["docker", "kill", "--signal", "INT", name], capture_output=True)

    try:
        return record(helper_argv(container_id, image, name, count=count, interface=interface, bpf=bpf), path,
                      interrupt=interrupt, seconds=seconds, live=live, ready=ready, stop=stop,
                      on_listening=on_listening)
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def ladder(pcap: Path, *, network: str, image: str, hosts: list[str], out: IO[str] | None = None,
           lang: str = "", extra: list[str] | None = None) -> int:
    """``lab-ladder`` of *pcap* in a lab-image container on *network*, where lab names resolve.

    It runs as the owner of the capture's folder, so the SVG and PNG beside it are theirs.
    """
    pcap = pcap.resolve()
    st = pcap.parent.stat()
    cmd = ["docker", "run", "--rm", "--network", network, "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges", "--read-only", "--tmpfs", "/tmp",
           "--user", f"{st.st_uid}:{st.st_gid}", "-e", "HOME=/tmp", "-e", f"SOCKLAB_LANG={lang}",
           "-v", f"{pcap.parent}:/captures", "--label", "socklab.capture=1",
           image, "lab-ladder", f"/captures/{pcap.name}", "--hosts", ",".join(hosts), *(extra or [])]
    out = out or sys.stdout
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    # the paths of the picture, as the host sees them
    out.write(res.stdout.replace("/captures/", str(pcap.parent) + "/"))
    out.flush()
    return res.returncode


def _number(kind):
    def parse(text: str):
        return kind(text) if text.strip() else None
    return parse


def _owner(path: Path, like: Path) -> None:
    """Give *path* to whoever owns *like* (make run as root writes the student's files)."""
    if os.getuid() == 0:
        st = like.stat()
        os.chown(path, st.st_uid, st.st_gid)


def _service_map(lab, name: str) -> dict[str, dict]:
    found = lab.containers(name)
    if not found:
        raise lab.LabError(_("lab '{lab}' is not running; start it with `make lab`.").format(lab=name))
    return {c["Config"]["Labels"].get("com.docker.compose.service", c["Name"].lstrip("/")): c for c in found}


def _network(container: dict) -> str:
    return next(iter(container["NetworkSettings"]["Networks"]))


def main(argv: list[str]) -> int:
    """``tools/lab.py capture ...`` / ``tools/lab.py ladder ...``: raises lab.LabError for the user."""
    lab = labtool
    verb, rest = argv[0], argv[1:]
    lab.check_docker()
    name = lab.lab_name()
    lang = lab.compose_env(name)["SOCKLAB_LANG"]
    if verb == "ladder":
        p = argparse.ArgumentParser(prog="make ladder")
        p.add_argument("file", nargs="?", default="")
        args = p.parse_args(rest)
        pcap = Path(args.file) if args.file else None
        if pcap is None:
            found = sorted(CAPTURES.glob("*.pcap"), key=lambda f: f.stat().st_mtime)
            if not found:
                raise lab.LabError(_("no capture in {folder} yet: make one with `make capture HOST=ftp`.")
                                   .format(folder=CAPTURES))
            pcap = found[-1]
        if not pcap.is_file():
            raise lab.LabError(_("no such capture file: {path}").format(path=pcap))
        hosts = _service_map(lab, name)
        some = hosts.get("client") or next(iter(hosts.values()))
        return ladder(pcap, network=_network(some), image=some["Image"], hosts=sorted(hosts), lang=lang)

    p = argparse.ArgumentParser(prog="make capture")
    p.add_argument("host", nargs="?", default="")
    p.add_argument("--seconds", type=_number(float), default=None)
    p.add_argument("--count", type=_number(int), default=None)
    p.add_argument("--live", action="store_true")
    args = p.parse_args(rest)
    host = args.host or "client"
    hosts = _service_map(lab, name)
    if host not in hosts:
        raise lab.LabError(_("no host called {host} in lab '{lab}'; its hosts: {hosts}").format(
            host=host, lab=name, hosts=", ".join(sorted(hosts))))
    target = hosts[host]
    if target["State"]["Status"] != "running":
        raise lab.LabError(_("host {host} is not running ({state}).").format(host=host, state=target["State"]["Status"]))
    workspace = ROOT / "workspace"
    if not CAPTURES.is_dir():
        CAPTURES.mkdir(parents=True)
        _owner(CAPTURES, workspace)
    path = CAPTURES / capture_name(host)
    notes = sys.stderr if args.live else sys.stdout

    def listening(_line: str) -> None:
        limit = (_("for {seconds} s").format(seconds=f"{args.seconds:g}") if args.seconds else
                 _("for {count} packets").format(count=args.count) if args.count else _("until Ctrl-C"))
        lab.say(_("capturing all traffic of {host} {limit} into {path}").format(host=host, limit=limit, path=path))

    sys.stdout.flush()
    old_stdout = sys.stdout
    if args.live:           # the pcap stream owns standard output; every message goes to stderr
        sys.stdout = sys.stderr
    try:
        rec = capture(target["Id"], path, image=target["Image"], seconds=args.seconds, count=args.count,
                      live=old_stdout.buffer if args.live else None, on_listening=listening)
    finally:
        sys.stdout = old_stdout
    if path.exists():
        _owner(path, CAPTURES)
    if not rec.ok:
        raise lab.LabError(_("the capture helper could not capture on {host}:").format(host=host) + "\n" + rec.stderr)
    print("\n".join("socklab: " + line for line in rec.report().splitlines()), file=notes, flush=True)
    print(file=notes)
    return ladder(path, network=_network(target), image=target["Image"], hosts=sorted(hosts), out=notes, lang=lang)
