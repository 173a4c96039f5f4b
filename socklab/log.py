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


class OneLineLog(logging.Filter):
    """Control characters a client sent (a bare CR inside a command, ESC, ...) are shown
    escaped in the log: every record stays one line, and a client cannot forge lines or
    colours in ``make logs``."""

    ESCAPES = {c: f"\\x{c:02x}" for c in range(32) if c != 9}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(ord(ch) < 32 and ch != "\t" for ch in message):
            record.msg, record.args = message.translate(self.ESCAPES), None
        return True
