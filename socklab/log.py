"""Server logging: one line per event on standard output, which ``make logs`` shows."""

import logging
import sys


def setup(name: str, verbose: bool = False) -> logging.Logger:
    """Configure the root logger once and return the logger called *name*."""
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    return logging.getLogger(name)


def shown(data: bytes, limit: int = 60) -> str:
    """A printable, bounded view of received bytes for a log line."""
    text = repr(data[:limit])
    return text + (f"... ({len(data)} bytes)" if len(data) > limit else "")
