"""The reply every timestamp server in the chapter sends: ``[ctime] data``.

The chapter's servers answer each message with the time and the message itself, for
example ``[Thu Sep  1 15:35:45 2016] hello``. The message is echoed byte for byte, so
text in any encoding (or none) comes back unchanged.
"""

import time

PORT = 8888
BUFSIZ = 1024       # the chapter's buffer size: the longest message a server accepts


def stamp(data: bytes) -> bytes:
    """Return ``[ctime] data`` as bytes."""
    return b"[" + time.ctime().encode("ascii") + b"] " + data


def too_long(limit: int) -> bytes:
    """The error a server sends before dropping a client whose message exceeds *limit*."""
    return f"error: message longer than {limit} bytes; closing the connection\n".encode("ascii")
