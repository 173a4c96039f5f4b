"""``news-server``: the lab's NNTP server (host ``news``, port 119).

The pieces, each in its own module:

* :mod:`~socklab.services.news.protocol` -- :class:`NNTPHandler`, the conversation with
  one reader (one ``do_<COMMAND>`` method per command);
* :mod:`~socklab.services.news.spool` -- :class:`Spool`, the groups and articles on disk,
  written so that an acknowledged post survives a crash;
* :mod:`~socklab.services.news.article` -- reading and checking articles;
* :mod:`~socklab.services.news.wildmat` -- group patterns such as ``comp.*,!comp.lang.*``;
* :mod:`~socklab.services.news.seed` -- the groups and articles of a brand-new spool.

This module ties them together: :class:`NewsServer` is a ``socketserver`` threading TCP
server -- a thread per reader, so a slow reader never holds up the others -- with a limit
on the number of readers and an idle timeout for each.
"""

from __future__ import annotations

import argparse
import logging
import socketserver
import ssl
import sys
import threading
from pathlib import Path

from socklab.cli import env
from socklab.files import write_atomically
from socklab.log import configure
from socklab.serving import PerAddress, serve_until_stopped
from socklab.services.news.protocol import NNTPHandler
from socklab.services.news.seed import seed
from socklab.services.news.spool import Spool

PORT = 119
SPOOL = "/var/spool/news"

log = logging.getLogger("news-server")


