"""What ``make chaos`` found, each reproduced in this process: one log line, never a traceback.

The campaign (tools/chaos.py) fuzzes, floods, kills and fills up the lab's servers; each
condition below left a traceback in a server's log (or worse) before it was fixed.  Every
test sets the condition up directly -- a few bytes on a socket, a full disk simulated by an
``OSError(ENOSPC)`` -- and checks the server's answer and its log.
"""

from __future__ import annotations

import errno
import ftplib
import io
import logging
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from ftp_support import USER, PASSWORD, login, make_pki, running
from mail_peers import MailLab
from newslab import RunningServer, code, seeded_spool, spool_dir  # noqa: F401  (fixtures)

from socklab.services.ftp import pyftpdlib_fixes
from socklab.services.ftp import server as ftp_server
from socklab.log import OneLineLog
from socklab.services.mail.smtp import ConnectionLimit
from socklab.services.news import spool as news_spool
from socklab.services.tcp_server import TimestampServer


class Records(logging.Handler):
    """Every record of the given loggers, formatted as a server would print it."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        self.names = names
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "".join(self.format(r) + "\n" for r in self.records)

    def lines(self, containing: str) -> list[str]:
        return [line for line in self.text.split("\n") if containing in line]

    def __enter__(self) -> "Records":
        for name in self.names:
            logging.getLogger(name).addHandler(self)
            logging.getLogger(name).setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        for name in self.names:
            logging.getLogger(name).removeHandler(self)


def assert_no_traceback(log: Records) -> None:
    assert "Traceback" not in log.text, log.text
    assert not [r for r in log.records if r.exc_info], log.text
    for record in log.records:              # every record one line
        assert "\n" not in log.format(record).rstrip("\n"), log.format(record)
        assert "\r" not in log.format(record), log.format(record)


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    # the 8 MiB sample file of /pub is of no use here; skip making it
    monkeypatch.setattr(ftp_server.seed, "make_large_file", lambda *a, **k: None)
    return tmp_path / "ftp"


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


def greeting(address) -> socket.socket:
    s = socket.create_connection(address, timeout=5)
    assert s.recv(1000).startswith(b"220")
    return s


# --------------------------------------------------------------------------- FTP

def test_ftp_commands_pipelined_behind_auth_tls_are_dropped_in_one_line(root, pki):
    """Plain text after AUTH TLS, in the same packet: pyftpdlib answered it through a TLS
    connection with no handshake (OpenSSL "wrong version number", a traceback)."""
    with Records("pyftpdlib", "ftp") as log, running(root, certfile=str(pki["cert"]), keyfile=str(pki["key"])) as srv:
        s = greeting(srv.address)
        s.sendall(b"AUTH TLS\r\nUSER x\r\nPASS y\r\nNOOP\r\n")
        assert s.recv(1000).startswith(b"234")
        s.close()
        assert wait_for(lambda: log.lines("FTP session closed"))
        login(srv, tls_ca=pki["ca"]).quit()                  # and the server goes on serving
    assert len(log.lines("sent in the clear after AUTH TLS")) == 1, log.text
    assert_no_traceback(log)


def test_ftp_tls_session_half_closed_by_the_client_ends_at_once(root, pki):
    """A TLS client that half-closes its socket: pyftpdlib called SSL_shutdown on every poll,
    for ever -- a thread at full speed, holding one of the 16 places of its address."""
    with Records("pyftpdlib", "ftp") as log, running(root, certfile=str(pki["cert"]), keyfile=str(pki["key"]),
                                                     max_cons_per_ip=2) as srv:
        threads = threading.active_count()
        for _ in range(4):                     # more than the 2 places per address
            s = greeting(srv.address)
            s.sendall(b"AUTH TLS\r\n")
            assert s.recv(1000).startswith(b"234")
            ctx = ssl.create_default_context(cafile=str(pki["ca"]))
            t = ctx.wrap_socket(s, server_hostname="localhost")
            t.sendall(b"NOOP\r\n")
            t.recv(1000)
            t.shutdown(socket.SHUT_WR)         # half-close: no close_notify, EOF ...
            t.settimeout(0.2)
            try:
                while t.recv(4096):            # ... read what is left (TLS records, as bytes),
                    pass                       # so that closing sends FIN, not RST
            except OSError:
                pass
            t.close()
            assert wait_for(lambda: threading.active_count() <= threads), "a session thread is still running"
        login(srv, tls_ca=pki["ca"]).quit()    # the address still has its places
    assert_no_traceback(log)


def test_ftp_wrong_password_then_idle_timeout_is_one_line(root):
    """The reply to a wrong password comes after a delay; when the idle timeout closes the
    session first, pyftpdlib's delayed callback hit the closed socket (EBADF, a traceback)."""
    with Records("pyftpdlib", "ftp") as log, running(root, idle_timeout=0.3, auth_failed_delay=1.0) as srv:
        s = greeting(srv.address)
        s.sendall(b"USER student\r\n")
        assert s.recv(1000).startswith(b"331")
        s.sendall(b"PASS wrong\r\n")
        time.sleep(1.6)                        # the idle timeout, then the delayed reply
        s.close()
        login(srv).quit()
    assert len(log.lines("Control connection timed out")) == 1, log.text
    assert not log.lines("Bad file descriptor"), log.text
    assert_no_traceback(log)


