"""The socket chapter's servers and clients, in-process on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from socklab.clients import ss_client, tcp_client, udp_client, unix_client
from socklab.services.ss_server import TimestampTCPServer
from socklab.services.tcp_server import TimestampServer
from socklab.services.udp_server import UDPTimestampServer
from socklab.services.unix_server import UnixTimestampServer
from tools.ports import free_port

PROBE = Path(__file__).resolve().parents[2] / "images" / "lab" / "lab-probe"
STAMP = rb"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] "


class Running:
    """Run a server's serve_forever() in a thread for the length of a with-block."""

    def __init__(self, server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.server

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()


@pytest.fixture
def tcp_server():
    with Running(TimestampServer(("127.0.0.1", 0), idle_timeout=0.5)) as server:
        yield server


@pytest.fixture
def concurrent_server():
    with Running(TimestampServer(("127.0.0.1", 0), idle_timeout=2, concurrent=True, max_clients=2)) as server:
        yield server


def talk(address, data: bytes, family=socket.AF_INET) -> bytes:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(address)
        s.sendall(data)
        return s.recv(4096)


def read_all(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    return data


# ---------------------------------------------------------------- tcp-server

def test_tcp_reply_is_ctime_and_data(tcp_server):
    before = time.ctime()
    reply = talk(tcp_server.address, b"hello")
    assert re.fullmatch(STAMP + b"hello", reply)
    assert reply[1:25].decode() in (before, time.ctime())


def test_tcp_many_messages_on_one_connection(tcp_server):
    with socket.create_connection(tcp_server.address, timeout=5) as s:
        for word in (b"one", b"two", b"three"):
            s.sendall(word)
            assert re.fullmatch(STAMP + word, s.recv(1024))


def test_tcp_non_utf8_bytes_come_back_unchanged(tcp_server):
    assert talk(tcp_server.address, b"\xff\xfe\x00\x80").endswith(b"] \xff\xfe\x00\x80")


def test_tcp_oversized_message_gets_an_error_and_the_server_goes_on(tcp_server, caplog):
    with caplog.at_level(logging.INFO), socket.create_connection(tcp_server.address, timeout=5) as s:
        s.sendall(b"x" * 5000)
        assert read_all(s) == b"error: message longer than 1024 bytes; closing the connection\n"
    assert [r for r in caplog.records if "more than 1024 bytes" in r.getMessage()]
    assert re.fullmatch(STAMP + b"next", talk(tcp_server.address, b"next"))


def test_tcp_message_of_exactly_bufsize_is_fine(tcp_server):
    assert talk(tcp_server.address, b"z" * 1024).endswith(b"] " + b"z" * 1024)


def test_tcp_silent_client_is_dropped_after_idle_timeout(tcp_server, caplog):
    with caplog.at_level(logging.INFO), socket.create_connection(tcp_server.address, timeout=5) as s:
        started = time.monotonic()
        assert read_all(s) == b"error: idle for 0.5 s; closing\n"
        assert 0.4 < time.monotonic() - started < 3
    assert len([r for r in caplog.records if "idle for" in r.getMessage()]) == 1
    assert re.fullmatch(STAMP + b"after", talk(tcp_server.address, b"after"))


def test_tcp_client_vanishing_mid_message_is_logged_once(tcp_server, caplog):
    with caplog.at_level(logging.INFO):
        s = socket.create_connection(tcp_server.address, timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close = RST
        s.sendall(b"half")
        s.recv(1024)
        s.sendall(b"a message cut off")
        s.close()
        assert re.fullmatch(STAMP + b"others", talk(tcp_server.address, b"others"))
    gone = [r for r in caplog.records if "went away" in r.getMessage() or "closed the connection" in r.getMessage()]
    assert gone, [r.getMessage() for r in caplog.records]


def test_sequential_server_serves_one_client_at_a_time(tcp_server):
    first = socket.create_connection(tcp_server.address, timeout=5)
    first.sendall(b"first")
    first.recv(1024)
    second = socket.create_connection(tcp_server.address, timeout=5)   # accepted by the kernel ...
    second.sendall(b"second")
    second.settimeout(0.3)
    with pytest.raises(socket.timeout):                                # ... but not served yet
        second.recv(1024)
    first.close()
    second.settimeout(5)
    assert re.fullmatch(STAMP + b"second", second.recv(1024))
    second.close()


def test_concurrent_server_serves_both_at_once(concurrent_server):
    first = socket.create_connection(concurrent_server.address, timeout=5)
    first.sendall(b"first")
    first.recv(1024)
    assert re.fullmatch(STAMP + b"second", talk(concurrent_server.address, b"second"))
    first.close()


def test_concurrent_server_turns_away_clients_beyond_the_limit(concurrent_server):
    held = [socket.create_connection(concurrent_server.address, timeout=5) for _ in range(2)]
    for s in held:                       # make sure both hold a slot
        s.sendall(b"hold")
        s.recv(1024)
    with socket.create_connection(concurrent_server.address, timeout=5) as third:
        assert read_all(third) == b"error: server busy, try again later\n"
    for s in held:
        s.close()


# ---------------------------------------------------------------- udp-server

@pytest.fixture
def udp_server():
    with Running(UDPTimestampServer(("127.0.0.1", 0))) as server:
        yield server


def udp(address, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, address)
        return s.recvfrom(4096)[0]


def test_udp_reply(udp_server):
    assert re.fullmatch(STAMP + b"datagram", udp(udp_server.address, b"datagram"))


def test_udp_oversized_datagram_is_refused_not_cut(udp_server):
    assert udp(udp_server.address, b"y" * 2000) == b"error: datagram longer than 1024 bytes\n"
    assert re.fullmatch(STAMP + b"ok", udp(udp_server.address, b"ok"))


def test_udp_sender_that_vanished_does_not_stop_the_server(udp_server):
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.sendto(b"reply to nobody", udp_server.address)
    gone.close()                        # the reply meets a closed port (ICMP unreachable)
    assert re.fullmatch(STAMP + b"alive", udp(udp_server.address, b"alive"))


# ---------------------------------------------------------------- ss-server (socketserver)

@pytest.fixture
def ss_server():
    with Running(TimestampTCPServer(("127.0.0.1", 0), idle_timeout=0.5)) as server:
        server.address = server.server_address
        yield server


def test_ss_one_line_per_connection(ss_server):
    with socket.create_connection(ss_server.address, timeout=5) as s:
        s.sendall(b"line one\r\nline two\r\n")
        reply = read_all(s)
    assert re.fullmatch(STAMP + b"line one\r\n", reply)


def test_ss_long_line_refused(ss_server):
    with socket.create_connection(ss_server.address, timeout=5) as s:
        s.sendall(b"q" * 3000 + b"\r\n")
        assert read_all(s) == b"error: message longer than 1024 bytes; closing the connection\n"
    assert re.fullmatch(STAMP + b"fine\n", talk(ss_server.address, b"fine\n"))


def test_ss_silent_client_dropped(ss_server, caplog):
    with caplog.at_level(logging.INFO), socket.create_connection(ss_server.address, timeout=5) as s:
        assert read_all(s) == b""
    assert [r for r in caplog.records if "sent nothing" in r.getMessage()]
    assert talk(ss_server.address, b"next\n").endswith(b"] next\n")


# ---------------------------------------------------------------- unix-server

def test_unix_server_on_a_socket_file(tmp_path):
    path = str(tmp_path / "ts.sock")
    with Running(UnixTimestampServer(path)):
        assert re.fullmatch(STAMP + b"local", talk(path, b"local", family=socket.AF_UNIX))
        assert missing("unix", [path]) == []
    assert not (tmp_path / "ts.sock").exists()


def test_unix_server_replaces_a_stale_socket_but_not_a_file(tmp_path):
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()                                   # a socket file nobody listens on
    with Running(UnixTimestampServer(str(stale))):
        assert talk(str(stale), b"x", family=socket.AF_UNIX).endswith(b"] x")
    regular = tmp_path / "notes.txt"
    regular.write_text("mine")
    with pytest.raises(OSError):
        UnixTimestampServer(str(regular))
    assert regular.read_text() == "mine"


# ---------------------------------------------------------------- clients

def test_tcp_client_prints_replies(tcp_server, capsys):
    host, port = tcp_server.address
    assert tcp_client.main(["--host", host, "--port", str(port), "-m", "a", "-m", "b"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [re.sub(STAMP.decode(), "", line) for line in out] == ["a", "b"]


def test_client_trace_goes_to_stderr(tcp_server, capsys):
    host, port = tcp_server.address
    tcp_client.main(["--host", host, "--port", str(port), "--trace", "-m", "seen"])
    err = capsys.readouterr().err
    assert "C: b'seen'" in err and "S: b'[" in err


def test_clients_read_stdin_until_blank_line(tcp_server, udp_server, ss_server, capsys, monkeypatch):
    import io
    for module, server in ((tcp_client, tcp_server), (udp_client, udp_server), (ss_client, ss_server)):
        monkeypatch.setattr("sys.stdin", io.StringIO("x\ny\n\nz\n"))
        host, port = server.address
        assert module.main(["--host", host, "--port", str(port)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [re.sub(STAMP.decode(), "", line) for line in lines] == ["x", "y"], module


def test_unix_client(tmp_path, capsys):
    path = str(tmp_path / "c.sock")
    with Running(UnixTimestampServer(path)):
        assert unix_client.main(["--path", path, "-m", "via file"]) == 0
    assert capsys.readouterr().out.strip().endswith("] via file")


@pytest.mark.parametrize("module", [tcp_client, ss_client])
def test_refused_is_one_line(module, capsys):
    port = free_port()
    assert module.main(["--host", "127.0.0.1", "--port", str(port), "-m", "x"]) == 1
    err = capsys.readouterr().err
    assert err == f"{module.__name__.rsplit('.', 1)[1].replace('_', '-')}: cannot connect to 127.0.0.1:{port}: " \
                  "connection refused (is the server running?)\n"


def test_unknown_host_is_one_line(capsys):
    assert tcp_client.main(["--host", "no-such-host.invalid", "-m", "x"]) == 1
    assert capsys.readouterr().err.startswith("tcp-client: unknown host in no-such-host.invalid:8888")


def test_udp_lost_reply_reported(capsys):
    # a UDP socket that receives but never answers: the reply is "lost"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        assert udp_client.main(["--host", "127.0.0.1", "--port", str(port), "--timeout", "0.2", "-m", "lost"]) == 1
        assert sink.recv(100) == b"lost"
    assert "no reply from 127.0.0.1:" in capsys.readouterr().err


def test_client_reports_server_closing(capsys):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def close_at_once():
            conn, _ = listener.accept()
            conn.recv(10)
            conn.close()

        t = threading.Thread(target=close_at_once)
        t.start()
        assert tcp_client.main(["--host", "127.0.0.1", "--port", str(port), "-m", "hi"]) == 1
        t.join()
    assert capsys.readouterr().err == f"tcp-client: 127.0.0.1:{port} closed the connection\n"


# ---------------------------------------------------------------- lab-probe (images/lab/lab-probe)

def missing(kind: str, targets: list[str]) -> list[str]:
    """Run lab-probe; return the targets it reports as not listening."""
    result = subprocess.run(["sh", str(PROBE), kind, *targets], capture_output=True, text=True)
    if result.returncode == 0:
        assert result.stdout == ""
        return []
    assert result.returncode == 1, result.stderr
    prefix = f"not listening: {kind} "
    assert result.stdout.startswith(prefix), result.stdout
    return result.stdout[len(prefix):].split()


def test_probe_sees_listening_tcp_and_bound_udp():
    with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
            socket.socket(socket.AF_INET6) as t6:
        t.bind(("127.0.0.1", 0))
        u.bind(("127.0.0.1", 0))
        t6.bind(("::1", 0))
        tport, uport, t6port = t.getsockname()[1], u.getsockname()[1], t6.getsockname()[1]
        assert missing("tcp", [str(tport)]) == [str(tport)]       # bound but not listening yet
        t.listen()
        t6.listen()
        assert missing("tcp", [str(tport), str(t6port)]) == []
        assert missing("udp", [str(uport)]) == []
        assert missing("tcp", [str(uport)]) == [str(uport)]       # UDP is not TCP
    assert missing("tcp", [str(tport)]) == [str(tport)]


def test_probe_waits_until_the_server_listens_then_answers_at_once():
    """--wait: one run of the probe covers a server's start (how `make lab` waits)."""
    with socket.socket() as t, socket.socket(socket.AF_UNIX) as u, tempfile.TemporaryDirectory() as folder:
        t.bind(("127.0.0.1", 0))
        port = str(t.getsockname()[1])
        path = os.path.join(folder, "s.sock")
        u.bind(path)
        threading.Timer(0.6, lambda: (t.listen(), u.listen())).start()
        started = time.monotonic()
        result = subprocess.run(["sh", str(PROBE), "--wait", "10", "tcp", port], capture_output=True, text=True)
        waited = time.monotonic() - started
        assert result.returncode == 0, result
        assert 0.5 < waited < 3, waited                 # it waited for listen(), and not much longer
        assert missing("unix", [path]) == []
    started = time.monotonic()                            # gone again: --wait 1 gives up after a second
    result = subprocess.run(["sh", str(PROBE), "--wait", "1", "tcp", port], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (1, f"not listening: tcp {port}\n")
    assert 0.9 < time.monotonic() - started < 5


def test_probe_reads_every_port_number_right():
    """Ports whose hex has letters and every digit place (the probe does hex with shell arithmetic)."""
    for port in (21, 2560, 43981, 65535 - 1):
        with socket.socket() as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue                                  # in use here: another port makes the point
            assert missing("tcp", [str(port)]) == [str(port)]
            t.listen()
            assert missing("tcp", [str(port)]) == []


def test_probe_usage():
    assert subprocess.run(["sh", str(PROBE), "--help"], capture_output=True).returncode == 0
    for bad in (["sctp", "1"], ["tcp"], ["tcp", "eighty"], ["--wait", "soon", "tcp", "1"], ["--wait", "5"]):
        result = subprocess.run(["sh", str(PROBE), *bad], capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.startswith("usage: lab-probe"), bad


def test_client_piped_into_head_stops_quietly(tcp_server):
    """`tcp-client | head -1`: when the reader leaves, the client ends without a word."""
    import subprocess
    import sys
    host, port = tcp_server.address
    proc = subprocess.Popen([sys.executable, "-m", "socklab.clients.tcp_client", "--host", host, "--port", str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"first\n")
    proc.stdin.flush()
    assert proc.stdout.readline().endswith(b"] first\n")
    proc.stdout.close()                              # the reader goes away
    proc.stdin.write(b"".join(b"more %d\n" % i for i in range(50)))
    proc.stdin.close()
    assert proc.wait(10) == 141
    assert proc.stderr.read() == b""


# ---------------------------------------------------------------- socketserver's meaning of the names

@pytest.mark.parametrize("make", [lambda: TimestampServer(("127.0.0.1", 0)),
                                  lambda: UDPTimestampServer(("127.0.0.1", 0))], ids=["tcp", "udp"])
def test_shutdown_returns_once_serve_forever_has_stopped(make):
    server = make()
    done = threading.Event()

    def serve():
        server.serve_forever()
        done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        if server.socket.type == socket.SOCK_STREAM:     # serving: a client is answered
            assert re.fullmatch(STAMP + b"up", talk(server.address, b"up"))
        server.shutdown()
        assert done.is_set()                  # serve_forever() had returned before shutdown() did
        thread.join(5)
        restarted = threading.Thread(target=server.serve_forever, daemon=True)
        restarted.start()                     # serve_forever() may be called again
        if server.socket.type == socket.SOCK_STREAM:
            assert re.fullmatch(STAMP + b"again", talk(server.address, b"again"))
        server.shutdown()
        restarted.join(5)
        assert not restarted.is_alive()
    finally:
        server.server_close()


def test_shutdown_while_not_serving_returns_at_once_and_stops_the_next_serve_forever():
    server = TimestampServer(("127.0.0.1", 0))
    try:
        server.shutdown()                     # not serving: returns at once, the request is kept
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()                        # ... so this loop stops at once (socketserver's way)
        thread.join(5)
        assert not thread.is_alive()
    finally:
        server.server_close()
