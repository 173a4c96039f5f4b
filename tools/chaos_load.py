#!/usr/bin/env python3
"""The load of ``make chaos``: runs inside a container on a lab's own network.

tools/chaos.py starts a load container (the lab image, as ``student``) on the chaos lab's
network, mounts this file into it and runs one step at a time with ``docker exec``::

    python3 chaos_load.py fuzz --target ftp --sessions 10000 --seconds 120 --seed 42
    python3 chaos_load.py check --target smtp-587
    python3 chaos_load.py ftp-uploads --seconds 20 --tag k1      # kill -9 happens meanwhile
    python3 chaos_load.py ftp-verify --tag k1 < acked.json
    python3 chaos_load.py flood --target nntp --connections 1000 --hold 4

Each command prints one JSON object on its last line of output.  Only the standard
library is used (the lab image has no hypothesis), so the malformed sessions come from a
seeded generator: session *i* of target *t* is ``random.Random(f"{seed}:{t}:{i}")``, and
``fuzz --target t --seed S --only i`` plays exactly that session again.  Every command is
bounded by a count and by ``--seconds``.

What a fuzz session does (one kind each, chosen by its generator):

* ``random``      -- random bytes, in one or several writes;
* ``long-line``   -- a line of 600 bytes to 200 kB, with or without its end;
* ``long-arg``    -- a real command with an argument of 300 bytes to 100 kB;
* ``disorder``    -- 1 to 10 commands of the protocol in random order, odd arguments;
* ``pipelined``   -- 5 to 60 commands in one write, without waiting for replies;
* ``tls-half``    -- a TLS handshake cut off part-way (after AUTH TLS / STARTTLS where
  the protocol has it, else straight away);
* ``tls-garbage`` -- a complete TLS handshake, then junk inside TLS, then a reset;
* ``plaintext``   -- plain commands on an implicit-TLS port (or after AUTH TLS);
* ``rst``         -- connect, perhaps a command, then an abrupt reset (RST);
* ``half-close``  -- a partial command, then shutdown(SHUT_WR) while the server waits.

Each session ends with a normal close or a reset (chosen by the generator).  Errors on
this side (resets, timeouts, TLS alerts) are expected and counted by type.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import ftplib
import hashlib
import imaplib
import io
import json
import random
import smtplib
import socket
import ssl
import struct
import sys
import threading
import time

CA = "/etc/ssl/certs/ca-certificates.crt"      # the lab CA is trusted system-wide in the lab image

# --------------------------------------------------------------------------- the targets

TARGETS = {
    # name: (protocol, host, port or socket path, how TLS comes in)
    "tcp-server": ("timestamp", "tcp-server", 8888, None),
    "udp-server": ("udp", "udp-server", 8888, None),
    "ss-server": ("timestamp", "ss-server", 8888, None),
    "unix-server": ("timestamp", None, "/run/socklab/timestamp.sock", None),
    "ftp": ("ftp", "ftp", 21, "auth-tls"),
    "ftp-tls": ("ftp", "ftp", 21, "auth-tls-first"),
    "smtp-25": ("smtp", "mail", 25, "starttls"),
    "smtp-587": ("smtp", "mail", 587, "starttls"),
    "smtp-465": ("smtp", "mail", 465, "implicit"),
    "nntp": ("nntp", "news", 119, "starttls"),
}

VERBS = {
    "timestamp": ["hello", "GET / HTTP/1.0", "quit", "\x00", "[Thu Sep  1 15:35:45 2016]", "ping"],
    "ftp": ["USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "REIN", "QUIT", "PORT", "PASV", "EPRT", "EPSV",
            "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO", "REST", "RNFR", "RNTO", "ABOR",
            "DELE", "RMD", "MKD", "PWD", "LIST", "NLST", "SITE", "SYST", "STAT", "HELP", "NOOP", "FEAT",
            "OPTS", "AUTH", "PBSZ", "PROT", "CCC", "MLSD", "MLST", "SIZE", "MDTM", "HASH", "XPWD", "XCUP",
            "SITE CHMOD", "OPTS HASH", "OPTS UTF8"],
    "smtp": ["HELO", "EHLO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
             "STARTTLS", "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5", "BDAT", "ETRN", "TURN"],
    "nntp": ["CAPABILITIES", "MODE READER", "AUTHINFO USER", "AUTHINFO PASS", "LIST", "LIST ACTIVE",
             "LIST NEWSGROUPS", "LIST OVERVIEW.FMT", "LIST HEADERS", "NEWGROUPS", "NEWNEWS", "GROUP",
             "LISTGROUP", "ARTICLE", "HEAD", "BODY", "STAT", "NEXT", "LAST", "OVER", "XOVER", "HDR", "XHDR",
             "POST", "IHAVE", "DATE", "STARTTLS", "HELP", "QUIT", "SLAVE", "XPAT", "AUTHINFO SASL"],
}
UPGRADE = {"ftp": b"AUTH TLS\r\n", "smtp": b"EHLO chaos\r\nSTARTTLS\r\n", "nntp": b"STARTTLS\r\n"}
KINDS = ["random", "long-line", "long-arg", "disorder", "pipelined", "tls-half", "tls-garbage",
         "plaintext", "rst", "half-close"]


def odd_argument(r: random.Random) -> bytes:
    """An argument a parser may not expect."""
    choice = r.randrange(16)
    if choice == 0:
        return b""
    if choice == 1:
        return str(r.choice([0, -1, 2**31, 2**63, 10**40, r.randrange(10**6)])).encode()
    if choice == 2:
        return b"../" * r.randrange(1, 40) + b"etc/passwd"
    if choice == 3:
        return b"%s%n%x" * r.randrange(1, 20)
    if choice == 4:
        return "名字 ünïcødé \u202e".encode("utf-8")
    if choice == 5:
        return bytes(r.randrange(256) for _ in range(r.randrange(1, 40)))
    if choice == 6:
        return b"<" + bytes(r.choice(b"ab@.<>!*?") for _ in range(r.randrange(1, 30))) + b">"
    if choice == 7:
        return r.choice([b"1-", b"-", b"5-3", b"999999999999999999-", b"0-0", b"1-99999999999999999999"])
    if choice == 8:
        return b"*,!*,comp.*,[a-" + b"?" * r.randrange(0, 50)
    if choice == 9:
        return b"FROM:<" + b"a" * r.randrange(0, 400) + b"@lab.test> SIZE=" + str(r.randrange(-5, 10**12)).encode()
    if choice == 10:
        return b"TO:<alice@lab.test> NOTIFY=NEVER ORCPT=rfc822;x"
    if choice == 11:
        return b"127,0,0,1," + str(r.randrange(300)).encode() + b"," + str(r.randrange(300)).encode()
    if choice == 12:
        return b"|1|10.0.0.1|" + str(r.randrange(70000)).encode() + b"|"
    if choice == 13:
        return base64.b64encode(bytes(r.randrange(256) for _ in range(r.randrange(0, 200))))
    if choice == 14:
        return b"\x00" * r.randrange(1, 10)
    return b" ".join(bytes(r.choice(b"abcdefghij0123456789 ") for _ in range(r.randrange(1, 12)))
                     for _ in range(r.randrange(1, 4)))


def command(r: random.Random, protocol: str) -> bytes:
    verb = r.choice(VERBS.get(protocol, VERBS["timestamp"])).encode()
    if r.random() < 0.2:
        verb = verb.lower()
    line = verb + (b" " + odd_argument(r) if r.random() < 0.8 else b"")
    return line + r.choice([b"\r\n", b"\r\n", b"\n", b"\r\n", b"\r", b"\r\n\r\n"])


# --------------------------------------------------------------------------- one session

class Busy(Exception):
    """The server turned the session away (a connection limit): nothing was fuzzed."""


class Session:
    """One connection of a fuzz campaign; every choice comes from its own generator."""

    def __init__(self, target: str, r: random.Random, timeout: float = 2.0) -> None:
        self.target = target
        self.protocol, self.host, self.port, self.tls = TARGETS[target]
        self.r = r
        self.timeout = timeout
        self.sock: socket.socket | ssl.SSLSocket | None = None

    # -- plumbing

    def connect(self) -> None:
        if self.host is None:
            s = unix_connect(self.port, self.timeout)
        else:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock = s

    def send(self, data: bytes) -> None:
        if data:
            self.sock.sendall(data)

    def drain(self, wait: float = 0.02, limit: int = 1 << 20) -> bytes:
        """Whatever the server says within *wait* seconds of quiet (at most *limit* bytes)."""
        got = bytearray()
        self.sock.settimeout(wait)
        try:
            while len(got) < limit:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
                self.sock.settimeout(min(wait, 0.02))
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        finally:
            self.sock.settimeout(self.timeout)
        return bytes(got)

    def greeting(self) -> None:
        if self.protocol in ("ftp", "smtp", "nntp") and self.tls != "implicit":
            if self.drain(0.5)[:3] in (b"421", b"400"):
                raise Busy("turned away by a connection limit")

    def handshake(self) -> None:
        """A complete TLS handshake on the current connection (certificate not checked)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.host or "localhost")

    def upgrade(self) -> bool:
        """AUTH TLS / STARTTLS, then a full handshake; False when the server said no."""
        if self.tls == "implicit":
            self.handshake()
            return True
        if self.tls is None:
            return False
        self.send(UPGRADE[self.protocol])
        reply = self.drain(0.5)
        if not any(reply.startswith(code) or b"\n" + code in reply for code in (b"234", b"220 2.0.0", b"382")):
            return False
        self.handshake()
        return True

    def partial_hello(self) -> bytes:
        """The first bytes of a real ClientHello (from a handshake never finished)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="x")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        return hello[:self.r.randrange(1, len(hello))]

    def reset(self) -> None:
        """Close with a RST: SO_LINGER on, timeout zero."""
        raw = self.sock
        if isinstance(raw, ssl.SSLSocket):
            raw = socket.socket(fileno=raw.detach())
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # -- the kinds

    def run(self, kind: str) -> None:
        r = self.r
        self.connect()
        try:
            self.greeting()
            if self.tls == "auth-tls-first" and kind not in ("tls-half", "plaintext"):
                if not self.upgrade():
                    raise Busy("AUTH TLS refused")
            elif self.tls == "implicit" and kind not in ("tls-half", "plaintext", "rst"):
                self.upgrade()
            elif self.tls == "starttls" and kind not in ("tls-half", "tls-garbage") and r.random() < 0.25:
                self.upgrade()
            getattr(self, "kind_" + kind.replace("-", "_"))()
        finally:
            if self.sock is not None:
                if r.random() < 0.3:
                    self.reset()
                else:
                    self.close()

    def kind_random(self) -> None:
        for _ in range(self.r.randrange(1, 4)):
            self.send(self.r.randbytes(self.r.randrange(0, 4096)))
            self.drain()

    def kind_long_line(self) -> None:
        n = self.r.choice([600, 1025, 2049, 5000, 70_000, 200_000])
        self.send(bytes([self.r.randrange(33, 127)]) * n + (b"\r\n" if self.r.random() < 0.7 else b""))
        self.drain(0.1)
        if self.r.random() < 0.5:
            self.send(command(self.r, self.protocol))
            self.drain()

    def kind_long_arg(self) -> None:
        verb = self.r.choice(VERBS.get(self.protocol, VERBS["timestamp"])).encode()
        self.send(verb + b" " + b"x" * self.r.choice([300, 513, 1001, 2100, 10_000, 100_000]) + b"\r\n")
        self.drain(0.1)

    def kind_disorder(self) -> None:
        for _ in range(self.r.randrange(1, 11)):
            self.send(command(self.r, self.protocol))
            self.drain()

    def kind_pipelined(self) -> None:
        self.send(b"".join(command(self.r, self.protocol) for _ in range(self.r.randrange(5, 61))))
        self.drain(0.1)

    def kind_tls_half(self) -> None:
        if self.tls in ("starttls", "auth-tls", "auth-tls-first"):
            self.send(UPGRADE[self.protocol])
            self.drain(0.3)
        self.send(self.partial_hello())
        self.drain()

    def kind_tls_garbage(self) -> None:
        if self.tls is not None and not isinstance(self.sock, ssl.SSLSocket):
            if not self.upgrade():
                self.kind_random()
                return
        elif self.tls is None:
            self.send(b"\x16\x03\x01" + self.r.randbytes(self.r.randrange(0, 600)))
            self.drain()
            return
        for _ in range(self.r.randrange(1, 4)):
            self.send(self.r.choice([self.r.randbytes(self.r.randrange(1, 2000)), command(self.r, self.protocol)]))
            self.drain()
        self.reset()

    def kind_plaintext(self) -> None:
        if self.tls in ("auth-tls", "auth-tls-first", "starttls"):
            self.send(UPGRADE[self.protocol])
            self.drain(0.3)
        for _ in range(self.r.randrange(1, 4)):
            self.send(command(self.r, self.protocol))
        self.drain(0.1)

    def kind_rst(self) -> None:
        if self.r.random() < 0.6:
            self.send(command(self.r, self.protocol))
            if self.r.random() < 0.5:
                self.drain(0.01)
        self.reset()

    def kind_half_close(self) -> None:
        self.send(command(self.r, self.protocol)[:-1] if self.r.random() < 0.5 else command(self.r, self.protocol))
        raw = self.sock
        try:
            raw.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            pass
        self.drain(0.1)


def unix_connect(path: str, timeout: float) -> socket.socket:
    """connect() an AF_UNIX socket, waiting (up to *timeout*) while the server's backlog is full.

    A non-blocking AF_UNIX connect fails with EAGAIN at once when the backlog is full
    (TCP would retry its SYN); a one-at-a-time server has a backlog of 5.
    """
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            s.settimeout(timeout)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise TimeoutError("the server's backlog stayed full") from None
            time.sleep(0.002)
        except OSError:
            s.close()
            raise


def session_rng(seed: int, target: str, i: int) -> random.Random:
    return random.Random(f"{seed}:{target}:{i}")


def play(target: str, seed: int, i: int, retries: int = 5) -> tuple[str, str | None, int]:
    """Play session *i*; return its kind, what went wrong on our side (None: nothing), and how
    many times it was turned away by a connection limit first.

    A server at its per-address limit answers 421/400 and closes: that is its right answer, but
    nothing was fuzzed, so the same session (the same generator) is played again after a
    pause -- other sessions of this address may still be closing on a busy machine.
    """
    if TARGETS[target][0] == "udp":
        return "datagram", udp_session(session_rng(seed, target, i)), 0
    attempt = 0
    while True:
        r = session_rng(seed, target, i)
        kind = r.choice(KINDS)
        try:
            Session(target, r).run(kind)
            return kind, None, attempt
        except Busy as exc:
            if attempt == retries:
                return kind, type(exc).__name__, attempt
            time.sleep(0.1 * 2 ** attempt)
            attempt += 1
        except (OSError, ssl.SSLError, ValueError, RuntimeError) as exc:
            return kind, type(exc).__name__, attempt


def udp_session(r: random.Random) -> str | None:
    host, port = TARGETS["udp-server"][1:3]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.05)
        for _ in range(r.randrange(1, 6)):
            size = r.choice([0, 1, r.randrange(2, 1024), 1024, 1025, r.randrange(1026, 9000), 65507])
            try:
                s.sendto(r.randbytes(size), (host, port))
            except OSError as exc:
                return type(exc).__name__
        try:
            s.recvfrom(70000)
        except OSError:
            pass
    return None


def cmd_fuzz(a) -> dict:
    started = time.monotonic()
    deadline = started + a.seconds
    kinds: dict[str, int] = {}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    numbers = [a.only] if a.only is not None else range(a.sessions)
    done = 0
    retried = 0             # sessions turned away by a connection limit, then played again

    def one(i: int) -> None:
        nonlocal done, retried
        if time.monotonic() > deadline:
            return
        kind, error, turned_away = play(a.target, a.seed, i)
        with lock:
            done += 1
            retried += turned_away
            kinds[kind] = kinds.get(kind, 0) + 1
            if error:
                errors[error] = errors.get(error, 0) + 1

    with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
        list(pool.map(one, numbers))
    return {"target": a.target, "seed": a.seed, "asked": len(numbers), "sessions": done,
            "seconds": round(time.monotonic() - started, 3), "kinds": kinds, "client_side_errors": errors,
            "turned_away_then_played": retried, "bounded_by_time": done < len(numbers)}


# --------------------------------------------------------------------------- correct sessions

FTP_USER, FTP_PASSWORD = "student", "password"
MAIL_USER, MAIL_PASSWORD = "alice", "password"


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=CA)


def correct_session(target: str, host: str | None = None, port=None) -> None:
    """A short, well-behaved session: raises if the server does not answer it right."""
    protocol, default_host, default_port, _ = TARGETS[target]
    host = host or default_host
    port = port or default_port
    word = f"chaos-check-{random.randrange(10**9)}"
    if protocol == "timestamp":
        s = unix_connect(port, 5) if host is None else socket.create_connection((host, port), timeout=5)
        with s:
            s.sendall(word.encode() + b"\r\n")
            reply = s.recv(4096)
        if not reply.rstrip().endswith(word.encode()):
            raise RuntimeError(f"unexpected reply {reply[:80]!r}")
    elif protocol == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            for _ in range(5):               # UDP: a lost datagram is not an error of the server
                s.sendto(word.encode(), (host, port))
                try:
                    reply, _ = s.recvfrom(4096)
                except socket.timeout:
                    continue
                if reply.endswith(word.encode()):
                    return
            raise RuntimeError("no reply to 5 datagrams")
    elif protocol == "ftp":
        ftp = ftplib.FTP_TLS(context=tls_context(), timeout=10) if target == "ftp-tls" else ftplib.FTP(timeout=10)
        with ftp:
            ftp.connect(host, port)
            ftp.login(FTP_USER, FTP_PASSWORD)
            if target == "ftp-tls":
                ftp.prot_p()
            ftp.nlst()
    elif protocol == "smtp":
        message = (f"From: {MAIL_USER}@lab.test\r\nTo: {MAIL_USER}@lab.test\r\nSubject: {word}\r\n\r\n"
                   f"a correct session after the chaos\r\n")
        if port == 465:
            smtp = smtplib.SMTP_SSL(host, port, context=tls_context(), timeout=10)
        else:
            smtp = smtplib.SMTP(host, port, timeout=10)
        with smtp:
            smtp.ehlo("chaos-check")
            if port == 587:
                smtp.starttls(context=tls_context())
                smtp.ehlo("chaos-check")
            if port in (587, 465):
                smtp.login(MAIL_USER, MAIL_PASSWORD)
            refused = smtp.sendmail(f"{MAIL_USER}@lab.test", [f"{MAIL_USER}@lab.test"], message)
            if refused:
                raise RuntimeError(f"refused: {refused}")
    elif protocol == "nntp":
        with NNTP(host, port) as n:
            n.command("GROUP lab.test", "211")
            n.post(f"From: chaos@lab.test\r\nNewsgroups: lab.test\r\nSubject: {word}\r\n\r\ncheck\r\n")
    else:
        raise ValueError(target)


def cmd_check(a) -> dict:
    started = time.monotonic()
    deadline = started + a.seconds
    error = None
    while True:
        try:
            t0 = time.monotonic()
            correct_session(a.target, a.host, a.port)
            return {"target": a.target, "ok": True, "seconds": round(time.monotonic() - t0, 3),
                    "waited": round(t0 - started, 3)}
        except Exception as exc:                    # noqa: BLE001 -- reported, and tried again
            error = f"{type(exc).__name__}: {exc}"
        if not a.retry or time.monotonic() > deadline:
            return {"target": a.target, "ok": False, "error": error, "waited": round(time.monotonic() - started, 3)}
        time.sleep(0.2)


# --------------------------------------------------------------------------- NNTP, by hand

class NNTP:
    """Just enough NNTP for the checks (nntplib is deprecated, and this is clearer)."""

    def __init__(self, host: str, port: int = 119, timeout: float = 10) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        greeting = self.line()
        if not greeting.startswith("20"):
            raise RuntimeError(f"greeting {greeting!r}")

    def line(self) -> str:
        raw = self.file.readline(100_000)
        if not raw:
            raise ConnectionError("connection closed")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def command(self, text: str, expect: str = "") -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        if expect and not reply.startswith(expect):
            raise RuntimeError(f"{text.split()[0]}: {reply}")
        return reply

    def block(self) -> list[bytes]:
        lines = []
        while True:
            raw = self.file.readline(1_000_000)
            if not raw:
                raise ConnectionError("connection closed in a data block")
            raw = raw.rstrip(b"\r\n")
            if raw == b".":
                return lines
            lines.append(raw[1:] if raw.startswith(b"..") else raw)

    def post(self, article: str | bytes) -> str:
        """POST; the final reply (240 means stored)."""
        self.command("POST", "340")
        data = article.encode() if isinstance(article, str) else article
        stuffed = b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in data.split(b"\r\n"))
        self.sock.sendall(stuffed.rstrip(b"\r\n") + b"\r\n.\r\n")
        reply = self.line()
        if not reply.startswith("240"):
            raise RuntimeError(f"POST: {reply}")
        return reply

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "NNTP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- items to keep

def content(tag: str, n: int, low: int = 1000, high: int = 200_000) -> bytes:
    """The bytes of item *n* of a run: anyone can make them again from the name alone."""
    r = random.Random(f"{tag}:{n}")
    return r.randbytes(r.randrange(low, high))


def text_content(tag: str, n: int, low: int = 500, high: int = 60_000) -> bytes:
    """A message or article body: printable lines (CRLF), reproducible from the name."""
    r = random.Random(f"{tag}:{n}")
    size = r.randrange(low, high)
    lines, total = [], 0
    while total < size:
        line = "".join(r.choice("abcdefghijklmnopqrstuvwxyz .,0123456789") for _ in range(r.randrange(1, 76)))
        if r.random() < 0.05:
            line = "." + line                         # dot-stuffing on the way
        lines.append(line)
        total += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FIRST_ACK = "FIRST-ACKNOWLEDGED"        # the line _loop prints when the server first says yes
FIRST_WAIT = 30.0                       # seconds a load waits, beyond --seconds, for that first yes


def _loop(a, one) -> dict:
    """Call one(n) for n = 0, 1, ... until --count, or for --seconds from the first item the
    server acknowledged (a server still starting gets FIRST_WAIT seconds more for that one);
    what was acknowledged.

    The first acknowledgement is announced at once (a line ``FIRST-ACKNOWLEDGED``), so that
    whoever kills the server can wait for traffic that really flows, not for a guess.
    """
    acked, errors, n = [], {}, 0
    deadline = time.monotonic() + a.seconds + FIRST_WAIT
    while n < a.count and time.monotonic() < deadline:
        try:
            one(n)
            if not acked:
                print(FIRST_ACK, flush=True)
                deadline = time.monotonic() + a.seconds
            acked.append(n)
        except Exception as exc:                    # noqa: BLE001 -- the server is being killed
            key = type(exc).__name__
            errors[key] = errors.get(key, 0) + 1
            time.sleep(0.05)
        n += 1
    return {"tag": a.tag, "tried": n, "acked": acked, "errors": errors}


def cmd_ftp_uploads(a) -> dict:
    state = {"ftp": None}

    def one(n: int) -> None:
        if state["ftp"] is None:
            ftp = ftplib.FTP(timeout=5)
            ftp.connect(a.host, 21)
            ftp.login(FTP_USER, FTP_PASSWORD)
            try:
                ftp.mkd(a.tag)
            except ftplib.error_perm:
                pass
            ftp.cwd(a.tag)
            state["ftp"] = ftp
        try:
            reply = state["ftp"].storbinary(f"STOR {n:06d}.bin", io.BytesIO(content(a.tag, n)))
        except BaseException:
            try:
                state["ftp"].close()
            finally:
                state["ftp"] = None
            raise
        if not reply.startswith("226"):
            raise RuntimeError(reply)

    return _loop(a, one)


def cmd_ftp_verify(a) -> dict:
    acked = set(json.load(sys.stdin)["acked"])
    ftp = ftplib.FTP(timeout=30)
    ftp.connect(a.host, 21)
    ftp.login(FTP_USER, FTP_PASSWORD)
    ftp.cwd(a.tag)
    names = sorted(n for n in ftp.nlst() if n.endswith(".bin"))
    lost, bad, good = [], [], 0
    present = set()
    for name in names:
        n = int(name.split(".")[0])
        present.add(n)
        buf = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", buf.write)
        if sha(buf.getvalue()) == sha(content(a.tag, n)):
            good += 1
        else:
            bad.append(name)                         # under its final name, but not whole
    lost = sorted(acked - present)
    ftp.quit()
    return {"tag": a.tag, "acked": len(acked), "present": len(names), "intact": good,
            "lost": lost, "half_written": bad}


def message(tag: str, n: int) -> bytes:
    head = (f"From: alice@lab.test\r\nTo: alice@lab.test\r\nSubject: chaos {tag} {n}\r\n"
            f"Message-ID: <chaos.{tag}.{n}@lab.test>\r\n\r\n").encode()
    return head + text_content(tag, n)


def cmd_smtp_sends(a) -> dict:
    state = {"smtp": None}

    def one(n: int) -> None:
        if state["smtp"] is None:
            smtp = smtplib.SMTP(a.host, a.port, timeout=10)
            smtp.ehlo("chaos")
            state["smtp"] = smtp
        try:
            refused = state["smtp"].sendmail("alice@lab.test", ["alice@lab.test"], message(a.tag, n))
        except BaseException:
            try:
                state["smtp"].close()
            finally:
                state["smtp"] = None
            raise
        if refused:
            raise RuntimeError(str(refused))

    return _loop(a, one)


def imap_messages(host: str, tag: str) -> dict[int, list[bytes]]:
    """Every stored message of the run *tag* in alice's INBOX, by number (a list: duplicates)."""
    imap = imaplib.IMAP4_SSL(host, 993, ssl_context=tls_context(), timeout=30)
    imap.login(MAIL_USER, MAIL_PASSWORD)
    imap.select("INBOX", readonly=True)
    _, data = imap.uid("SEARCH", None, "SUBJECT", f'"chaos {tag} "')
    found: dict[int, list[bytes]] = {}
    for uid in (data[0] or b"").split():
        _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next(p[1] for p in parts if isinstance(p, tuple))
        subject = next((line for line in raw.split(b"\r\n") if line.startswith(b"Subject: chaos ")), b"")
        try:
            n = int(subject.split()[-1])
        except (ValueError, IndexError):
            n = -1
        found.setdefault(n, []).append(raw)
    imap.logout()
    return found


