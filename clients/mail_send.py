"""``mail-send``: send e-mail with ``smtplib`` (default server ``mail``).

The chapter's recipe -- connect, ``ehlo()``, (``starttls()``, ``login()``), ``sendmail()``,
``quit()`` -- with the message built by :class:`email.message.EmailMessage`, so non-ASCII
subjects and names, and attachments, come out right::

    $ mail-send --to bob@lab.test --subject "你好" --body "Hi Bob" --attach report.pdf
    accepted by mail:587 for bob@lab.test
    Message-ID: <171234.5678.1@lab.test>

Three ways in, chosen with ``--port``:

====  =================================================================================
25    plain SMTP, no login: how one mail server hands mail to another.  Mail for
      @lab.test only; ``--starttls`` encrypts it first.
587   submission (the default): ``starttls()``, then ``login()``, then send.
465   submission over TLS from the first byte: ``smtplib.SMTP_SSL``, ``login()``, send.
====  =================================================================================

``--raw FILE`` sends a ready-made message file with ``sendmail()`` instead of building one
(``send_message()``).  ``--trace`` shows the whole dialogue (``set_debuglevel(1)``) on
stderr.  Certificates are verified against the lab CA on every port.
"""

from __future__ import annotations

import argparse
import email.utils
import mimetypes
import os
import smtplib
import sys
from email.message import EmailMessage
from pathlib import Path

from socklab import cli
from socklab.i18n import _
from socklab.clients.mail_common import DOMAIN, add_account_args, tls_context

PORT = 587


def build_message(args, sender: str) -> EmailMessage:
    """The message a mail program would write: headers, a text body, attachments."""
    msg = EmailMessage()
    msg["From"] = args.from_addr or sender
    msg["To"] = ", ".join(args.to)
    if args.cc:
        msg["Cc"] = ", ".join(args.cc)
    msg["Subject"] = args.subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    body = args.body if args.body is not None else sys.stdin.read()
    msg.set_content(body)
    for path in args.attach or []:
        ctype, encoding = mimetypes.guess_type(path)
        if ctype is None or encoding is not None:      # unknown, or compressed (.gz): just bytes
            ctype = "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise cli.ClientError(_("cannot attach {file}: {reason}").format(file=path, reason=exc.strerror)) from exc
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=os.path.basename(path))
    return msg


def smtp_error(exc: smtplib.SMTPException) -> str:
    """One line about what the server refused, with its own code and words."""
    def text(reply) -> str:
        return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{rcpt}: {code} {text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return _("every recipient was refused: {refused}").format(refused=refused)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("login refused: {reply}").format(reply=f"{exc.smtp_code} {text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPSenderRefused):     # a refused sender, or a declared SIZE too big
        return _("{command} refused: {reply}").format(command=f"MAIL FROM:<{exc.sender}>", reply=f"{exc.smtp_code} {text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPDataError):
        return _("message refused: {reply}").format(reply=f"{exc.smtp_code} {text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _("the server closed the connection ({reason})").format(reason=exc or _("no reason given"))
    return str(exc)       # SMTPNotSupportedError: "SMTP AUTH extension not supported by server."


def session(args) -> smtplib.SMTP:
    """Connect in the way the port asks for; logged in when the port needs it."""
    implicit_tls = args.ssl or args.port == 465
    starttls = args.starttls or args.port == 587
    login = args.port in (587, 465) if args.login is None else args.login
    cls = smtplib.SMTP_SSL if implicit_tls else smtplib.SMTP
    if args.trace:
        # set_debuglevel(1), but from the very start: the constructor already reads the greeting
        cls = type(cls.__name__, (cls,), {"debuglevel": 1})
    tls = {"context": tls_context()} if implicit_tls else {}
    smtp = cls(args.host, args.port, local_hostname=args.helo, timeout=args.timeout, **tls)
    try:
        smtp.ehlo()
        if starttls:
            smtp.starttls(context=tls_context())  # raises SMTPNotSupportedError if not offered
            smtp.ehlo()                           # RFC 3207: forget what was said before TLS
        if login:
            smtp.login(args.user, args.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


@cli.main("mail-send")
def main(argv=None) -> int:
    p = cli.parser("mail-send", _("Send e-mail with smtplib (SMTP, submission with STARTTLS, or TLS)."),
                   "mail", PORT)
    p.add_argument("-t", "--to", action="append", required=True, metavar="ADDRESS",
                   help=_("recipient (repeat for several), e.g. bob@lab.test"))
    p.add_argument("--cc", action="append", metavar="ADDRESS", help=_("copy to (repeatable)"))
    p.add_argument("-f", "--from", dest="from_addr", metavar="ADDRESS",
                   help=_("sender (default: the login's address, e.g. alice@lab.test)"))
    p.add_argument("-s", "--subject", default="(no subject)", help=_("the subject (any language)"))
    p.add_argument("-b", "--body", help=_("the text (default: read from standard input)"))
    p.add_argument("-a", "--attach", action="append", metavar="FILE", help=_("attach a file (repeatable)"))
    p.add_argument("--raw", metavar="FILE",
                   help=_("send this ready-made message (- for standard input) with sendmail() as it is"))
    add_account_args(p)
    p.add_argument("--starttls", action="store_true", help=_("STARTTLS also on port 25"))
    p.add_argument("--ssl", action="store_true", help=_("TLS from the first byte (implied by port 465)"))
    p.add_argument("--login", action=argparse.BooleanOptionalAction, default=None,
                   help=_("log in (default: on 587 and 465, not on 25)"))
    p.add_argument("--helo", default="client.lab.test", help=_("the name we give in EHLO"))
    args = p.parse_args(argv)

    user = args.user if "@" in args.user else f"{args.user}@{DOMAIN}"
    envelope_from = email.utils.parseaddr(args.from_addr)[1] if args.from_addr else user
    recipients = [*args.to, *(args.cc or [])]
    if args.raw:
        try:
            data = sys.stdin.buffer.read() if args.raw == "-" else Path(args.raw).read_bytes()
        except OSError as exc:
            raise cli.ClientError(_("cannot read {file}: {reason}").format(file=args.raw, reason=exc.strerror)) from exc
        message_id = None
    else:
        message = build_message(args, user)
        message_id = message["Message-ID"]

    where = f"{args.host}:{args.port}"
    with cli.guard(where):
        try:
            with session(args) as smtp:
                if args.raw:
                    refused = smtp.sendmail(envelope_from, recipients, data)
                else:
                    refused = smtp.send_message(message, from_addr=envelope_from, to_addrs=recipients)
        except smtplib.SMTPException as exc:
            raise cli.ClientError(smtp_error(exc)) from exc
    accepted = [r for r in recipients if r not in refused]
    print(_("accepted by {where} for {recipients}").format(where=where, recipients=", ".join(accepted)))
    if message_id:
        print(f"Message-ID: {message_id}")
    for rcpt, (code, text) in refused.items():
        print("mail-send: " + _("refused for {recipient}: {reply}").format(
            recipient=rcpt, reply=f"{code} {text.decode('utf-8', 'replace')}"), file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
