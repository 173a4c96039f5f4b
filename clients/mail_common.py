"""What the three mail clients share: the lab account, TLS, and showing a message to a person.

* :func:`add_account_args` -- ``-u/--user`` and ``-p/--password``, defaulting to the lab's
  account (``$MAIL_USER`` / ``$MAIL_PASSWORD``, else ``alice`` / ``password``).
* :func:`tls_context` -- ``ssl.create_default_context()``: the certificate is checked against
  the CA store (which trusts the lab CA in every lab container) and the host name is checked
  against it.  Nothing here ever turns verification off.
* :func:`show_message` -- headers decoded (``=?utf-8?b?...?=`` becomes 中文), the text body,
  and each attachment named; optionally saved to a folder.
"""

from __future__ import annotations

import argparse
import email
import email.message
import email.policy
import os
import ssl
import sys
import unicodedata

from socklab import cli
from socklab.i18n import _

DOMAIN = "lab.test"
HEADERS = ("From", "To", "Cc", "Date", "Subject", "Message-ID")


def add_account_args(p: argparse.ArgumentParser) -> None:
    user, password = cli.env("MAIL_USER", "alice"), cli.env("MAIL_PASSWORD", "password")
    p.add_argument("-u", "--user", default=user,
                   help=_("account to log in as, alice or alice@{domain} (default: $MAIL_USER or {user})").format(
                       domain=DOMAIN, user=user))
    p.add_argument("-p", "--password", default=password,
                   help=_("its password (default: $MAIL_PASSWORD or the lab's 'password')"))


def pad(text: str, width: int) -> str:
    """*text* cut or padded to *width* terminal columns (中文 characters take two columns)."""
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * (width - used)


def tls_context() -> ssl.SSLContext:
    """Verify the server's certificate and name (the lab CA is trusted system-wide)."""
    return ssl.create_default_context()


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def safe_name(name: str) -> str:
    """A file name from an attachment's name, without any directory part."""
    name = os.path.basename(name.replace("\\", "/")).strip()
    return name if name not in ("", ".", "..") else "attachment"


def show_message(raw: bytes, *, headers_only: bool = False, save_to: str | None = None, out=None) -> None:
    """Print *raw* (an RFC 5322 message) for a person; save attachments into *save_to*."""
    out = out or sys.stdout
    msg = parse(raw)
    for name in HEADERS:
        if msg[name] is not None:
            print(f"{name}: {msg[name]}", file=out)        # policy.default decodes encoded words
    if headers_only:
        return
    print(file=out)
    print(body_text(msg).rstrip("\n"), file=out)
    for part in msg.iter_attachments() if msg.is_multipart() else []:
        payload = part.get_payload(decode=True) or b""
        name = part.get_filename() or _("(no name)")
        line = _("attachment {name}: {type}, {size} bytes").format(name=name, type=part.get_content_type(), size=len(payload))
        if save_to:
            os.makedirs(save_to, exist_ok=True)
            path = os.path.join(save_to, safe_name(part.get_filename() or "attachment"))
            with open(path, "wb") as f:
                f.write(payload)
            line += _(", saved as {path}").format(path=path)
        print(f"\n[{line}]", file=out)


def body_text(msg: email.message.EmailMessage) -> str:
    """The readable text of a message: its text/plain (else text/html) body, decoded."""
    part = msg.get_body(preferencelist=("plain", "html")) if msg.is_multipart() else msg
    if part is None:
        return _("(no text part)")
    if part.get_content_maintype() != "text":
        return _("(the body is {type})").format(type=part.get_content_type())
    try:
        text = part.get_content()
    except (LookupError, KeyError, UnicodeDecodeError, AttributeError):
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return text.replace("\r\n", "\n")            # the wire's CRLF, shown as plain lines


def server_text(exc: BaseException) -> str:
    """The server's words inside a poplib/imaplib error (``b'-ERR ...'`` -> ``-ERR ...``)."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip() or type(exc).__name__