def test_ftp_full_disk_stops_reading_a_refused_upload_past_the_limit(root, monkeypatch):
    monkeypatch.setattr(ftp_server.JournaledUpload, "write",
                        lambda self, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    monkeypatch.setattr(pyftpdlib_fixes, "DROP_LIMIT", 64 * 1024)
    with Records("pyftpdlib", "ftp") as log, running(root) as srv:
        ftp = login(srv)
        started = time.monotonic()
        with pytest.raises((ftplib.error_temp, ConnectionError)):   # cut off: a reset or the 452
            ftp.storbinary("STOR huge.bin", io.BytesIO(b"x" * 50_000_000))
        assert time.monotonic() - started < 10
        ftp.close()
        again = login(srv)                      # the server goes on serving
        assert "huge.bin" not in again.nlst()
        again.quit()
    assert not (root / "home" / USER / "huge.bin").exists() and not list((root / ".uploads").iterdir())
    assert len(log.lines("Insufficient storage space (the disk is full); huge.bin not stored")) == 1, log.text
    assert_no_traceback(log)


def test_ftp_full_disk_answers_452_removes_the_partial_upload_in_one_line(root, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with Records("pyftpdlib", "ftp") as log, running(root) as srv:
        ftp = login(srv)
        ftp.storbinary("STOR before.bin", io.BytesIO(b"b" * 10_000))
        monkeypatch.setattr(ftp_server.JournaledUpload, "write", full)
        # 4 MB: far more than the socket buffers hold, so the client is still sending when
        # the disk fills up; it reads the 452 all the same, never a reset
        with pytest.raises(ftplib.error_temp, match=r"^452 Insufficient storage space .*big\.bin not stored"):
            ftp.storbinary("STOR big.bin", io.BytesIO(b"x" * 4_000_000))
        monkeypatch.undo()                     # space freed: storing works again
        ftp.storbinary("STOR after.bin", io.BytesIO(b"a" * 10_000))
        assert sorted(n for n in ftp.nlst() if n.endswith(".bin")) == ["after.bin", "before.bin"]
        ftp.quit()
    home = root / "home" / USER
    assert (home / "before.bin").read_bytes() == b"b" * 10_000
    assert not list((root / ".uploads").iterdir())
    assert len(log.lines("Insufficient storage space (the disk is full); big.bin not stored")) == 1, log.text
    assert_no_traceback(log)


def test_ftp_upload_cut_off_by_a_crash_is_removed_at_the_next_start(root):
    with running(root) as srv:
        login(srv).quit()                      # the layout exists
    home = root / "home" / USER
    (home / "half.bin").write_bytes(b"h" * 1000)          # what a killed server leaves:
    (root / ".uploads" / "upload-x").write_bytes(os.fsencode(str(home / "half.bin")))   # ... and its note
    (home / "whole.bin").write_bytes(b"w" * 1000)
    with Records("ftp") as log, running(root) as srv:
        assert sorted(n for n in login(srv).nlst() if n.endswith(".bin")) == ["whole.bin"]
    assert not list((root / ".uploads").iterdir())
    assert len(log.lines("its upload was cut off by a crash")) == 1, log.text


def test_ftp_upload_is_durable_and_settled_before_its_226(root, monkeypatch):
    """The journal note goes only after fsync; the 226 only after that."""
    order: list[str] = []
    real_fsync, real_unlink = os.fsync, os.unlink
    monkeypatch.setattr(ftp_server.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(ftp_server.os, "unlink",
                        lambda p, *a, **k: (order.append("note removed" if "/.uploads/" in str(p) else "unlink"),
                                            real_unlink(p, *a, **k))[1])
    with running(root) as srv:
        ftp = login(srv)
        reply = ftp.storbinary("STOR f.bin", io.BytesIO(b"f" * 5000))
        order.append(reply[:3])
        ftp.quit()
    assert order[-3:] == ["fsync", "note removed", "226"], order


def test_ftp_log_lines_escape_control_characters(root):
    with Records("pyftpdlib", "ftp") as log, running(root) as srv:
        s = greeting(srv.address)
        s.sendall(b"RMD x\rFAKE 200 line\x1b[31m\r\n")
        s.recv(1000)
        s.close()
        assert wait_for(lambda: log.lines("FTP session closed"))
    assert_no_traceback(log)
    assert len(log.lines("RMD x\\x0dFAKE 200 line\\x1b[31m")) == 1, log.text


# --------------------------------------------------------------------------- SMTP

@pytest.fixture
def mail(tmp_path):
    lab = MailLab(tmp_path)
    yield lab
    lab.close()


def smtp_reply(replies) -> bytes:
    """A whole SMTP reply (its last line), multi-line replies included."""
    while True:
        line = replies.readline()
        if line[3:4] != b"-":
            return line


def test_smtp_failed_starttls_handshake_is_one_line(mail):
    """aiosmtpd raised TLSSetupException and the handler logged it with its traceback."""
    with Records("mail-smtpd", "mail.log", "asyncio") as log:
        for garbage in (b"EHLO x\r\n", b"\x16\x03\x01\x00\x05hello", b""):
            s = socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5)
            replies = s.makefile("rb")
            assert smtp_reply(replies).startswith(b"220")
            s.sendall(b"EHLO chaos\r\n")
            assert smtp_reply(replies).startswith(b"250")
            s.sendall(b"STARTTLS\r\n")
            assert smtp_reply(replies).startswith(b"220")
            if garbage:
                s.sendall(garbage)
            time.sleep(0.2)
            s.close()
        assert wait_for(lambda: len(log.lines("TLS handshake after STARTTLS failed")) >= 2)
        time.sleep(0.3)
    assert len(log.lines("TLS handshake after STARTTLS failed")) <= 3, log.text
    assert_no_traceback(log)


def unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_smtp_session_stuck_after_a_pipelined_starttls_is_released(mail, monkeypatch):
    """Session 170 of the campaign with seed 11 (tools/chaos_load.py): 2 kB of commands in
    one write, STARTTLS among them, then the client leaves.  asyncio had stopped reading the
    socket (the reader's buffer was over its limit) and nothing resumed it after the switch
    to TLS: the connection stayed open, holding a place, until the 5-minute idle timeout."""
    from tools import chaos_load
    monkeypatch.setitem(chaos_load.TARGETS, "smtp-25", ("smtp", "127.0.0.1", mail.smtp_port, "starttls"))
    r = chaos_load.session_rng(11, "smtp-25", 170)
    kind = r.choice(chaos_load.KINDS)
    assert kind == "pipelined"
    with Records("mail-smtpd", "mail.log", "asyncio") as log:
        try:
            chaos_load.Session("smtp-25", r).run(kind)
        except OSError:
            pass
        assert wait_for(lambda: mail.server.limit.count == 0, timeout=3), "the connection is still open"
    assert_no_traceback(log)


def test_smtp_commands_pipelined_behind_starttls_are_dropped(mail):
    """Sent in the clear before the handshake, they must not be read as if sent through TLS."""
    with Records("mail-smtpd", "mail.log", "asyncio") as log:
        s = socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5)
        replies = s.makefile("rb")
        assert smtp_reply(replies).startswith(b"220")
        s.sendall(b"EHLO chaos\r\nSTARTTLS\r\nQUIT\r\n")
        while not smtp_reply(replies).startswith(b"220"):
            pass
        replies.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        tls = ctx.wrap_socket(s, server_hostname="localhost")
        tls.sendall(b"NOOP\r\n")
        assert tls.recv(1000).startswith(b"250")              # not "221 Bye", the answer to QUIT
        tls.close()
    assert len(log.lines("discarded 6 bytes sent in the clear after STARTTLS")) == 1, log.text
    assert_no_traceback(log)


def test_smtp_connection_limit_per_address_answers_421(mail):
    mail.server.limit = ConnectionLimit(total=10, per_address=2)
    with Records("mail-smtpd") as log:
        first = [socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5) for _ in range(2)]
        assert all(s.recv(1000).startswith(b"220") for s in first)
        third = socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5)
        assert third.recv(1000).startswith(b"421 4.7.0")
        third.close()
        # a STARTTLS cut off half-way still gives its place back
        first[0].sendall(b"EHLO x\r\nSTARTTLS\r\n")
        time.sleep(0.2)
        first[0].sendall(b"\x16\x03\x01")
        first[0].close()
        first[1].close()
        assert wait_for(lambda: mail.server.limit.count == 0)
        again = [socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5) for _ in range(2)]
        assert all(s.recv(1000).startswith(b"220") for s in again)
        for s in again:
            s.close()
    assert len(log.lines("turned away: too many connections from your address")) == 1, log.text
    assert_no_traceback(log)


