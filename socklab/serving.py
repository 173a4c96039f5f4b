"""Run a server until it is told to stop: Ctrl-C in a terminal, or SIGTERM from ``docker stop``.

Python stops at once on SIGTERM, skipping ``finally`` blocks and ``with`` exits; a server
that removes its socket file or closes its spool on the way out would not get to.  So
SIGTERM is made to behave like Ctrl-C, and both end ``serve_forever()`` cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(server, log: logging.Logger | None = None) -> int:
    """Call ``server.serve_forever()`` until Ctrl-C or SIGTERM; return the exit status 0."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        if log is not None:
            log.info("stopping")
    return 0


class PerAddress:
    """How many connections each client address has open, with a *limit* per address.

    :meth:`take` counts one more for *address*, or says no when it has *limit* already;
    :meth:`give_back` counts one less.  A limit of 0, and the empty address of an
    ``AF_UNIX`` peer, are never refused.  Safe to call from several threads.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        with self._lock:
            mine = self._open.get(address, 0)
            if address and self.limit and mine >= self.limit:
                return False
            self._open[address] = mine + 1
            return True

    def give_back(self, address: str) -> None:
        with self._lock:
            left = self._open.get(address, 1) - 1
            if left > 0:
                self._open[address] = left
            else:
                self._open.pop(address, None)
