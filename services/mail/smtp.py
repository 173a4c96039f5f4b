"""The MTA of the lab: an SMTP server on aiosmtpd that delivers through LMTP.

aiosmtpd speaks the protocol (greeting, EHLO, STARTTLS, DATA with dot-unstuffing, SIZE,
line limits); the policy -- who may send what to whom -- lives in :class:`MailHandler`, in
aiosmtpd's ``handle_<COMMAND>`` hooks.  Three listeners share it:

=====  =====================  ==========================================================
port   name                   policy
=====  =====================  ==========================================================
25     SMTP (relay/MX)        anyone, no login, recipients ``@lab.test`` only; STARTTLS
                              offered, never required; no AUTH here
587    submission             STARTTLS first (``530`` otherwise), then AUTH, then MAIL
465    submissions            the same over implicit TLS (TLS from the first byte)
=====  =====================  ==========================================================

What a careful MTA adds, and where:

* **Never an open relay** -- ``RCPT TO`` outside ``@lab.test`` gets ``554 5.7.1``, on every
  port: the lab has no route to the outside world, and nobody may use it as one.
* **Unknown mailbox** -- ``RCPT TO`` is checked with the MDA itself (LMTP ``RCPT``), so
  ``zed@lab.test`` gets Dovecot's own ``550 5.1.1`` before any data is sent.
* **Submission identity** -- after ``AUTH`` as alice, ``MAIL FROM`` must be
  ``alice@lab.test`` (``553 5.7.1`` otherwise), like Postfix's
  ``reject_sender_login_mismatch``.  Port 25 cannot check this -- which is why forged
  senders exist, and why SPF and DKIM were invented.
* **Limits** -- messages above ``--max-size`` get ``552`` (at ``MAIL FROM ... SIZE=`` when the
  client declares the size, else after the data); lines over 1000 bytes get ``500``;
  both are aiosmtpd's checks.  A wrong password gets ``535`` at once (checked against the
  accounts file Dovecot reads, see :class:`~socklab.services.mail.accounts.PasswdFile`).
* **Connections** -- at most ``max_clients`` at once, ``max_per_address`` of them from one
  address (:class:`ConnectionLimit`); one more gets ``421 4.7.0`` and is closed, so one
  flooding client cannot shut everybody else out.
* **One log line per misbehaving client** -- a failed STARTTLS handshake, a client that
  vanished while being answered: one line each (aiosmtpd would log a traceback).
* **A full disk** -- Dovecot answers a delivery it cannot store with a temporary error;
  the client gets ``452 4.3.1 Insufficient system storage`` and retries later.
* **A 250 that means stored** -- :meth:`MailHandler.handle_DATA` answers only after the MDA
  has stored the message for every recipient (LMTP ``250`` per recipient).  If a client
  vanishes mid-DATA, aiosmtpd drops the half message and nothing is delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import logging
import os
import secrets
import signal
import ssl
from typing import Any

from aiosmtpd import __version__ as AIOSMTPD_VERSION
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session, TLSSetupException

from socklab.log import add_one_line_filter, configure
from socklab.services.mail import DOMAIN, HOSTNAME, MAIL_STORE
from socklab.services.mail.accounts import PasswdFile
from socklab.services.mail.delivery import LMTPDelivery, Reply

SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT = 25, 587, 465
MAX_SIZE = 10 * 1024 * 1024          # bytes; EHLO announces it as "SIZE 10485760"
MAX_CLIENTS = 128                    # connections at once, the three ports together
MAX_PER_ADDRESS = 32                 # ... from one client address
TLS_CERT = "/etc/socklab/tls/mail.crt"
TLS_KEY = "/etc/socklab/tls/mail.key"


class _NoLoginDataWarning(logging.Filter):
    """aiosmtpd 1.4 warns "Session.login_data is deprecated" about its own code, at every
    successful AUTH; the lab's log is for what students do, so that line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


