"""The lab host ``mail``: an MTA, an MDA and a POP3/IMAP server for the domain ``lab.test``.

The chapter names three roles, and the host runs each one as a real program::

    MUA (mail-send, pop3-client, imap-client, any mail program)
     |  SMTP 25 / submission 587 (STARTTLS) / 465 (TLS)
     v
    MTA  socklab's SMTP server on aiosmtpd ........... smtp.py
     |  LMTP over a UNIX socket: one reply per recipient, 250 only once stored
     v
    MDA  Dovecot's LMTP service -> Maildir on the volume /srv/mail
     ^
     |  POP3 110 (STLS) / 995 (TLS), IMAP 143 (STARTTLS) / 993 (TLS)
    MUA

* :mod:`.smtp` -- the SMTP server: who may send what to whom (no open relay), AUTH on
  the submission ports, size and line limits, and delivery with a ``250`` that means
  the message is on disk.
* :mod:`.delivery` -- the MTA's side of LMTP: ask the MDA whether a mailbox exists,
  hand it a message.
* :mod:`.accounts` -- the accounts from ``MAIL_ACCOUNTS`` (``alice:password bob:password``)
  written as Dovecot's password file, which SMTP AUTH checks too: one account list for
  SMTP, POP3 and IMAP.
* :mod:`.supervisor` -- the ``mail-host`` command: starts Dovecot, waits for it, starts
  the SMTP server, and stops the host when either stops.
* ``dovecot.conf`` -- Dovecot's whole configuration, rootless (everything runs as the
  user ``socklab`` with no capabilities).
"""

DOMAIN = "lab.test"
HOSTNAME = "mail.lab.test"
MAIL_STORE = "/srv/mail"             # Dovecot's Maildirs (the mail volume; dovecot.conf says it too)