def test_smtp_full_mail_store_answers_452(mail, monkeypatch):
    import smtplib
    for handler in (mail.server.relay, mail.server.submission):
        monkeypatch.setattr(handler, "space_left", lambda: 10_000)
    with Records("mail-smtpd") as log:
        s = smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=10)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            s.sendmail("x@example.org", ["alice@lab.test"], b"Subject: full\r\n\r\nx\r\n")
        assert refused.value.smtp_code == 452
        assert b"4.3.1 Insufficient system storage" in refused.value.smtp_error
        monkeypatch.undo()
        assert s.sendmail("x@example.org", ["alice@lab.test"], b"Subject: room again\r\n\r\nx\r\n") == {}
        s.quit()
    assert len(log.lines("the mail store is full")) == 1, log.text
    assert_no_traceback(log)


def test_smtp_an_error_in_an_event_loop_callback_is_one_line(mail):
    """The campaign once met a traceback from asyncio's TLS-handshake timer (1 session in
    30,000); whatever the event loop catches outside a session is now one line, with where."""
    def broken() -> None:
        raise ConnectionAbortedError("SSL handshake is taking longer than 60.0 seconds")

    with Records("mail-smtpd", "asyncio") as log:
        mail.loop.call_soon_threadsafe(broken)
        assert wait_for(lambda: log.lines("event loop:"))
    assert len(log.lines("event loop: Exception in callback")) == 1, log.text
    assert "ConnectionAbortedError: SSL handshake is taking longer" in log.text
    assert "(at test_chaos_fixes.py:" in log.text
    assert_no_traceback(log)


