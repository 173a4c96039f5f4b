"""What the two FTP clients, ``ftp-client`` and ``ftp-move``, share: opening a session, errors, sizes.

* :func:`open_session` / :func:`close_session` -- connect, ``AUTH TLS`` if asked (the
  certificate is verified; nothing here ever turns verification off), ``login()``,
  ``PROT P``, passive or active mode; and a polite ``quit()`` at the end;
* :func:`add_session_args` and :func:`password_for` -- the command-line options that say
  how to open a session, and where a password comes from;
* :func:`ftp_errors` -- ftplib's errors (a ``4xx``/``5xx`` reply, a dropped connection)
  turned into one :class:`~socklab.cli.ClientError` line, never a traceback;
* :func:`features` / :func:`hash_algorithms` -- what the server's ``FEAT`` reply offers;
* :func:`human_bytes` / :func:`rate` -- sizes and speeds for people.
"""

from __future__ import annotations

import argparse
import contextlib
import ftplib
import getpass
import os
import ssl
import sys
from collections.abc import Iterator

from socklab import cli
from socklab.i18n import _

PORT = 21
BLOCK = 256 * 1024


def human_bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def rate(nbytes: float, seconds: float) -> str:
    return f"{nbytes / max(seconds, 1e-9) / 1e6:.1f} MB/s"


def reply_text(exc: BaseException) -> str:
    """The server's reply inside an ftplib error (``550 No such file or directory.``)."""
    return str(exc).strip() or type(exc).__name__


@contextlib.contextmanager
def ftp_errors(where: str, action: str = "") -> Iterator[None]:
    """Turn ftplib's errors (a 4xx/5xx reply, a dropped connection) into one ClientError line."""
    prefix = f"{action}: " if action else ""
    try:
        yield
    except cli.ClientError:
        raise
    except ftplib.error_perm as exc:          # 5xx: permanent, do not repeat as is
        raise cli.ClientError(f"{prefix}{reply_text(exc)}") from exc
    except ftplib.error_temp as exc:          # 4xx: try again later (421: the server closed)
        raise cli.ClientError(prefix + _("{reply} (from {where})").format(reply=reply_text(exc), where=where)) from exc
    except (ftplib.error_reply, ftplib.error_proto) as exc:
        raise cli.ClientError(prefix + _("unexpected reply from {where}: {reply}").format(where=where, reply=reply_text(exc))) from exc
    except EOFError as exc:                   # ftplib: the server closed the control connection
        raise cli.ClientError(prefix + _("{where} closed the connection").format(where=where)) from exc
    except (OSError, ssl.SSLError) as exc:
        raise cli.ClientError(prefix + cli.describe(exc, where)) from exc


def open_session(host: str, port: int = PORT, *, user: str = "anonymous", password: str = "",
                 tls: bool = False, active: bool = False, timeout: float = 10.0, trace: bool = False,
                 cafile: str | None = None) -> ftplib.FTP:
    """Connect and log in; return the :class:`ftplib.FTP` (or ``FTP_TLS``) session.

    With *tls*, ``AUTH TLS`` comes before ``USER``/``PASS`` (so the password is encrypted)
    and ``PROT P`` after (so are the data connections); the certificate must be signed by
    a CA this system trusts (the lab CA is, in every lab container) or by *cafile*.
    """
    where = f"{host}:{port}"
    if tls:
        context = ssl.create_default_context(cafile=cafile)
        ftp: ftplib.FTP = ftplib.FTP_TLS(context=context, timeout=timeout)
    else:
        ftp = ftplib.FTP(timeout=timeout)
    ftp.set_debuglevel(1 if trace else 0)
    try:
        with ftp_errors(where):
            ftp.connect(host, port)
        if tls:
            with ftp_errors(where, _("AUTH TLS refused (does the server offer TLS?)")):
                ftp.auth()
        with ftp_errors(where, _("login as {user} refused").format(user=user)):
            ftp.login(user, password)
        with ftp_errors(where):
            if tls:
                ftp.prot_p()
            ftp.set_pasv(not active)
    except BaseException:
        ftp.close()
        raise
    return ftp


def close_session(ftp: ftplib.FTP) -> None:
    """``quit()`` politely; if the server is already gone, just close."""
    try:
        ftp.quit()
    except (*ftplib.all_errors, ssl.SSLError):
        ftp.close()


def features(ftp: ftplib.FTP) -> list[str]:
    """The server's FEAT lines (``['EPSV', 'HASH SHA-256*;SHA-1', ...]``); [] if it has none."""
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.error_perm:
        return []
    return [line.strip() for line in reply.splitlines()[1:-1] if line.strip()]


def hash_algorithms(ftp: ftplib.FTP) -> list[str]:
    """The algorithms the server's HASH command offers (empty: no HASH)."""
    for feat in features(ftp):
        if feat.upper().startswith("HASH "):
            return [a.rstrip("*").upper() for a in feat[5:].split(";") if a]
    return []


def add_session_args(p: argparse.ArgumentParser) -> None:
    """Options that say how to open a session (also used by ftp-move)."""
    p.add_argument("--active", dest="active", action="store_true",
                   help=_("active mode: the server connects back to us (PORT/EPRT)"))
    p.add_argument("--passive", dest="active", action="store_false",
                   help=_("passive mode: we connect to the server's data port (PASV/EPSV; the default)"))
    p.add_argument("--tls", action="store_true", help=_("FTPS: AUTH TLS before login, PROT P for data"))
    p.add_argument("--cafile", help=_("trust this CA certificate (e.g. pki/ca.crt on the host)"))


def password_for(user: str, given: str | None) -> str:
    """The password: given, anonymous's customary e-mail address, FTP_PASSWORD, or asked."""
    if given is not None:
        return given
    if user in ("anonymous", "ftp"):
        return "student@lab.test"
    if os.environ.get("FTP_PASSWORD"):
        return os.environ["FTP_PASSWORD"]
    if sys.stdin.isatty():
        return getpass.getpass(_("password for {user}: ").format(user=user))
    raise cli.ClientError(_("no password for {user}: give --password or set FTP_PASSWORD").format(user=user))
