"""Every place where the lab's FTP server reaches into pyftpdlib's private parts -- together.

pyftpdlib is configured through public class attributes and hook methods, and
:mod:`socklab.services.ftp.server` uses only those.  A few things cannot be done that way:
a loop that spins for ever on a half-closed TLS session, a traceback logged for what a
client can cause, a count of connections that lets one too many in, state shared by every
server of a process.  The fixes for them override underscore methods and read underscore
attributes of pyftpdlib's classes: names that may change, or mean something else, in any
release.  So they live here, and only here, written for one version of pyftpdlib
(:data:`WRITTEN_FOR`); :func:`check_version` refuses to start on another one, naming both,
instead of letting a fix misbehave quietly.  Moving to a new pyftpdlib means reading this
module against its source, then changing :data:`WRITTEN_FOR`.

* :class:`ControlFixes` -- mixed into the control-connection handler;
* :class:`DataFixes` -- mixed into the data-connection handler;
* :class:`TLSFixes` -- mixed into both handlers when TLS is on;
* :class:`ThreadedServerFixes` -- the thread-per-connection server.
"""

from __future__ import annotations

import errno
import os
import sys
import threading

import pyftpdlib
from pyftpdlib.handlers import _FileReadWriteError
from pyftpdlib.log import logger
from pyftpdlib.servers import ThreadedFTPServer

#: the pyftpdlib release these fixes were written for, and tested with
WRITTEN_FOR = "1.5.7"


class PyftpdlibVersionError(RuntimeError):
    """The installed pyftpdlib is not the one :data:`WRITTEN_FOR` names."""


def check_version(installed: str | None = None) -> None:
    """Raise :class:`PyftpdlibVersionError` unless pyftpdlib is the :data:`WRITTEN_FOR` release.

    *installed* defaults to the running pyftpdlib's ``__ver__``.
    """
    installed = pyftpdlib.__ver__ if installed is None else installed
    if installed != WRITTEN_FOR:
        raise PyftpdlibVersionError(
            f"pyftpdlib {installed} is installed, but the lab's FTP server patches private parts of "
            f"pyftpdlib {WRITTEN_FOR} (services/ftp/pyftpdlib_fixes.py); install pyftpdlib=={WRITTEN_FOR} "
            f"or check those fixes against {installed}")


