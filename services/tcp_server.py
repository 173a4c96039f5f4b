"""The chapter's TCP timestamp server, on the lab host ``tcp-server`` (port 8888).

The server follows the chapter's recipe step by step::

    ss = socket()            # create the listening socket
    ss.bind()                # attach it to an address and port
    ss.listen()              # accept connection requests
    while True:
        cs = ss.accept()     # wait for a client; a new socket talks to it
        while True:
            cs.recv() / cs.send()   # every message comes back as "[ctime] message"
        cs.close()

By default it serves **one client at a time**, exactly like that loop: while one client is
connected, a second one is accepted by the kernel (it waits in the ``listen`` backlog) but
gets no reply until the first one leaves.  ``--concurrent`` gives every client its own
thread, which is the usual answer to "why does the second client wait?".

What a careful server adds to the chapter's loop, and why:

* an **idle timeout** -- a client that connects and says nothing would otherwise block a
  one-at-a-time server forever;
* a **message limit** (``BUFSIZ``) -- a message that does not fit is answered with an
  error and the client is dropped, instead of being split into surprising pieces;
* **one log line per problem** -- a client that vanishes mid-message is logged and
  forgotten, and the server goes on serving everyone else.

:class:`TimestampServer` is written so that :mod:`socklab.services.unix_server` can reuse it
for ``AF_UNIX`` by changing only the address family and the address.

Its method names are those of :mod:`socketserver` (the chapter's next step), and they mean
the same: :meth:`~TimestampServer.serve_forever` serves until :meth:`~TimestampServer.shutdown`
is called from another thread, ``shutdown`` returns once ``serve_forever`` has stopped, and
:meth:`~TimestampServer.server_close` closes the listening socket.  Where it differs from
``socketserver.TCPServer`` is said at each method.
"""

from __future__ import annotations

import argparse
import logging
import os
import selectors
import socket
import threading

from socklab.log import configure, shown
from socklab.services.timestamp import BUFSIZ, PORT, goodbye, send_quietly, stamp, too_long
from socklab.serving import PerAddress, serve_until_stopped


