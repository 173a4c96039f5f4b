"""SMTP AUTH checked by Dovecot: a client of Dovecot's authentication protocol.

The SMTP server does not keep passwords.  When a client says ``AUTH PLAIN ...`` or
``AUTH LOGIN``, the server opens Dovecot's ``auth-client`` socket and passes the SASL
exchange through, the way Postfix does with ``smtpd_sasl_type = dovecot``.  So SMTP, POP3
and IMAP share one account list and one password check, and ``alice`` or
``alice@lab.test`` log in alike everywhere.

The protocol (https://doc.dovecot.org/developer_manual/design/auth_protocol/) is
line-based, fields separated by TAB, SASL data in base64::

    C: VERSION 1 2              S: VERSION 1 2
    C: CPID    <our pid>        S: MECH PLAIN plaintext ... SPID ... CUID ... COOKIE ... DONE
    C: AUTH 1 LOGIN service=smtp secured no-penalty rip=... lip=...
    S: CONT 1 VXNlcm5hbWU6      (-> "334 VXNlcm5hbWU6" to the SMTP client: "Username:")
    C: CONT 1 YWxpY2U=          (<- the SMTP client's answer)
    S: CONT 1 UGFzc3dvcmQ6
    C: CONT 1 cGFzc3dvcmQ=
    S: OK 1 user=alice@lab.test          or    FAIL 1 user=alice@lab.test

``no-penalty`` asks Dovecot not to slow down repeated failures for SMTP: the lab answers a
wrong password at once with ``535``.  (Dovecot's penalty still applies to POP3 and IMAP.)
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable
from typing import NamedTuple

#: The SASL step: given the server's challenge, return the client's answer (None: aborted).
Challenge = Callable[[bytes], Awaitable["bytes | None"]]


class AuthResult(NamedTuple):
    ok: bool
    user: str | None = None         # the canonical login, e.g. "alice@lab.test"
    temporary: bool = False         # the service failed, not the credentials
    aborted: bool = False           # the client gave up ("*" or bad base64); it has been told


class AuthUnavailable(Exception):
    """Dovecot's authentication service could not be asked (socket missing, timeout, ...)."""


def _fields(parts: list[str]) -> dict[str, str]:
    """``["user=alice", "nologin"]`` -> ``{"user": "alice", "nologin": ""}`` (tab-unescaped)."""
    out = {}
    for part in parts:
        key, _, value = part.partition("=")
        out[key] = _unescape(value)
    return out


def _unescape(value: str) -> str:
    """Dovecot's tab-escaping: \\x01 followed by 0, 1, t, r, n (or l) for NUL, \\x01, TAB, CR, LF."""
    if "\x01" not in value:
        return value
    table = {"0": "\0", "1": "\x01", "t": "\t", "r": "\r", "n": "\n", "l": "\n"}
    out, chars = [], iter(value)
    for ch in chars:
        if ch == "\x01":
            ch = next(chars, "")
            ch = table.get(ch, ch)          # anything else stands for itself
        out.append(ch)
    return "".join(out)


class DovecotAuth:
    """Ask Dovecot's authentication service to run one SASL exchange.

    :param path: the ``auth-client`` UNIX socket (in Dovecot's ``base_dir``).
    :param service: the service name Dovecot logs and may match on (``smtp``).
    :param timeout: seconds to wait for each answer from Dovecot.
    """

    def __init__(self, path: str, *, service: str = "smtp", timeout: float = 10.0) -> None:
        self.path = path
        self.service = service
        self.timeout = timeout

    async def authenticate(self, mechanism: str, initial: bytes | None, challenge: Challenge, *,
                           secured: bool, remote: tuple | None = None,
                           local: tuple | None = None) -> AuthResult:
        """Run ``AUTH <mechanism>``; *initial* is the client's initial response, if any.

        Raises :class:`AuthUnavailable` when Dovecot cannot be asked; a wrong password is
        an ordinary ``AuthResult(ok=False)``.
        """
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path), self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise AuthUnavailable(f"cannot reach {self.path}: {exc}") from exc
        try:
            return await self._exchange(reader, writer, mechanism, initial, challenge,
                                        secured=secured, remote=remote, local=local)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise AuthUnavailable(f"{self.path}: {exc or type(exc).__name__}") from exc
        finally:
            writer.close()

    async def _exchange(self, reader, writer, mechanism, initial, challenge, *, secured, remote, local):
        async def send(*parts: str) -> None:
            writer.write(("\t".join(parts) + "\n").encode("utf-8"))
            await writer.drain()

        async def receive() -> list[str]:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self.timeout)
            return line.decode("utf-8", "replace").rstrip("\n").split("\t")

        # Handshake: say who we are, read the server's greeting up to DONE.
        await send("VERSION", "1", "2")
        await send("CPID", str(os.getpid()))
        mechanisms = set()
        while True:
            parts = await receive()
            if parts[0] == "VERSION" and parts[1:2] != ["1"]:
                raise ValueError(f"unsupported auth protocol version {parts[1:]}")
            if parts[0] == "MECH":
                mechanisms.add(parts[1].upper())
            if parts[0] == "DONE":
                break
        if mechanism.upper() not in mechanisms:
            return AuthResult(ok=False)

        request = "1"                                 # one request per connection
        params = [f"service={self.service}", "no-penalty"]
        if secured:
            params.append("secured")
        if remote:
            params += [f"rip={remote[0]}", f"rport={remote[1]}"]
        if local:
            params += [f"lip={local[0]}", f"lport={local[1]}"]
        if initial is not None:                       # resp= must be the last parameter
            params.append("resp=" + base64.b64encode(initial).decode("ascii"))
        await send("AUTH", request, mechanism.upper(), *params)

        while True:
            reply, *rest = await receive()
            if rest[:1] != [request]:
                raise ValueError(f"unexpected reply from auth service: {reply} {rest[:1]}")
            if reply == "CONT":
                answer = await challenge(base64.b64decode(rest[1] if len(rest) > 1 else ""))
                if answer is None:                    # the SMTP client gave up
                    return AuthResult(ok=False, aborted=True)
                await send("CONT", request, base64.b64encode(answer).decode("ascii"))
                continue
            fields = _fields(rest[1:])
            if reply == "OK" and "nologin" not in fields and "proxy" not in fields:
                return AuthResult(ok=True, user=fields.get("user"))
            if reply in ("OK", "FAIL"):
                return AuthResult(ok=False, user=fields.get("user"),
                                  temporary=fields.get("code") == "temp_fail")
            raise ValueError(f"unexpected reply from auth service: {reply}")
