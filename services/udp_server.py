"""The chapter's UDP timestamp server, on the lab host ``udp-server`` (port 8888/udp).

UDP needs far less than TCP: no ``listen``, no ``accept``, no connection at all::

    ss = socket(AF_INET, SOCK_DGRAM)
    ss.bind()
    while True:
        data, addr = ss.recvfrom()     # one datagram, and who sent it
        ss.sendto(reply, addr)         # the answer goes back to that address

Each datagram is a whole message, so the server needs no idle timeout and no client can
block another. Two things are still worth handling:

* a datagram longer than ``BUFSIZ`` would be cut silently by ``recvfrom(BUFSIZ)``; the
  server asks for one byte more, and answers an oversized datagram with an error;
* sending can fail (an ICMP "port unreachable" from a client that has gone); the server
  logs it and goes on.
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading

from socklab.log import configure, shown
from socklab.services.timestamp import BUFSIZ, PORT, stamp
from socklab.serving import serve_until_stopped


class UDPTimestampServer:
    """Answer every datagram with ``[ctime] data`` sent back to its sender.

    :param address: what to ``bind`` -- ``(host, port)``.
    :param bufsize: the longest datagram accepted, in bytes.
    :param logger: where the log lines go (default: the logger ``udp-server``).
    """

    def __init__(self, address, *, bufsize: int = BUFSIZ, logger: logging.Logger | None = None) -> None:
        self.bufsize = bufsize
        self.log = logger or logging.getLogger("udp-server")
        self._stopping = threading.Event()      # shutdown() asks serve_forever() to stop ...
        self._stopped = threading.Event()       # ... and waits for this
        self._stopped.set()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(address)
        self.socket.settimeout(0.5)     # wake up now and then to notice shutdown()
        self.address = self.socket.getsockname()

    def serve_forever(self) -> None:
        """Answer datagrams until :meth:`shutdown` (as in ``socketserver``)."""
        self._stopped.clear()
        self.log.info("waiting for message on %s", self.address)
        try:
            self._serve()
        finally:
            self._stopping.clear()
            self._stopped.set()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self.socket.recvfrom(self.bufsize + 1)
            except socket.timeout:
                continue
            except OSError as exc:      # e.g. an ICMP error from an earlier sendto
                self.log.info("receive failed: %s", exc.strerror or exc)
                continue
            if len(data) > self.bufsize:
                self.log.info("%s sent a datagram longer than %d bytes; refused", peer, self.bufsize)
                reply = f"error: datagram longer than {self.bufsize} bytes\n".encode()
            else:
                self.log.info("...received from and returned to %s: %s", peer, shown(data))
                reply = stamp(data)
            try:
                self.socket.sendto(reply, peer)
            except OSError as exc:
                self.log.info("cannot answer %s: %s", peer, exc.strerror or exc)

    def shutdown(self) -> None:
        """Tell :meth:`serve_forever` to stop and wait until it has (call it from another
        thread); at once if it is not running."""
        self._stopping.set()
        self._stopped.wait()

    def server_close(self) -> None:
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="udp-server", description="The chapter's UDP timestamp server.")
    p.add_argument("--host", default="", help="address to bind (default: all interfaces)")
    p.add_argument("--port", type=int, default=PORT, help=f"port (default: {PORT})")
    p.add_argument("--bufsize", type=int, default=BUFSIZ, help=f"largest datagram in bytes (default: {BUFSIZ})")
    args = p.parse_args(argv)
    configure()
    with UDPTimestampServer((args.host, args.port), bufsize=args.bufsize) as server:
        serve_until_stopped(server, server.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
