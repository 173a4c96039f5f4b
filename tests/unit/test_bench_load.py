"""The bench's load generators (tools/bench_load.py) against the lab's servers, in-process.

`make bench` trusts these to count what they claim: round trips that really came back,
datagrams that really got lost, logins that really succeeded after being turned away.
Each test runs a real socklab server on 127.0.0.1 and checks the counts against what the
server must have done; timings are not asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import pytest

from socklab.services.ftp import FTPLabServer
from socklab.services.news.seed import seed
from socklab.services.news.server import NewsServer
from socklab.services.news.spool import Spool
from socklab.services.tcp_server import TimestampServer
from socklab.services.udp_server import UDPTimestampServer
from tools import bench_load



def run(*argv: str) -> dict:
    args = bench_load.parser().parse_args(list(argv))
    runner = {"tcp": bench_load.run_tcp, "udp": bench_load.run_udp, "ftp-logins": bench_load.run_ftp_logins,
              "nntp-post": bench_load.run_nntp_post, "nntp-over": bench_load.run_nntp_over,
              "nntp-article": bench_load.run_nntp_article, "nntp-group": bench_load.run_nntp_group}
    if args.what == "ftp-transfer":
        return bench_load.ftp_transfer(args)
    return asyncio.run(runner[args.what](args))


@contextlib.contextmanager
def serving(server, stop=None):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        (stop or server.shutdown)()
        thread.join(10)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert bench_load.percentile(values, 50) == 50.0
    assert bench_load.percentile(values, 99) == 99.0
    assert bench_load.percentile([3.0], 99) == 3.0
    assert bench_load.percentile([], 50) is None


@pytest.mark.parametrize("concurrent", [False, True])
def test_tcp_counts_every_round_trip(concurrent):
    with TimestampServer(("127.0.0.1", 0), concurrent=concurrent) as server, serving(server):
        port = str(server.address[1])
        res = run("tcp", "--host", "127.0.0.1", "--port", port, "--clients", "4", "--messages", "5",
                  "--seconds", "20")
    assert res["done"] == 20 and res["errors"] == 0
    assert 0 < res["p50_ms"] <= res["p99_ms"]


def test_tcp_per_connection_opens_one_connection_per_message():
    accepted = []

    class Counting(TimestampServer):
        def handle(self, conn, peer):
            accepted.append(peer)
            super().handle(conn, peer)

    with Counting(("127.0.0.1", 0)) as server, serving(server):
        res = run("tcp", "--host", "127.0.0.1", "--port", str(server.address[1]), "--clients", "2",
                  "--messages", "3", "--per-connection", "--seconds", "20")
    assert res["done"] == 6 and len(accepted) == 6


def test_tcp_reports_a_server_that_is_not_there():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound, never listening: connections are refused
        res = run("tcp", "--host", "127.0.0.1", "--port", str(port), "--clients", "3", "--messages", "2",
                  "--seconds", "5")
    assert res["done"] == 0 and res["errors"] == 3 and res["p50_ms"] is None


def test_udp_counts_lost_datagrams():
    class Dropping(UDPTimestampServer):
        """Answers every other datagram only."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.seen = 0
            real = self.socket

            class Sock:
                def __getattr__(self, name):
                    return getattr(real, name)

                def sendto(inner, data, peer):
                    self.seen += 1
                    if self.seen % 2:
                        return real.sendto(data, peer)
                    return len(data)

            self.socket = Sock()

    server = Dropping(("127.0.0.1", 0))
    with serving(server, stop=lambda: (server.shutdown(), server.server_close())):
        res = run("udp", "--host", "127.0.0.1", "--port", str(server.address[1]), "--clients", "2",
                  "--messages", "10", "--timeout", "0.3", "--seconds", "30")
    assert res["sent"] == 20
    assert res["lost"] == 10 and res["done"] == 10 and res["loss"] == 0.5


@pytest.fixture
def ftp_server(tmp_path):
    server = FTPLabServer(("127.0.0.1", 0), root=tmp_path, users={"student": "pw"}, anonymous=False,
                          max_cons=4, max_cons_per_ip=2, auth_failed_delay=0)
    with serving(server):
        yield server


def test_ftp_logins_retry_until_everyone_is_in(ftp_server):
    # both connections 127.0.0.1 is allowed are taken for the first half second: whoever
    # comes then is turned away (421) and must try again (8 clients alone may each finish
    # before the next connects, and then none is ever refused)
    held = [socket.create_connection(ftp_server.address[:2], timeout=5) for _ in range(2)]
    for s in held:
        assert s.recv(1024).startswith(b"220")
    release = threading.Timer(0.5, lambda: [s.close() for s in held])
    release.start()
    try:
        res = run("ftp-logins", "--host", "127.0.0.1", "--port", str(ftp_server.address[1]), "--clients", "8",
                  "--user", "student", "--password", "pw", "--seconds", "30")
    finally:
        release.join()
    assert res["done"] == 8 and res["errors"] == 0
    assert res["refused"] > 0


def test_ftp_logins_do_not_count_a_wrong_password(ftp_server):
    res = run("ftp-logins", "--host", "127.0.0.1", "--port", str(ftp_server.address[1]), "--clients", "1",
              "--user", "student", "--password", "wrong", "--seconds", "10")
    assert res["done"] == 0 and res["errors"] == 1


def test_ftp_transfer_stores_and_fetches_the_size_asked(ftp_server, tmp_path):
    port = str(ftp_server.address[1])
    common = ["--host", "127.0.0.1", "--port", port, "--size", "300000", "--user", "student", "--password", "pw"]
    stored = run("ftp-transfer", "--direction", "stor", *common)
    fetched = run("ftp-transfer", "--direction", "retr", *common)
    assert stored["bytes"] == fetched["bytes"] == 300000
    assert (tmp_path / "home" / "student" / "bench.bin").stat().st_size == 300000


def test_nntp_post_over_and_article(tmp_path):
    spool = Spool(tmp_path)
    seed(spool)
    server = NewsServer(("127.0.0.1", 0), spool)
    with serving(server, stop=lambda: (server.shutdown(), server.server_close())):
        port = str(server.server_address[1])
        before = run("nntp-group", "--host", "127.0.0.1", "--port", port)
        posted = run("nntp-post", "--host", "127.0.0.1", "--port", port, "--clients", "3", "--articles", "7")
        after = run("nntp-group", "--host", "127.0.0.1", "--port", port)
        over = run("nntp-over", "--host", "127.0.0.1", "--port", port, "--articles", "5")
        fetched = run("nntp-article", "--host", "127.0.0.1", "--port", port, "--clients", "2", "--fetches", "4",
                      "--articles", "5")
    assert posted["done"] == 7 and posted["errors"] == 0
    assert after["count"] == before["count"] + 7
    assert over["done"] == 5
    assert fetched["done"] == 8 and fetched["errors"] == 0