def test_smtp_log_filter_keeps_each_record_on_one_line():
    record = logging.LogRecord("mail.log", logging.WARNING, __file__, 1, "%r unrecognised: %s",
                               (("1.2.3.4", 5), "FOO\rBAR\x1b"), None)
    OneLineLog().filter(record)
    assert record.getMessage() == "('1.2.3.4', 5) unrecognised: FOO\\x0dBAR\\x1b"


# --------------------------------------------------------------------------- NNTP and sockets

def test_news_full_spool_answers_441_in_one_line(spool_dir, monkeypatch):
    server = RunningServer(spool_dir)
    try:
        raw = server.raw()
        assert code(raw.greeting) == 200
        assert code(raw.cmd("POST")) == 340
        monkeypatch.setattr(news_spool.os, "link",
                            lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
        raw.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: full\r\n\r\nbody\r\n.\r\n")
        reply = raw.line()
        assert reply.startswith(b"441 Posting failed: the server's disk is full"), reply
        monkeypatch.undo()
        assert code(raw.cmd("POST")) == 340
        raw.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: room again\r\n\r\nbody\r\n.\r\n")
        assert code(raw.line()) == 240
        raw.close()
        lines = "".join(server.log_lines())
    finally:
        server.stop()
    assert "Traceback" not in lines
    assert lines.count("disk is full") == 2, lines       # the spool's line and the refusal's


def test_news_readers_per_address_are_limited(spool_dir):
    server = RunningServer(spool_dir, max_per_address=2)
    try:
        readers = [server.raw() for _ in range(2)]
        assert all(code(r.greeting) == 200 for r in readers)
        third = server.raw()
        assert third.greeting.startswith(b"400 Too many connections from your address")
        third.close()
        readers[0].close()
        time.sleep(0.2)
        fourth = server.raw()
        assert code(fourth.greeting) == 200
        fourth.close()
        readers[1].close()
    finally:
        server.stop()


def test_tcp_server_concurrent_clients_per_address_are_limited():
    with TimestampServer(("127.0.0.1", 0), concurrent=True, max_clients=10, max_per_address=2) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        clients = [socket.create_connection(server.address, timeout=5) for _ in range(2)]
        time.sleep(0.2)
        third = socket.create_connection(server.address, timeout=5)
        assert third.recv(100) == b"error: server busy, try again later\n"
        third.close()
        clients[0].sendall(b"hi\n")
        assert clients[0].recv(100).endswith(b"] hi\n")
        for c in clients:
            c.close()
        time.sleep(0.3)
        again = socket.create_connection(server.address, timeout=5)
        again.sendall(b"back\n")
        assert again.recv(100).endswith(b"] back\n")
        again.close()


def test_the_kill_waits_for_traffic_that_flows_not_for_a_guess(capsys):
    """The smoke campaign once killed the mail host before its load had sent one message (a
    busy machine: the load's start took longer than the fixed wait), and found "nothing
    acknowledged".  The load now says when the first item went through, and its time runs
    from there."""
    import argparse
    import sys
    from tools import chaos, chaos_load

    def one(n):
        time.sleep(0.01)
        if n < 3:
            time.sleep(0.2)
            raise ConnectionRefusedError("not yet")      # the server is still starting

    started = time.monotonic()
    result = chaos_load._loop(argparse.Namespace(tag="t", count=10**6, seconds=0.5), one)
    took = time.monotonic() - started
    assert capsys.readouterr().out.count(chaos_load.FIRST_ACK) == 1
    assert result["acked"][0] == 3 and result["errors"] == {"ConnectionRefusedError": 3}
    assert took >= 0.6 + 0.5           # three refusals (0.6 s, > --seconds), then 0.5 s of traffic

    script = ("import sys, time\nprint('starting', flush=True)\ntime.sleep(0.5)\n"
              f"print({chaos_load.FIRST_ACK!r}, flush=True)\ntime.sleep(0.3)\nprint('{{\"acked\": [0]}}')\n"
              "print('a warning', file=sys.stderr)\n")
    run = chaos.LoadRun([sys.executable, "-c", script])
    assert not run.first_ack.wait(0.2)
    assert run.first_ack.wait(10)
    assert run.proc.poll() is None                       # announced while the load goes on
    out, err = run.finish(timeout=10)
    assert out.splitlines()[-1] == '{"acked": [0]}' and err == "a warning\n"
