"""The mail accounts: ``MAIL_ACCOUNTS`` turned into Dovecot's password file.

The lab's accounts come from one environment variable, so a teacher changes them in
compose (or ``MAIL_ACCOUNTS=... make lab``) without touching code::

    MAIL_ACCOUNTS="alice:password bob:password"      # user:password, space or comma separated

Each account becomes a mailbox ``user@lab.test``.  The mail host writes them, at start,
as a passwd-file (Dovecot's simplest account database)::

    alice@lab.test:{SSHA512}mZ3l...==::::::

The password is stored as a salted SHA-512 hash (Dovecot's ``SSHA512`` scheme:
base64 of ``sha512(password + salt) + salt``), never as plain text.  The one file serves
both servers: Dovecot reads it for POP3, IMAP and LMTP, and the SMTP server checks
``AUTH`` against it with :class:`PasswdFile` -- so the accounts are the same everywhere, and
``alice`` or ``alice@lab.test`` log in alike.

(Why does the SMTP server not ask Dovecot's auth service, as Postfix does?  Dovecot 2.3
holds every failed login back for at least half a second, by design; the lab wants a
wrong password answered at once.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import NamedTuple

DEFAULT_ACCOUNTS = "alice:password bob:password"
SALT_BYTES = 8
_USER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class Account(NamedTuple):
    user: str          # the local part: "alice"
    password: str


def parse(spec: str) -> list[Account]:
    """``"alice:password bob:secret"`` -> accounts; raise ValueError on anything unclear."""
    accounts: list[Account] = []
    for item in spec.replace(",", " ").split():
        user, sep, password = item.partition(":")
        user = user.lower()
        if not sep or not password:
            raise ValueError(f"account {item!r}: write it as user:password")
        if not _USER.fullmatch(user):
            raise ValueError(f"account {user!r}: use lower-case letters, digits, '.', '_' or '-'")
        if any(a.user == user for a in accounts):
            raise ValueError(f"account {user!r} is listed twice")
        accounts.append(Account(user, password))
    if not accounts:
        raise ValueError("no accounts given")
    return accounts


def ssha512(password: str, salt: bytes | None = None) -> str:
    """Dovecot's ``{SSHA512}`` scheme: base64(sha512(password + salt) + salt)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.sha512(password.encode("utf-8") + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode("ascii")


def verify_ssha512(password: str, stored: str) -> bool:
    """Does *password* match *stored* (``{SSHA512}...``)?  Compared in constant time."""
    if not stored.startswith("{SSHA512}"):
        return False
    try:
        raw = base64.b64decode(stored[len("{SSHA512}"):], validate=True)
    except ValueError:
        return False
    digest, salt = raw[:64], raw[64:]
    return hmac.compare_digest(hashlib.sha512(password.encode("utf-8") + salt).digest(), digest)


def passwd_file(accounts: list[Account], domain: str) -> str:
    """The passwd-file text: ``user@domain:{SSHA512}hash::::::`` per account.

    The six empty fields are uid, gid, gecos, home, shell and extra fields; dovecot.conf
    gives every user the same uid (socklab) and a home under /srv/mail instead.
    """
    return "".join(f"{a.user}@{domain}:{ssha512(a.password)}::::::\n" for a in accounts)


def write_passwd_file(path: str, accounts: list[Account], domain: str) -> None:
    """Write the file readable by its owner only, replacing any old one in one step."""
    tmp = f"{path}.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(passwd_file(accounts, domain))
    os.replace(tmp, path)


class PasswdFile:
    """Check a login against the passwd-file, the way Dovecot does for POP3 and IMAP.

    ``alice``, ``Alice`` and ``alice@lab.test`` are the same account (Dovecot's
    ``auth_default_realm`` and lower-casing).  The file is read at every check: it is a few
    lines long, and a check is always against what Dovecot sees too.

    :param path: the passwd-file.
    :param domain: the domain a login without ``@`` belongs to.
    """

    def __init__(self, path: str, domain: str) -> None:
        self.path = path
        self.domain = domain.lower()

    def canonical(self, login: str) -> str:
        login = login.strip().lower()
        return login if "@" in login else f"{login}@{self.domain}"

    def check(self, login: str, password: str) -> str | None:
        """The account's address if *password* is right, else None."""
        address = self.canonical(login)
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                user, _, rest = line.partition(":")
                if user == address:
                    return address if verify_ssha512(password, rest.split(":", 1)[0]) else None
        return None
