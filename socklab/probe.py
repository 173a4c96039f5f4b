"""``lab-probe``: is a server in this container listening yet?  (used by healthchecks)

A healthcheck that talked to the server would fill its log with the probe's visits and,
for the chapter's one-client-at-a-time server, could wait behind a student's session.
So the probe asks the kernel instead: the socket tables in ``/proc/net`` list every
listening TCP port, bound UDP port and listening ``AF_UNIX`` socket of this network
namespace.  Exit status 0 means all the given sockets are there.

    lab-probe tcp 21 2121        lab-probe udp 8888        lab-probe unix /run/socklab/x.sock
"""

from __future__ import annotations

import argparse
import sys

TCP_LISTEN = "0A"       # st column of /proc/net/tcp: 0A is LISTEN
UDP_UNCONN = "07"       # a bound UDP socket shows as 07 (TCP_CLOSE)
UNIX_ACCEPTCON = 0x10000


def _inet_ports(kind: str, state: str) -> set[int]:
    ports = set()
    for table in (f"/proc/net/{kind}", f"/proc/net/{kind}6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == state:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            continue
    return ports


def _unix_listeners() -> set[str]:
    paths = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and int(fields[3], 16) & UNIX_ACCEPTCON:
                paths.add(fields[7])
    return paths


def missing(kind: str, targets: list[str]) -> list[str]:
    """The targets that are not listening (ports for tcp/udp, paths for unix)."""
    if kind == "tcp":
        have = _inet_ports("tcp", TCP_LISTEN)
        return [t for t in targets if int(t) not in have]
    if kind == "udp":
        have = _inet_ports("udp", UDP_UNCONN)
        return [t for t in targets if int(t) not in have]
    if kind == "unix":
        have = _unix_listeners()
        return [t for t in targets if t not in have]
    raise ValueError(kind)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lab-probe", description="Exit 0 if the given sockets listen in this "
                                "container (read from /proc/net; the servers never see the probe).")
    p.add_argument("kind", choices=["tcp", "udp", "unix"])
    p.add_argument("targets", nargs="+", metavar="PORT-OR-PATH")
    args = p.parse_args(argv)
    absent = missing(args.kind, args.targets)
    if absent:
        print(f"not listening: {args.kind} {' '.join(absent)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