def cmd_smtp_verify(a) -> dict:
    acked = set(json.load(sys.stdin)["acked"])
    found = imap_messages(a.host, a.tag)
    bad = [n for n, copies in found.items() if any(not c.endswith(message(a.tag, n)) for c in copies)]
    return {"tag": a.tag, "acked": len(acked), "present": len(found), "lost": sorted(acked - set(found)),
            "half_written": sorted(bad), "duplicates": sum(len(c) - 1 for c in found.values())}


def article(tag: str, n: int) -> bytes:
    head = (f"From: chaos@lab.test\r\nNewsgroups: lab.test\r\nSubject: chaos {tag} {n}\r\n"
            f"Message-ID: <chaos.{tag}.{n}@lab.test>\r\n\r\n").encode()
    return head + text_content(tag, n, high=20_000)


def cmd_nntp_posts(a) -> dict:
    state = {"nntp": None}

    def one(n: int) -> None:
        if state["nntp"] is None:
            state["nntp"] = NNTP(a.host, 119, timeout=10)
        try:
            state["nntp"].post(article(a.tag, n))
        except BaseException:
            try:
                state["nntp"].sock.close()
            finally:
                state["nntp"] = None
            raise

    return _loop(a, one)


def cmd_nntp_verify(a) -> dict:
    acked = set(json.load(sys.stdin)["acked"])
    lost, bad, present = [], [], 0
    with NNTP(a.host, 119, timeout=30) as n:
        n.command("GROUP lab.test", "211")
        reply = n.command("XHDR Subject 1-", "221")
        subjects = [line.decode("utf-8", "replace") for line in n.block()]
        numbers = {}
        for line in subjects:
            number, _, subject = line.partition(" ")
            if subject.startswith(f"chaos {a.tag} "):
                numbers.setdefault(int(subject.split()[-1]), []).append(number)
        for item, places in numbers.items():
            for place in places:
                present += 1
                n.command(f"BODY {place}", "222")
                body = b"\r\n".join(n.block()) + b"\r\n"
                if body != text_content(a.tag, item, high=20_000):
                    bad.append(item)
        lost = sorted(acked - set(numbers))
        del reply
    return {"tag": a.tag, "acked": len(acked), "present": present, "lost": lost, "half_written": sorted(bad)}


