"""``ftp-server``: the lab hosts ``ftp`` and ``ftp-backup``, built on pyftpdlib.

pyftpdlib does the protocol; this module decides how the lab's server behaves, in the
places pyftpdlib leaves open for that -- handler class attributes and hook methods:

* **accounts** (:class:`LabAuthorizer`): ``anonymous`` reads ``/pub`` and nothing else;
  one named account (``student``/``password`` unless ``FTP_USER``/``FTP_PASSWORD`` say
  otherwise) may do anything in its own home.  pyftpdlib keeps every path inside the
  account's home: ``..`` stops at "/", absolute paths are taken from the home, and a
  symbolic link that leads outside is refused (550).
* **passive mode through a published port** (:meth:`LabCommands.on_connect`): a PASV
  reply carries an IP address.  A client on the lab network must be told the server's
  own address; a client on the host reaches the server through Docker's published ports,
  arrives from the network's gateway, and must be told ``127.0.0.1`` (the passive ports
  are published one to one, so the port numbers are right on both sides).
* **FTPS**: explicit ``AUTH TLS`` with the host's certificate from the lab CA.
* **limits**: connections in total and per client address, an idle timeout, and a
  command line longer than :attr:`~.pyftpdlib_fixes.ControlFixes.max_line` answered with one clear ``500``.
* **no half-written upload under a file's name after a crash** (:class:`JournaledUpload`):
  a ``STOR`` is noted in a journal (``<root>/.uploads``) until it is settled; it is
  ``fsync``-ed before its ``226``; a server killed mid-upload finds the note at its next
  start and removes the half file.  A full disk is answered ``452`` (``552`` for a quota)
  in one line, and the partial upload is removed.
* **one log line per misbehaving client** (:mod:`.pyftpdlib_fixes`):
  pyftpdlib logs a traceback for a TLS error, a client that vanished during a delayed
  reply, or a command pipelined behind ``AUTH TLS``; here each is one line.
* **HASH** (:meth:`LabCommands.ftp_HASH`): the checksum of a file computed by the
  server, so a client can check a transfer without fetching the file again -- the
  ``HASH`` command of draft-bryan-ftpext-hash, with ``OPTS HASH`` to pick the algorithm.

Every connection gets its own thread (pyftpdlib's :class:`ThreadedFTPServer`), so a
client whose checksum or disk access takes a while never holds up the others.

What cannot be done through pyftpdlib's public attributes and hooks -- overrides of its
private methods and attributes -- is in :mod:`.pyftpdlib_fixes`, written for one pyftpdlib
version, which the server checks at start-up.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import struct
import tempfile
import threading
from pathlib import Path

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS, FilesystemError
from pyftpdlib.handlers import DTPHandler, FTPHandler, PassiveDTP, ThrottledDTPHandler, TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import IOLoop

from socklab.log import add_one_line_filter, configure
from socklab.services.ftp import seed
from socklab.services.ftp.pyftpdlib_fixes import (ControlFixes, DataFixes, PyftpdlibVersionError, TLSFixes,
                                                  ThreadedServerFixes, check_version)
from socklab.serving import serve_until_stopped

PORT = 21
ROOT = "/srv/ftp"
TLS_DIR = "/etc/socklab/tls"
USER_PERMS = "elradfmwMT"      # everything: list, read, append, delete, rename, mkdir, write, chmod, mtime
ANONYMOUS_PERMS = "elr"        # change directory, list, read
# HASH algorithms by the names of draft-bryan-ftpext-hash, and hashlib's names for them
HASH_ALGORITHMS = {"SHA-256": "sha256", "SHA-512": "sha512", "SHA-1": "sha1", "MD5": "md5"}


class LabAuthorizer(DummyAuthorizer):
    """pyftpdlib's in-memory accounts, with passwords compared in constant time."""

    def validate_authentication(self, username, password, handler):
        if not self.has_user(username):
            raise AuthenticationFailed("Anonymous access not allowed." if username == "anonymous"
                                       else "Authentication failed.")
        if username != "anonymous":
            expected = self.user_table[username]["pwd"].encode()
            if not hmac.compare_digest(expected, password.encode("utf-8", "replace")):
                raise AuthenticationFailed("Authentication failed.")


