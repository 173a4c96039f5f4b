"""The NNTP conversation byte by byte: codes, formats, and bad input that must not hurt."""

from __future__ import annotations

import os
import random
import socket
import socketserver
import struct
import threading
import time

import pytest
from newslab import RunningServer, article_bytes, code, news, seeded_spool, spool_dir  # noqa: F401

from socklab.services.news.server import NewsServer, open_spool

CLP = "comp.lang.python"


def still_serving(news) -> None:
    """A fresh client still gets a full, correct answer."""
    raw = news.raw()
    try:
        assert code(raw.greeting) == 200
        assert raw.cmd("GROUP comp.lang.python").startswith(b"211 ")
        assert code(raw.cmd("QUIT")) == 205
    finally:
        raw.close()


def test_greeting_and_quit(news):
    raw = news.raw()
    assert raw.greeting.startswith(b"200 ") and b"posting allowed" in raw.greeting
    assert raw.cmd("QUIT") == b"205 Connection closing"
    assert raw.line() == b""                      # the server closed the connection


@pytest.mark.parametrize("command", ["group comp.lang.python", "GROUP comp.lang.python", "GrOuP comp.lang.python",
                                     "GROUP\tcomp.lang.python", "  GROUP   comp.lang.python  "])
def test_commands_are_case_insensitive(news, command):
    raw = news.raw()
    assert raw.cmd(command).startswith(b"211 ")


@pytest.mark.parametrize("command, expected", [
    ("FROBNICATE", 500),
    ("", 500),
    ("GROUP", 501),
    ("GROUP a b", 501),
    ("GROUP no.such.group", 411),
    ("ARTICLE", 412),
    ("ARTICLE 1", 412),
    ("NEXT", 412),
    ("LISTGROUP", 412),
    ("ARTICLE abc", 501),
    ("ARTICLE <no-closing-bracket", 501),
    ("ARTICLE <nowhere@lab.test>", 430),
    ("STAT 1 2", 501),
    ("OVER 5-x", 501),
    ("XHDR subject 1--2", 501),
    ("LISTGROUP comp.lang.python x", 501),
    ("OVER", 412),
    ("XOVER 1-2", 412),
    ("HDR", 501),
    ("HDR :nothing <x@y>", 503),
    ("LIST FOO", 501),
    ("LIST ACTIVE comp.[a-z]*", 501),
    ("LIST ACTIVE a,,b", 501),
    ("LIST OVERVIEW.FMT extra", 501),
    ("LIST ACTIVE.TIMES", 503),
    ("MODE WRITER", 501),
    ("DATE now", 501),
    ("POST now", 501),
    ("NEWGROUPS 2024 000000", 501),
    ("NEWGROUPS 20241301 000000", 501),
    ("NEWGROUPS 20240101 250000", 501),
    ("NEWGROUPS 20240101 000000 UTC", 501),
    ("NEWNEWS", 501),
    ("NEWNEWS comp.[a] 20240101 000000", 501),
    ("AUTHINFO", 501),
    ("AUTHINFO SASL PLAIN", 501),
    ("AUTHINFO PASS secret", 482),
    ("IHAVE <x@lab.test>", 502),
])
def test_error_codes(news, command, expected):
    raw = news.raw()
    reply = raw.cmd(command)
    assert code(reply) == expected, reply
    if expected == 500 and command:
        assert reply == f"500 Unknown command {command}".encode()
    assert raw.cmd("DATE").startswith(b"111 ")    # and the session goes on


def test_current_article_errors_inside_a_group(news):
    raw = news.raw()
    raw.cmd("GROUP comp.lang.python")
    assert code(raw.cmd("ARTICLE 999")) == 423
    assert code(raw.cmd("ARTICLE 0")) == 423
    assert code(raw.cmd("OVER 900-999")) == 423
    assert code(raw.cmd("XOVER <x@lab.test>")) == 501    # XOVER knows no message-ids
    assert raw.cmd("XOVER 900-999") == b"224 Overview information follows"
    assert raw.block() == []


