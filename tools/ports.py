"""Port blocks for throw-away labs: tests, bench, chaos, class-bench.

A lab publishes its hosts on 100 host ports, ``PPP00`` to ``PPP99``, where ``PPP`` is its
``LAB_PORT_PREFIX``.  ``make lab`` gives a named lab its own block (``port_prefix`` in
tools/lab.py); a lab that lives only as long as a test or a measurement takes a block
that is free right now, from :func:`free_port_prefix`.
"""

from __future__ import annotations

import random
import re
import socket
import subprocess

from tools.lab import LabError


def free_port_prefix() -> int:
    """A LAB_PORT_PREFIX for a throw-away lab (tests, bench): all its 100 ports free.

    Prefixes 100-199 (ports 10000-19999): below Linux's ephemeral range (32768-60999), so
    no outgoing connection takes one of them between this check and the containers' start,
    and apart from the blocks of labs started with `make lab` (200-299).
    """
    used = set()
    ps = subprocess.run(["docker", "ps", "--format", "{{.Ports}}"], check=True, capture_output=True, text=True)
    for line in ps.stdout.splitlines():
        used |= {int(p) // 100 for p in re.findall(r":(\d+)->", line)}
    for prefix in random.sample(range(100, 200), 60):
        if prefix not in used and all(port_free(prefix * 100 + n) for n in range(100)):
            return prefix
    raise LabError("no free block of 100 ports on 127.0.0.1 for a lab")


def port_free(port: int) -> bool:
    """Whether *port* of 127.0.0.1 is free for TCP and for UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