class ControlFixes:
    """Mixed into the control-connection handler (plain or TLS).

    * one log line, never a traceback, for what a client can cause (:meth:`handle_error`);
    * a session closed during the wait after a wrong password is not put back in the loop;
    * bytes pipelined behind ``AUTH TLS`` are discarded (sent in the clear: CVE-2011-0411);
    * a command line longer than :attr:`max_line` is answered with one clear ``500``;
    * an argument with a NUL byte is answered ``501`` (no file name can hold one: pyftpdlib
      passed it to the file system, which raised, and the session ended);
    * a transfer whose data connection was not yet accepted when the session ended is
      logged as one cut off (:meth:`close`);
    * :meth:`extra_features` adds lines to the ``FEAT`` reply.
    """

    #: the longest command line accepted, in bytes (pyftpdlib's own limit is 2048 too)
    max_line = 2048

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._discarding = False        # inside a too-long line, until its CRLF

    def extra_features(self) -> list[str]:
        """More ``FEAT`` lines (a subclass adds its own commands' features)."""
        return []

    def handle_error(self):
        """pyftpdlib logs a traceback here (and for errors of scheduled calls, which end here
        too); a misbehaving or vanished client is worth one line, and the session is closed."""
        log_error_line(self, sys.exc_info()[1])
        self._error = True                   # TLS: close at once, no close_notify exchange
        try:
            self.close()
        except Exception as exc:             # noqa: BLE001 -- closing a broken connection
            self.log(f"closing after the error failed too: {one_line(exc)}")

    def close(self):
        """``STOR`` and ``RETR`` are answered ``150`` before the data connection is accepted;
        their file waits in a queue meanwhile.  A session that ends then (the client went at
        once -- on a busy server its data connection may simply come second) had its file
        closed without a word.  It is settled and logged as a transfer cut off mid-way is
        (the transfer line, then the on_incomplete_* hook): 0 bytes, an upload kept empty."""
        file = None                         # stays None for a listing: it has no file
        if not self._closed and self.data_channel is None:
            if self._in_dtp_queue is not None:
                (file, cmd), receive = self._in_dtp_queue, True
            elif self._out_dtp_queue is not None:
                (_data, _producer, file, cmd), receive = self._out_dtp_queue, False
        if file is not None:
            try:
                file.close()                # an upload: settled, kept as it is (JournaledUpload)
            except OSError as exc:
                self.log(f"closing the file of the {cmd} failed: {one_line(exc)}")
            self.log_transfer(cmd=cmd, filename=file.name, receive=receive, completed=False, elapsed=0.0, bytes=0)
            (self.on_incomplete_file_received if receive else self.on_incomplete_file_sent)(file.name)
        super().close()

    def add_channel(self, map=None, events=None):
        # After a wrong password pyftpdlib takes the connection out of its loop and puts it
        # back later (auth_failed_delay); if the session was closed meanwhile (idle timeout,
        # the client left), registering its closed socket fails with EBADF.
        if getattr(self, "_closed", False):
            return
        super().add_channel(map, events)

    def ftp_AUTH(self, line):
        super().ftp_AUTH(line)
        # Whatever the client sent after AUTH TLS, before the handshake, was sent in the
        # clear and must not be read as if it came through TLS (the "STARTTLS command
        # injection" of CVE-2011-0411).  pyftpdlib would go on parsing it -- and answer it
        # through a TLS connection that has no handshake yet, which fails with a traceback.
        if self._ssl_requested and self.ac_in_buffer:
            self.log(f"discarded {len(self.ac_in_buffer)} bytes sent in the clear after AUTH TLS")
            self.ac_in_buffer = b""

    def ftp_FEAT(self, line):
        saved = self._extra_feats
        self._extra_feats = [*saved, *self.extra_features()]
        try:
            super().ftp_FEAT(line)
        finally:
            self._extra_feats = saved

    # --- one clear reply for a line that is too long

    def collect_incoming_data(self, data):
        if self._discarding:
            return
        self._in_buffer.append(data)
        self._in_buffer_len += len(data)
        if self._in_buffer_len > self.max_line:
            self._in_buffer, self._in_buffer_len = [], 0
            self._discarding = True

    def pre_process_command(self, line, cmd, arg):
        if "\0" in arg:
            self.logline("<- " + line.replace("\0", "\\x00"))
            msg = "Syntax error: a NUL byte in the argument (no name can hold one)."
            self.respond("501 " + msg)
            self.log_cmd(cmd, arg.replace("\0", "\\x00"), 501, msg)
            return
        super().pre_process_command(line, cmd, arg)

    def found_terminator(self):
        if self._discarding:
            self._discarding = False
            if self._idler is not None and not self._idler.cancelled:
                self._idler.reset()
            self.respond_w_warning(f"500 Command line too long (more than {self.max_line} bytes); ignored.")
            return
        super().found_terminator()


class DataFixes:
    """Mixed into the data-connection handler: two fixes to pyftpdlib 1.5.7, and what
    a failed transfer answers.

    * A TLS client may start its handshake on a passive data connection as soon as it has
      connected, before it sends RETR or LIST (curl does).  pyftpdlib closes a data
      connection that has something to read before a transfer was asked for; while the
      handshake is under way it must stay open (the fix pyftpdlib made after 1.5.7).
    * pyftpdlib describes a transfer in its log lines by asking, among other things,
      whether it uses sendfile(), which asks the file for its descriptor; once the file is
      closed (a client that vanished mid-transfer) that raises ValueError inside logging.
    """

    def readable(self):
        if getattr(self, "_ssl_accepting", False):
            return True
        return super().readable()

    def use_sendfile(self):
        try:
            return super().use_sendfile()
        except ValueError:          # "I/O operation on closed file"
            return False

    # --- a full disk: 452 in one line; an upload renamed to its name before its 226

    def handle_error(self):
        exc = sys.exc_info()[1]
        cause = exc.args[0] if isinstance(exc, _FileReadWriteError) and exc.args else exc
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            first = not getattr(self, "_no_space", False)
            self._no_space = True
            self._resp = (storage_reply(cause, self.file_obj), logger.warning)
            if first and hasattr(self.file_obj, "discard"):
                # Free the space now, but read on: closing a connection with unread data
                # resets it, and a client still sending (ftplib's storbinary) would meet
                # the reset instead of the 452.  The 452 goes out when the client has sent
                # all (handle_close) -- or, past DROP_LIMIT, at once.
                self.file_obj.discard()
                self.file_obj = Dropped(self.file_obj.name, DROP_LIMIT)
                return
        elif isinstance(exc, _FileReadWriteError):
            self._resp = (f"426 {one_line(cause)}; transfer aborted.", logger.warning)
        else:
            log_error_line(self.cmd_channel, exc, what="data connection")
            self._resp = ("426 Data connection failed; transfer aborted.", logger.warning)
        self._error = True
        try:
            self.close()
        except Exception as err:            # noqa: BLE001
            self.cmd_channel.log(f"closing the data connection failed too: {one_line(err)}")

    def handle_close(self):
        if getattr(self, "_no_space", False) and not self._closed:
            self.close()            # the client has sent all it had: the 452, not a 226
            return
        super().handle_close()

    def close(self):
        upload = self.file_obj
        # an upload that LabFS opened (a JournaledUpload in server.py) is settled here
        if not self._closed and hasattr(upload, "commit") and not upload.closed:
            try:
                if getattr(self, "_no_space", False):
                    upload.discard()
                else:
                    # complete: durable before the 226 goes out; incomplete (the client
                    # went away): kept, for a resume with REST
                    upload.commit(durable=self.transfer_finished)
            except OSError as err:
                upload.discard()
                self.transfer_finished = False
                self._resp = (storage_reply(err, upload), logger.warning)
        super().close()