class TimestampServer:
    """A stream-socket server that answers every message with ``[ctime] message``.

    :param address: what to ``bind`` -- ``(host, port)`` for ``AF_INET``.
    :param bufsize: the largest message accepted, in bytes (the chapter's ``BUFSIZ``).
    :param idle_timeout: seconds a client may stay silent before it is dropped.
    :param concurrent: serve every client in its own thread instead of one at a time.
    :param max_clients: in concurrent mode, clients beyond this many are turned away.
    :param max_per_address: in concurrent mode, clients from one address beyond this many
        are turned away (0: no limit) -- so that one client cannot take every place.
    :param logger: where the server's log lines go (default: the logger named :attr:`name`).
    """

    family = socket.AF_INET
    name = "tcp-server"

    def __init__(self, address, *, bufsize: int = BUFSIZ, idle_timeout: float = 30.0,
                 concurrent: bool = False, max_clients: int = 64, max_per_address: int = 32,
                 backlog: int = 5, logger: logging.Logger | None = None) -> None:
        self.address = address
        self.bufsize = bufsize
        self.idle_timeout = idle_timeout
        self.concurrent = concurrent
        self.log = logger or logging.getLogger(self.name)
        self._slots = threading.BoundedSemaphore(max_clients)
        self.max_per_address = max_per_address
        self._per_address = PerAddress(max_per_address)
        self._stopping = threading.Event()      # shutdown() asks serve_forever() to stop ...
        self._stopped = threading.Event()       # ... and waits for this
        self._stopped.set()                     # (not serving yet)
        self.socket = socket.socket(self.family, socket.SOCK_STREAM)
        self.server_bind()
        self.socket.listen(backlog)

    def server_bind(self) -> None:
        """Bind the listening socket; SO_REUSEADDR lets a restarted server bind at once."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.address)
        self.address = self.socket.getsockname()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept clients until :meth:`shutdown` is called (from another thread).

        Every *poll_interval* seconds without a new client it looks whether shutdown was
        asked for, as ``socketserver`` does.  In one-client-at-a-time mode a shutdown asked
        for during a conversation takes effect when that client has gone (or was dropped
        for being idle): the loop only looks between clients.
        """
        self._stopped.clear()
        mode = "concurrent (a thread per client)" if self.concurrent else "one client at a time"
        self.log.info("waiting for connection on %s, %s", self.address, mode)
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                while not self._stopping.is_set():
                    if not selector.select(timeout=poll_interval):   # now and then: notice shutdown
                        continue
                    try:
                        conn, peer = self.socket.accept()
                    except OSError:
                        continue
                    if self.concurrent:
                        self._start_thread(conn, peer)
                    else:
                        self.handle(conn, peer)
        finally:
            self._stopping.clear()          # the request is served; serve_forever() may run again
            self._stopped.set()

    def _start_thread(self, conn: socket.socket, peer) -> None:
        address = peer[0] if isinstance(peer, tuple) else ""     # AF_UNIX peers have no address
        crowded = not self._per_address.take(address)
        if crowded or not self._slots.acquire(blocking=False):
            if not crowded:
                self._per_address.give_back(address)
            self.log.info("%s turned away: server busy%s", peer or "client", " (for that address)" if crowded else "")
            with conn:
                send_quietly(conn, b"error: server busy, try again later\n")
            return

        def run() -> None:
            try:
                self.handle(conn, peer)
            finally:
                self._slots.release()
                self._per_address.give_back(address)

        threading.Thread(target=run, daemon=True).start()

    def handle(self, conn: socket.socket, peer) -> None:
        """Talk to one client: reply to each message until it closes the connection."""
        who = peer or "a local client"
        self.log.info("...connected from: %s", who)
        conn.settimeout(self.idle_timeout)
        with conn:
            try:
                while True:
                    # Ask for one byte more than the limit: getting it means "too long".
                    data = conn.recv(self.bufsize + 1)
                    if not data:
                        self.log.info("%s closed the connection", who)
                        return
                    if len(data) > self.bufsize:
                        self.log.info("%s sent more than %d bytes; dropped", who, self.bufsize)
                        goodbye(conn, too_long(self.bufsize))
                        return
                    self.log.info("%s: %s", who, shown(data))
                    conn.sendall(stamp(data))
            except socket.timeout:
                self.log.info("%s idle for %g s; dropped", who, self.idle_timeout)
                send_quietly(conn, f"error: idle for {self.idle_timeout:g} s; closing\n".encode())
            except OSError as exc:             # reset, broken pipe: the client went away
                self.log.info("%s went away: %s", who, exc.strerror or exc)

    def shutdown(self) -> None:
        """Tell :meth:`serve_forever` to stop and wait until it has.

        As in ``socketserver``, call it from another thread than the one running
        ``serve_forever`` (from that one it would wait for ever).  Asked for while
        ``serve_forever`` is not running, the request is kept, as in ``socketserver``: the
        next ``serve_forever`` returns at once (so a shutdown that comes just before the
        serving thread gets going still stops it).  Unlike ``socketserver``, it then returns
        at once instead of waiting for a ``serve_forever`` to start.  It does not wait for the threads of concurrent clients:
        they are daemon threads, ended with the process, and each ends by itself when its
        client leaves or is idle for *idle_timeout*.  The listening socket stays open
        until :meth:`server_close`.
        """
        self._stopping.set()
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket (clients already connected are served to the end)."""
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        """Leaving a ``with`` block: :meth:`shutdown`, then :meth:`server_close`.
        (``socketserver``'s ``__exit__`` only closes: a ``serve_forever`` still running in
        another thread would be left polling a closed socket.)"""
        self.shutdown()
        self.server_close()


def add_server_args(p: argparse.ArgumentParser) -> None:
    """The options every timestamp stream server understands."""
    p.add_argument("--bufsize", type=int, default=BUFSIZ, help=f"largest message in bytes (default: {BUFSIZ})")
    p.add_argument("--idle-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="drop a client silent for this long (default: 30)")
    p.add_argument("--concurrent", action="store_true",
                   default=os.environ.get("TCP_SERVER_CONCURRENT", "") not in ("", "0", "no"),
                   help="serve each client in its own thread (default: one client at a time, like the "
                        "chapter; TCP_SERVER_CONCURRENT=1 in the environment turns it on too)")
    p.add_argument("--max-clients", type=int, default=64, help="concurrent mode: most clients at once (default: 64)")
    p.add_argument("--max-per-address", type=int, default=32,
                   help="concurrent mode: most clients at once from one address (default: 32; 0: no limit)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tcp-server", description="The chapter's TCP timestamp server.")
    p.add_argument("--host", default="", help="address to bind (default: all interfaces)")
    p.add_argument("--port", type=int, default=PORT, help=f"port to listen on (default: {PORT})")
    add_server_args(p)
    args = p.parse_args(argv)
    configure()
    with TimestampServer((args.host, args.port), bufsize=args.bufsize, idle_timeout=args.idle_timeout,
                         concurrent=args.concurrent, max_clients=args.max_clients,
                         max_per_address=args.max_per_address) as server:
        serve_until_stopped(server, server.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
