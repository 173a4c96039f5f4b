"""Server logging: one line per event on standard output, which ``make logs`` shows.

Who configures what, as the :mod:`logging` documentation advises:

* a library module -- a server class, a client class -- only *uses* a logger: it takes one
  as an argument (``logger=``) or uses a module-level ``logging.getLogger(name)``, and never
  adds handlers or sets levels on the root logger;
* the program's ``main()`` calls :func:`configure` once, which decides where the lines go
  and how much is shown (``--verbose``).

So a test, or another program that reuses a server class, keeps its own logging set-up.
"""

import logging
import sys

FORMAT = "%(asctime)s %(name)s: %(message)s"


def configure(verbose: bool = False) -> None:
    """For a program's ``main()``: send every log record to standard output, one line each
    (``time name: message``); show DEBUG records too when *verbose*."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


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


def add_one_line_filter(logger: logging.Logger) -> logging.Logger:
    """Give *logger* a :class:`OneLineLog` filter (once) and return it."""
    if not any(isinstance(f, OneLineLog) for f in logger.filters):
        logger.addFilter(OneLineLog())
    return logger