# --------------------------------------------------------------------------- a full disk

def cmd_fill(a) -> dict:
    """Store items until the server refuses one; what it said, and whether the earlier ones are whole."""
    refusal = None
    stored: list[int] = []
    protocol = a.protocol
    deadline = time.monotonic() + a.seconds
    session = open_store(protocol, a.host)
    n = a.first
    while time.monotonic() < deadline and n < a.first + a.count:
        reply = store(protocol, session, a.tag, n, a.size)
        if reply.startswith(("226", "250", "240")):
            stored.append(n)
            n += 1
            continue
        refusal = reply
        break
    close_store(protocol, session)
    return {"tag": a.tag, "stored": stored, "refusal": refusal}


def open_store(protocol: str, host: str):
    if protocol == "ftp":
        ftp = ftplib.FTP(timeout=20)
        ftp.connect(host, 21)
        ftp.login(FTP_USER, FTP_PASSWORD)
        return ftp
    if protocol == "smtp":
        smtp = smtplib.SMTP(host, 25, timeout=30)
        smtp.ehlo("chaos")
        return smtp
    return NNTP(host, 119, timeout=30)


def close_store(protocol: str, session) -> None:
    try:
        session.quit() if protocol != "nntp" else session.close()
    except Exception:                                # noqa: BLE001 -- the end of a test session
        pass


