"""The chapter's ``socketserver`` version of the timestamp server (host ``ss-server``, 8888).

``socketserver`` does the socket/bind/listen/accept work; we only say what to do with one
connection, in a request handler::

    class TimestampHandler(StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline()          # one line per connection
            self.wfile.write(stamp(line))

    TCPServer(("", 8888), TimestampHandler).serve_forever()

``StreamRequestHandler`` wraps the connected socket in two file objects, ``rfile`` and
``wfile``, so the handler reads a *line* instead of whatever ``recv`` happens to return.
That is why the chapter's client for this server sends ``"%s\\r\\n"`` and opens a new
connection for every message.

The handler also takes a timeout from the server (a silent client is dropped instead of blocking the
server) and reads at most ``BUFSIZ`` bytes, refusing a longer line with an error.
"""

from __future__ import annotations

import argparse
import logging
import socket
import socketserver

from socklab.log import configure, shown
from socklab.services.timestamp import BUFSIZ, PORT, goodbye, stamp, too_long
from socklab.serving import serve_until_stopped

log = logging.getLogger("ss-server")


class TimestampHandler(socketserver.StreamRequestHandler):
    """Read one line, answer ``[ctime] line``, close."""

    def setup(self) -> None:
        # StreamRequestHandler applies self.timeout to the socket; take it from the server.
        self.timeout = self.server.idle_timeout
        self.bufsize = self.server.bufsize
        super().setup()

    @property
    def log(self):
        """The server's logger (the module's when the server has none)."""
        return getattr(self.server, "log", log)

    def handle(self) -> None:
        who = self.client_address
        self.log.info("...connected from: %s", who)
        try:
            line = self.rfile.readline(self.bufsize + 1)
        except socket.timeout:
            self.log.info("%s sent nothing for %g s; dropped", who, self.timeout)
            return
        except OSError as exc:
            self.log.info("%s went away: %s", who, exc.strerror or exc)
            return
        if not line:
            self.log.info("%s closed without a line", who)
            return
        if len(line) > self.bufsize:
            self.log.info("%s sent a line longer than %d bytes; dropped", who, self.bufsize)
            goodbye(self.connection, too_long(self.bufsize))
            return
        self.log.info("%s: %s", who, shown(line))
        self.wfile.write(stamp(line))


class TimestampTCPServer(socketserver.TCPServer):
    """``TCPServer`` that can rebind at once after a restart and logs a failed request once."""

    allow_reuse_address = True

    def __init__(self, address, handler=TimestampHandler, *, idle_timeout: float = 30.0,
                 bufsize: int = BUFSIZ, logger: logging.Logger | None = None) -> None:
        self.idle_timeout = idle_timeout    # seconds a client may stay silent
        self.bufsize = bufsize              # longest line accepted
        self.log = logger or log            # where the handler's lines go
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        # The default prints a traceback; one line is what a log reader wants.
        self.log.info("request from %s failed; still serving", client_address)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ss-server", description="The chapter's socketserver timestamp server.")
    p.add_argument("--host", default="", help="address to bind (default: all interfaces)")
    p.add_argument("--port", type=int, default=PORT, help=f"port (default: {PORT})")
    p.add_argument("--idle-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="drop a client silent for this long (default: 30)")
    p.add_argument("--bufsize", type=int, default=BUFSIZ, help=f"longest line in bytes (default: {BUFSIZ})")
    args = p.parse_args(argv)
    configure()
    with TimestampTCPServer((args.host, args.port), idle_timeout=args.idle_timeout,
                            bufsize=args.bufsize) as server:
        server.log.info("waiting for connection on %s", server.server_address)
        serve_until_stopped(server, server.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
