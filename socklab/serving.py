"""Run a server until it is told to stop: Ctrl-C in a terminal, or SIGTERM from ``docker stop``.

Python stops at once on SIGTERM, skipping ``finally`` blocks and ``with`` exits; a server
that removes its socket file or closes its spool on the way out would not get to.  So
SIGTERM is made to behave like Ctrl-C, and both end ``serve_forever()`` cleanly.
"""

from __future__ import annotations

import logging
import signal


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