def big(tag: str, n: int, size: int) -> bytes:
    r = random.Random(f"{tag}:{n}")
    line = "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(70)).encode() + b"\r\n"
    return line * (size // len(line))


def store(protocol: str, session, tag: str, n: int, size: int) -> str:
    try:
        if protocol == "ftp":
            return session.storbinary(f"STOR fill-{tag}-{n:04d}.bin", io.BytesIO(big(tag, n, size)))
        if protocol == "smtp":
            msg = (f"From: alice@lab.test\r\nTo: alice@lab.test\r\nSubject: fill {tag} {n}\r\n\r\n").encode() \
                + big(tag, n, size)
            session.sendmail("alice@lab.test", ["alice@lab.test"], msg)
            return "250 stored"
        art = (f"From: chaos@lab.test\r\nNewsgroups: lab.test\r\nSubject: fill {tag} {n}\r\n"
               f"Message-ID: <fill.{tag}.{n}@lab.test>\r\n\r\n").encode() + big(tag, n, size)
        return session.post(art)
    except (ftplib.Error, smtplib.SMTPResponseException) as exc:
        return str(exc) if protocol == "ftp" else f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')}"
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {text.decode('utf-8', 'replace')}"
    except RuntimeError as exc:                      # NNTP: "POST: 441 ..."
        return str(exc).removeprefix("POST: ")


def cmd_fill_verify(a) -> dict:
    """Are the items stored before the disk filled up still whole?"""
    stored = json.load(sys.stdin)["stored"]
    bad = []
    if a.protocol == "ftp":
        ftp = open_store("ftp", a.host)
        for n in stored:
            buf = io.BytesIO()
            try:
                ftp.retrbinary(f"RETR fill-{a.tag}-{n:04d}.bin", buf.write)
            except ftplib.Error:
                pass
            if buf.getvalue() != big(a.tag, n, a.size):
                bad.append(n)
        ftp.quit()
    elif a.protocol == "smtp":
        imap = imaplib.IMAP4_SSL(a.host, 993, ssl_context=ssl._create_unverified_context(), timeout=30)
        imap.login(MAIL_USER, MAIL_PASSWORD)
        imap.select("INBOX", readonly=True)
        for n in stored:
            _, data = imap.uid("SEARCH", None, "SUBJECT", f'"fill {a.tag} {n}"')
            uids = (data[0] or b"").split()
            ok = False
            for uid in uids:
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[TEXT])")
                body = next((p[1] for p in parts if isinstance(p, tuple)), b"")
                ok = ok or body == big(a.tag, n, a.size)
            if not ok:
                bad.append(n)
        imap.logout()
    else:
        with NNTP(a.host, 119, timeout=30) as nn:
            for n in stored:
                try:
                    nn.command(f"BODY <fill.{a.tag}.{n}@lab.test>", "222")
                    body = b"\r\n".join(nn.block()) + b"\r\n"
                except RuntimeError:
                    body = b""
                if body != big(a.tag, n, a.size):
                    bad.append(n)
    return {"tag": a.tag, "checked": len(stored), "damaged": bad}


