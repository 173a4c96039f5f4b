"""The reply every timestamp server in the chapter sends: ``[ctime] data``.

The chapter's servers answer each message with the time and the message itself, for
example ``[Thu Sep  1 15:35:45 2016] hello``. The message is echoed byte for byte, so
text in any encoding (or none) comes back unchanged.
"""

import socket
import time

PORT = 8888
BUFSIZ = 1024       # the chapter's buffer size: the longest message a server accepts


def stamp(data: bytes) -> bytes:
    """Return ``[ctime] data`` as bytes."""
    return b"[" + time.ctime().encode("ascii") + b"] " + data


def too_long(limit: int) -> bytes:
    """The error a server sends before dropping a client whose message exceeds *limit*."""
    return f"error: message longer than {limit} bytes; closing the connection\n".encode("ascii")


def send_quietly(conn: socket.socket, data: bytes) -> None:
    """Best-effort send: the client may already be gone."""
    try:
        conn.sendall(data)
    except OSError:
        pass


def goodbye(conn: socket.socket, data: bytes) -> None:
    """Send a last word before closing, so that the client can read it.

    Closing a socket that still has unread input makes the kernel send a reset (RST), and
    the client may lose our last word with it.  So: send, say we are done writing (FIN),
    and read -- and discard -- what the client is still sending, for a moment.
    """
    send_quietly(conn, data)
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(1.0)
        for _ in range(256):                 # at most 256 kB of leftovers
            if not conn.recv(1024):
                break
    except OSError:
        pass
