#!/usr/bin/env python3
"""The load generators of ``make bench``: run inside a container on a lab's own network.

tools/bench (make bench) starts a load container (the lab image, as ``student``) on the bench lab's
network, mounts this file into it and runs one measurement at a time with ``docker exec``::

    python3 bench_load.py tcp   --host tcp-server --clients 32 --messages 40 --seconds 10
    python3 bench_load.py ftp-logins --host ftp --clients 300 --user student --password password

Each command prints one JSON object (the measurement) on its last line of output.  Every
time is taken here, inside the container, so starting the container or ``docker exec``
is never part of a figure.  Every command is bounded twice: by a count (messages, clients,
articles) and by ``--seconds``; what is not done by then is reported as not done, not waited
for.  Only the standard library is used, so any image with Python 3 can run it.

Latencies are reported as percentiles of the round trips that completed (p50, p99, in
milliseconds); a round trip that never completed is counted in ``errors`` (or ``lost`` for
UDP) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import ftplib
import imaplib
import json
import math
import random
import ssl
import sys
import time


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile *p* (0-100) of *values*, or None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def summary(done: int, elapsed: float, latencies: list[float], **extra) -> dict:
    """The common shape of a result: how many, how fast, and the latency percentiles (ms)."""
    return {"done": done, "seconds": round(elapsed, 6), "rate": done / elapsed if elapsed > 0 else 0.0,
            "p50_ms": _ms(percentile(latencies, 50)), "p99_ms": _ms(percentile(latencies, 99)), **extra}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# --------------------------------------------------------------------------- stream sockets

async def tcp_client(n: int, args, deadline: float, latencies: list[float], errors: list[str]) -> None:
    """One client of a timestamp server: *messages* round trips, each timed.

    ``--per-connection`` opens a new connection for every message (what ss-server expects:
    one line per connection); otherwise one connection carries every message, as
    tcp-client does.  The latency of the first message includes any wait for the server
    to accept the connection -- the queue a one-at-a-time server builds up.
    """
    reader = writer = None
    try:
        for i in range(args.messages):
            if time.monotonic() >= deadline:
                errors.append("deadline")
                return
            line = f"bench {n} {i}\n".encode()
            started = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port),
                                                        deadline - time.monotonic())
            writer.write(line)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), max(0.001, deadline - time.monotonic()))
            if not reply.endswith(b"] " + line):
                errors.append(f"unexpected reply {reply[:60]!r}")
                return
            if args.per_connection:
                writer.close()
                await writer.wait_closed()
                writer = None
            latencies.append(time.perf_counter() - started)
    except (OSError, asyncio.TimeoutError) as exc:
        errors.append(type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def run_tcp(args) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(*(tcp_client(n, args, deadline, latencies, errors) for n in range(args.clients)))
    return summary(len(latencies), time.perf_counter() - started, latencies,
                   errors=len(errors), clients=args.clients, asked=args.clients * args.messages)


# --------------------------------------------------------------------------- UDP

class _UDPClient(asyncio.DatagramProtocol):
    """Matches replies to what was sent; a reply that comes after its timeout is ignored."""

    def __init__(self) -> None:
        self.waiting: dict[bytes, asyncio.Future] = {}

    def datagram_received(self, data: bytes, addr) -> None:
        _, _, echoed = data.partition(b"] ")
        future = self.waiting.pop(echoed, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def error_received(self, exc) -> None:       # ICMP port unreachable: counted as a loss
        pass


async def udp_client(n: int, args, deadline: float, latencies: list[float], lost: list[int]) -> None:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_UDPClient, remote_addr=(args.host, args.port))
    try:
        for i in range(args.messages):
            if time.monotonic() >= deadline:
                return
            msg = f"bench {n} {i}".encode()
            future = loop.create_future()
            proto.waiting[msg] = future
            started = time.perf_counter()
            transport.sendto(msg)
            try:
                answered = await asyncio.wait_for(future, args.timeout)
                latencies.append(answered - started)
            except asyncio.TimeoutError:
                proto.waiting.pop(msg, None)
                lost.append(1)
    finally:
        transport.close()


async def run_udp(args) -> dict:
    latencies: list[float] = []
    lost: list[int] = []
    started = time.perf_counter()
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(*(udp_client(n, args, deadline, latencies, lost) for n in range(args.clients)))
    sent = len(latencies) + len(lost)
    return summary(len(latencies), time.perf_counter() - started, latencies, lost=len(lost), sent=sent,
                   loss=len(lost) / sent if sent else None, clients=args.clients)


# --------------------------------------------------------------------------- FTP

class _Zeros:
    """A file-like object of *size* zero bytes, so that STOR needs no file on disk."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = bytes(1 << 16)

    def read(self, n: int = -1) -> bytes:
        n = min(self.left, len(self.block) if n is None or n < 0 else n)
        self.left -= n
        return self.block[:n]