class NewsServer(socketserver.ThreadingTCPServer):
    """An NNTP server: a thread per reader, articles in *spool*.

    :param address: ``(host, port)`` to listen on.
    :param spool: the :class:`Spool` with the groups and articles.
    :param accounts: ``{user: password}`` for AUTHINFO.
    :param path_host: the server's name in greetings, ``Path``, ``Xref`` and message-ids.
    :param idle_timeout: seconds a reader has to send a command line (silent or slow
        readers are disconnected).
    :param post_timeout: seconds a reader has to send a whole article after ``POST``.
    :param max_clients: readers at once; one more gets ``400`` and is disconnected.
    :param max_per_address: readers at once from one address (0: no limit); one more gets
        ``400`` too, so that one client flooding the server cannot shut out the others.
    :param max_article: the largest article ``POST`` accepts, in octets.
    :param require_auth: if true, only a logged-in reader may read or post (``480``).
    :param tls_context: a server-side ``ssl.SSLContext``; readers may then use STARTTLS.
    :param logger: where the server's log lines go (default: the logger ``news-server``).
    """

    allow_reuse_address = True      # a restarted server can bind its port at once
    request_queue_size = 64         # the listen() backlog: room for a classroom connecting at once
    daemon_threads = True           # reader threads do not keep the process alive
    block_on_close = False

    def __init__(self, address, spool: Spool, *, accounts: dict[str, str] | None = None,
                 path_host: str = "news.lab.test", idle_timeout: float = 180.0, post_timeout: float = 600.0,
                 max_clients: int = 64, max_per_address: int = 32, max_article: int = 1_000_000,
                 require_auth: bool = False,
                 tls_context: ssl.SSLContext | None = None, handler=NNTPHandler,
                 logger: logging.Logger | None = None) -> None:
        self.spool = spool
        self.accounts = dict(accounts or {})
        self.path_host = path_host
        self.idle_timeout = idle_timeout
        self.post_timeout = post_timeout
        self.max_article = max_article
        self.require_auth = require_auth
        self.tls_context = tls_context
        self.log = logger or log
        self._slots = threading.BoundedSemaphore(max_clients)
        self.max_per_address = max_per_address
        self._per_address = PerAddress(max_per_address)
        self._holding: set = set()              # the requests whose slot is taken
        self._holding_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        """Start a thread for the reader, or turn it away when *max_clients* are connected
        (or *max_per_address* from its address)."""
        if not self._admit(client_address):
            self.log.info("%s turned away: too many readers from that address", client_address)
            self._turn_away(request, b"400 Too many connections from your address, try again later\r\n")
            return
        if not self._slots.acquire(blocking=False):
            self._release(client_address)
            self.log.info("%s turned away: too many readers", client_address)
            self._turn_away(request, b"400 Too many connections, try again later\r\n")
            return
        with self._holding_lock:
            self._holding.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            # The thread may not have started (no thread to be had), or it may have started
            # and even finished: SIGTERM (a KeyboardInterrupt, see socklab/serving.py) can
            # arrive while Thread.start() is still returning.  The slot is given back once,
            # here or by the thread, and the interrupt goes on: the server stops.
            self._give_back(request, client_address)
            raise

    def _turn_away(self, request, line: bytes) -> None:
        try:
            request.sendall(line)
        except OSError:
            pass
        self.shutdown_request(request)

    def _admit(self, client_address) -> bool:
        return self._per_address.take(client_address[0] if client_address else "")

    def _release(self, client_address) -> None:
        self._per_address.give_back(client_address[0] if client_address else "")

    def _give_back(self, request, client_address) -> None:
        """The reader's slot (and its address's count) back, the first time only."""
        with self._holding_lock:
            if request not in self._holding:
                return
            self._holding.discard(request)
        self._slots.release()
        self._release(client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._give_back(request, client_address)

    def handle_error(self, request, client_address) -> None:
        # The default prints a traceback to stderr; one log line is what a reader of the log wants.
        exc = sys.exc_info()[1]
        self.log.warning("session with %s failed: %s: %s; still serving",
                         client_address, type(exc).__name__, exc)


def open_spool(path: str | Path, *, path_host: str = "news.lab.test", seed_new: bool = True) -> Spool:
    """Open the spool at *path*; on the very first start, create and fill its groups.

    A file ``seeded`` in the spool records that the seed is complete; seeding is
    idempotent, so a start interrupted halfway simply finishes it the next time.
    """
    spool = Spool(path, path_host=path_host)
    marker = spool.root / "seeded"
    if seed_new and not marker.exists():
        count = seed(spool)
        write_atomically(marker, b"The seed groups and articles are written; they are never written again.\n")
        log.info("new spool: seeded %d articles in %d groups", count, len(spool.groups()))
    return spool


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context with the host's certificate and key (TLS 1.2 or later)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="news-server", description="The lab's NNTP news server (RFC 3977).")
    p.add_argument("--host", default="", help="address to bind (default: all interfaces)")
    p.add_argument("--port", type=int, default=PORT, help=f"port to listen on (default: {PORT})")
    p.add_argument("--spool", default=env("NEWS_SPOOL", SPOOL),
                   help=f"directory of groups and articles (default: {SPOOL})")
    p.add_argument("--path-host", default=env("NEWS_PATH_HOST", "news.lab.test"),
                   help="the server's name in Path, Xref and message-ids (default: news.lab.test)")
    p.add_argument("--idle-timeout", type=float, default=180.0, metavar="SECONDS",
                   help="time to send a command line; a silent or slower reader is disconnected "
                        "(default: 180, RFC 3977's minimum)")
    p.add_argument("--post-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="time to send a whole article after POST (default: 600)")
    p.add_argument("--max-clients", type=int, default=64, help="readers at once (default: 64)")
    p.add_argument("--max-per-address", type=int, default=32,
                   help="readers at once from one address (default: 32; 0: no limit)")
    p.add_argument("--max-article", type=int, default=1_000_000, metavar="OCTETS",
                   help="largest article POST accepts (default: 1000000)")
    p.add_argument("--auth-required", action="store_true",
                   help="only logged-in readers may read or post (default: anyone may)")
    p.add_argument("--no-seed", action="store_true", help="do not fill a new spool with the lab's groups")
    p.add_argument("--tls-cert", default=None, metavar="PEM",
                   help="certificate for STARTTLS (the lab: /etc/socklab/tls/news.crt); without it, no TLS")
    p.add_argument("--tls-key", default=None, metavar="PEM", help="the certificate's private key")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")

    configure()
    accounts = {env("NEWS_USER", "student"): env("NEWS_PASSWORD", "password")}
    spool = open_spool(args.spool, path_host=args.path_host, seed_new=not args.no_seed)
    context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    with NewsServer((args.host, args.port), spool, accounts=accounts, path_host=args.path_host,
                    idle_timeout=args.idle_timeout, post_timeout=args.post_timeout,
                    max_clients=args.max_clients, max_per_address=args.max_per_address,
                    max_article=args.max_article, require_auth=args.auth_required,
                    tls_context=context) as server:
        log.info("NNTP server on %s, spool %s, accounts: %s, STARTTLS: %s", server.server_address,
                 spool.root, ", ".join(accounts), "yes" if context else "no")
        serve_until_stopped(server, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