def test_empty_group(tmp_path):
    server = RunningServer(tmp_path / "spool", seed=False)
    try:
        server.spool.create_group("lab.empty", description="nothing here yet")
        raw = server.raw()
        assert raw.greeting.startswith(b"200 ")
        assert raw.cmd("GROUP lab.empty") == b"211 0 1 0 lab.empty"
        assert code(raw.cmd("STAT")) == 420
        assert code(raw.cmd("NEXT")) == 420
        assert raw.cmd("LISTGROUP") == b"211 0 1 0 lab.empty list follows"
        assert raw.block() == []
        assert raw.cmd("LIST ACTIVE") == b"215 List of newsgroups follows"
        assert raw.block() == [b"lab.empty 0 1 y"]
    finally:
        server.stop()


def test_listgroup_with_a_range_selects_the_group(news):
    raw = news.raw()
    assert raw.cmd("LISTGROUP comp.lang.python 3-5").startswith(b"211 34 1 34 comp.lang.python")
    assert raw.block() == [b"3", b"4", b"5"]
    assert raw.cmd("STAT").startswith(b"223 1 ")          # current article: the group's first
    raw.cmd("LISTGROUP comp.lang.python 33-")
    assert raw.block() == [b"33", b"34"]
    raw.cmd("LISTGROUP")
    assert len(raw.block()) == 34


def test_message_id_forms_keep_the_current_article(news):
    raw = news.raw()
    raw.cmd("GROUP comp.lang.python")
    raw.cmd("STAT 10")
    assert raw.cmd("STAT <images.q@lab.test>").startswith(b"223 1 <images.q@lab.test>")
    assert raw.cmd("STAT <announce.welcome@lab.test>").startswith(b"223 0 ")   # not in this group
    assert raw.cmd("STAT").startswith(b"223 10 ")


def test_dot_stuffing_both_ways(news):
    raw = news.raw()
    assert code(raw.cmd("POST")) == 340
    raw.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: dots\r\n\r\n"
             b"..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n")
    reply = raw.line()
    assert code(reply) == 240, reply
    msgid = reply.split()[1].decode()
    assert code(raw.cmd(f"BODY {msgid}")) == 222
    # read the block by hand: on the wire the dots are doubled again
    wire = []
    while (line := raw.line()) != b".":
        wire.append(line)
    assert wire == [b"..leading dot", b"...two dots", b"..", b"end"]


def test_bare_lf_line_ends_are_accepted(news):
    raw = news.raw()
    raw.send(b"GROUP lab.test\n")
    assert raw.line().startswith(b"211 ")
    raw.send(b"POST\n")
    assert code(raw.line()) == 340
    raw.send(b"From: a@lab.test\nNewsgroups: lab.test\nSubject: lf\n\nbody\n.\n")
    assert code(raw.line()) == 240


def test_pipelined_commands_are_answered_in_order(news):
    raw = news.raw()
    raw.send(b"GROUP lab.announce\r\nSTAT 2\r\nNEXT\r\nDATE\r\nGROUP nowhere\r\n")
    assert raw.line().startswith(b"211 3 1 3 lab.announce")
    assert raw.line().startswith(b"223 2 ")
    assert raw.line().startswith(b"223 3 ")
    assert raw.line().startswith(b"111 ")
    assert code(raw.line()) == 411


def test_a_10_kb_command_line(news):
    raw = news.raw()
    reply = raw.cmd(b"GROUP " + b"x" * 10_000)
    assert code(reply) == 500 and b"too long" in reply
    assert raw.cmd("GROUP lab.test").startswith(b"211 ")      # in step: the rest was dropped
    # 512 octets with the CRLF is still fine
    assert code(raw.cmd(b"GROUP " + b"a" * (512 - 8))) == 411


def test_a_10_kb_line_in_an_article(news):
    raw = news.raw()
    raw.cmd("POST")
    raw.send(article_bytes(body="short\r\n" + "y" * 10_000 + "\r\nafter") + b".\r\n")
    reply = raw.line()
    assert code(reply) == 441 and b"998" in reply
    assert raw.cmd("GROUP lab.test").startswith(b"211 1 ")   # nothing stored, still in step