# --------------------------------------------------------------------------- floods

def cmd_flood(a) -> dict:
    """Open --connections idle connections, hold them, and see what the server says to them."""
    protocol, host, port, _ = TARGETS[a.target]
    host = a.host or host
    port = a.port or port
    if protocol == "udp":
        return udp_flood(a, host, port)
    conns: list[socket.socket] = []
    failed: dict[str, int] = {}
    started = time.monotonic()
    for _ in range(a.connections):
        if time.monotonic() - started > a.open_seconds:
            failed["not tried (time)"] = failed.get("not tried (time)", 0) + 1
            continue
        try:
            if host is None:
                s = unix_connect(port, 0.5)
            else:
                # a one-at-a-time server's backlog fills up: its kernel stops answering SYNs
                s = socket.create_connection((host, port), timeout=0.5)
            s.setblocking(False)
            conns.append(s)
        except OSError as exc:
            key = type(exc).__name__
            failed[key] = failed.get(key, 0) + 1
    opened = time.monotonic() - started
    time.sleep(a.hold)
    first_lines: dict[str, int] = {}
    closed_by_server = 0
    for s in conns:
        try:
            data = s.recv(4096)
            if data:
                key = data.split(b"\n")[0][:40].decode("utf-8", "replace").strip()
                key = key[:3] if key[:3].isdigit() else key
                first_lines[key] = first_lines.get(key, 0) + 1
                # after a busy reply the server closes
                try:
                    if not s.recv(4096):
                        closed_by_server += 1
                except (BlockingIOError, OSError):
                    pass
            else:
                closed_by_server += 1
        except BlockingIOError:
            first_lines["(nothing yet)"] = first_lines.get("(nothing yet)", 0) + 1
        except OSError as exc:
            first_lines[type(exc).__name__] = first_lines.get(type(exc).__name__, 0) + 1
    result = {"target": a.target, "connections": a.connections, "connected": len(conns), "failed": failed,
              "seconds_to_open": round(opened, 3), "first_line": first_lines, "closed_by_server": closed_by_server}
    # keep the connections until told to go (chaos.py probes from another container meanwhile)
    marker = a.release
    if marker:
        print(json.dumps({"held": len(conns)}), flush=True)
        while time.monotonic() - started < a.seconds:
            try:
                open(marker).close()
                break
            except OSError:
                time.sleep(0.05)
    for s in conns:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass
    return result