DROP_LIMIT = 16 << 20      # bytes of a refused upload read and dropped before the connection is cut


class Dropped:
    """Stands for an upload refused for want of space: what the client still sends is
    counted and dropped, up to *limit* bytes; past that, the disk is full again."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.dropped = 0
        self.closed = False

    def write(self, data) -> int:
        self.dropped += len(data)
        if self.dropped > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(data)

    def close(self) -> None:
        self.closed = True


def one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and message, no traceback."""
    text = " ".join(str(exc).split()) or getattr(exc, "strerror", None) or ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def log_error_line(channel, exc: BaseException | None, what: str = "session") -> None:
    """One log line for an error pyftpdlib would log as a traceback, with where it happened."""
    where = ""
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" (at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno})"
    message = f"{what} ended by an error: {one_line(exc) if exc else 'unknown'}{where}"
    try:
        channel.log(message)
    except Exception:                        # noqa: BLE001 -- a half-built handler
        logger.info(message)


def storage_reply(err: OSError, upload=None) -> str:
    """452 for a full disk (RFC 959: insufficient storage space), 552 for a quota."""
    name = os.path.basename(getattr(upload, "name", "") or "") or "the file"
    if err.errno == errno.EDQUOT:
        return f"552 Exceeded storage allocation (disk quota); {name} not stored."
    if err.errno == errno.ENOSPC:
        return f"452 Insufficient storage space (the disk is full); {name} not stored."
    return f"451 {os.strerror(err.errno) if err.errno else one_line(err)}; {name} not stored."


class TLSFixes:
    """Mixed into the TLS handlers (control and data): two pyftpdlib 1.5.7 loops closed.

    * A peer that half-closes its socket in a TLS session leaves pyftpdlib's TLS shutdown
      unfinished on a connection at end-of-file: it calls SSL_shutdown on every poll, for
      ever -- a thread spinning at full speed that also keeps a connection slot (and
      soon "421 Too many connections" for everyone from that address).  Closed at once.
    * A TLS error that is not one pyftpdlib expects (``SSL.Error`` from send or recv)
      would end in a traceback; it is one log line and the connection is closed.
    """

    def _do_ssl_shutdown(self):
        super()._do_ssl_shutdown()
        if self._ssl_closing and not (self._ssl_want_read or self._ssl_want_write) and not self._closed:
            # pyftpdlib sends its close_notify and means to close without waiting for the
            # peer's; when SSL_shutdown neither completes nor asks to wait for the socket,
            # it would be called again on every poll -- for ever, since a peer at
            # end-of-file keeps the socket readable.  Close now.
            self._ssl_established = False
            self._ssl_closing = False
            self.handle_ssl_shutdown()

    def send(self, data):
        from OpenSSL import SSL
        try:
            return super().send(data)
        except SSL.Error as err:
            return self._tls_failed("send", err, 0)

    def recv(self, buffer_size):
        from OpenSSL import SSL
        try:
            return super().recv(buffer_size)
        except SSL.Error as err:
            return self._tls_failed("receive", err, b"")

    def _tls_failed(self, what: str, err, result):
        channel = getattr(self, "cmd_channel", None) or self
        channel.log(f"TLS {what} failed: {one_line(err)}; connection closed")
        if channel is not self and not self._resp:          # a data connection: say why
            self._resp = ("426 TLS error on the data connection; transfer aborted.", logger.warning)
        self._error = True
        self.close()
        return result


class ThreadedServerFixes(ThreadedFTPServer):
    """pyftpdlib's thread-per-connection server, made safe to run twice in one process.

    Its stop flag and lock are class attributes upstream, shared by every server in the
    process (stopping one would stop the other's threads); here each server has its own,
    as it has its own IOLoop (see ``FTPLabServer``).
    Its connection count also lets one connection more than ``max_cons`` in; fixed here.
    """

    def __init__(self, *args, **kwargs):
        self._exit = threading.Event()
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _accept_new_cons(self):
        return not self.max_cons or self._map_len() < self.max_cons