class _NoSendAfterLossWarning(logging.Filter):
    """asyncio warns "socket.send() raised exception." when something writes to a connection
    already lost; LabSMTP.push writes nothing then, this is for any other writer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "socket.send() raised exception" not in record.getMessage()


class ConnectionLimit:
    """Connections at once, in total and per client address (0: no limit).

    Each connection is known by its socket's transport; one whose transport is closing no
    longer counts, whether or not aiosmtpd told its protocol (after a TLS handshake that
    failed half-way, asyncio never calls the protocol's ``connection_lost``).
    """

    def __init__(self, total: int = 0, per_address: int = 0) -> None:
        self.total, self.per_address = total, per_address
        self.live: dict = {}                 # transport -> client address

    @property
    def count(self) -> int:
        self._purge()
        return len(self.live)

    def _purge(self) -> None:
        for transport in [t for t in self.live if t.is_closing()]:
            del self.live[transport]

    def admit(self, address: str, transport) -> str | None:
        """Count the connection in, or say why not."""
        self._purge()
        if self.total and len(self.live) >= self.total:
            return "too many connections"
        if self.per_address and sum(1 for a in self.live.values() if a == address) >= self.per_address:
            return "too many connections from your address"
        self.live[transport] = address
        return None

    def release(self, transport) -> None:
        self.live.pop(transport, None)


class LabSMTP(SMTP):
    """aiosmtpd's SMTP, with the usual AUTH LOGIN prompts (base64 of "Username:", "Password:"),
    a connection limit, and one log line (never a traceback) for what a client can cause."""

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(self, handler, *args, limit: ConnectionLimit | None = None, **kwargs) -> None:
        super().__init__(handler, *args, **kwargs)
        self._limit = limit
        self._counted = None                  # the transport this connection is counted by
        self._refused = False

    def _getaddr(self, arg: str):
        """aiosmtpd's address parser (MAIL FROM, RCPT TO, VRFY) catches only HeaderParseError,
        but the standard library's parser it calls raises IndexError on some broken
        addresses (``<``, ``"``): that became ``451 Internal server error``.  Any address the
        parser cannot read is a malformed address (``553``; ``502`` for VRFY), as aiosmtpd
        means it to be."""
        try:
            return super()._getaddr(arg)
        except (IndexError, ValueError):
            return None, None

    async def smtp_STARTTLS(self, arg: str) -> None:
        # Commands pipelined behind STARTTLS fill the stream reader's buffer; past its limit
        # asyncio stops reading the socket -- and the TLS handshake that follows then waits
        # for bytes nobody reads, until the idle timeout (5 minutes, holding a connection
        # place).  Reading resumes once the connection has been handed to TLS.
        self.loop.call_soon(self._resume_after_starttls, 100)
        await super().smtp_STARTTLS(arg)

    def _resume_after_starttls(self, tries: int) -> None:
        if self._original_transport is not None:
            self._original_transport.resume_reading()
        elif tries and self.transport is not None:
            self.loop.call_soon(self._resume_after_starttls, tries - 1)

    def connection_made(self, transport) -> None:
        if self.transport is not None and self._original_transport is not None:
            # the TLS handshake after STARTTLS is done.  What the client sent before it, in
            # the clear, is still in the reader's buffer: it must not be read as if it had
            # come through TLS (STARTTLS command injection, CVE-2011-0411; aiosmtpd 1.4.3
            # reads it)
            leftover = len(self._reader._buffer)
            if leftover:
                self._reader._buffer.clear()
                log = getattr(self.event_handler, "log", logging.getLogger("mail-smtpd"))
                log.info("%s: discarded %d bytes sent in the clear after STARTTLS", _peer(self.session.peer),
                         leftover)
        first = self.transport is None and self._original_transport is None and not self._refused
        if first and self._limit is not None:
            peer = transport.get_extra_info("peername")
            address = peer[0] if peer else "?"
            why = self._limit.admit(address, transport)
            if why:
                self._refused = True
                log = getattr(self.event_handler, "log", logging.getLogger("mail-smtpd"))
                log.info("%s turned away: %s", _peer(peer), why)
                transport.write(f"421 4.7.0 {self.hostname} {why}, try again later\r\n".encode())
                transport.close()
                return
            self._counted = transport
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if self._refused:
            return
        if self._counted is not None:
            self._limit.release(self._counted)
            self._counted = None
        if self._handler_coroutine is None:          # lost before it was ever made
            return
        super().connection_lost(error)

    def eof_received(self) -> bool:
        # asyncio's TLS layer may report the end of input after the connection was lost
        # (aiosmtpd has forgotten the session by then, and would fail with a traceback)
        if self.session is None or self.transport is None:
            return False
        return super().eof_received()

    async def push(self, status) -> None:
        # aiosmtpd answers even when the connection is already gone (after a failed TLS
        # handshake, after "too many bogus commands"); writing to a closed TLS transport
        # raises AttributeError inside asyncio.  Nobody is there to read the answer.
        if self.transport is None or self.transport.is_closing():
            return
        await super().push(status)

    async def handle_exception(self, error: Exception) -> str:
        return await self.event_handler.handle_exception(error, peer=self.session.peer)


class MailHandler:
    """The policy of one listener, as aiosmtpd hooks.

    :param delivery: asks the MDA about recipients and stores messages (LMTP).
    :param accounts: checks SMTP AUTH; ``None`` means a port without AUTH (25).  With it,
        the port is a submission port: AUTH is required before ``MAIL FROM``.
    :param domain: the one domain this host accepts mail for.
    :param store: the directory of the mail store (Dovecot's Maildirs); when a message
        would not fit on its file system, the answer is ``452 4.3.1`` (RFC 3463:
        mail system full) -- Dovecot itself only says "internal error" then.
    """

    def __init__(self, delivery: LMTPDelivery, accounts: PasswdFile | None = None, *,
                 domain: str = DOMAIN, hostname: str = HOSTNAME, log: logging.Logger | None = None,
                 store: str | None = None) -> None:
        self.store = store
        self.delivery = delivery
        self.accounts = accounts
        self.submission = accounts is not None
        self.domain = domain.lower()
        self.hostname = hostname
        self.log = log or logging.getLogger("mail-smtpd")
        self.deliveries = 0          # DATA being stored right now (see drain())
        self._idle = asyncio.Event()
        self._idle.set()

    # ----------------------------------------------------------------- greeting and AUTH

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """Offer AUTH only where it is used (the submission ports)."""
        session.host_name = hostname              # this hook replaces aiosmtpd's own bookkeeping
        if not self.submission:
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        return responses

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]):
        """On port 25, say so; on submission, let aiosmtpd run PLAIN or LOGIN (then authenticate()).

        aiosmtpd has already checked the order of things: EHLO sent, TLS up (``538``
        otherwise), not logged in yet (``503``), a mechanism it announced (``504``).
        """
        if not self.submission:
            return "503 5.5.1 AUTH is for the submission ports 587 and 465"
        return MISSING

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: LoginPassword) -> AuthResult:
        """aiosmtpd's authenticator: ``235`` and the login's address, or ``535`` at once."""
        login = auth_data.login.decode("utf-8", "replace")
        try:
            address = self.accounts.check(login, auth_data.password.decode("utf-8", "replace"))
        except OSError as exc:                   # the accounts file is missing: our fault, not theirs
            self.log.error("%s: AUTH %s: cannot read the accounts: %s", _who(session), mechanism, exc)
            return AuthResult(success=False, handled=False,
                              message="454 4.7.0 Temporary authentication failure, try again later")
        if address is None:
            self.log.info("%s: AUTH %s failed for %s", _who(session), mechanism, self.accounts.canonical(login))
            return AuthResult(success=False, handled=False)          # aiosmtpd answers 535 5.7.8
        self.log.info("%s: AUTH %s as %s", _who(session), mechanism, address)
        return AuthResult(success=True, auth_data=address)

    # ----------------------------------------------------------------- the envelope

    # ----------------------------------------------------------------- a full disk

    def space_left(self) -> int | None:
        """Bytes free on the mail store's file system (None: not known)."""
        if not self.store:
            return None
        try:
            st = os.statvfs(self.store)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def no_room_for(self, size: int) -> bool:
        """Would *size* bytes (for each recipient) not fit?  Dovecot also needs room for its
        index files, so a margin of 64 kB is kept."""
        left = self.space_left()
        return left is not None and left < size + 64 * 1024

    FULL = "452 4.3.1 Insufficient system storage: the mailbox server's disk is full, try again later"

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        declared = next((int(o[5:]) for o in mail_options if o.upper().startswith("SIZE=") and o[5:].isdigit()), 0)
        if self.no_room_for(declared):
            self.log.warning("%s: MAIL FROM:<%s> refused: the mail store is full", _who(session), address)
            return self.FULL
        if self.submission:
            if not session.authenticated:
                return "530 5.7.0 Authentication required (AUTH PLAIN or AUTH LOGIN first)"
            if address.lower() != str(session.auth_data).lower():
                self.log.info("%s: MAIL FROM:<%s> refused for %s", _who(session), address, session.auth_data)
                return f"553 5.7.1 <{address}>: sender address not owned by {session.auth_data}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        local_part, at, domain = address.rpartition("@")
        if not at or not local_part:
            return f"553 5.1.3 <{address}>: give a full address, like bob@{self.domain}"
        if domain.lower() != self.domain:
            self.log.info("%s: relay to <%s> refused", _who(session), address)
            return f"554 5.7.1 <{address}>: Relay access denied ({self.hostname} takes mail for @{self.domain} only)"
        reply = await asyncio.to_thread(self.delivery.check_recipient, address)
        if not reply.ok:
            self.log.info("%s: RCPT TO:<%s> refused: %s", _who(session), address, reply)
            return str(reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    # ----------------------------------------------------------------- the message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message for every recipient; 250 only when all of them have it."""
        queue_id = secrets.token_hex(6)
        message = self.received_header(server, session, envelope, queue_id) + envelope.original_content
        eight_bit = "BODY=8BITMIME" in envelope.mail_options
        if self.no_room_for(len(message) * len(envelope.rcpt_tos)):
            self.log.warning("%s: %s from <%s>, %d bytes, not stored: the mail store is full",
                             _who(session), queue_id, envelope.mail_from, len(message))
            return self.FULL
        self._begin()
        try:
            replies = [(rcpt, await asyncio.to_thread(self.delivery.deliver, envelope.mail_from, rcpt,
                                                      message, eight_bit=eight_bit))
                       for rcpt in envelope.rcpt_tos]
        finally:
            self._end()
        failed = [(rcpt, reply) for rcpt, reply in replies if not reply.ok]
        stored = [rcpt for rcpt, reply in replies if reply.ok]
        if failed and self.no_room_for(len(message)):
            # Dovecot could not write it, and the disk is (nearly) full: say why, plainly
            failed = [(rcpt, Reply(452, self.FULL[4:])) if 400 <= reply.code < 500 else (rcpt, reply)
                      for rcpt, reply in failed]
        if not failed:
            self.log.info("%s: %s from <%s> to %s, %d bytes: stored", _who(session), queue_id,
                          envelope.mail_from, ", ".join(f"<{r}>" for r in stored), len(message))
            return f"250 2.0.0 OK: queued as {queue_id}, stored for {len(stored)} recipient(s)"
        # No queue here: a refused recipient can only be reported.  The client will retry
        # (4xx) or give up (5xx) for the whole message, so a recipient who already has it
        # may get it twice -- a duplicate is better than a loss.
        for rcpt, reply in failed:
            self.log.warning("%s: %s to <%s> not stored: %s", _who(session), queue_id, rcpt, reply)
        rcpt, reply = failed[0]
        return f"{reply.code} {reply.text} (<{rcpt}>; stored for {len(stored)} of {len(replies)})"

    def received_header(self, server: SMTP, session: Session, envelope: Envelope, queue_id: str) -> bytes:
        """The trace line every MTA prepends (RFC 5321 4.4), e.g. ``with ESMTPSA`` (RFC 3848)."""
        protocol = ("ESMTP" if session.extended_smtp else "SMTP") + ("S" if _tls(server) else "") \
            + ("A" if session.authenticated else "")
        ip = session.peer[0] if session.peer else "unknown"
        rcpt = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
        header = (f"Received: from {session.host_name} ([{ip}])\r\n"
                  f"\tby {self.hostname} (socklab, aiosmtpd {AIOSMTPD_VERSION}) with {protocol} id {queue_id}"
                  f"{rcpt};\r\n\t{email.utils.formatdate(localtime=False, usegmt=True)}\r\n")
        return header.encode("utf-8", "surrogateescape")

    async def handle_exception(self, error: Exception, peer=None) -> str:
        """One log line for any error in a session (aiosmtpd would log a traceback)."""
        who = _peer(peer)
        if isinstance(error, TLSSetupException):
            cause = error.__cause__ or error
            self.log.info("%s: TLS handshake after STARTTLS failed: %s", who, _one_line(cause))
            return "454 4.7.0 TLS not available due to temporary reason"
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            self.log.info("%s went away: %s", who, _one_line(error))
            return "421 4.4.2 Connection lost"
        self.log.error("%s: unexpected error: %s%s", who, _one_line(error), _where(error))
        return "451 4.3.0 Internal server error, try again later"

    # ----------------------------------------------------------------- stopping cleanly

    def _begin(self) -> None:
        self.deliveries += 1
        self._idle.clear()

    def _end(self) -> None:
        self.deliveries -= 1
        if not self.deliveries:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no message is being stored (so every 250 owed is sent); False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def _tls(server: SMTP) -> bool:
    """Is this connection encrypted?  (STARTTLS done, or implicit TLS on 465.)"""
    return server.transport is not None and server.transport.get_extra_info("ssl_object") is not None


def _who(session: Session) -> str:
    return _peer(session.peer)


def _peer(peer) -> str:
    return f"{peer[0]}:{peer[1]}" if peer and len(peer) >= 2 else "?"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _where(exc: BaseException) -> str:
    """ (at file.py:123) -- the innermost frame of *exc*, so one line still says where."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f" (at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno})"


def tls_context(cert: str = TLS_CERT, key: str = TLS_KEY) -> ssl.SSLContext:
    """The server side of TLS: the host's certificate from the lab CA, TLS 1.2 or later."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class MailServer:
    """The SMTP side of the mail host: three listeners (25, 587, 465) on one event loop.

    :param delivery: the LMTP delivery agent client.
    :param accounts: the accounts file that AUTH on 587 and 465 is checked against.
    :param tls: the server TLS context (STARTTLS on 25/587, implicit TLS on 465).
    :param ports: ``(smtp, submission, submissions)``; 0 picks a free port (tests).
    :param max_size: the largest message accepted, in bytes.
    :param timeout: seconds a client may stay silent before it is dropped (RFC 5321: 5 min).
    :param max_clients: connections at once on the three ports together (0: no limit);
        one more is answered ``421 4.7.0`` and closed.
    :param max_per_address: connections at once from one client address (0: no limit).
    :param store: the mail store's directory, to answer ``452`` when its disk is full.
    :param logger: where the server's log lines go (default: the logger ``mail-smtpd``).
    """

    def __init__(self, delivery: LMTPDelivery, accounts: PasswdFile, tls: ssl.SSLContext, *,
                 host: str = "", ports: tuple[int, int, int] = (SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT),
                 max_size: int = MAX_SIZE, domain: str = DOMAIN, hostname: str = HOSTNAME,
                 timeout: float = 300.0, max_clients: int = MAX_CLIENTS,
                 max_per_address: int = MAX_PER_ADDRESS, store: str | None = None,
                 logger: logging.Logger | None = None) -> None:
        self.host, self.ports, self.tls = host or None, ports, tls
        self.max_size, self.hostname, self.timeout = max_size, hostname, timeout
        self.limit = ConnectionLimit(max_clients, max_per_address)
        self.log = add_one_line_filter(logger or logging.getLogger("mail-smtpd"))
        aiosmtpd_log = add_one_line_filter(logging.getLogger("mail.log"))
        if not any(isinstance(f, _NoLoginDataWarning) for f in aiosmtpd_log.filters):
            aiosmtpd_log.addFilter(_NoLoginDataWarning())
        asyncio_log = logging.getLogger("asyncio")
        if not any(isinstance(f, _NoSendAfterLossWarning) for f in asyncio_log.filters):
            asyncio_log.addFilter(_NoSendAfterLossWarning())
        self.relay = MailHandler(delivery, None, domain=domain, hostname=hostname, log=self.log, store=store)
        self.submission = MailHandler(delivery, accounts, domain=domain, hostname=hostname, log=self.log,
                                      store=store)
        self.delivery = delivery
        self.servers: list[asyncio.AbstractServer] = []
        self.addresses: dict[str, tuple] = {}
        self._reaper: asyncio.Task | None = None

    def _factory(self, handler: MailHandler, **policy: Any):
        loop = asyncio.get_running_loop()
        if handler.submission:
            policy["authenticator"] = handler.authenticate
        return lambda: LabSMTP(handler, hostname=self.hostname, ident=f"ESMTP socklab (aiosmtpd {AIOSMTPD_VERSION})",
                               data_size_limit=self.max_size, timeout=self.timeout, loop=loop,
                               limit=self.limit, **policy)

    def loop_exception(self, loop, context: dict) -> None:
        """What the event loop catches outside a session (a callback, a TLS handshake's
        timer): one log line with where it happened, instead of asyncio's traceback."""
        exc = context.get("exception")
        self.log.warning("event loop: %s%s%s", " ".join(str(context.get("message", "error")).split()),
                         f": {_one_line(exc)}" if exc else "", _where(exc) if exc else "")

    async def start(self) -> None:
        """Bind and listen on the three ports."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self.loop_exception)
        smtp_port, submission_port, submissions_port = self.ports
        listeners = [
            # port 25: STARTTLS offered (opportunistic), no AUTH, no login needed
            ("smtp", smtp_port, None, self._factory(self.relay, tls_context=self.tls)),
            # 587: nothing but EHLO/STARTTLS/NOOP/QUIT before TLS; AUTH only over TLS
            ("submission", submission_port, None,
             self._factory(self.submission, tls_context=self.tls, require_starttls=True, auth_require_tls=True)),
            # 465: the whole connection is TLS, so AUTH needs no further check.  (aiosmtpd 1.4
            # only counts STARTTLS as TLS -- aio-libs/aiosmtpd#281 -- hence auth_require_tls=False.)
            ("submissions", submissions_port, self.tls,
             self._factory(self.submission, tls_context=None, auth_require_tls=False)),
        ]
        for name, port, implicit_tls, factory in listeners:
            server = await loop.create_server(factory, self.host, port, ssl=implicit_tls, reuse_address=True)
            self.servers.append(server)
            self.addresses[name] = server.sockets[0].getsockname()
        self._reaper = asyncio.create_task(self._close_idle_lmtp())
        self.log.info("listening: %s; max message size %d bytes; at most %s connections, %s per address",
                      ", ".join(f"{name} {addr[1]}" for name, addr in self.addresses.items()), self.max_size,
                      self.limit.total or "any number of", self.limit.per_address or "any number")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, then let messages already being stored finish (their 250 is owed)."""
        for server in self.servers:
            server.close()
        for handler in (self.relay, self.submission):
            if not await handler.drain(grace):
                self.log.warning("stopping with %d message(s) still being stored", handler.deliveries)
        for server in self.servers:
            await server.wait_closed()
        if self._reaper:
            self._reaper.cancel()
        await asyncio.to_thread(self.delivery.close)

    async def _close_idle_lmtp(self) -> None:
        """Now and then, end the LMTP connections kept from a burst of mail that is over."""
        while True:
            await asyncio.sleep(self.delivery.idle)
            if self.delivery.kept:
                await asyncio.to_thread(self.delivery.close_idle)


async def serve(args: argparse.Namespace) -> None:
    server = MailServer(LMTPDelivery(args.lmtp, local_hostname=args.hostname),
                        PasswdFile(args.passwd_file, args.domain),
                        tls_context(args.cert, args.key),
                        host=args.host, ports=(args.smtp_port, args.submission_port, args.submissions_port),
                        max_size=args.max_size, domain=args.domain, hostname=args.hostname,
                        max_clients=args.max_clients, max_per_address=args.max_per_address,
                        store=args.store)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.log.info("stopping")
    await server.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mail-smtpd", description=(
        "The lab's SMTP server (ports 25, 587, 465): accepts mail for the lab's domain and "
        "delivers it over LMTP.  Normally started by mail-host, next to Dovecot."))
    p.add_argument("--host", default="", help="address to bind (default: all interfaces)")
    p.add_argument("--smtp-port", type=int, default=SMTP_PORT, help=f"SMTP port (default: {SMTP_PORT})")
    p.add_argument("--submission-port", type=int, default=SUBMISSION_PORT,
                   help=f"submission port, STARTTLS + AUTH (default: {SUBMISSION_PORT})")
    p.add_argument("--submissions-port", type=int, default=SUBMISSIONS_PORT,
                   help=f"submission over implicit TLS (default: {SUBMISSIONS_PORT})")
    p.add_argument("--lmtp", required=True, metavar="SOCKET", help="the MDA's LMTP UNIX socket")
    p.add_argument("--passwd-file", required=True, metavar="FILE",
                   help="the accounts (Dovecot's passwd-file, as mail-host writes it) that AUTH checks")
    p.add_argument("--cert", default=TLS_CERT, help=f"TLS certificate (default: {TLS_CERT})")
    p.add_argument("--key", default=TLS_KEY, help=f"TLS private key (default: {TLS_KEY})")
    p.add_argument("--max-size", type=int, default=MAX_SIZE, metavar="BYTES",
                   help=f"largest message accepted (default: {MAX_SIZE})")
    p.add_argument("--max-clients", type=int, default=MAX_CLIENTS,
                   help=f"connections at once, all ports together (default: {MAX_CLIENTS}; 0: no limit)")
    p.add_argument("--max-per-address", type=int, default=MAX_PER_ADDRESS,
                   help=f"connections at once from one address (default: {MAX_PER_ADDRESS}; 0: no limit)")
    p.add_argument("--store", default=MAIL_STORE, metavar="DIR",
                   help=f"the mail store, to answer 452 when its disk is full (default: {MAIL_STORE})")
    p.add_argument("--domain", default=DOMAIN, help=f"the domain mail is accepted for (default: {DOMAIN})")
    p.add_argument("--hostname", default=HOSTNAME, help=f"name in the greeting (default: {HOSTNAME})")
    p.add_argument("--verbose", action="store_true", help="log every SMTP command (aiosmtpd's own log)")
    args = p.parse_args(argv)
    configure(verbose=args.verbose)
    # aiosmtpd logs each command at INFO; by default only our one line per event is shown
    logging.getLogger("mail.log").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