def udp_flood(a, host: str, port: int) -> dict:
    """UDP has no connections: --connections datagrams as fast as they go, then the replies."""
    started = time.monotonic()
    replies = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        for i in range(a.connections):
            try:
                s.sendto(b"flood %d" % i, (host, port))
            except OSError:
                pass
        s.settimeout(a.hold)
        try:
            while replies < a.connections:
                s.recvfrom(4096)
                replies += 1
                s.settimeout(0.2)
        except OSError:
            pass
    if a.release:
        print(json.dumps({"held": 0}), flush=True)
        while time.monotonic() - started < a.seconds:
            try:
                open(a.release).close()
                break
            except OSError:
                time.sleep(0.05)
    return {"target": a.target, "connections": a.connections, "datagrams": a.connections, "replies": replies,
            "first_line": {"(replies)": replies}, "seconds": round(time.monotonic() - started, 3)}


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="chaos_load", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fuzz")
    f.add_argument("--target", choices=TARGETS, required=True)
    f.add_argument("--sessions", type=int, default=10_000)
    f.add_argument("--seconds", type=float, default=120)
    f.add_argument("--seed", type=int, required=True)
    f.add_argument("--concurrency", type=int, default=8)
    f.add_argument("--only", type=int, default=None, help="play only session number N (a replay)")
    c = sub.add_parser("check")
    c.add_argument("--target", choices=TARGETS, required=True)
    c.add_argument("--host")
    c.add_argument("--port")
    c.add_argument("--retry", action="store_true", help="try again until --seconds")
    c.add_argument("--seconds", type=float, default=10)
    for name in ("ftp-uploads", "smtp-sends", "nntp-posts", "ftp-verify", "smtp-verify", "nntp-verify"):
        s = sub.add_parser(name)
        s.add_argument("--host", default={"ftp": "ftp", "smtp": "mail", "nntp": "news"}[name.split("-")[0]])
        s.add_argument("--port", type=int, default=25)
        s.add_argument("--tag", required=True)
        s.add_argument("--count", type=int, default=10_000)
        s.add_argument("--seconds", type=float, default=20)
    for name in ("fill", "fill-verify"):
        s = sub.add_parser(name)
        s.add_argument("--protocol", choices=["ftp", "smtp", "nntp"], required=True)
        s.add_argument("--host", required=True)
        s.add_argument("--tag", required=True)
        s.add_argument("--size", type=int, default=256 * 1024)
        s.add_argument("--first", type=int, default=0)
        s.add_argument("--count", type=int, default=1000)
        s.add_argument("--seconds", type=float, default=60)
    fl = sub.add_parser("flood")
    fl.add_argument("--target", choices=TARGETS, required=True)
    fl.add_argument("--host")
    fl.add_argument("--port", type=lambda v: v if v.startswith("/") else int(v))
    fl.add_argument("--connections", type=int, default=1000)
    fl.add_argument("--hold", type=float, default=2.0)
    fl.add_argument("--seconds", type=float, default=30)
    fl.add_argument("--release", help="keep the connections open until this file exists")
    fl.add_argument("--open-seconds", type=float, default=10, help="stop opening connections after this long")
    a = p.parse_args(argv)
    if getattr(a, "port", None) and isinstance(a.port, str) and a.port.isdigit():
        a.port = int(a.port)
    handler = {"fuzz": cmd_fuzz, "check": cmd_check, "ftp-uploads": cmd_ftp_uploads, "ftp-verify": cmd_ftp_verify,
               "smtp-sends": cmd_smtp_sends, "smtp-verify": cmd_smtp_verify, "nntp-posts": cmd_nntp_posts,
               "nntp-verify": cmd_nntp_verify, "fill": cmd_fill, "fill-verify": cmd_fill_verify,
               "flood": cmd_flood}[a.cmd]
    print(json.dumps(handler(a)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
