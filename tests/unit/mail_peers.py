"""Test helpers for the mail host: its SMTP server in-process, with the two peers it talks to.

The SMTP server (the thing under test) is socklab's own code, unchanged, checking AUTH
against a passwd-file written by socklab's own accounts module.  Dovecot is not available
outside the lab image, so its LMTP service is played by :class:`MaildirLMTP`: an LMTP server
(aiosmtpd's LMTP class) that stores each message in a real Maildir (``mailbox.Maildir``)
and refuses unknown users with ``550 5.1.1``; after DATA it answers once per recipient, as
RFC 2033 requires.

The integration tests run the same SMTP server against the real Dovecot in the lab.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import ssl
import threading
from pathlib import Path

from aiosmtpd.lmtp import LMTP

from socklab.services.mail import accounts
from socklab.services.mail.delivery import LMTPDelivery
from socklab.services.mail.smtp import MailServer, tls_context
from testpki import make_pki

ACCOUNTS = "alice:password bob:secret"
USERS = {"alice@lab.test", "bob@lab.test"}


# --------------------------------------------------------------------------- the MDA's LMTP

class MaildirLMTP:
    """aiosmtpd handler: an LMTP delivery agent storing into ``<root>/<address>/`` Maildirs."""

    def __init__(self, root: Path, users=USERS, delay: float = 0.0) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.delay = delay                  # seconds to spend "storing" (to test waiting)
        self.transactions = 0

    def maildir(self, address: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / address.lower(), create=True)

    def messages(self, address: str) -> list[bytes]:
        box = self.maildir(address)
        return [box.get_bytes(key) for key in sorted(box.keys())]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() not in self.users:
            return f"550 5.1.1 <{address}> User doesn't exist: {address}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.transactions += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        replies = []
        for rcpt in envelope.rcpt_tos:
            self.maildir(rcpt).add(envelope.original_content)
            replies.append(f"250 2.0.0 <{rcpt}> Saved")
        return "\r\n".join(replies)        # LMTP: one reply per recipient


# --------------------------------------------------------------------------- all together

class MailLab:
    """The SMTP server on 127.0.0.1 (three ephemeral ports) with its LMTP peer, in a loop thread."""

    def __init__(self, tmp: Path, *, max_size: int = 100_000, lmtp_delay: float = 0.0,
                 timeout: float = 30.0) -> None:
        self.tmp = tmp
        pki = make_pki(tmp)
        self.ca, cert, key = pki["ca"], pki["cert"], pki["key"]
        self.lmtp_path = str(tmp / "lmtp")
        self.passwd_file = str(tmp / "users")
        accounts.write_passwd_file(self.passwd_file, accounts.parse(ACCOUNTS), "lab.test")
        self.mda = MaildirLMTP(tmp / "mail", delay=lmtp_delay)
        self.lmtp_sessions: list[LMTP] = []          # every connection the MDA has had
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.log = _Lines()
        logging.getLogger("mail-smtpd").addHandler(self.log)
        logging.getLogger("mail-smtpd").setLevel(logging.INFO)    # the server's main() would configure this
        self.server = MailServer(LMTPDelivery(self.lmtp_path, local_hostname="mail.lab.test", timeout=10),
                                 accounts.PasswdFile(self.passwd_file, "lab.test"), tls_context(str(cert), str(key)),
                                 host="127.0.0.1", ports=(0, 0, 0), max_size=max_size, timeout=timeout)
        self.peers: list[asyncio.AbstractServer] = []
        self.run(self._start())
        self.smtp_port = self.server.addresses["smtp"][1]
        self.submission_port = self.server.addresses["submission"][1]
        self.submissions_port = self.server.addresses["submissions"][1]

    async def _start(self) -> None:
        await self._start_lmtp()
        await self.server.start()

    async def _start_lmtp(self) -> None:
        loop = asyncio.get_running_loop()

        def session() -> LMTP:
            self.lmtp_sessions.append(LMTP(self.mda, hostname="mda.test", loop=loop))
            return self.lmtp_sessions[-1]
        self.lmtp_server = await loop.create_unix_server(session, self.lmtp_path)

    def run(self, coro, timeout: float = 30.0):
        """Run *coro* on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def client_tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def stop_lmtp(self) -> None:
        async def stop():
            self.lmtp_server.close()
            await self.lmtp_server.wait_closed()
            Path(self.lmtp_path).unlink(missing_ok=True)
        self.run(stop())

    def restart_lmtp(self) -> None:
        """The MDA restarts: every connection to it is closed, then it listens again."""
        self.stop_lmtp()

        async def restart():
            for lmtp in self.lmtp_sessions:
                if lmtp.transport is not None:
                    lmtp.transport.close()
            await asyncio.sleep(0)                      # the closes reach the sockets
            await self._start_lmtp()
        self.run(restart())

    def close(self) -> None:
        logging.getLogger("mail-smtpd").removeHandler(self.log)

        async def stop():
            await self.server.stop(grace=5)
            self.lmtp_server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:                       # sessions still open: end them
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
