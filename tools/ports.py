"""Port blocks for throw-away labs: tests, bench, chaos, class-bench.

A lab publishes its hosts on 100 host ports, ``PPP00`` to ``PPP99``, where ``PPP`` is its
``LAB_PORT_PREFIX``.  ``make lab`` gives a named lab its own block (``port_prefix`` in
tools/lab.py); a lab that lives only as long as a test or a measurement takes a block
that is free right now, from :func:`free_port_prefix`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tools.lab import LabError

# Blocks handed out and not yet published: several labs start at once (make test's workers,
# bench, chaos), and a block is free by every check until its lab's containers bind it.
# One file for the machine, as the ports are the machine's; every change under a lock.
RESERVATIONS = Path(tempfile.gettempdir()) / "socklab-port-blocks.json"
HOLD = 15 * 60.0          # seconds a block stays promised: long enough to build the images and start


def free_port_prefix(reservations: Path = RESERVATIONS, used: set[int] | None = None) -> int:
    """A LAB_PORT_PREFIX for a throw-away lab (tests, bench): all its 100 ports free, and
    promised to the caller (in *reservations*) until :func:`release` or :data:`HOLD` seconds.

    Prefixes 100-199 (ports 10000-19999): below Linux's ephemeral range (32768-60999), so
    no outgoing connection takes one of them between this check and the containers' start,
    and apart from the blocks of labs started with `make lab` (200-299).  *used*: the
    prefixes published now (default: what ``docker ps`` shows).
    """
    if used is None:
        used = set()
        ps = subprocess.run(["docker", "ps", "--format", "{{.Ports}}"], check=True, capture_output=True, text=True)
        for line in ps.stdout.splitlines():
            used |= {int(p) // 100 for p in re.findall(r":(\d+)->", line)}
    with _promised(reservations) as promised:
        for prefix in random.sample(range(100, 200), 100):
            if prefix not in used and prefix not in promised and all(port_free(prefix * 100 + n) for n in range(100)):
                promised[prefix] = time.time()
                return prefix
    raise LabError("no free block of 100 ports on 127.0.0.1 for a lab")


def release(prefix: int, reservations: Path = RESERVATIONS) -> None:
    """The lab of *prefix* is gone (or has published its ports): the promise can go."""
    with _promised(reservations) as promised:
        promised.pop(prefix, None)


@contextlib.contextmanager
def _promised(reservations: Path):
    """``{prefix: when promised}``, unexpired, under an exclusive lock; written back after.
    (A file another user owns: no promises, as before there were any.)"""
    try:
        lock = open(reservations.with_suffix(".lock"), "a")
    except OSError:
        yield {}
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            promised = {int(k): v for k, v in json.loads(reservations.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            promised = {}
        now = time.time()
        promised = {p: t for p, t in promised.items() if isinstance(t, (int, float)) and 0 <= now - t < HOLD}
        yield promised
        tmp = reservations.with_name(f"{reservations.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(promised))
            os.replace(tmp, reservations)


def free_port() -> int:
    """One TCP port of 127.0.0.1 that is free now (the kernel's pick): for a server a unit
    test starts, or a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether *port* of 127.0.0.1 is free for TCP and for UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
