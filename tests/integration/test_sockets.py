"""The socket chapter across the lab network: each client runs in the client container
and talks to its server host by name, the way a student does."""

import re
import textwrap

import pytest

STAMP = r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] "


def replies(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.parametrize("command", ["tcp-client", "ss-client", "udp-client", "unix-client"])
def test_each_client_gets_timestamped_echoes(lab, command):
    result = lab.exec("client", [command, "--message", "hello", "--message", "how are you"])
    assert result.ok, result
    lines = replies(result)
    assert len(lines) == 2, result
    assert re.fullmatch(STAMP + "hello", lines[0]), result
    assert re.fullmatch(STAMP + "how are you", lines[1]), result


@pytest.mark.parametrize("command", ["tcp-client", "ss-client", "udp-client", "unix-client"])
def test_lines_on_stdin_until_a_blank_line(lab, command):
    result = lab.exec("client", [command], input="first\nsecond\n\nnever sent\n")
    assert result.ok, result
    lines = replies(result)
    assert [re.sub(STAMP, "", line) for line in lines] == ["first", "second"], result
    assert "never sent" not in result.stdout


def test_servers_log_who_connected(lab):
    lab.exec("client", ["tcp-client", "-m", "logged message"])
    log = lab.logs("tcp-server")
    assert "connected from" in log
    assert "logged message" in log


def test_trace_shows_the_bytes_on_the_wire(lab):
    result = lab.exec("client", ["tcp-client", "--trace", "-m", "traced"])
    assert result.ok, result
    assert "C: b'traced'" in result.stderr
    assert re.search(r"S: b'" + STAMP + "traced'", result.stderr), result


def test_utf8_round_trip(lab):
    result = lab.exec("client", ["tcp-client", "-m", "网络编程 ✓"])
    assert result.ok, result
    assert result.stdout.strip().endswith("] 网络编程 ✓")


@pytest.mark.parametrize("argv, expected", [
    (["tcp-client", "--host", "udp-server", "-m", "x"], "connection refused"),
    (["tcp-client", "--host", "no-such-host", "-m", "x"], "unknown host"),
    (["ss-client", "--port", "9", "-m", "x"], "connection refused"),
    (["unix-client", "--path", "/tmp/nothing.sock", "-m", "x"], "no socket at /tmp/nothing.sock"),
])
def test_failures_are_one_clear_line(lab, argv, expected):
    result = lab.exec("client", argv)
    assert result.exit_code == 1, result
    assert expected in result.stderr, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result


def test_udp_client_reports_a_lost_reply(lab):
    # Nothing answers UDP on port 9 of tcp-server: the datagram is simply lost.
    result = lab.exec("client", ["udp-client", "--port", "9", "--timeout", "0.5", "-m", "anyone?"])
    assert result.exit_code == 1, result
    assert "no reply from udp-server:9" in result.stderr
    assert "Traceback" not in result.stderr


SECOND_CLIENT_WAITS = textwrap.dedent("""
    import socket, sys, time
    port = int(sys.argv[1])
    first = socket.create_connection(("tcp-server", port), timeout=5)
    first.sendall(b"first"); first.recv(1024)            # the first client stays connected
    second = socket.create_connection(("tcp-server", port), timeout=5)
    second.settimeout(1.5)
    second.sendall(b"second")
    try:
        print("answered:", second.recv(1024).decode())
    except socket.timeout:
        print("second client waits")
        first.close()
        second.settimeout(5)
        print("after the first left:", second.recv(1024).decode())
""")


def test_sequential_server_makes_the_second_client_wait(lab):
    result = lab.exec("client", ["python3", "-c", SECOND_CLIENT_WAITS, "8888"])
    assert result.ok, result
    assert "second client waits" in result.stdout
    assert re.search("after the first left: " + STAMP + "second", result.stdout), result


def test_concurrent_server_answers_both(lab):
    lab.exec_background("tcp-server", ["tcp-server", "--concurrent", "--port", "8890"])
    probe = lab.exec("tcp-server", ["sh", "-c", "for i in $(seq 50); do lab-probe tcp 8890 && exit 0; sleep 0.1; done; exit 1"])
    assert probe.ok, probe
    result = lab.exec("client", ["python3", "-c", SECOND_CLIENT_WAITS, "8890"])
    assert result.ok, result
    assert re.search("answered: " + STAMP + "second", result.stdout), result


def test_bad_input_does_not_stop_the_servers(lab):
    junk = textwrap.dedent("""
        import socket, struct
        # an oversized message: an error and the connection is closed
        s = socket.create_connection(("tcp-server", 8888), timeout=5)
        s.sendall(b"x" * 5000)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        print("oversized:", data.decode())
        # bytes that are not UTF-8 come back unchanged
        s = socket.create_connection(("tcp-server", 8888), timeout=5)
        s.sendall(b"\\xff\\xfe\\x00raw")
        print("binary:", s.recv(1024)[-6:])
        s.close()
        # a client that vanishes mid-message (RST instead of FIN)
        s = socket.create_connection(("tcp-server", 8888), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"half a mess")
        s.close()
        # an oversized datagram
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
        u.sendto(b"y" * 3000, ("udp-server", 8888))
        print("udp:", u.recvfrom(4096)[0].decode().strip())
    """)
    result = lab.exec("client", ["python3", "-c", junk])
    assert result.ok, result
    assert "oversized: error: message longer than 1024 bytes" in result.stdout
    assert "binary: b'\\xff\\xfe\\x00raw'" in result.stdout
    assert "udp: error: datagram longer than 1024 bytes" in result.stdout
    # ... and everyone else is still served
    for command in ("tcp-client", "udp-client"):
        after = lab.exec("client", [command, "-m", "still there?"])
        assert after.ok and after.stdout.strip().endswith("] still there?"), after
