"""The MTA's side of LMTP: ask the MDA about a mailbox, hand it a message.

LMTP (RFC 2033) is SMTP for the last hop: the same commands (``LHLO`` instead of
``EHLO``), spoken to the delivery agent -- here Dovecot's ``lmtp`` service on a UNIX socket.
Two things make it the right tool for "store this message, then say 250":

* the MDA answers ``RCPT TO`` itself, so an unknown mailbox is refused (``550 5.1.1``)
  before the SMTP client ever sends the message;
* the MDA answers ``DATA`` only after the message is in the mailbox (Dovecot writes it
  to ``tmp/``, fsyncs it and renames it into ``new/``), so its ``250`` means "stored".

The standard library's :class:`smtplib.LMTP` speaks it.  One caveat shapes this module:
after ``DATA`` an LMTP server sends one reply *per recipient*, while smtplib reads one reply.
So every recipient gets its own LMTP transaction -- the dialogue stays exact, and the
SMTP server learns precisely which recipient has the message.

Connections are kept, as Postfix's LMTP client keeps them: a finished transaction leaves the
session ready for the next ``MAIL FROM``, so a busy server does not pay for a new connection
(and a Dovecot ``LHLO``) per message and again per recipient check.  A kept connection that
the MDA has closed meanwhile (Dovecot restarted, or its idle timeout) fails at ``MAIL
FROM``, before anything is stored, and the transaction is simply retried on a new one.

The methods are blocking (smtplib) and thread-safe; the SMTP server runs them in worker
threads.
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from typing import Callable, NamedTuple


class Reply(NamedTuple):
    """An SMTP/LMTP reply: ``Reply(550, "5.1.1 <zed@lab.test> User doesn't exist")``."""
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def unavailable(why: object) -> Reply:
    """The reply for "the MDA could not be asked": temporary, so the sender tries again later."""
    return Reply(451, f"4.3.0 mailbox server unavailable, try again later ({why})")


class LMTPDelivery:
    """Talk LMTP to the delivery agent at *path* (a UNIX socket).

    :param path: the LMTP socket, e.g. Dovecot's ``<base_dir>/lmtp``.
    :param local_hostname: the name given in ``LHLO`` (and so in the MDA's Received line).
    :param timeout: seconds to wait for each LMTP reply.
    :param keep: connections kept open between transactions (0: a new one for each).
    :param idle: seconds a kept connection may wait unused before :meth:`close_idle` ends it.
    """

    def __init__(self, path: str, *, local_hostname: str, timeout: float = 60.0, keep: int = 6,
                 idle: float = 10.0) -> None:
        self.path = path
        self.local_hostname = local_hostname
        self.timeout = timeout
        self.keep = keep
        self.idle = idle
        self._kept: list[tuple[float, smtplib.LMTP]] = []     # (when it was put back, connection)
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.LMTP:
        # local_hostname is given, so smtplib does not look up our own name (getfqdn)
        lmtp = smtplib.LMTP(self.path, local_hostname=self.local_hostname, timeout=self.timeout)
        lmtp.ehlo()                                 # LMTP's LHLO
        return lmtp

    @property
    def kept(self) -> int:
        """How many connections are kept open now."""
        return len(self._kept)

    def _take(self) -> smtplib.LMTP | None:
        with self._lock:
            return self._kept.pop()[1] if self._kept else None

    def _put_back(self, lmtp: smtplib.LMTP) -> None:
        with self._lock:
            if len(self._kept) < self.keep:
                self._kept.append((time.monotonic(), lmtp))
                return
        _close(lmtp)

    def close_idle(self) -> int:
        """End the kept connections unused for :attr:`idle` seconds (the MDA's processes
        behind them go back to sleep); how many were ended."""
        limit = time.monotonic() - self.idle
        with self._lock:
            old = [lmtp for since, lmtp in self._kept if since < limit]
            self._kept = [(since, lmtp) for since, lmtp in self._kept if since >= limit]
        for lmtp in old:
            _close(lmtp)
        return len(old)

    def close(self) -> None:
        """End every kept connection."""
        with self._lock:
            kept, self._kept = self._kept, []
        for _since, lmtp in kept:
            _close(lmtp)

    def _transaction(self, sender: str, options: list[str], steps: Callable[[smtplib.LMTP], Reply], *,
                     reset: bool = False) -> Reply:
        """``MAIL FROM`` on a kept connection -- or on a new one if the MDA has closed the kept
        one meanwhile (nothing was sent on it yet) -- then *steps*.  A connection whose
        dialogue ended cleanly is kept again, its session reset if *reset* or if refused."""
        lmtp = self._take()
        if lmtp is not None:
            try:
                reply = Reply(*lmtp.mail(sender, options))
            except (OSError, smtplib.SMTPException):
                reply = Reply(421, "gone")
            if reply.code == 421:
                _close(lmtp)
                lmtp = None
        try:
            if lmtp is None:
                lmtp = self._connect()
                reply = Reply(*lmtp.mail(sender, options))
            if reply.ok:
                reply = steps(lmtp)
            if reset or not reply.ok:
                lmtp.rset()
        except BaseException:
            if lmtp is not None:
                _close(lmtp)
            raise
        self._put_back(lmtp)
        return reply

    def check_recipient(self, recipient: str) -> Reply:
        """Would the MDA take mail for *recipient*?  (MAIL FROM:<> / RCPT TO / RSET.)"""
        try:
            return _decoded(self._transaction("", [], lambda lmtp: Reply(*lmtp.rcpt(recipient)), reset=True))
        except (OSError, smtplib.SMTPException) as exc:
            return unavailable(_why(exc))

    def deliver(self, sender: str, recipient: str, message: bytes, *, eight_bit: bool = False) -> Reply:
        """Store *message* in *recipient*'s mailbox; the reply is the MDA's answer to DATA."""
        def rcpt_data(lmtp: smtplib.LMTP) -> Reply:
            reply = Reply(*lmtp.rcpt(recipient))
            if reply.ok:
                reply = Reply(*lmtp.data(message))
            return reply
        try:
            return _decoded(self._transaction(sender, ["BODY=8BITMIME"] if eight_bit else [], rcpt_data))
        except smtplib.SMTPResponseException as exc:      # e.g. DATA refused before 354
            return _decoded(Reply(exc.smtp_code, exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return unavailable(_why(exc))


def _close(lmtp: smtplib.LMTP) -> None:
    """End a connection politely if it still answers (QUIT), else just close it."""
    try:
        lmtp.quit()
    except (OSError, smtplib.SMTPException):
        lmtp.close()


def _decoded(reply: Reply) -> Reply:
    text = reply.text.decode("utf-8", "replace") if isinstance(reply.text, bytes) else reply.text
    return Reply(reply.code, text)


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