def ftp_transfer(args) -> dict:
    """Time one STOR or RETR of ``--size`` bytes (binary mode, passive), the login excluded."""
    with ftplib.FTP(timeout=args.seconds) as ftp:
        ftp.connect(args.host, args.port)
        ftp.login(args.user, args.password)
        ftp.voidcmd("TYPE I")
        got = 0
        started = time.perf_counter()
        if args.direction == "stor":
            ftp.storbinary(f"STOR {args.name}", _Zeros(args.size), blocksize=1 << 16)
            got = args.size
        else:
            def count(block: bytes) -> None:
                nonlocal got
                got += len(block)
            ftp.retrbinary(f"RETR {args.name}", count, blocksize=1 << 16)
        elapsed = time.perf_counter() - started
        size = ftp.size(args.name)
    if got != args.size or size != args.size:
        raise SystemExit(f"bench_load: {args.direction} moved {got} bytes, the server has {size}, "
                         f"expected {args.size}")
    return {"bytes": got, "seconds": round(elapsed, 6), "rate": got / 1e6 / elapsed}


async def _ftp_reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Read one FTP reply (multi-line ones too: ``230-...`` up to ``230 ...``)."""
    line = await reader.readline()
    if len(line) < 4:
        raise ConnectionError("connection closed")
    first = line
    if line[3:4] == b"-":
        while not (line[:3] == first[:3] and line[3:4] == b" "):
            line = await reader.readline()
            if not line:
                raise ConnectionError("connection closed")
    return int(first[:3]), first.decode("latin-1").strip()


async def ftp_login_client(args, deadline: float, latencies: list[float], refused: list[int],
                           failed: list[str]) -> None:
    """Connect and log in, retrying while the server says it is busy (421); then QUIT.

    A refused client waits before it tries again, twice as long each time (50 ms up to
    1 s, give or take half), as a well-behaved program would: both servers are given the
    same connection limits, so that how fast a server refuses and frees its slots counts.
    """
    started = time.perf_counter()
    attempt = 0
    while time.monotonic() < deadline:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port),
                                                    deadline - time.monotonic())
            code, text = await asyncio.wait_for(_ftp_reply(reader), deadline - time.monotonic())
            if code == 421:
                refused.append(1)
            elif code == 220:
                for command, want in ((f"USER {args.user}", 331), (f"PASS {args.password}", 230)):
                    writer.write(command.encode() + b"\r\n")
                    code, text = await asyncio.wait_for(_ftp_reply(reader), deadline - time.monotonic())
                    if code != want:
                        break
                if code == 230:
                    latencies.append(time.perf_counter() - started)
                    writer.write(b"QUIT\r\n")
                    await asyncio.wait_for(_ftp_reply(reader), deadline - time.monotonic())
                    return
                if code != 421:
                    failed.append(text)
                    return
                refused.append(1)
            else:
                failed.append(text)
                return
        except (OSError, ConnectionError, asyncio.TimeoutError, ValueError):
            refused.append(1)           # reset or closed while busy: try again, like a person would
        finally:
            if writer is not None:
                writer.close()
        await asyncio.sleep(min(1.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.5))
        attempt += 1
    failed.append("deadline")


async def run_ftp_logins(args) -> dict:
    latencies: list[float] = []
    refused: list[int] = []
    failed: list[str] = []
    started = time.perf_counter()
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(*(ftp_login_client(args, deadline, latencies, refused, failed)
                           for _ in range(args.clients)))
    return summary(len(latencies), time.perf_counter() - started, latencies, clients=args.clients,
                   refused=len(refused), errors=len(failed), first_error=failed[0] if failed else None)


# --------------------------------------------------------------------------- IMAP

def imap_watch(args) -> dict:
    """Wait until INBOX holds ``--want`` more messages than when we started; say when.

    Prints ``READY <count>`` once logged in (the bench starts the senders then), and
    at the end the epoch time (``time.time()``, the same clock in every container of the
    machine) when the last message became visible.
    """
    imap = imaplib.IMAP4(args.host, 143, timeout=args.seconds)
    if not args.plain:            # the lab's mail host takes passwords only after STARTTLS
        imap.starttls(ssl.create_default_context())
    imap.login(args.user, args.password)

    def count() -> int:
        typ, data = imap.status("INBOX", "(MESSAGES)")
        return int(data[0].decode().rsplit("MESSAGES", 1)[1].strip(" ()"))

    baseline = count()
    print(f"READY {baseline}", flush=True)
    deadline = time.monotonic() + args.seconds
    seen = baseline
    while time.monotonic() < deadline:
        seen = count()
        if seen >= baseline + args.want:
            break
        time.sleep(0.01)
    reached = time.time()
    imap.logout()
    return {"baseline": baseline, "seen": seen - baseline, "want": args.want, "reached_at": reached,
            "done": seen - baseline >= args.want}


# --------------------------------------------------------------------------- NNTP

class NNTP:
    """Just enough NNTP (RFC 3977) over asyncio streams to time POST, ARTICLE and OVER."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int = 119, timeout: float = 10.0) -> "NNTP":
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=1 << 20), timeout)
        self = cls(reader, writer)
        code, text = await asyncio.wait_for(self.reply(), timeout)
        if code not in (200, 201):
            raise ConnectionError(text)
        return self

    async def reply(self) -> tuple[int, str]:
        line = (await self.reader.readline()).decode("utf-8", "replace").strip()
        if len(line) < 3:
            raise ConnectionError("connection closed")
        return int(line[:3]), line

    async def command(self, line: str, want: int) -> str:
        self.writer.write(line.encode() + b"\r\n")
        code, text = await self.reply()
        if code != want:
            raise ConnectionError(f"{line.split()[0]}: {text}")
        return text

    async def lines(self) -> int:
        """Read a multi-line block up to its ``.`` line; return how many lines it had."""
        n = 0
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("connection closed in a multi-line reply")
            if line in (b".\r\n", b".\n"):
                return n
            n += 1

    async def group(self, name: str) -> tuple[int, int, int]:
        _, count, low, high, _ = (await self.command(f"GROUP {name}", 211)).split(None, 4)
        return int(count), int(low), int(high)

    async def post(self, article: str) -> None:
        await self.command("POST", 340)
        self.writer.write(article.encode())
        code, text = await self.reply()
        if code != 240:
            raise ConnectionError(f"POST: {text}")

    async def quit(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(self.reply(), 2.0)
        except (OSError, ConnectionError, asyncio.TimeoutError):
            pass
        self.writer.close()


def article_text(group: str, n: int, i: int, size: int) -> str:
    body = ("socklab bench article body line.\r\n" * max(1, size // 34))
    return (f"From: Bench {n} <bench{n}@lab.test>\r\nNewsgroups: {group}\r\n"
            f"Subject: bench {n} {i} {time.time():.6f}\r\n\r\n{body}.\r\n")


async def run_nntp_post(args) -> dict:
    """``--clients`` posters share ``--articles`` POSTs between them."""
    latencies: list[float] = []
    errors: list[str] = []
    todo = iter(range(args.articles))
    deadline = time.monotonic() + args.seconds

    async def poster(n: int) -> None:
        try:
            nntp = await NNTP.connect(args.host, args.port)
        except (OSError, ConnectionError) as exc:
            errors.append(str(exc))
            return
        try:
            for i in todo:
                if time.monotonic() >= deadline:
                    errors.append("deadline")
                    return
                t = time.perf_counter()
                await asyncio.wait_for(nntp.post(article_text(args.group, n, i, args.size)),
                                       deadline - time.monotonic())
                latencies.append(time.perf_counter() - t)
        except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
            errors.append(str(exc) or type(exc).__name__)
        finally:
            await nntp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(poster(n) for n in range(args.clients)))
    return summary(len(latencies), time.perf_counter() - started, latencies, errors=len(errors),
                   first_error=errors[0] if errors else None, clients=args.clients)


async def run_nntp_group(args) -> dict:
    """How many articles the group holds, and their numbers."""
    nntp = await NNTP.connect(args.host, args.port)
    try:
        count, low, high = await nntp.group(args.group)
    finally:
        await nntp.quit()
    return {"count": count, "low": low, "high": high}


async def run_nntp_over(args) -> dict:
    """One ``OVER`` of the newest ``--articles`` articles of the group, timed whole."""
    nntp = await NNTP.connect(args.host, args.port)
    try:
        count, low, high = await nntp.group(args.group)
        first = max(low, high - args.articles + 1)
        started = time.perf_counter()
        await nntp.command(f"OVER {first}-{high}", 224)
        lines = await nntp.lines()
        elapsed = time.perf_counter() - started
    finally:
        await nntp.quit()
    return {"done": lines, "seconds": round(elapsed, 6), "rate": lines / elapsed, "group_count": count}


async def run_nntp_article(args) -> dict:
    """``--clients`` readers fetch random articles of the group's newest ``--articles``."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + args.seconds

    async def reader(n: int, numbers: list[int]) -> None:
        nntp = None
        try:
            nntp = await NNTP.connect(args.host, args.port)
            await nntp.group(args.group)
            for _ in range(args.fetches):
                if time.monotonic() >= deadline:
                    return
                t = time.perf_counter()
                await asyncio.wait_for(nntp.command(f"ARTICLE {random.choice(numbers)}", 220),
                                       deadline - time.monotonic())
                await asyncio.wait_for(nntp.lines(), deadline - time.monotonic())
                latencies.append(time.perf_counter() - t)
        except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
            errors.append(str(exc) or type(exc).__name__)
        finally:
            if nntp is not None:
                await nntp.quit()

    probe = await NNTP.connect(args.host, args.port)
    _, low, high = await probe.group(args.group)
    await probe.quit()
    numbers = list(range(max(low, high - args.articles + 1), high + 1))
    started = time.perf_counter()
    await asyncio.gather(*(reader(n, numbers) for n in range(args.clients)))
    return summary(len(latencies), time.perf_counter() - started, latencies, errors=len(errors),
                   first_error=errors[0] if errors else None, clients=args.clients)


async def run_wait(args) -> dict:
    """Wait until something on host:port accepts a connection and says its first line."""
    started = time.perf_counter()
    deadline = time.monotonic() + args.seconds
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port), 2)
            line = await asyncio.wait_for(reader.readline(), 2)
            writer.close()
            if line:
                return {"seconds": round(time.perf_counter() - started, 3), "greeting": line.decode("latin-1").strip()}
        except (OSError, asyncio.TimeoutError):
            pass
        if time.monotonic() >= deadline:
            raise ConnectionError(f"nothing answers on {args.host}:{args.port} after {args.seconds:g} s")
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- command line

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench_load", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)

    def add(name: str, help: str, **defaults) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help)
        s.add_argument("--host", required=True)
        s.add_argument("--seconds", type=float, default=defaults.get("seconds", 10.0),
                       help="stop after this long, whatever is left")
        return s

    for name in ("tcp", "udp"):
        s = add(name, f"{name.upper()} round trips to a timestamp server")
        s.add_argument("--port", type=int, default=8888)
        s.add_argument("--clients", type=int, default=1)
        s.add_argument("--messages", type=int, default=100, help="round trips per client")
        if name == "tcp":
            s.add_argument("--per-connection", action="store_true", help="a new connection per message")
        else:
            s.add_argument("--timeout", type=float, default=1.0, help="a reply later than this is lost")
    s = add("ftp-transfer", "time one STOR or RETR", seconds=120.0)
    s.add_argument("--direction", choices=["stor", "retr"], required=True)
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--name", default="bench.bin")
    s.add_argument("--port", type=int, default=21)
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s = add("ftp-logins", "many clients connecting and logging in at once", seconds=60.0)
    s.add_argument("--port", type=int, default=21)
    s.add_argument("--clients", type=int, default=300)
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s = add("imap-watch", "wait until INBOX holds --want more messages", seconds=60.0)
    s.add_argument("--want", type=int, required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--plain", action="store_true",
                   help="no STARTTLS (the bench's Postfix -> Dovecot peer has no certificate of the lab CA)")
    s = add("wait", "wait until a server answers on a TCP port", seconds=30.0)
    s.add_argument("--port", type=int, required=True)
    for name, help in (("nntp-post", "POST articles"), ("nntp-over", "OVER of the newest articles"),
                       ("nntp-article", "ARTICLE fetches"), ("nntp-group", "the group's article count")):
        s = add(name, help)
        s.add_argument("--port", type=int, default=119)
        s.add_argument("--group", default="lab.test")
        s.add_argument("--articles", type=int, default=1000)
        if name in ("nntp-post", "nntp-article"):
            s.add_argument("--clients", type=int, default=1)
        if name == "nntp-post":
            s.add_argument("--size", type=int, default=1000, help="body size in bytes")
        if name == "nntp-article":
            s.add_argument("--fetches", type=int, default=200, help="fetches per reader")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    runners = {"tcp": run_tcp, "udp": run_udp, "ftp-logins": run_ftp_logins, "nntp-post": run_nntp_post,
               "nntp-over": run_nntp_over, "nntp-article": run_nntp_article, "nntp-group": run_nntp_group,
               "wait": run_wait}
    try:
        if args.what in runners:
            # a last bound around everything: a server that stops answering cannot hold us
            result = asyncio.run(asyncio.wait_for(runners[args.what](args), args.seconds + 15))
        elif args.what == "ftp-transfer":
            result = ftp_transfer(args)
        else:
            result = imap_watch(args)
    except (OSError, ConnectionError, ftplib.Error, imaplib.IMAP4.error, asyncio.TimeoutError) as exc:
        print(f"bench_load {args.what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