def test_an_article_that_is_too_big(spool_dir):
    server = RunningServer(spool_dir, max_article=10_000)
    try:
        raw = server.raw()
        raw.cmd("POST")
        raw.send(article_bytes(body="\r\n".join(["z" * 100] * 200)) + b".\r\n")
        reply = raw.line()
        assert code(reply) == 441 and b"larger than 10000" in reply
        assert raw.cmd("DATE").startswith(b"111 ")
    finally:
        server.stop()


def test_binary_junk(news):
    rng = random.Random(3977)
    raw = news.raw()
    for _ in range(50):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))).replace(b"\n", b"")
        reply = raw.cmd(junk)
        assert code(reply) in (500, 501), (junk, reply)
    assert code(raw.cmd(b"\x00\x01\x02")) == 500
    assert code(raw.cmd(b"GROUP \x00")) == 501
    assert code(raw.cmd(b"GROUP caf\xe9")) == 501           # Latin-1, not UTF-8
    assert code(raw.cmd("GROUP café")) == 411               # UTF-8 is fine, the group is not
    assert raw.cmd("GROUP lab.test").startswith(b"211 ")
    raw.close()
    still_serving(news)


def test_junk_inside_an_article_is_refused_cleanly(news):
    raw = news.raw()
    raw.cmd("POST")
    raw.send(b"\xff\xfe\x00garbage\r\n\r\nbody\r\n.\r\n")
    assert code(raw.line()) == 441
    raw.cmd("POST")
    raw.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: binary body\r\n\r\n"
             + bytes(range(1, 256)).replace(b"\n", b"").replace(b"\r", b"") + b"\r\n.\r\n")
    reply = raw.line()
    assert code(reply) == 240                               # a body may hold any octets
    body = raw.cmd(b"BODY " + reply.split()[1])
    assert code(body) == 222
    assert raw.block() == [bytes(range(1, 256)).replace(b"\n", b"").replace(b"\r", b"")]


def test_client_vanishing_mid_post(news):
    before = news.spool.group("lab.test").count
    raw = news.raw()
    assert code(raw.cmd("POST")) == 340
    raw.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: half\r\n\r\nthe first half")
    raw.close()                                             # gone before the final "."
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "went away" not in "".join(news.log_lines()):
        time.sleep(0.05)
    assert news.spool.group("lab.test").count == before
    assert os.listdir(news.spool_dir / "tmp") == []
    still_serving(news)


def test_client_resetting_mid_reply(news):
    raw = news.raw()
    raw.send(b"GROUP comp.lang.python\r\n" + b"ARTICLE 1\r\n" * 200)
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.sock.close()                                        # RST while the server is writing
    still_serving(news)


def test_too_many_readers(spool_dir):
    server = RunningServer(spool_dir, max_clients=2)
    try:
        a, b = server.raw(), server.raw()
        assert code(a.greeting) == 200 and code(b.greeting) == 200
        c = server.raw()
        assert c.greeting.startswith(b"400 ")
        assert c.line() == b""
        a.cmd("QUIT")
        a.close()
        deadline = time.monotonic() + 5
        while True:                                         # the slot is free again soon
            d = server.raw()
            if code(d.greeting) == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert code(d.greeting) == 200
    finally:
        server.stop()