class LabCommands(ControlFixes):
    """What socklab adds to pyftpdlib's command handler (mixed into the plain and TLS ones).

    Configured through class attributes, like every pyftpdlib handler; :class:`FTPLabServer`
    makes a subclass per server with the values it was given.  (What it must change inside
    pyftpdlib comes from :class:`~.pyftpdlib_fixes.ControlFixes`.)
    """

    #: tell clients arriving from one of ``published_from`` to use this address in PASV
    published_address: str | None = None
    published_from: frozenset[str] = frozenset()

    extra_cmds = {
        "HASH": dict(perm="r", auth=True, arg=True,
                     help="Syntax: HASH <SP> file-name (checksum of a file, see OPTS HASH)."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hash_algo = "SHA-256"

    # --- where the client came from decides what a PASV reply says

    def on_connect(self):
        peer = self.remote_ip.removeprefix("::ffff:")
        if self.published_address and peer in self.published_from:
            # an instance attribute wins over the class default that PassiveDTP reads
            self.masquerade_address = self.published_address
        super().on_connect()

    # --- HASH and OPTS HASH

    def extra_features(self) -> list[str]:
        """``FEAT`` lists HASH with its algorithms, the one in use starred."""
        return [*super().extra_features(),
                "HASH " + ";".join(name + ("*" if name == self._hash_algo else "") for name in HASH_ALGORITHMS)]

    def ftp_OPTS(self, line):
        name, _, value = line.strip().partition(" ")
        if name.upper() != "HASH":
            return super().ftp_OPTS(line)
        value = value.strip().upper()
        if not value:
            self.respond(f"200 {self._hash_algo}")
        elif value in HASH_ALGORITHMS:
            self._hash_algo = value
            self.respond(f"200 {value}")
        else:
            self.respond(f"504 Unknown algorithm {value}; known: {', '.join(HASH_ALGORITHMS)}.")

    def ftp_HASH(self, path):
        """Reply ``213 <algorithm> 0-<size> <hex digest> <file>`` for a regular file."""
        h = hashlib.new(HASH_ALGORITHMS[self._hash_algo])
        size = 0
        try:
            if not self.fs.lexists(path):
                self.respond("550 No such file or directory.")
                return None
            if not self.fs.isfile(path):
                self.respond(f'550 "{self.fs.fs2ftp(path)}" is not a regular file.')
                return None
            with self.fs.open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
        except (OSError, FilesystemError) as err:
            why = os.strerror(err.errno) if getattr(err, "errno", None) else str(err)
            self.respond(f"550 {why}.")
            return None
        self.respond(f"213 {self._hash_algo} 0-{size} {h.hexdigest()} {self.fs.fs2ftp(path)}")
        return path

    # --- log what students should see in `make logs`

    def on_incomplete_file_received(self, file):
        if os.path.exists(file):
            self.log(f"incomplete upload kept (a client may resume it with REST): {file}")

    def on_incomplete_file_sent(self, file):
        self.log(f"download of {file} ended early (client aborted or went away)")


class JournaledUpload:
    """The file object of a ``STOR``, with a note in a journal while it is being written.

    pyftpdlib writes an upload straight to its name (a resume with ``REST`` needs that),
    so a server killed mid-upload would leave half a file under a name a client may take
    for a whole one.  Here, before the first byte, a note naming the file goes into
    ``<root>/.uploads`` (the journal, on the same volume, outside every home); the note is
    removed only when the upload is settled -- complete and ``fsync``-ed *before* the
    ``226`` goes out, or cut off by the client and kept for a resume.  At the next start,
    :meth:`recover` removes every file a note still names: half-written, never
    acknowledged.  ``name`` is the file's own name (pyftpdlib logs it).
    """

    def __init__(self, final: str, journal: str) -> None:
        fd, self.note = tempfile.mkstemp(dir=journal, prefix="upload-")
        try:
            os.write(fd, os.fsencode(final))
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_directory(journal)
        try:
            self._file = open(final, "wb")
        except OSError:
            os.unlink(self.note)
            raise
        self.name = final

    @property
    def closed(self) -> bool:
        return self._file.closed

    def write(self, data) -> int:
        return self._file.write(data)

    def fileno(self) -> int:
        return self._file.fileno()

    def commit(self, durable: bool = True) -> None:
        """Settle the upload as it is (after fsync if *durable*). Raises OSError (e.g. ENOSPC)."""
        try:
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        if durable:
            _fsync_directory(os.path.dirname(self.name) or ".")
        os.unlink(self.note)

    def discard(self) -> None:
        """Remove the upload (a full disk: keep nothing, free the space)."""
        try:
            self._file.close()
        except OSError:
            pass
        for path in (self.name, self.note):
            try:
                os.unlink(path)
            except OSError:
                pass

    def close(self) -> None:
        """pyftpdlib closes the file itself where LabDataHandler did not: keep what came."""
        if not self._file.closed:
            self.commit(durable=False)

    @staticmethod
    def recover(journal: Path, log) -> None:
        """After a crash: remove the files whose upload never finished, and their notes."""
        for note in journal.iterdir():
            try:
                target = os.fsdecode(note.read_bytes())
                if target and os.path.isfile(target) and not os.path.islink(target):
                    os.unlink(target)
                    log.info("removed %s: its upload was cut off by a crash, never acknowledged", target)
            except OSError as exc:
                log.info("journal note %s: %s", note.name, exc)
            note.unlink(missing_ok=True)


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LabFS(AbstractedFS):
    """pyftpdlib's file system view, with ``STOR`` going through :class:`JournaledUpload`."""

    journal: str = ""          # FTPLabServer sets it: <root>/.uploads

    def open(self, filename, mode):
        if mode != "wb" or not self.journal:
            return super().open(filename, mode)
        return JournaledUpload(filename, self.journal)


class LabPassiveDTP(PassiveDTP):
    """The listening socket of a PASV/EPSV, opened one at a time per server.

    With a thread per client, two clients can pick the same free port of the passive
    range at the same moment: both ``bind`` it (SO_REUSEADDR allows that until one of them
    listens) and the second ``listen`` fails with EADDRINUSE, which pyftpdlib does not
    expect -- that client's session is dropped.  Choosing, binding and listening under
    one lock makes the second client see the port taken and pick another.
    """

    bind_lock = threading.Lock()       # FTPLabServer gives each server its own

    def __init__(self, cmd_channel, extmode=False):
        with self.bind_lock:
            super().__init__(cmd_channel, extmode)


class LabFTPHandler(LabCommands, FTPHandler):
    """Plain FTP (no certificate configured)."""

    proto_cmds = {**FTPHandler.proto_cmds, **LabCommands.extra_cmds}


class LabDTPHandler(DataFixes, DTPHandler):
    """The data connection of plain FTP."""


class LabThrottledDTPHandler(DataFixes, ThrottledDTPHandler):
    """The data connection of plain FTP, at most ``read_limit``/``write_limit`` bytes per second."""


class LabTLSDTPHandler(DataFixes, TLSFixes, TLS_DTPHandler):
    """The data connection of FTPS (``PROT P`` makes it TLS)."""


class LabThrottledTLSDTPHandler(DataFixes, TLSFixes, TLS_DTPHandler, ThrottledDTPHandler):
    """The data connection of FTPS, throttled."""


class LabThreadedServer(ThreadedServerFixes):
    """pyftpdlib's thread-per-connection server, with the fixes that let several run in one
    process (see :class:`~.pyftpdlib_fixes.ThreadedServerFixes`)."""


class LabFTPSHandler(LabCommands, TLSFixes, TLS_FTPHandler):
    """FTP with explicit ``AUTH TLS`` (RFC 4217); TLS stays optional for the client."""

    proto_cmds = {**TLS_FTPHandler.proto_cmds, **LabCommands.extra_cmds}


def tls_context(certfile: str, keyfile: str):
    """A pyOpenSSL server context: the host's certificate and key, TLS 1.2 or newer."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_options(SSL.OP_NO_COMPRESSION)
    ctx.use_certificate_chain_file(certfile)
    ctx.use_privatekey_file(keyfile)
    ctx.check_privatekey()
    return ctx


def default_gateways(route_table: str = "/proc/net/route") -> set[str]:
    """The IPv4 default gateways of this network namespace (in a container: Docker's bridge).

    Connections to a port Docker publishes on the host arrive from this address.
    """
    gateways = set()
    try:
        with open(route_table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000" and fields[2] != "00000000":
                    gateways.add(socket.inet_ntoa(struct.pack("<L", int(fields[2], 16))))
    except OSError:
        pass
    return gateways


class FTPLabServer:
    """One FTP host of the lab.

    :param address: ``(host, port)`` to listen on.
    :param root: the server's directory (``public/`` for anonymous, ``home/<user>/``).
    :param users: named accounts, ``{name: password}``; each gets full rights in its home.
    :param anonymous: let ``anonymous`` read ``/pub``.
    :param name: the host's name, shown in the greeting.
    :param passive_ports: the ports PASV may open (``None``: any the kernel picks).
    :param published_address: what a PASV reply tells clients that come from one of
        *published_from* (the host, through Docker's published ports).
    :param certfile, keyfile: the TLS certificate and key; without them no ``AUTH TLS``.
    :param max_cons, max_cons_per_ip: connection limits (0: none).
    :param idle_timeout: seconds a control (or stalled data) connection may stay silent.
    :param max_line: longest command line, in bytes.
    :param auth_failed_delay: seconds to wait before answering a wrong password.
    :param rate_limit: bytes per second per data connection, each way (0: no limit) --
        slows transfers down enough to watch them, or to stop one half-way.
    :param outbox: data files for each new home's ``outbox/`` (the bulk move's material).
    :param logger: where the server's own log lines go (default: the logger named *name*).
    """

    def __init__(self, address=("0.0.0.0", PORT), *, root: str | os.PathLike = ROOT,
                 users: dict[str, str] | None = None, anonymous: bool = True, name: str = "ftp",
                 passive_ports: list[int] | None = None, published_address: str | None = None,
                 published_from=(), certfile: str | None = None, keyfile: str | None = None,
                 max_cons: int = 64, max_cons_per_ip: int = 16, idle_timeout: float = 300.0,
                 max_line: int = 2048, auth_failed_delay: float = 3.0, rate_limit: int = 0,
                 outbox: int = 0, logger: logging.Logger | None = None) -> None:
        check_version()                             # before any fix of pyftpdlib's insides is used
        self.log = logger or logging.getLogger(name)
        add_one_line_filter(logging.getLogger("pyftpdlib"))   # pyftpdlib's logger: one line per record
        self.name = name
        self.root = Path(root)
        users = dict(users or {})
        homes = seed.prepare(self.root, list(users), anonymous=anonymous, outbox=outbox)
        journal = self.root / ".uploads"        # notes of uploads in progress; outside every home
        journal.mkdir(exist_ok=True)
        JournaledUpload.recover(journal, self.log)

        authorizer = LabAuthorizer()
        if anonymous:
            authorizer.add_anonymous(str(homes["anonymous"]), perm=ANONYMOUS_PERMS,
                                     msg_login="Anonymous access: read-only; see /pub/README.txt.")
        for user, password in users.items():
            authorizer.add_user(user, password, str(homes[user]), perm=USER_PERMS,
                                msg_login=f"Welcome, {user}: this is your home directory on {name}.")

        # pyftpdlib is configured through class attributes: this server's values go into
        # subclasses of its own, so that two servers in one process keep theirs apart.
        tls = bool(certfile)
        if tls:
            data_base = LabThrottledTLSDTPHandler if rate_limit else LabTLSDTPHandler
        else:
            data_base = LabThrottledDTPHandler if rate_limit else LabDTPHandler

        class DataHandler(data_base):
            timeout = idle_timeout                      # a stalled transfer is dropped too
            read_limit = write_limit = rate_limit       # used by the throttled handlers only

        class UploadFS(LabFS):
            pass

        class PassiveListener(LabPassiveDTP):
            bind_lock = threading.Lock()                # one per server

        class Handler(LabFTPSHandler if tls else LabFTPHandler):
            banner = f"socklab {name} (pyftpdlib) ready{'; AUTH TLS available' if tls else ''}."
            timeout = idle_timeout
            auth_failed_timeout = auth_failed_delay
            dtp_handler = DataHandler
            abstracted_fs = UploadFS
            passive_dtp = PassiveListener

        UploadFS.journal = str(journal)                 # (a name assigned in a class body
        Handler.authorizer = authorizer                 # cannot also be read from this function)
        Handler.passive_ports = passive_ports
        Handler.published_address = published_address
        Handler.published_from = frozenset(published_from)
        Handler.max_line = max_line
        if tls:
            Handler.ssl_context = tls_context(certfile, keyfile or certfile)
        self.handler = Handler

        # an IOLoop of its own: pyftpdlib's default is one per process, shared by every server
        self.server = LabThreadedServer(address, self.handler, ioloop=IOLoop())
        self.server.max_cons = max_cons
        self.server.max_cons_per_ip = max_cons_per_ip
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._serving = False

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def serve_forever(self, poll: float = 0.5) -> None:
        """Accept clients (each gets a thread) until :meth:`shutdown`."""
        h = self.handler
        self.log.info("%s listening on %s:%s; passive ports %s; TLS %s; limits: %s connections, %s per address, "
                      "idle %g s", self.name, *self.address,
                      f"{h.passive_ports[0]}-{h.passive_ports[-1]}" if h.passive_ports else "any",
                      "on (AUTH TLS)" if issubclass(h, TLS_FTPHandler) else "off",
                      self.server.max_cons or "no limit", self.server.max_cons_per_ip or "no limit", h.timeout)
        if h.published_address:
            self.log.info("clients from %s (published ports) are told to connect to %s",
                          ", ".join(sorted(h.published_from)) or "nowhere", h.published_address)
        self._serving = True
        try:
            while not self._stopping.is_set():
                self.server.serve_forever(timeout=poll, blocking=False, handle_exit=False)
        finally:
            self.server.close_all()
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving; returns once every connection is closed."""
        self._stopping.set()
        if self._serving:
            self._stopped.wait(10)
        else:
            self.server.close_all()

    def __enter__(self) -> "FTPLabServer":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def port_range(text: str) -> list[int]:
    """``"20030-20049"`` -> ``[20030, ..., 20049]``."""
    first, _, last = text.partition("-")
    ports = list(range(int(first), int(last or first) + 1))
    if not ports or not all(0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"not a port range: {text!r}")
    return ports


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ftp-server", description="The lab's FTP server (pyftpdlib).")
    p.add_argument("--name", default="ftp", help="this host's name: greeting, certificate file (default: ftp)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all IPv4 addresses)")
    p.add_argument("--port", type=int, default=PORT, help=f"control port (default: {PORT})")
    p.add_argument("--root", default=ROOT, help=f"the server's files (default: {ROOT})")
    p.add_argument("--passive-ports", type=port_range, metavar="FIRST-LAST",
                   help="ports for passive data connections (default: any)")
    p.add_argument("--published-address", default="127.0.0.1", metavar="IP",
                   help="address a PASV reply gives clients that come through a published port "
                        "(default: 127.0.0.1); 'none' to always give the server's own address")
    p.add_argument("--published-from", default="gateway", metavar="IP[,IP...]",
                   help="where those clients come from (default: 'gateway', the default gateway, "
                        "which is where Docker's published ports connect from)")
    p.add_argument("--cert", help=f"TLS certificate (default: {TLS_DIR}/NAME.crt if it exists)")
    p.add_argument("--key", help=f"TLS key (default: {TLS_DIR}/NAME.key)")
    p.add_argument("--no-tls", action="store_true", help="do not offer AUTH TLS")
    p.add_argument("--max-cons", type=int, default=64, help="connections at once (default: 64)")
    p.add_argument("--max-cons-per-ip", type=int, default=16, help="connections from one address (default: 16)")
    p.add_argument("--idle-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="drop a client silent for this long (default: 300)")
    p.add_argument("--rate-limit", type=int, default=0, metavar="BYTES",
                   help="bytes per second per data connection, to watch transfers happen (default: no limit)")
    p.add_argument("--outbox", type=int, default=0, metavar="N",
                   help="put N data files in each new home's outbox/ (default: 0)")
    p.add_argument("--no-anonymous", action="store_true", help="refuse anonymous logins")
    args = p.parse_args(argv)
    configure()

    # Accounts come from the environment (compose.yaml passes FTP_USER/FTP_PASSWORD), so
    # changing them needs no change of code.
    user, password = os.environ.get("FTP_USER", "student"), os.environ.get("FTP_PASSWORD", "password")
    cert = args.cert or f"{TLS_DIR}/{args.name}.crt"
    key = args.key or (args.cert and args.cert.rsplit(".", 1)[0] + ".key") or f"{TLS_DIR}/{args.name}.key"
    use_tls = not args.no_tls and os.path.exists(cert)
    if args.published_from == "gateway":
        published_from = default_gateways()
    else:
        published_from = {str(ipaddress.ip_address(a)) for a in args.published_from.split(",") if a}
    published_address = None if args.published_address == "none" else args.published_address

    try:
        check_version()
    except PyftpdlibVersionError as exc:
        p.exit(1, f"ftp-server: {exc}\n")
    try:
        server = FTPLabServer(
            (args.host, args.port), root=args.root, users={user: password}, anonymous=not args.no_anonymous,
            name=args.name, passive_ports=args.passive_ports, published_address=published_address,
            published_from=published_from, certfile=cert if use_tls else None, keyfile=key if use_tls else None,
            max_cons=args.max_cons, max_cons_per_ip=args.max_cons_per_ip, idle_timeout=args.idle_timeout,
            rate_limit=args.rate_limit, outbox=args.outbox)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            p.exit(1, f"ftp-server: port {args.port} is already in use\n")
        raise
    if not use_tls and not args.no_tls:
        server.log.warning("no certificate at %s: AUTH TLS is not offered", cert)
    serve_until_stopped(server, server.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
