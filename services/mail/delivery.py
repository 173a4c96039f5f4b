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

The methods are blocking (smtplib); the SMTP server runs them in a worker thread.
"""

from __future__ import annotations

import smtplib
import socket
from typing import NamedTuple


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
    """

    def __init__(self, path: str, *, local_hostname: str, timeout: float = 60.0) -> None:
        self.path = path
        self.local_hostname = local_hostname
        self.timeout = timeout

    def _connect(self) -> smtplib.LMTP:
        # local_hostname is given, so smtplib does not look up our own name (getfqdn)
        lmtp = smtplib.LMTP(self.path, local_hostname=self.local_hostname, timeout=self.timeout)
        lmtp.ehlo()                                 # LMTP's LHLO
        return lmtp

    def check_recipient(self, recipient: str) -> Reply:
        """Would the MDA take mail for *recipient*?  (MAIL FROM:<> / RCPT TO / RSET.)"""
        try:
            with self._connect() as lmtp:
                reply = Reply(*lmtp.mail(""))
                if reply.ok:
                    reply = Reply(*lmtp.rcpt(recipient))
                lmtp.rset()
                return _decoded(reply)
        except (OSError, smtplib.SMTPException) as exc:
            return unavailable(_why(exc))

    def deliver(self, sender: str, recipient: str, message: bytes, *, eight_bit: bool = False) -> Reply:
        """Store *message* in *recipient*'s mailbox; the reply is the MDA's answer to DATA."""
        options = ["BODY=8BITMIME"] if eight_bit else []
        try:
            with self._connect() as lmtp:
                reply = Reply(*lmtp.mail(sender, options))
                if reply.ok:
                    reply = Reply(*lmtp.rcpt(recipient))
                if reply.ok:
                    reply = Reply(*lmtp.data(message))
                return _decoded(reply)
        except smtplib.SMTPResponseException as exc:      # e.g. DATA refused before 354
            return _decoded(Reply(exc.smtp_code, exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return unavailable(_why(exc))


def _decoded(reply: Reply) -> Reply:
    text = reply.text.decode("utf-8", "replace") if isinstance(reply.text, bytes) else reply.text
    return Reply(reply.code, text)


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