def test_sigterm_while_a_reader_thread_starts_stops_the_server(spool_dir, monkeypatch):
    """SIGTERM becomes KeyboardInterrupt in the main thread (socklab/serving.py).  Arriving
    while Thread.start() returns -- the reader's thread already running, even done, as
    happens on a busy machine -- it must still end serve_forever, and the reader's slot
    must be given back once (a second give-back raised ValueError, which the server logged
    as a failed session and swallowed the interrupt: docker stop then waited for SIGKILL)."""
    server = NewsServer(("127.0.0.1", 0), open_spool(spool_dir, seed_new=False), max_clients=2)
    started = socketserver.ThreadingMixIn.process_request
    threads_before = threading.active_count()

    def start_then_interrupt(self, request, client_address):
        started(self, request, client_address)
        deadline = time.monotonic() + 10                   # the reader's whole session runs first
        while threading.active_count() > threads_before and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt                            # as the SIGTERM handler raises it

    monkeypatch.setattr(socketserver.ThreadingMixIn, "process_request", start_then_interrupt)
    try:
        with socket.create_connection(server.server_address, timeout=5) as reader:
            reader.sendall(b"QUIT\r\n")
            with pytest.raises(KeyboardInterrupt):
                server._handle_request_noblock()            # one round of serve_forever's loop
            assert reader.recv(100).startswith(b"200 ")
        assert server._slots.acquire(blocking=False) and server._slots.acquire(blocking=False)
        assert not server._slots.acquire(blocking=False), "a slot was given back twice"
    finally:
        server.server_close()


def test_two_digit_years_and_gmt(news):
    raw = news.raw()
    assert raw.cmd("NEWGROUPS 000101 000000 GMT").startswith(b"231 ")   # 2000: every group
    assert len(raw.block()) == 3
    assert raw.cmd("NEWGROUPS 991231 235959").startswith(b"231 ")       # 1999: every group
    assert len(raw.block()) == 3
    year = time.gmtime().tm_year + 1
    assert raw.cmd(f"NEWGROUPS {year}0101 000000 GMT").startswith(b"231 ")
    assert raw.block() == []


def test_authinfo_sequence(news):
    raw = news.raw()
    assert code(raw.cmd("AUTHINFO USER student")) == 381
    assert code(raw.cmd("AUTHINFO PASS wrong")) == 481
    assert code(raw.cmd("AUTHINFO PASS password")) == 482     # USER is forgotten after a failure
    assert code(raw.cmd("AUTHINFO USER student")) == 381
    assert code(raw.cmd("AUTHINFO PASS password")) == 281
    assert code(raw.cmd("AUTHINFO USER student")) == 502
    raw.cmd("CAPABILITIES")
    assert b"AUTHINFO USER" not in b"\n".join(raw.block())


def test_the_log_never_shows_a_password(news):
    raw = news.raw()
    raw.cmd("AUTHINFO USER student")
    raw.cmd("AUTHINFO PASS password")
    raw.cmd("QUIT")
    log = "".join(news.log_lines())
    assert "AUTHINFO USER student" in log
    assert "AUTHINFO PASS ********" in log and "PASS password" not in log


def test_a_trickling_client_is_dropped_like_a_silent_one(spool_dir):
    """One byte every 0.3 s never lets a recv() time out; the whole line must still arrive in time."""
    server = RunningServer(spool_dir, idle_timeout=1.0)
    try:
        slow = server.raw()
        started = time.monotonic()
        for byte in b"GROUP comp.lang.python\r\n":
            try:
                slow.send(bytes([byte]))
            except OSError:                              # already dropped
                break
            time.sleep(0.3)
            if time.monotonic() - started > 2.5:
                break
        reply = slow.line()
        assert reply.startswith(b"400 Timeout"), reply
        assert time.monotonic() - started < 5
        still_serving(server)
    finally:
        server.stop()


def test_an_article_must_arrive_in_time(spool_dir):
    server = RunningServer(spool_dir, idle_timeout=5.0, post_timeout=1.0)
    try:
        slow = server.raw()
        assert code(slow.cmd("POST")) == 340
        started = time.monotonic()
        slow.send(b"From: a@lab.test\r\nNewsgroups: lab.test\r\nSubject: slow\r\n\r\n")
        while time.monotonic() - started < 2:            # a line every 0.4 s: each one "in time"
            try:
                slow.send(b"more\r\n")
            except OSError:
                break
            time.sleep(0.4)
        reply = slow.line()
        assert reply.startswith(b"400 Timeout: the article"), reply
        assert time.monotonic() - started < 5
        assert server.spool.group("lab.test").count == 1   # nothing stored
        still_serving(server)
    finally:
        server.stop()
